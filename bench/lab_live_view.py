"""Describe* from the live view on the real lab, against Nova's and Neutron's own GET and listing (issue 29).

Run inside the lab with its notifications on:
``LAB_NOTIFICATIONS=1 bash ../shared/openstack-lab/run-with-lab.sh python -m bench.lab_live_view``. The proxy
runs as a deployment would (Keystone credentials, its feed on the lab's RabbitMQ); each round times the proxy's
answer and Nova's, alternately, each a request read whole. The proxy's /metrics say which answers came from the
view (all timed ones must). The lag is Nova's notification's timestamp to the moment the view held it, read from
the view's rows while servers are stopped and started in Nova directly.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import pathlib
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request

from bench.instances import _timed_post
from bench.lab_describe import _backend_get, demo_session
from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import _demo_credential, _system_reader, lab_server
from tests.realcloud.test_lab_live_view import _queue_deleted

WAIT = {"Delay": 1, "MaxAttempts": 600}
QUEUE = "ec2proxy-live-view-bench"


def _metric(server, name: str) -> float:
    with urllib.request.urlopen(f"{server.admin}/metrics") as response:
        match = re.search(rf"^{re.escape(name)} (\S+)$", response.read().decode(), re.M)
    return float(match.group(1)) if match else 0.0


def _viewed(server) -> float:
    return _metric(server, 'ec2proxy_live_view_reads{outcome="view"}')


def _until_viewed(server, keys, body: bytes) -> None:
    for _ in range(600):
        before = _viewed(server)
        _timed_post(server.endpoint, keys, body)
        if _viewed(server) > before:
            return
        time.sleep(0.1)
    raise RuntimeError("the view never answered")


def _alternate(server, keys, body: bytes, backend, url: str, rounds: int) -> tuple[float, float, float]:
    """Medians of the proxy's and Nova's times (ms), and the median of each round's ratio; every timed answer
    of the proxy from the view."""
    _until_viewed(server, keys, body)
    for _ in range(3):
        _timed_post(server.endpoint, keys, body)
        _backend_get(backend, url)
    viewed = _viewed(server)
    proxy, own = [], []
    for done in range(rounds):
        if done % 2:
            own.append(_backend_get(backend, url) * 1000)
        proxy.append(_timed_post(server.endpoint, keys, body)[0] * 1000)
        if not done % 2:
            own.append(_backend_get(backend, url) * 1000)
    if _viewed(server) - viewed < rounds:
        with urllib.request.urlopen(f"{server.admin}/metrics") as response:
            told = [line for line in response.read().decode().splitlines() if "live_view" in line]
        raise AssertionError(f"an answer was not the view's: {told}")
    return statistics.median(proxy), statistics.median(own), statistics.median(
        p / o for p, o in zip(proxy, own, strict=True))


def _row(what: str, timed: tuple[float, float, float]) -> None:
    proxy, own, paired = timed
    print(f"| {what} | {proxy:.1f} | {own:.1f} | {proxy / own:.2f}x | {paired:.2f}x |", flush=True)


def _launch(ec2, ami: str, count: int) -> list[str]:
    made = [i["InstanceId"] for i in ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count,
                                                       InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))[
        "Instances"]]
    for chunk in range(0, len(made), 100):
        ec2.get_waiter("instance_running").wait(InstanceIds=made[chunk:chunk + 100], WaiterConfig=WAIT)
    return made


def _lags(server, backend, compute: str, os_id: str, events: int) -> list[float]:
    """Seconds from each of Nova's notifications of the server (its timestamp) to the view holding it, while
    the server is stopped and started in Nova directly."""
    database = sqlite3.connect(server.data_dir / "ec2proxy.sqlite")
    seen: dict[str, float] = {}
    action = "os-stop"
    while len(seen) < events:
        backend.post(f"{compute}/servers/{os_id}/action", json={action: None}, raise_exc=True)
        wanted = "stopped" if action == "os-stop" else "active"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = database.execute("SELECT order_key, applied_at, data FROM view_objects WHERE kind = 'server' "
                                   "AND os_id = ?", (os_id,)).fetchone()
            if row and row[0] not in seen:
                stamp = datetime.datetime.fromisoformat(row[0].split("|", 1)[1]).replace(tzinfo=datetime.UTC)
                applied = datetime.datetime.fromisoformat(row[1]).replace(tzinfo=datetime.UTC)
                seen[row[0]] = (applied - stamp).total_seconds()
            shown = json.loads(row[2]) if row else {}
            if shown.get("OS-EXT-STS:vm_state") == wanted and shown.get("OS-EXT-STS:task_state") is None:
                break
            time.sleep(0.002)
        action = "os-start" if action == "os-stop" else "os-stop"
    database.close()
    return list(seen.values())


def run(rounds: int, counts: list[int], events: int) -> None:
    credential = _demo_credential()
    backend = demo_session()
    compute = backend.get_endpoint(service_type="compute", interface="public")
    _system_reader(True)
    server = lab_server(pathlib.Path(tempfile.mkdtemp()), "LAB_EC2_SERVICE", "[notifications]",
                        f"transport_url = {os.environ['LAB_TRANSPORT_URL']}", f"queue = {QUEUE}")
    made: list[str] = []
    allocations: list[str] = []
    groups: list[str] = []
    try:
        keys = (credential["access"], credential["secret"])
        ec2 = server.client(*keys)
        deadline = time.monotonic() + 60
        while _metric(server, "ec2proxy_live_view_connected") != 1.0:
            assert time.monotonic() < deadline, "the feed never connected"
            time.sleep(0.2)
        ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
        made += _launch(ec2, ami, 1)
        os_id = next(s["id"] for s in backend.get(f"{compute}/servers").json()["servers"]
                     if ids.from_uuid("i", s["id"]) == made[0])
        print(f"| {rounds} alternate rounds | proxy (ms) | the service (ms) | ratio of medians | median of each "
              "round's ratio |")
        print("|---|---|---|---|---|")
        one = f"Action=DescribeInstances&Version=2016-11-15&InstanceId.1={made[0]}".encode()
        _row("DescribeInstances of one id vs GET /servers/ID",
             _alternate(server, keys, one, backend, f"{compute}/servers/{os_id}", rounds))
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        allocations.append(allocation)
        ec2.associate_address(InstanceId=made[0], AllocationId=allocation)
        network = backend.get_endpoint(service_type="network", interface="public").rstrip("/")
        network = network if network.endswith("/v2.0") else f"{network}/v2.0"
        fip = next(f["id"] for f in backend.get(f"{network}/floatingips").json()["floatingips"]
                   if ids.from_uuid("eipalloc", f["id"]) == allocation)
        one = f"Action=DescribeAddresses&Version=2016-11-15&AllocationId.1={allocation}".encode()
        _row("DescribeAddresses of one id vs GET /v2.0/floatingips/ID",
             _alternate(server, keys, one, backend, f"{network}/floatingips/{fip}", rounds))
        group = ec2.create_security_group(GroupName=f"bench-live-{os.getpid()}", Description="bench")["GroupId"]
        groups.append(group)
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        os_group = next(g["id"] for g in backend.get(f"{network}/security-groups").json()["security_groups"]
                        if ids.from_uuid("sg", g["id"]) == group)
        one = f"Action=DescribeSecurityGroups&Version=2016-11-15&GroupId.1={group}".encode()
        _row("DescribeSecurityGroups of one id vs GET /v2.0/security-groups/ID",
             _alternate(server, keys, one, backend, f"{network}/security-groups/{os_group}", rounds))
        lags = sorted(_lags(server, backend, compute, os_id, events))
        for count in counts:
            if count > len(made):
                made += _launch(ec2, ami, count - len(made))
            listed = len(backend.get(f"{compute}/servers").json()["servers"])
            every = b"Action=DescribeInstances&Version=2016-11-15"
            proxy, own, paired = _alternate(server, keys, every, backend, f"{compute}/servers/detail", rounds)
            print(f"| DescribeInstances of the project ({listed} servers) vs GET /servers/detail | {proxy:.1f} | "
                  f"{own:.1f} | {proxy / own:.2f}x | {paired:.2f}x |", flush=True)
        print(f"\nlag from Nova's notification to the view, {len(lags)} notifications of stops and starts made in "
              f"Nova: p50 {statistics.median(lags) * 1000:.1f} ms, p99 {lags[int(len(lags) * 0.99)] * 1000:.1f} ms, "
              f"max {lags[-1] * 1000:.1f} ms")
    finally:
        for allocation in allocations:
            shown = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]
            if shown.get("AssociationId"):
                ec2.disassociate_address(AssociationId=shown["AssociationId"])
            ec2.release_address(AllocationId=allocation)
        for group in groups:
            ec2.delete_security_group(GroupId=group)
        for chunk in range(0, len(made), 100):
            ec2.terminate_instances(InstanceIds=made[chunk:chunk + 100])
        server.stop()
        _system_reader(False)
        asyncio.run(_queue_deleted(os.environ["LAB_TRANSPORT_URL"], QUEUE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lab_live_view", description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--counts", default="10,100", help="project sizes the listing is timed at")
    parser.add_argument("--events", type=int, default=40, help="notifications whose lag is measured")
    args = parser.parse_args(argv)
    if not os.environ.get("LAB_TRANSPORT_URL"):
        print("no lab with notifications: LAB_NOTIFICATIONS=1 bash run-with-lab.sh ...", file=sys.stderr)
        return 2
    run(args.rounds, [int(c) for c in args.counts.split(",")], args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
