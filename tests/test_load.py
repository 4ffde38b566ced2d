"""Load: 200 concurrent clients mixing Run/Describe/Terminate against two workers on one PostgreSQL, for a
bounded time. No 5xx, no lost or duplicated instance (our database and the dev cloud agree at the end), and
every ClientToken holds. ``EC2PROXY_LOAD_CLIENTS`` / ``EC2PROXY_LOAD_SECONDS`` make it bigger."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import threading
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from tests.clusters import assert_each_token_made_one_server, cluster, rows_of

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # tens of seconds of load on PostgreSQL

CLIENTS = int(os.environ.get("EC2PROXY_LOAD_CLIENTS", "200"))
SECONDS = float(os.environ.get("EC2PROXY_LOAD_SECONDS", "15"))








def test_two_hundred_clients_two_workers_nothing_lost_or_doubled(devcloud, tmp_path, postgres_url):
    workers, shared, ami = cluster(devcloud, tmp_path, postgres_url, "w", CLIENTS, rate_limit=0)
    try:
        deadline = time.monotonic() + SECONDS
        errors: collections.Counter = collections.Counter()
        launched: dict[str, set[str]] = collections.defaultdict(set)  # ClientToken -> instance ids answered

        def client(n: int):  # boto3 clients are thread-safe: one per worker for all the users
            return shared[n % len(workers)]

        def user(n: int) -> int:
            done, round_ = 0, 0
            while time.monotonic() < deadline:
                token = f"load-{n}-{round_}"
                try:
                    for attempt in range(2):  # the retry a client makes: the same token, the same instance
                        answer = client(n + attempt).run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                                                   ClientToken=token)
                        launched[token].update(i["InstanceId"] for i in answer["Instances"])
                    (iid,) = launched[token]
                    client(n).describe_instances(InstanceIds=[iid])
                    client(n + 1).terminate_instances(InstanceIds=[iid])
                    done += 1
                except ClientError as caught:
                    status = caught.response["ResponseMetadata"]["HTTPStatusCode"]
                    errors[(status, caught.response["Error"]["Code"])] += 1
                round_ += 1
            return done

        with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            completed = sum(pool.map(user, range(CLIENTS)))
        print(f"load: {CLIENTS} clients, {completed} run/describe/terminate cycles, errors {dict(errors)}")
        server_errors = {k: v for k, v in errors.items() if k[0] >= 500}
        assert server_errors == {}, errors
        assert completed > 0
        assert all(len(answered) == 1 for answered in launched.values())  # every token: one instance
        rows = rows_of(postgres_url)
        by_token = collections.Counter(token for _, _, token in rows)
        assert all(count == 1 for count in by_token.values())  # no duplicated row
        in_cloud = {s.id for s in devcloud.sdk().compute.servers(all_projects=False)}
        deleted_or_live = {os_id for _, os_id, _ in rows}
        assert in_cloud <= deleted_or_live  # nothing booted that we do not know (terminated ones may be gone)
        answered = {i for ids_ in launched.values() for i in ids_}
        assert answered == {ec2_id for ec2_id, _, _ in rows if ec2_id in answered}  # nothing answered is lost
        assert len(answered) == len(rows)
    finally:
        for worker in workers:
            worker.stop()


def test_a_worker_killed_under_load_loses_nothing(devcloud, tmp_path, postgres_url):
    """kill -9 one of two workers while 50 clients load them: the clients move to the other worker with the
    same ClientTokens and each token still makes exactly one instance."""
    workers, shared, ami = cluster(devcloud, tmp_path, postgres_url, "k", 50, client_token_lease=3)
    try:
        deadline = time.monotonic() + 12
        launched: dict[str, set[str]] = collections.defaultdict(set)
        errors: collections.Counter = collections.Counter()
        dead = threading.Event()

        def user(n: int) -> int:
            done, round_ = 0, 0
            while time.monotonic() < deadline:
                token = f"kill-{n}-{round_}"
                while True:  # what a client does when its endpoint dies: the same request elsewhere
                    target = shared[1] if dead.is_set() or n % 2 else shared[0]
                    try:
                        answer = target.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token)
                        break
                    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError):
                        dead.wait(5)
                    except ClientError as caught:
                        errors[(caught.response["ResponseMetadata"]["HTTPStatusCode"],
                                caught.response["Error"]["Code"])] += 1
                        answer = None
                        break
                if answer is not None:
                    launched[token].update(i["InstanceId"] for i in answer["Instances"])
                    done += 1
                round_ += 1
            return done

        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            futures = [pool.submit(user, n) for n in range(50)]
            time.sleep(4)
            workers[0].kill()
            dead.set()
            completed = sum(f.result() for f in futures)
        print(f"kill: {completed} launches, errors {dict(errors)}")
        assert {k: v for k, v in errors.items() if k[0] >= 500} == {}, errors
        assert completed > 0 and all(len(answered) == 1 for answered in launched.values())
        assert_each_token_made_one_server(devcloud, postgres_url)
    finally:
        for worker in workers:
            worker.stop()
