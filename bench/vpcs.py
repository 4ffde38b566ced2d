"""DescribeVpcs, DescribeSubnets, DescribeRouteTables and DescribeNetworkInterfaces over 1,000 objects each:
server time, backend calls per request (constant: one listing per kind, whatever the count), and the backend's
own listing of the same objects, alternately in one run."""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import statistics
import time

from bench import devcloud
from bench.instances import _backend_calls, _timed_post

COUNT = 1000


def _fill(client) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: client.create_vpc(CidrBlock=f"10.{100 + i // 256}.{i % 256}.0/24"),
                      range(COUNT - 2)))
        vpc = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        list(pool.map(lambda i: client.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i // 16}.{(i % 16) * 16}/28"),
                      range(COUNT - 1)))
        list(pool.map(lambda i: client.create_route_table(VpcId=vpc), range(COUNT - 1)))
        other = client.create_vpc(CidrBlock="172.16.0.0/16")["Vpc"]["VpcId"]
        wide = client.create_subnet(VpcId=other, CidrBlock="172.16.0.0/20")["Subnet"]["SubnetId"]
        list(pool.map(lambda i: client.create_network_interface(SubnetId=wide), range(COUNT)))


def _backend_list(url: str, token: str, path: str, key: str) -> float:
    started = time.perf_counter()
    _, body = devcloud.call(f"{url}/{path}", token)
    assert len(json.loads(body)[key]) >= COUNT
    return time.perf_counter() - started


def run(tmp: pathlib.Path, rounds: int) -> list[tuple[str, str, str]]:
    from bench.__main__ import summarize

    rows: list[tuple[str, str, str]] = []
    cloud, url, server, keys = devcloud.separate(tmp)
    try:
        token, _ = devcloud.login(url, tmp / "cloud")
        started = time.perf_counter()
        _fill(server.client(*keys))
        rows.append(("making them through EC2 (s)", f"{time.perf_counter() - started:.0f}",
                     f"{COUNT:,} of each, 8 clients at once"))
        cases = [
            ("DescribeVpcs", ("network/v2.0/networks?limit=5000", "networks")),
            ("DescribeSubnets", ("network/v2.0/subnets?limit=5000", "subnets")),
            ("DescribeRouteTables", None),
            ("DescribeNetworkInterfaces", ("network/v2.0/ports?limit=5000", "ports")),
        ]
        for name, backend_path in cases:
            body = f"Action={name}&Version=2016-11-15".encode()
            proxy, backend = [], []
            _timed_post(server.endpoint, keys, body)
            before = _backend_calls(server)
            for _ in range(rounds):
                seconds, size = _timed_post(server.endpoint, keys, body)
                proxy.append(seconds)
                if backend_path:
                    backend.append(_backend_list(url, token, *backend_path))
            calls = (_backend_calls(server) - before) / rounds
            note = f"{size / 1e6:.2f} MB of XML; {calls:.0f} backend calls per request"
            rows.append((f"{name}, {COUNT:,} objects, proxy (ms)", summarize([s * 1000 for s in proxy]), note))
            if backend:
                rows += [(f"the backend listing for {name} alone (ms)", summarize([s * 1000 for s in backend]),
                          "same dev cloud, one page"),
                         (f"{name} / backend ratio", f"{statistics.median(proxy) / statistics.median(backend):.2f}",
                          "report")]
    finally:
        server.stop()
        cloud.terminate()
        cloud.wait()
    return rows
