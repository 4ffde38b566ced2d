"""What a Nova microversion costs: one server's GET at several microversions, alternately, on the real lab.

Run inside the lab: ``bash ../shared/openstack-lab/run-with-lab.sh python -m bench.lab_nova_versions``. It
boots one server as the demo user, times ``GET /servers/ID`` at each version in turn, and deletes the server.
The proxy asks Nova at ``ec2proxy.cloud.clients.NOVA_MAX`` at most; this says what a newer one would cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from bench.lab_describe import demo_session

VERSIONS = ("2.1", "2.47", "2.95", "2.96", "2.100")


def run(rounds: int) -> dict[str, float]:
    session = demo_session()
    compute = session.get_endpoint(service_type="compute", interface="public").rstrip("/")
    flavors = session.get(f"{compute}/flavors").json()["flavors"]
    flavor = next(f["id"] for f in flavors if f["name"] == os.environ.get("LAB_FLAVOR", "m1.tiny"))
    server = session.post(f"{compute}/servers", json={"server": {
        "name": "bench-nova-versions", "imageRef": os.environ["LAB_IMAGE_ID"], "flavorRef": flavor,
        "networks": [{"uuid": os.environ["LAB_PRIVATE_NET_ID"]}]}}).json()["server"]
    url = f"{compute}/servers/{server['id']}"
    try:
        for _ in range(60):
            if session.get(url).json()["server"]["status"] != "BUILD":
                break
            time.sleep(1)

        def timed(version: str) -> float:
            started = time.perf_counter()
            assert session.get(url, headers={"OpenStack-API-Version": f"compute {version}",
                                             "X-OpenStack-Nova-API-Version": version}).content
            return (time.perf_counter() - started) * 1000

        for version in VERSIONS:  # warm
            timed(version)
        times: dict[str, list[float]] = {v: [] for v in VERSIONS}
        for _ in range(rounds):
            for version in VERSIONS:
                times[version].append(timed(version))
        return {v: statistics.median(t) for v, t in times.items()}
    finally:
        session.delete(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lab_nova_versions", description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    if not os.environ.get("LAB_KEYSTONE_URL"):
        print("no lab: run through ../shared/openstack-lab/run-with-lab.sh", file=sys.stderr)
        return 2
    medians = run(args.rounds)
    print(f"| GET servers/ID, median of {args.rounds} alternate rounds | ms | to 2.1 |")
    print("|---|---|---|")
    for version, median in medians.items():
        print(f"| microversion {version} | {median:.1f} | {median / medians['2.1']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
