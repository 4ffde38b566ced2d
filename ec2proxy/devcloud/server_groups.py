"""Nova's server groups (os-server-groups) and how the scheduler honours them on the dev cloud's one host, as
the lab's one compute host does: an anti-affinity group holds one running member; launching more fails every
server of that request with "No valid host" (ERROR), a multi-create as a whole; the affinity and soft policies
always fit. Members are the group's servers not deleted (ERROR ones included, as in Nova)."""

from __future__ import annotations

from aiohttp import web

from ec2proxy.devcloud.common import STATE, VERSION, HTTPError, auth, body_json, new_id, reply
from ec2proxy.devcloud.compute import microversion
from ec2proxy.devcloud.server_views import PREFIX

routes = web.RouteTableDef()
POLICIES = ("anti-affinity", "affinity", "soft-anti-affinity", "soft-affinity")


def _missing(group_id: str) -> HTTPError:
    return HTTPError(404, f"Instance group {group_id} could not be found.")


def members(store, group_id: str) -> list[str]:
    return [s["id"] for s in store.all("server").values()
            if s.get("server_group") == group_id and s["status"] != "DELETED" and s.get("task_state") != "deleting"]


def _render(request: web.Request, store, group: dict) -> dict:
    body = {"id": group["id"], "name": group["name"], "members": members(store, group["id"])}
    if request[VERSION] >= (2, 64):
        body.update(policy=group["policy"], rules=group["rules"], project_id=group["project_id"],
                    user_id=group["user_id"])
    else:
        body.update(policies=[group["policy"]], metadata={})
    return body


@routes.post(PREFIX + "/os-server-groups")
async def create_group(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    spec = ((await body_json(request)) or {}).get("server_group")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise HTTPError(400, "Invalid input for field/attribute server_group.")
    if request[VERSION] >= (2, 64):
        policy, rules = spec.get("policy"), spec.get("rules") or {}
    else:
        policies, rules = spec.get("policies"), {}
        policy = policies[0] if isinstance(policies, list) and len(policies) == 1 else None
    if policy not in POLICIES:
        raise HTTPError(400, f"Invalid input for field/attribute policy. Value: {policy}. '{policy}' is not one of "
                             f"{list(POLICIES)}")
    store = request.app[STATE].store
    group = store.put("server_group", {"id": new_id(), "name": spec["name"], "policy": policy, "rules": rules,
                                       "project_id": token.project_id, "user_id": token.user_id})
    return reply({"server_group": _render(request, store, group)})


def _group(request: web.Request) -> dict:
    token = auth(request)
    group_id = request.match_info["group_id"]
    group = request.app[STATE].store.get("server_group", group_id)
    if group is None or (group["project_id"] != token.project_id and not token.admin):
        raise _missing(group_id)
    return group


@routes.get(PREFIX + "/os-server-groups")
async def list_groups(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    store = request.app[STATE].store
    return reply({"server_groups": [_render(request, store, g) for g in store.all("server_group").values()
                                    if g["project_id"] == token.project_id]})


@routes.get(PREFIX + "/os-server-groups/{group_id}")
async def show_group(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    return reply({"server_group": _render(request, request.app[STATE].store, _group(request))})


@routes.delete(PREFIX + "/os-server-groups/{group_id}")
async def delete_group(request: web.Request) -> web.Response:
    """Nova deletes a group whatever its members (they stay, in no group)."""
    group = _group(request)
    request.app[STATE].store.delete("server_group", group["id"])
    return reply(None, 204)
