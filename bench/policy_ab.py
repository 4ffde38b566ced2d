"""DescribeRegions req/s of two installed versions of ec2proxy, alternately in one run (wrk, 5 s a round).

    python -m bench.policy_ab OLD_ec2proxy NEW_ec2proxy [ROUNDS]

Used for the policy check (issue 26): the commit before it and the commit that added it, each installed into
a venv of its own (pip install <checkout>), non-editable on both sides.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile

import tests.support as support
from bench.front_door import signed
from bench.load import wrk


def start(binary: str, tmp: pathlib.Path) -> support.Server:
    support.ec2proxy_command = lambda: [binary]  # the Server runs whatever this answers
    return support.Server(tmp, env={"EC2PROXY_API_ACCESS_LOG": "true"}).start()


def main(argv: list[str]) -> None:
    old, new = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 10
    tmp = pathlib.Path(tempfile.mkdtemp())
    servers = {"old": start(old, tmp / "old"), "new": start(new, tmp / "new")}
    figures: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for turn in range(rounds):
            for name in ("old", "new") if turn % 2 == 0 else ("new", "old"):
                server = servers[name]
                figures[name].append(wrk(f"{server.endpoint}/", "POST",
                                         *signed(server.endpoint, *server.demo_keys()), seconds=5)["rps"])
    finally:
        for server in servers.values():
            server.stop()
    for name, values in figures.items():
        print(f"{name}: median {statistics.median(values):,.0f} req/s  {[round(v) for v in values]}")
    print(f"new/old: ratio of medians {statistics.median(figures['new']) / statistics.median(figures['old']):.3f}, "
          f"median of per-round ratios "
          f"{statistics.median(n / o for n, o in zip(figures['new'], figures['old'], strict=True)):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
