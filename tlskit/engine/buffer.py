"""Byte reader and writer helpers for the TLS wire format (RFC 8446 section 3).

Every read from peer bytes goes through :class:`Reader`, which raises
:class:`tlskit.errors.DecodeError` on truncation or trailing garbage, so hostile
input can never surface as IndexError or struct.error.
"""

from __future__ import annotations

import struct

from tlskit.errors import DecodeError


class Reader:
    """A cursor over immutable bytes; every pull checks the remaining length.

    Sub-readers (``pull_reader``) share the parent's bytes and only narrow the
    window, so nested vectors are not copied; the hot pulls read their length
    prefixes inline rather than through a chain of helper calls.
    """

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes | bytearray | memoryview, _start: int = 0, _end: int | None = None) -> None:
        if type(data) is not bytes:
            data = bytes(data)
        self._data = data
        self._pos = _start
        self._end = len(data) if _end is None else _end

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def eof(self) -> bool:
        return self._pos >= self._end

    def pull_bytes(self, n: int) -> bytes:
        start = self._pos
        end = start + n
        if n < 0 or end > self._end:
            raise DecodeError("message truncated")
        self._pos = end
        return self._data[start:end]

    def pull_uint(self, size: int) -> int:
        return int.from_bytes(self.pull_bytes(size), "big")

    def pull_u8(self) -> int:
        pos = self._pos
        if pos >= self._end:
            raise DecodeError("message truncated")
        self._pos = pos + 1
        return self._data[pos]

    def pull_u16(self) -> int:
        pos = self._pos
        if pos + 2 > self._end:
            raise DecodeError("message truncated")
        self._pos = pos + 2
        data = self._data
        return (data[pos] << 8) | data[pos + 1]

    def pull_u24(self) -> int:
        return self.pull_uint(3)

    def pull_u32(self) -> int:
        return self.pull_uint(4)

    def _vector_bounds(self, length_size: int, minimum: int, maximum: int | None) -> tuple[int, int]:
        """(start, end) of a ``length_size``-prefixed vector at the cursor, which moves past it."""
        pos = self._pos
        start = pos + length_size
        if start > self._end:
            raise DecodeError("message truncated")
        data = self._data
        if length_size == 1:
            length = data[pos]
        elif length_size == 2:
            length = (data[pos] << 8) | data[pos + 1]
        else:
            length = int.from_bytes(data[pos:start], "big")
        if length < minimum or (maximum is not None and length > maximum):
            raise DecodeError(f"vector length {length} out of range")
        end = start + length
        if end > self._end:
            raise DecodeError("message truncated")
        self._pos = end
        return start, end

    def pull_vector(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> bytes:
        """An opaque vector ``<minimum..maximum>`` with a ``length_size``-byte length prefix."""
        start, end = self._vector_bounds(length_size, minimum, maximum)
        return self._data[start:end]

    def pull_reader(self, length_size: int, minimum: int = 0) -> "Reader":
        """A sub-reader over a length-prefixed vector (sharing this reader's bytes)."""
        start, end = self._vector_bounds(length_size, minimum, None)
        return Reader(self._data, start, end)

    def window(self) -> tuple[bytes, int, int]:
        """(data, cursor, end) for a caller that walks the window by index itself; it must
        check every offset against ``end`` (the reader does not move)."""
        return self._data, self._pos, self._end

    def pull_rest(self) -> bytes:
        return self.pull_bytes(self.remaining)

    def expect_end(self) -> None:
        if self._pos != self._end:
            raise DecodeError("trailing bytes after message")


def u8(value: int) -> bytes:
    return value.to_bytes(1, "big")


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def u24(value: int) -> bytes:
    return value.to_bytes(3, "big")


def vec8(data: bytes) -> bytes:
    return u8(len(data)) + data


def vec16(data: bytes) -> bytes:
    return u16(len(data)) + data


def vec24(data: bytes) -> bytes:
    return u24(len(data)) + data


def u16_list(values: list[int] | tuple[int, ...]) -> bytes:
    """A ``uint16 values<..>`` vector with a 2-byte length prefix."""
    return struct.pack(f">H{len(values)}H", 2 * len(values), *values)


def pull_u16_list(reader: Reader, length_size: int = 2, minimum: int = 0) -> list[int]:
    body = reader.pull_vector(length_size, minimum)
    if len(body) % 2:
        raise DecodeError("odd length in a uint16 list")
    return list(struct.unpack(f">{len(body) // 2}H", body))


def u32_bytes(value: int) -> bytes:
    return value.to_bytes(4, "big")
