"""``[metadata] ip_lookup``: without proxy headers, the caller's source address names the instance.

The instance's fixed IP is put on the loopback interface so a request can come
from it, as it would from the instance behind Neutron; that needs root (or
CAP_NET_ADMIN), and the test says so when it is missing.
"""

from __future__ import annotations

import http.client
import json
import subprocess

import pytest

from ec2proxy.ec2 import ids
from tests.devclouds import server_for

ADDRESS = "10.0.0.250"


@pytest.fixture
def address_on_loopback():
    added = subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], capture_output=True, text=True)
    if added.returncode != 0:
        pytest.skip(f"cannot put {ADDRESS} on the loopback interface (needs root): {added.stderr.strip()}")
    yield ADDRESS
    subprocess.run(["ip", "addr", "del", f"{ADDRESS}/32", "dev", "lo"], capture_output=True)


def get_from(source: str, port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_the_callers_address_identifies_the_instance(devcloud, tmp_path, address_on_loopback):
    # The proxy's service user must see every project's ports: the dev cloud's admin here.
    server = server_for(devcloud, tmp_path, user="admin", metadata={"ip_lookup": "true"})
    try:
        demo = devcloud.accounts["demo"]
        created = json.loads(server.ec2proxy("credentials", "create", "--project", demo["project_id"],
                                             "--user", demo["user_id"]).stdout)
        ec2 = server.client(created["access_key"], created["secret"])
        sdk = devcloud.sdk("devcloud-demo")
        subnet = next(s for s in sdk.network.subnets() if s.cidr.startswith("10.0."))
        (instance,) = ec2.run_instances(ImageId=ids.from_uuid("ami", devcloud.accounts["image_id"]), MinCount=1,
                                        MaxCount=1, SubnetId=ids.from_uuid("subnet", subnet.id),
                                        PrivateIpAddress=ADDRESS)["Instances"]
        assert instance["PrivateIpAddress"] == ADDRESS
        ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]],
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        assert get_from(ADDRESS, server.metadata_port, "/latest/meta-data/instance-id") == \
            (200, instance["InstanceId"].encode())
        assert get_from(ADDRESS, server.metadata_port, "/latest/meta-data/local-ipv4") == (200, ADDRESS.encode())
        assert get_from("127.0.0.1", server.metadata_port, "/latest/meta-data/instance-id")[0] == 404  # no port
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    finally:
        server.stop()


def test_without_ip_lookup_headers_are_required(proxy):
    assert get_from("127.0.0.1", proxy.metadata_port, "/latest/meta-data/instance-id")[0] == 400
