"""The metadata service fed by the lab's real Nova and Neutron, next to Nova's own metadata API.

Both are called with the Neutron metadata proxy's signed headers for the same
server; where both serve a path with the same meaning they must agree.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ec2proxy.cloud import BackendNotFound
from ec2proxy.ec2 import ids
from metadata import callers
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, lab_server, wait_running

pytestmark = pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh")
WAIT = {"Delay": 1, "MaxAttempts": 90}
USER_DATA = b"#!/bin/sh\necho lab metadata\n"
# Paths both serve with the same meaning. Ids (instance-id, ami-id, reservation-id) and hostnames differ by
# design: ours are the EC2 API's ids and EC2-style names, Nova's are its own.
SAME = ("local-ipv4", "placement/availability-zone", "ami-launch-index", "instance-type", "security-groups")


def _demo_keypair(name: str) -> str:
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()

    async def replace(view) -> None:
        try:
            await view.nova.delete_keypair(name)
        except BackendNotFound:
            pass  # not there yet
        await view.nova.create_keypair(name, public)

    as_demo(replace)
    return public


@pytest.fixture(scope="module")
def lab_metadata(tmp_path_factory):
    """A proxy whose service user may read every project's servers (the lab's admin), metadata on."""
    server = lab_server(tmp_path_factory.mktemp("lab-metadata"), "LAB_ADMIN",
                        "[metadata]", f"shared_secret = {os.environ['LAB_METADATA_SECRET']}")
    credential = _demo_credential()
    yield server, server.client(credential["access"], credential["secret"])
    server.stop()


def _get(url: str, headers: dict) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_metadata_agrees_with_novas_own(lab_metadata):
    server, ec2 = lab_metadata
    public_key = _demo_keypair("ec2proxy-lab-md")
    reservation = ec2.run_instances(ImageId=ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"]), MinCount=1,
                                    MaxCount=1, InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"),
                                    KeyName="ec2proxy-lab-md", UserData=USER_DATA)
    iid = reservation["Instances"][0]["InstanceId"]
    try:
        wait_running(ec2, [iid])
        instance = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        shown = json.loads(server.ec2proxy("instances", "show", iid, "--json").stdout)
        headers = {"X-Instance-ID": shown["os_id"], "X-Tenant-ID": shown["project_id"],
                   "X-Forwarded-For": instance["PrivateIpAddress"],
                   "X-Instance-ID-Signature": callers.sign(os.environ["LAB_METADATA_SECRET"].encode(), shown["os_id"])}
        nova = os.environ["LAB_METADATA_URL"].rstrip("/")
        ours = server.metadata
        assert _get(f"{ours}/latest/meta-data/instance-id", headers) == (200, iid.encode())
        differences = {}
        for path in SAME:
            theirs, mine = _get(f"{nova}/latest/meta-data/{path}", headers), _get(f"{ours}/latest/meta-data/{path}",
                                                                                   headers)
            assert theirs[0] == 200, (path, theirs)
            if theirs != mine:
                differences[path] = (theirs, mine)
        assert not differences
        nova_key = _get(f"{nova}/latest/meta-data/public-keys/0/openssh-key", headers)
        our_key = _get(f"{ours}/latest/meta-data/public-keys/0/openssh-key", headers)
        assert nova_key[1].strip() == our_key[1].strip() == public_key.encode()
        assert _get(f"{nova}/latest/user-data", headers) == _get(f"{ours}/latest/user-data", headers) == \
            (200, USER_DATA)
        forged = {**headers, "X-Instance-ID-Signature": "0" * 64}
        assert _get(f"{nova}/latest/meta-data/instance-id", forged)[0] == 403
        assert _get(f"{ours}/latest/meta-data/instance-id", forged)[0] == 403
        document = json.loads(_get(f"{ours}/latest/dynamic/instance-identity/document", headers)[1])
        assert document["instanceId"] == iid and document["privateIp"] == instance["PrivateIpAddress"]
        assert base64.b64decode(_get(f"{ours}/latest/dynamic/instance-identity/signature", headers)[1])
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
