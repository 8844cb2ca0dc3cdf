"""A minimal, strict DER reader for the few raw fields pyca/cryptography does not expose.

tlskit needs the exact bytes of the signature AlgorithmIdentifier (inside and outside the
TBS, RFC 5280 4.1.1.2 requires them to be identical), the RSASSA-PSS parameters, and the
raw issuer / subject / SubjectPublicKeyInfo encodings (compared byte for byte, as webpki
does). Everything else is parsed by cryptography's x509 module.

Any malformed input raises :class:`DERError` (a ValueError subclass kept internal to pki;
callers convert it to a :class:`~tlskit.pki.errors.CertificateError`).
"""

from __future__ import annotations

from typing import NamedTuple

TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_SEQUENCE = 0x30


class DERError(ValueError):
    """Malformed DER."""


class TLV(NamedTuple):
    tag: int
    start: int  # offset of the tag byte
    content_start: int
    end: int  # offset just past the content

    def content(self, data: bytes) -> bytes:
        return data[self.content_start : self.end]

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]


def read_tlv(data: bytes, pos: int, limit: int | None = None) -> TLV:
    """Read one TLV at ``pos`` that must end at or before ``limit``."""
    if limit is None:
        limit = len(data)
    if pos + 2 > limit:
        raise DERError("truncated TLV header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("high-tag-number form is not used in X.509 fields tlskit reads")
    first = data[pos + 1]
    cursor = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise DERError("indefinite or oversized length")
        if cursor + count > limit:
            raise DERError("truncated length")
        length = int.from_bytes(data[cursor : cursor + count], "big")
        if length < 0x80 or data[cursor] == 0:
            raise DERError("non-minimal length encoding")
        cursor += count
    end = cursor + length
    if end > limit:
        raise DERError("content runs past its container")
    return TLV(tag, pos, cursor, end)


def children(data: bytes, parent: TLV) -> list[TLV]:
    """The TLVs directly inside a constructed ``parent``."""
    if not parent.tag & 0x20:
        raise DERError("expected a constructed value")
    out = []
    pos = parent.content_start
    while pos < parent.end:
        tlv = read_tlv(data, pos, parent.end)
        out.append(tlv)
        pos = tlv.end
    return out


def read_single(data: bytes, expected_tag: int) -> TLV:
    """Parse ``data`` as exactly one TLV with ``expected_tag`` and nothing after it."""
    tlv = read_tlv(data, 0)
    if tlv.tag != expected_tag:
        raise DERError(f"expected tag {expected_tag:#x}, found {tlv.tag:#x}")
    if tlv.end != len(data):
        raise DERError("trailing data after DER value")
    return tlv


def decode_oid(content: bytes) -> str:
    """Dotted-decimal form of an OBJECT IDENTIFIER's content octets."""
    if not content or content[-1] & 0x80:
        raise DERError("bad OID encoding")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in content:
        if fresh and byte == 0x80:
            raise DERError("non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    if first < 40:
        head = [0, first]
    elif first < 80:
        head = [1, first - 40]
    else:
        head = [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


class AlgorithmIdentifier(NamedTuple):
    oid: str
    parameters: bytes | None  # raw TLV of the parameters, None when absent
    raw: bytes  # the whole AlgorithmIdentifier TLV


def parse_algorithm_identifier(data: bytes, tlv: TLV) -> AlgorithmIdentifier:
    if tlv.tag != TAG_SEQUENCE:
        raise DERError("AlgorithmIdentifier is not a SEQUENCE")
    parts = children(data, tlv)
    if not parts or len(parts) > 2 or parts[0].tag != TAG_OID:
        raise DERError("malformed AlgorithmIdentifier")
    params = parts[1].raw(data) if len(parts) == 2 else None
    return AlgorithmIdentifier(decode_oid(parts[0].content(data)), params, tlv.raw(data))


class SignedParts(NamedTuple):
    """The raw pieces of a SIGNED{...} structure (Certificate or CertificateList)."""

    tbs: bytes
    outer_algorithm: AlgorithmIdentifier
    signature: bytes  # BIT STRING payload without the unused-bits octet


def parse_signed(data: bytes) -> SignedParts:
    top = read_single(data, TAG_SEQUENCE)
    parts = children(data, top)
    if len(parts) != 3 or parts[0].tag != TAG_SEQUENCE or parts[2].tag != TAG_BIT_STRING:
        raise DERError("not a SIGNED structure")
    bits = parts[2].content(data)
    if not bits or bits[0] != 0:
        raise DERError("signature BIT STRING has unused bits")
    return SignedParts(parts[0].raw(data), parse_algorithm_identifier(data, parts[1]), bits[1:])


class TBSFields(NamedTuple):
    inner_algorithm: AlgorithmIdentifier
    issuer: bytes
    subject: bytes
    spki: bytes
    spki_algorithm: AlgorithmIdentifier


def parse_tbs_certificate(tbs: bytes) -> TBSFields:
    top = read_single(tbs, TAG_SEQUENCE)
    parts = children(tbs, top)
    index = 1 if parts and parts[0].tag == 0xA0 else 0  # [0] EXPLICIT version is optional
    if len(parts) < index + 6:
        raise DERError("TBSCertificate has too few fields")
    serial, sig, issuer, _validity, subject, spki = parts[index : index + 6]
    if serial.tag != TAG_INTEGER or spki.tag != TAG_SEQUENCE or issuer.tag != TAG_SEQUENCE:
        raise DERError("TBSCertificate fields out of order")
    if subject.tag != TAG_SEQUENCE:
        raise DERError("subject is not a SEQUENCE")
    spki_parts = children(tbs, spki)
    if len(spki_parts) != 2 or spki_parts[1].tag != TAG_BIT_STRING:
        raise DERError("malformed SubjectPublicKeyInfo")
    return TBSFields(
        parse_algorithm_identifier(tbs, sig),
        issuer.raw(tbs),
        subject.raw(tbs),
        spki.raw(tbs),
        parse_algorithm_identifier(tbs, spki_parts[0]),
    )


def parse_tbs_crl_algorithm(tbs: bytes) -> AlgorithmIdentifier:
    """The signature AlgorithmIdentifier inside a TBSCertList."""
    top = read_single(tbs, TAG_SEQUENCE)
    parts = children(tbs, top)
    index = 1 if parts and parts[0].tag == TAG_INTEGER else 0  # version is optional
    if len(parts) <= index:
        raise DERError("TBSCertList has too few fields")
    return parse_algorithm_identifier(tbs, parts[index])
