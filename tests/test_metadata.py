"""The metadata service as instances use it: cloud-init, ec2metadata and botocore through the embedded
forwarding proxy, and the Neutron proxy contract (signed headers) called directly."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from ec2proxy.ec2 import ids
from metadata import tokens
from tests.devclouds import DevCloudProcess
from tests.metadata_calls import fetch, secret, signed
from tests.support import WAIT, code_of, free_port

CLOUD_INIT = pathlib.Path("/usr/lib/python3/dist-packages/cloudinit")
USER_DATA = b"#cloud-config\nruncmd:\n - [echo, hello]\n\x00binary\xff"


PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2", "EC2PROXY_METADATA_CACHE_TTL": "2"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def public_key(ec2) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    ec2.import_key_pair(KeyName="md-key", PublicKeyMaterial=key.encode())
    return key


@pytest.fixture(scope="module")
def instances(proxy, ec2, public_key):
    """Two running instances A and B of one reservation, with a key, user data and a tag."""
    accounts = json.loads((proxy.data_dir / "devcloud" / "accounts.json").read_text())
    reservation = ec2.run_instances(
        ImageId=ids.from_uuid("ami", accounts["image_id"]), MinCount=2, MaxCount=2, KeyName="md-key",
        UserData=USER_DATA, InstanceType="t2.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    wanted = [i["InstanceId"] for i in reservation["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=wanted, WaiterConfig=WAIT)
    described = {i["InstanceId"]: i for i in ec2.describe_instances(InstanceIds=wanted)["Reservations"][0]["Instances"]}
    shown = [json.loads(proxy.ec2proxy("instances", "show", iid, "--json").stdout) for iid in wanted]
    yield [{**record, "described": described[record["ec2_id"]], "reservation": reservation["ReservationId"]}
           for record in shown]
    ec2.terminate_instances(InstanceIds=wanted)








@pytest.fixture(scope="module")
def forwarder(proxy, instances):
    """``ec2proxy metadata-proxy`` for instance A, as an instance would reach 169.254.169.254."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ec2proxy", "metadata-proxy", instances[0]["ec2_id"],
                                "--listen", f"127.0.0.1:{port}", "--metadata-url", proxy.metadata,
                                "--data-dir", str(proxy.data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    assert "metadata proxy for" in line, line + (process.stdout.read() if process.poll() is not None else "")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_the_tree_answers_like_ec2(proxy, instances):
    a = instances[0]
    base, headers = proxy.metadata, signed(proxy, a)
    status, body, _ = fetch(f"{base}/", headers)
    versions = body.decode().split("\n")
    assert status == 200 and versions[0] == "1.0" and versions[-1] == "latest"
    assert {"2009-04-04", "2016-09-02", "2018-09-24", "2021-03-23"} <= set(versions)
    assert fetch(f"{base}/latest/", headers)[1] == b"dynamic\nmeta-data\nuser-data"
    listing = fetch(f"{base}/latest/meta-data/", headers)[1].decode().split("\n")
    assert listing == sorted(listing)
    for entry in ("ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/", "hostname",
                  "instance-action", "instance-id", "instance-life-cycle", "instance-type", "local-hostname",
                  "local-ipv4", "mac", "network/", "placement/", "public-keys/", "reservation-id", "security-groups",
                  "services/"):
        assert entry in listing
    described = a["described"]

    def leaf(path: str, version: str = "latest") -> str:
        status, body, _ = fetch(f"{base}/{version}/meta-data/{path}", headers)
        assert status == 200, (path, status, body)
        return body.decode()

    assert leaf("instance-id") == a["ec2_id"] == described["InstanceId"]
    assert leaf("ami-id") == described["ImageId"] and leaf("instance-type") == "t2.micro"
    assert leaf("reservation-id") == a["reservation"]
    assert leaf("ami-launch-index") == str(described["AmiLaunchIndex"])
    assert leaf("local-ipv4") == described["PrivateIpAddress"] == a["private_ip"]
    assert leaf("local-hostname") == leaf("hostname") == described["PrivateDnsName"]
    assert leaf("placement/availability-zone") == described["Placement"]["AvailabilityZone"]
    assert leaf("placement/region") == "RegionOne"
    assert leaf("security-groups") == "default"
    assert leaf("services/domain") == "amazonaws.com" and leaf("services/partition") == "aws"
    assert leaf("block-device-mapping/") == "ami\nroot" and leaf("block-device-mapping/root") == "/dev/sda1"
    assert leaf("public-keys/") == "0=md-key" and leaf("public-keys/0/") == "openssh-key"
    mac = leaf("mac")
    assert leaf("network/interfaces/macs/") == f"{mac}/"
    interface = leaf(f"network/interfaces/macs/{mac}/").split("\n")
    for entry in ("device-number", "interface-id", "local-hostname", "local-ipv4s", "mac", "owner-id",
                  "security-group-ids", "security-groups", "subnet-id", "subnet-ipv4-cidr-block", "vpc-id",
                  "vpc-ipv4-cidr-block", "vpc-ipv4-cidr-blocks"):
        assert entry in interface
    assert leaf(f"network/interfaces/macs/{mac}/local-ipv4s") == a["private_ip"]
    assert leaf(f"network/interfaces/macs/{mac}/owner-id") == a["project_id"]
    assert leaf(f"network/interfaces/macs/{mac}/security-group-ids") == described["SecurityGroups"][0]["GroupId"]
    assert leaf(f"network/interfaces/macs/{mac}/subnet-ipv4-cidr-block").startswith("10.0.")
    assert leaf("instance-id", version="2009-04-04") == a["ec2_id"]  # every dated version is served
    assert leaf("instance-id", version="2030-01-01") == a["ec2_id"]
    assert fetch(f"{base}/latest/user-data", headers)[1] == USER_DATA  # raw bytes, as given
    assert fetch(f"{base}/nonsense/meta-data/instance-id", headers)[0] == 404
    assert fetch(f"{base}/latest/meta-data/no-such-thing", headers)[0] == 404
    assert fetch(f"{base}/latest/meta-data/public-ipv4", headers)[0] == 404  # no floating IP associated
    assert fetch(f"{base}/latest/meta-data/tags/instance/Name", headers)[0] == 404  # tags not enabled
    assert fetch(f"{base}/latest/meta-data/instance-id", headers, method="POST")[0] == 405


def test_instances_see_only_themselves(proxy, instances):
    a, b = instances
    base = proxy.metadata
    assert fetch(f"{base}/latest/meta-data/instance-id", signed(proxy, b))[1].decode() == b["ec2_id"]
    forged = signed(proxy, a, **{"X-Instance-ID": b["os_id"]})  # A's signature, B's id
    assert fetch(f"{base}/latest/meta-data/instance-id", forged)[0] == 403
    missing = {k: v for k, v in signed(proxy, a).items() if k != "X-Instance-ID-Signature"}
    assert fetch(f"{base}/latest/meta-data/instance-id", missing)[0] == 400
    assert fetch(f"{base}/latest/meta-data/instance-id", {})[0] == 400
    accounts = json.loads((proxy.data_dir / "devcloud" / "accounts.json").read_text())
    other_tenant = signed(proxy, a, **{"X-Tenant-ID": accounts["alt"]["project_id"]})
    assert fetch(f"{base}/latest/meta-data/instance-id", other_tenant)[0] == 404
    status, token, _ = fetch(f"{base}/latest/api/token", signed(proxy, a, **{
        "X-aws-ec2-metadata-token-ttl-seconds": "60"}), method="PUT")
    assert status == 200
    assert fetch(f"{base}/latest/meta-data/instance-id",
                 signed(proxy, b, **{"X-aws-ec2-metadata-token": token.decode()}))[0] == 401


def test_imdsv2_tokens(proxy, ec2, instances, forwarder):
    a = instances[0]
    for ttl in (None, "0", "21601", "abc"):
        headers = {} if ttl is None else {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
        assert fetch(f"{forwarder}/latest/api/token", headers, method="PUT")[0] == 400, ttl
    status, token, headers = fetch(f"{forwarder}/latest/api/token",
                                   {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}, method="PUT")
    assert status == 200 and headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    with_token = {"X-aws-ec2-metadata-token": token.decode()}
    assert fetch(f"{forwarder}/latest/meta-data/instance-id", with_token)[1].decode() == a["ec2_id"]
    # Minted with a key derived from the shared secret, never the secret itself (whose MACs sign instance ids).
    assert not tokens.valid(secret(proxy), a["os_id"], token.decode())
    assert fetch(f"{forwarder}/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": "v2.9999999999.x.y"})[0] \
        == 401
    assert fetch(f"{forwarder}/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60",
                                                   "X-Forwarded-For": "203.0.113.9"}, method="PUT")[0] == 403
    assert fetch(f"{forwarder}/latest/api/token")[0] == 405
    short = fetch(f"{forwarder}/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "1"}, method="PUT")[1]
    time.sleep(2.1)
    assert fetch(f"{forwarder}/latest/meta-data/instance-id", {"X-aws-ec2-metadata-token": short.decode()})[0] == 401

    ec2.modify_instance_metadata_options(InstanceId=a["ec2_id"], HttpTokens="required")
    try:
        assert fetch(f"{forwarder}/latest/meta-data/instance-id")[0] == 401  # our write dropped the cache entry
        assert fetch(f"{forwarder}/latest/meta-data/instance-id", with_token)[0] == 200
    finally:
        ec2.modify_instance_metadata_options(InstanceId=a["ec2_id"], HttpTokens="optional")
    ec2.modify_instance_metadata_options(InstanceId=a["ec2_id"], HttpEndpoint="disabled")
    try:
        assert fetch(f"{forwarder}/latest/meta-data/instance-id", with_token)[0] == 403
    finally:
        ec2.modify_instance_metadata_options(InstanceId=a["ec2_id"], HttpEndpoint="enabled")
    assert fetch(f"{forwarder}/latest/meta-data/instance-id")[0] == 200


def test_instance_tags_when_enabled(proxy, ec2, instances):
    b = instances[1]
    ec2.modify_instance_metadata_options(InstanceId=b["ec2_id"], InstanceMetadataTags="enabled")
    headers = signed(proxy, b)
    assert fetch(f"{proxy.metadata}/latest/meta-data/tags/instance/", headers)[1] == b"Name"
    assert fetch(f"{proxy.metadata}/latest/meta-data/tags/instance/Name", headers)[1] == b"web"
    # AWS's rule for tags in the metadata: letters, digits and + - = . , _ : @ only, never ".", ".." or "_index"
    for key in ("team/app", "has space", "..", "_index"):
        assert code_of(ec2.create_tags, Resources=[b["ec2_id"]], Tags=[{"Key": key, "Value": "x"}]) == \
            "InvalidParameterValue"
    ec2.create_tags(Resources=[b["ec2_id"]], Tags=[{"Key": "role:tier@v1.2", "Value": "db"}])
    assert fetch(f"{proxy.metadata}/latest/meta-data/tags/instance/role:tier@v1.2", headers)[1] == b"db"
    ec2.modify_instance_metadata_options(InstanceId=b["ec2_id"], InstanceMetadataTags="disabled")
    ec2.create_tags(Resources=[b["ec2_id"]], Tags=[{"Key": "team/app", "Value": "x"}])  # allowed again
    assert code_of(ec2.modify_instance_metadata_options, InstanceId=b["ec2_id"],
                   InstanceMetadataTags="enabled") == "InvalidParameterValue"  # a key the metadata cannot show
    ec2.delete_tags(Resources=[b["ec2_id"]], Tags=[{"Key": "team/app"}, {"Key": "role:tier@v1.2"}])
    assert code_of(ec2.run_instances, ImageId=b["described"]["ImageId"], MinCount=1, MaxCount=1,
                   MetadataOptions={"InstanceMetadataTags": "enabled"}, TagSpecifications=[
                       {"ResourceType": "instance", "Tags": [{"Key": "a b", "Value": "x"}]}]) == "InvalidParameterValue"


def test_identity_document_verifies_with_the_published_certificate(proxy, instances):
    a = instances[0]
    base, headers = proxy.metadata, signed(proxy, a)
    listing = fetch(f"{base}/latest/dynamic/instance-identity/", headers)[1].decode().split("\n")
    assert listing == ["document", "pkcs7", "signature"]
    document = fetch(f"{base}/latest/dynamic/instance-identity/document", headers)[1]
    fields = json.loads(document)
    assert fields["instanceId"] == a["ec2_id"] and fields["accountId"] == a["project_id"]
    assert fields["privateIp"] == a["private_ip"] and fields["region"] == "RegionOne"
    assert fields["imageId"] == a["described"]["ImageId"] and fields["instanceType"] == "t2.micro"
    assert fields["availabilityZone"] == a["described"]["Placement"]["AvailabilityZone"]
    assert fields["pendingTime"].endswith("Z") and fields["version"] == "2017-09-30"
    assert "kernelId" in fields and "ramdiskId" in fields and "architecture" in fields
    cert_path = proxy.data_dir / "metadata" / "identity.crt"
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    signature = base64.b64decode(fetch(f"{base}/latest/dynamic/instance-identity/signature", headers)[1])
    certificate.public_key().verify(signature, document, padding.PKCS1v15(), hashes.SHA256())  # raises if forged
    pkcs7 = fetch(f"{base}/latest/dynamic/instance-identity/pkcs7", headers)[1].decode()
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the PKCS#7 form is checked with `openssl smime -verify`")
    pem = "-----BEGIN PKCS7-----\n" + pkcs7 + "\n-----END PKCS7-----\n"
    work = proxy.data_dir / "pkcs7"
    work.mkdir(exist_ok=True)
    (work / "sig.p7").write_text(pem)
    verified = subprocess.run(["openssl", "smime", "-verify", "-in", str(work / "sig.p7"), "-inform", "PEM",
                               "-certfile", str(cert_path), "-CAfile", str(cert_path), "-nointern", "-binary"],
                              capture_output=True)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == document


def test_botocore_imds_fetcher(instances, forwarder):
    from botocore.utils import IMDSFetcher

    fetcher = IMDSFetcher(timeout=5, num_attempts=1, base_url=forwarder,
                          config={"ec2_metadata_v1_disabled": True})
    token = fetcher._fetch_metadata_token()
    assert token
    response = fetcher._get_request("latest/meta-data/instance-id", None, token)
    assert response.text == instances[0]["ec2_id"]
    zone = fetcher._get_request("latest/meta-data/placement/availability-zone/", None, token)
    assert zone.text == instances[0]["described"]["Placement"]["AvailabilityZone"]


@pytest.mark.skipif(shutil.which("ec2metadata") is None, reason="ec2metadata (Debian cloud-utils) is not installed")
def test_ec2metadata_tool(instances, forwarder, public_key):
    # ec2metadata asks http://169.254.169.254/latest/api/token for its token whatever --url says; as
    # on an instance, that address must reach the metadata proxy: here through an HTTP proxy setting.
    env = {**os.environ, "http_proxy": forwarder, "no_proxy": "127.0.0.1,localhost"}

    def run(*args: str) -> str:
        done = subprocess.run(["ec2metadata", "--url", f"{forwarder}/2009-04-04", *args], capture_output=True,
                              text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    a = instances[0]
    assert run("--instance-id") == a["ec2_id"]
    assert run("--local-ipv4") == a["private_ip"]
    assert run("--ami-id") == a["described"]["ImageId"]
    assert run("--availability-zone") == a["described"]["Placement"]["AvailabilityZone"]
    assert run("--public-keys") == repr([public_key])  # the tool prints the Python list of keys
    assert run("--instance-type") == "t2.micro"


@pytest.mark.skipif(not CLOUD_INIT.exists(), reason="cloud-init (Debian package) is not installed")
def test_cloud_init_crawls_the_whole_tree(proxy, instances, forwarder, public_key, tmp_path):
    script = pathlib.Path(__file__).with_name("cloudinit_crawl.py")
    result = subprocess.run(["/usr/bin/python3", str(script), forwarder, str(tmp_path)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    crawled, a = answer["crawled"], instances[0]
    assert answer["token"]  # it used IMDSv2
    assert crawled["_metadata_api_version"] == "2021-03-23"
    meta = crawled["meta-data"]
    assert meta["instance-id"] == a["ec2_id"] and meta["local-ipv4"] == a["private_ip"]
    assert meta["public-keys"] == {"md-key": [public_key]} or \
        meta["public-keys"]["0"]["openssh-key"].strip() == public_key
    assert meta["placement"]["availability-zone"] == a["described"]["Placement"]["AvailabilityZone"]
    assert meta["network"]["interfaces"]["macs"][meta["mac"]]["local-ipv4s"] == a["private_ip"]
    assert base64.b64decode(answer["user_data"]) == USER_DATA
    assert crawled["dynamic"]["instance-identity"]["document"]["instanceId"] == a["ec2_id"]


def test_public_address_appears_when_a_floating_ip_is_associated(proxy, instances):
    b = instances[1]
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
    public = next(n for n in sdk.network.networks() if n.is_router_external)
    port = next(sdk.network.ports(device_id=b["os_id"]))
    floating = sdk.network.create_ip(floating_network_id=public.id, port_id=port.id)
    try:
        headers = signed(proxy, b)
        deadline = time.monotonic() + 15  # made behind the proxy's back: seen once the cache entry expires
        while fetch(f"{proxy.metadata}/latest/meta-data/public-ipv4", headers)[0] != 200:
            assert time.monotonic() < deadline, "public-ipv4 never appeared"
            time.sleep(0.5)
        address = floating.floating_ip_address
        assert fetch(f"{proxy.metadata}/latest/meta-data/public-ipv4", headers)[1].decode() == address
        assert fetch(f"{proxy.metadata}/latest/meta-data/public-hostname", headers)[1].decode() == \
            f"ip-{address.replace('.', '-')}.ec2.internal"
        mac = fetch(f"{proxy.metadata}/latest/meta-data/mac", headers)[1].decode()
        assert fetch(f"{proxy.metadata}/latest/meta-data/network/interfaces/macs/{mac}/public-ipv4s",
                     headers)[1].decode() == address
    finally:
        sdk.network.delete_ip(floating)


def test_the_metadata_proxy_answers_502_when_the_service_is_away(proxy, instances):
    """An instance asking while the metadata service is down gets a gateway error, and no traceback is logged."""
    port, away = free_port(), free_port()
    process = subprocess.Popen([sys.executable, "-m", "ec2proxy", "metadata-proxy", instances[0]["ec2_id"],
                                "--listen", f"127.0.0.1:{port}", "--metadata-url", f"http://127.0.0.1:{away}",
                                "--data-dir", str(proxy.data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "metadata proxy for" in process.stdout.readline()
        status, body, _ = fetch(f"http://127.0.0.1:{port}/latest/meta-data/instance-id", {})
        assert status == 502 and b"cannot be reached" in body
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "Traceback" not in output and "Error handling request" not in output, output
