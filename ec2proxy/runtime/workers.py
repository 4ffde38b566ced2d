"""``serve --workers N``: one supervisor, N worker processes on the same listening sockets.

The supervisor binds the API, admin and metadata sockets once and hands them
to each worker (inherited file descriptors, named in ``EC2PROXY_WORKER_SOCKETS``);
the kernel spreads connections over the workers, each with its own event
loop, pools and caches. Everything that must be exactly-once is decided by
the database, so workers share nothing else. A worker that dies is replaced;
SIGTERM is passed on, and each worker stops accepting, finishes what is in
flight (aiohttp's graceful shutdown) and exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys

from ec2proxy.config import Config, split_hostport

LOG = logging.getLogger("ec2proxy.workers")
SOCKETS_ENV = "EC2PROXY_WORKER_SOCKETS"  # "api=3,admin=4,metadata=5"
METRICS_ENV = "EC2PROXY_WORKER_METRICS"  # the folder where workers share their counts
STOP_TIMEOUT = 75.0  # aiohttp waits up to 60 s for in-flight requests


def count(asked: str) -> int:
    """``auto`` is one worker per core."""
    if asked == "auto":
        return os.cpu_count() or 1
    number = int(asked)
    if number < 1:
        raise ValueError("--workers must be at least 1 (or auto)")
    return number


def bind(config: Config) -> dict[str, socket.socket]:
    """The listening sockets of every configured listener, inheritable."""
    sockets = {}
    for name, listen in (("api", config.api.listen), ("admin", config.admin.listen),
                         ("metadata", config.metadata.listen)):
        if not listen:
            continue
        host, port = split_hostport(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.set_inheritable(True)
        sockets[name] = sock
    return sockets


def is_worker() -> bool:
    return bool(os.environ.get(SOCKETS_ENV))


def inherited() -> dict[str, socket.socket] | None:
    """In a worker: the supervisor's sockets by listener name; None in a process of its own."""
    named = os.environ.get(SOCKETS_ENV)
    if not named:
        return None
    out = {}
    for item in named.split(","):
        name, _, fd = item.partition("=")
        out[name] = socket.socket(fileno=int(fd))
    return out


class Pool:
    """N workers kept running until ``stop`` is set; then stopped gracefully."""

    def __init__(self, config: Config, sockets: dict[str, socket.socket], size: int):
        self.sockets, self.size = sockets, size
        self.metrics_dir = config.data_dir / "run" / f"metrics-{os.getpid()}"
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True, mode=0o700)
        self.env = {**os.environ, SOCKETS_ENV: ",".join(f"{n}={s.fileno()}" for n, s in sockets.items()),
                    METRICS_ENV: str(self.metrics_dir)}
        self.command = [sys.executable, "-m", "ec2proxy", *sys.argv[1:]]
        self.processes: list[subprocess.Popen] = []
        self.replaced = 0

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen(self.command, env=self.env, pass_fds=[s.fileno() for s in self.sockets.values()])

    async def run(self, stop: asyncio.Event) -> None:
        self.processes = [self._spawn() for _ in range(self.size)]
        LOG.info("started %d workers: %s", self.size, " ".join(str(p.pid) for p in self.processes))
        try:
            while not stop.is_set():
                for index, process in enumerate(self.processes):
                    if process.poll() is not None:
                        LOG.warning("worker %d exited with %s; starting another", process.pid, process.returncode)
                        self.processes[index] = self._spawn()
                        self.replaced += 1
                try:
                    await asyncio.wait_for(stop.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self._stop()

    async def _stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + STOP_TIMEOUT
        while any(p.poll() is None for p in self.processes) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        for process in self.processes:
            if process.poll() is None:
                LOG.warning("worker %d did not stop in %.0f s; killing it", process.pid, STOP_TIMEOUT)
                process.kill()
                process.wait()
        for sock in self.sockets.values():
            sock.close()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
