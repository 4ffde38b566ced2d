"""Keystone v3: tokens with a catalog, projects and users, EC2 credentials, /v3/ec2tokens."""

from __future__ import annotations

import hashlib
import secrets

from aiohttp import web

from ec2proxy.devcloud import ec2signer
from ec2proxy.devcloud.common import STATE, TOKEN, HTTPError, auth, base_url, body_json, iso, reply

routes = web.RouteTableDef()
PREFIX = "/identity"

# service type -> (name, path under the dev cloud's root; {project_id} is filled per token)
CATALOG = {
    "identity": ("keystone", "/identity/v3"),
    "compute": ("nova", "/compute/v2.1"),
    "image": ("glance", "/image"),
    "network": ("neutron", "/network"),
    "volumev3": ("cinderv3", "/volume/v3/{project_id}"),
    "block-storage": ("cinder", "/volume/v3/{project_id}"),
}


def version_doc(request: web.Request) -> dict:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base_url(request)}{PREFIX}/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}


@routes.get(PREFIX)
@routes.get(PREFIX + "/")
async def versions(request: web.Request) -> web.Response:
    return reply({"versions": {"values": [version_doc(request)]}}, 300)


@routes.get(PREFIX + "/v3")
@routes.get(PREFIX + "/v3/")
async def version(request: web.Request) -> web.Response:
    return reply({"version": version_doc(request)})


def _find_user(store, spec: dict) -> dict | None:
    if "id" in spec:
        return store.get("user", spec["id"])
    domain = (spec.get("domain") or {}).get("name", "Default")
    for user in store.all("user").values():
        if user["name"] == spec.get("name") and domain in ("Default", user.get("domain", "Default")):
            return user
    return None


def _find_project(store, spec: dict) -> dict | None:
    if "id" in spec:
        return store.get("project", spec["id"])
    for project in store.all("project").values():
        if project["name"] == spec.get("name"):
            return project
    return None


def roles_of(store, user_id: str, project_id: str) -> list[str]:
    return sorted({grant["role"] for grant in store.all("grant").values()
                   if grant["user_id"] == user_id and grant["project_id"] == project_id})


def token_body(request: web.Request, token, store) -> dict:
    user = store.get("user", token.user_id)
    project = store.get("project", token.project_id)
    base = base_url(request)
    catalog = []
    for service_type, (name, path) in CATALOG.items():
        url = base + path.format(project_id=token.project_id)
        catalog.append({
            "type": service_type, "name": name, "id": hashlib.md5(service_type.encode()).hexdigest(),
            "endpoints": [{"id": hashlib.md5(f"{service_type}{i}".encode()).hexdigest(), "interface": i,
                           "region": STATE_REGION(request), "region_id": STATE_REGION(request), "url": url}
                          for i in ("public", "internal", "admin")],
        })
    return {"token": {
        "methods": list(token.methods),
        "user": {"id": user["id"], "name": user["name"], "domain": {"id": "default", "name": "Default"},
                 "password_expires_at": None},
        "project": {"id": project["id"], "name": project["name"], "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": hashlib.md5(r.encode()).hexdigest(), "name": r} for r in token.roles],
        "catalog": catalog,
        "expires_at": str(iso(token.expires)).replace("Z", ".000000Z"),
        "issued_at": str(iso(token.expires - 3600)).replace("Z", ".000000Z"),
        "audit_ids": [secrets.token_urlsafe(16)],
    }}


def STATE_REGION(request: web.Request) -> str:  # noqa: N802
    return request.app[STATE].region


@routes.post(PREFIX + "/v3/auth/tokens")
async def issue_token(request: web.Request) -> web.Response:
    cloud = request.app[STATE]
    store = cloud.store
    body = await body_json(request)
    try:
        identity = body["auth"]["identity"]
        methods = identity["methods"]
    except (KeyError, TypeError):
        raise HTTPError(400, "Expecting to find identity in auth") from None
    scope = body["auth"].get("scope") or {}
    if "password" in methods:
        user = _find_user(store, identity["password"]["user"])
        given = str(identity["password"]["user"].get("password", ""))
        if user is None or not secrets.compare_digest(user["password"], given):
            raise HTTPError(401, "The request you have made requires authentication.")
        default_project = user.get("default_project_id")
    elif "token" in methods:
        previous = cloud.token(identity["token"].get("id"))
        if previous is None:
            raise HTTPError(401, "The request you have made requires authentication.")
        user = store.get("user", previous.user_id)
        if user is None:
            raise HTTPError(401, "The request you have made requires authentication.")
        default_project = previous.project_id
    else:
        raise HTTPError(401, f"Unsupported authentication method: {methods}")
    project = (_find_project(store, scope["project"]) if "project" in scope
               else store.get("project", default_project or ""))
    if project is None:
        raise HTTPError(401, "The request you have made requires authentication.")
    roles = roles_of(store, user["id"], project["id"])
    if not roles:
        raise HTTPError(401, f"User {user['id']} has no access to project {project['id']}")
    token = cloud.issue(user["id"], project["id"], roles, methods)
    return reply(token_body(request, token, store), 201, {"X-Subject-Token": token.id})


@routes.get(PREFIX + "/v3/auth/tokens")
async def validate_token(request: web.Request) -> web.Response:
    auth(request)
    cloud = request.app[STATE]
    subject = cloud.token(request.headers.get("X-Subject-Token"))
    if subject is None:
        raise HTTPError(404, "Could not find token")
    return reply(token_body(request, subject, cloud.store), 200, {"X-Subject-Token": subject.id})


@routes.delete(PREFIX + "/v3/auth/tokens")
async def revoke_token(request: web.Request) -> web.Response:
    """Keystone's revocation: a token may revoke itself, an admin any token."""
    caller = auth(request)
    cloud = request.app[STATE]
    subject = cloud.token(request.headers.get("X-Subject-Token"))
    if subject is None:
        raise HTTPError(404, "Could not find token")
    if subject.id != caller.id and not caller.admin:
        raise HTTPError(403, "You are not authorized to perform the requested action.")
    cloud.tokens.pop(subject.id, None)
    return web.Response(status=204)


@routes.get(PREFIX + "/v3/projects")
async def list_projects(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    projects = [p for p in store.all("project").values() if token.admin or p["id"] == token.project_id]
    return reply({"projects": [{**p, "domain_id": "default", "enabled": True} for p in projects]})


@routes.get(PREFIX + "/v3/users")
async def list_users(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    users = [u for u in store.all("user").values() if token.admin or u["id"] == token.user_id]
    return reply({"users": [{k: v for k, v in u.items() if k != "password"} | {"domain_id": "default",
                                                                                 "enabled": True} for u in users]})


# -- EC2 credentials --------------------------------------------------------------


def _credential_body(request: web.Request, credential: dict) -> dict:
    return {"access": credential["access"], "secret": credential["secret"], "tenant_id": credential["project_id"],
            "user_id": credential["user_id"], "trust_id": None,
            "links": {"self": f"{base_url(request)}{PREFIX}/v3/users/{credential['user_id']}"
                              f"/credentials/OS-EC2/{credential['access']}"}}


def _own(token, user_id: str) -> None:
    # Like Keystone: only the owner or an admin, and never with a token that an EC2
    # credential bought (it could otherwise mint and read further credentials).
    if not token.admin and (token.user_id != user_id or "ec2credential" in token.methods):
        raise HTTPError(403, "You are not authorized to perform the requested action.")


@routes.post(PREFIX + "/v3/users/{user_id}/credentials/OS-EC2")
async def create_ec2_credential(request: web.Request) -> web.Response:
    token = auth(request)
    user_id = request.match_info["user_id"]
    _own(token, user_id)
    body = await body_json(request)
    project_id = (body or {}).get("tenant_id") or token.project_id
    store = request.app[STATE].store
    if store.get("user", user_id) is None or store.get("project", project_id) is None:
        raise HTTPError(404, "Could not find user or project")
    access = secrets.token_hex(16)
    credential = store.put("ec2_credential", {"id": access, "access": access, "secret": secrets.token_hex(16),
                                              "user_id": user_id, "project_id": project_id})
    return reply({"credential": _credential_body(request, credential)}, 201)


@routes.get(PREFIX + "/v3/users/{user_id}/credentials/OS-EC2")
async def list_ec2_credentials(request: web.Request) -> web.Response:
    token = auth(request)
    user_id = request.match_info["user_id"]
    _own(token, user_id)
    store = request.app[STATE].store
    items = [c for c in store.all("ec2_credential").values() if c["user_id"] == user_id]
    return reply({"credentials": [_credential_body(request, c) for c in items]})


def _credential(request: web.Request) -> dict:
    token = auth(request)
    user_id = request.match_info["user_id"]
    _own(token, user_id)
    credential = request.app[STATE].store.get("ec2_credential", request.match_info["access"])
    if credential is None or credential["user_id"] != user_id:
        raise HTTPError(404, "Could not find credential")
    return credential


@routes.get(PREFIX + "/v3/users/{user_id}/credentials/OS-EC2/{access}")
async def get_ec2_credential(request: web.Request) -> web.Response:
    return reply({"credential": _credential_body(request, _credential(request))})


@routes.delete(PREFIX + "/v3/users/{user_id}/credentials/OS-EC2/{access}")
async def delete_ec2_credential(request: web.Request) -> web.Response:
    credential = _credential(request)
    request.app[STATE].store.delete("ec2_credential", credential["id"])
    return reply(None, 204)


@routes.post(PREFIX + "/v3/ec2tokens")
async def ec2tokens(request: web.Request) -> web.Response:
    caller = request.get(TOKEN)
    if caller is None or not ({"service", "admin"} & set(caller.roles)):
        raise HTTPError(401, "The request you have made requires authentication.")
    cloud = request.app[STATE]
    body = await body_json(request)
    credentials = (body or {}).get("credentials") or {}
    credential = cloud.store.get("ec2_credential", str(credentials.get("access", "")))
    if credential is None or not ec2signer.verify(credentials, credential["secret"]):
        raise HTTPError(401, "The request you have made requires authentication.")
    roles = roles_of(cloud.store, credential["user_id"], credential["project_id"])
    token = cloud.issue(credential["user_id"], credential["project_id"], roles, ("ec2credential",))
    return reply(token_body(request, token, cloud.store), 200, {"X-Subject-Token": token.id})
