"""Key pairs: Nova os-keypairs, with the fingerprints and ids AWS shows.

Nova keeps key pairs per user and never sees a private key: CreateKeyPair
generates the pair here, imports the public half into Nova and hands the
private half to the caller once. AWS fingerprints (kept in ``key_pairs``):
a created RSA key is the SHA-1 of its private key (PKCS#8 DER), an imported
RSA key the MD5 of its public key (SubjectPublicKeyInfo DER), an ed25519 key
the base64 SHA-256 of its OpenSSH public key blob.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.context import RequestContext
from ec2proxy.db.models import KeyPair, utcnow
from ec2proxy.ec2 import errors, filters, ids, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import keypairs, tag_reads
from ec2proxy.readmodels.keypairs import namespace, nova_name
from ec2proxy.state import keypairs as keypair_changes
from ec2proxy.state import write

FILTERS = {
    "key-pair-id": filters.path("KeyPairId"), "key-name": filters.path("KeyName"),
    "fingerprint": filters.path("KeyFingerprint"), "key-type": filters.path("KeyType"),
    **tagging.FILTERS,
}
SSH_TYPES = {"ssh-rsa": "rsa", "ssh-ed25519": "ed25519"}


def _colons(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def _ssh_blob(public_key) -> bytes:
    line = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def imported_fingerprint(public_key) -> str:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return base64.b64encode(hashlib.sha256(_ssh_blob(public_key)).digest()).decode()
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _colons(hashlib.md5(der).digest())


def created_fingerprint(private_key) -> str:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return imported_fingerprint(private_key.public_key())
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return _colons(hashlib.sha1(der).digest())


def parse_public_key(material: bytes | str | None):
    """An RSA or ed25519 public key from OpenSSH, RFC 4716, PEM or DER text, else ``InvalidKey.Format``."""
    if isinstance(material, str):
        material = material.encode()
    material = (material or b"").strip()
    if not material:
        raise errors.MissingParameter("The request must contain the parameter PublicKeyMaterial")
    candidates = [material]
    if material.startswith(b"---- BEGIN SSH2 PUBLIC KEY"):
        body = [line for line in material.splitlines()[1:-1] if b":" not in line and not line.startswith(b" ")]
        candidates = [b"ssh-rsa " + b"".join(body), b"ssh-ed25519 " + b"".join(body)]
    for candidate in candidates:
        for load in (serialization.load_ssh_public_key, serialization.load_pem_public_key,
                     serialization.load_der_public_key):
            try:
                key = load(candidate)
            except (ValueError, UnsupportedAlgorithm, binascii.Error, TypeError, IndexError):
                continue
            if isinstance(key, rsa.RSAPublicKey) and key.key_size in (1024, 2048, 4096):
                return key
            if isinstance(key, ed25519.Ed25519PublicKey):
                return key
            raise errors.InvalidKeyFormat("Only RSA (1024, 2048 or 4096 bits) and ED25519 keys are supported")
    raise errors.InvalidKeyFormat("Key is not in valid OpenSSH public key format")


def _openssh(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _check_name(name: str) -> str:
    if not name or len(name) > 255 or not name.isascii() or not name.isprintable():
        raise errors.InvalidParameterValue("Key pair names are 1 to 255 printable ASCII characters")
    return name


def key_pair_id(user_id: str, name: str) -> str:
    """Nova names a key pair by (user, name); the ``key-`` id follows from that, stable on first sight."""
    return ids.from_uuid("key", f"{user_id}/{name}")


def _sha(public_key: str) -> str:
    return hashlib.sha256(" ".join(public_key.split()[:2]).encode()).hexdigest()


def _describe_one(nova_key: dict, row: KeyPair | None, user_id: str, prefix: str) -> dict:
    public = nova_key["public_key"]
    ssh_type = public.split()[0] if public.split() else ""
    if row is not None and row.public_key_sha256 == _sha(public):
        fingerprint, created = row.fingerprint, row.created_at
    else:
        row = None
        try:
            fingerprint = imported_fingerprint(serialization.load_ssh_public_key(public.encode()))
        except (ValueError, UnsupportedAlgorithm):
            fingerprint = nova_key.get("fingerprint", "")
        created = None
    return {"KeyPairId": key_pair_id(user_id, prefix + nova_key["name"]), "KeyName": nova_key["name"],
            "KeyFingerprint": fingerprint, "KeyType": SSH_TYPES.get(ssh_type, "rsa"), "CreateTime": created,
            "PublicKey": public}


async def _key_pairs(ctx: RequestContext) -> list[dict]:
    """The caller's key pairs: one Nova listing and one query, whatever their number."""
    view = await ctx.cloud()
    prefix = namespace(ctx, view)
    nova_keys = [{**k, "name": k["name"][len(prefix):]} for k in await view.nova.keypairs()
                 if k["name"].startswith(prefix)]
    user_id = view.scoped.user_id
    rows = await keypairs.rows(ctx, user_id)
    pairs = [_describe_one(key, rows.get(key["name"]), user_id, prefix) for key in nova_keys]
    return await tag_reads.with_tags(ctx, pairs, "KeyPairId")


@tag_reads.exists("key")
async def _existing(ctx: RequestContext, key_ids: list[str]) -> set[str]:
    return {pair["KeyPairId"] for pair in await _key_pairs(ctx)} & set(key_ids)


async def _store(ctx: RequestContext, name: str, public_key, fingerprint: str, tags: list[dict]) -> dict:
    """Import into Nova, then record our row and tags; a failed record takes the Nova key back out."""
    view = await ctx.cloud()
    openssh = _openssh(public_key)
    user_id = view.scoped.user_id
    try:
        await view.nova.create_keypair(nova_name(ctx, view, name), openssh)
    except BackendError as exc:
        if exc.status == 409:
            raise errors.InvalidKeyPairDuplicate(f"The keypair '{name}' already exists.") from None
        raise
    pair_id = key_pair_id(user_id, nova_name(ctx, view, name))
    row = KeyPair(key_pair_id=pair_id, project_id=ctx.project_id, user_id=user_id, name=name,
                  key_type="ed25519" if isinstance(public_key, ed25519.Ed25519PublicKey) else "rsa",
                  fingerprint=fingerprint, public_key_sha256=_sha(openssh), created_at=utcnow())
    try:
        await write(ctx, keypair_changes.record, row, tags)
    except BaseException:
        await view.nova.delete_keypair(nova_name(ctx, view, name))
        raise
    return {"KeyName": name, "KeyPairId": pair_id, "KeyFingerprint": fingerprint, "Tags": tags}


@action("CreateKeyPair")
async def create_key_pair(ctx: RequestContext, params: dict) -> dict:
    name = _check_name(params["KeyName"])
    key_type = params.get("KeyType") or "rsa"
    key_format = params.get("KeyFormat") or "pem"
    if key_type not in ("rsa", "ed25519"):
        raise errors.InvalidParameterValue(f"Invalid KeyType: {key_type[:32]}")
    if key_format == "ppk":
        raise errors.UnsupportedOperation("KeyFormat ppk is not supported; create a pem key and convert it with "
                                          "puttygen.")
    if key_format != "pem":
        raise errors.InvalidParameterValue(f"Invalid KeyFormat: {key_format[:32]}")
    tags = tagging.from_specs(params, ("key-pair",)).get("key-pair", [])
    private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if key_type == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        material = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        material = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                         serialization.NoEncryption())
    result = await _store(ctx, name, private.public_key(), created_fingerprint(private), tags)
    return {**result, "KeyMaterial": material.decode().strip()}


@action("ImportKeyPair")
async def import_key_pair(ctx: RequestContext, params: dict) -> dict:
    name = _check_name(params["KeyName"])
    public_key = parse_public_key(params.get("PublicKeyMaterial"))
    tags = tagging.from_specs(params, ("key-pair",)).get("key-pair", [])
    return await _store(ctx, name, public_key, imported_fingerprint(public_key), tags)


@action("DescribeKeyPairs")
async def describe_key_pairs(ctx: RequestContext, params: dict) -> dict:
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    wanted_ids = [ids.check("key", i) for i in params.get("KeyPairIds") or []]
    wanted_names = params.get("KeyNames") or []
    pairs = await _key_pairs(ctx)
    for wanted, member in ((wanted_names, "KeyName"), (wanted_ids, "KeyPairId")):
        pairs = filters.by_ids(pairs, member, wanted, errors.KeyPairNotFound)
    pairs = filters.apply(pairs, compiled)
    if not params.get("IncludePublicKey"):
        for pair in pairs:
            pair.pop("PublicKey")
    return {"KeyPairs": pairs}


@action("DeleteKeyPair", checks_dry_run=True)
async def delete_key_pair(ctx: RequestContext, params: dict) -> dict:
    """Deleting a key pair that is not there succeeds, as in EC2."""
    name, pair_id = params.get("KeyName"), params.get("KeyPairId")
    if not name and not pair_id:
        raise errors.MissingParameter("The request must contain the parameter KeyName or KeyPairId")
    view = await ctx.cloud()
    user_id = view.scoped.user_id
    if pair_id:
        ids.check("key", pair_id)
        match = [p for p in await _key_pairs(ctx) if p["KeyPairId"] == pair_id]
        if not match:
            raise errors.KeyPairNotFound(pair_id)
        name = match[0]["KeyName"]
    assert name is not None  # given, or found by its id
    if ctx.dry_run:
        raise errors.DryRunOperation()
    try:
        await view.nova.delete_keypair(nova_name(ctx, view, name))
    except BackendNotFound:
        pass
    pair_id = key_pair_id(user_id, nova_name(ctx, view, name))
    await write(ctx, keypair_changes.forget, ctx.project_id, user_id, name, pair_id)
    return {"Return": True, "KeyPairId": pair_id}
