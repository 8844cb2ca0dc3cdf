"""Errors raised by the socket and asyncio layers.

Transport failures are reported as TLSError subclasses (so "every failure is a
TLSError" holds) that also derive from the matching builtin, so code written
for sockets (``except TimeoutError``, ``except ConnectionError``) keeps working.
"""

from __future__ import annotations

from tlskit.errors import TLSError


class TruncatedConnectionError(TLSError, ConnectionError):
    """The peer closed the TCP connection without sending close_notify.

    An attacker who can cut the connection could otherwise make a truncated
    message look complete (a truncation attack), so this is an error unless the
    stream was opened with ``allow_truncation=True``.
    """


class HandshakeEOFError(TLSError, ConnectionError):
    """The peer closed the TCP connection before the handshake completed."""


class TLSConnectionError(TLSError, ConnectionError):
    """The transport failed underneath TLS (reset, refused, broken pipe...)."""


class TLSTimeoutError(TLSError, TimeoutError):
    """A socket operation did not finish within the stream's timeout."""
