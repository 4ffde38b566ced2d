"""DescribeInstances at 1,000 and 10,000 instances vs. the backend's own listing and vs. moto_server;
RunInstances MaxCount=100 vs. the one Nova create it makes; backend calls per request; proxy RSS."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import statistics
import subprocess
import time
import urllib.request

import boto3

from bench import devcloud
from bench.front_door import signed
from bench.load import wait_until_up
from ec2proxy.ec2 import ids
from tests.support import Server, free_port

DESCRIBE = b"Action=DescribeInstances&Version=2016-11-15"


def _timed_post(endpoint: str, keys: tuple[str, str], body: bytes, region: str = "RegionOne") -> tuple[float, int]:
    """Seconds for one signed POST, the whole body read (no client parsing), and the body size."""
    payload, headers = signed(endpoint, *keys, body=body, region=region)
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(f"{endpoint}/", data=payload, headers=headers),
                                timeout=600) as response:
        size = len(response.read())
    return time.perf_counter() - started, size


def _backend_calls(server: Server) -> int:
    with urllib.request.urlopen(f"{server.admin}/metrics") as response:
        match = re.search(rb"^ec2proxy_backend_calls (\S+)$", response.read(), re.M)
    return int(float(match.group(1))) if match else -1


def _rss_mb(pid: int) -> float:
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def _run(server: Server, keys: tuple[str, str], ami: str, count: int) -> float:
    started = time.perf_counter()
    _timed_post(server.endpoint, keys,
                f"Action=RunInstances&Version=2016-11-15&ImageId={ami}&MinCount={count}&MaxCount={count}".encode())
    return time.perf_counter() - started


def _nova_create(url: str, token: str, image: str, count: int) -> tuple[float, float]:
    """Seconds of the Nova multi-create alone, and with the listing of its reservation after it (what a
    Nova client needs to learn the ids and states of what it booted, and what the proxy's answer needs)."""
    started = time.perf_counter()
    _, body = devcloud.call(f"{url}/compute/v2.1/servers", token, {"server": {
        "name": "bench", "imageRef": image, "flavorRef": "2", "networks": "auto", "min_count": count,
        "max_count": count, "return_reservation_id": True}}, "POST")
    created = time.perf_counter() - started
    reservation = json.loads(body)["reservation_id"]
    devcloud.call(f"{url}/compute/v2.1/servers/detail?reservation_id={reservation}", token)
    return created, time.perf_counter() - started


def _moto(rounds: int, count: int) -> list[float] | str:
    if shutil.which("moto_server") is None:
        return "moto_server is not installed (pip install 'moto[server]')"
    port = free_port()
    process = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_until_up(f"{endpoint}/moto-api/")
        client = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench")
        image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        for start in range(0, count, 500):
            client.run_instances(ImageId=image, MinCount=min(500, count - start), MaxCount=min(500, count - start))
        return [_timed_post(endpoint, ("bench", "bench"), DESCRIBE, "us-east-1")[0] for _ in range(rounds)]
    finally:
        process.terminate()
        process.wait()


def run(tmp: pathlib.Path, rounds: int) -> list[tuple[str, str, str]]:
    from bench.__main__ import summarize

    rows: list[tuple[str, str, str]] = []
    cloud, url, server, keys = devcloud.separate(tmp)
    try:
        accounts = json.loads((tmp / "cloud" / "devcloud" / "accounts.json").read_text())
        ami = ids.from_uuid("ami", accounts["image_id"])
        token, _ = devcloud.login(url, tmp / "cloud")
        runs = 4  # 808 servers in all, so the 1,000-instance figures are at exactly 1,000
        for count in (1, 100):
            proxy_run, create_run, listed_run = [], [], []
            for _ in range(runs):
                proxy_run.append(_run(server, keys, ami, count))
                created, listed = _nova_create(url, token, accounts["image_id"], count)
                create_run.append(created)
                listed_run.append(listed)
            proxy_ms = statistics.median(proxy_run) * 1000
            rows += [(f"RunInstances MaxCount={count} through the proxy (ms)", summarize([s * 1000 for s in proxy_run]),
                      "one Nova create per request"),
                     ("the same Nova create alone (ms)", summarize([s * 1000 for s in create_run]), "backend baseline"),
                     ("the same Nova create + listing of its reservation (ms)",
                      summarize([s * 1000 for s in listed_run]), "what a Nova client needs to know what it booted"),
                     (f"RunInstances MaxCount={count} overhead over create + listing (ms)",
                      f"{proxy_ms - statistics.median(listed_run) * 1000:,.0f}", "target <= 100"),
                     (f"RunInstances MaxCount={count} overhead over the create alone (ms)",
                      f"{proxy_ms - statistics.median(create_run) * 1000:,.0f}",
                      "stricter: the listing counted as ours")]
        total = 2 * runs * 101  # the proxy's and the baseline's servers, all in the project
        for target in (1000, 10000):
            while total < target:
                step = min(1000, target - total)
                _run(server, keys, ami, step)
                total += step
            proxy, backend = [], []
            calls_before = _backend_calls(server)
            for _ in range(rounds):
                seconds, size = _timed_post(server.endpoint, keys, DESCRIBE)
                proxy.append(seconds)
                backend.append(devcloud.list_all(url, token)[0])
            calls = (_backend_calls(server) - calls_before) / rounds
            ratio = statistics.median(proxy) / statistics.median(backend)
            # each round's two calls share the machine's load of the moment: the steadier figure when it is noisy
            paired = statistics.median(p / b for p, b in zip(proxy, backend, strict=True))
            rows += [(f"DescribeInstances, {total:,} instances, proxy (ms)", summarize([s * 1000 for s in proxy]),
                      f"{size / 1e6:.1f} MB of XML; {calls:.0f} backend calls per request"),
                     (f"GET /servers/detail, {total:,} servers, backend alone (ms)",
                      summarize([s * 1000 for s in backend]), "same dev cloud, 1,000 per page"),
                     (f"DescribeInstances / backend ratio at {total:,}", f"{ratio:.2f}",
                      "target <= 2 at 1,000" if total == 1000 else "report"),
                     ("  the same, median of each round's own ratio", f"{paired:.2f}", "same rounds")]
            if total == 1000:
                moto = _moto(rounds, 1000)
                if isinstance(moto, str):
                    rows.append(("moto_server DescribeInstances, 1,000 instances", "skipped", moto))
                else:
                    rows += [("moto_server DescribeInstances, 1,000 instances (ms)",
                              summarize([s * 1000 for s in moto]), "same client, same run"),
                             ("moto / proxy speed ratio at 1,000",
                              f"{statistics.median(moto) / statistics.median(proxy):.1f}",
                              "target >= 10")]
        rows.append(("proxy RSS after describing 10,000 instances (MB)", f"{_rss_mb(server.process.pid):.0f}",
                     "target < 250; the dev cloud runs in its own process"))
    finally:
        server.stop()
        cloud.terminate()
        cloud.wait()
    return rows
