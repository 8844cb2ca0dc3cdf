"""Certificate loading, trust stores, path building and validation, name matching.

Public API (stable)::

    verify_chain(leaf, intermediates, trust, *, server_name=None, usage="server", at=None,
                 max_depth=None, provider=None, crls=None) -> VerifiedPath
    TrustStore.from_pem / from_file / from_directory / from_certificates / system
    load_certificates(source) ; load_private_key_bytes(path, password=None)

Errors are ``CertificateError`` subclasses (a ``tlskit.errors.TLSError``) carrying the
TLS alert they map to. Policy decisions are written down in docs/pki.md.
"""

from __future__ import annotations

from tlskit.pki.errors import (
    BadCertificateSignature,
    CertificateError,
    Expired,
    ForbiddenSignatureAlgorithm,
    InvalidCRL,
    KeyLoadError,
    MalformedCertificate,
    NameConstraintViolation,
    NameMismatch,
    NotAuthorizedForUsage,
    NotYetValid,
    PathBuildingExhausted,
    PathLenExceeded,
    Revoked,
    UnknownIssuer,
    UnsupportedCertificateAlgorithm,
    UnsupportedCriticalExtension,
)
from tlskit.pki.loading import load_certificates, load_crls, load_private_key_bytes
from tlskit.pki.store import TrustStore
from tlskit.pki.verify import DEFAULT_MAX_DEPTH, VerifiedPath, verify_chain

__all__ = [
    "BadCertificateSignature",
    "CertificateError",
    "DEFAULT_MAX_DEPTH",
    "Expired",
    "ForbiddenSignatureAlgorithm",
    "InvalidCRL",
    "KeyLoadError",
    "MalformedCertificate",
    "NameConstraintViolation",
    "NameMismatch",
    "NotAuthorizedForUsage",
    "NotYetValid",
    "PathBuildingExhausted",
    "PathLenExceeded",
    "Revoked",
    "TrustStore",
    "UnknownIssuer",
    "UnsupportedCertificateAlgorithm",
    "UnsupportedCriticalExtension",
    "VerifiedPath",
    "load_certificates",
    "load_crls",
    "load_private_key_bytes",
    "verify_chain",
]
