"""PostgreSQL goes away under load and comes back: every request in between fails cleanly (an EC2 error with a
RequestId, never a 500 with a Python name), the workers serve again without being restarted, and every
ClientToken still made exactly one instance.

The test runs its own PostgreSQL cluster (the machine's ``initdb``/``pg_ctl``, as the ``postgres`` user
when run as root) so stopping it touches nothing else on the machine."""

from __future__ import annotations

import collections
import concurrent.futures
import glob
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.clusters import assert_each_token_made_one_server, cluster
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # tens of seconds of load on PostgreSQL


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a loopback port."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or [shutil.which("pg_ctl") or ""]
        self.bin = pathlib.Path(found[-1]).parent if found[-1] else None
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="ec2proxy-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + [str(self.bin / command[0]), *command[1:]], check=True, capture_output=True,
                       timeout=120)

    def create(self) -> "PrivatePostgres":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> "PrivatePostgres":
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.dir / "log"), "-o",
                  f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200", "start")
        return self

    def crash(self) -> None:
        """Stop at once, as a crash or an operator's immediate shutdown would: connections are cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    cluster = PrivatePostgres()
    if cluster.bin is None or not (cluster.bin / "initdb").exists():
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed: the restart test needs its own cluster")
    try:
        cluster.create()
    except (subprocess.CalledProcessError, OSError) as exc:
        cluster.destroy()
        pytest.skip(f"could not create a private PostgreSQL cluster: {exc}")
    yield cluster
    cluster.destroy()


def _health(worker) -> int:
    try:
        with urllib.request.urlopen(f"{worker.admin}/healthz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_postgresql_restart_under_load_fails_cleanly_and_recovers(devcloud, tmp_path, private_postgres):
    clients = 30
    workers, shared, ami = cluster(devcloud, tmp_path, private_postgres.url, "pg", clients, rate_limit=0,
                                    client_token_lease=3)
    try:
        up = threading.Event()
        deadline = time.monotonic() + 20
        launched: dict[str, set[str]] = collections.defaultdict(set)
        failures: collections.Counter = collections.Counter()
        bad: list[str] = []
        after_up: collections.Counter = collections.Counter()

        def user(n: int) -> int:
            done, round_ = 0, 0
            ec2 = shared[n % 2]
            while time.monotonic() < deadline:
                token = f"pg-{n}-{round_}"
                while time.monotonic() < deadline + 30:  # a client retries its token until it is answered
                    try:
                        answer = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token)
                        launched[token].update(i["InstanceId"] for i in answer["Instances"])
                        ec2.describe_instances(InstanceIds=[i["InstanceId"] for i in answer["Instances"]])
                        done += 1
                        if up.is_set():
                            after_up["ok"] += 1
                        break
                    except ClientError as caught:
                        error = caught.response["Error"]
                        failures[(caught.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"])] += 1
                        message = error.get("Message", "")
                        if not caught.response["ResponseMetadata"].get("RequestId") or any(
                                word in message for word in ("Traceback", "sqlalchemy", "asyncpg", "Error:")):
                            bad.append(repr(error))
                        time.sleep(0.5)
                round_ += 1
            return done

        with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
            futures = [pool.submit(user, n) for n in range(clients)]
            time.sleep(5)
            private_postgres.crash()
            time.sleep(1)
            health_down = [_health(w) for w in workers]
            time.sleep(3)
            private_postgres.start()
            up.set()
            completed = sum(f.result() for f in futures)
        print(f"postgres restart: {completed} launches, failures {dict(failures)}, after restart {dict(after_up)}")
        assert health_down == [503, 503]  # the workers say the database is away
        assert [_health(w) for w in workers] == [200, 200]  # and back, without a restart of theirs
        assert bad == []
        assert failures, "the outage was not seen by any request"
        # an outage is the service's trouble, answered as one; never a 500 with a Python exception name
        assert set(failures) == {(503, "Unavailable")}
        assert after_up["ok"] > 0  # served again after the restart
        assert completed > 0 and all(len(answered) == 1 for answered in launched.values())
        assert_each_token_made_one_server(devcloud, private_postgres.url)
    finally:
        for worker in workers:
            worker.stop()
