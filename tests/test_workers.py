"""``ec2proxy serve --workers N`` on one set of ports: many clients at once, a worker killed -9 under load and
replaced, SIGTERM of all under load; every ClientToken one reservation, every answer an EC2 answer."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from ec2proxy.ec2 import ids
from tests.support import Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _children(server: Server) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout
    return sorted(int(pid) for pid in out.split())


def _wait_for(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.fixture
def pool(tmp_path):
    server = Server(tmp_path / "proxy", env={"EC2PROXY_DEVCLOUD_DELAY": "0.1"}, args=("--workers", "2")).start()
    _wait_for(lambda: len(_children(server)) == 2)
    yield server
    server.stop()


def _request_ids(server: Server, calls: int) -> set[str]:
    client = server.client()
    return {client.describe_regions()["ResponseMetadata"]["RequestId"] for _ in range(calls)}


def test_two_workers_answer_many_clients_and_metrics_count_them_all(pool):
    with concurrent.futures.ThreadPoolExecutor(16) as executor:
        answered = set().union(*executor.map(lambda _: _request_ids(pool, 25), range(16)))
    assert len(answered) == 400
    prefixes = {request_id.rsplit("-", 1)[0] for request_id in answered}  # each worker numbers its own
    assert len(prefixes) == 2, prefixes

    def counted() -> bool:
        with urllib.request.urlopen(f"{pool.admin}/metrics") as response:
            text = response.read().decode()
        line = next((x for x in text.splitlines()
                     if x.startswith('ec2proxy_requests_total{action="DescribeRegions",code="OK"}')), "0 0")
        return float(line.split()[-1]) >= 400

    _wait_for(counted, 10)  # whichever worker answers the scrape counts both


def test_a_worker_killed_under_load_is_replaced_and_tokens_stay_exactly_once(pool):
    accounts = json.loads((pool.data_dir / "devcloud" / "accounts.json").read_text())
    ami = ids.from_uuid("ami", accounts["image_id"])
    results: dict[str, set[str]] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def launch(token: str) -> None:
        client = pool.client()
        for _ in range(20):  # a client retries with the same token until it has an answer
            try:
                answer = client.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token)
            except (BotoConnectionError, HTTPClientError):
                time.sleep(0.2)
                continue
            except ClientError as exc:
                error = exc.response["Error"]
                if error["Code"] not in ("Unavailable", "InternalError") or not exc.response["ResponseMetadata"].get(
                        "RequestId"):
                    with lock:
                        failures.append(f"{token}: {error}")
                time.sleep(0.2)
                continue
            with lock:
                results.setdefault(token, set()).add(answer["ReservationId"])
            return
        with lock:
            failures.append(f"{token}: no answer")

    victim = _children(pool)[0]
    with concurrent.futures.ThreadPoolExecutor(12) as executor:
        futures = [executor.submit(launch, f"kill-{n}") for n in range(36)]
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)
        for future in futures:
            future.result()
    assert not failures, failures
    assert len(results) == 36 and all(len(r) == 1 for r in results.values()), results
    replaced = _wait_for(lambda: (lambda now: now if len(now) == 2 and victim not in now else None)(_children(pool)))
    assert victim not in replaced
    client = pool.client()
    reservations = client.describe_instances(Filters=[{"Name": "client-token", "Values": ["kill-*"]}])["Reservations"]
    assert sorted(r["ReservationId"] for r in reservations) == sorted(r for s in results.values() for r in s)


def test_sigterm_of_all_finishes_what_is_in_flight(pool):
    client = pool.client()
    answers, errors = [], []

    def ask() -> None:
        try:
            answers.append(client.describe_regions()["ResponseMetadata"]["HTTPStatusCode"])
        except (BotoConnectionError, HTTPClientError) as exc:  # after the sockets closed: refused, cleanly
            errors.append(type(exc).__name__)
        except ClientError as exc:
            errors.append(exc.response["Error"]["Code"])

    with concurrent.futures.ThreadPoolExecutor(8) as executor:
        futures = [executor.submit(ask) for _ in range(200)]
        time.sleep(0.2)
        pool.process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        for future in futures:
            future.result()
    assert pool.process.wait(timeout=90) == 0
    assert time.monotonic() - stopping < 15  # nothing waited out a timeout
    assert answers and all(status == 200 for status in answers)
    # Refused cleanly: the connection closed or refused, or Unavailable (a body still on its way when the
    # worker closed the connection), which clients retry.
    assert all(e in ("EndpointConnectionError", "ConnectionClosedError", "Unavailable") for e in errors), errors
    leftover = subprocess.run(["pgrep", "-f", str(pool.data_dir)], capture_output=True, text=True).stdout
    assert not leftover.strip(), leftover  # no worker outlives its supervisor
