"""OpenStack's notifications read into changes (issue 29, its first part): the lab's own messages, captured with
``LAB_NOTIFICATIONS=1`` while a server was booted, given a floating IP and had it taken away, stopped and started,
a group and a rule made and deleted, a volume and a snapshot made and deleted, and the server deleted
(``tests/lab_samples/notifications.json``); and what a bus may carry that is none of these."""

from __future__ import annotations

import json
import pathlib
import random

import pytest

from ec2proxy.cloud import notifications
from ec2proxy.cloud.notifications import Malformed, changes_of, message_of, newer

SAMPLES = json.loads((pathlib.Path(__file__).parent / "lab_samples" / "notifications.json").read_text())


def _bodies() -> list[bytes]:
    return [json.dumps(sample["body"]).encode() for sample in SAMPLES]


def _changes() -> list[notifications.Change]:
    return [change for body in _bodies() for change in changes_of(message_of(body))]


def _fold(changes) -> dict[tuple[str, str], notifications.Change]:
    """What a view holds after these changes, each applied only when newer than what it holds."""
    held: dict[tuple[str, str], notifications.Change] = {}
    for change in changes:
        key = (change.kind, change.os_id)
        if newer(change, held.get(key)):
            held[key] = change
    return held


def test_every_message_of_the_lab_reads():
    messages = [message_of(body) for body in _bodies()]
    assert len(messages) == len(SAMPLES) == 55
    kinds = {(c.kind, c.event_type) for c in _changes()}
    for expected in (("server", "instance.update"), ("server", "instance.power_off.end"),
                     ("server", "instance.delete.end"), ("port", "port.create.end"), ("port", "port.delete.end"),
                     ("floatingip", "floatingip.update.end"), ("security_group_rule", "security_group_rule.create.end"),
                     ("volume", "volume.create.end"), ("snapshot", "snapshot.delete.end")):
        assert expected in kinds
    starts = [m for m in messages if m["event_type"].endswith(".start") and not m["event_type"].startswith("instance")]
    assert starts and all(changes_of(m) == [] for m in starts)  # a .start is the request, not the result


def test_a_server_is_followed_through_its_life():
    servers = [c for c in _changes() if c.kind == "server"]
    assert len({c.os_id for c in servers}) == 1 and len({c.project_id for c in servers}) == 1
    states = [(c.data["OS-EXT-STS:vm_state"], c.data["OS-EXT-STS:task_state"])
              for c in sorted(servers, key=lambda c: c.order)]
    assert states[0] == ("building", "scheduling")
    assert ("stopped", None) in states and ("active", None) in states
    assert states[-1][0] == "deleted" and sorted(servers, key=lambda c: c.order)[-1].deleted
    # Nova's updated_at is to the second and missing early in a boot: the order still follows the messages
    assert [c.order for c in servers] == sorted(c.order for c in servers)


def test_a_floating_ip_goes_and_comes_back_by_revision():
    ips = [c for c in _changes() if c.kind == "floatingip"]
    ports = [ip.data["port_id"] for ip in sorted(ips, key=lambda c: c.order) if not ip.deleted]
    assert ports[0] is None and any(ports) and ports[-1] is None  # made, associated, taken away
    assert max(ips, key=lambda c: c.order).deleted


def test_events_replayed_twice_and_out_of_order_change_nothing():
    changes = _changes()
    in_order = _fold(changes)
    for seed in range(20):
        shuffled = changes * 2
        random.Random(seed).shuffle(shuffled)
        assert _fold(shuffled) == in_order
    assert all(change.deleted for change in in_order.values() if change.kind in ("server", "volume", "snapshot",
                                                                                   "floatingip", "security_group"))


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b"{}", b'{"oslo.version": "2.0", "oslo.message": "{"}',
    b'{"oslo.version": "2.0", "oslo.message": "[1, 2]"}', b'{"oslo.version": "2.0", "oslo.message": 7}',
    json.dumps({"event_type": "port.create.end", "timestamp": "2026-12-07 14:06:14.1", "payload": []}).encode(),
    json.dumps({"event_type": 5, "timestamp": "2026-12-07 14:06:14.1", "payload": {}}).encode(),
    b"x" * (notifications.MAX_BODY + 1),
])
def test_what_is_no_notification_is_malformed(body):
    with pytest.raises(Malformed):
        message_of(body)


@pytest.mark.parametrize("message", [
    {"event_type": "port.create.end", "timestamp": "yesterday", "payload": {"port": {"id": "p", "project_id": "x"}}},
    {"event_type": "port.create.end", "timestamp": "2026-12-07 14:06:14.1", "payload": {"port": "p"}},
    {"event_type": "port.update.end", "timestamp": "2026-12-07 14:06:14.1", "payload": {}},
    {"event_type": "port.update.end", "timestamp": "2026-12-07 14:06:14.1",
     "payload": {"port": {"id": "p", "project_id": "x", "revision_number": "7"}}},
    {"event_type": "volume.create.end", "timestamp": "2026-12-07 14:06:14.1", "payload": {"volume_id": "v"}},
    {"event_type": "instance.update", "timestamp": "2026-12-07 14:06:14.1",
     "payload": {"nova_object.data": {"state": "active", "uuid": "u" * 300, "tenant_id": "x"}}},
])
def test_changes_that_do_not_say_what_changed_are_malformed(message):
    with pytest.raises(Malformed):
        changes_of(message)


def test_kinds_no_view_keeps_are_no_change():
    for event in ("compute.instance.exists", "image.upload", "scheduler.select_destinations.end",
                  "identity.project.created", "flavor.update"):
        assert changes_of({"event_type": event, "timestamp": "2026-12-07 14:06:14.1", "payload": {}}) == []


def test_mangled_lab_messages_never_raise_but_malformed():
    """Each lab message with one member of its payload replaced by something else: read, refused as Malformed,
    or no change — never another exception."""
    rng = random.Random(7)
    junk = [None, 0, -1, True, "", "x" * 300, [], {}, [1], {"a": 1}, 1.5]
    for body in _bodies():
        message = message_of(body)
        payload = message["payload"]
        target = payload.get("nova_object.data") if "nova_object.data" in payload else \
            next((v for v in payload.values() if isinstance(v, dict)), payload)
        for key in list(target)[:12]:
            mangled = json.loads(json.dumps(message))
            inner = mangled["payload"]
            place = inner.get("nova_object.data") if "nova_object.data" in inner else \
                next((v for v in inner.values() if isinstance(v, dict)), inner)
            place[key] = rng.choice(junk)
            try:
                changes_of(mangled)
            except Malformed:
                pass


def shapes_hold(messages: list[dict]) -> list[str]:
    """The checks a source of notifications must pass for the live view to read it (the lab's services and the
    dev cloud alike): each message reads; a server reads into what the describe path takes, its addresses naming
    their ports; ports, floating IPs and groups carry the members the view reads. Answers the members of Nova's
    instance.update payload, for comparing two sources."""
    members: set[str] = set()
    for sample in messages:
        message = message_of(json.dumps(sample["body"]))
        if message["event_type"] == "instance.update":
            members |= set(message["payload"]["nova_object.data"])
        for change in changes_of(message):
            _holds(change)
    return sorted(members)


def _holds(change: notifications.Change) -> None:
    from ec2proxy.readmodels.instances import FIP_FIELDS, PORT_FIELDS

    if change.data is not None and not change.deleted:
        data = change.data
        if change.kind == "server":
            assert data["status"] != "UNKNOWN" and data["tenant_id"] and data["flavor"]["original_name"], data
            assert all(a["port_id"] and a["addr"] for entries in data["addresses"].values() for a in entries)
        wanted = {"port": PORT_FIELDS, "floatingip": FIP_FIELDS,
                  "security_group": ["id", "name", "revision_number"]}.get(change.kind, [])
        assert set(wanted) <= set(data), (change.kind, set(wanted) - set(data))


def test_the_lab_messages_hold_the_shapes_the_view_reads():
    assert "ip_addresses" in shapes_hold(SAMPLES)


def test_a_bulk_create_is_a_change_of_each_object():
    """Neutron's answer to a bulk create (POST /security-group-rules with ``security_group_rules``, as the lab
    sent it when two rules were made at once): the collection, each object a change; a member that is no
    object is malformed."""
    rule = next(json.loads(s["body"]["oslo.message"]) for s in SAMPLES
                if json.loads(s["body"]["oslo.message"])["event_type"] == "security_group_rule.create.end")
    one = rule["payload"]["security_group_rule"]
    bulk = {**rule, "payload": {"security_group_rules": [one, {**one, "id": "second", "port_range_min": 2222}]}}
    changes = changes_of(bulk)
    assert [c.os_id for c in changes] == [one["id"], "second"] and all(not c.deleted for c in changes)
    with pytest.raises(Malformed):
        changes_of({**rule, "payload": {"security_group_rules": [one, "not a rule"]}})
