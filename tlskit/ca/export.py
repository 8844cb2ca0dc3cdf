"""PKCS#12 export of an issued certificate with its key and chain.

Three encodings, each asked for explicitly: a password with modern encryption
(PBES2, AES-256-CBC, PBKDF2-SHA256 -- cryptography's BestAvailableEncryption); a
password with the legacy encryption old Windows and Java releases need
(pbeWithSHAAnd3-KeyTripleDES-CBC for key and certificates, SHA-1 MAC); or no password
at all (unencrypted, for tools that take the key from a protected place).
"""

from __future__ import annotations

from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tlskit.ca.errors import CAError
from tlskit.ca.keys import PrivateKey, same_public_key


def p12_bytes(
    name: str,
    key: PrivateKey,
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    password: bytes | str | None,
    *,
    legacy: bool = False,
) -> bytes:
    """The PKCS#12 file; ``password=None`` means unencrypted (the caller asked for it)."""
    if isinstance(password, str):
        password = password.encode("utf-8")
    if password is not None and not password:
        raise CAError("a PKCS#12 export needs a non-empty password (or ask for an unencrypted file explicitly)")
    if not same_public_key(key.public_key(), cert.public_key()):
        raise CAError(f"the key of {name!r} does not match its certificate (was it renewed with --rekey?)")
    encryption: serialization.KeySerializationEncryption
    if password is None:
        if legacy:
            raise CAError("legacy PKCS#12 encryption needs a password")
        encryption = serialization.NoEncryption()
    elif legacy:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())
            .build(password)
        )
    else:
        encryption = serialization.BestAvailableEncryption(password)
    return pkcs12.serialize_key_and_certificates(name.encode("utf-8"), key, cert, list(chain), encryption)
