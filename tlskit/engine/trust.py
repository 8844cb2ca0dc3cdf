"""Trust stores built from a config's anchors.

Its own module so that config.py (which builds the store when a config is made) and
verify.py (which builds it lazily when system roots are wanted) share it without
importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509

    from tlskit.pki import TrustStore


def build_trust_store(anchors: Sequence[x509.Certificate], system: bool) -> TrustStore:
    """A pki TrustStore of ``anchors`` (x509 certificates), plus the system roots if asked."""
    from tlskit import pki

    certs = list(anchors)
    if system:
        certs.extend(pki.TrustStore.system().certificates())
    return pki.TrustStore(certs)


__all__ = ["build_trust_store"]
