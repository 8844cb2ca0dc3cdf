"""Just enough TLS parsing to read the key-exchange group out of a ServerHello.

Python 3.11's ``ssl`` reports the cipher suite but not the group, and the
benchmark must prove that its OPENSSL_CONF pin took effect. The ServerHello
travels in clear, so its key_share extension names the group. Deliberately
independent of tlskit's own codec: this checks the reference side.
"""

from __future__ import annotations

from tlskit.providers.names import CIPHER_SUITES, GROUPS

_GROUP_NAMES = {code: name for name, code in GROUPS.items()}
_SUITE_NAMES = {code: name for name, code in CIPHER_SUITES.items()}
_KEY_SHARE = 51
_HANDSHAKE_RECORD = 22
_SERVER_HELLO = 2
_SERVER_KEY_EXCHANGE = 12


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "big")


def parse_server_hello(flight: bytes) -> dict[str, str | None]:
    """``{"cipher_suite", "group"}`` from a server's first flight (ServerHello first)."""
    if len(flight) < 9 or flight[0] != _HANDSHAKE_RECORD or flight[5] != _SERVER_HELLO:
        return {"cipher_suite": None, "group": None}
    body = flight[9 : 5 + _u16(flight, 3)]
    pos = 2 + 32  # legacy_version, random
    pos += 1 + body[pos]  # legacy_session_id_echo
    suite = _u16(body, pos)
    pos += 2 + 1  # cipher_suite, legacy_compression_method
    end = pos + 2 + _u16(body, pos)
    pos += 2
    group = None
    while pos + 4 <= end:
        ext_type, ext_len = _u16(body, pos), _u16(body, pos + 2)
        if ext_type == _KEY_SHARE:
            code = _u16(body, pos + 4)
            group = _GROUP_NAMES.get(code, f"0x{code:04x}")
        pos += 4 + ext_len
    return {"cipher_suite": _SUITE_NAMES.get(suite, f"0x{suite:04x}"), "group": group}


def _tls12_ske_group(flight: bytes) -> str | None:
    """The named curve of a TLS 1.2 ServerKeyExchange (RFC 8422 5.4) in a plaintext flight."""
    data = b""
    pos = 0
    while pos + 5 <= len(flight):  # the handshake records' contents, joined
        length = _u16(flight, pos + 3)
        if flight[pos] == _HANDSHAKE_RECORD:
            data += flight[pos + 5 : pos + 5 + length]
        pos += 5 + length
    pos = 0
    while pos + 4 <= len(data):
        msg_type, length = data[pos], int.from_bytes(data[pos + 1 : pos + 4], "big")
        if msg_type == _SERVER_KEY_EXCHANGE and length >= 3 and data[pos + 4] == 3:  # named_curve
            code = _u16(data, pos + 5)
            return _GROUP_NAMES.get(code, f"0x{code:04x}")
        pos += 4 + length
    return None


def server_hello_group(flight: bytes) -> str | None:
    """The group: in the ServerHello's key_share (TLS 1.3) or the ServerKeyExchange (TLS 1.2)."""
    return parse_server_hello(flight)["group"] or _tls12_ske_group(flight)
