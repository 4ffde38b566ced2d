"""The AWS SDK for JavaScript v3 (@aws-sdk/client-ec2 and client-sts from npm) drives a whole stack through a
real ``ec2proxy serve``: its serializers, parsers, waiters and paginators are generated apart from botocore's.
The packages are installed once into ~/.cache/ec2proxy-jssdk (EC2PROXY_JSSDK_DIR); without node and npm the test
skips, saying so."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from tests.live_feeds import LiveFeed

PACKAGES = ("@aws-sdk/client-ec2@3.1178.0", "@aws-sdk/client-sts@3.1178.0")
HERE = pathlib.Path(__file__).resolve().parent
# The live view on (the dev cloud notifying on the machine's RabbitMQ): this client's Describe* calls are answered
# from it wherever it can vouch for them, as a cloud with notifications would answer them
FEED = LiveFeed()
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2", **FEED.env}

_live_feed_removed = FEED.module_fixture()


@pytest.fixture(scope="module")
def sdk() -> pathlib.Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are not installed: the JavaScript SDK tier needs them (apt-get install nodejs npm)")
    folder = pathlib.Path(os.environ.get("EC2PROXY_JSSDK_DIR") or pathlib.Path.home() / ".cache" / "ec2proxy-jssdk")
    marker = folder / "installed.txt"
    if not marker.exists() or marker.read_text() != "\n".join(PACKAGES):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(json.dumps({"name": "ec2proxy-jssdk", "private": True}))
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", *PACKAGES], cwd=folder,
                       check=True, capture_output=True, timeout=600)
        marker.write_text("\n".join(PACKAGES))
    script = folder / "stack.mjs"  # beside its node_modules, where node resolves them
    shutil.copy(HERE / "jssdk" / "stack.mjs", script)
    return script


def test_a_whole_stack_through_the_javascript_sdk(proxy, sdk):
    access, secret = proxy.demo_keys()
    env = {**os.environ, "EC2PROXY_ENDPOINT": proxy.endpoint, "AWS_ACCESS_KEY_ID": access,
           "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "RegionOne"}
    result = subprocess.run(["node", str(sdk)], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"ok": True, "steps": ["sts", "network", "instances", "volumes", "addresses", "paging",
                                             "terminated", "torn down", "errors"]}


def test_the_live_view_answered(proxy, sdk):
    """After the module's runs: some of their Describe* answers were the live view's (the runs passing says
    they were right)."""
    FEED.answered(proxy)
