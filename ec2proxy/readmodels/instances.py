"""The instance read model: Nova servers, our rows and Neutron ports, read together and made EC2 instances
(``ec2proxy.readmodels.instance_shapes`` builds each one).

Describe of a project, of given servers, or of what was just launched; lookup by id. Handlers (instances,
launch, attributes, status, volumes, addresses) build on it.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
from typing import Any, Awaitable, Callable, Literal, overload

from sqlalchemy import select

from ec2proxy import db, protocol
from ec2proxy.cloud import BackendNotFound, CloudView, notifications
from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, Tag, utcnow
from ec2proxy.ec2 import errors, fragments, ids, tagging, vpcs
from ec2proxy.ec2.records import Described
from ec2proxy.readmodels import keypairs, live_instances, tag_reads
from ec2proxy.readmodels.instance_shapes import (
    ROW_VALUES,
    InstanceRecord,
    InstanceRow,
    Port,
    RenderedInstance,
    build_instance,
    reservation_of,
)

# Our row of an instance.
STORED = select(Instance.__table__)


# The same with the instance's tags: a row per tag (one, with no tag, for an untagged instance).
STORED_TAGGED = STORED.add_columns(Tag.key.label("tag_key"), Tag.value.label("tag_value")).outerjoin(
    Tag, (Tag.resource_id == Instance.ec2_id) & (Tag.project_id == Instance.project_id))


async def _stored(ctx: RequestContext, os_ids: list[str]) -> tuple[dict[str, InstanceRow], dict[str, list[dict]]]:
    """Our rows of a few servers and their tags, by one statement (each database call is a round trip, and a
    thread hop for SQLite); tags only of the rows found (a server made in Nova directly has none here)."""
    rows: dict[str, InstanceRow] = {}
    tags: dict[str, list[dict]] = {}
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(os_ids):
            query = STORED_TAGGED.where(Instance.project_id == ctx.project_id, Instance.os_id.in_(chunk))
            for row in (await session.execute(query)).all():
                values = dict(row._mapping)
                key, value = values.pop("tag_key"), values.pop("tag_value")
                if row.os_id not in rows:
                    rows[row.os_id] = InstanceRow.of(values)
                if key is not None:
                    tags.setdefault(row.ec2_id, []).append({"Key": key, "Value": value})
    return rows, tags


async def _groups(view: CloudView) -> list[dict]:
    if view.neutron is None:
        return []
    return await view.neutron.list("security_group", {"fields": list(notifications.GROUP_NAMES)})


async def _group_ids(view: CloudView) -> dict[str, str]:
    return by_name(await _groups(view))


def by_name(groups: list[dict]) -> dict[str, str]:
    return {g["name"]: ids.from_uuid("sg", g["id"]) for g in groups}


FIP_FIELDS = list(notifications.KEPT["floatingip"])
PORT_FIELDS = list(notifications.KEPT["port"])


async def server_ports(view: CloudView, server_ids: list[str] | None) -> dict[str, list[Port]]:
    """The project's ports by server: one listing, or for named servers (a reservation, a lookup) only theirs,
    asked 50 at a time, so a new reservation never lists the ports of a big project. A few servers' floating
    IPs are asked by their ports once those are known (in parallel with Nova's answer, which is slower);
    many servers' with one listing beside the ports'."""
    if view.neutron is None or (server_ids is not None and not server_ids):
        return {}
    fip_fields = {"fields": FIP_FIELDS}
    if server_ids is None or len(server_ids) > 1000:
        fips, ports = await asyncio.gather(view.neutron.list("floatingip", fip_fields),
                                           view.neutron.list("port", {"fields": PORT_FIELDS}))
    elif len(server_ids) <= 50:
        ports = await view.neutron.list_where("port", "device_id", server_ids, {"fields": PORT_FIELDS})
        fips = await view.neutron.list_where("floatingip", "port_id", [p["id"] for p in ports], fip_fields)
    else:
        fips, ports = await asyncio.gather(
            view.neutron.list("floatingip", fip_fields),
            view.neutron.list_where("port", "device_id", server_ids, {"fields": PORT_FIELDS}))
    floating = {f["port_id"]: f for f in fips if f.get("port_id")}
    out: dict[str, list[Port]] = {}
    for port in ports:
        if port.get("device_id"):
            out.setdefault(port["device_id"], []).append(Port(port, floating.get(port["id"])))
    return out


# What an instance is made of in Nova's server (``build_instance``, ``states``, ``devices.from_nova``): a
# listing keeps only these of each page as it comes, a third of the objects at 10,000 servers.
SERVER_KEYS = ("id", "status", "tenant_id", "created", "updated", "key_name", "addresses", "fault", "security_groups",
               "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state", "OS-EXT-AZ:availability_zone",
               "os-extended-volumes:volumes_attached")


def slim(server: dict) -> dict:
    out = {key: server[key] for key in SERVER_KEYS if key in server}
    image, flavor = server.get("image"), server.get("flavor")
    out["image"] = {"id": image["id"]} if isinstance(image, dict) and "id" in image else image
    out["flavor"] = {"original_name": flavor.get("original_name")} if isinstance(flavor, dict) else flavor
    return out


async def _listed(view: CloudView, query: dict) -> list[dict]:
    servers: list[dict] = []
    async for page in view.nova.server_pages(query):
        servers += map(slim, page)
    return servers


async def _ended(view: CloudView, query: dict, since: datetime.datetime, live: list[dict],
                 rows: dict[str, "InstanceRow"]) -> list[dict]:
    """The servers of our rows that the plain listing lacks, and that ended since ``since``, as
    ``deleted_server``. Those TerminateInstances ended say so in their row; for the others (deleted in Nova
    directly) Nova's changes-since listing, asked only then and after the plain one, says whether they were
    deleted lately (a server made in between is in neither listing yet, never taken for deleted)."""
    seen = {s["id"] for s in live}
    missing = [row for os_id, row in rows.items() if os_id not in seen]
    recent = {s["id"] for s in await view.nova.list_server_ids({**query, "changes-since": nova_time(since)})} \
        if any(row.terminated_at is None for row in missing) else set()
    return [deleted_server(row.os_id) for row in missing if row.terminated_at is not None or row.os_id in recent]


def deleted_server(os_id: str) -> dict:
    """What is known of a deleted server without asking Nova (which answers 404 for it): what our row keeps
    of the instance fills the rest."""
    return {"id": os_id, "name": "", "status": "DELETED", "OS-EXT-STS:vm_state": "deleted"}


def changes_since(ctx: RequestContext) -> datetime.datetime:
    """How far back terminated instances stay visible."""
    return utcnow() - datetime.timedelta(seconds=ctx.services.config.api.terminated_visible)


def nova_time(stamp: datetime.datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


# EC2 filters Nova can answer itself (non-admin since microversion 2.83): one exact value, no wildcards.
# Nova's answer is only narrowed further by ours, so pushing a filter down never changes the result.
PUSH_DOWN: dict[str, tuple[str, tuple[int, int], Callable[[str], str]]] = {
    "key-name": ("key_name", (2, 83), str), "availability-zone": ("availability_zone", (2, 83), str),
    # Nova finds ports by the text as a substring in Neutron, then matches it as a regular expression: an escaped
    # or anchored address finds nothing on a real cloud; the address as it is finds it and a few more (ours
    # narrows them: 10.0.0.1 also finds 10.0.0.12).
    "private-ip-address": ("ip", (2, 1), str)}


def nova_filters(ctx: RequestContext, view: CloudView, params: dict) -> dict:
    query: dict = {}
    version = view.nova.microversion()
    for item in params.get("Filters") or []:
        rule = PUSH_DOWN.get(item.get("Name"))
        values = item.get("Values") or []
        if rule is None or len(values) != 1 or version < rule[1] or any(c in values[0] for c in "*?\\"):
            continue
        value = rule[2](values[0])
        # Nova knows our key pairs by their prefixed name (readmodels.keypairs); the caller by theirs.
        query[rule[0]] = keypairs.nova_name(ctx, view, value) if rule[0] == "key_name" else value
    return query


async def _known(ctx: RequestContext,
                 since: datetime.datetime) -> tuple[dict[str, InstanceRow], dict[str, list[dict]]]:
    """Our rows of the servers a listing since ``since`` can show (all but those we saw terminated
    before), and their tags: read while Nova answers, not after it."""
    async with ctx.services.sessions() as session:
        query = STORED.where(Instance.project_id == ctx.project_id,
                             Instance.terminated_at.is_(None) | (Instance.terminated_at >= since))
        rows = {row.os_id: InstanceRow.of(row) for row in (await session.execute(query)).all()}
        return rows, await tag_reads.read(session, ctx.project_id, [row.ec2_id for row in rows.values()])


@overload
async def describe(ctx: RequestContext, params: dict | None = None, servers: list[dict] | None = None,
                   render: Literal[False] = False) -> list[InstanceRecord]: ...
@overload
async def describe(ctx: RequestContext, params: dict | None = None, servers: list[dict] | None = None, *,
                   render: Literal[True]) -> list[RenderedInstance]: ...


async def describe(ctx: RequestContext, params: dict | None = None, servers: list[dict] | None = None,
                   render: bool = False) -> list[InstanceRecord] | list[RenderedInstance]:
    """Every instance of the project (terminated ones for a while), as EC2 Instance dicts.

    One paginated Nova listing (narrowed by the filters Nova understands), the
    security groups and ports, and, at the same time, our rows and tags: a
    constant number of backend calls whatever the instance count. ``render``:
    the instances come as ``Prerendered`` XML (from ``fragments`` when nothing
    they are made of changed), for an answer that only shows them.
    """
    if servers is None:
        since = changes_since(ctx)
        if ctx.services.live.configured:
            viewed = await _listed_from_view(ctx, since)
            if viewed is not None:
                servers, ports, groups, rows, tags = viewed
                return await _assemble(ctx, servers, groups, ports, rows, tags,
                                       {row.ec2_id for row in rows.values()}, render)
        view = await ctx.cloud()
        started = utcnow()
        query = nova_filters(ctx, view, params or {})
        servers, listed_groups, ports, (rows, tags) = await asyncio.gather(
            _listed(view, query), _groups(view), server_ports(view, None), _known(ctx, since))
        ended = await _ended(view, query, since, servers, rows)
        if ctx.services.live.configured and not query:  # the whole project as it is: the view's from now on
            await live_instances.remember(ctx, None, servers, ports, started, listed_groups, ended)
        servers += ended
        groups = by_name(listed_groups)
    else:
        view = await ctx.cloud()
        os_ids = [s["id"] for s in servers]
        ports, rows, tags = await _around(ctx, view, os_ids)
        groups = await _groups_of(view, servers, ports)
    return await _assemble(ctx, servers, groups, ports, rows, tags, {row.ec2_id for row in rows.values()}, render)


async def _with_view(ctx: RequestContext, viewed: Awaitable[tuple], ours: Awaitable[tuple]) -> tuple | None:
    """What the view holds and our rows, read at once; None when the view cannot vouch for it (counted). The
    project's sweep, when due, follows in the background."""
    ctx.services.live.swept_when_due(ctx)
    try:
        return tuple(await asyncio.gather(viewed, ours))
    except live_instances.Unanswered as exc:
        ctx.services.live.reads[str(exc)] += 1
        return None


async def _listed_from_view(ctx: RequestContext, since: datetime.datetime) -> tuple | None:
    """The project's instances from the live view (its servers as they are, those deleted since ``since``), or
    None when it cannot vouch for them (counted)."""
    both = await _with_view(ctx, live_instances.project(ctx, since), _known(ctx, since))
    if both is None:
        return None
    (servers, ports, groups), (rows, tags) = both
    reads = ctx.services.live.reads
    listed = {s["id"] for s in servers}
    if any(os_id not in listed and row.terminated_at is None for os_id, row in rows.items()) \
            or not live_instances.volumes_known(servers, rows):
        reads["unknown"] += 1  # one we launched that the view has not seen yet
        return None
    reads["view"] += 1
    return servers, ports, groups, rows, tags


async def _around(ctx: RequestContext, view: CloudView, os_ids: list[str]) -> tuple[dict, dict, dict]:
    """What the instances of these servers are made of besides the servers and their groups: ports, rows,
    tags."""
    ports, (rows, tags) = await asyncio.gather(server_ports(view, os_ids), _stored(ctx, os_ids))
    return ports, rows, tags


async def _groups_of(view: CloudView, servers: list[dict], ports: dict[str, list[Port]]) -> dict[str, str]:
    """Group name -> sg- id for a few servers. Nova names their groups, their ports hold the ids: one name and
    one id pair at once; else only those ids are asked of Neutron, not the project's every group."""
    names = {g["name"] for s in servers for g in s.get("security_groups") or []}
    held = {group for s in servers for port in ports.get(s["id"], [])
            for group in port.neutron.get("security_groups") or []}
    if not names:
        return {}
    if len(names) == 1 and len(held) == 1:
        return {names.pop(): ids.from_uuid("sg", held.pop())}
    if not held or view.neutron is None:
        return await _group_ids(view)
    groups = await view.neutron.list("security_group", {"id": sorted(held), "fields": ["id", "name"]})
    return {g["name"]: ids.from_uuid("sg", g["id"]) for g in groups}


async def _assemble(ctx: RequestContext, servers: list[dict], groups: dict, ports: dict, rows: dict, tags: dict,
                    covered: set[str], render: bool) -> list[Any]:
    mine = [s for s in servers if s.get("tenant_id") in (None, ctx.project_id)]  # never another project's
    unread = [i for i in (ids.from_uuid("i", s["id"]) for s in mine) if i not in covered]
    if unread:  # servers we have no row of (made in Nova directly)
        tags.update(await tag_reads.load(ctx, unread))
    instances: list[Any] = []
    for server in mine:
        row = rows.get(server["id"])
        own_ports = ports.get(server["id"])
        if render:
            ec2_id = ids.from_uuid("i", server["id"])
            key = fragments.digest(server, _row_values(row), own_ports, tags.get(ec2_id),
                                   [groups.get(g["name"]) for g in server.get("security_groups") or []],
                                   ctx.project_id, ctx.region)
            xml = fragments.INSTANCES.get(key)
            if xml is None:
                instance = build_instance(server, row, ctx.project_id, groups, ctx.region, own_ports)
                xml = protocol.render(_instance_shape(), tagging.attach([instance.shape], "InstanceId", tags)[0])
                fragments.INSTANCES.put(key, xml)
            instances.append(RenderedInstance(xml, ec2_id, reservation_of(server, row)))
            continue
        instances.append(build_instance(server, row, ctx.project_id, groups, ctx.region, own_ports))
    if not render:
        tagging.attach([i.shape for i in instances], "InstanceId", tags)
    return instances


def _row_values(row: InstanceRow | None) -> tuple | None:
    """What a read row holds, for a digest."""
    return None if row is None else ROW_VALUES(row)


@functools.cache
def _instance_shape():
    return protocol.service_model().shape_for("Instance")


async def find_flavor(view: CloudView, instance_type: str) -> dict:
    for flavor in await view.nova.flavors():
        if flavor["name"] == instance_type:
            return flavor
    raise errors.InvalidParameterValue(f"Invalid value '{instance_type[:64]}' for InstanceType.")


async def resolve_groups(view: CloudView, names: list[str], group_ids: list[str]) -> list[Described]:
    """Security groups named by name or by sg- id, as (name, id) pairs."""
    if not names and not group_ids:
        names = ["default"]
    groups = await view.neutron.list("security_group") if view.neutron else []
    by_id = {ids.from_uuid("sg", g["id"]): g for g in groups}
    out = []
    for group_id in group_ids:
        group = by_id.get(ids.check("sg", group_id))
        if group is None:
            raise errors.InvalidGroupNotFound(f"The security group '{group_id}' does not exist")
        out.append(Described({"GroupName": vpcs.group_name(group["name"]), "GroupId": group_id}, group))
    for name in names:
        group = next((g for g in groups if g["name"] == name), None)
        if group is None:
            raise errors.InvalidGroupNotFound(f"The security group '{name[:64]}' does not exist")
        out.append(Described({"GroupName": name, "GroupId": ids.from_uuid("sg", group["id"])}, group))
    return out


async def lookup(ctx: RequestContext, instance_ids: list[str]) -> list[InstanceRecord]:
    """The named instances, in the order asked; unknown ones are ``InvalidInstanceID.NotFound``.

    Instances we launched are read one by one from Nova (the question is about
    these ids, not the tenant); only an id we have no row for, i.e. a server
    created directly in Nova, needs the listing.
    """
    wanted = list(dict.fromkeys(ids.check("i", i) for i in instance_ids))
    # Ids this process has seen need no query: whose server it is, Nova (the caller's scope) and the tenant
    # check below still say.
    known: dict[str, str] = {i: os_id for i in wanted if (os_id := ids.os_id_of(i)) is not None}
    if len(known) < len(wanted):
        async with ctx.services.sessions() as session:
            for chunk in db.chunks([i for i in wanted if i not in known]):
                known.update((await session.execute(select(Instance.ec2_id, Instance.os_id).where(
                    Instance.project_id == ctx.project_id, Instance.ec2_id.in_(chunk)))).tuples().all())
    if len(wanted) > 50 or any(i not in known for i in wanted):
        found = {i.shape["InstanceId"]: i for i in await describe(ctx)}
    else:
        os_ids = [known[i] for i in wanted]
        made = await _from_view(ctx, os_ids) if ctx.services.live.configured else None
        if made is None:
            made = await _read(ctx, os_ids)
        found = {i.shape["InstanceId"]: i for i in made}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise errors.not_found("InstanceID", ", ".join(missing))
    return [found[i] for i in wanted]


async def _from_view(ctx: RequestContext, os_ids: list[str]) -> list[InstanceRecord] | None:
    """The instances of these servers from the live view, or None when it cannot vouch for them (counted)."""
    both = await _with_view(ctx, live_instances.servers(ctx, os_ids), _stored(ctx, os_ids))
    if both is None:
        return None
    (shown, ports, groups), (rows, tags) = both
    reads = ctx.services.live.reads
    if not live_instances.volumes_known(shown, rows):
        reads["unknown"] += 1
        return None
    reads["view"] += 1
    return await _assemble(ctx, shown, groups, ports, rows, tags, {row.ec2_id for row in rows.values()}, False)


async def _read(ctx: RequestContext, os_ids: list[str]) -> list[InstanceRecord]:
    """The instances of these servers read from Nova one by one (and what they are made of, from Neutron and
    our database); with the live view on, what was read refreshes it."""
    view = await ctx.cloud()
    semaphore = asyncio.Semaphore(16)
    since = utcnow()

    async def server(os_id: str) -> dict | None:
        async with semaphore:
            try:
                return slim(await view.nova.get_server(os_id))
            except BackendNotFound:
                return None

    # The servers and what they are made of at the same time: one Nova GET's time, not two round trips.
    servers, around = await asyncio.gather(asyncio.gather(*(server(os_id) for os_id in os_ids)),
                                           _around(ctx, view, os_ids))
    shown = [s for s in servers if s is not None]
    if len(shown) < len(servers):  # deleted servers are only listed (changes-since), never shown
        return await describe(ctx)
    ports, rows, tags = around
    groups = await _groups_of(view, shown, ports)
    made = await _assemble(ctx, shown, groups, ports, rows, tags, {row.ec2_id for row in rows.values()}, False)
    if ctx.services.live.configured:
        await live_instances.remember(ctx, view, shown, ports, since)
    return made


@tag_reads.exists("i")
async def _existing(ctx: RequestContext, instance_ids: list[str]) -> set[str]:
    try:
        return {i.shape["InstanceId"] for i in await lookup(ctx, instance_ids)}
    except errors.EC2Error as exc:
        if exc.code != "InvalidInstanceID.NotFound":
            raise
    return {i.shape["InstanceId"] for i in await describe(ctx)} & set(instance_ids)


async def with_metadata_tags(ctx: RequestContext, instance_ids: list[str]) -> list[str]:
    """Which of these instances show their tags in the metadata service (InstanceMetadataTags = enabled)."""
    out: list[str] = []
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(instance_ids):
            rows = await session.execute(select(Instance.ec2_id, Instance.metadata_options).where(
                Instance.project_id == ctx.project_id, Instance.ec2_id.in_(chunk)))
            out += [ec2_id for ec2_id, options in rows.all()
                    if (options or {}).get("InstanceMetadataTags") == "enabled"]
    return out


async def server_ids(ctx: RequestContext, instance_ids: list[str]) -> list[str]:
    """The Nova ids of those of these instances that we launched."""
    out: list[str] = []
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(instance_ids):
            out += (await session.scalars(select(Instance.os_id).where(
                Instance.project_id == ctx.project_id, Instance.ec2_id.in_(chunk)))).all()
    return out
