"""Where the cloud-client contract tests run: the dev cloud, or a real cloud.

By default each test gets a fresh dev cloud in this process, on a real
loopback port. With ``EC2PROXY_TEST_CLOUD=<clouds.yaml cloud>`` (and
``OS_CLIENT_CONFIG_FILE`` if the file is not in a standard place) the same
tests run against that cloud instead; tests that need the dev cloud's fault
injection then skip, saying why.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

import aiohttp
from aiohttp import web

from ec2proxy import devcloud
from ec2proxy.cloud import Cloud
from ec2proxy.cloud.auth import Authenticator, clouds_yaml_options

REAL_CLOUD = os.environ.get("EC2PROXY_TEST_CLOUD")


@dataclasses.dataclass
class Target:
    url: str | None  # the dev cloud's root, None for a real cloud
    accounts: dict
    session: aiohttp.ClientSession
    app: web.Application | None = None

    @property
    def real(self) -> bool:
        return self.url is None

    def cloud(self, account: str = "ec2proxy", retries: int = 2, timeout: float = 10.0) -> Cloud:
        return Cloud(self.session, Authenticator(self.options(account)), timeout=timeout, retries=retries)

    def options(self, account: str) -> dict:
        if self.real:
            return clouds_yaml_options(REAL_CLOUD)
        entry = self.accounts[account]
        return {"auth_url": f"{self.url}/identity/v3", "auth_type": "password", "username": entry["username"],
                "password": entry["password"], "project_name": entry["project_name"],
                "user_domain_name": "Default", "project_domain_name": "Default"}

    @property
    def state(self):
        return self.app[devcloud.STATE]


async def start(tmp_path: pathlib.Path, delay: float = 0.05):
    """A running dev cloud (or the configured real cloud) and a client session."""
    session = aiohttp.ClientSession()
    if REAL_CLOUD:
        return Target(None, {}, session), None
    app = devcloud.create_app(tmp_path / "devcloud", delay=delay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return Target(f"http://127.0.0.1:{port}", devcloud.accounts(app[devcloud.STATE].store), session, app), runner
