"""Byte reader and writer helpers for the TLS wire format (RFC 8446 section 3).

Every read from peer bytes goes through :class:`Reader`, which raises
:class:`tlskit.errors.DecodeError` on truncation or trailing garbage, so hostile
input can never surface as IndexError or struct.error.
"""

from __future__ import annotations

from tlskit.errors import DecodeError


class Reader:
    """A cursor over immutable bytes; every pull checks the remaining length."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)
        self._pos = 0
        self._end = len(self._data)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def eof(self) -> bool:
        return self._pos >= self._end

    def pull_bytes(self, n: int) -> bytes:
        if n < 0 or self._pos + n > self._end:
            raise DecodeError("message truncated")
        start = self._pos
        self._pos += n
        return self._data[start : self._pos]

    def pull_uint(self, size: int) -> int:
        return int.from_bytes(self.pull_bytes(size), "big")

    def pull_u8(self) -> int:
        return self.pull_uint(1)

    def pull_u16(self) -> int:
        return self.pull_uint(2)

    def pull_u24(self) -> int:
        return self.pull_uint(3)

    def pull_u32(self) -> int:
        return self.pull_uint(4)

    def pull_vector(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> bytes:
        """An opaque vector ``<minimum..maximum>`` with a ``length_size``-byte length prefix."""
        length = self.pull_uint(length_size)
        if length < minimum or (maximum is not None and length > maximum):
            raise DecodeError(f"vector length {length} out of range")
        return self.pull_bytes(length)

    def pull_reader(self, length_size: int, minimum: int = 0) -> "Reader":
        """A sub-reader over a length-prefixed vector."""
        return Reader(self.pull_vector(length_size, minimum))

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
    return vec16(b"".join(u16(v) for v in values))


def pull_u16_list(reader: Reader, length_size: int = 2, minimum: int = 0) -> list[int]:
    body = reader.pull_reader(length_size, minimum)
    if body.remaining % 2:
        raise DecodeError("odd length in a uint16 list")
    values = []
    while not body.eof():
        values.append(body.pull_u16())
    return values


def u32_bytes(value: int) -> bytes:
    return value.to_bytes(4, "big")
