"""Certificates for the benchmark: root -> intermediate -> leaf, one chain per key type.

The chains come from :class:`tlskit.ca.EphemeralCA` (the CA's own key generation and
certificate profiles, in memory), written to files because the benchmark's worker
processes and the stdlib ``ssl`` peer load them from disk.

Each chain is homogeneous (root, intermediate and leaf share one key type):
an Ed25519 chain is what lets the pynacl provider -- which has no ECDSA or RSA --
verify a handshake at all, and a realistic RSA deployment has RSA CAs.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

from tlskit.ca.ephemeral import EphemeralCA

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
    ca = EphemeralCA(key_type=key_type, name=f"tlskit bench {key_type} Root CA", days=DAYS)
    leaf = ca.issue_cert(SERVER_NAME)
    pki = load_pki(directory, key_type)
    ca.root_pem.write_to_path(pki.ca_file)
    leaf.chain_pem.write_to_path(pki.chain_file)
    leaf.key_pem.write_to_path(pki.key_file)  # created 0600
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
