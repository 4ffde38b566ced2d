"""DescribeInstances and RunInstances of two installed versions of ec2proxy, alternately in one run.

    python -m bench.describe_ab OLD_ec2proxy NEW_ec2proxy [ROUNDS] [INSTANCES]

Each version serves its own embedded dev cloud holding INSTANCES instances (launched through it); a round times,
on each side in turn (which goes first alternates), the median of 10 calls of: DescribeInstances of everything
(the XML from kept fragments), of everything through a filter (instances built as records), of one instance by
id, and RunInstances MaxCount=1 (terminated again). Used for the layers (issue 28): the commit before the
change and after it, each installed non-editable into a venv of its own.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time

import tests.support as support

CALLS = 10


def start(binary: str, tmp: pathlib.Path) -> support.Server:
    support.ec2proxy_command = lambda: [binary]  # the Server runs whatever this answers
    return support.Server(tmp, env={"EC2PROXY_DEVCLOUD_DELAY": "0.05"}).start()


def _median_ms(call) -> float:
    times = []
    for _ in range(CALLS):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def fill(server: support.Server, count: int) -> tuple:
    client = server.client()
    image = client.describe_images()["Images"][0]["ImageId"]
    while count > 0:
        batch = min(count, 100)
        client.run_instances(ImageId=image, MinCount=batch, MaxCount=batch, InstanceType="t2.micro")
        count -= batch
    time.sleep(1)
    first = client.describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
    return client, image, first


def measures(client, image: str, first: str) -> dict[str, float]:
    def launch() -> None:
        made = client.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        client.terminate_instances(InstanceIds=[made])

    return {
        "DescribeInstances, all (ms)": _median_ms(client.describe_instances),
        "DescribeInstances, all through a filter (ms)": _median_ms(lambda: client.describe_instances(
            Filters=[{"Name": "instance-type", "Values": ["t2.micro"]}])),
        "DescribeInstances, one by id (ms)": _median_ms(lambda: client.describe_instances(InstanceIds=[first])),
        "RunInstances MaxCount=1 + TerminateInstances (ms)": _median_ms(launch),
    }


def main(argv: list[str]) -> None:
    old, new = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 6
    count = int(argv[3]) if len(argv) > 3 else 200
    tmp = pathlib.Path(tempfile.mkdtemp())
    servers = {"old": start(old, tmp / "old"), "new": start(new, tmp / "new")}
    try:
        sides = {name: fill(server, count) for name, server in servers.items()}
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
        for turn in range(rounds):
            for name in ("old", "new") if turn % 2 == 0 else ("new", "old"):
                for label, value in measures(*sides[name]).items():
                    figures[name].setdefault(label, []).append(value)
    finally:
        for server in servers.values():
            server.stop()
    print(f"{count} instances a side, {rounds} rounds, median of {CALLS} calls a round")
    print("| figure | old | new | new/old |")
    print("|---|---|---|---|")
    for label in figures["old"]:
        old_ms, new_ms = statistics.median(figures["old"][label]), statistics.median(figures["new"][label])
        print(f"| {label} | {old_ms:.1f} | {new_ms:.1f} | {new_ms / old_ms:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
