"""1 vs 2 vs 4 ``ec2proxy serve`` workers on one PostgreSQL database: DescribeInstances throughput over 100
instances, every worker loaded by its own wrk at once. The dev cloud runs in its own process; on a 2-core
machine it competes with the workers for the same cores, which bounds the scaling this can show."""

from __future__ import annotations

import concurrent.futures
import json
import pathlib

from bench import devcloud
from bench.front_door import signed
from bench.instances import _run
from bench.load import have_wrk, wrk
from ec2proxy.ec2 import ids
from tests.support import Server

BODY = b"Action=DescribeInstances&Version=2016-11-15"


def _database() -> tuple[str, callable]:
    from tests import databases

    return databases.fresh("postgresql")


def _worker(tmp: pathlib.Path, name: str, url: str, service: dict, database: str) -> Server:
    config = tmp / f"{name}.conf"
    config.write_text("\n".join([
        "[openstack]", f"auth_url = {url}/identity/v3", f"username = {service['username']}",
        f"password = {service['password']}", f"project_name = {service['project_name']}",
        "[database]", f"url = {database}", "[api]", "access_log = false"]) + "\n")
    server = Server(tmp / name, config=config)
    server.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    server.credentials_path.write_text("")
    return server.start()


def run(tmp: pathlib.Path, rounds: int, seconds: int) -> list[tuple[str, str, str]]:
    if not have_wrk():
        return [("workers scaling", "skipped", "wrk is not installed (apt-get install wrk)")]
    try:
        database, drop = _database()
    except Exception as exc:  # noqa: BLE001  no PostgreSQL here: say so in the table
        return [("workers scaling", "skipped", f"no PostgreSQL: {type(exc).__name__}")]
    from bench.__main__ import summarize

    cloud, url = devcloud.start(tmp / "cloud")
    workers: list[Server] = []
    try:
        accounts = json.loads((tmp / "cloud" / "devcloud" / "accounts.json").read_text())
        workers = [_worker(tmp, f"w{n}", url, accounts["ec2proxy"], database) for n in range(4)]
        created = json.loads(workers[0].ec2proxy("credentials", "create", "--project", accounts["demo"]["project_id"],
                                                 "--user", accounts["demo"]["user_id"]).stdout)
        keys = (created["access_key"], created["secret"])
        _run(workers[0], keys, ids.from_uuid("ami", accounts["image_id"]), 100)

        def load(count: int) -> float:
            def one(server: Server) -> float:
                return wrk(f"{server.endpoint}/", "POST", *signed(server.endpoint, *keys, body=BODY),
                           connections=8, seconds=seconds)["rps"]

            with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
                return sum(pool.map(one, workers[:count]))

        figures: dict[int, list[float]] = {1: [], 2: [], 4: []}
        for _ in range(rounds):
            for count in figures:
                figures[count].append(load(count))
        base = sorted(figures[1])[len(figures[1]) // 2]
        rows = []
        for count, samples in figures.items():
            median = sorted(samples)[len(samples) // 2]
            rows.append((f"DescribeInstances (100 instances), {count} worker{'s' if count > 1 else ''} on PostgreSQL "
                         "(req/s)", summarize(samples), f"{median / base:.2f}x one worker"))
        return rows
    finally:
        for server in workers:
            server.stop()
        cloud.terminate()
        cloud.wait()
        drop()
