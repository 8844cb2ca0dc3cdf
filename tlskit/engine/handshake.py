"""Pieces of the handshake shared by client and server: CertificateVerify content,
certificate-entry checks, algorithm name lookups and negotiation helpers."""

from __future__ import annotations

from typing import Collection, Iterable

from tlskit.engine.certs import spki_of
from tlskit.engine.extensions import ExtensionType
from tlskit.engine.messages import Certificate
from tlskit.errors import AlertDescription, DecodeError, TLSError
from tlskit.providers.names import SIGNATURE_SCHEME_NAMES, SIGNATURE_SCHEMES

SERVER_CONTEXT = b"TLS 1.3, server CertificateVerify"
CLIENT_CONTEXT = b"TLS 1.3, client CertificateVerify"


def certificate_verify_content(context: bytes, transcript_hash: bytes) -> bytes:
    """RFC 8446 4.4.3: 64 spaces, the context string, a zero byte, the transcript hash."""
    return b" " * 64 + context + b"\x00" + transcript_hash


def scheme_name(code: int) -> str | None:
    return SIGNATURE_SCHEME_NAMES.get(code)


def scheme_codes(names: Iterable[str]) -> list[int]:
    return [SIGNATURE_SCHEMES[n] for n in names]


def signing_scheme(preferred: Iterable[str], key_schemes: Collection[str], peer_accepts: Collection[int]) -> str | None:
    """The first of our ``preferred`` schemes that the key can sign with and the peer
    advertised (signature_algorithms codes), or None."""
    for name in preferred:
        if name in key_schemes and SIGNATURE_SCHEMES[name] in peer_accepts:
            return name
    return None


def certificate_chain(message: Certificate, status_requested: bool) -> tuple[tuple[bytes, ...], bytes | None]:
    """DER chain and stapled OCSP response of a Certificate message, with its
    per-entry extensions checked (RFC 8446 4.4.2): status_request only if we asked."""
    offered = (ExtensionType.status_request,) if status_requested else ()
    ocsp: bytes | None = None
    for index, entry in enumerate(message.entries):
        entry.extensions.check(offered=offered)
        response = entry.extensions.status_request
        if index == 0:
            ocsp = response
    return tuple(entry.cert_data for entry in message.entries), ocsp


def leaf_public_key(chain: tuple[bytes, ...]) -> bytes:
    try:
        return spki_of(chain[0])
    except DecodeError as exc:
        raise TLSError(f"unparsable peer certificate: {exc}", AlertDescription.bad_certificate) from None
