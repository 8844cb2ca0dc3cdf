"""TLS 1.2 handshake messages and extensions that TLS 1.3 does not share (RFC 5246 7.4,
RFC 8422 5.4-5.7, RFC 5077 3.3, RFC 7627 5.1, RFC 5746 3.2).

Like :mod:`tlskit.engine.messages`: ``decode`` takes the message *body* (without the
4-byte header) and raises DecodeError/IllegalParameter on malformed input; ``encode``
returns the whole framed message. ClientHello and ServerHello are the shared codecs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tlskit.engine.buffer import Reader, u8, u16, u24, vec8, vec16, vec24
from tlskit.errors import DecodeError, IllegalParameter


class HandshakeType12(enum.IntEnum):
    """Handshake types TLS 1.2 has and TLS 1.3 does not (RFC 5246 7.4)."""

    hello_request = 0
    server_key_exchange = 12
    server_hello_done = 14
    client_key_exchange = 16


class ExtensionType12(enum.IntEnum):
    """Extensions only TLS 1.2 uses."""

    ec_point_formats = 11  # RFC 8422 5.1.2
    extended_master_secret = 23  # RFC 7627 5.1
    session_ticket = 35  # RFC 5077 3.2
    renegotiation_info = 0xFF01  # RFC 5746 3.2


#: RFC 8422 5.4: ECCurveType.named_curve, the only one left (explicit curves are deprecated)
NAMED_CURVE = 3
#: RFC 8422 5.1.2: the uncompressed point format, the only one left
UNCOMPRESSED = 0
#: RFC 5246 7.4.4 ClientCertificateType values we ask for
RSA_SIGN = 1
ECDSA_SIGN = 64


def frame(msg_type: int, body: bytes) -> bytes:
    return u8(msg_type) + u24(len(body)) + body


# -- extensions ---------------------------------------------------------------

#: renegotiation_info of an initial handshake: an empty renegotiated_connection (RFC 5746 3.2)
EMPTY_RENEGOTIATION_INFO = b"\x00"
#: ec_point_formats offering uncompressed only (RFC 8422 5.1.2)
EC_POINT_FORMATS_UNCOMPRESSED = b"\x01\x00"


def decode_renegotiation_info(body: bytes) -> bytes:
    r = Reader(body)
    value = r.pull_vector(1)
    r.expect_end()
    return value


def decode_ec_point_formats(body: bytes) -> bytes:
    """The list of formats; it MUST contain uncompressed (RFC 8422 5.1.2)."""
    r = Reader(body)
    formats = r.pull_vector(1, minimum=1)
    r.expect_end()
    if UNCOMPRESSED not in formats:
        raise IllegalParameter("ec_point_formats does not offer the uncompressed format")
    return formats


def check_empty_extension(name: str, body: bytes) -> None:
    """extended_master_secret is empty (RFC 7627 5.1); so is a server's session_ticket (RFC 5077 3.2)."""
    if body:
        raise DecodeError(f"{name} extension must be empty")


# -- messages -----------------------------------------------------------------


@dataclass
class Certificate12:
    """RFC 5246 7.4.2: a chain without request context or per-entry extensions."""

    chain: list[bytes]

    def encode(self) -> bytes:
        return frame(11, vec24(b"".join(vec24(c) for c in self.chain)))

    @classmethod
    def decode(cls, body: bytes) -> "Certificate12":
        r = Reader(body)
        entries = r.pull_reader(3)
        r.expect_end()
        chain = []
        while not entries.eof():
            chain.append(entries.pull_vector(3, minimum=1))
        return cls(chain)


@dataclass
class ServerKeyExchange:
    """RFC 8422 5.4: ServerECDHParams and a digitally-signed struct over
    client_random + server_random + params (RFC 5246 7.4.3 / 4.7)."""

    group: int
    public: bytes
    scheme: int
    signature: bytes

    @property
    def params(self) -> bytes:
        """The encoded ServerECDHParams: what the signature covers, after the two randoms."""
        return ecdh_params(self.group, self.public)

    def encode(self) -> bytes:
        return frame(12, self.params + u16(self.scheme) + vec16(self.signature))

    @classmethod
    def decode(cls, body: bytes) -> "ServerKeyExchange":
        r = Reader(body)
        curve_type = r.pull_u8()
        if curve_type != NAMED_CURVE:
            # RFC 8422 5.4: explicit_prime/explicit_char2 are deprecated and MUST NOT be used
            raise IllegalParameter("ServerKeyExchange does not use a named curve")
        group = r.pull_u16()
        public = r.pull_vector(1, minimum=1)
        scheme = r.pull_u16()
        signature = r.pull_vector(2, minimum=1)
        r.expect_end()
        return cls(group, public, scheme, signature)


def ecdh_params(group: int, public: bytes) -> bytes:
    return u8(NAMED_CURVE) + u16(group) + vec8(public)


def server_key_exchange_content(client_random: bytes, server_random: bytes, params: bytes) -> bytes:
    """What the server signs (RFC 8422 5.4): ClientHello.random + ServerHello.random + params."""
    return client_random + server_random + params


@dataclass
class ClientKeyExchange:
    """RFC 8422 5.7: ClientECDiffieHellmanPublic, always explicit (no fixed-ECDH certificates)."""

    public: bytes

    def encode(self) -> bytes:
        return frame(16, vec8(self.public))

    @classmethod
    def decode(cls, body: bytes) -> "ClientKeyExchange":
        r = Reader(body)
        public = r.pull_vector(1, minimum=1)
        r.expect_end()
        return cls(public)


@dataclass
class CertificateRequest12:
    """RFC 5246 7.4.4: certificate types, signature algorithms and CA names."""

    certificate_types: bytes
    schemes: list[int]
    authorities: list[bytes] = field(default_factory=list)

    def encode(self) -> bytes:
        body = (
            vec8(self.certificate_types)
            + vec16(b"".join(u16(s) for s in self.schemes))
            + vec16(b"".join(vec16(name) for name in self.authorities))
        )
        return frame(13, body)

    @classmethod
    def decode(cls, body: bytes) -> "CertificateRequest12":
        r = Reader(body)
        types = r.pull_vector(1, minimum=1)
        raw_schemes = r.pull_vector(2, minimum=2)
        if len(raw_schemes) % 2:
            raise DecodeError("odd supported_signature_algorithms length")
        schemes = [int.from_bytes(raw_schemes[i : i + 2], "big") for i in range(0, len(raw_schemes), 2)]
        names_reader = r.pull_reader(2)
        r.expect_end()
        authorities = []
        while not names_reader.eof():
            authorities.append(names_reader.pull_vector(2, minimum=1))
        return cls(types, schemes, authorities)


@dataclass
class ServerHelloDone:
    """RFC 5246 7.4.5: empty."""

    def encode(self) -> bytes:
        return frame(14, b"")

    @classmethod
    def decode(cls, body: bytes) -> "ServerHelloDone":
        if body:
            raise DecodeError("ServerHelloDone is not empty")
        return cls()


@dataclass
class CertificateVerify12:
    """RFC 5246 7.4.8: a digitally-signed struct over all handshake messages so far."""

    scheme: int
    signature: bytes

    def encode(self) -> bytes:
        return frame(15, u16(self.scheme) + vec16(self.signature))

    @classmethod
    def decode(cls, body: bytes) -> "CertificateVerify12":
        r = Reader(body)
        scheme = r.pull_u16()
        signature = r.pull_vector(2, minimum=1)
        r.expect_end()
        return cls(scheme, signature)


@dataclass
class Finished12:
    """RFC 5246 7.4.9: 12 bytes of verify_data for every suite we implement."""

    verify_data: bytes

    def encode(self) -> bytes:
        return frame(20, self.verify_data)

    @classmethod
    def decode(cls, body: bytes) -> "Finished12":
        if len(body) != 12:
            raise DecodeError("TLS 1.2 Finished must carry 12 bytes")
        return cls(bytes(body))


@dataclass
class NewSessionTicket12:
    """RFC 5077 3.3: a lifetime hint and an opaque ticket (empty: the server changed its mind)."""

    lifetime_hint: int
    ticket: bytes

    def encode(self) -> bytes:
        return frame(4, self.lifetime_hint.to_bytes(4, "big") + vec16(self.ticket))

    @classmethod
    def decode(cls, body: bytes) -> "NewSessionTicket12":
        r = Reader(body)
        hint = r.pull_u32()
        ticket = r.pull_vector(2)
        r.expect_end()
        return cls(hint, ticket)


@dataclass
class HelloRequest:
    """RFC 5246 7.4.1.1: the server's invitation to renegotiate (which we always decline)."""

    def encode(self) -> bytes:
        return frame(0, b"")

    @classmethod
    def decode(cls, body: bytes) -> "HelloRequest":
        if body:
            raise DecodeError("HelloRequest is not empty")
        return cls()
