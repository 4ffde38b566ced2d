"""The dev cloud in a process of its own, and proxies pointed at it as at a real cloud."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support import Server, free_port


class DevCloudProcess:
    def __init__(self, data_dir: pathlib.Path, env: dict | None = None):
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}  # its settings, as EC2PROXY_DEVCLOUD_* (notify_url...)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> "DevCloudProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.data_dir / "devcloud.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ec2proxy", "devcloud", "--data-dir", str(self.data_dir),
             "--listen", f"127.0.0.1:{self.port}", "--delay", "0.1"], stdout=self.log, stderr=subprocess.STDOUT,
            env=self.env)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.url}/identity/v3", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError((self.data_dir / "devcloud.log").read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # an in-flight request (a 'late' fault) holds the shutdown
                self.process.kill()
                self.process.wait()
            self.log.close()
            self.process = None

    @property
    def clouds_yaml(self) -> pathlib.Path:
        return self.data_dir / "devcloud" / "clouds.yaml"

    @property
    def accounts(self) -> dict:
        return json.loads((self.data_dir / "devcloud" / "accounts.json").read_text())

    def fault_injection(self):
        """``inject(rule)`` a fault through the admin API, and ``clear()``, which answers how many calls the
        faults hit since the last injection (a test asserts its fault fired)."""
        admin = self.sdk("devcloud-admin")
        url = admin.session.get_endpoint(service_type="identity").split("/identity")[0] + "/_devcloud/faults"
        headers = {"X-Auth-Token": admin.session.get_token()}
        fired_before = [0]

        def inject(rule: dict) -> None:
            fired_before[0] = admin.session.get(url, headers=headers).json()["fired"]
            admin.session.post(url, json=rule, headers=headers)

        def clear() -> int:
            fired = admin.session.get(url, headers=headers).json()["fired"] - fired_before[0]
            admin.session.delete(url, headers=headers)
            return fired

        return inject, clear

    def request_log(self):
        """``read()`` the backend calls the dev cloud answered since ``clear()`` (method, path, in order)."""
        admin = self.sdk("devcloud-admin")
        url = admin.session.get_endpoint(service_type="identity").split("/identity")[0] + "/_devcloud/requests"
        headers = {"X-Auth-Token": admin.session.get_token()}

        def read() -> list[dict]:
            return admin.session.get(url, headers=headers).json()["requests"]

        def clear() -> None:
            admin.session.delete(url, headers=headers)

        return read, clear

    def admin_post(self, path: str, body: dict) -> dict:
        """POST to the dev cloud's admin API (``/_devcloud/fail-resizes``...) as its admin."""
        admin = self.sdk("devcloud-admin")
        url = admin.session.get_endpoint(service_type="identity").split("/identity")[0] + path
        return admin.session.post(url, json=body, headers={"X-Auth-Token": admin.session.get_token()}).json()

    def sdk(self, cloud: str = "devcloud-demo"):
        pytest.importorskip("openstack", reason="openstacksdk is not installed")
        from openstack import connection
        from openstack.config import loader

        config = loader.OpenStackConfig(config_files=[str(self.clouds_yaml)], load_envvars=False)
        return connection.Connection(config=config.get_one(cloud))


def server_for(devcloud, tmp_path, user: str = "ec2proxy", **options) -> Server:
    config = tmp_path / "ec2proxy.conf"
    account = devcloud.accounts[user]
    lines = ["[openstack]", f"auth_url = {devcloud.url}/identity/v3", f"username = {account['username']}",
             f"password = {account['password']}", f"project_name = {account['project_name']}", "retries = 0",
             "timeout = 2"]
    for section, values in options.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {v}" for k, v in values.items()]
    config.write_text("\n".join(lines) + "\n")
    server = Server(tmp_path / "proxy", config=config)
    server.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    server.credentials_path.write_text("")  # a real cloud writes no demo files; start() waits for one
    return server.start()


def start_worker(devcloud, tmp_path, name: str, database: str, **api) -> Server:
    account = devcloud.accounts["ec2proxy"]
    config = tmp_path / f"{name}.conf"
    lines = ["[openstack]", f"auth_url = {devcloud.url}/identity/v3", f"username = {account['username']}",
             f"password = {account['password']}", "project_name = service",
             "[database]", f"url = {database}", "[api]"] + [f"{k} = {v}" for k, v in api.items()]
    config.write_text("\n".join(lines) + "\n")
    server = Server(tmp_path / name, config=config)
    server.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    server.credentials_path.write_text("")
    return server.start()
