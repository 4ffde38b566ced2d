"""Contract tests of the cloud clients over real HTTP (dev cloud by default; see tests/cloudtarget.py)."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from ec2proxy.cloud import BackendError, BackendNotFound, BackendUnavailable
from ec2proxy.ec2 import errors
from tests import cloudtarget


def _ssh_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


SSH_KEY = _ssh_key()


@pytest.fixture
async def target(tmp_path):
    target, runner = await cloudtarget.start(tmp_path)
    yield target
    await target.session.close()
    if runner is not None:
        await runner.cleanup()


def dev_only(target) -> None:
    if target.real:
        pytest.skip("fault injection and seeded accounts exist only in the dev cloud")


async def wait_for(fetch, done, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not done: {value}")
        await asyncio.sleep(0.05)


async def demo_view(target):
    cloud = target.cloud()
    project = None if target.real else target.accounts["demo"]["project_id"]
    return cloud, await cloud.view(project)


async def test_a_revoked_token_is_renewed_and_the_call_repeated(target):
    """Keystone revoked the proxy's token (a revocation, new signing keys after a restart): the next call
    is refused once (401), the client logs in again and repeats it; its caller sees only the answer."""
    cloud, view = await demo_view(target)
    old = view.scoped.token
    async with target.session.delete(f"{view.keystone.endpoint}/auth/tokens",
                                      headers={"X-Auth-Token": old, "X-Subject-Token": old}) as revoked:
        assert revoked.status == 204
    # Neutron has not seen this token yet (Nova may have cached it as valid: keystonemiddleware does)
    assert isinstance(await view.neutron.list("network", {"fields": ["id"]}), list)
    assert view.neutron.token != old
    project = None if target.real else target.accounts["demo"]["project_id"]
    assert (await cloud.auth.scoped(project)).token == view.neutron.token  # the next view uses the new one
    assert isinstance(await view.nova.list_servers({"name": "^no-such-server$"}), list)


async def test_keystone_login_catalog_and_rescope(target):
    cloud = target.cloud()
    own = await cloud.auth.scoped()
    assert {"compute", "image", "network", "volumev3"} <= set(own.endpoints)
    if not target.real:
        demo = await cloud.auth.scoped(target.accounts["demo"]["project_id"])
        assert demo.project_id == target.accounts["demo"]["project_id"] != own.project_id
        assert demo.endpoints["volumev3"].endswith(demo.project_id)
        assert await cloud.auth.scoped(demo.project_id) is demo  # cached until shortly before expiry


async def test_nova_microversion_is_negotiated_once(target):
    cloud, view = await demo_view(target)
    version = await cloud.nova_version(view.scoped)
    major, minor = map(int, version.split("."))
    assert (2, 47) <= (major, minor) <= (2, 95)
    calls = cloud.transport.calls
    await cloud.view(view.project_id)
    assert cloud.transport.calls == calls
    assert view.nova.headers["OpenStack-API-Version"] == f"compute {version}"


async def test_multi_create_pages_and_lifecycle(target):
    cloud, view = await demo_view(target)
    images = await view.glance.list_images({"status": "active", "visibility": "public"})
    flavors = await view.nova.flavors()
    flavor = next(f for f in flavors if f["name"] in ("m1.tiny", "t2.micro"))
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    spec = {"name": "contract", "imageRef": images[0]["id"], "flavorRef": flavor["id"], "user_data": user_data,
            "networks": "auto"}
    created = await view.nova.create_servers(spec, min_count=3, max_count=5)
    reservation = created["reservation_id"]
    try:
        assert reservation.startswith("r-")
        # Real Nova pages unstably while servers move from build requests into a cell (items
        # repeat or go missing), so paging is checked once they have settled.
        servers = await wait_for(lambda: view.nova.list_servers({"reservation_id": reservation}),
                                 lambda items: len(items) == 5 and all(s["status"] == "ACTIVE" for s in items))
        assert sorted(s["name"] for s in servers) == [f"contract-{i}" for i in range(1, 6)]
        assert sorted(s["id"] for s in await view.nova.list_servers({"reservation_id": reservation}, limit=2)) == \
            sorted(s["id"] for s in servers)
        pages = [page async for page in view.nova.server_pages({"reservation_id": reservation}, limit=2)]
        assert all(1 <= len(p) <= 2 for p in pages) and len(pages) >= 3
        assert sorted(s["id"] for p in pages for s in p) == sorted(s["id"] for s in servers)
        first = servers[0]["id"]
        server = await wait_for(lambda: view.nova.get_server(first), lambda s: s["status"] == "ACTIVE")
        assert server["flavor"]["original_name"] == flavor["name"]
        assert server["addresses"]
        # Nova's ip filter: the text finds ports by substring in Neutron, then must match as a regex, so an
        # escaped or anchored address finds nothing and the address as it is finds the server
        address = next(a["addr"] for nets in server["addresses"].values() for a in nets if ":" not in a["addr"])
        assert first in {s["id"] for s in await view.nova.list_servers({"ip": address})}
        assert await view.nova.list_servers({"ip": "^" + address.replace(".", "\\.") + "$"}) == []
        await view.nova.stop(first)
        await wait_for(lambda: view.nova.get_server(first), lambda s: s["status"] == "SHUTOFF")
        with pytest.raises(BackendError) as caught:
            await view.nova.stop(first)
        assert caught.value.status == 409 and caught.value.ec2().code == "IncorrectState"
        await view.nova.start(first)
        await wait_for(lambda: view.nova.get_server(first), lambda s: s["status"] == "ACTIVE")
        assert isinstance(await view.nova.console_output(first), str)
        for s in servers:
            await view.nova.delete_server(s["id"])
        for s in servers:
            with pytest.raises(BackendNotFound):
                await wait_for(lambda sid=s["id"]: view.nova.get_server(sid), lambda _: False, timeout=30)
    finally:
        for leftover in await view.nova.list_servers({"reservation_id": reservation}):
            try:
                await view.nova.delete_server(leftover["id"])
            except BackendNotFound:
                pass


async def test_keypairs_zones_limits(target):
    _, view = await demo_view(target)
    name = f"contract-{int(time.time() * 1000)}"
    keypair = await view.nova.create_keypair(name, SSH_KEY)
    assert keypair["fingerprint"].count(":") == 15
    assert name in [k["name"] for k in await view.nova.keypairs()]
    with pytest.raises(BackendError) as caught:
        await view.nova.create_keypair(name, SSH_KEY)
    assert caught.value.status == 409
    await view.nova.delete_keypair(name)
    with pytest.raises(BackendNotFound):
        await view.nova.get_keypair(name)
    with pytest.raises(BackendError) as caught:  # Nova parses keys: a well-formed blob is not enough
        await view.nova.create_keypair(name, "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7" + "A" * 40 + " bad")
    assert caught.value.status == 400
    assert [z["zoneName"] for z in await view.nova.availability_zones()]
    assert "absolute" in await view.nova.limits()


async def test_glance_paging_members_and_patch(target):
    _, view = await demo_view(target)
    made = [await view.glance.create_image(name=f"contract-img-{i}", container_format="bare", disk_format="raw",
                                           visibility="shared") for i in range(3)]
    listed = await view.glance.list_images({"visibility": "shared"}, limit=1)
    assert {i["id"] for i in made} <= {i["id"] for i in listed}
    await view.glance.upload(made[0]["id"], b"0123456789")
    image = await view.glance.get_image(made[0]["id"])
    assert image["status"] == "active" and image["size"] == 10
    patched = await view.glance.update_image(made[1]["id"], [{"op": "add", "path": "/ec2_note", "value": "x"}])
    assert patched["ec2_note"] == "x"
    if not target.real:
        alt = target.accounts["alt"]["project_id"]
        await view.glance.add_member(made[2]["id"], alt)
        assert [m["member_id"] for m in await view.glance.members(made[2]["id"])] == [alt]
        await view.glance.remove_member(made[2]["id"], alt)
    for image in made:
        await view.glance.delete_image(image["id"])
    with pytest.raises(BackendNotFound):
        await view.glance.get_image(made[0]["id"])


async def test_neutron_collections_and_floating_ips(target):
    _, view = await demo_view(target)
    groups = await view.neutron.list("security_group", {"name": "default"})
    assert groups and all(g["name"] == "default" for g in groups)
    group = await view.neutron.create("security_group", {"name": f"contract-{time.time()}", "description": "d"})
    rule = await view.neutron.create("security_group_rule", {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    with pytest.raises(BackendError) as caught:
        await view.neutron.create("security_group_rule", {
            "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    assert caught.value.status == 409
    shown = await view.neutron.show("security_group", group["id"])
    assert rule["id"] in [r["id"] for r in shown["security_group_rules"]]
    rules = await view.neutron.list("security_group_rule", {"security_group_id": group["id"]}, limit=1)
    assert len(rules) == 3  # two default egress rules and ours, over three pages
    external = [n for n in await view.neutron.list("network", {"router:external": "true"})]
    fip = await view.neutron.create("floatingip", {"floating_network_id": external[0]["id"]})
    assert fip["status"] == "DOWN" and fip["floating_ip_address"]
    await view.neutron.remove("floatingip", fip["id"])
    await view.neutron.remove("security_group", group["id"])
    with pytest.raises(BackendNotFound):
        await view.neutron.show("security_group", group["id"])


async def test_neutron_port_addresses_dhcp_options_and_auto_allocation(target):
    """What the proxy's VPC networking relies on, as the lab's Neutron answers it: fixed IPs listed by their
    text (never in the order taken), a subnet-only entry keeping an address the port holds, 409 for an address
    another port holds, tags ignored in a create's body but added one by one, extra DHCP options merged (a null
    value removes one), at most five name servers on a subnet, and auto-allocation refused (409) where the cloud
    has no default external network."""
    _, view = await demo_view(target)
    neutron = view.neutron
    network = await neutron.create("network", {"name": f"contract-{time.time()}"})
    try:
        subnet = await neutron.create("subnet", {"network_id": network["id"], "cidr": "10.79.0.0/24",
                                                 "ip_version": 4})
        port = await neutron.create("port", {"network_id": network["id"], "tags": ["ignored"],
                                             "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.79.0.50"}],
                                             "extra_dhcp_opts": [{"opt_name": "domain-name",
                                                                  "opt_value": "a.example"}]})
        assert port["tags"] == []
        await neutron.add_tag("port", port["id"], "ec2-primary-ip:10.79.0.50")
        grown = await neutron.update("port", port["id"], {"fixed_ips": [
            {"subnet_id": subnet["id"], "ip_address": "10.79.0.50"},
            {"subnet_id": subnet["id"], "ip_address": "10.79.0.5"}, {"subnet_id": subnet["id"]}]})
        listed = [f["ip_address"] for f in grown["fixed_ips"]]
        assert len(listed) == 3 and listed == sorted(listed) and {"10.79.0.5", "10.79.0.50"} <= set(listed)
        kept = await neutron.update("port", port["id"], {"fixed_ips": [
            {"subnet_id": subnet["id"], "ip_address": "10.79.0.50"}, {"subnet_id": subnet["id"]},
            {"subnet_id": subnet["id"]}]})
        assert sorted(f["ip_address"] for f in kept["fixed_ips"]) == sorted(listed)  # nothing new taken
        with pytest.raises(BackendError) as caught:
            await neutron.create("port", {"network_id": network["id"],
                                          "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.79.0.5"}]})
        assert caught.value.status == 409
        options = await neutron.update("port", port["id"], {"extra_dhcp_opts": [
            {"opt_name": "ntp-server", "opt_value": "10.79.0.9", "ip_version": 4},
            {"opt_name": "domain-name", "opt_value": None, "ip_version": 4}]})
        assert [(o["opt_name"], o["opt_value"]) for o in options["extra_dhcp_opts"]] == [("ntp-server", "10.79.0.9")]
        shown = await neutron.show("port", port["id"])
        assert shown["tags"] == ["ec2-primary-ip:10.79.0.50"]
        with pytest.raises(BackendError) as caught:
            await neutron.update("subnet", subnet["id"], {"dns_nameservers": [f"10.79.0.{n}" for n in range(1, 7)]})
        assert caught.value.status == 400
        await neutron.update("subnet", subnet["id"], {"dns_nameservers": ["10.79.0.2"]})
        await neutron.remove("port", port["id"])
    finally:
        await neutron.remove("network", network["id"])
    if target.real:  # the lab has no default external network; the dev cloud's is made default by its tests
        with pytest.raises(BackendError) as caught:
            await neutron.auto_allocated_topology(view.project_id)
        assert caught.value.status == 409


async def test_cinder_volumes_and_snapshots(target):
    _, view = await demo_view(target)
    vol = await view.cinder.create_volume(size=1, name="contract-vol")
    vol = await wait_for(lambda: view.cinder.get_volume(vol["id"]), lambda v: v["status"] == "available")
    snap = await view.cinder.create_snapshot(vol["id"], name="contract-snap")
    await wait_for(lambda: view.cinder.get_snapshot(snap["id"]), lambda s: s["status"] == "available")
    with pytest.raises(BackendError) as caught:
        await view.cinder.delete_volume(vol["id"])  # it has a snapshot
    assert caught.value.status == 400
    await view.cinder.delete_snapshot(snap["id"])
    await wait_for(lambda: view.cinder.list_snapshots(), lambda items: snap["id"] not in [s["id"] for s in items])
    await view.cinder.extend_volume(vol["id"], 2)
    await wait_for(lambda: view.cinder.get_volume(vol["id"]), lambda v: v["size"] == 2 and v["status"] == "available")
    await view.cinder.delete_volume(vol["id"])
    await wait_for(lambda: view.cinder.list_volumes(), lambda items: vol["id"] not in [v["id"] for v in items])


async def test_ec2_credentials_and_ec2tokens(target):
    dev_only(target)
    demo = target.cloud("demo")
    view = await demo.view()
    credential = await view.keystone.create_ec2_credential(view.scoped.user_id, view.project_id)
    assert credential["access"] in [c["access"] for c in await view.keystone.list_ec2_credentials(view.scoped.user_id)]
    # The proxy's service user validates a signature made with that credential.
    import datetime

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from multidict import CIMultiDict

    from ec2proxy.auth.credentials import keystone_blob
    from ec2proxy.auth.signatures import HttpRequest, read_signature

    request = AWSRequest(method="POST", url="http://127.0.0.1:8788/", data=b"Action=DescribeRegions&Version=2016-11-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(credential["access"], credential["secret"]), "ec2", "RegionOne").add_auth(request)
    prepared = request.prepare()
    headers = CIMultiDict(prepared.headers)
    headers["Host"] = "127.0.0.1:8788"
    http = HttpRequest("POST", "127.0.0.1:8788", "/", "", headers, prepared.body,
                       [("Action", "DescribeRegions"), ("Version", "2016-11-15")])
    signature = read_signature(http, datetime.datetime.now(datetime.timezone.utc), 900, frozenset({"RegionOne"}))
    service = await target.cloud().view()
    token, body = await service.keystone.ec2tokens(keystone_blob(signature))
    assert token and body["user"]["id"] == view.scoped.user_id and body["project"]["id"] == view.project_id
    signature.signature = "0" * 64
    with pytest.raises(BackendError) as caught:
        await service.keystone.ec2tokens(keystone_blob(signature))
    assert caught.value.status == 401
    await view.keystone.delete_ec2_credential(view.scoped.user_id, credential["access"])


@pytest.mark.parametrize(
    "fault, expected",
    [
        ({"kind": "status", "status": 500}, "InternalError"),
        ({"kind": "status", "status": 503}, "Unavailable"),
        ({"kind": "status", "status": 413}, "RequestLimitExceeded"),
        ({"kind": "status", "status": 429}, "RequestLimitExceeded"),
        ({"kind": "status", "status": 409}, "IncorrectState"),
        ({"kind": "status", "status": 403}, "UnauthorizedOperation"),
        ({"kind": "hang", "seconds": 3}, "Unavailable"),
        # aiohttp itself re-sends an idempotent request once when a kept-alive connection drops.
        ({"kind": "drop", "remaining": 2}, "Unavailable"),
    ],
)
async def test_every_fault_kind_maps_to_the_right_ec2_error(target, fault, expected):
    dev_only(target)
    cloud = target.cloud(retries=0, timeout=1.0)
    view = await cloud.view(target.accounts["demo"]["project_id"])
    target.state.faults.append({"service": "compute", "method": None, "path": "os-availability-zone",
                                "remaining": 1, "seconds": 5, "status": 500, **fault})
    with pytest.raises(BackendError) as caught:
        await view.nova.availability_zones()
    assert caught.value.ec2().code == expected
    assert isinstance(caught.value.ec2(), errors.EC2Error)
    assert await view.nova.availability_zones()  # the fault was used up: the next call works


async def test_reads_are_retried_but_writes_never(target):
    dev_only(target)
    cloud = target.cloud(retries=2, timeout=2.0)
    view = await cloud.view(target.accounts["demo"]["project_id"])
    target.state.faults.append({"service": "compute", "method": "GET", "path": "os-keypairs", "remaining": 2,
                                "kind": "status", "status": 503, "seconds": 0})
    calls = cloud.transport.calls
    assert await view.nova.keypairs() == []
    assert cloud.transport.calls - calls == 3  # two failures absorbed, third answered
    target.state.faults.append({"service": "compute", "method": "POST", "path": "os-keypairs", "remaining": 1,
                                "kind": "drop", "status": 0, "seconds": 0})
    calls = cloud.transport.calls
    with pytest.raises(BackendUnavailable):
        await view.nova.create_keypair("never-twice", SSH_KEY)
    assert cloud.transport.calls - calls == 1
    assert await view.nova.keypairs() == []  # the dropped create never reached Nova


async def test_project_isolation_in_the_dev_cloud(target):
    dev_only(target)
    demo = await target.cloud().view(target.accounts["demo"]["project_id"])
    alt = await target.cloud().view(target.accounts["alt"]["project_id"])
    images = await demo.glance.list_images()
    created = await demo.nova.create_servers({"name": "mine", "imageRef": images[0]["id"], "flavorRef": "1",
                                               "networks": "auto"})
    mine = await demo.nova.list_servers({"reservation_id": created["reservation_id"]})
    assert len(mine) == 1
    assert await alt.nova.list_servers({"reservation_id": created["reservation_id"]}) == []
    with pytest.raises(BackendNotFound):
        await alt.nova.get_server(mine[0]["id"])
    with pytest.raises(BackendNotFound):
        await alt.nova.delete_server(mine[0]["id"])


async def test_paging_yields_each_item_once_when_the_cloud_repeats_itself(aiohttp_server):
    """Real Nova repeats servers across pages while they leave build requests for a cell."""
    import aiohttp
    from aiohttp import web

    from ec2proxy.cloud.http import ServiceClient, Transport

    pages = {None: ["a", "b"], "b": ["c", "a"], "a": ["d"]}

    async def servers(request):
        ids = pages[request.query.get("marker")]
        return web.json_response({"servers": [{"id": i} for i in ids],
                                  "servers_links": [{"rel": "next", "href": "x"}] if len(ids) == 2 else []})

    app = web.Application()
    app.router.add_get("/servers/detail", servers)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        client = ServiceClient(Transport(session), str(server.make_url("/")), "token")
        got = [page async for page in client.pages("servers/detail", "servers", limit=2)]
    assert got == [[{"id": "a"}, {"id": "b"}], [{"id": "c"}], [{"id": "d"}]]


async def test_snapshot_goes_queued_saving_active_or_killed(target):
    dev_only(target)
    cloud = target.cloud()
    view = await cloud.view(target.accounts["demo"]["project_id"])
    images = await view.glance.list_images()
    created = await view.nova.create_servers({"name": "snap", "imageRef": images[0]["id"], "flavorRef": "1",
                                               "networks": "auto"})
    server = (await view.nova.list_servers({"reservation_id": created["reservation_id"]}))[0]
    await wait_for(lambda: view.nova.get_server(server["id"]), lambda s: s["status"] == "ACTIVE")
    seen = set()

    async def status(image_id):
        image = await view.glance.get_image(image_id)
        seen.add(image["status"])
        return image

    image_id = await view.nova.create_image(server["id"], "snap-image")
    image = await wait_for(lambda: status(image_id), lambda i: i["status"] == "active")
    assert {"queued", "saving", "active"} <= seen
    assert image["image_type"] == "snapshot" and image["instance_uuid"] == server["id"]
    target.state.fail_snapshots = 1
    broken = await view.nova.create_image(server["id"], "snap-broken")
    assert (await wait_for(lambda: status(broken), lambda i: i["status"] in ("active", "killed")))["status"] == "killed"


async def test_server_groups_and_their_policies_on_one_host(target):
    """Placement groups stand on these (ec2proxy.state.placement_groups): the group, its policy field, the
    scheduler hint, and what Nova's scheduler does with an anti-affinity group on a cloud of one compute host
    (the lab's, the dev cloud's): the first member runs, a later create fails every server of it (ERROR, "No
    valid host"), the failed ones still members until deleted; an unknown group is refused at the create."""
    cloud, view = await demo_view(target)
    images = await view.glance.list_images({"status": "active", "visibility": "public"})
    flavor = next(f for f in await view.nova.flavors() if f["name"] in ("m1.tiny", "t2.micro"))
    spec = {"imageRef": images[0]["id"], "flavorRef": flavor["id"], "networks": "auto"}
    apart = await view.nova.create_server_group(f"contract-apart-{time.time()}", "anti-affinity")
    together = await view.nova.create_server_group(f"contract-together-{time.time()}", "affinity")
    made: list[str] = []
    try:
        assert apart["policy"] == "anti-affinity" and apart["members"] == [] and together["policy"] == "affinity"
        with pytest.raises(BackendError) as caught:
            await view.nova.create_servers({**spec, "name": "contract-nogroup"}, hints={
                "group": "00000000-0000-0000-0000-000000000000"})
        assert caught.value.status == 400 and "could not be found" in caught.value.message
        first = await view.nova.create_servers({**spec, "name": "contract-apart"}, hints={"group": apart["id"]})
        (server,) = await wait_for(lambda: view.nova.list_servers({"reservation_id": first["reservation_id"]}),
                                   lambda items: len(items) == 1 and items[0]["status"] in ("ACTIVE", "ERROR"))
        made.append(server["id"])
        assert server["status"] == "ACTIVE"
        shown = await view.nova.get_server(server["id"])
        assert shown["server_groups"] == [apart["id"]]  # microversion 2.71: in the show, not the listings
        assert "server_groups" not in server
        more = await view.nova.create_servers({**spec, "name": "contract-apart-more"}, 2, 2,
                                              hints={"group": apart["id"]})
        failed = await wait_for(lambda: view.nova.list_servers({"reservation_id": more["reservation_id"]}),
                                lambda items: len(items) == 2 and all(s["status"] != "BUILD" for s in items))
        made += [s["id"] for s in failed]
        assert {s["status"] for s in failed} == {"ERROR"}
        assert all("No valid host" in s["fault"]["message"] for s in failed)
        assert sorted((await view.nova.server_group(apart["id"]))["members"]) == sorted(made)
        packed = await view.nova.create_servers({**spec, "name": "contract-together"}, 2, 2,
                                                hints={"group": together["id"]})
        running = await wait_for(lambda: view.nova.list_servers({"reservation_id": packed["reservation_id"]}),
                                 lambda items: len(items) == 2 and all(s["status"] != "BUILD" for s in items))
        made += [s["id"] for s in running]
        assert {s["status"] for s in running} == {"ACTIVE"}
    finally:
        for server_id in made:
            await view.nova.delete_server(server_id)
        for server_id in made:
            with pytest.raises(BackendNotFound):
                await wait_for(lambda sid=server_id: view.nova.get_server(sid), lambda _: False, timeout=60)
        assert (await view.nova.server_group(apart["id"]))["members"] == []
        for group in (apart, together):
            await view.nova.delete_server_group(group["id"])
    with pytest.raises(BackendNotFound):
        await view.nova.server_group(apart["id"])
