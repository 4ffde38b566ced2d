"""The metadata service under a boot storm: latest/meta-data/instance-id for 200 instances, signed
Neutron-proxy headers, 64 connections, next to a bare aiohttp handler in the same run."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import statistics

from bench.load import alternate, bare_handler, have_wrk, wrk
from ec2proxy.ec2 import ids
from metadata import callers
from tests.support import Server

INSTANCES = 200


def _launch(server: Server) -> list[dict]:
    ec2 = server.client()
    accounts = json.loads((server.data_dir / "devcloud" / "accounts.json").read_text())
    reservation = ec2.run_instances(ImageId=ids.from_uuid("ami", accounts["image_id"]), MinCount=INSTANCES,
                                    MaxCount=INSTANCES)
    wanted = [i["InstanceId"] for i in reservation["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=wanted[:100], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    with sqlite3.connect(server.data_dir / "ec2proxy.sqlite") as db:
        rows = db.execute("SELECT os_id, project_id FROM instances").fetchall()
    secret = (server.data_dir / "metadata" / "shared_secret").read_text().strip().encode()
    return [{"X-Instance-ID": os_id, "X-Tenant-ID": project, "X-Forwarded-For": "10.0.0.1",
             "X-Instance-ID-Signature": callers.sign(secret, os_id)} for os_id, project in rows]


def run(tmp: pathlib.Path, rounds: int, seconds: int) -> list[tuple[str, str, str]]:
    if not have_wrk():
        return [("metadata instance-id vs bare aiohttp", "skipped", "wrk is not installed (apt-get install wrk)")]
    from bench.__main__ import summarize

    server = Server(tmp / "proxy", env={"EC2PROXY_DEVCLOUD_DELAY": "0.05", "EC2PROXY_METADATA_CACHE_TTL": "30"}).start()
    try:
        headers = _launch(server)
        url = f"{server.metadata}/latest/meta-data/instance-id"
        cold = wrk(url, "GET", b"", {}, connections=64, seconds=3, rotate=headers)  # fills the caches
        with bare_handler(b"i-0123456789abcdef0", tmp) as bare_url:
            figures = alternate(rounds,
                                lambda: wrk(url, "GET", b"", {}, connections=64, seconds=seconds, rotate=headers),
                                lambda: wrk(bare_url, "GET", b"", {}, connections=64, seconds=seconds))
        ratio = statistics.median(figures["proxy"]) / statistics.median(figures["bare"])
        return [
            ("bare aiohttp handler, 64 connections (req/s)", summarize(figures["bare"]), "wrk -t1 -c64, baseline"),
            (f"metadata instance-id, {len(headers)} instances, signed (req/s)", summarize(figures["proxy"]),
             f"p99 {statistics.median(figures['p99']):.1f} ms (target < 20); first 3 s incl. cache fills: "
             f"{cold['rps']:,.0f} req/s, {cold['non2xx']} errors"),
            ("metadata / bare ratio", f"{ratio:.2f}", "target >= 0.5"),
        ]
    finally:
        server.stop()
