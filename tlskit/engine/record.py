"""The TLS 1.3 record layer (RFC 8446 section 5).

Incoming bytes are consumed by offset: the caller's bytes object itself when
nothing was pending, else one bytearray accumulating partial records (compacted
lazily). Outgoing records are collected as a list of chunks joined once in
``take_output``, and each direction holds one AEAD object per traffic key, so a
bulk transfer costs one seal/open and a couple of slices per 16 KiB record. Protected application-data records (both ways) take
an inline path with the same checks in the same order as the general one.
Handshake messages sent with ``queue_handshake`` under protection are framed
together, a flight in one record where it fits; ``write`` always frames at once.
"""

from __future__ import annotations

import enum
from typing import cast

from tlskit.engine.keyschedule import TrafficKeys
from tlskit.errors import (
    BadRecordMac,
    DecodeError,
    InternalError,
    ProtocolVersionError,
    RecordOverflow,
    UnexpectedMessage,
)


class ContentType(enum.IntEnum):
    change_cipher_spec = 20
    alert = 21
    handshake = 22
    application_data = 23


MAX_PLAINTEXT = 2**14
MAX_CIPHERTEXT = 2**14 + 256
HEADER_LENGTH = 5
_SEQUENCE_LIMIT = 2**64 - 1
_KNOWN_TYPES = frozenset(int(t) for t in ContentType)
_COMPACT_THRESHOLD = 1 << 16
_APPDATA_HEADER = b"\x17\x03\x03"
_CONTENT_TYPE_BYTE = {int(t): bytes((int(t),)) for t in ContentType}
#: Early data a server that rejects it skips at most (RFC 8446 4.2.10, "up to the configured
#: max_early_data_size"; we issue no tickets, so OpenSSL's default of 2^14 bytes).
MAX_SKIPPED_EARLY_DATA = 2**14
#: What next_record returns for a skipped early-data record: no content type is 0.
SKIPPED = (0, b"")


class _Direction:
    """Keys and sequence number of one direction; the nonce base is kept as an int and
    the AEAD object is reached in one step from here, not through the keys, per record."""

    __slots__ = ("keys", "seq", "iv_int", "nonce_length", "aead")

    def __init__(self, keys: TrafficKeys | None) -> None:
        self.keys = keys
        self.seq = 0
        self.iv_int = int.from_bytes(keys.iv, "big") if keys else 0
        self.nonce_length = len(keys.iv) if keys else 0
        self.aead = keys.aead if keys else None

    def next_nonce(self) -> bytes:
        if self.seq >= _SEQUENCE_LIMIT:  # RFC 8446 5.3: never wrap; rekey before this
            raise InternalError("record sequence number exhausted")
        nonce = (self.iv_int ^ self.seq).to_bytes(self.nonce_length, "big")
        self.seq += 1
        return nonce


class RecordLayer:
    def __init__(self) -> None:
        #: received bytes not yet consumed from _in_pos on: the caller's own bytes object
        #: when it was fed with nothing pending, else a bytearray accumulating partial records
        self._in: bytes | bytearray = b""
        self._in_pos = 0
        self._out: list[bytes] = []
        #: protected handshake messages not yet framed: a flight (EncryptedExtensions ..
        #: Finished) goes out in as few records as the fragment limit allows, as OpenSSL
        #: sends it, instead of one record (one seal and one open) per message
        self._handshake_out: list[bytes] | None = None
        self._read = _Direction(None)
        self._write = _Direction(None)
        #: bumped on every read-key change so the connection can check that
        #: handshake messages do not span key changes (RFC 8446 5.1)
        self.read_epoch = 0
        #: largest TLSInnerPlaintext (content + type + padding) we accept: our advertised limit
        self.max_inner_plaintext_in = MAX_PLAINTEXT + 1
        #: largest content per record we send: min(2^14, peer's record_size_limit - 1)
        self.max_fragment_out = MAX_PLAINTEXT
        #: pad each protected record's inner plaintext to a multiple of this (0: no padding)
        self.pad_to = 0
        #: legacy_record_version of plaintext records we write (0x0301 for the first ClientHello)
        self.plaintext_version = b"\x03\x03"
        #: bytes of rejected 0-RTT data still to skip (RFC 8446 4.2.10); a server sets it when
        #: the ClientHello offered early_data. Only failure paths read it.
        self.early_data_skip = 0

    # -- keys ---------------------------------------------------------------

    def set_read_keys(self, keys: TrafficKeys) -> None:
        self._read = _Direction(keys)
        self.read_epoch += 1
        self.early_data_skip = 0  # early data only precedes the client's first protected flight

    def set_write_keys(self, keys: TrafficKeys | None) -> None:
        """None: back to plaintext (a client's second ClientHello after 0-RTT data)."""
        if self._handshake_out:
            self._flush_handshake()
        self._write = _Direction(keys)

    # -- input --------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        buf = self._in
        if self._in_pos >= len(buf):
            # Nothing pending (the usual case): read the caller's bytes where they are.
            self._in = data if type(data) is bytes else bytes(data)
            self._in_pos = 0
            return
        if type(buf) is bytes:  # a partial record is pending: start accumulating
            self._in = bytearray(memoryview(buf)[self._in_pos :])
            self._in_pos = 0
        elif self._in_pos >= _COMPACT_THRESHOLD:
            # buf is the bytearray being accumulated (type(buf) is bytes was ruled out, which
            # mypy does not narrow); at most once per 64 KiB consumed, so the cast costs nothing
            del cast(bytearray, buf)[: self._in_pos]
            self._in_pos = 0
        self._in += data

    @property
    def buffered_input(self) -> int:
        return len(self._in) - self._in_pos

    def next_record(self) -> tuple[int, bytes] | None:
        """The next complete record as (content type, plaintext), or None if incomplete.

        Protected records come back with their inner content type; change_cipher_spec
        records come back as they are (their rules depend on the handshake state).
        """
        buf = self._in
        pos = self._in_pos
        if len(buf) - pos < HEADER_LENGTH:
            return None
        content_type = buf[pos]
        read = self._read
        if content_type == 23 and read.aead is not None and buf[pos + 1] == 3 and buf[pos + 2] == 3:
            # The bulk case, a protected record, handled inline. Every rule of the
            # general path below applies, in the same order; anything else goes there.
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            if length > MAX_CIPHERTEXT:
                raise RecordOverflow(f"record of {length} bytes exceeds {MAX_CIPHERTEXT}")
            end = pos + HEADER_LENGTH + length
            if len(buf) < end:
                return None
            if length <= 16:
                raise BadRecordMac("protected record too short")
            seq = read.seq
            if seq >= _SEQUENCE_LIMIT:
                raise InternalError("record sequence number exhausted")
            read.seq = seq + 1
            nonce = (read.iv_int ^ seq).to_bytes(read.nonce_length, "big")
            if type(buf) is bytes:
                header = buf[pos : pos + HEADER_LENGTH]
                payload = buf[pos + HEADER_LENGTH : end]
            else:
                with memoryview(buf) as view:  # one copy; released before the buffer changes
                    header = bytes(view[pos : pos + HEADER_LENGTH])
                    payload = bytes(view[pos + HEADER_LENGTH : end])
            if end == len(buf):
                self._in = b""
                self._in_pos = 0
            else:
                self._in_pos = end
            try:
                inner = read.aead.open(nonce, header, payload)
            except BadRecordMac:
                if not self._skip_early_data(length - 17):
                    raise
                read.seq = seq  # the record was not under this key: it used no sequence number
                return SKIPPED
            if inner[-1:] == b"\x17" and len(inner) <= self.max_inner_plaintext_in:
                return 23, inner[:-1]  # unpadded application data: _inner_content's verdict
            return self._inner_content(inner)
        if content_type not in _KNOWN_TYPES:
            raise UnexpectedMessage(f"unknown record content type {content_type}")
        if buf[pos + 1] != 3:
            raise ProtocolVersionError("record is not TLS (bad legacy_record_version)")
        length = (buf[pos + 3] << 8) | buf[pos + 4]
        encrypted = self._read.keys is not None and content_type == ContentType.application_data
        limit = MAX_CIPHERTEXT if encrypted else MAX_PLAINTEXT
        if length > limit:
            raise RecordOverflow(f"record of {length} bytes exceeds {limit}")
        end = pos + HEADER_LENGTH + length
        if len(buf) < end:
            return None
        with memoryview(buf) as view:  # one copy per record; released before the buffer changes
            header = bytes(view[pos : pos + HEADER_LENGTH])
            payload = bytes(view[pos + HEADER_LENGTH : end])
        self._in_pos = end
        if end == len(buf):
            self._in = b""
            self._in_pos = 0
        if content_type == ContentType.change_cipher_spec:
            return content_type, payload
        if self._read.keys is None:
            if content_type == ContentType.application_data:
                if self.early_data_skip and self._skip_early_data(length - 17):
                    return SKIPPED  # 0-RTT data after a HelloRetryRequest (RFC 8446 4.2.10)
                raise UnexpectedMessage("application data before keys were established")
            if length == 0:
                raise UnexpectedMessage("empty handshake or alert record")
            return content_type, payload
        if not encrypted:
            # A peer that failed before it could read our first flight has no keys yet:
            # accept its unprotected alert until the first protected record arrives.
            if content_type == ContentType.alert and self.read_epoch == 1 and self._read.seq == 0 and length:
                return content_type, payload
            raise UnexpectedMessage("plaintext record after keys were established")
        if header[2] != 3:
            raise ProtocolVersionError("protected record with legacy_record_version other than 0x0303")
        return self._unprotect(header, payload)

    def _skip_early_data(self, content_length: int) -> bool:
        """Account for one rejected 0-RTT record; False once skipping is over or the limit is reached.

        Its content is at least ``content_length`` (length less type byte and tag): only
        application data counts against max_early_data_size (RFC 8446 4.6.1).
        """
        if not self.early_data_skip or content_length > self.early_data_skip:
            return False
        self.early_data_skip -= max(content_length, 1)
        return True

    def _unprotect(self, header: bytes, ciphertext: bytes) -> tuple[int, bytes]:
        direction = self._read
        assert direction.keys is not None
        if len(ciphertext) <= 16:
            raise BadRecordMac("protected record too short")
        return self._inner_content(direction.keys.aead.open(direction.next_nonce(), header, ciphertext))

    def _inner_content(self, inner: bytes) -> tuple[int, bytes]:
        """(content type, content) of a decrypted TLSInnerPlaintext."""
        if len(inner) > self.max_inner_plaintext_in:
            raise RecordOverflow("decrypted record exceeds the plaintext limit")
        if self.early_data_skip:  # a record deprotected: the client's flight has begun (4.2.10)
            self.early_data_skip = 0
        end = len(inner)
        if end and inner[-1] == 0:  # padding present: find the content type byte
            end = len(inner.rstrip(b"\x00"))
        if not end:
            raise UnexpectedMessage("protected record with no content type")
        content_type = inner[end - 1]
        if content_type not in _KNOWN_TYPES or content_type == ContentType.change_cipher_spec:
            raise UnexpectedMessage(f"bad inner content type {content_type}")
        data = inner[: end - 1]
        if not data and content_type != ContentType.application_data:
            raise UnexpectedMessage("empty handshake or alert record")
        return content_type, data

    # -- output -------------------------------------------------------------

    def write(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        """Frame ``data`` into records of at most ``max_fragment_out`` bytes (protected if keys are set)."""
        if self._handshake_out:
            self._flush_handshake()
        direction = self._write
        aead = direction.aead
        if type(data) is bytes and aead is not None and not self.pad_to and 0 < len(data) <= self.max_fragment_out:
            # The bulk case: one protected record without padding, sealed inline.
            seq = direction.seq
            if seq >= _SEQUENCE_LIMIT:  # RFC 8446 5.3: never wrap; rekey before this
                raise InternalError("record sequence number exhausted")
            direction.seq = seq + 1
            length = len(data) + 17  # content type byte + 16-byte tag
            header = _APPDATA_HEADER + length.to_bytes(2, "big")
            sealed = aead.seal(
                (direction.iv_int ^ seq).to_bytes(direction.nonce_length, "big"),
                header,
                b"".join((data, _CONTENT_TYPE_BYTE.get(content_type) or bytes((content_type,)))),
            )
            if len(sealed) != length:
                raise InternalError("AEAD produced an unexpected tag length")
            self._out += (header, sealed)
            return
        self._frame(content_type, data)

    def queue_handshake(self, message: bytes) -> None:
        """Send a handshake message; under protection it waits for the rest of its flight.

        Queued messages are framed together (as few records as the fragment limit
        allows, as OpenSSL sends a flight) as soon as anything else is written, the
        write keys change, or the output is taken. ``write`` frames at once.
        """
        if self._write.aead is None:
            self.write(ContentType.handshake, message)
            return
        pending = self._handshake_out
        if pending is None:
            pending = self._handshake_out = []
        pending.append(bytes(message))

    def _flush_handshake(self) -> None:
        """Frame the pending protected handshake messages (before anything else is written)."""
        pending = b"".join(self._handshake_out or ())
        self._handshake_out = None
        self._frame(ContentType.handshake, pending)

    def _frame(self, content_type: int, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        total = len(view)
        if total == 0:
            if content_type == ContentType.application_data and self._write.keys is not None:
                self._protect(content_type, view)
            return
        # Padding is capped at the inner-plaintext limit in _protect, so full-size
        # records simply carry none.
        step = self.max_fragment_out
        for start in range(0, total, step):
            chunk = view[start : start + step]
            if self._write.keys is None:
                self._out.append(bytes([content_type]) + self.plaintext_version + len(chunk).to_bytes(2, "big"))
                self._out.append(bytes(chunk))
            else:
                self._protect(content_type, chunk)

    def write_change_cipher_spec(self) -> None:
        if self._handshake_out:
            self._flush_handshake()
        self._out.append(b"\x14\x03\x03\x00\x01\x01")

    def _protect(self, content_type: int, chunk: memoryview) -> None:
        direction = self._write
        assert direction.keys is not None
        inner_length = len(chunk) + 1
        padding = 0
        if self.pad_to:
            padded = -(-inner_length // self.pad_to) * self.pad_to
            padding = min(padded, self.max_fragment_out + 1) - inner_length
            padding = max(padding, 0)
        inner = b"".join((chunk, bytes([content_type]), bytes(padding)))
        length = inner_length + padding + 16  # every TLS 1.3 AEAD has a 16-byte tag
        header = _APPDATA_HEADER + length.to_bytes(2, "big")
        sealed = direction.keys.aead.seal(direction.next_nonce(), header, inner)
        if len(sealed) != length:
            raise InternalError("AEAD produced an unexpected tag length")
        self._out.append(header)
        self._out.append(sealed)

    def take_output(self) -> bytes:
        if self._handshake_out:
            self._flush_handshake()
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data


def parse_alert(payload: bytes) -> tuple[int, int]:
    """(level, description) of an alert record; alerts are never fragmented or coalesced."""
    if len(payload) != 2:
        raise DecodeError("alert record is not exactly two bytes")
    return payload[0], payload[1]
