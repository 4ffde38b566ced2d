"""DescribeRegions through the whole stack (signature included) vs. a bare aiohttp handler."""

from __future__ import annotations

import pathlib
import statistics
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.load import alternate, bare_handler, have_wrk, wrk
from tests.support import Server


def signed(endpoint: str, access_key: str, secret: str,
           body: bytes = b"Action=DescribeRegions&Version=2016-11-15", region: str = "RegionOne") -> tuple[bytes, dict]:
    """A SigV4-signed EC2 POST (body and headers) as botocore would send it."""
    request = AWSRequest(method="POST", url=f"{endpoint}/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(access_key, secret), "ec2", region).add_auth(request)
    return body, dict(request.prepare().headers)


def run(tmp: pathlib.Path, rounds: int, seconds: int) -> list[tuple[str, str, str]]:
    if not have_wrk():
        return [("DescribeRegions vs bare aiohttp", "skipped", "wrk is not installed (apt-get install wrk)")]
    from bench.__main__ import summarize

    server = Server(tmp / "proxy", env={"EC2PROXY_API_ACCESS_LOG": "true"}).start()
    try:
        body, headers = signed(server.endpoint, *server.demo_keys())
        request = urllib.request.Request(f"{server.endpoint}/", data=body, headers=headers)
        payload = urllib.request.urlopen(request).read()

        def proxy() -> dict:  # re-signed each round: the signature must stay inside the 15-minute window
            return wrk(f"{server.endpoint}/", "POST", *signed(server.endpoint, *server.demo_keys()), seconds=seconds)

        with bare_handler(payload, tmp) as bare_url, bare_handler(payload, tmp, low_level=True) as low_url:
            figures = alternate(rounds, proxy, lambda: wrk(bare_url, "POST", body, headers, seconds=seconds),
                                low=lambda: wrk(low_url, "POST", body, headers, seconds=seconds))
        ratio = statistics.median(figures["proxy"]) / statistics.median(figures["bare"])
        low_ratio = statistics.median(figures["proxy"]) / statistics.median(figures["low"])
        return [
            ("bare aiohttp handler, same bytes (req/s)", summarize(figures["bare"]), "wrk -t1 -c16, baseline"),
            ("bare handler on aiohttp's low-level server (req/s)", summarize(figures["low"]),
             "the server the EC2 listener runs on"),
            ("DescribeRegions, full stack with SigV4 (req/s)", summarize(figures["proxy"]),
             f"p99 {statistics.median(figures['p99']):.1f} ms"),
            ("DescribeRegions / bare ratio", f"{ratio:.2f}", "target >= 0.5"),
            ("DescribeRegions / low-level bare ratio", f"{low_ratio:.2f}", "same server layer on both sides"),
        ]
    finally:
        server.stop()
