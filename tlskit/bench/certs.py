"""Certificates for the benchmark: root -> intermediate -> leaf, one chain per key type.

The bench ships inside the package, so it cannot use the test suite's factory
(tests/certs.py); this is a deliberately small equivalent on pyca/cryptography's
x509 builder. It does not use ``tlskit.ca`` either, so the benchmark measures
the TLS stacks and not whether the CA is correct today.

Each chain is homogeneous (root, intermediate and leaf share one key type):
an Ed25519 chain is what lets the pynacl provider -- which has no ECDSA or RSA --
verify a handshake at all, and a realistic RSA deployment has RSA CAs.
"""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Key types the benchmark knows, mapped to the TLS signature scheme the leaf signs
#: CertificateVerify with (what both stacks negotiate for that key).
KEY_TYPES: dict[str, str] = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "ed25519": "ed25519",
    "rsa-2048": "rsa_pss_rsae_sha256",
}

#: The scheme of the CA signatures inside the chain (verified by the client twice:
#: leaf by intermediate, intermediate by root).
CERT_SIGNATURE_SCHEMES: dict[str, str] = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "ed25519": "ed25519",
    "rsa-2048": "rsa_pkcs1_sha256",
}

SERVER_NAME = "localhost"

#: the private keys make_pki generates, one class per entry of KEY_TYPES
BenchKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey]


def _new_key(key_type: str) -> BenchKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key type {key_type!r}; choose from {', '.join(KEY_TYPES)}")


def _signing_hash(key: BenchKey) -> hashes.SHA256 | None:
    # Ed25519 signs the message itself; the others need an explicit digest.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _certificate(
    subject: str, key: BenchKey, issuer: x509.Certificate | None, issuer_key: BenchKey, *, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=(None if not ca else (1 if issuer is None else 0))), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, _signing_hash(issuer_key))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class BenchPKI:
    """Paths of one chain on disk, in the shapes both TLS stacks load."""

    key_type: str
    ca_file: pathlib.Path  # the root: the client's only trust anchor
    chain_file: pathlib.Path  # leaf + intermediate, what the server sends
    key_file: pathlib.Path  # the leaf's private key (PKCS#8 PEM)

    @property
    def scheme(self) -> str:
        return KEY_TYPES[self.key_type]

    @property
    def cert_scheme(self) -> str:
        return CERT_SIGNATURE_SCHEMES[self.key_type]


def make_pki(directory: pathlib.Path, key_type: str) -> BenchPKI:
    """Write a fresh root/intermediate/leaf chain of ``key_type`` into ``directory``."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    root_key, inter_key, leaf_key = _new_key(key_type), _new_key(key_type), _new_key(key_type)
    root = _certificate(f"tlskit bench {key_type} root", root_key, None, root_key, ca=True)
    inter = _certificate(f"tlskit bench {key_type} intermediate", inter_key, root, root_key, ca=True)
    leaf = _certificate(SERVER_NAME, leaf_key, inter, inter_key, ca=False)
    pki = BenchPKI(
        key_type=key_type,
        ca_file=directory / f"{key_type}-root.pem",
        chain_file=directory / f"{key_type}-chain.pem",
        key_file=directory / f"{key_type}-key.pem",
    )
    pki.ca_file.write_bytes(_pem(root))
    pki.chain_file.write_bytes(_pem(leaf) + _pem(inter))
    pki.key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pki.key_file.chmod(0o600)
    return pki


def load_pki(directory: pathlib.Path, key_type: str) -> BenchPKI:
    """The chain :func:`make_pki` wrote earlier (worker processes reuse the parent's)."""
    directory = pathlib.Path(directory)
    return BenchPKI(
        key_type=key_type,
        ca_file=directory / f"{key_type}-root.pem",
        chain_file=directory / f"{key_type}-chain.pem",
        key_file=directory / f"{key_type}-key.pem",
    )
