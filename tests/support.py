"""Running a real ``ec2proxy serve`` for tests, and clients pointed at it."""

from __future__ import annotations

import configparser
import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

# The checkout the suite came from (tox copies the tests out of it, so that only the installed package imports).
ROOT = pathlib.Path(os.environ.get("EC2PROXY_TEST_CHECKOUT") or pathlib.Path(__file__).resolve().parent.parent)


def ec2proxy_command() -> list[str]:
    """The installed console script when there is one (what users run), else the module."""
    script = pathlib.Path(sys.executable).with_name("ec2proxy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ec2proxy"]
WAIT = {"Delay": 1, "MaxAttempts": 60}  # botocore waiters: once a second, for a minute


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """An ``ec2proxy serve`` subprocess on loopback with its own data dir."""

    def __init__(self, data_dir: pathlib.Path, config: pathlib.Path | None = None, env: dict | None = None,
                 args: tuple[str, ...] = ()):
        self.data_dir = data_dir
        self.args = args  # more ``serve`` options (--workers 2)
        self.config = config
        self.port = free_port()
        self.admin_port = free_port()
        self.metadata_port = free_port()
        self.metadata = f"http://127.0.0.1:{self.metadata_port}"
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.log = data_dir / "serve.log"
        self.started = False

    def start(self, timeout: float = 60) -> "Server":
        """Start and wait until it serves; a port the previous run of this server still held is waited out, and
        on a first start a port another process took meanwhile (the suite runs in two processes, each finding
        free ports) is given up for new ones."""
        for attempt in range(3):
            try:
                self._start(timeout)
                self.started = True
                return self
            except RuntimeError as exc:
                if attempt == 2 or "address already in use" not in str(exc).lower():
                    raise
                if self.started:
                    time.sleep(2)
                else:
                    self._new_ports()
        raise AssertionError("unreachable")

    def _new_ports(self) -> None:
        self.port, self.admin_port, self.metadata_port = free_port(), free_port(), free_port()
        self.metadata = f"http://127.0.0.1:{self.metadata_port}"
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"

    def _start(self, timeout: float) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [*ec2proxy_command(), "serve", "--data-dir", str(self.data_dir),
                   "--listen", f"127.0.0.1:{self.port}", "--admin-listen", f"127.0.0.1:{self.admin_port}",
                   "--metadata-listen", f"127.0.0.1:{self.metadata_port}"]
        if self.config is not None:
            command += ["--config", str(self.config)]
        command += list(self.args)
        self._log_handle = open(self.log, "ab")
        logged = self.log.stat().st_size
        self.process = subprocess.Popen(command, stdout=self._log_handle, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ec2proxy serve exited {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/healthz", timeout=1) as response:
                    # (ours: it says it serves there once it holds its ports; another process may answer on a
                    # port this one has yet to find taken)
                    if response.status == 200 and self.credentials_path.exists() and \
                            f"EC2 API at {self.endpoint}" in self._logged_since(logged):
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ec2proxy serve did not become healthy:\n{self.log.read_text()}")

    def _logged_since(self, offset: int) -> str:
        with open(self.log, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self._log_handle.close()
        self.process = None

    def kill(self) -> None:
        """kill -9, then wait until nothing answers on its ports, so a start() after it binds them anew."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self._log_handle.close()
            self.process = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.1)

    @property
    def credentials_path(self) -> pathlib.Path:
        return self.data_dir / "aws" / "credentials"

    @property
    def config_path(self) -> pathlib.Path:
        return self.data_dir / "aws" / "config"

    def demo_keys(self) -> tuple[str, str]:
        parser = configparser.ConfigParser()
        parser.read(self.credentials_path)
        return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]

    def aws_env(self) -> dict:
        return {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(self.credentials_path),
                "AWS_CONFIG_FILE": str(self.config_path), "AWS_MAX_ATTEMPTS": "1",
                "AWS_RETRY_MODE": "standard"}

    def client(self, access_key: str | None = None, secret: str | None = None, region: str = "RegionOne", **kw):
        if access_key is None:
            access_key, secret = self.demo_keys()
        return boto3.session.Session().client(
            "ec2",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            config=BotoConfig(retries={"total_max_attempts": 1}, **kw),
        )

    def aws(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The AWS CLI as a subprocess, configured only by the files the proxy wrote."""
        result = subprocess.run(["aws", *args], env=self.aws_env(), capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def ec2proxy(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [*ec2proxy_command(), *args, "--data-dir", str(self.data_dir)]
        if self.config is not None:
            command += ["--config", str(self.config)]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"ec2proxy {' '.join(args)} failed: {result.stderr}")
        return result


def ebs_root(ec2, ami: str, size: int = 3) -> list[dict]:
    """``BlockDeviceMappings`` that put an instance's root on a new EBS volume made of ``ami`` (an instance that
    CreateImage can image, as on AWS); the dev cloud's image asks no more than 3 GiB."""
    root = ec2.describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    return [{"DeviceName": root, "Ebs": {"VolumeSize": size, "DeleteOnTermination": True}}]


def own_image(ec2, ami: str, name: str) -> str:
    """An image of the caller's own with data in Glance (a copy of the cloud's public image), available."""
    image = ec2.copy_image(SourceImageId=ami, SourceRegion=ec2.meta.region_name, Name=name)["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
    return image


def launch_with_volume(ec2, ami: str, **launch) -> tuple[str, str, str]:
    """One running instance and an available 1 GiB volume in its zone: (instance id, zone, volume id)."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, **launch)["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    zone = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["Placement"][
        "AvailabilityZone"]
    volume = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    return iid, zone, volume


def when_free(call, busy: str, attempts: int = 60, delay: float = 1.0, **kwargs):
    """``call(**kwargs)`` once what holds the resource lets go (Nova frees ports a moment after the servers
    go): retried while it fails with ``busy``; any other error, or ``busy`` after ``attempts`` tries, fails."""
    for _ in range(attempts - 1):
        try:
            return call(**kwargs)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == busy, exc
            time.sleep(delay)
    return call(**kwargs)


def until(check, seconds: float = 90.0, delay: float = 1.0) -> None:
    """Ask ``check()`` until it is true; after ``seconds`` the test fails."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not reached in {seconds} s"
        time.sleep(delay)


def code_of(call, **kwargs) -> str:
    """The EC2 error code a boto3 call fails with (it must fail)."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


def changes_a_reader_tries(client, instance_id: str, image_id: str, zone: str) -> list:
    """Calls that change a project, each a thunk: what a read-only user must be refused, whatever keeps the
    state (the proxy alone: tags, attributes, DHCP options; or the cloud behind it)."""
    return [
        lambda: client.create_tags(Resources=[instance_id, image_id], Tags=[{"Key": "team", "Value": "reader"}]),
        lambda: client.delete_tags(Resources=[instance_id]),
        lambda: client.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True}),
        lambda: client.modify_instance_attribute(InstanceId=instance_id,
                                                 InstanceInitiatedShutdownBehavior={"Value": "terminate"}),
        lambda: client.modify_instance_metadata_options(InstanceId=instance_id, HttpTokens="required"),
        lambda: client.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name",
                                                                "Values": ["auditor.example"]}]),
        lambda: client.create_key_pair(KeyName="auditor-key"),
        lambda: client.import_key_pair(KeyName="auditor-imported", PublicKeyMaterial=(
            b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ2b2dzaGVyZS1vZi10aGUtcmVhZGVyLWtleS0wMDAw auditor")),
        lambda: client.create_volume(Size=1, AvailabilityZone=zone),
        lambda: client.run_instances(ImageId=image_id, MinCount=1, MaxCount=1),
        lambda: client.stop_instances(InstanceIds=[instance_id]),
        lambda: client.terminate_instances(InstanceIds=[instance_id]),
        lambda: client.create_vpc(CidrBlock="10.91.0.0/16"),
        lambda: client.create_security_group(GroupName="auditor", Description="no"),
        lambda: client.allocate_address(Domain="vpc"),
        lambda: client.create_tags(Resources=[instance_id], Tags=[{"Key": "x", "Value": "y"}], DryRun=True),
    ]


def nothing_a_reader_tried_shows(client, instance_id: str, image_id: str) -> None:
    """What ``changes_a_reader_tries`` would have left, looked for as the project's member sees it."""
    after = client.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    assert after["State"]["Name"] in ("pending", "running") and after["Tags"] == [{"Key": "team", "Value": "a"}]
    assert after["MetadataOptions"]["HttpTokens"] == "optional"
    assert client.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")[
        "DisableApiTermination"] == {"Value": False}
    assert client.describe_instance_attribute(InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
    assert client.describe_tags(Filters=[{"Name": "resource-id", "Values": [image_id]}])["Tags"] == []
    assert not client.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["auditor-*"]}])["KeyPairs"]
    assert not client.describe_dhcp_options(Filters=[{"Name": "value", "Values": ["auditor.example"]}])[
        "DhcpOptions"]
    assert not client.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["auditor"]}])[
        "SecurityGroups"]
    assert not client.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.91.0.0/16"]}])["Vpcs"]
