"""The mini-CA: a root (and by default an intermediate) on disk that issues,
signs CSRs for, revokes and renews certificates, with an SQLite index and CRLs.

    from tlskit.ca import CertificateAuthority
    ca = CertificateAuthority.init("/tmp/my-ca")
    issued = ca.issue("localhost")          # issued.key_path, .cert_path, .chain_path

and, for tests and demos, an in-memory one (see tlskit.ca.ephemeral):

    from tlskit.ca import EphemeralCA
    cert = EphemeralCA().issue_cert("localhost")   # cert.key_pem, .cert_pem, .chain_pem

Ed25519 keys (``key_type="ed25519"``) work with tlskit, OpenSSL and Python's ssl, but
browsers (Chromium, Firefox/NSS) reject Ed25519 certificates: use ECDSA for those.
"""

from __future__ import annotations

from tlskit.ca.authority import CertificateAuthority, IssuedCertificate, RenewalResult, default_directory
from tlskit.ca.ephemeral import EphemeralCA, EphemeralCertificate
from tlskit.ca.errors import CAError, CAWarning
from tlskit.ca.index import IndexRecord
from tlskit.ca.keys import KEY_TYPES
from tlskit.ca.policy import NamePolicy
from tlskit.ca.profiles import PROFILES

__all__ = [
    "CAError",
    "CAWarning",
    "CertificateAuthority",
    "EphemeralCA",
    "EphemeralCertificate",
    "IndexRecord",
    "IssuedCertificate",
    "KEY_TYPES",
    "NamePolicy",
    "PROFILES",
    "RenewalResult",
    "default_directory",
]
