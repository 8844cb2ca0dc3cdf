"""PKCS#12 export of an issued certificate with its key and chain."""

from __future__ import annotations

import pathlib
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tlskit.ca import files
from tlskit.ca.errors import CAError
from tlskit.ca.keys import load_private_key, same_public_key

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.ca.authority import CertificateAuthority


def export_p12(
    ca: "CertificateAuthority", name: str, path: pathlib.Path, password: bytes | str, *, force: bool = False
) -> pathlib.Path:
    if isinstance(password, str):
        password = password.encode("utf-8")
    if not password:
        raise CAError("a PKCS#12 export needs a non-empty password")
    records = [r for r in ca.find(name) if not r.revoked]
    if not records:
        raise CAError(f"no unrevoked certificate named {name!r} to export")
    record = records[-1]
    if record.key_path is None:
        raise CAError(f"{name!r} was signed from a CSR: its private key is not held by this CA")
    key = load_private_key(record.key_path, what="certificate key")
    cert = record.certificate()
    if not same_public_key(key.public_key(), cert.public_key()):
        raise CAError(f"{record.key_path} does not match the certificate of {name!r} (was it renewed with --rekey?)")
    cas = [c for c in (ca.intermediate_certificate,) if c is not None]
    data = pkcs12.serialize_key_and_certificates(
        name.encode("utf-8"), key, cert, cas, serialization.BestAvailableEncryption(password)
    )
    ca._refuse_own_files([path.absolute()])
    files.atomic_write(path, data, private=True, overwrite=force)
    return path
