"""Certificate plumbing the engine needs without a full X.509 stack:
PEM/DER loading of chains, the leaf's SubjectPublicKeyInfo, and the leaf's
names for choosing a server certificate by SNI. Validation is tlskit.pki's job.
"""

from __future__ import annotations

import os
from typing import Union

from tlskit import _der, _oids
from tlskit.errors import ConfigurationError, DecodeError, TLSError
from tlskit.providers.names import SIGNATURE_SCHEMES

PathOrBytes = Union[str, "os.PathLike[str]", bytes]


def read_source(source: PathOrBytes) -> bytes:
    """Bytes given directly, or the contents of the file at a path."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        # Same error family as an unreadable cafile: a config that cannot work.
        raise ConfigurationError(f"{os.fsdecode(source)}: cannot read file ({exc.strerror or exc})") from None


def load_chain(source: PathOrBytes) -> tuple[bytes, ...]:
    """DER certificates from a single DER certificate or PEM (CERTIFICATE blocks, other
    blocks and text around them ignored; tlskit.pki's PEM reader), leaf first."""
    from tlskit.pki.loading import pem_blocks

    data = read_source(source)
    if data[:1] == b"\x30":
        return (data,)
    origin = "certificate bytes" if isinstance(source, (bytes, bytearray)) else os.fspath(source)
    blocks = pem_blocks(data, {b"CERTIFICATE"}, origin)  # MalformedCertificate (a TLSError) if damaged
    if not blocks:
        raise TLSError(f"{origin}: no certificate found")
    return tuple(blocks)


#: Leaf certificates whose SPKI spki_of keeps (a pure function of the DER: a peer that
#: presents the same leaf again is not re-read), and the largest DER kept.
SPKI_CACHE_SIZE = 64
SPKI_CACHE_MAX_DER = 16384
_spki_cache: dict[bytes, bytes] = {}


def spki_of(cert_der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate (raises DecodeError if malformed).

    Only the path to the SPKI is read (with tlskit's DER reader), so a leaf the peer's
    verifier accepted is not refused here for a fault elsewhere in it."""
    cacheable = type(cert_der) is bytes and len(cert_der) <= SPKI_CACHE_MAX_DER
    if cacheable:
        known = _spki_cache.get(cert_der)
        if known is not None:
            return known
    try:
        spki = _der.certificate_spki(cert_der)
    except _der.DERError as exc:
        raise DecodeError(f"malformed certificate: {exc}") from None
    if cacheable:
        try:
            while len(_spki_cache) >= SPKI_CACHE_SIZE:
                _spki_cache.pop(next(iter(_spki_cache)))
        except (KeyError, RuntimeError, StopIteration):  # another thread evicted first
            pass
        _spki_cache[cert_der] = spki
    return spki


def leaf_names(cert_der: bytes) -> list[str]:
    """The DNS names of the leaf's subjectAltName, for SNI selection."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(cert_der)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # no SAN or unparsable: the certificate matches no name
        return []
    return sans.get_values_for_type(x509.DNSName)


def name_matches(server_name: str, dns_names: tuple[str, ...]) -> bool:
    """Whether a certificate with these dNSName SANs is one for the SNI host ``server_name``,
    by tlskit.pki's RFC 6125 rules (those a tlskit client verifies the certificate with).

    ``server_name`` is a HostName the server accepted (extensions.decode_server_name):
    never an IP literal (RFC 6066 3), so iPAddress SANs never take part.
    """
    from tlskit.pki.names import dns_san_matches

    host = server_name.lower()
    return any(dns_san_matches(pattern, host) for pattern in dns_names)


#: Certificate signatureAlgorithm OID -> the TLS SignatureScheme codes naming it (RFC 8446
#: 4.2.3), from tlskit's one OID table (SHA-1 ones included: a client may offer them).
_SIGNATURE_OID_SCHEMES = {
    oid: frozenset({SIGNATURE_SCHEMES[known.scheme]})
    for oid, known in _oids.SIGNATURE_ALGORITHMS.items()
    if known.scheme is not None
}


def _pss_scheme_codes(parameters: bytes | None) -> frozenset[int]:
    """RSASSA-PSS by its hash: rsae or pss depending on the issuer's key, either name fits."""
    if parameters is None:
        return frozenset()
    try:
        hash_name = _der.parse_pss_params(parameters).hash_name
    except _der.DERError:
        return frozenset()
    return frozenset(SIGNATURE_SCHEMES[name] for name in _oids.pss_schemes(hash_name) if name in SIGNATURE_SCHEMES)


def chain_signature_schemes(chain: tuple[bytes, ...]) -> tuple[frozenset[int], ...]:
    """For each certificate of ``chain`` whose signature a client checks, the SignatureScheme
    codes that name its signature algorithm (empty if unknown or unparsable). Self-signed
    certificates are left out: trust anchors "MAY be signed with any algorithm" (RFC 8446 4.4.2.2)."""
    from cryptography import x509

    result = []
    for der in chain:
        try:
            cert = x509.load_der_x509_certificate(der)
            if cert.issuer == cert.subject:
                continue
            algorithm = _der.parse_signed(der).outer_algorithm
            if algorithm.oid == _oids.RSASSA_PSS:
                schemes = _pss_scheme_codes(algorithm.parameters)
            else:
                schemes = _SIGNATURE_OID_SCHEMES.get(algorithm.oid, frozenset())
        except Exception:  # unparsable or unsupported: no scheme the client could have offered
            schemes = frozenset()
        result.append(schemes)
    return tuple(result)
