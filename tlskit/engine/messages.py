"""Handshake messages (RFC 8446 section 4): one dataclass with encode/decode per message.

``decode_*`` functions take the message *body* (without the 4-byte handshake header)
and raise :class:`tlskit.errors.DecodeError` (or IllegalParameter) on malformed input.
A decoded message's ``extensions`` is its typed view (extensions.ExtensionList): the
``(type, body)`` list with properties such as ``hello.extensions.key_share``. Messages
built to be sent take a plain list of ``(type, encoded body)`` pairs.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from tlskit.engine.buffer import Reader, u8, u16, u24, u32_bytes, vec8, vec16, vec24
from tlskit.engine.extensions import (
    CertificateEntryExtensions,
    CertificateRequestExtensions,
    ClientHelloExtensions,
    EncryptedExtensionsList,
    Extensions,
    HelloRetryRequestExtensions,
    NewSessionTicketExtensions,
    ServerHelloExtensions,
    decode_extensions,
    encode_extensions,
)
from tlskit.errors import DecodeError, IllegalParameter, InternalError


class HandshakeType(enum.IntEnum):
    client_hello = 1
    server_hello = 2
    new_session_ticket = 4
    end_of_early_data = 5
    encrypted_extensions = 8
    certificate = 11
    certificate_request = 13
    certificate_verify = 15
    finished = 20
    key_update = 24
    message_hash = 254


#: ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
#: Downgrade sentinels in the last 8 bytes of ServerHello.random (RFC 8446 4.1.3).
DOWNGRADE_TLS12 = bytes.fromhex("444f574e47524401")
DOWNGRADE_TLS11 = bytes.fromhex("444f574e47524400")

LEGACY_VERSION = 0x0303
#: A Hello with legacy_version at or below this MUST be refused with protocol_version (RFC 8446 D.5).
SSL3_VERSION = 0x0300


def frame(msg_type: int, body: bytes) -> bytes:
    """Prefix a handshake body with its type and 24-bit length."""
    if len(body) >= 1 << 24:
        raise InternalError("handshake message too long to frame")
    return b"".join((_HEADER.pack(msg_type, len(body) >> 16, len(body) & 0xFFFF), body))


_HEADER = struct.Struct(">BBH")


@dataclass
class ClientHello:
    random: bytes
    legacy_session_id: bytes
    cipher_suites: list[int]
    extensions: Extensions
    legacy_version: int = LEGACY_VERSION
    legacy_compression_methods: bytes = b"\x00"

    def encode(self) -> bytes:
        body = (
            u16(self.legacy_version)
            + self.random
            + vec8(self.legacy_session_id)
            + vec16(b"".join(u16(c) for c in self.cipher_suites))
            + vec8(self.legacy_compression_methods)
            + encode_extensions(self.extensions)
        )
        return frame(HandshakeType.client_hello, body)

    @classmethod
    def decode(cls, body: bytes) -> "ClientHello":
        r = Reader(body)
        legacy_version = r.pull_u16()
        random = r.pull_bytes(32)
        session_id = r.pull_vector(1, maximum=32)
        suites_raw = r.pull_vector(2, minimum=2)
        if len(suites_raw) % 2:
            raise DecodeError("odd cipher_suites length")
        suites = [int.from_bytes(suites_raw[i : i + 2], "big") for i in range(0, len(suites_raw), 2)]
        compression = r.pull_vector(1, minimum=1)
        # A ClientHello without extensions is a pre-TLS-1.2 hello: legal bytes, no TLS 1.3.
        extensions = decode_extensions(r, ClientHelloExtensions) if not r.eof() else ClientHelloExtensions()
        r.expect_end()
        return cls(random, session_id, suites, extensions, legacy_version, compression)


@dataclass
class ServerHello:
    random: bytes
    legacy_session_id_echo: bytes
    cipher_suite: int
    extensions: Extensions
    legacy_version: int = LEGACY_VERSION
    legacy_compression_method: int = 0

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    def encode(self) -> bytes:
        body = (
            u16(self.legacy_version)
            + self.random
            + vec8(self.legacy_session_id_echo)
            + u16(self.cipher_suite)
            + u8(self.legacy_compression_method)
            + encode_extensions(self.extensions)
        )
        return frame(HandshakeType.server_hello, body)

    @classmethod
    def decode(cls, body: bytes) -> "ServerHello":
        r = Reader(body)
        legacy_version = r.pull_u16()
        random = r.pull_bytes(32)
        session_id = r.pull_vector(1, maximum=32)
        suite = r.pull_u16()
        compression = r.pull_u8()
        kind = HelloRetryRequestExtensions if random == HRR_RANDOM else ServerHelloExtensions
        extensions = decode_extensions(r, kind) if not r.eof() else kind()
        r.expect_end()
        return cls(random, session_id, suite, extensions, legacy_version, compression)


@dataclass
class EncryptedExtensions:
    extensions: Extensions

    def encode(self) -> bytes:
        return frame(HandshakeType.encrypted_extensions, encode_extensions(self.extensions))

    @classmethod
    def decode(cls, body: bytes) -> "EncryptedExtensions":
        r = Reader(body)
        extensions = decode_extensions(r, EncryptedExtensionsList)
        r.expect_end()
        return cls(extensions)


@dataclass
class CertificateRequest:
    context: bytes
    extensions: Extensions

    def encode(self) -> bytes:
        return frame(HandshakeType.certificate_request, vec8(self.context) + encode_extensions(self.extensions))

    @classmethod
    def decode(cls, body: bytes) -> "CertificateRequest":
        r = Reader(body)
        context = r.pull_vector(1)
        extensions = decode_extensions(r, CertificateRequestExtensions)
        r.expect_end()
        return cls(context, extensions)


@dataclass
class CertificateEntry:
    cert_data: bytes
    extensions: Extensions = field(default_factory=list)


@dataclass
class Certificate:
    context: bytes
    entries: list[CertificateEntry]

    def encode(self) -> bytes:
        entries = b"".join(vec24(e.cert_data) + encode_extensions(e.extensions) for e in self.entries)
        return frame(HandshakeType.certificate, vec8(self.context) + vec24(entries))

    @classmethod
    def decode(cls, body: bytes) -> "Certificate":
        r = Reader(body)
        context = r.pull_vector(1)
        entries_reader = r.pull_reader(3)
        r.expect_end()
        entries = []
        while not entries_reader.eof():
            cert_data = entries_reader.pull_vector(3, minimum=1)
            extensions = decode_extensions(entries_reader, CertificateEntryExtensions)
            entries.append(CertificateEntry(cert_data, extensions))
        return cls(context, entries)


@dataclass
class CertificateVerify:
    scheme: int
    signature: bytes

    def encode(self) -> bytes:
        return frame(HandshakeType.certificate_verify, u16(self.scheme) + vec16(self.signature))

    @classmethod
    def decode(cls, body: bytes) -> "CertificateVerify":
        r = Reader(body)
        scheme = r.pull_u16()
        signature = r.pull_vector(2, minimum=1)
        r.expect_end()
        return cls(scheme, signature)


@dataclass
class Finished:
    verify_data: bytes

    def encode(self) -> bytes:
        return frame(HandshakeType.finished, self.verify_data)

    @classmethod
    def decode(cls, body: bytes, hash_length: int) -> "Finished":
        if len(body) != hash_length:
            raise DecodeError("Finished has the wrong length")
        return cls(bytes(body))


@dataclass
class NewSessionTicketMessage:
    """The handshake message (RFC 8446 4.6.1); the event a client reports is
    ``tlskit.events.NewSessionTicket``."""

    lifetime: int
    age_add: int
    nonce: bytes
    ticket: bytes
    extensions: Extensions

    def encode(self) -> bytes:
        body = (
            u32_bytes(self.lifetime)
            + u32_bytes(self.age_add)
            + vec8(self.nonce)
            + vec16(self.ticket)
            + encode_extensions(self.extensions)
        )
        return frame(HandshakeType.new_session_ticket, body)

    @classmethod
    def decode(cls, body: bytes) -> "NewSessionTicketMessage":
        r = Reader(body)
        lifetime = r.pull_u32()
        age_add = r.pull_u32()
        nonce = r.pull_vector(1)
        ticket = r.pull_vector(2, minimum=1)
        extensions = decode_extensions(r, NewSessionTicketExtensions)
        r.expect_end()
        if lifetime > 604800:  # RFC 8446 4.6.1: at most seven days
            raise IllegalParameter("ticket lifetime over seven days")
        return cls(lifetime, age_add, nonce, ticket, extensions)


class KeyUpdateRequest(enum.IntEnum):
    update_not_requested = 0
    update_requested = 1


@dataclass
class KeyUpdate:
    request_update: KeyUpdateRequest

    def encode(self) -> bytes:
        return frame(HandshakeType.key_update, u8(self.request_update))

    @classmethod
    def decode(cls, body: bytes) -> "KeyUpdate":
        r = Reader(body)
        value = r.pull_u8()
        r.expect_end()
        try:
            return cls(KeyUpdateRequest(value))
        except ValueError:
            raise IllegalParameter("bad KeyUpdate request value") from None
