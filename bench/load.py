"""Load generation with wrk (Debian package ``wrk``): one fixed request, many connections."""

from __future__ import annotations

import contextlib
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Callable, Iterator

_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
wrk.headers = {{}}
{headers}
done = function(summary, latency, requests)
  io.write(string.format("JSON{{\\"requests\\": %d, \\"errors\\": %d, \\"non2xx\\": %d, " ..
                         "\\"seconds\\": %f, \\"p50\\": %f, \\"p99\\": %f}}\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for our bytes


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


_ROTATE = """
local sets = {{{sets}}}
local n = 0
request = function()
  n = n % #sets + 1
  return wrk.format(nil, nil, sets[n])
end
"""


def wrk(url: str, method: str, body: bytes, headers: dict, connections: int = 16, seconds: int = 5,
        threads: int = 1, rotate: list[dict] | None = None) -> dict:
    """Requests/s and latency percentiles (ms) of one request; ``rotate``: header sets taken in turn."""
    lines = "\n".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()
                      if k.lower() not in ("content-length",))
    script = _SCRIPT.format(method=_lua(method), body=_lua(body.decode()), headers=lines)
    if rotate:
        sets = ", ".join("{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in one.items()) + "}" for one in rotate)
        script += _ROTATE.format(sets=sets)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        result = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s", handle.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        )
    finally:
        pathlib.Path(handle.name).unlink()
    match = re.search(r"JSON(\{.*\})", result.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(match.group(1))
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextlib.contextmanager
def bare_handler(payload: bytes, tmp: pathlib.Path, low_level: bool = False) -> Iterator[str]:
    """The baseline, ``python -m bench.bare`` answering ``payload`` to anything; yields its URL.

    ``low_level``: on aiohttp's low-level server (no Application, no router), as the EC2 API listener runs.
    """
    from tests.support import free_port

    (tmp / "bare-payload").write_bytes(payload)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.bare", str(port), str(tmp / "bare-payload")]
                               + (["low-level"] if low_level else []))
    try:
        wait_until_up(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait()


def alternate(rounds: int, proxy: Callable[[], dict], bare: Callable[[], dict],
              **others: Callable[[], dict]) -> dict[str, list[float]]:
    """Proxy and baselines measured in turn each round (the machine is noisy); errors under load abort."""
    out: dict[str, list[float]] = {"proxy": [], "bare": [], "p99": [], **{name: [] for name in others}}
    for _ in range(rounds):
        figures = proxy()
        if figures["non2xx"] or figures["errors"]:
            raise RuntimeError(f"errors under load: {figures}")
        out["proxy"].append(figures["rps"])
        out["p99"].append(figures["p99"])
        out["bare"].append(bare()["rps"])
        for name, run in others.items():
            out[name].append(run()["rps"])
    return out
