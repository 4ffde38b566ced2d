"""Key pairs through boto3 and the AWS CLI: AWS fingerprints, import formats, errors, tags, isolation."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.metadata_calls import fetch, signed
from tests.support import code_of

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def test_created_rsa_key_has_the_sha1_private_key_fingerprint_and_matches_nova(ec2):
    created = ec2.create_key_pair(KeyName="created-rsa")
    private = serialization.load_pem_private_key(created["KeyMaterial"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    assert created["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    # AWS: openssl pkcs8 -in key.pem -nocrypt -topk8 -outform DER | openssl sha1 -c
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    assert created["KeyFingerprint"] == colons(hashlib.sha1(pkcs8).digest())
    assert created["KeyPairId"].startswith("key-")
    (described,) = ec2.describe_key_pairs(KeyNames=["created-rsa"], IncludePublicKey=True)["KeyPairs"]
    assert described["KeyFingerprint"] == created["KeyFingerprint"]
    assert described["KeyPairId"] == created["KeyPairId"] and described["KeyType"] == "rsa"
    # the key Nova will put on instances is the public half of the private key we were given
    ours = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert described["PublicKey"].split()[:2] == ours.decode().split()[:2]
    assert "CreateTime" in described


def test_created_ed25519_key_has_the_sha256_fingerprint(ec2):
    created = ec2.create_key_pair(KeyName="created-ed", KeyType="ed25519", KeyFormat="pem")
    assert created["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(created["KeyMaterial"].encode(), password=None)
    blob = base64.b64decode(private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1])
    assert created["KeyFingerprint"] == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert ec2.describe_key_pairs(KeyNames=["created-ed"])["KeyPairs"][0]["KeyType"] == "ed25519"


def test_imported_rsa_key_has_the_md5_public_key_fingerprint(ec2):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    openssh = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    imported = ec2.import_key_pair(KeyName="imported-rsa", PublicKeyMaterial=openssh + b" me@laptop")
    # AWS: openssl rsa -in key.pem -pubout -outform DER | openssl md5 -c
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert imported["KeyFingerprint"] == colons(hashlib.md5(der).digest())
    assert ec2.describe_key_pairs(KeyPairIds=[imported["KeyPairId"]])["KeyPairs"][0]["KeyName"] == "imported-rsa"


def test_import_accepts_ed25519_and_pem_public_keys(ec2):
    ed_key = ed25519.Ed25519PrivateKey.generate().public_key()
    ec2.import_key_pair(KeyName="imported-ed",
                        PublicKeyMaterial=ed_key.public_bytes(serialization.Encoding.OpenSSH,
                                                              serialization.PublicFormat.OpenSSH))
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    ec2.import_key_pair(KeyName="imported-pem", PublicKeyMaterial=pem)
    names = {k["KeyName"]: k["KeyType"] for k in ec2.describe_key_pairs()["KeyPairs"]}
    assert names["imported-ed"] == "ed25519" and names["imported-pem"] == "rsa"


def test_bad_key_pair_requests_get_ec2_errors(ec2):
    assert code_of(ec2.import_key_pair, KeyName="junk", PublicKeyMaterial=b"ssh-rsa not-base64!") == \
        "InvalidKey.Format"
    assert code_of(ec2.import_key_pair, KeyName="junk", PublicKeyMaterial=b"") == "MissingParameter"
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert code_of(ec2.import_key_pair, KeyName="junk", PublicKeyMaterial=ecdsa) == "InvalidKey.Format"
    ec2.create_key_pair(KeyName="twice")
    assert code_of(ec2.create_key_pair, KeyName="twice") == "InvalidKeyPair.Duplicate"
    assert code_of(ec2.create_key_pair, KeyName="x", KeyType="dsa") == "InvalidParameterValue"
    assert code_of(ec2.create_key_pair, KeyName="x", KeyFormat="ppk") == "UnsupportedOperation"
    assert code_of(ec2.create_key_pair, KeyName="x" * 256) == "InvalidParameterValue"
    assert code_of(ec2.describe_key_pairs, KeyNames=["nope"]) == "InvalidKeyPair.NotFound"
    assert code_of(ec2.describe_key_pairs, KeyPairIds=["key-0123456789abcdef0"]) == "InvalidKeyPair.NotFound"
    assert code_of(ec2.describe_key_pairs, KeyPairIds=["nope"]) == "InvalidKeyPair.Malformed"
    assert code_of(ec2.describe_key_pairs, Filters=[{"Name": "colour", "Values": ["x"]}]) == "InvalidParameterValue"
    assert code_of(ec2.delete_key_pair, KeyPairId="key-0123456789abcdef0") == "InvalidKeyPair.NotFound"
    assert "twice" in [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]  # nothing half-done


def test_delete_by_name_or_id_and_deleting_a_missing_key_succeeds(ec2):
    first = ec2.create_key_pair(KeyName="doomed-1")
    ec2.create_key_pair(KeyName="doomed-2")
    assert code_of(ec2.delete_key_pair, KeyName="doomed-1", DryRun=True) == "DryRunOperation"
    assert ec2.delete_key_pair(KeyPairId=first["KeyPairId"])["Return"] is True
    ec2.delete_key_pair(KeyName="doomed-2")
    ec2.delete_key_pair(KeyName="doomed-2")
    names = [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]
    assert "doomed-1" not in names and "doomed-2" not in names


def test_tags_and_filters_on_key_pairs(ec2):
    ec2.create_key_pair(KeyName="tagged", TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}])
    (found,) = ec2.describe_key_pairs(Filters=[{"Name": "tag:team", "Values": ["blue"]}])["KeyPairs"]
    assert found["KeyName"] == "tagged" and found["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert "PublicKey" not in found
    assert [k["KeyName"] for k in ec2.describe_key_pairs(
        Filters=[{"Name": "key-name", "Values": ["tag*"]}])["KeyPairs"]] == ["tagged"]
    assert code_of(ec2.create_key_pair, KeyName="bad-tag", TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}]) == "InvalidParameterValue"


def test_projects_never_see_each_others_key_pairs(ec2, alt):
    ec2.create_key_pair(KeyName="shared-name")
    assert code_of(alt.describe_key_pairs, KeyNames=["shared-name"]) == "InvalidKeyPair.NotFound"
    alt.create_key_pair(KeyName="shared-name")  # the same name in another project is another key
    ours = ec2.describe_key_pairs(KeyNames=["shared-name"])["KeyPairs"][0]
    theirs = alt.describe_key_pairs(KeyNames=["shared-name"])["KeyPairs"][0]
    assert ours["KeyPairId"] != theirs["KeyPairId"]
    alt.delete_key_pair(KeyName="shared-name")
    assert ec2.describe_key_pairs(KeyNames=["shared-name"])["KeyPairs"][0]["KeyPairId"] == ours["KeyPairId"]


def test_a_created_key_is_the_one_the_instance_gets(proxy, ec2, ami):
    created = ec2.create_key_pair(KeyName="boot-key")
    private = serialization.load_pem_private_key(created["KeyMaterial"].encode(), password=None)
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="boot-key")["Instances"]
    assert instance["KeyName"] == "boot-key"
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    record = json.loads(proxy.ec2proxy("instances", "show", instance["InstanceId"], "--json").stdout)
    # what cloud-init reads and puts in authorized_keys is the public half of the private key we were given
    status, body, _ = fetch(f"{proxy.metadata}/latest/meta-data/public-keys/0/openssh-key", signed(proxy, record))
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    assert status == 200 and body.decode().split()[:2] == public.decode().split()[:2]
    status, body, _ = fetch(f"{proxy.metadata}/latest/meta-data/public-keys/", signed(proxy, record))
    assert body.decode() == "0=boot-key"
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_aws_cli_creates_describes_and_deletes_a_key(proxy, tmp_path):
    material = proxy.aws("ec2", "create-key-pair", "--key-name", "cli-key", "--query", "KeyMaterial",
                         "--output", "text").stdout
    assert serialization.load_pem_private_key(material.strip().encode(), password=None)
    listed = json.loads(proxy.aws("ec2", "describe-key-pairs", "--key-names", "cli-key").stdout)
    assert listed["KeyPairs"][0]["KeyName"] == "cli-key"
    proxy.aws("ec2", "delete-key-pair", "--key-name", "cli-key")
    failed = proxy.aws("ec2", "describe-key-pairs", "--key-names", "cli-key", check=False)
    assert failed.returncode != 0 and "InvalidKeyPair.NotFound" in failed.stderr
