"""The dev cloud's notifications, shaped as the lab's services send them (``tests/lab_samples``): Nova's versioned
``instance.update`` on exchange nova, Neutron's ``<kind>.update.end``/``.delete.end`` carrying the resource,
Cinder's ``volume.*``/``snapshot.*`` with the object's ids and status; each in oslo.messaging's envelope.

Every write of the store is one notification, as every committed change is one on a real cloud. The dev cloud's
transitions are lazy (settled when read); while notifying, a ticker settles what is due so that a stop ends in
a notification even when nobody reads the server.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import uuid
from typing import Any

from ec2proxy.devcloud import compute, volume
from ec2proxy.devcloud import ports as neutron_ports
from ec2proxy.devcloud.common import iso, now
from ec2proxy.devcloud.server_views import flavor_by_id

log = logging.getLogger(__name__)
NEUTRON_KINDS = ("port", "floatingip", "security_group", "security_group_rule", "network", "subnet", "router")
LIMIT = 100_000  # notifications held while the broker is away
TICK = 0.05  # seconds between settling due transitions
# The exchange each service sends on, by default (oslo.messaging's own for Cinder)
EXCHANGES = {"nova": "nova", "neutron": "neutron", "cinder": "openstack"}


def _versioned(name: str, version: str, data: dict) -> dict:
    return {"nova_object.name": name, "nova_object.namespace": "nova", "nova_object.version": version,
            "nova_object.data": data}


def instance_payload(store, server: dict) -> dict:
    """Nova's InstanceUpdatePayload (2.x) of a dev cloud server, the members the lab's carry."""
    flavor = flavor_by_id(server["flavor_id"]) or {"id": server["flavor_id"], "name": server["flavor_id"],
                                                   "vcpus": 0, "ram": 0, "disk": 0}
    addresses = []
    for port in neutron_ports.ports_of(store, server):
        network = store.get("network", port["network_id"]) or {"name": port["network_id"]}
        addresses += [_versioned("IpPayload", "1.0", {
            "label": network["name"], "mac": port["mac_address"], "meta": {}, "port_uuid": port["id"],
            "version": 4, "address": fixed["ip_address"], "device_name": f"tap{port['id'][:11]}"})
            for fixed in port["fixed_ips"]]
    power = {1: "running", 4: "shutdown"}.get(server["power_state"], "pending")
    return _versioned("InstanceUpdatePayload", "2.1", {
        "uuid": server["id"], "user_id": server["user_id"], "tenant_id": server["project_id"],
        "reservation_id": server["reservation_id"], "display_name": server["name"], "display_description": None,
        "host_name": server["hostname"], "host": "lab-compute", "node": "lab-compute", "os_type": None,
        "architecture": None, "availability_zone": server["availability_zone"],
        "flavor": _versioned("FlavorPayload", "1.4", {
            "flavorid": flavor["id"], "memory_mb": flavor["ram"], "vcpus": flavor["vcpus"], "root_gb": flavor["disk"],
            "ephemeral_gb": 0, "name": flavor["name"], "swap": 0, "rxtx_factor": 1.0, "vcpu_weight": 0,
            "disabled": False, "is_public": True, "extra_specs": {}, "projects": None, "description": None}),
        "image_uuid": server["image_id"] or "", "key_name": server["key_name"], "kernel_id": "", "ramdisk_id": "",
        "created_at": iso(server["created"]), "launched_at": iso(server["launched_at"]),
        "terminated_at": iso(server["terminated_at"]), "deleted_at": None, "updated_at": iso(server["updated"]),
        "state": server["vm_state"], "power_state": power, "task_state": server["task_state"], "progress": 0,
        "ip_addresses": addresses, "block_devices": None, "metadata": server["metadata"], "locked": False,
        "auto_disk_config": "MANUAL", "action_initiator_user": server["user_id"],
        "action_initiator_project": server["project_id"], "locked_reason": None, "shares": None,
        "tags": [], "state_update": None, "audit_period": None, "old_display_name": None, "request_id": None})


def cinder_payload(kind: str, obj: dict) -> dict:
    """Cinder's volume or snapshot usage payload (no updated_at: the message's time orders them)."""
    common = {"tenant_id": obj["project_id"], "user_id": obj.get("user_id"),
              "availability_zone": obj.get("availability_zone", "nova"), f"{kind}_id": obj["id"],
              "display_name": obj.get("name"), "created_at": iso(obj.get("created_at")), "status": obj["status"]}
    if kind == "snapshot":
        return {**common, "volume_id": obj["volume_id"], "volume_size": obj["size"], "deleted": "", "metadata": ""}
    return {**common, "host": "lab-volume@lab#lab", "volume_type": obj.get("volume_type"),
            "launched_at": iso(obj.get("created_at")), "snapshot_id": obj.get("snapshot_id"), "size": obj["size"],
            "replication_status": None, "replication_extended_status": None, "replication_driver_data": None,
            "metadata": [], "volume_attachment": obj.get("attachments") or []}


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_") and k != "pending"}


class Notifier:
    """Notifications of the store's writes, published in order by one task."""

    def __init__(self, transport_url: str, exchanges: dict[str, str] | None = None):
        self.url = transport_url
        self.exchanges = {**EXCHANGES, **(exchanges or {})}
        self.queue: asyncio.Queue[tuple[str, str, dict]] = asyncio.Queue()

    def written(self, store, kind: str, obj: dict | None, old: dict | None) -> None:
        """The store's listener: ``obj`` as written, or None for a delete of ``old``."""
        target = obj if obj is not None else old
        if target is None:
            return
        project = target.get("project_id") or ""
        if kind == "server" and obj is not None:
            self._send("nova", "compute.lab-compute", "instance.update", instance_payload(store, obj), project)
        elif kind in NEUTRON_KINDS:
            action = "update" if obj is not None else "delete"
            payload: dict[str, Any] = {kind: _public(target)}
            if obj is None:
                payload[f"{kind}_id"] = target["id"]
            self._send("neutron", "network.lab", f"{kind}.{action}.end", payload, project)
        elif kind in ("volume", "snapshot"):
            action = "delete" if obj is None or obj.get("status") == "deleted" else "update"
            self._send("cinder", f"{kind}.lab-volume@lab", f"{kind}.{action}.end", cinder_payload(kind, target),
                       project)

    def _send(self, service: str, publisher: str, event: str, payload: dict, project: str) -> None:
        if self.queue.qsize() >= LIMIT:
            return  # the broker is away: lost, as a real cloud loses them
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        message = {"message_id": str(uuid.uuid4()), "publisher_id": publisher, "event_type": event,
                   "priority": "INFO", "payload": payload, "timestamp": stamp, "_unique_id": uuid.uuid4().hex,
                   "_context_project_id": project}
        topic = "versioned_notifications.info" if service == "nova" else "notifications.info"
        self.queue.put_nowait((self.exchanges[service], topic,
                               {"oslo.version": "2.0", "oslo.message": json.dumps(message)}))

    async def run(self) -> None:
        """Publish until cancelled; a broker away loses what was sent meanwhile, as a real cloud's does."""
        while True:
            try:
                await self._publish()
            except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
                log.warning("the dev cloud cannot reach its broker (%s); trying again", type(exc).__name__)
                while not self.queue.empty():
                    self.queue.get_nowait()
                await asyncio.sleep(1.0)

    async def _publish(self) -> None:
        import aio_pika

        connection = await aio_pika.connect_robust(self.url.replace("rabbit://", "amqp://", 1))
        try:
            channel = await connection.channel()
            declared = {name: await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=False)
                        for name in set(self.exchanges.values())}
            while True:
                exchange, topic, body = await self.queue.get()
                try:
                    await declared[exchange].publish(aio_pika.Message(json.dumps(body).encode()), routing_key=topic)
                except Exception as exc:  # noqa: BLE001 - the notification is lost, as oslo.messaging loses it
                    log.warning("the dev cloud could not notify %s (%s)", topic, type(exc).__name__)
        finally:
            await connection.close()


async def settle_due(cloud) -> None:
    """Settle every transition whose time has come, each a write and so a notification."""
    while True:
        await asyncio.sleep(TICK)
        moment = now()
        for server in list(cloud.store.all("server").values()):
            if server.get("pending") and server["pending"]["at"] <= moment:
                compute.settle(cloud, server)
        for kind in ("volume", "snapshot"):
            for obj in list(cloud.store.all(kind).values()):
                if obj.get("pending") and obj["pending"]["at"] <= moment:
                    volume.settle(cloud.store, kind, obj)
