"""Thin clients of the five OpenStack services, as the proxy uses them.

Each method is one REST call (or one paged listing) named like the API
reference; bodies are the APIs' own JSON. Nova is called at the microversion
negotiated once per cloud (see :meth:`Cloud.nova_version`).
"""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

from ec2proxy.cloud.http import ServiceClient, route

NOVA_MIN = (2, 47)  # embedded flavor in server bodies
# The newest the proxy asks for. 2.96 and later bodies carry the pinned zone and the scheduler hints, which
# Nova reads from its API database's request spec of each server (on the lab a GET of one server at 2.100 took
# 17% longer than at 2.95); the proxy uses neither.
NOVA_MAX = (2, 95)


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


class Keystone(ServiceClient):
    service = "identity"

    async def ec2tokens(self, credentials: dict) -> tuple[str, dict]:
        """Validate an EC2 signature; the token and body of the signer's scoped token.

        Its 401 means a bad signature, not a stale token of ours: never renewed, so a flood of forged
        requests cannot make the proxy log in again and again.
        """
        response = await self.call("POST", "ec2tokens", renewable=False, json_body={"credentials": credentials})
        return response.headers.get("X-Subject-Token", ""), response.body["token"]

    async def ec2_credential(self, user_id: str, access: str) -> dict:
        return (await self.get(route("users/{}/credentials/OS-EC2/{}", user_id, access)))["credential"]

    async def create_ec2_credential(self, user_id: str, project_id: str) -> dict:
        body = {"tenant_id": project_id}
        return (await self.post(route("users/{}/credentials/OS-EC2", user_id), body))["credential"]

    async def list_ec2_credentials(self, user_id: str) -> list[dict]:
        return (await self.get(route("users/{}/credentials/OS-EC2", user_id)))["credentials"]

    async def delete_ec2_credential(self, user_id: str, access: str) -> None:
        await self.delete(route("users/{}/credentials/OS-EC2/{}", user_id, access))


class Nova(ServiceClient):
    service = "compute"

    async def create_servers(self, server: dict, min_count: int = 1, max_count: int = 1,
                             hints: dict | None = None) -> dict:
        """One create for the whole reservation; answers ``{"reservation_id": ...}``. ``hints``: the
        scheduler's (a server group)."""
        body: dict = {"server": {**server, "min_count": min_count, "max_count": max_count,
                                 "return_reservation_id": True}}
        if hints:
            body["os:scheduler_hints"] = hints
        return await self.post("servers", body)

    async def list_servers(self, params: dict | None = None, limit: int | None = 1000) -> list[dict]:
        return await self.list_all("servers/detail", "servers", params, limit)

    async def list_server_ids(self, params: dict | None = None, limit: int | None = 1000) -> list[dict]:
        """Nova's index: each server's id, name and links only."""
        return await self.list_all("servers", "servers", params, limit)

    def server_pages(self, params: dict | None = None, limit: int | None = 1000):
        return self.pages("servers/detail", "servers", params, limit)

    async def get_server(self, server_id: str) -> dict:
        return (await self.get(route("servers/{}", server_id)))["server"]

    async def delete_server(self, server_id: str) -> None:
        await self.delete(route("servers/{}", server_id))

    async def action(self, server_id: str, name: str, value: Any = None) -> Any:
        return await self.post(route("servers/{}/action", server_id), {name: value})

    async def start(self, server_id: str) -> None:
        await self.action(server_id, "os-start")

    async def stop(self, server_id: str) -> None:
        await self.action(server_id, "os-stop")

    async def reboot(self, server_id: str, hard: bool = False) -> None:
        await self.action(server_id, "reboot", {"type": "HARD" if hard else "SOFT"})

    async def create_image(self, server_id: str, name: str, metadata: dict | None = None) -> str:
        result = await self.action(server_id, "createImage", {"name": name, "metadata": metadata or {}})
        return result["image_id"]

    async def console_output(self, server_id: str, length: int | None = None) -> str:
        result = await self.action(server_id, "os-getConsoleOutput", {"length": length})
        return result["output"]

    async def attach_interface(self, server_id: str, port_id: str) -> dict:
        body = {"interfaceAttachment": {"port_id": port_id}}
        return (await self.post(route("servers/{}/os-interface", server_id), body))["interfaceAttachment"]

    async def detach_interface(self, server_id: str, port_id: str) -> None:
        await self.delete(route("servers/{}/os-interface/{}", server_id, port_id))

    async def password(self, server_id: str) -> str:
        """The encrypted password the guest posted to Nova's metadata service ("" when none)."""
        return (await self.get(route("servers/{}/os-server-password", server_id))).get("password") or ""

    async def resize(self, server_id: str, flavor_ref: str) -> None:
        await self.action(server_id, "resize", {"flavorRef": flavor_ref})

    async def confirm_resize(self, server_id: str) -> None:
        await self.action(server_id, "confirmResize")

    async def flavors(self) -> list[dict]:
        return await self.list_all("flavors/detail", "flavors", limit=1000)

    async def keypairs(self) -> list[dict]:
        return [item["keypair"] for item in (await self.get("os-keypairs"))["keypairs"]]

    async def get_keypair(self, name: str) -> dict:
        return (await self.get(route("os-keypairs/{}", name)))["keypair"]

    async def create_keypair(self, name: str, public_key: str, key_type: str = "ssh") -> dict:
        body = {"keypair": {"name": name, "public_key": public_key, "type": key_type}}
        return (await self.post("os-keypairs", body))["keypair"]

    async def delete_keypair(self, name: str) -> None:
        await self.delete(route("os-keypairs/{}", name))

    async def create_server_group(self, name: str, policy: str) -> dict:
        """A server group; its policy as one field from microversion 2.64, as a one-item list before."""
        spec = {"name": name, **({"policy": policy} if self.microversion() >= (2, 64) else {"policies": [policy]})}
        return (await self.post("os-server-groups", {"server_group": spec}))["server_group"]

    async def server_groups(self) -> list[dict]:
        return (await self.get("os-server-groups"))["server_groups"]

    async def server_group(self, group_id: str) -> dict:
        return (await self.get(route("os-server-groups/{}", group_id)))["server_group"]

    async def delete_server_group(self, group_id: str) -> None:
        await self.delete(route("os-server-groups/{}", group_id))

    async def availability_zones(self) -> list[dict]:
        return (await self.get("os-availability-zone"))["availabilityZoneInfo"]

    async def volume_attachments(self, server_id: str) -> list[dict]:
        return (await self.get(route("servers/{}/os-volume_attachments", server_id)))["volumeAttachments"]

    async def attach_volume(self, server_id: str, volume_id: str, device: str | None = None) -> Any:
        body = {"volumeAttachment": {"volumeId": volume_id, **({"device": device} if device else {})}}
        return await self.post(route("servers/{}/os-volume_attachments", server_id), body)

    def microversion(self) -> tuple[int, int]:
        """The compute API version this view speaks (what the cloud offers, up to ours)."""
        major, minor = self.headers.get("X-OpenStack-Nova-API-Version", "2.1").split(".")
        return int(major), int(minor)

    async def set_delete_on_termination(self, server_id: str, volume_id: str, delete: bool) -> None:
        """Whether Nova deletes an attached volume with the server (microversion 2.85)."""
        await self.put(route("servers/{}/os-volume_attachments/{}", server_id, volume_id),
                       {"volumeAttachment": {"volumeId": volume_id, "delete_on_termination": delete}})

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        await self.delete(route("servers/{}/os-volume_attachments/{}", server_id, volume_id))

    async def limits(self) -> dict:
        return (await self.get("limits"))["limits"]

    async def quota_set(self, project_id: str) -> dict:
        return (await self.get(route("os-quota-sets/{}", project_id)))["quota_set"]


class Glance(ServiceClient):
    service = "image"

    async def list_images(self, params: dict | None = None, limit: int = 1000) -> list[dict]:
        query: dict | None = {**(params or {}), "limit": limit}
        out: list[dict] = []
        path = "v2/images"
        while True:
            body = await self.get(path, params=query)
            out.extend(body["images"])
            if not body.get("next"):
                return out
            path, query = body["next"], None

    async def get_image(self, image_id: str) -> dict:
        return await self.get(route("v2/images/{}", image_id))

    async def create_image(self, **fields: Any) -> dict:
        return await self.post("v2/images", fields)

    async def upload(self, image_id: str, data: bytes) -> None:
        await self.call("PUT", route("v2/images/{}/file", image_id), data=data,
                        headers={"Content-Type": "application/octet-stream"})

    async def copy_data(self, source_id: str, target_id: str) -> None:
        await self.stream_copy(route("v2/images/{}/file", source_id), route("v2/images/{}/file", target_id))

    async def import_image(self, image_id: str, method: str, **fields: Any) -> None:
        """Glance's interoperable import (``web-download`` takes ``uri``)."""
        await self.post(route("v2/images/{}/import", image_id), {"method": {"name": method, **fields}})

    async def update_image(self, image_id: str, patch: list[dict]) -> dict:
        return (await self.call("PATCH", route("v2/images/{}", image_id), json_body=patch,
                                headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})).body

    async def delete_image(self, image_id: str) -> None:
        await self.delete(route("v2/images/{}", image_id))

    async def members(self, image_id: str) -> list[dict]:
        return (await self.get(route("v2/images/{}/members", image_id)))["members"]

    async def add_member(self, image_id: str, member: str) -> dict:
        return await self.post(route("v2/images/{}/members", image_id), {"member": member})

    async def remove_member(self, image_id: str, member: str) -> None:
        await self.delete(route("v2/images/{}/members/{}", image_id, member))


class Neutron(ServiceClient):
    """Networks, subnets, ports, security groups and rules, floating IPs, routers."""

    service = "network"
    RESOURCES = {
        "network": "networks", "subnet": "subnets", "port": "ports", "security_group": "security-groups",
        "security_group_rule": "security-group-rules", "floatingip": "floatingips", "router": "routers",
    }

    def _item(self, kind: str, resource_id: str) -> str:
        return route("v2.0/{}/{}", self.RESOURCES[kind], resource_id)

    async def quota(self, project_id: str) -> dict:
        return (await self.get(route("v2.0/quotas/{}", project_id)))["quota"]

    async def list(self, kind: str, params: dict | None = None, limit: int = 1000) -> list[dict]:
        collection = self.RESOURCES[kind]
        return await self.list_all(f"v2.0/{collection}", collection.replace("-", "_"), params, limit)

    async def list_where(self, kind: str, field: str, values: builtins.list[str],
                         params: dict | None = None) -> builtins.list[dict]:
        """``kind`` objects whose ``field`` is one of ``values``: asked 50 values at a time (a URL has a length
        limit), all at once."""
        chunks = [values[start:start + 50] for start in range(0, len(values), 50)]
        found = await asyncio.gather(*(self.list(kind, {**(params or {}), field: chunk}) for chunk in chunks))
        return [item for listing in found for item in listing]

    async def show(self, kind: str, resource_id: str) -> dict:
        return (await self.get(self._item(kind, resource_id)))[kind]

    async def create(self, kind: str, fields: dict) -> dict:
        return (await self.post(f"v2.0/{self.RESOURCES[kind]}", {kind: fields}))[kind]

    async def create_many(self, kind: str, bodies: builtins.list[dict]) -> builtins.list[dict]:
        """Neutron's bulk create: all of them or none."""
        collection = self.RESOURCES[kind]
        plural = collection.replace("-", "_")
        return (await self.post(f"v2.0/{collection}", {plural: bodies}))[plural]

    async def update(self, kind: str, resource_id: str, fields: dict) -> dict:
        return (await self.put(self._item(kind, resource_id), {kind: fields}))[kind]

    async def remove(self, kind: str, resource_id: str) -> None:
        await self.delete(self._item(kind, resource_id))

    async def add_tag(self, kind: str, resource_id: str, tag: str) -> None:
        """One tag on the object (Neutron ignores tags in a create's body)."""
        await self.put(route("v2.0/{}/{}/tags/{}", self.RESOURCES[kind], resource_id, tag), None)

    async def remove_tag(self, kind: str, resource_id: str, tag: str) -> None:
        await self.delete(route("v2.0/{}/{}/tags/{}", self.RESOURCES[kind], resource_id, tag))

    async def auto_allocated_topology(self, project_id: str) -> dict:
        """The project's auto-allocated network (Neutron makes it, with a subnet and a router to the default
        external network, on the first call); 404 where the extension is off, 409 where the cloud has no
        default external network or subnet pool."""
        return (await self.get(route("v2.0/auto-allocated-topology/{}", project_id)))["auto_allocated_topology"]

    async def router_interface(self, router_id: str, subnet_id: str, add: bool = True) -> dict:
        """Add (or remove) the router's interface on a subnet: a port holding the subnet's gateway address."""
        verb = "add_router_interface" if add else "remove_router_interface"
        return await self.put(route("v2.0/routers/{}/{}", router_id, verb), {"subnet_id": subnet_id})


class Cinder(ServiceClient):
    service = "volumev3"

    async def list_volumes(self, params: dict | None = None, limit: int = 1000) -> list[dict]:
        return await self.list_all("volumes/detail", "volumes", params, limit)

    async def get_volume(self, volume_id: str) -> dict:
        return (await self.get(route("volumes/{}", volume_id)))["volume"]

    async def create_volume(self, **fields: Any) -> dict:
        return (await self.post("volumes", {"volume": fields}))["volume"]

    async def delete_volume(self, volume_id: str) -> None:
        await self.delete(route("volumes/{}", volume_id))

    async def retype_volume(self, volume_id: str, new_type: str) -> None:
        """Cinder migrates the data where the new type lives elsewhere (``on-demand``)."""
        await self.post(route("volumes/{}/action", volume_id),
                        {"os-retype": {"new_type": new_type, "migration_policy": "on-demand"}})

    async def extend_volume(self, volume_id: str, new_size: int) -> None:
        """Extending an attached volume needs microversion 3.42."""
        await self.post(route("volumes/{}/action", volume_id), {"os-extend": {"new_size": new_size}},
                        headers={"OpenStack-API-Version": "volume 3.42"})

    async def update_volume(self, volume_id: str, **fields: Any) -> dict:
        return (await self.put(route("volumes/{}", volume_id), {"volume": fields}))["volume"]

    async def add_metadata(self, kind: str, object_id: str, metadata: dict[str, str]) -> dict:
        """Set these keys on a volume's or snapshot's (``kind``) metadata, keeping the others."""
        return (await self.post(route("{}/{}/metadata", kind, object_id), {"metadata": metadata}))["metadata"]

    async def list_snapshots(self, params: dict | None = None, limit: int = 1000) -> list[dict]:
        return await self.list_all("snapshots/detail", "snapshots", params, limit)

    async def get_snapshot(self, snapshot_id: str) -> dict:
        return (await self.get(route("snapshots/{}", snapshot_id)))["snapshot"]

    async def create_snapshot(self, volume_id: str, **fields: Any) -> dict:
        return (await self.post("snapshots", {"snapshot": {"volume_id": volume_id, **fields}}))["snapshot"]

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self.delete(route("snapshots/{}", snapshot_id))

    async def attachments(self, params: dict | None = None) -> list[dict]:
        return (await self.get("attachments", params=params))["attachments"]
