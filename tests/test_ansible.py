"""Ansible's amazon.aws modules against ``ec2proxy serve``, as a user's playbooks drive it (issue 20).

Each playbook in tests/playbooks names the state every task must report: a name ending in ``[changed]`` must
change something, one ending in ``[ok]`` must not (an idempotent re-run); any failed task fails the test.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from tests.live_feeds import LiveFeed

pytestmark = pytest.mark.e2e
PLAYBOOKS = pathlib.Path(__file__).parent / "playbooks"
# The live view on (the dev cloud notifying on the machine's RabbitMQ): this client's Describe* calls are answered
# from it wherever it can vouch for them, as a cloud with notifications would answer them
FEED = LiveFeed()
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3", **FEED.env}

_live_feed_removed = FEED.module_fixture()
_EXPECTED = re.compile(r"\[(changed|ok)\]$")


def _ansible_playbook() -> str:
    found = pathlib.Path(sys.executable).parent / "ansible-playbook"
    if found.exists():
        return str(found)
    command = shutil.which("ansible-playbook")
    if command is None:
        pytest.skip("Ansible is not installed (pip install ansible; the test extras bring it)")
    return command


def run_playbook(proxy, name: str, tmp_path: pathlib.Path, **extra) -> list[tuple[str, dict]]:
    """Run one playbook against the proxy; (task name, result) for every task that ran."""
    access_key, secret = proxy.demo_keys()
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"aws": {"endpoint_url": proxy.endpoint, "region": "RegionOne",
                                             "access_key": access_key, "secret_key": secret}, **extra}))
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_LOCALHOST_WARNING": "False",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False", "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
           "ANSIBLE_HOME": str(tmp_path / "ansible"), "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run([_ansible_playbook(), "-i", "localhost,", "-c", "local", "-e", f"@{variables}",
                             str(PLAYBOOKS / name)], env=env, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook {name} wrote no report ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}") from None
    ran = [(task["task"]["name"], task["hosts"]["localhost"]) for play in report["plays"]
           for task in play["tasks"] if "localhost" in task["hosts"]]
    failed = [(task, outcome.get("msg"), outcome.get("error"), outcome.get("exception", "")[-800:])
              for task, outcome in ran if outcome.get("failed")]
    assert not failed, json.dumps(failed, indent=1, default=str)
    assert result.returncode == 0, result.stderr[-3000:]
    return ran


def check_states(ran: list[tuple[str, dict]]) -> int:
    """Every task whose name says its state reported that state; how many were checked."""
    wrong = []
    checked = 0
    for task, outcome in ran:
        expected = _EXPECTED.search(task)
        if expected is None:
            continue
        checked += 1
        if bool(outcome.get("changed")) != (expected.group(1) == "changed"):
            wrong.append((task, outcome.get("changed"), {k: v for k, v in outcome.items() if k != "invocation"}))
    assert not wrong, json.dumps(wrong, indent=1, default=str)[:6000]
    return checked


def test_key_pairs_and_security_groups(proxy, tmp_path):
    ran = run_playbook(proxy, "keys_and_groups.yml", tmp_path)
    assert check_states(ran) >= 14


def test_instances_volumes_snapshots_images_and_addresses(proxy, ami, tmp_path):
    root = proxy.client().describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    ran = run_playbook(proxy, "instances.yml", tmp_path, ami=ami, root_device=root)
    assert check_states(ran) >= 28


def test_placement_groups_and_launch_templates(proxy, ami, tmp_path):
    ran = run_playbook(proxy, "templates_and_placement.yml", tmp_path, ami=ami)
    assert check_states(ran) >= 13


def test_the_live_view_answered(proxy):
    """After the module's runs: some of their Describe* answers were the live view's (the runs passing says
    they were right)."""
    _ansible_playbook()  # (skips where Ansible is not installed, as the playbooks did)
    FEED.answered(proxy)
