"""DescribeImages, DescribeSecurityGroups and DescribeTags at 1,000 objects: server time, backend calls per
request, and the backend's own listing of the same objects (one request each, alternately)."""

from __future__ import annotations

import json
import pathlib
import statistics
import time

from bench import devcloud
from bench.instances import _backend_calls, _timed_post

COUNT = 1000


def _fill(url: str, token: str, client) -> None:
    for i in range(COUNT):
        devcloud.call(f"{url}/image/v2/images", token, {"name": f"bench-image-{i}", "container_format": "bare",
                                                         "disk_format": "raw", "visibility": "private"}, "POST")
        devcloud.call(f"{url}/network/v2.0/security-groups", token,
                      {"security_group": {"name": f"bench-sg-{i}", "description": "bench"}}, "POST")
    groups = [g["GroupId"] for g in client.describe_security_groups()["SecurityGroups"]]
    for group in groups[:COUNT // 50]:  # 50 tags on each of 20 groups: 1,000 tags
        client.create_tags(Resources=[group], Tags=[{"Key": f"key-{k}", "Value": "v"} for k in range(50)])


def _backend_list(url: str, token: str, path: str, key: str, count: int) -> float:
    started = time.perf_counter()
    _, body = devcloud.call(f"{url}/{path}", token)
    assert len(json.loads(body)[key]) >= count
    return time.perf_counter() - started


def compare_listings(server, keys, url: str, token: str, cases, rounds: int, count: int) -> list[tuple[str, str, str]]:
    """Each (name, request body, backend (path, key) or None): the proxy's answer and the backend's own listing,
    alternately, with the backend calls each answer cost."""
    from bench.__main__ import summarize

    rows: list[tuple[str, str, str]] = []
    for name, body, backend_path in cases:
        proxy, backend = [], []
        _timed_post(server.endpoint, keys, body)  # warm
        before = _backend_calls(server)
        for _ in range(rounds):
            seconds, size = _timed_post(server.endpoint, keys, body)
            proxy.append(seconds)
            if backend_path:
                backend.append(_backend_list(url, token, *backend_path, count))
        calls = (_backend_calls(server) - before) / rounds
        note = f"{size / 1e6:.2f} MB of XML; {calls:.0f} backend calls per request"
        rows.append((f"{name}, {count:,} objects, proxy (ms)", summarize([s * 1000 for s in proxy]), note))
        if backend:
            rows += [(f"the backend listing for {name} alone (ms)", summarize([s * 1000 for s in backend]),
                      "same dev cloud, one page"),
                     (f"{name} / backend ratio", f"{statistics.median(proxy) / statistics.median(backend):.2f}",
                      "report")]
    return rows


def run(tmp: pathlib.Path, rounds: int) -> list[tuple[str, str, str]]:

    rows: list[tuple[str, str, str]] = []
    cloud, url, server, keys = devcloud.separate(tmp)
    try:
        token, _ = devcloud.login(url, tmp / "cloud")
        _fill(url, token, server.client(*keys))
        cases = [
            ("DescribeImages", b"Action=DescribeImages&Version=2016-11-15&Owner.1=self",
             ("image/v2/images?limit=2000", "images")),
            ("DescribeSecurityGroups", b"Action=DescribeSecurityGroups&Version=2016-11-15",
             ("network/v2.0/security-groups", "security_groups")),
            ("DescribeTags", b"Action=DescribeTags&Version=2016-11-15", None),
        ]
        rows += compare_listings(server, keys, url, token, cases, rounds, COUNT)
    finally:
        server.stop()
        cloud.terminate()
        cloud.wait()
    return rows
