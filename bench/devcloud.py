"""The dev cloud at scale: a full paged GET /servers/detail of 10,000 servers in one project."""

from __future__ import annotations

import json
import pathlib
import statistics
import subprocess
import sys
import time
import urllib.request

from tests.support import free_port


def call(url: str, token: str | None = None, body: dict | None = None, method: str = "GET"):
    headers = {"Content-Type": "application/json", "OpenStack-API-Version": "compute 2.100"}
    if token:
        headers["X-Auth-Token"] = token
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.headers, response.read()


def start(tmp: pathlib.Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ec2proxy", "devcloud", "--data-dir", str(tmp),
                                "--listen", f"127.0.0.1:{port}", "--delay", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            call(f"{url}/identity/v3")
            return process, url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the dev cloud did not start")


def login(url: str, tmp: pathlib.Path, account: str = "demo") -> tuple[str, str]:
    entry = json.loads((tmp / "devcloud" / "accounts.json").read_text())[account]
    headers, _ = call(f"{url}/identity/v3/auth/tokens", body={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": entry["username"], "password": entry["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"id": entry["project_id"]}}}}, method="POST")
    return headers["X-Subject-Token"], entry["project_id"]


def fill(url: str, token: str, count: int) -> None:
    _, body = call(f"{url}/image/v2/images", token)
    image = json.loads(body)["images"][0]["id"]
    made = 0
    while made < count:
        batch = min(100, count - made)
        call(f"{url}/compute/v2.1/servers", token, {"server": {
            "name": f"bench-{made}", "imageRef": image, "flavorRef": "1", "min_count": batch, "max_count": batch,
            "networks": "auto",
            "return_reservation_id": True}}, "POST")
        made += batch


def list_all(url: str, token: str) -> tuple[float, int, int]:
    """Seconds, servers and pages of one full listing."""
    started = time.perf_counter()
    marker, servers, pages = None, 0, 0
    while True:
        query = "?limit=1000" + (f"&marker={marker}" if marker else "")
        _, body = call(f"{url}/compute/v2.1/servers/detail{query}", token)
        page = json.loads(body)
        pages += 1
        servers += len(page["servers"])
        if not page.get("servers_links"):
            return time.perf_counter() - started, servers, pages
        marker = page["servers"][-1]["id"]


def run(tmp: pathlib.Path, rounds: int, count: int = 10000) -> list[tuple[str, str, str]]:
    process, url = start(tmp)
    try:
        token, _ = login(url, tmp)
        started = time.perf_counter()
        fill(url, token, count)
        filled = time.perf_counter() - started
        times = []
        for _ in range(rounds):
            seconds, servers, pages = list_all(url, token)
            assert servers == count, servers
            times.append(seconds)
        median = statistics.median(times)
        return [
            (f"dev cloud: create {count:,} servers (multi-create of 100)", f"{filled:.1f} s", "one-time fill"),
            (f"dev cloud: GET /servers/detail, all {count:,} servers", f"{median:.2f} s",
             f"{pages} pages of 1,000; min {min(times):.2f} s, max {max(times):.2f} s"),
        ]
    finally:
        process.terminate()
        process.wait()


def separate(tmp: pathlib.Path) -> tuple[subprocess.Popen, str, object, tuple[str, str]]:
    """A dev cloud in its own process and a proxy pointed at it, as a deployment runs them (the backend's
    work then runs beside the proxy's, not on its event loop); the demo project's access keys."""
    from tests.support import Server

    process, url = start(tmp / "cloud")
    accounts = json.loads((tmp / "cloud" / "devcloud" / "accounts.json").read_text())
    service = accounts["ec2proxy"]
    config = tmp / "ec2proxy.conf"
    config.write_text("\n".join([
        "[openstack]", f"auth_url = {url}/identity/v3", f"username = {service['username']}",
        f"password = {service['password']}", f"project_name = {service['project_name']}",
        "[api]", "access_log = false"]) + "\n")
    server = Server(tmp / "proxy", config=config)
    server.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    server.credentials_path.write_text("")
    server.start()
    created = json.loads(server.ec2proxy("credentials", "create", "--project", accounts["demo"]["project_id"],
                                         "--user", accounts["demo"]["user_id"]).stdout)
    return process, url, server, (created["access_key"], created["secret"])
