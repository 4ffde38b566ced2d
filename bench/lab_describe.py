"""Describing one object by id on the real lab, against the backend's own GET of it (issue 18.3).

Run inside the lab: ``bash ../shared/openstack-lab/run-with-lab.sh python -m bench.lab_describe``. The proxy
runs as a deployment would (Keystone credentials, its user a reader on the system so signatures are checked
locally); each round times the proxy's Describe* of one id and the backend's GET of the same object,
alternately, with a signed request read whole (no client parsing) against a keystoneauth GET.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time
import urllib.parse

from bench.instances import _timed_post
from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import _demo_credential, _system_reader, lab_server

WAIT = {"Delay": 1, "MaxAttempts": 120}


def _backend_get(session, url: str) -> float:
    started = time.perf_counter()
    assert session.get(url, raise_exc=True).content  # the whole body read, as the proxy's answer is
    return time.perf_counter() - started


def demo_session():
    """A keystoneauth session of the lab's demo user: the backend as its own client sees it."""
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    return ks_session.Session(auth=v3.Password(
        auth_url=os.environ["LAB_KEYSTONE_URL"], username=os.environ["LAB_DEMO_USER"],
        password=os.environ["LAB_DEMO_PASSWORD"], project_name=os.environ["LAB_DEMO_PROJECT"],
        user_domain_name="Default", project_domain_name="Default"))


def run(rounds: int) -> list[tuple[str, str, float, float, float]]:
    credential = _demo_credential()
    backend = demo_session()
    endpoint = {kind: backend.get_endpoint(service_type=kind, interface="public")
                for kind in ("compute", "volumev3", "image", "network")}
    _system_reader(True)
    tmp = pathlib.Path(tempfile.mkdtemp())
    server = lab_server(tmp, "LAB_EC2_SERVICE")
    try:
        keys = (credential["access"], credential["secret"])
        ec2 = server.client(*keys)
        ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
        (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                        InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))["Instances"]
        ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
        volume = ec2.create_volume(Size=1, AvailabilityZone=os.environ.get("LAB_AVAILABILITY_ZONE", "nova"))
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume["VolumeId"]], WaiterConfig=WAIT)
        group = ec2.create_security_group(GroupName=f"bench-{int(time.time())}", Description="bench")["GroupId"]

        def item_url(collection: str, key: str, prefix: str, ec2_id: str) -> str:
            """The backend URL of the object behind ``ec2_id`` (found once, by listing, before timing)."""
            found = backend.get(collection).json()[key]
            return f"{collection}/{next(o['id'] for o in found if ids.from_uuid(prefix, o['id']) == ec2_id)}"

        cases = [
            ("DescribeInstances", f"InstanceId.1={instance['InstanceId']}",
             item_url(f"{endpoint['compute']}/servers", "servers", "i", instance["InstanceId"])),
            ("DescribeVolumes", f"VolumeId.1={volume['VolumeId']}",
             item_url(f"{endpoint['volumev3']}/volumes", "volumes", "vol", volume["VolumeId"])),
            ("DescribeImages", f"ImageId.1={ami}", f"{endpoint['image']}/v2/images/{os.environ['LAB_IMAGE_ID']}"),
            ("DescribeSecurityGroups", f"GroupId.1={group}",
             item_url(f"{endpoint['network']}/v2.0/security-groups", "security_groups", "sg", group)),
        ]
        rows = []
        for action, query, url in cases:
            body = f"Action={action}&Version=2016-11-15&{query}".encode()
            proxy, own = [], []
            for _ in range(3):  # warm: tokens, caches, connections
                _timed_post(server.endpoint, keys, body)
                _backend_get(backend, url)
            for done in range(rounds):  # which goes first alternates: neither always follows the other
                if done % 2:
                    own.append(_backend_get(backend, url) * 1000)
                proxy.append(_timed_post(server.endpoint, keys, body)[0] * 1000)
                if not done % 2:
                    own.append(_backend_get(backend, url) * 1000)
            rows.append((action, urllib.parse.urlsplit(url).path.split("/")[-2], statistics.median(proxy),
                         statistics.median(own), statistics.median(p / o for p, o in zip(proxy, own, strict=True))))
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
        ec2.delete_security_group(GroupId=group)
        ec2.delete_volume(VolumeId=volume["VolumeId"])
        return rows
    finally:
        server.stop()
        _system_reader(False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lab_describe", description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)
    if not os.environ.get("LAB_KEYSTONE_URL"):
        print("no lab: run through ../shared/openstack-lab/run-with-lab.sh", file=sys.stderr)
        return 2
    print(f"| one object by id, {args.rounds} alternate rounds | proxy (ms) | backend GET (ms) | ratio of medians "
          "| median of each round's ratio |")
    print("|---|---|---|---|---|")
    for action, what, proxy, own, paired in run(args.rounds):
        print(f"| {action} vs GET {what}/ID | {proxy:.1f} | {own:.1f} | {proxy / own:.2f}x | {paired:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
