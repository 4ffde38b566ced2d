"""DescribeRegions through the whole stack (signature included) vs. a bare aiohttp handler."""

from __future__ import annotations

import pathlib
import statistics
import subprocess
import sys
import time
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.load import have_wrk, wrk
from tests.support import Server, free_port


def signed(endpoint: str, access_key: str, secret: str,
           body: bytes = b"Action=DescribeRegions&Version=2016-11-15", region: str = "RegionOne") -> tuple[bytes, dict]:
    """A SigV4-signed EC2 POST (body and headers) as botocore would send it."""
    request = AWSRequest(method="POST", url=f"{endpoint}/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(access_key, secret), "ec2", region).add_auth(request)
    return body, dict(request.prepare().headers)


def wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def run(tmp: pathlib.Path, rounds: int, seconds: int) -> list[tuple[str, str, str]]:
    if not have_wrk():
        return [("DescribeRegions vs bare aiohttp", "skipped", "wrk is not installed (apt-get install wrk)")]
    server = Server(tmp / "proxy", env={"EC2PROXY_API_ACCESS_LOG": "true"}).start()
    bare = None
    try:
        body, headers = signed(server.endpoint, *server.demo_keys())
        payload = urllib.request.urlopen(urllib.request.Request(f"{server.endpoint}/", data=body, headers=headers)).read()
        (tmp / "payload.xml").write_bytes(payload)
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, "-m", "bench.bare", str(bare_port), str(tmp / "payload.xml")])
        wait_until_up(f"http://127.0.0.1:{bare_port}/")
        proxy_rps, bare_rps, proxy_p99 = [], [], []
        for _ in range(rounds):
            # Re-sign each round: the signature must stay inside the 15-minute window.
            body, headers = signed(server.endpoint, *server.demo_keys())
            figures = wrk(f"{server.endpoint}/", "POST", body, headers, seconds=seconds)
            if figures["non2xx"] or figures["errors"]:
                raise RuntimeError(f"the proxy answered errors under load: {figures}")
            proxy_rps.append(figures["rps"])
            proxy_p99.append(figures["p99"])
            bare_rps.append(wrk(f"http://127.0.0.1:{bare_port}/", "POST", body, headers, seconds=seconds)["rps"])
        from bench.__main__ import summarize

        ratio = statistics.median(proxy_rps) / statistics.median(bare_rps)
        return [
            ("bare aiohttp handler, same bytes (req/s)", summarize(bare_rps), "wrk -t1 -c16, baseline"),
            ("DescribeRegions, full stack with SigV4 (req/s)", summarize(proxy_rps),
             f"p99 {statistics.median(proxy_p99):.1f} ms"),
            ("DescribeRegions / bare ratio", f"{ratio:.2f}", "target >= 0.5"),
        ]
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait()
        server.stop()
