"""asyncio TLS 1.3 streams: ``open_connection`` and ``start_server``, the
asyncio-stream-compatible pair (implemented in :mod:`tlskit.io.aio`)."""

from __future__ import annotations

from tlskit.io.aio import TLSTransport, open_connection, start_server

__all__ = ["TLSTransport", "open_connection", "start_server"]
