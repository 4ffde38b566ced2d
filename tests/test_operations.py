"""Operating the proxy: configuration, credentials CLI, restarts, rate limits, PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from botocore.exceptions import ClientError

from ec2proxy import config as configuration
from tests.support import ROOT, Server, ec2proxy_command


def test_sample_configuration_documents_every_option():
    sample = (ROOT / "etc" / "ec2proxy" / "ec2proxy.conf.sample").read_text()
    assert sample == configuration.sample(), \
        "regenerate with: ec2proxy config-sample > etc/ec2proxy/ec2proxy.conf.sample"
    assert all(option.help.strip() for option in configuration.OPTIONS), "every option says what it does"


def test_sample_configuration_with_every_line_uncommented_loads_as_the_defaults(tmp_path):
    """The sample is valid configuration: each default it shows parses back to the option's default."""
    uncommented = re.sub(r"^#(\w+ = )", r"\1", configuration.sample(), flags=re.M)
    path = tmp_path / "ec2proxy.conf"
    path.write_text(uncommented)
    loaded = configuration.load(str(path), environ={})
    checked = 0
    for option in configuration.OPTIONS:
        if (option.section, option.name) == ("database", "url"):  # empty means: the SQLite file in the data dir
            continue
        assert getattr(getattr(loaded, option.section.lower()), option.name) == option.default, option
        checked += 1
    assert checked == len(configuration.OPTIONS) - 1


def test_configuration_layers_file_then_environment(tmp_path):
    path = tmp_path / "ec2proxy.conf"
    path.write_text("[api]\nregion = FileRegion\nrate_limit = 5\n")
    loaded = configuration.load(str(path), environ={"EC2PROXY_API_RATE_LIMIT": "7.5"})
    assert (loaded.api.region, loaded.api.rate_limit) == ("FileRegion", 7.5)
    path.write_text("[api]\nno_such_option = 1\n")
    with pytest.raises(ValueError, match="unknown option"):
        configuration.load(str(path), environ={})


def test_restart_reuses_the_same_credential_and_data(tmp_path):
    server = Server(tmp_path / "data").start()
    try:
        first = server.demo_keys()
        assert server.client().describe_regions()["Regions"]
    finally:
        server.stop()
    server = Server(tmp_path / "data").start()
    try:
        assert server.demo_keys() == first
        assert server.client().describe_regions()["Regions"]
    finally:
        server.stop()


def _credentials_roundtrip(server: Server) -> None:
    created = json.loads(server.ec2proxy("credentials", "create", "--project", "p-ops", "--user", "u-ops").stdout)
    listed = [json.loads(line) for line in server.ec2proxy("credentials", "list").stdout.splitlines()]
    assert created["access_key"] in {entry["access_key"] for entry in listed}
    assert all("secret" not in entry for entry in listed)
    ec2 = server.client(created["access_key"], created["secret"])
    assert ec2.describe_regions()["Regions"]
    server.ec2proxy("credentials", "delete", created["access_key"])
    with pytest.raises(ClientError) as caught:
        ec2.describe_regions()
    assert caught.value.response["Error"]["Code"] == "AuthFailure"
    assert server.ec2proxy("credentials", "delete", created["access_key"], check=False).returncode == 1


def test_credentials_cli_create_list_delete(tmp_path):
    server = Server(tmp_path / "data", env={"EC2PROXY_AUTH_CACHE_TTL": "0"}).start()
    try:
        _credentials_roundtrip(server)
    finally:
        server.stop()


def test_rate_limit_answers_request_limit_exceeded(tmp_path):
    server = Server(tmp_path / "data", env={"EC2PROXY_API_RATE_LIMIT": "0.5", "EC2PROXY_API_RATE_BURST": "3"}).start()
    try:
        ec2 = server.client()
        codes = []
        for _ in range(6):
            try:
                ec2.describe_regions()
                codes.append("OK")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert codes[:3] == ["OK"] * 3 and "RequestLimitExceeded" in codes[3:]
    finally:
        server.stop()


def test_db_upgrade_command_is_idempotent_and_says_where_the_database_is(tmp_path):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from ec2proxy import db

    scripts = Config()
    scripts.set_main_option("script_location", str(db.MIGRATIONS))
    head = ScriptDirectory.from_config(scripts).get_current_head()
    for _ in range(2):
        result = subprocess.run([*ec2proxy_command(), "db", "upgrade", "--data-dir", str(tmp_path)],
                                capture_output=True, text=True, check=True)
        assert result.stdout.strip() == f"database at revision {head}"  # read from the database itself
    assert db.current_revision(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}") is None


# -- PostgreSQL ------------------------------------------------------------------

def test_two_workers_share_credentials_in_one_database(tmp_path, shared_database):
    env = {"EC2PROXY_DATABASE_URL": shared_database, "EC2PROXY_AUTH_CACHE_TTL": "0"}
    first = Server(tmp_path / "one", env=env).start()
    second = Server(tmp_path / "two", env=env).start()
    try:
        access_key, secret = first.demo_keys()
        # The second worker never wrote this key: it reads it from the shared database.
        assert second.client(access_key, secret).describe_regions()["Regions"]
        _credentials_roundtrip(second)
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize("args, env, says", [
    (["--listen", "localhost"], {}, "ec2proxy: [api] listen: expected HOST:PORT"),
    (["--metadata-listen", "127.0.0.1:http"], {}, "ec2proxy: [metadata] listen: expected HOST:PORT"),
    ([], {"EC2PROXY_DATABASE_URL": "nonsense"}, "ec2proxy: [database] url: not a database URL"),
    ([], {"EC2PROXY_DATABASE_URL": "postgresql://postgres@127.0.0.1/x"},
     "ec2proxy: [database] url: not a database URL this proxy can use"),
    ([], {"EC2PROXY_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"},
     "ec2proxy: [database] url: the database cannot be used: "),
    (["--config", "{bad}"], {}, ": not an INI file: "),
])
def test_configuration_errors_are_one_line_naming_the_option(tmp_path, args, env, says):
    bad = tmp_path / "bad.conf"
    bad.write_text("listen = 1\n[api\n")
    command = [*ec2proxy_command(), "serve", "--data-dir", str(tmp_path / "data"),
               *[a.replace("{bad}", str(bad)) for a in args]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in {**os.environ, **env}.items() if not k.startswith("EC2PROXY_")
                                 or k in env})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and says in result.stderr and "Traceback" not in result.stderr, \
        result.stderr


def test_one_serve_per_data_folder(tmp_path):
    """A second serve on a folder in use stops before writing anything, naming the first one's process; the
    first one's dev cloud and AWS CLI files are as it wrote them, and it keeps answering."""
    first = Server(tmp_path / "data").start()
    try:
        written = {path: path.stat().st_mtime_ns for path in (first.data_dir / "devcloud" / "accounts.json",
                                                              first.data_dir / "devcloud" / "clouds.yaml",
                                                              first.credentials_path)}
        result = subprocess.run([*ec2proxy_command(), "serve", "--data-dir", str(first.data_dir), "--listen",
                                 "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2
        assert result.stderr == (f"ec2proxy: another ec2proxy serve (pid {first.process.pid}) uses the data "
                                 f"folder {first.data_dir}: stop it, or give this one another --data-dir\n")
        assert {path: path.stat().st_mtime_ns for path in written} == written
        assert first.client().describe_regions()["Regions"]
    finally:
        first.stop()
    again = Server(tmp_path / "data").start()  # the lock went with the first process
    again.stop()
