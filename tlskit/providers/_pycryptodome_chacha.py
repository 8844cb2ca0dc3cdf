"""ChaCha20-Poly1305 (RFC 8439) for TLS records from PyCryptodome's ChaCha20 and Poly1305.

``ChaCha20_Poly1305.new`` builds two ChaCha20 objects per nonce (one only to derive
the one-time Poly1305 key) plus a Poly1305 object and a state machine, about twice
the cost of the record itself for a handshake-sized record. RFC 8439 2.8 needs a
single ChaCha20 stream per record: its block 0 gives the one-time key (2.6), the
stream from block 1 on encrypts, so here one ``ChaCha20.new(key, nonce)`` serves
both (64 bytes of block 0 are drawn first, which leaves the stream at block 1),
and the tag is Poly1305 over aad || pad16 || ciphertext || pad16 || le64(len(aad))
|| le64(len(ciphertext)), checked (``hmac.compare_digest``) before decryption.

Poly1305 is PyCryptodome's C code, reached through ``Crypto.Hash.Poly1305.Poly1305_MAC``
(documented "do not instantiate directly": the public ``new`` derives the key from a
cipher itself). Whether it behaves as expected is checked when this module is imported,
against the library's ``ChaCha20_Poly1305``; if it is missing or disagrees, ``available``
is False and the provider keeps the library's object per record. The Wycheproof vectors
and a comparison with pyca/cryptography pin the result (tests).
"""

from __future__ import annotations

import hmac
import struct
from typing import Any

from Crypto.Cipher import ChaCha20, ChaCha20_Poly1305

from tlskit.errors import BadRecordMac, InternalError
from tlskit.providers.base import AEAD

TAG_LENGTH = 16
_BLOCK0 = bytes(64)


def _load_poly1305() -> Any | None:
    try:
        from Crypto.Hash import Poly1305
    except ImportError:  # pragma: no cover - the library reorganised its modules
        return None
    return getattr(Poly1305, "Poly1305_MAC", None)


class ComposedChaCha20Poly1305(AEAD):
    """ChaCha20-Poly1305 bound to one key, for 12-byte nonces (see the module docstring)."""

    __slots__ = ("_key", "_mac")

    def __init__(self, key: bytes, mac: Any) -> None:
        self._key = key
        self._mac = mac

    def _start(self, nonce: bytes) -> tuple[Any, bytes]:
        """The record's ChaCha20 stream (left at block 1) and its one-time Poly1305 key."""
        # The 12-byte nonce is what RFC 8439 uses (ChaCha20.new would take 8 or 24 bytes
        # as other variants): the callers refuse any other length first.
        stream = ChaCha20.new(key=self._key, nonce=nonce)
        return stream, stream.encrypt(_BLOCK0)[:32]

    def _tag(self, one_time_key: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        data = b"".join(
            (
                aad,
                bytes(-len(aad) % 16),
                ciphertext,
                bytes(-len(ciphertext) % 16),
                struct.pack("<QQ", len(aad), len(ciphertext)),
            )
        )
        return self._mac(one_time_key[:16], one_time_key[16:], data).digest()  # type: ignore[no-any-return]

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        # lengths below are byte counts: any buffer becomes bytes (no copy for bytes)
        nonce, aad, plaintext = bytes(nonce), bytes(aad), bytes(plaintext)
        if len(nonce) != 12:
            raise InternalError("ChaCha20-Poly1305 nonce must be 12 bytes")
        stream, one_time_key = self._start(nonce)
        ciphertext = stream.encrypt(plaintext) if len(plaintext) else b""
        return ciphertext + self._tag(one_time_key, aad, ciphertext)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        nonce, aad, ciphertext = bytes(nonce), bytes(aad), bytes(ciphertext)
        if len(nonce) != 12 or len(ciphertext) < TAG_LENGTH:
            raise BadRecordMac("ChaCha20-Poly1305 authentication failed")
        body, tag = ciphertext[:-TAG_LENGTH], ciphertext[-TAG_LENGTH:]
        stream, one_time_key = self._start(nonce)
        if not hmac.compare_digest(self._tag(one_time_key, aad, body), tag):
            raise BadRecordMac("ChaCha20-Poly1305 authentication failed")
        # XOR with the keystream: the object already "encrypted" block 0 and refuses to
        # switch to decrypt(), which is the same operation
        return stream.encrypt(body) if len(body) else b""


def _self_test(mac: Any) -> bool:
    """The composition agrees with the library's ChaCha20_Poly1305 on a few shapes of input."""
    key = bytes(range(32))
    nonce = bytes(range(100, 112))
    composed = ComposedChaCha20Poly1305(key, mac)
    for aad_len, pt_len in ((0, 0), (5, 1), (13, 16), (16, 65), (0, 300)):
        aad, plaintext = bytes(range(aad_len)), bytes(i % 251 for i in range(pt_len))
        reference = ChaCha20_Poly1305.new(key=key, nonce=nonce)
        reference.update(aad)
        ct, tag = reference.encrypt_and_digest(plaintext)
        if composed.seal(nonce, aad, plaintext) != ct + tag or composed.open(nonce, aad, ct + tag) != plaintext:
            return False
    return True


def _probe() -> Any | None:
    mac = _load_poly1305()
    if mac is None:
        return None
    try:
        return mac if _self_test(mac) else None
    except Exception:  # noqa: BLE001 - any surprise from a private API means "do not use it"
        return None


#: PyCryptodome's Poly1305 MAC class when the composition is usable, else None
POLY1305 = _probe()
available = POLY1305 is not None


def new(key: bytes) -> ComposedChaCha20Poly1305:
    if POLY1305 is None:  # pragma: no cover - guarded by ``available``
        raise InternalError("PyCryptodome's Poly1305 is not usable")
    return ComposedChaCha20Poly1305(key, POLY1305)
