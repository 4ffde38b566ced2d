"""The dev cloud as other tools and the proxy see it: a separate ``ec2proxy devcloud`` process."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.devclouds import server_for


def test_openstacksdk_lists_and_boots_against_the_dev_cloud(devcloud):
    """The dev cloud speaks the real APIs: openstacksdk needs no adaptation."""
    conn = devcloud.sdk()
    assert {"m1.tiny", "t2.micro", "m5.large"} <= {f.name for f in conn.compute.flavors()}
    images = list(conn.image.images())
    assert [i.name for i in images] == ["cirros-0.6.2-x86_64-disk"]
    assert {n.name for n in conn.network.networks()} == {"public", "private"}
    server = conn.compute.create_server(name="sdk", image_id=images[0].id, flavor_id="1", networks="auto")
    server = conn.compute.wait_for_server(server, wait=30, interval=0.2)
    assert server.status == "ACTIVE" and server.addresses["private"][0]["addr"].startswith("10.0.")
    assert [s.name for s in conn.compute.servers()] == ["sdk"]
    assert [s.name for s in devcloud.sdk("devcloud-alt").compute.servers()] == []
    volume = conn.block_storage.create_volume(size=1, name="sdk-vol")
    assert conn.block_storage.wait_for_status(volume, "available", wait=20, interval=0.2).status == "available"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.2)


def test_dev_cloud_state_survives_a_restart(devcloud):
    conn = devcloud.sdk()
    image = next(conn.image.images())
    server = conn.compute.wait_for_server(conn.compute.create_server(name="keep", image_id=image.id, flavor_id="1",
                                                                     networks="auto"),
                                          wait=30, interval=0.2)
    conn.compute.create_keypair(name="kept", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" + "a" * 42)
    devcloud.stop()
    devcloud.start()
    conn = devcloud.sdk()
    again = conn.compute.get_server(server.id)
    assert (again.name, again.status) == ("keep", "ACTIVE")
    assert again.addresses == server.addresses
    assert [k.name for k in conn.compute.keypairs()] == ["kept"]




def test_keystone_credential_source_validates_through_keystone(devcloud, tmp_path):
    demo = devcloud.accounts["demo"]
    import asyncio

    import aiohttp

    from ec2proxy.cloud import Cloud
    from ec2proxy.cloud.auth import Authenticator

    async def make() -> dict:
        async with aiohttp.ClientSession() as session:
            cloud = Cloud(session, Authenticator({
                "auth_url": f"{devcloud.url}/identity/v3", "auth_type": "password", "username": "demo",
                "password": demo["password"], "project_name": "demo", "user_domain_name": "Default",
                "project_domain_name": "Default"}))
            view = await cloud.view()
            return await view.keystone.create_ec2_credential(view.scoped.user_id, view.project_id)

    credential = asyncio.run(make())
    # The proxy's own user has only the 'service' role: Keystone validates every request.
    server = server_for(devcloud, tmp_path, auth={"credential_source": "keystone"})
    try:
        ec2 = server.client(credential["access"], credential["secret"])
        zones = ec2.describe_availability_zones()["AvailabilityZones"]
        assert sorted(z["ZoneName"] for z in zones) == ["az-2", "nova"]
        assert ec2.describe_regions()["Regions"]
        with pytest.raises(ClientError) as caught:
            server.client(credential["access"], credential["secret"] + "x").describe_regions()
        assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        with pytest.raises(ClientError) as caught:
            server.client("0" * 32, "nope").describe_regions()
        assert caught.value.response["Error"]["Code"] == "AuthFailure"
        assert "every request is validated by Keystone" in server.log.read_text()
        # A presigned URL, checked by Keystone's own (botocore-computed) signature, not the proxy's verifier.
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        presigned = AWSRequest(method="GET", url=f"{server.endpoint}/?Action=DescribeRegions&Version=2016-11-15")
        SigV4QueryAuth(Credentials(credential["access"], credential["secret"]), "ec2", "RegionOne").add_auth(
            presigned)
        with urllib.request.urlopen(presigned.prepare().url) as answer:
            assert b"RegionOne" in answer.read()
        boto2 = pytest.importorskip("boto.ec2.connection")
        from boto.ec2.regioninfo import RegionInfo

        class SigV2(boto2.EC2Connection):
            def _required_auth_capability(self):
                return ["sign-v2"]

        connection = SigV2(credential["access"], credential["secret"], is_secure=False, port=server.port, path="/",
                           region=RegionInfo(name="RegionOne", endpoint="127.0.0.1"))
        assert [r.name for r in connection.get_all_regions()] == ["RegionOne"]
    finally:
        server.stop()


def test_backend_faults_reach_the_client_as_ec2_errors(devcloud, tmp_path):
    admin = devcloud.accounts["admin"]
    server = server_for(devcloud, tmp_path)
    try:
        demo = devcloud.accounts["demo"]
        created = json.loads(server.ec2proxy("credentials", "create", "--project", demo["project_id"],
                                             "--user", devcloud.accounts["demo"]["user_id"]).stdout)
        ec2 = server.client(created["access_key"], created["secret"])
        conn = devcloud.sdk("devcloud-admin")
        token = conn.session.get_token()
        request = urllib.request.Request(
            f"{devcloud.url}/_devcloud/faults", method="POST",
            data=json.dumps({"service": "compute", "path": "os-availability-zone", "count": 1, "kind": "status",
                             "status": 503}).encode(),
            headers={"X-Auth-Token": token, "Content-Type": "application/json"})
        urllib.request.urlopen(request).close()
        with pytest.raises(ClientError) as caught:
            ec2.describe_availability_zones()
        assert caught.value.response["Error"]["Code"] == "Unavailable"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert ec2.describe_availability_zones()["AvailabilityZones"]
        assert admin["username"] == "admin"
    finally:
        server.stop()


def test_keystone_credential_source_verifies_locally_when_it_may_read_secrets(devcloud, tmp_path):
    """A proxy user allowed to read EC2 credentials (here the dev cloud's admin) caches secrets."""
    demo = devcloud.accounts["demo"]
    access = demo["ec2_access"]  # seeded in the dev cloud's Keystone
    import sqlite3

    store = sqlite3.connect(devcloud.data_dir / "devcloud" / "devcloud.sqlite")
    secret = json.loads(store.execute("SELECT data FROM objects WHERE kind = 'ec2_credential' AND id = ?",
                                      (access,)).fetchone()[0])["secret"]
    store.close()
    server = server_for(devcloud, tmp_path, user="admin", auth={"credential_source": "keystone"})
    try:
        ec2 = server.client(access, secret)
        assert ec2.describe_regions()["Regions"]
        assert sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]) == ["az-2", "nova"]
        with pytest.raises(ClientError) as caught:
            server.client(access, secret + "x").describe_regions()
        assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert "every request is validated by Keystone" not in server.log.read_text()
    finally:
        server.stop()
