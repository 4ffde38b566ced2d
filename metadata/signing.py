"""The key that signs instance identity documents, and the signatures EC2 publishes.

``signature`` is base64 RSA-SHA256 over the document bytes; ``pkcs7`` is a
base64 DER PKCS#7 signed-data of the document (without PEM armour, as EC2
serves it). Consumers verify both with the published certificate
(``identity_certificate``; generated beside the key in embedded mode).
"""

from __future__ import annotations

import base64
import datetime
import os
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID


class Signer:
    def __init__(self, key, certificate: x509.Certificate):
        self.key = key
        self.certificate = certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def signature(self, document: bytes) -> str:
        return base64.b64encode(self.key.sign(document, padding.PKCS1v15(), hashes.SHA256())).decode()

    def pkcs7(self, document: bytes) -> str:
        der = (pkcs7.PKCS7SignatureBuilder().set_data(document)
               .add_signer(self.certificate, self.key, hashes.SHA256())
               .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.NoCerts, pkcs7.PKCS7Options.Binary]))
        return base64.b64encode(der).decode()


def _generate(key_path: pathlib.Path, cert_path: pathlib.Path, region: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ec2proxy"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"ec2proxy instance identity {region}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .sign(key, hashes.SHA256()))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def load(key_file: str, cert_file: str, data_dir: pathlib.Path, region: str) -> Signer:
    """The configured key and certificate, or the embedded pair in DATA_DIR/metadata (made on first use)."""
    if bool(key_file) != bool(cert_file):
        raise ValueError("[metadata] identity_key and identity_certificate go together")
    if key_file:
        key_path, cert_path = pathlib.Path(key_file), pathlib.Path(cert_file)
    else:
        key_path, cert_path = data_dir / "metadata" / "identity.key", data_dir / "metadata" / "identity.crt"
        if not key_path.exists():
            try:
                _generate(key_path, cert_path, region)
            except FileExistsError:
                pass  # another worker made it first
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return Signer(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
