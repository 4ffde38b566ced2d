"""``serve --workers 1`` vs ``--workers 2`` on this machine, in one run: signed DescribeRegions and metadata
instance-id requests per second against each, measured in turn each round (wrk -t2 -c64)."""

from __future__ import annotations

import pathlib
import statistics

from bench.front_door import signed
from bench.load import have_wrk, wrk
from bench.metadata import _launch
from tests.support import Server

ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.05", "EC2PROXY_METADATA_CACHE_TTL": "60", "EC2PROXY_API_ACCESS_LOG": "false"}


def run(tmp: pathlib.Path, rounds: int, seconds: int) -> list[tuple[str, str, str]]:
    if not have_wrk():
        return [("serve --workers 1 vs 2", "skipped", "wrk is not installed (apt-get install wrk)")]
    from bench.__main__ import summarize

    servers = {n: Server(tmp / f"workers{n}", env=ENV, args=("--workers", str(n))).start() for n in (1, 2)}
    try:
        metadata_headers = {n: _launch(server) for n, server in servers.items()}
        figures: dict[tuple[str, int], list[float]] = {}
        for _ in range(rounds):
            for n, server in servers.items():
                body, headers = signed(server.endpoint, *server.demo_keys())
                api = wrk(f"{server.endpoint}/", "POST", body, headers, connections=64, seconds=seconds, threads=2)
                meta = wrk(f"{server.metadata}/latest/meta-data/instance-id", "GET", b"", {}, connections=64,
                           seconds=seconds, threads=2, rotate=metadata_headers[n])
                for kind, result in (("api", api), ("metadata", meta)):
                    if result["non2xx"] or result["errors"]:
                        raise RuntimeError(f"errors under load: {result}")
                    figures.setdefault((kind, n), []).append(result["rps"])
        rows = []
        for kind, label in (("api", "DescribeRegions, signed"), ("metadata", "metadata instance-id, signed")):
            one, two = figures[(kind, 1)], figures[(kind, 2)]
            rows += [(f"{label}, --workers 1 (req/s)", summarize(one), "wrk -t2 -c64"),
                     (f"{label}, --workers 2 (req/s)", summarize(two), "wrk -t2 -c64, same run"),
                     (f"{label}, 2 workers / 1", f"{statistics.median(two) / statistics.median(one):.2f}",
                      "target >= 1.3 (wrk shares the 2 cores)")]
        return rows
    finally:
        for server in servers.values():
            server.stop()
