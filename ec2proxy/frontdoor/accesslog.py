"""The access log: one JSON line per request, written in batches.

A ``logging`` record plus a write per request costs about as much as the
request itself, so lines are buffered and written every quarter second (or
every 512 lines). Only the request id, action, project, status, code and
duration are written: never parameters, signatures or secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import json
import sys
import time
from typing import AsyncIterator, TextIO

_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


class AccessLog:
    def __init__(self, stream: TextIO | None = None, max_lines: int = 512):
        self._stream = stream if stream is not None else sys.stderr
        self._lines: list[str] = []
        self._max_lines = max_lines
        self._second = -1
        self._stamp = ""

    def record(self, request_id: str, action: str, project: str, status: int, code: str, seconds: float,
               known_action: bool) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S"
            )
        shown = f'"{action}"' if known_action else json.dumps(action[:64])
        self._lines.append(
            f'{{"time": "{self._stamp}{_MILLIS[int((now - second) * 1000)]}", "request_id": "{request_id}", '
            f'"action": {shown}, "project": {_json(project)}, "status": {status}, "code": "{code}", '
            f'"duration_ms": {seconds * 1000:.2f}}}\n'
        )
        if len(self._lines) >= self._max_lines:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            try:
                self._stream.write("".join(lines))
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or full log must not take requests down

    @contextlib.asynccontextmanager
    async def running(self, interval: float = 0.25) -> AsyncIterator["AccessLog"]:
        async def flusher() -> None:
            while True:
                await asyncio.sleep(interval)
                self.flush()

        task = asyncio.create_task(flusher())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.flush()


@functools.lru_cache(maxsize=4096)  # a worker serves a few projects, many times
def _json(text: str) -> str:
    return json.dumps(text)
