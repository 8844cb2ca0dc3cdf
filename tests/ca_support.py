"""Helpers shared by the CA tests (a support module: test modules import it, never each other)."""

from __future__ import annotations

import sqlite3

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit.ca import CertificateAuthority


def make_csr(
    key=None,
    cn: str | None = "web.example",
    sans=("web.example",),
    *,
    hash_algorithm=None,
    ca_true: bool = False,
    general_names=None,
) -> bytes:
    """A PEM CSR; ``sans`` are DNS names, ``general_names`` any GeneralName list."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    names = list(general_names or []) + [x509.DNSName(s) for s in sans or ()]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca_true:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    csr = builder.sign(key, hash_algorithm or hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def damaged_ca(tmp_path, statement: str) -> CertificateAuthority:
    """A CA with one issued certificate whose index row ``statement`` then damages."""
    ca = CertificateAuthority.init(tmp_path / "ca")
    ca.issue("victim.test")
    with sqlite3.connect(ca.directory / "index.sqlite") as conn:
        conn.execute(statement)
    return ca
