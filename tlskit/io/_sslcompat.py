"""What code written for ``ssl.SSLSocket`` / ``ssl.SSLObject`` asks of a TLS
connection, answered from a tlskit engine connection (issue 14 item 5).

* ``cipher()`` as ``(name, protocol version, secret bits)``; TLS 1.2 suites by
  their OpenSSL names, as ``ssl`` shows them (TLS 1.3 names are the IANA ones);
* ``get_channel_binding("tls-exporter")`` (RFC 9266);
* ``shared_ciphers()`` on the server (the suites the client offered that the
  server would take), from the ClientHello the server received;
* :class:`TLSObject`: the ``ssl.SSLObject`` methods that asyncio libraries and
  httpcore call, for ``transport.get_extra_info("ssl_object")``.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from tlskit.io._common import peercert_dict

#: RFC 9266 2: the exporter label of the "tls-exporter" channel binding (empty context, 32 bytes)
TLS_EXPORTER_LABEL = b"EXPORTER-Channel-Binding"
TLS_EXPORTER_LENGTH = 32
CHANNEL_BINDING_TYPES = ("tls-exporter",)

#: TLS 1.2 suites by the names OpenSSL (and so ``ssl``) gives them
_OPENSSL_TLS12_NAMES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}

#: how much of a client's first bytes a server keeps to answer shared_ciphers()
#: (a ClientHello is at most a few kilobytes; post-quantum key shares included)
HELLO_CAPTURE_LIMIT = 32 * 1024


def secret_bits(suite: str) -> int:
    """The key size of a suite's cipher, as ``ssl``'s third ``cipher()`` field."""
    return 128 if "AES_128" in suite else 256  # AES-256 and ChaCha20 keys are 256 bits


def suite_tuple(suite: str, version: str) -> tuple[str, str, int]:
    return (_OPENSSL_TLS12_NAMES.get(suite, suite), version, secret_bits(suite))


def cipher_tuple(connection: Any) -> tuple[str, str, int] | None:
    """``ssl.SSLSocket.cipher()``: ``(name, version, secret_bits)``, None before the handshake."""
    if not connection.handshake_complete:
        return None
    negotiated = connection.negotiated
    return suite_tuple(negotiated.cipher_suite, negotiated.version)


def channel_binding(connection: Any, cb_type: str = "tls-exporter") -> bytes | None:
    """RFC 9266 "tls-exporter": the exporter with label "EXPORTER-Channel-Binding", an
    empty context and 32 bytes. None before the handshake, as ``ssl`` answers.

    "tls-unique" (RFC 5929) is not offered: it is undefined for TLS 1.3 (RFC 8446
    C.5, RFC 9266 1) and unsafe for TLS 1.2 without extended master secret.
    """
    if cb_type not in CHANNEL_BINDING_TYPES:
        raise ValueError(f"{cb_type!r} channel binding type not implemented (only 'tls-exporter')")
    if not connection.handshake_complete:
        return None
    return bytes(connection.export_keying_material(TLS_EXPORTER_LABEL, b"", TLS_EXPORTER_LENGTH))


def offered_suites(first_bytes: bytes) -> list[int] | None:
    """The cipher suite codes of the ClientHello at the start of ``first_bytes`` (the
    plaintext records a server received first); None if they do not hold a whole one.

    The engine already parsed and accepted this ClientHello; this reads only the
    suite list again, defensively (any malformation gives None, never an exception).
    """
    try:
        body = bytearray()
        offset = 0
        needed = None
        # RFC 8446 5.1: the ClientHello may be fragmented over several handshake records
        while offset + 5 <= len(first_bytes):
            content_type, _, length = struct.unpack_from("!BHH", first_bytes, offset)
            if content_type != 22:
                return None
            body += first_bytes[offset + 5 : offset + 5 + length]
            offset += 5 + length
            if needed is None and len(body) >= 4:
                if body[0] != 1:  # client_hello
                    return None
                needed = 4 + int.from_bytes(body[1:4], "big")
            if needed is not None and len(body) >= needed:
                break
        if needed is None or len(body) < needed:
            return None
        # legacy_version(2) random(32) legacy_session_id<0..32> cipher_suites<2..2^16-2>
        pos = 4 + 2 + 32
        pos += 1 + body[pos]
        count = int.from_bytes(body[pos : pos + 2], "big")
        suites = body[pos + 2 : pos + 2 + count]
        if count % 2 or len(suites) != count:
            return None
        return [int.from_bytes(suites[i : i + 2], "big") for i in range(0, count, 2)]
    except (IndexError, struct.error, ValueError):
        return None


def shared_ciphers(connection: Any, config: Any, hello_bytes: bytes | None) -> list[tuple[str, str, int]] | None:
    """Server side: the suites of ``config`` the client offered, in the server's order,
    as ``(name, version, bits)``. None on the client side or without a ClientHello, as
    OpenSSL's SSL_get_shared_ciphers (which ``ssl`` uses) answers only on servers."""
    if hello_bytes is None or not connection.handshake_complete:
        return None
    offered = offered_suites(hello_bytes)
    if offered is None:
        return None
    from tlskit.engine.tls12.suites import SUITE_TABLE
    from tlskit.providers.names import CIPHER_SUITES

    shared: list[tuple[str, str, int]] = []
    for name in getattr(config, "resolved_cipher_suites", ()):
        if CIPHER_SUITES.get(name) in offered:
            shared.append(suite_tuple(name, "TLSv1.3"))
    for name in getattr(config, "resolved_tls12_suites", ()):
        info = SUITE_TABLE.get(name)
        if info is not None and info.code in offered:
            shared.append(suite_tuple(name, "TLSv1.2"))
    return shared


class TLSObject:
    """The parts of ``ssl.SSLObject`` that libraries call on an established
    connection (``transport.get_extra_info("ssl_object")``): httpcore asks for
    ``selected_alpn_protocol()``, others for ``getpeercert()``, ``cipher()``,
    ``version()``, ``get_channel_binding()``...

    It describes the connection; reading and writing go through the stream or
    transport, not through this object.
    """

    def __init__(
        self,
        connection: Any,
        *,
        server_side: bool,
        server_hostname: str | None = None,
        config: Any = None,
        hello_bytes: Callable[[], bytes | None] = lambda: None,
        pending: Callable[[], int] = lambda: 0,
    ) -> None:
        self._conn = connection
        self._config = config
        self.server_side = server_side
        #: the name the client asked for (None on the server side, as in ``ssl``)
        self.server_hostname = None if server_side else server_hostname
        self._hello_bytes = hello_bytes
        self._pending = pending
        #: ``ssl`` objects point at their SSLContext; a tlskit connection has a config
        self.context = None

    def do_handshake(self) -> None:
        """Already done: the stream completes the handshake before handing out this object."""

    def cipher(self) -> tuple[str, str, int] | None:
        return cipher_tuple(self._conn)

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        if not self.server_side:
            return None
        return shared_ciphers(self._conn, self._config, self._hello_bytes())

    def version(self) -> str | None:
        return self._conn.negotiated.version if self._conn.handshake_complete else None

    def selected_alpn_protocol(self) -> str | None:
        return self._conn.negotiated.alpn if self._conn.handshake_complete else None

    def selected_npn_protocol(self) -> None:
        return None  # NPN is not part of TLS 1.3; ``ssl`` answers None too

    def compression(self) -> None:
        return None  # RFC 8446 4.1.2: TLS 1.3 has no compression

    def getpeercert(self, binary_form: bool = False) -> dict[str, Any] | bytes | None:
        if not self._conn.handshake_complete:
            return None
        certificates = tuple(self._conn.negotiated.peer_certificates or ())
        if not certificates:
            return None
        return certificates[0] if binary_form else peercert_dict(certificates[0])

    def get_channel_binding(self, cb_type: str = "tls-exporter") -> bytes | None:
        return channel_binding(self._conn, cb_type)

    def export_keying_material(self, label: bytes | str, context: bytes | None = None, length: int = 32) -> bytes:
        return bytes(self._conn.export_keying_material(label, context, length))

    @property
    def session(self) -> Any:
        """The session the resumption support keeps for this connection (None if none)."""
        return getattr(self._conn, "session", None)

    @property
    def session_reused(self) -> bool:
        return bool(self._conn.handshake_complete and getattr(self._conn.negotiated, "resumed", False))

    def pending(self) -> int:
        return self._pending()

    def __repr__(self) -> str:
        side = "server" if self.server_side else "client"
        return f"<tlskit TLSObject {side} {self.version() or 'handshaking'}>"
