"""Exactly-once across workers: several ``ec2proxy serve`` on one database (PostgreSQL, MariaDB) and one dev
cloud."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
import urllib.request

from ec2proxy.ec2 import ids
from tests.devclouds import start_worker


def _admin_token(devcloud) -> str:
    admin = devcloud.accounts["admin"]
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": admin["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"id": admin["project_id"]}}}}).encode()
    request = urllib.request.Request(f"{devcloud.url}/identity/v3/auth/tokens", data=body,
                                     headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(request).headers["X-Subject-Token"]


def _servers_in_cloud(devcloud) -> list:
    return list(devcloud.sdk().compute.servers())


def test_same_client_token_on_four_workers_boots_once(devcloud, tmp_path, shared_database):
    workers = [start_worker(devcloud, tmp_path, f"w{n}", shared_database) for n in range(4)]
    try:
        demo = devcloud.accounts["demo"]
        created = json.loads(workers[0].ec2proxy("credentials", "create", "--project", demo["project_id"],
                                                 "--user", demo["user_id"]).stdout)
        ami = ids.from_uuid("ami", devcloud.accounts["image_id"])
        clients = [w.client(created["access_key"], created["secret"]) for w in workers]

        def run(n: int) -> dict:
            return clients[n % 4].run_instances(ImageId=ami, MinCount=2, MaxCount=2, ClientToken="four-workers")

        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(run, range(50)))
        assert len({a["ReservationId"] for a in answers}) == 1
        assert len({tuple(sorted(i["InstanceId"] for i in a["Instances"])) for a in answers}) == 1
        assert len(_servers_in_cloud(devcloud)) == 2
    finally:
        for worker in workers:
            worker.stop()


def test_a_worker_killed_after_the_nova_create_is_adopted_not_rebooted(devcloud, tmp_path, shared_database):
    first = start_worker(devcloud, tmp_path, "first", shared_database, client_token_lease=2)
    second = start_worker(devcloud, tmp_path, "second", shared_database, client_token_lease=2)
    try:
        demo = devcloud.accounts["demo"]
        created = json.loads(first.ec2proxy("credentials", "create", "--project", demo["project_id"],
                                            "--user", demo["user_id"]).stdout)
        ami = ids.from_uuid("ami", devcloud.accounts["image_id"])
        # Nova creates the servers, then answers 30 s late: the first worker dies while it waits.
        request = urllib.request.Request(
            f"{devcloud.url}/_devcloud/faults", method="POST",
            data=json.dumps({"service": "compute", "method": "POST", "path": "/servers$", "count": 1,
                             "kind": "late", "seconds": 30}).encode(),
            headers={"X-Auth-Token": _admin_token(devcloud), "Content-Type": "application/json"})
        urllib.request.urlopen(request).close()
        doomed = first.client(created["access_key"], created["secret"], read_timeout=60)
        thread = threading.Thread(target=lambda: _swallow(lambda: doomed.run_instances(
            ImageId=ami, MinCount=3, MaxCount=3, ClientToken="crash-token")), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while len(_servers_in_cloud(devcloud)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_servers_in_cloud(devcloud)) == 3
        first.kill()
        time.sleep(2.5)  # the lease of the dead worker's claim runs out
        retried = second.client(created["access_key"], created["secret"]).run_instances(
            ImageId=ami, MinCount=3, MaxCount=3, ClientToken="crash-token")
        assert len(retried["Instances"]) == 3
        assert len(_servers_in_cloud(devcloud)) == 3  # adopted, not booted again
        again = second.client(created["access_key"], created["secret"]).run_instances(
            ImageId=ami, MinCount=3, MaxCount=3, ClientToken="crash-token")
        assert again["ReservationId"] == retried["ReservationId"]
    finally:
        first.stop()
        second.stop()


def _swallow(call) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001  the worker it talks to is killed on purpose
        pass
