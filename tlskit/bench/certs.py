"""Certificates for the benchmark: root -> intermediate -> leaf, one chain per key type.

The chains come from the CA's own key generation and certificate profiles
(``tlskit.ca.keys``, ``tlskit.ca.profiles``), so the package has one way to make
certificates; the bench only skips the CA's directory, index and passphrase
handling, which a throw-away chain does not need.

Each chain is homogeneous (root, intermediate and leaf share one key type):
an Ed25519 chain is what lets the pynacl provider -- which has no ECDSA or RSA --
verify a handshake at all, and a realistic RSA deployment has RSA CAs.
"""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca.keys import PrivateKey, generate_key, private_key_pem, signature_hash
from tlskit.ca.profiles import ca_builder, leaf_builder, subject_name, validity

#: Key types the benchmark knows, mapped to the TLS signature scheme the leaf signs
#: CertificateVerify with (what both stacks negotiate for that key).
KEY_TYPES: dict[str, str] = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "ed25519": "ed25519",
    "rsa-2048": "rsa_pss_rsae_sha256",
}

#: The scheme of the CA signatures inside the chain (verified by the client twice:
#: leaf by intermediate, intermediate by root); what ``signature_hash`` gives these keys.
CERT_SIGNATURE_SCHEMES: dict[str, str] = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "ed25519": "ed25519",
    "rsa-2048": "rsa_pkcs1_sha256",
}

SERVER_NAME = "localhost"
DAYS = 30


def _ca_certificate(
    common_name: str, key: PrivateKey, issuer: x509.Certificate | None, issuer_key: PrivateKey, *, path_length: int
) -> x509.Certificate:
    not_before, not_after = validity(DAYS, now=datetime.datetime.now(datetime.timezone.utc))
    subject = subject_name(common_name)
    return ca_builder(
        subject,
        key.public_key(),
        issuer=issuer.subject if issuer is not None else subject,
        issuer_public_key=issuer_key.public_key(),
        serial=x509.random_serial_number(),
        not_before=not_before,
        not_after=not_after,
        path_length=path_length,
        permit_dns=None,
    ).sign(issuer_key, signature_hash(issuer_key))


def _leaf_certificate(key: PrivateKey, issuer: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    not_before, not_after = validity(DAYS, now=datetime.datetime.now(datetime.timezone.utc))
    return leaf_builder(
        SERVER_NAME,
        key.public_key(),
        [x509.DNSName(SERVER_NAME)],
        profile="server",
        issuer_cert=issuer,
        serial=x509.random_serial_number(),
        not_before=not_before,
        not_after=not_after,
    ).sign(issuer_key, signature_hash(issuer_key))


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
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type!r}; choose from {', '.join(KEY_TYPES)}")
    root_key, inter_key, leaf_key = generate_key(key_type), generate_key(key_type), generate_key(key_type)
    root = _ca_certificate(f"tlskit bench {key_type} root", root_key, None, root_key, path_length=1)
    inter = _ca_certificate(f"tlskit bench {key_type} intermediate", inter_key, root, root_key, path_length=0)
    leaf = _leaf_certificate(leaf_key, inter, inter_key)
    pki = load_pki(directory, key_type)
    pki.ca_file.write_bytes(_pem(root))
    pki.chain_file.write_bytes(_pem(leaf) + _pem(inter))
    pki.key_file.write_bytes(private_key_pem(leaf_key))
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
