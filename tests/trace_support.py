"""Helpers shared by the trace tests: a hand-built trace of a handshake with a
HelloRetryRequest and a failed certificate check, from real message encodings."""

from __future__ import annotations

from cryptography.hazmat.primitives.serialization import Encoding

from tlskit.engine import extensions as ext
from tlskit.engine.messages import (
    HRR_RANDOM,
    Certificate,
    CertificateEntry,
    ClientHello,
    EncryptedExtensions,
    ServerHello,
)
from tlskit.engine.trace import (
    Alert,
    Check,
    HandshakeMessage,
    HelloRetry,
    KeyScheduleStep,
    KeysInUse,
    RecordBoundary,
    StateChange,
)
from tlskit.engine.tracefields import describe_message
from tlskit.trace.log import TraceEntry

GREASE_EXTENSION = 0x2A2A
UNKNOWN_EXTENSION = 0xFE00


def client_hello_bytes(groups=(0x001D,), grease=True) -> bytes:
    extensions = [
        (0, ext.encode_server_name(b"localhost")),
        (10, ext.encode_u16_list([0x1A1A, 0x001D, 0x0017] if grease else [0x001D, 0x0017])),
        (13, ext.encode_u16_list([0x0403, 0x0804])),
        (16, ext.encode_alpn([b"h2", b"http/1.1"])),
        (43, ext.encode_supported_versions_client([ext.TLS13])),
        (51, ext.encode_key_share_client([(g, bytes(32 if g == 0x1D else 65)) for g in groups])),
        (45, b"\x01\x01"),
    ]
    if grease:
        extensions.insert(0, (GREASE_EXTENSION, b""))
        extensions.append((UNKNOWN_EXTENSION, b"\x00\x01"))
    suites = [0x0A0A, 0x1301, 0x1302] if grease else [0x1301, 0x1302]
    return ClientHello(bytes(range(32)), b"", suites, extensions).encode()


def message(side: str, direction: str, raw: bytes, protected: bool = False) -> HandshakeMessage:
    name, fields = describe_message(raw)
    return HandshakeMessage(side, direction, raw[0], name, len(raw), protected, fields, conn=1)


def sample_entries(leaf) -> list[TraceEntry]:
    """A client's trace: ClientHello, HRR (asks secp256r1), second ClientHello, ServerHello,
    the encrypted flight with a certificate that fails validation, then the alert."""
    leaf_der = leaf.public_bytes(Encoding.DER)
    hrr = ServerHello(HRR_RANDOM, b"", 0x1301, [(43, b"\x03\x04"), (51, b"\x00\x17")]).encode()
    server_hello = ServerHello(bytes(32), b"", 0x1301, [(51, ext.encode_key_share_entry(0x17, bytes(65))), (43, b"\x03\x04")]).encode()
    records = [
        StateChange("client", "START", "WAIT_SH", conn=1),
        message("client", "sent", client_hello_bytes()),
        RecordBoundary("client", "sent", "handshake", 300, False, conn=1),
        message("client", "received", hrr),
        HelloRetry("client", "server asked for a key share for secp256r1", "secp256r1", False, conn=1),
        message("client", "sent", client_hello_bytes(groups=(0x17,))),
        message("client", "received", server_hello),
        KeyScheduleStep("client", "extract", "early_secret", conn=1),
        KeyScheduleStep("client", "derive", "derived", "derived", conn=1),
        KeyScheduleStep("client", "extract", "handshake_secret", conn=1),
        KeyScheduleStep("client", "derive", "client_handshake_traffic_secret", "c hs traffic", conn=1),
        KeyScheduleStep("client", "derive", "server_handshake_traffic_secret", "s hs traffic", conn=1),
        KeysInUse("client", "read", "handshake", "TLS_AES_128_GCM_SHA256", conn=1),
        KeysInUse("client", "write", "handshake", "TLS_AES_128_GCM_SHA256", conn=1),
        StateChange("client", "WAIT_SH", "WAIT_EE", conn=1),
        RecordBoundary("client", "received", "application_data", 1200, True, "handshake", conn=1),
        message("client", "received", EncryptedExtensions([(16, ext.encode_alpn([b"h2"]))]).encode(), True),
        message("client", "received", Certificate(b"", [CertificateEntry(leaf_der)]).encode(), True),
        Check("client", "certificate_chain", False, "unknown issuer", conn=1),
        Alert("client", "sent", "fatal", "unknown_ca", 48, "certificate chain does not lead to a trusted root", conn=1),
    ]
    return [TraceEntry(i * 0.0005, r) for i, r in enumerate(records)]
