"""The live view under a flood of notifications, on the embedded dev cloud and the machine's RabbitMQ (issue 29).

``python -m bench.live_view_flood``: ``ec2proxy serve`` with its feed (and the dev cloud notifying) on test-only
exchanges; 10,000 of Nova's instance.update (the lab's own message, one per server of another project) are
published at once. Printed: how long the one worker took to apply them, its CPU per 1,000, its memory (RSS)
before and after the view holds 10,000 more servers, and DescribeInstances of one id before (from the view),
during (the feed late, so read from the dev cloud) and after the flood (the view again); then the project's
listing from the view at 100 and 1,000 instances against the dev cloud's own detailed listing, alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

from bench.instances import _timed_post
from tests.support import Server
from tests.test_live_describe import PROXY_ENV, TAG
from tests.test_live_view import _cleanup, flood_bodies, publish_flood


def _metric(server: Server, name: str) -> float:
    with urllib.request.urlopen(f"{server.admin}/metrics") as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 1/100 s


def _rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _describe_ms(server: Server, keys, body: bytes) -> float:
    return _timed_post(server.endpoint, keys, body)[0] * 1000


def _until_viewed(server: Server, keys, body: bytes) -> None:
    name = 'ec2proxy_live_view_reads{outcome="view"}'
    for _ in range(600):
        before = _metric(server, name)
        _timed_post(server.endpoint, keys, body)
        if _metric(server, name) > before:
            return
        time.sleep(0.1)
    raise RuntimeError("the view never answered")


def run(flood: int, counts: list[int], rounds: int) -> None:
    server = Server(pathlib.Path(tempfile.mkdtemp()), env={**PROXY_ENV, "EC2PROXY_DEVCLOUD_DELAY": "0.05"}).start()
    try:
        assert server.process is not None
        pid = server.process.pid
        ec2 = server.client()
        keys = server.demo_keys()
        while _metric(server, "ec2proxy_live_view_connected") != 1.0:
            time.sleep(0.1)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        (first,) = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]]
        ec2.get_waiter("instance_running").wait(InstanceIds=[first], WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
        one = f"Action=DescribeInstances&Version=2016-11-15&InstanceId.1={first}".encode()
        _until_viewed(server, keys, one)
        regions = b"Action=DescribeRegions&Version=2016-11-15"  # the API itself, no view, no cloud: the flood's cost
        before = [_describe_ms(server, keys, one) for _ in range(rounds)]
        before_api = [_describe_ms(server, keys, regions) for _ in range(rounds)]

        # the flood is of servers of the dev cloud's other project (alt), served once its first request came: its
        # changes are kept, and the demo project's listing below stays the size it is measured at
        alt = json.loads((server.data_dir / "devcloud" / "accounts.json").read_text())["alt"]
        made = json.loads(server.ec2proxy("credentials", "create", "--project", alt["project_id"], "--user",
                                          alt["user_id"]).stdout)
        _timed_post(server.endpoint, (made["access_key"], made["secret"]),
                    b"Action=DescribeInstances&Version=2016-11-15")
        bodies = flood_bodies(flood, sent=datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S.%f"), project=alt["project_id"])
        applied = _metric(server, 'ec2proxy_notifications{outcome="applied"}')
        rss_before, cpu_before = _rss_mb(pid), _cpu_seconds(pid)
        during: list[float] = []
        during_api: list[float] = []
        publisher = threading.Thread(target=lambda: asyncio.run(publish_flood(f"test-{TAG}-nova", bodies)))
        started = time.monotonic()
        publisher.start()
        while _metric(server, 'ec2proxy_notifications{outcome="applied"}') < applied + flood:
            during.append(_describe_ms(server, keys, one))
            during_api.append(_describe_ms(server, keys, regions))
            time.sleep(0.05)
        took = time.monotonic() - started
        publisher.join()
        cpu = _cpu_seconds(pid) - cpu_before
        after = [_describe_ms(server, keys, one) for _ in range(rounds)]
        after_api = [_describe_ms(server, keys, regions) for _ in range(rounds)]
        print(f"| {flood:,} notifications of {flood:,} servers published at once | |")
        print("|---|---|")
        print(f"| applied by one worker in | {took:.1f} s ({flood / took:,.0f}/s) |")
        print(f"| the worker's CPU per 1,000 (the dev cloud idle in the same process) | {cpu / flood * 1000:.2f} s |")
        print(f"| RSS before / after (the view of {flood:,} more servers) | {rss_before:.0f} MB / "
              f"{_rss_mb(pid):.0f} MB |")
        print(f"| DescribeInstances of one id, median before (the view) / during (the feed late: read directly) / "
              f"after (the view) | "
              f"{statistics.median(before):.1f} / {statistics.median(during):.1f} ({len(during)} calls) / "
              f"{statistics.median(after):.1f} ms |", flush=True)
        print(f"| DescribeRegions (neither view nor cloud: what the applier takes from the API), median before / "
              f"during / after | {statistics.median(before_api):.1f} / {statistics.median(during_api):.1f} / "
              f"{statistics.median(after_api):.1f} ms |", flush=True)

        foreign = flood_bodies(flood)  # another project's servers: counted and dropped
        dropped, cpu_before, started = (_metric(server, 'ec2proxy_notifications{outcome="foreign"}'),
                                        _cpu_seconds(pid), time.monotonic())
        asyncio.run(publish_flood(f"test-{TAG}-nova", foreign))
        while _metric(server, 'ec2proxy_notifications{outcome="foreign"}') < dropped + flood:
            time.sleep(0.05)
        took, cpu = time.monotonic() - started, _cpu_seconds(pid) - cpu_before
        print(f"| {flood:,} notifications of a project the proxy does not serve, dropped in | {took:.1f} s "
              f"(published and dropped), {cpu / flood * 1000:.2f} s CPU per 1,000 |", flush=True)

        made = 1
        every = b"Action=DescribeInstances&Version=2016-11-15"
        print("\n| instances | DescribeInstances of the project, from the view (ms) | dev cloud's GET /servers/detail "
              "(ms) | ratio |")
        print("|---|---|---|---|")
        for count in counts:
            while made < count:
                batch = min(count - made, 500)
                ec2.run_instances(ImageId=image, MinCount=batch, MaxCount=batch)
                made += batch
            time.sleep(1.0)
            _until_viewed(server, keys, every)
            proxy, own = [], []
            for done in range(rounds):
                if done % 2:
                    own.append(_devcloud_listing(server))
                proxy.append(_describe_ms(server, keys, every))
                if not done % 2:
                    own.append(_devcloud_listing(server))
            print(f"| {count:,} | {statistics.median(proxy):.1f} | {statistics.median(own):.1f} | "
                  f"{statistics.median(proxy) / statistics.median(own):.2f}x |", flush=True)
    finally:
        server.stop()
        asyncio.run(_cleanup(TAG, [f"test-{TAG}-{n}" for n in ("nova", "neutron", "openstack")]))


def _devcloud_listing(server: Server) -> float:
    """The dev cloud's own detailed listing of the demo project's servers, as the proxy's user would ask it."""
    import openstack

    global _SDK
    if _SDK is None:
        import os

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(server.data_dir / "devcloud" / "clouds.yaml")
        _SDK = openstack.connect(cloud="devcloud-demo")
        _SDK.compute.get("/servers/detail")
    started = time.perf_counter()
    assert _SDK.compute.get("/servers/detail?limit=1000", microversion="2.47").content
    return (time.perf_counter() - started) * 1000


_SDK = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_view_flood", description=__doc__)
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--counts", default="100,1000")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    run(args.flood, [int(c) for c in args.counts.split(",")], args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
