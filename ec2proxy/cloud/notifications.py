"""OpenStack's notifications as they arrive on the message bus, read into the changes a live view keeps.

What the lab showed (``tests/lab_samples/notifications.json``: a boot, a floating IP associated and removed, a
stop and a start, a group and a rule made and deleted, a volume and a snapshot made and deleted, the server
deleted, captured with ``LAB_NOTIFICATIONS=1``):

* Every message is oslo.messaging's envelope ``{"oslo.version": "2.0", "oslo.message": "<JSON>"}``; the message
  has ``event_type``, ``publisher_id``, ``priority``, ``timestamp`` (UTC to the microsecond, ``2026-12-07
  14:06:14.371106``), ``payload`` and the request's context as ``_context_*`` members.
* Nova sends versioned notifications (exchange ``nova``, topic ``versioned_notifications``): the payload is a
  ``nova_object`` (``InstanceUpdatePayload``, ``InstanceActionPayload``) whose data has ``uuid``, ``tenant_id``,
  ``state``, ``task_state``, ``power_state`` and ``updated_at`` — to the second only, and none at all on the first
  updates of a boot, so not an order on its own: the message's timestamp breaks the tie.
* Neutron (exchange ``neutron``, topic ``notifications``) sends ``<kind>.<action>.start`` and ``.end``; the
  ``.end`` of a create or update carries the resource with its ``revision_number``; a delete carries
  ``<kind>_id`` and, for most kinds, the resource as it was.
* Cinder (exchange ``openstack``) sends ``volume.*`` and ``snapshot.*``, with no ``updated_at`` nor revision:
  the message's timestamp is their only order.
* An exchange exists only once its service has published on it: a consumer declares it (topic) before binding
  its queue, or misses what comes first.

A message that is not what these are is ``Malformed``; one of a kind a view does not keep is no change (None).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

MAX_BODY = 1 << 20  # the largest message read; Nova's biggest (an instance with its devices) is a few KB
NEUTRON_KINDS = ("port", "floatingip", "security_group", "security_group_rule", "network", "subnet", "router")
CINDER_KINDS = ("volume", "snapshot")
GONE = 10 ** 19  # a deleted Neutron object sorts after every revision of it
# What Describe* reads of Neutron's objects: what it asks Neutron for (``fields``), and all the view keeps of a
# notification's resource (a port's bindings, a group's rules would be most of the bytes it reads back)
KEPT = {
    "port": ("id", "device_id", "device_owner", "network_id", "mac_address", "fixed_ips", "security_groups",
             "created_at", "port_security_enabled", "allowed_address_pairs", "tags", "revision_number", "project_id"),
    "floatingip": ("id", "port_id", "floating_ip_address", "fixed_ip_address", "floating_network_id", "description",
                   "revision_number", "project_id"),
    "security_group": ("id", "name", "description", "security_group_rules", "revision_number", "project_id"),
    "network": ("id", "name", "router:external", "revision_number", "project_id"),
}
# What an instance needs of its groups (their names): read without their rules, most of a group's bytes
GROUP_NAMES = ("id", "name", "revision_number", "project_id")
# What the sweep compares of each kind with the view (a group's rules come as their own notifications)
SWEPT = {"port": KEPT["port"], "floatingip": KEPT["floatingip"],
         "security_group": ("id", "name", "description", "revision_number", "project_id")}


def public(change: Change) -> bool:
    """An object every project sees (an external network, which names the pool of every address): the view
    keeps it whoever owns it."""
    return change.kind == "network" and bool((change.data or {}).get("router:external"))


class Malformed(ValueError):
    """A message that is not an OpenStack notification as the services send them."""


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One object as a notification shows it after a change: ``order`` compares two changes of the same object
    as text (the later one sorts after; a database compares it as well as Python); ``data`` is the object as
    the event carries it (None for a bare delete)."""

    kind: str  # server, port, floatingip, security_group, security_group_rule, ..., volume, snapshot
    os_id: str
    project_id: str
    deleted: bool
    order: str
    data: dict | None
    event_type: str


def message_of(body: bytes | str) -> dict:
    """The notification inside oslo.messaging's envelope (or a message sent without one)."""
    if len(body) > MAX_BODY:
        raise Malformed(f"a message of {len(body)} bytes")
    try:
        outer = json.loads(body)
        message = json.loads(outer["oslo.message"]) if isinstance(outer, dict) and "oslo.message" in outer \
            else outer
    except (ValueError, TypeError, KeyError) as exc:
        raise Malformed(f"not an oslo.messaging envelope: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise Malformed("the message is not an object")
    for member, kind in (("event_type", str), ("timestamp", str), ("payload", dict)):
        if not isinstance(message.get(member), kind):
            raise Malformed(f"the message has no {member}")
    return message


def sent_at(message: dict) -> datetime.datetime:
    """When the service sent it (UTC)."""
    try:
        when = datetime.datetime.fromisoformat(message["timestamp"].replace(" ", "T"))
    except ValueError:
        raise Malformed("the message's timestamp is not a time") from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def _stamp(message: dict) -> str:
    """The message's timestamp, checked, as text that sorts as time does."""
    return stamp_of(sent_at(message))


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise Malformed(f"{what} is missing or not an id")
    return value


# Nova's server status of a vm_state, and of the tasks that change it (the API's own table, as documented for
# GET /servers/{id}: "status" is derived from these two)
STATUS = {"active": "ACTIVE", "building": "BUILD", "stopped": "SHUTOFF", "resized": "VERIFY_RESIZE",
          "paused": "PAUSED", "suspended": "SUSPENDED", "rescued": "RESCUE", "error": "ERROR", "deleted": "DELETED",
          "soft-delete": "SOFT_DELETED", "shelved": "SHELVED", "shelved_offloaded": "SHELVED_OFFLOADED"}
TASK_STATUS = {
    "active": {"rebooting": "REBOOT", "reboot_pending": "REBOOT", "reboot_started": "REBOOT",
               "rebooting_hard": "HARD_REBOOT", "reboot_pending_hard": "HARD_REBOOT",
               "reboot_started_hard": "HARD_REBOOT", "updating_password": "PASSWORD", "rebuilding": "REBUILD",
               "rebuild_block_device_mapping": "REBUILD", "rebuild_spawning": "REBUILD", "migrating": "MIGRATING",
               "resize_prep": "RESIZE", "resize_migrating": "RESIZE", "resize_migrated": "RESIZE",
               "resize_finish": "RESIZE"},
    "stopped": {"resize_prep": "RESIZE", "resize_migrating": "RESIZE", "resize_migrated": "RESIZE",
                "resize_finish": "RESIZE", "rebuilding": "REBUILD"},
    "resized": {"resize_reverting": "REVERT_RESIZE"},
    "error": {"rebuilding": "REBUILD"},
}


def _object(value: Any) -> dict:
    """A versioned object's fields (``nova_object.data``)."""
    data = value.get("nova_object.data") if isinstance(value, dict) else None
    return data if isinstance(data, dict) else {}


def server_of(data: dict) -> dict:
    """Nova's versioned instance payload as the server Nova's API shows (the members the describe path reads,
    ``ec2proxy.readmodels.instances.SERVER_KEYS``). ``security_groups`` is not in the payload (Nova reads a
    server's groups from its ports), nor, unless Nova sends them (``bdms_in_notifications``), its volumes: None
    says they are to be read elsewhere."""
    vm_state, task = data.get("state"), data.get("task_state")
    addresses: dict[str, list] = {}
    for ip in map(_object, data.get("ip_addresses") or []):
        addresses.setdefault(ip.get("label") or "", []).append({
            "addr": ip.get("address"), "version": ip.get("version"), "OS-EXT-IPS:type": "fixed",
            "OS-EXT-IPS-MAC:mac_addr": ip.get("mac"), "port_id": ip.get("port_uuid")})
    devices = data.get("block_devices")
    fault = _object(data.get("fault"))
    return {
        "id": data.get("uuid"), "tenant_id": data.get("tenant_id"), "name": data.get("display_name"),
        "status": TASK_STATUS.get(str(vm_state), {}).get(str(task)) or STATUS.get(str(vm_state), "UNKNOWN"),
        "OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:task_state": task,
        "created": data.get("created_at"), "updated": data.get("updated_at"), "key_name": data.get("key_name"),
        "OS-EXT-AZ:availability_zone": data.get("availability_zone"),
        "image": {"id": data["image_uuid"]} if data.get("image_uuid") else "",
        "flavor": {"original_name": _object(data.get("flavor")).get("name")},
        "addresses": addresses, "security_groups": None,
        "os-extended-volumes:volumes_attached": None if devices is None else [
            {"id": d.get("volume_id"), "delete_on_termination": d.get("delete_on_termination")}
            for d in map(_object, devices)],
        **({"fault": {"message": fault.get("exception_message")}} if fault else {}),
    }


def _server(message: dict, event: str, stamp: str) -> Change | None:
    payload = message["payload"]
    data = payload.get("nova_object.data")
    if not isinstance(data, dict) or "state" not in data:
        return None  # a versioned payload of another object (a flavor, a scheduler's request spec...)
    changed = data.get("updated_at") or data.get("created_at") or ""
    if not isinstance(changed, str):
        raise Malformed("updated_at is not a time")
    deleted = event == "instance.delete.end" or data.get("state") == "deleted"
    server = server_of(data)
    return Change("server", _text(server["id"], "uuid"), _text(server["tenant_id"], "tenant_id"), deleted,
                  server_order(changed, stamp), server, event)


def server_order(updated: str, stamp: str) -> str:
    """A server's order: Nova's updated_at (to the second), then when it was seen (a notification's
    timestamp, or when the API was read): text that sorts as time."""
    return f"{to_second(updated)}|{stamp}"


def to_second(updated: str) -> str:
    """Nova's updated time (API or payload) as a server's order begins with it."""
    return updated.replace("T", " ").rstrip("Z")[:19]


def neutron_order(revision: int, stamp: str) -> str:
    return f"{revision:020d}|{stamp}"


def stamp_of(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")


def link_of(kind: str, data: dict | None) -> str | None:
    """The object a view row belongs to, by which it is found: a port's server, a floating IP's port, a rule's
    group."""
    if data is None:
        return None
    member = {"port": "device_id", "floatingip": "port_id", "security_group_rule": "security_group_id"}.get(kind)
    value = data.get(member) if member else None
    return value if isinstance(value, str) and value else None


def _neutron(message: dict, kind: str, action: str, stamp: str) -> list[Change]:
    payload = message["payload"]
    collection = payload.get(f"{kind}s")
    if payload.get(kind) is None and isinstance(collection, list):  # a bulk create: the objects made, together
        return [_neutron_one(message, kind, action, stamp, resource) for resource in collection]
    return [_neutron_one(message, kind, action, stamp, payload.get(kind))]


def _neutron_one(message: dict, kind: str, action: str, stamp: str, resource: Any) -> Change:
    payload = message["payload"]
    if resource is not None and not isinstance(resource, dict):
        raise Malformed(f"the {kind} is not an object")
    deleted = action == "delete.end"
    if resource is None:
        if not deleted:
            raise Malformed(f"a {kind} change without the {kind}")
        os_id = _text(payload.get(f"{kind}_id"), f"{kind}_id")
        context_project = message.get("_context_project_id")
        return Change(kind, os_id, _text(context_project, "the project"), True, f"{GONE}|{stamp}", None,
                      message["event_type"])
    revision = resource.get("revision_number", 0)
    if not isinstance(revision, int) or isinstance(revision, bool) or not 0 <= revision < GONE:
        raise Malformed("revision_number is not a number")
    project = resource.get("project_id") or resource.get("tenant_id")
    kept = KEPT.get(kind)
    data = resource if kept is None else {key: resource[key] for key in kept if key in resource}
    # a deleted object is after every revision of it, whatever revision it was deleted at
    return Change(kind, _text(resource.get("id"), "id"), _text(project, "project_id"), deleted,
                  neutron_order(GONE if deleted else revision, stamp), data, message["event_type"])


def _cinder(message: dict, kind: str, action: str, stamp: str) -> Change:
    payload = message["payload"]
    os_id = _text(payload.get(f"{kind}_id"), f"{kind}_id")
    return Change(kind, os_id, _text(payload.get("tenant_id"), "tenant_id"), action == "delete.end", stamp,
                  payload, message["event_type"])


def changes_of(message: dict) -> list[Change]:
    """The changes a notification reports (one, or each object of a bulk create); none for one a view does not
    keep (a ``.start``, a scheduler's notice, a kind no Describe shows)."""
    event = message["event_type"]
    stamp = _stamp(message)
    kind, _, action = event.partition(".")
    if kind == "instance":
        server = _server(message, event, stamp) if action == "update" or action.endswith(".end") else None
        return [server] if server is not None else []
    if not action.endswith(".end"):
        return []  # a .start carries the request, not the result
    if kind in NEUTRON_KINDS:
        return _neutron(message, kind, action, stamp)
    if kind in CINDER_KINDS:
        return [_cinder(message, kind, action, stamp)]
    return []


def newer(change: Change, known: Change | None) -> bool:
    """Whether ``change`` is to be applied over what is known of its object: never going backwards, and the
    same change twice applied once."""
    return known is None or change.order > known.order
