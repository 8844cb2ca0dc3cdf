"""TLS 1.2 record protection for AEAD suites (RFC 5246 6.2.3.3, RFC 5288 3, RFC 7905 2).

Differences from TLS 1.3 that live here:

* the outer content type is the real one (no inner plaintext, no padding), and
  change_cipher_spec switches each direction to its new keys (RFC 5246 7.1);
* the additional data is seq_num(8) + type(1) + version(2) + plaintext length(2);
* AES-GCM nonces are a 4-byte salt from the key block plus an 8-byte explicit part
  carried in front of the ciphertext (we send the sequence number there, as OpenSSL
  does, which can never repeat under one key); ChaCha20-Poly1305 nonces are the 12-byte
  IV XORed with the left-padded sequence number, nothing explicit.

:class:`Tls12RecordLayer` takes over a :class:`tlskit.engine.record.RecordLayer` once
TLS 1.2 is negotiated (the ClientHello went out before the version was known); it
keeps its buffers, so nothing received or queued is lost in the switch.
"""

from __future__ import annotations

from tlskit.engine.record import HEADER_LENGTH, MAX_PLAINTEXT, ContentType, RecordLayer
from tlskit.engine.tls12.suites import Tls12CipherSuite
from tlskit.errors import (
    BadRecordMac,
    InternalError,
    ProtocolVersionError,
    RecordOverflow,
    UnexpectedMessage,
)
from tlskit.providers.base import AEAD

#: RFC 5246 6.2.3: TLSCiphertext.length MUST NOT exceed 2^14 + 2048.
MAX_CIPHERTEXT_12 = MAX_PLAINTEXT + 2048
_TAG = 16
_SEQUENCE_LIMIT = 2**64 - 1
_VERSION = b"\x03\x03"
_KNOWN_TYPES = frozenset(int(t) for t in ContentType)


class Tls12Protection:
    """One direction's AEAD state: key, implicit IV, sequence number."""

    __slots__ = ("aead", "implicit_iv", "explicit_length", "seq", "_iv_int")

    def __init__(self, suite: Tls12CipherSuite, key: bytes, iv: bytes) -> None:
        if len(key) != suite.aead.key_length or len(iv) != suite.info.fixed_iv_length:
            raise InternalError("TLS 1.2 key block has the wrong shape for the suite")
        self.aead: AEAD = suite.aead.new(key)
        self.implicit_iv = iv
        self.explicit_length = suite.info.explicit_nonce_length
        self.seq = 0
        self._iv_int = int.from_bytes(iv, "big") if not self.explicit_length else 0

    def _next_seq(self) -> int:
        seq = self.seq
        if seq >= _SEQUENCE_LIMIT:  # RFC 5246 6.1: sequence numbers MUST NOT wrap
            raise InternalError("record sequence number exhausted")
        self.seq = seq + 1
        return seq

    def seal(self, content_type: int, fragment: bytes | memoryview) -> bytes:
        """The whole record (header + [explicit nonce +] ciphertext + tag)."""
        seq = self._next_seq()
        seq_bytes = seq.to_bytes(8, "big")
        aad = seq_bytes + bytes((content_type,)) + _VERSION + len(fragment).to_bytes(2, "big")
        if self.explicit_length:
            # RFC 5288 3: nonce = salt(4) + nonce_explicit(8); the sequence number is unique per key
            sealed = seq_bytes + self.aead.seal(self.implicit_iv + seq_bytes, aad, bytes(fragment))
        else:
            # RFC 7905 2: the padded sequence number XORed with the 12-byte IV
            sealed = self.aead.seal((self._iv_int ^ seq).to_bytes(12, "big"), aad, bytes(fragment))
        if len(sealed) != len(fragment) + self.explicit_length + _TAG:
            raise InternalError("AEAD produced an unexpected tag length")
        return bytes((content_type,)) + _VERSION + len(sealed).to_bytes(2, "big") + sealed

    def open(self, content_type: int, payload: bytes) -> bytes:
        """The plaintext of one record's payload, or BadRecordMac."""
        explicit = self.explicit_length
        plain_length = len(payload) - explicit - _TAG
        if plain_length < 0:
            raise BadRecordMac("protected record too short")
        seq = self._next_seq()
        aad = seq.to_bytes(8, "big") + bytes((content_type,)) + _VERSION + plain_length.to_bytes(2, "big")
        if explicit:
            nonce = self.implicit_iv + payload[:explicit]
            plaintext = self.aead.open(nonce, aad, payload[explicit:])
        else:
            plaintext = self.aead.open((self._iv_int ^ seq).to_bytes(12, "big"), aad, payload)
        if len(plaintext) > MAX_PLAINTEXT:  # RFC 5246 6.2.3: record_overflow
            raise RecordOverflow("decrypted record exceeds 2^14 bytes")
        return plaintext


def protections(suite: Tls12CipherSuite, key_block: bytes) -> tuple[Tls12Protection, Tls12Protection]:
    """(client write, server write) protections from the key block (RFC 5246 6.3):
    client_write_key, server_write_key, client_write_IV, server_write_IV (no MAC keys)."""
    key_length = suite.aead.key_length
    iv_length = suite.info.fixed_iv_length
    if len(key_block) != suite.key_block_length:
        raise InternalError("TLS 1.2 key block has the wrong length")
    client_key = key_block[:key_length]
    server_key = key_block[key_length : 2 * key_length]
    client_iv = key_block[2 * key_length : 2 * key_length + iv_length]
    server_iv = key_block[2 * key_length + iv_length :]
    return Tls12Protection(suite, client_key, client_iv), Tls12Protection(suite, server_key, server_iv)


class Tls12RecordLayer(RecordLayer):
    """The record layer once TLS 1.2 is negotiated; see the module docstring."""

    _read12: Tls12Protection | None
    _write12: Tls12Protection | None

    @classmethod
    def take_over(cls, layer: RecordLayer) -> "Tls12RecordLayer":
        """A TLS 1.2 layer continuing ``layer``'s input and output (no keys may be set yet)."""
        if layer._read.keys is not None or layer._write.keys is not None:
            raise InternalError("switching to TLS 1.2 after TLS 1.3 keys were installed")
        new = cls.__new__(cls)
        new.__dict__.update(layer.__dict__)
        new._read12 = None
        new._write12 = None
        new.plaintext_version = _VERSION
        # TLS 1.2 has no inner plaintext: the limit is the fragment itself (RFC 5246 6.2.1)
        new.max_inner_plaintext_in = MAX_PLAINTEXT
        new.early_data_skip = 0
        return new

    @property
    def reading_protected(self) -> bool:
        return self._read12 is not None

    @property
    def writing_protected(self) -> bool:
        return self._write12 is not None

    def activate_read(self, protection: Tls12Protection) -> None:
        """The peer's ChangeCipherSpec arrived: its next records use the new keys (RFC 5246 7.1)."""
        self._read12 = protection
        self.read_epoch += 1

    def activate_write(self, protection: Tls12Protection) -> None:
        """Our ChangeCipherSpec went out: what we write next is protected (RFC 5246 7.1)."""
        if self._handshake_out:
            self._flush_handshake()  # queued messages belong to the old write state
        self._write12 = protection

    # -- input --------------------------------------------------------------

    def next_record(self) -> tuple[int, bytes] | None:
        buf = self._in
        pos = self._in_pos
        if len(buf) - pos < HEADER_LENGTH:
            return None
        content_type = buf[pos]
        if content_type not in _KNOWN_TYPES:
            raise UnexpectedMessage(f"unknown record content type {content_type}")
        if buf[pos + 1] != 3:
            raise ProtocolVersionError("record is not TLS (bad record version)")
        read = self._read12
        if read is not None and buf[pos + 2] != 3:
            # RFC 5246 6.2.1: after the hellos, records carry the negotiated version
            raise ProtocolVersionError("protected record with a version other than TLS 1.2")
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        limit = MAX_CIPHERTEXT_12 if read is not None else MAX_PLAINTEXT
        if length > limit:
            raise RecordOverflow(f"record of {length} bytes exceeds {limit}")
        end = pos + HEADER_LENGTH + length
        if len(buf) < end:
            return None
        if type(buf) is bytes:
            payload = buf[pos + HEADER_LENGTH : end]
        else:
            with memoryview(buf) as view:  # one copy; released before the buffer changes
                payload = bytes(view[pos + HEADER_LENGTH : end])
        if end == len(buf):
            self._in = b""
            self._in_pos = 0
        else:
            self._in_pos = end
        if read is not None:
            payload = read.open(content_type, payload)
        # RFC 5246 6.2.1: zero-length fragments only for application data
        if not payload and content_type != ContentType.application_data:
            raise UnexpectedMessage("empty handshake, alert or change_cipher_spec record")
        if read is None and content_type == ContentType.application_data:
            raise UnexpectedMessage("application data before keys were established")
        return content_type, payload

    # -- output -------------------------------------------------------------

    def write(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        if self._handshake_out:
            self._flush_handshake()
        self._write_now(content_type, data)

    def _flush_handshake(self) -> None:
        pending = b"".join(self._handshake_out or ())
        self._handshake_out = None
        self._write_now(ContentType.handshake, pending)

    def _write_now(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        protection = self._write12
        if protection is None:
            self._frame(content_type, data)
            return
        view = memoryview(data)
        step = self.max_fragment_out
        out = self._out
        if not len(view):
            if content_type == ContentType.application_data:
                out.append(protection.seal(content_type, b""))
            return
        for start in range(0, len(view), step):
            out.append(protection.seal(content_type, view[start : start + step]))

    def queue_handshake(self, message: bytes) -> None:
        """A handshake message that waits for the rest of its flight: a flight goes out in as
        few records as the fragment limit allows (as OpenSSL sends it), framed when anything
        else is written, the keys change or the output is taken."""
        pending = self._handshake_out
        if pending is None:
            pending = self._handshake_out = []
        pending.append(bytes(message))

    def write_change_cipher_spec(self) -> None:
        # RFC 5246 7.1: sent under the current (so far null) write state, then the keys change
        if self._handshake_out:
            self._flush_handshake()
        if self._write12 is not None:
            raise InternalError("a second ChangeCipherSpec (renegotiation is not supported)")
        self._out.append(b"\x14\x03\x03\x00\x01\x01")

    def set_read_keys(self, keys: object) -> None:  # type: ignore[override]
        raise InternalError("TLS 1.3 keys on a TLS 1.2 connection")

    def set_write_keys(self, keys: object) -> None:  # type: ignore[override]
        raise InternalError("TLS 1.3 keys on a TLS 1.2 connection")
