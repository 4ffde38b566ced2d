"""DescribeVpcs, DescribeSubnets, DescribeRouteTables and DescribeNetworkInterfaces over 1,000 objects each:
server time, backend calls per request (constant: one listing per kind, whatever the count), and the backend's
own listing of the same objects, alternately in one run."""

from __future__ import annotations

import concurrent.futures
import pathlib
import time

from bench import devcloud
from bench.resources import compare_listings

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


def run(tmp: pathlib.Path, rounds: int) -> list[tuple[str, str, str]]:

    rows: list[tuple[str, str, str]] = []
    cloud, url, server, keys = devcloud.separate(tmp)
    try:
        token, _ = devcloud.login(url, tmp / "cloud")
        started = time.perf_counter()
        _fill(server.client(*keys))
        rows.append(("making them through EC2 (s)", f"{time.perf_counter() - started:.0f}",
                     f"{COUNT:,} of each, 8 clients at once"))
        cases = [(name, f"Action={name}&Version=2016-11-15".encode(), backend) for name, backend in (
            ("DescribeVpcs", ("network/v2.0/networks?limit=5000", "networks")),
            ("DescribeSubnets", ("network/v2.0/subnets?limit=5000", "subnets")),
            ("DescribeRouteTables", None),
            ("DescribeNetworkInterfaces", ("network/v2.0/ports?limit=5000", "ports")))]
        rows += compare_listings(server, keys, url, token, cases, rounds, COUNT)
    finally:
        server.stop()
        cloud.terminate()
        cloud.wait()
    return rows
