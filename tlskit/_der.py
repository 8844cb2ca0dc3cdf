"""tlskit's one strict DER reader, below every layer (providers, pki and engine use it).

pyca/cryptography and the other libraries parse keys and certificates; tlskit reads the
few raw fields they hide or normalise: the AlgorithmIdentifier of a
SubjectPublicKeyInfo or PKCS#8 key (an RSASSA-PSS key looks like rsaEncryption to the
libraries), the RSASSA-PSS-params (RFC 4055), the exact bytes of a certificate's
signature AlgorithmIdentifiers, issuer, subject and SubjectPublicKeyInfo (compared byte
for byte, as webpki does).

Strict DER only (X.690 10.1): definite lengths in the minimal number of octets, no
high-tag-number form, every TLV inside its container, nothing after the top-level
value. Any malformed input raises :class:`DERError`, which never leaves tlskit: each
caller turns it into its layer's typed error (DecodeError, BadSignatureError,
KeyLoadError, CertificateError). Like tlskit.errors, this module imports nothing from
tlskit but the OID table.
"""

from __future__ import annotations

from typing import NamedTuple

from tlskit import _oids

TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_SEQUENCE = 0x30

NULL = b"\x05\x00"


class DERError(ValueError):
    """Malformed DER (internal: callers convert it to their own typed error)."""


class TLV(NamedTuple):
    tag: int
    start: int  # offset of the tag byte
    content_start: int
    end: int  # offset just past the content

    def content(self, data: bytes) -> bytes:
        return data[self.content_start : self.end]

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]


def read_tlv(data: bytes, pos: int = 0, limit: int | None = None) -> TLV:
    """Read one TLV at ``pos`` that must end at or before ``limit`` (default: the end)."""
    if limit is None:
        limit = len(data)
    if pos + 2 > limit:
        raise DERError("truncated TLV header")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DERError("high-tag-number form is not used in the structures tlskit reads")
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


def encode(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite, minimal length)."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def decode_integer(content: bytes) -> int:
    """A DER INTEGER's value (two's complement, minimal encoding)."""
    if not content:
        raise DERError("empty INTEGER")
    if len(content) > 1 and (content[0] == 0 and content[1] < 0x80 or content[0] == 0xFF and content[1] >= 0x80):
        raise DERError("non-minimal INTEGER")
    return int.from_bytes(content, "big", signed=True)


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


def encode_oid(dotted: str) -> bytes:
    """The content octets of an OBJECT IDENTIFIER given in dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


# ---------------------------------------------------------------------------
# AlgorithmIdentifier, SubjectPublicKeyInfo, PKCS#8


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


def algorithm_identifier(oid: str, parameters: bytes | None = None) -> bytes:
    """An encoded AlgorithmIdentifier."""
    return encode(TAG_SEQUENCE, encode(TAG_OID, encode_oid(oid)) + (parameters or b""))


class SubjectPublicKeyInfo(NamedTuple):
    algorithm: str  # the key algorithm OID
    parameters: bytes | None  # raw TLV of the algorithm parameters, if any
    key: bytes  # the subjectPublicKey BIT STRING payload, without the unused-bits octet

    @property
    def curve(self) -> str | None:
        """The TLS curve of an id-ecPublicKey key with a namedCurve tlskit knows, else None."""
        if self.algorithm != _oids.EC_PUBLIC_KEY or self.parameters is None:
            return None
        # Strict DER has one encoding per OID, so the exact bytes of a namedCurve OID
        # decide it: a byte lookup instead of reading and decoding the OID for every
        # signature verified (three per handshake). Anything else is not a TLS curve.
        params = self.parameters
        if type(params) is not bytes:  # parsed from a bytearray/memoryview: not hashable
            params = bytes(params)
        return _CURVE_BY_ENCODING.get(params)


#: The DER OBJECT IDENTIFIER TLV of each named curve tlskit knows -> its TLS name.
_CURVE_BY_ENCODING: dict[bytes, str] = {encode(TAG_OID, encode_oid(oid)): name for oid, name in _oids.CURVES.items()}


def parse_spki(der: bytes) -> SubjectPublicKeyInfo:
    """A DER SubjectPublicKeyInfo (RFC 5280 4.1.2.7), strictly."""
    top = read_single(der, TAG_SEQUENCE)
    parts = children(der, top)
    if len(parts) != 2 or parts[1].tag != TAG_BIT_STRING:
        raise DERError("malformed SubjectPublicKeyInfo")
    algorithm = parse_algorithm_identifier(der, parts[0])
    bits = parts[1].content(der)
    if not bits or bits[0] != 0:
        raise DERError("subjectPublicKey has unused bits")
    return SubjectPublicKeyInfo(algorithm.oid, algorithm.parameters, bits[1:])


def encode_spki(algorithm: bytes, key: bytes) -> bytes:
    """A SubjectPublicKeyInfo from an encoded AlgorithmIdentifier and the key bytes."""
    return encode(TAG_SEQUENCE, algorithm + encode(TAG_BIT_STRING, b"\x00" + key))


class PrivateKeyInfo(NamedTuple):
    version: int
    algorithm: AlgorithmIdentifier
    private_key: bytes  # the privateKey OCTET STRING's content


def parse_pkcs8(der: bytes) -> PrivateKeyInfo:
    """An unencrypted PKCS#8 PrivateKeyInfo / OneAsymmetricKey (RFC 5958 2)."""
    top = read_single(der, TAG_SEQUENCE)
    parts = children(der, top)
    if len(parts) < 3 or parts[0].tag != TAG_INTEGER or parts[2].tag != TAG_OCTET_STRING:
        raise DERError("not a PKCS#8 PrivateKeyInfo")
    # what may follow: [0] attributes, [1] publicKey (version 2), in that order
    if [t.tag for t in parts[3:]] not in ([], [0xA0], [0x81], [0xA1], [0xA0, 0x81], [0xA0, 0xA1]):
        raise DERError("unexpected field in PKCS#8 PrivateKeyInfo")
    return PrivateKeyInfo(
        decode_integer(parts[0].content(der)),
        parse_algorithm_identifier(der, parts[1]),
        parts[2].content(der),
    )


def is_encrypted_pkcs8(der: bytes) -> bool:
    """Whether ``der`` starts like a PKCS#8 EncryptedPrivateKeyInfo: a SEQUENCE whose
    first field is a SEQUENCE (a PrivateKeyInfo's is its INTEGER version)."""
    try:
        top = read_tlv(der)
        return top.tag == TAG_SEQUENCE and read_tlv(der, top.content_start, top.end).tag == TAG_SEQUENCE
    except DERError:
        return False


# ---------------------------------------------------------------------------
# RSASSA-PSS-params (RFC 4055 3.1), read once for keys (providers) and signatures (pki)


class PSSParams(NamedTuple):
    """RSASSA-PSS-params with each field as written; None where the DEFAULT applies
    (hash SHA-1, mgf1SHA1, salt length 20, trailer 1)."""

    hash: AlgorithmIdentifier | None
    mgf: AlgorithmIdentifier | None
    mgf_hash: AlgorithmIdentifier | None  # MGF1's hash, when mgf is MGF1 with parameters
    salt_length: int | None
    trailer_field: int | None

    @property
    def hash_name(self) -> str:
        """The message hash by name ("sha1" when defaulted, "unknown" if not in the table)."""
        if self.hash is None:
            return "sha1"
        info = _oids.HASHES.get(self.hash.oid)
        return info.name if info else "unknown"


def parse_pss_params(params: bytes) -> PSSParams:
    top = read_single(params, TAG_SEQUENCE)
    fields: dict[int, TLV] = {}
    previous = -1
    for tlv in children(params, top):
        number = tlv.tag - 0xA0
        if not 0 <= number <= 3 or number <= previous:  # [0]..[3] EXPLICIT, in order, once each
            raise DERError("unexpected field in RSASSA-PSS parameters")
        previous = number
        inner = read_tlv(params, tlv.content_start, tlv.end)
        if inner.end != tlv.end:
            raise DERError("trailing data in an RSASSA-PSS parameter")
        fields[number] = inner
    hash_alg = parse_algorithm_identifier(params, fields[0]) if 0 in fields else None
    mgf = parse_algorithm_identifier(params, fields[1]) if 1 in fields else None
    mgf_hash = None
    if mgf is not None and mgf.oid == _oids.MGF1 and mgf.parameters is not None:
        mgf_hash = parse_algorithm_identifier(mgf.parameters, read_single(mgf.parameters, TAG_SEQUENCE))
    integers: list[int | None] = []
    for number in (2, 3):
        tlv = fields.get(number)
        if tlv is None:
            integers.append(None)
        elif tlv.tag != TAG_INTEGER:
            raise DERError("RSASSA-PSS saltLength / trailerField is not an INTEGER")
        else:
            integers.append(decode_integer(tlv.content(params)))
    return PSSParams(hash_alg, mgf, mgf_hash, integers[0], integers[1])


# ---------------------------------------------------------------------------
# X.509 Certificate and CertificateList (RFC 5280 4.1, 5.1)


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


def certificate_spki(cert: bytes) -> bytes:
    """The raw SubjectPublicKeyInfo of a certificate, reading only the path to it (so a
    certificate with a fault elsewhere, that a verifier accepted, still yields its key)."""
    top = read_tlv(cert)
    if top.tag != TAG_SEQUENCE:
        raise DERError("certificate is not a SEQUENCE")
    tbs = read_tlv(cert, top.content_start, top.end)
    if tbs.tag != TAG_SEQUENCE:
        raise DERError("tbsCertificate is not a SEQUENCE")
    fields = children(cert, tbs)
    if fields and fields[0].tag == 0xA0:  # explicit version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6 or fields[5].tag != TAG_SEQUENCE:
        raise DERError("certificate has no SubjectPublicKeyInfo")
    return fields[5].raw(cert)


def parse_tbs_crl_algorithm(tbs: bytes) -> AlgorithmIdentifier:
    """The signature AlgorithmIdentifier inside a TBSCertList."""
    top = read_single(tbs, TAG_SEQUENCE)
    parts = children(tbs, top)
    index = 1 if parts and parts[0].tag == TAG_INTEGER else 0  # version is optional
    if len(parts) <= index:
        raise DERError("TBSCertList has too few fields")
    return parse_algorithm_identifier(tbs, parts[index])
