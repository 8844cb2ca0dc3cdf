"""Certificate plumbing the engine needs without a full X.509 stack:
PEM/DER loading of chains, the leaf's SubjectPublicKeyInfo, and the leaf's
names for choosing a server certificate by SNI. Validation is tlskit.pki's job.
"""

from __future__ import annotations

import os
from typing import Union

from tlskit.errors import ConfigurationError, DecodeError, TLSError

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


def spki_of(cert_der: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of a certificate (raises DecodeError if malformed).

    Only the path to the SPKI is read (with tlskit.pki's DER reader), so a leaf the peer's
    verifier accepted is not refused here for a fault elsewhere in it."""
    from tlskit.pki import der

    try:
        cert = der.read_tlv(cert_der, 0)
        if cert.tag != der.TAG_SEQUENCE:
            raise DecodeError("certificate is not a SEQUENCE")
        tbs = der.read_tlv(cert_der, cert.content_start, cert.end)
        if tbs.tag != der.TAG_SEQUENCE:
            raise DecodeError("tbsCertificate is not a SEQUENCE")
        fields = der.children(cert_der, tbs)
    except der.DERError as exc:
        raise DecodeError(f"malformed certificate: {exc}") from None
    if fields and fields[0].tag == 0xA0:  # explicit version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or fields[5].tag != der.TAG_SEQUENCE:
        raise DecodeError("certificate has no SubjectPublicKeyInfo")
    return fields[5].raw(cert_der)


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


#: Certificate signatureAlgorithm OID -> the TLS SignatureScheme codes naming it (RFC 8446 4.2.3).
_SIGNATURE_OID_SCHEMES = {
    "1.2.840.113549.1.1.5": frozenset({0x0201}),  # sha1WithRSAEncryption
    "1.2.840.113549.1.1.11": frozenset({0x0401}),
    "1.2.840.113549.1.1.12": frozenset({0x0501}),
    "1.2.840.113549.1.1.13": frozenset({0x0601}),
    "1.2.840.10045.4.1": frozenset({0x0203}),  # ecdsa-with-SHA1
    "1.2.840.10045.4.3.2": frozenset({0x0403}),
    "1.2.840.10045.4.3.3": frozenset({0x0503}),
    "1.2.840.10045.4.3.4": frozenset({0x0603}),
    "1.3.101.112": frozenset({0x0807}),
    "1.3.101.113": frozenset({0x0808}),
}
#: RSASSA-PSS by hash: rsae or pss depending on the issuer's key, either name fits.
_PSS_SCHEMES = {"sha256": frozenset({0x0804, 0x0809}), "sha384": frozenset({0x0805, 0x080A}), "sha512": frozenset({0x0806, 0x080B})}


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
            oid = cert.signature_algorithm_oid.dotted_string
            if oid == "1.2.840.113549.1.1.10":
                hash_algorithm = cert.signature_hash_algorithm
                schemes = _PSS_SCHEMES.get(hash_algorithm.name if hash_algorithm else "", frozenset())
            else:
                schemes = _SIGNATURE_OID_SCHEMES.get(oid, frozenset())
        except Exception:  # unparsable or unsupported: no scheme the client could have offered
            schemes = frozenset()
        result.append(schemes)
    return tuple(result)
