"""The embedded default: a demo credential and ready-to-use AWS CLI files.

On first start with no cloud configured, ``ec2proxy serve --data-dir DIR``
writes ``DIR/aws/credentials`` and ``DIR/aws/config`` (profile ``default``)
so that pointing ``AWS_SHARED_CREDENTIALS_FILE``/``AWS_CONFIG_FILE`` at them
is all a user needs. Later starts reuse the same key; the config file is
rewritten when the listener moves.
"""

from __future__ import annotations

import configparser
import json
import os
import pathlib

from ec2proxy.auth.credentials import Identity, LocalCredentialStore


def aws_paths(data_dir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    return data_dir / "aws" / "credentials", data_dir / "aws" / "config"


def _read_profile(path: pathlib.Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return {}
    return dict(parser["default"]) if parser.has_section("default") else {}


async def ensure_demo_credential(
    store: LocalCredentialStore, data_dir: pathlib.Path, project_id: str, user_id: str
) -> Identity:
    """The demo key named in DIR/aws/credentials if it still exists, else a new one."""
    credentials_path, _ = aws_paths(data_dir)
    known = _read_profile(credentials_path).get("aws_access_key_id")
    if known:
        identity = await store.get(known)
        if identity is not None and identity.project_id == project_id:
            return identity
    return await store.create(project_id, user_id)


def write_aws_files(data_dir: pathlib.Path, identity: Identity, region: str, endpoint: str) -> None:
    credentials_path, config_path = aws_paths(data_dir)
    credentials_path.parent.mkdir(parents=True, exist_ok=True)
    _write(
        credentials_path,
        "[default]\n"
        f"aws_access_key_id = {identity.access_key}\n"
        f"aws_secret_access_key = {identity.secret}\n",
    )
    _write(config_path, f"[default]\nregion = {region}\nendpoint_url = {endpoint}\noutput = json\n")


def _write(path: pathlib.Path, content: str) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.replace(temporary, path)


def usage_lines(data_dir: pathlib.Path, identity: Identity, region: str, endpoint: str) -> list[str]:
    credentials_path, config_path = aws_paths(data_dir)
    return [
        f"ec2proxy: EC2 API at {endpoint} (region {region}, project {identity.project_id})",
        "Use the AWS CLI with the files written for you:",
        f"  export AWS_SHARED_CREDENTIALS_FILE={credentials_path} AWS_CONFIG_FILE={config_path}",
        "  aws ec2 describe-regions",
        "or configure a profile yourself:",
        f"  aws configure set aws_access_key_id {identity.access_key}",
        # The secret stays in the 0600 file: stdout often ends up in a journal.
        f"  aws configure set aws_secret_access_key \"$(sed -n 's/^aws_secret_access_key = //p' {credentials_path})\"",
        f"  aws configure set region {region}",
        f"  aws --endpoint-url {endpoint} ec2 describe-regions",
    ]


def use_devcloud(config, url: str, accounts: dict) -> None:
    """Point ``config`` at the dev cloud at ``url`` as its ``ec2proxy`` service user."""
    service = accounts["ec2proxy"]
    openstack = config.openstack
    openstack.auth_url, openstack.auth_type = f"{url}/identity/v3", "password"
    openstack.username, openstack.password = service["username"], service["password"]
    openstack.project_name, openstack.user_domain_name, openstack.project_domain_name = "service", "Default", "Default"


def use_running_devcloud(config) -> bool:
    """For commands beside a running embedded ``serve``: find its dev cloud by the files it wrote."""
    if not config.embedded:
        return True
    clouds = config.data_dir / "devcloud" / "clouds.yaml"
    accounts = config.data_dir / "devcloud" / "accounts.json"
    if not (clouds.exists() and accounts.exists()):
        return False
    import yaml

    auth_url = yaml.safe_load(clouds.read_text())["clouds"]["devcloud-demo"]["auth"]["auth_url"]
    use_devcloud(config, auth_url.removesuffix("/identity/v3"), json.loads(accounts.read_text()))
    return True
