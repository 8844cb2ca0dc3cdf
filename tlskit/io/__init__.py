"""Sockets and asyncio on top of the sans-IO engine.

* :func:`connect` / :class:`TLSStream`: a blocking client stream;
* :func:`serve` / :class:`TLSServer`: a blocking server, one thread per client;
* :mod:`tlskit.io.aio` (also ``tlskit.aio``): ``open_connection`` / ``start_server``
  returning asyncio stream pairs.
"""

from __future__ import annotations

from tlskit.io.errors import (
    HandshakeEOFError,
    TLSConnectionError,
    TLSTimeoutError,
    TruncatedConnectionError,
)
from tlskit.io.keylog import keylog_file_from_environment
from tlskit.io.server import TLSServer, serve
from tlskit.io.stream import TLSStream, connect

__all__ = [
    "HandshakeEOFError",
    "TLSConnectionError",
    "TLSServer",
    "TLSStream",
    "TLSTimeoutError",
    "TruncatedConnectionError",
    "connect",
    "keylog_file_from_environment",
    "serve",
]
