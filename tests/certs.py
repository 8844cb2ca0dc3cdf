"""A small factory for ordinary test PKIs: root -> intermediate -> leaf, as files.

The chains come from tlskit.ca.EphemeralCA (the package's one way to make ordinary
certificates), written out because configs, ``ssl`` and ``openssl`` in these tests
take paths. Leaf keys come from pki_factory's per-process cache (RSA generation is
slow). What the CA refuses to issue on purpose (P-521 and Ed448 keys, a wildcard over a
single label), which the engine must still handle as a peer, is built with pki_factory's
independent x509 builder.
"""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

import pki_factory
from tlskit.ca import KEY_TYPES, CAError, EphemeralCA

def new_key(key_type: str, slot: int = 0) -> Any:
    """A cached private key of ``key_type`` ("ecdsa-p256", "rsa-2048", "ed25519", ...);
    ``slot`` picks one of several."""
    if key_type.startswith("ecdsa-"):
        return pki_factory.key(key_type[len("ecdsa-") :], slot)
    if key_type.startswith("rsa-") or key_type in ("ed25519", "ed448"):
        return pki_factory.key(key_type.replace("-", ""), slot)
    raise ValueError(f"unknown key type {key_type}")


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class PKI:
    """Files of one test PKI in ``directory``; paths are what configs take."""

    directory: pathlib.Path
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: object
    intermediate_key: object  # signs the leaf: for OCSP responses and CRLs in tests
    files: dict[str, pathlib.Path] = field(default_factory=dict)

    @property
    def ca_file(self) -> pathlib.Path:
        """The root certificate (trust anchor) as PEM."""
        return self.files["ca"]

    @property
    def chain_file(self) -> pathlib.Path:
        """Leaf followed by the intermediate, as a server sends it."""
        return self.files["chain"]

    @property
    def key_file(self) -> pathlib.Path:
        return self.files["key"]

    @property
    def leaf_file(self) -> pathlib.Path:
        return self.files["leaf"]

    @property
    def intermediate_file(self) -> pathlib.Path:
        return self.files["intermediate"]


def make_pki(
    directory: pathlib.Path,
    *,
    leaf_key_type: str = "ecdsa-p256",
    ca_key_type: str = "ecdsa-p256",
    sans: tuple[str, ...] = ("localhost", "127.0.0.1", "::1"),
    subject: str = "localhost",
    usage: str = "both",
    name: str = "pki",
) -> PKI:
    """Write ``<name>-ca.pem``, ``<name>-chain.pem``, ``<name>-key.pem`` (and leaf/intermediate) into directory.

    ``usage`` is "server", "client" or "both" (the leaf's extended key usage).
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaf_key = new_key(leaf_key_type, slot=0)
    try:
        if leaf_key_type not in KEY_TYPES:
            raise CAError(f"the CA does not certify {leaf_key_type} keys")
        ca = EphemeralCA(key_type=ca_key_type, name=f"{name} Test Root")
        issued = ca.issue_cert(*sans, profile=usage, key=leaf_key, common_name=subject, days=30)
        root, inter, leaf = ca.root_certificate, ca.intermediates[0], issued.certificate
        inter_key = serialization.load_pem_private_key(ca.issuer_key_pem, None)
    except CAError:
        # What the CA refuses on purpose (P-521/Ed448 leaves, a wildcard over a single
        # label) some engine tests need all the same: built independently of tlskit.ca.
        root, inter, leaf, inter_key = _foreign_chain(leaf_key, ca_key_type, sans, subject, usage, name)
    files = {
        "ca": directory / f"{name}-ca.pem",
        "intermediate": directory / f"{name}-intermediate.pem",
        "leaf": directory / f"{name}-leaf.pem",
        "chain": directory / f"{name}-chain.pem",
        "key": directory / f"{name}-key.pem",
    }
    files["ca"].write_bytes(cert_pem(root))
    files["intermediate"].write_bytes(cert_pem(inter))
    files["leaf"].write_bytes(cert_pem(leaf))
    files["chain"].write_bytes(cert_pem(leaf) + cert_pem(inter))
    files["key"].write_bytes(key_pem(leaf_key))
    files["key"].chmod(0o600)
    return PKI(directory, root, inter, leaf, leaf_key, inter_key, files)


def _foreign_chain(
    leaf_key: Any, ca_key_type: str, sans: tuple[str, ...], subject: str, usage: str, name: str
) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate, Any]:
    """root -> intermediate -> leaf (and the intermediate's key) with pki_factory's builder."""
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    ca_validity = dict(ca=True, not_before=start, not_after=start + datetime.timedelta(days=365))
    root = pki_factory.issue(f"{name} Test Root", None, private_key=new_key(ca_key_type, slot=1), path_length=1, **ca_validity)
    inter = pki_factory.issue(
        f"{name} Test Intermediate", root, private_key=new_key(ca_key_type, slot=2), path_length=0, **ca_validity
    )
    eku = {
        "server": (ExtendedKeyUsageOID.SERVER_AUTH,),
        "client": (ExtendedKeyUsageOID.CLIENT_AUTH,),
        "both": (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
    }[usage]
    leaf = pki_factory.issue(
        subject, inter, private_key=leaf_key, sans=sans or None, eku=eku,
        not_before=start, not_after=start + datetime.timedelta(days=30),
    )
    return root.cert, inter.cert, leaf.cert, inter.key
