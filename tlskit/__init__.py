"""tlskit: TLS 1.3 with pluggable crypto providers and a bundled certificate authority."""

from __future__ import annotations

from tlskit import events
from tlskit.engine import ClientConfig, ClientConnection, Negotiated, ServerConfig, ServerConnection
from tlskit.errors import AlertDescription, AlertLevel, ConfigurationError, TLSError
from tlskit.events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    HandshakeComplete,
    KeyUpdated,
    NewSessionTicket,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # connect/serve and tlskit.aio load sockets and asyncio on first use only,
    # so that `import tlskit` stays light for sans-IO users.
    if name in ("connect", "serve"):
        from tlskit import io

        return getattr(io, name)
    if name == "aio":
        import importlib

        return importlib.import_module("tlskit.aio")
    raise AttributeError(f"module 'tlskit' has no attribute {name!r}")


__all__ = [
    "AlertDescription",
    "AlertLevel",
    "AlertReceived",
    "ApplicationData",
    "ClientConfig",
    "ClientConnection",
    "ConfigurationError",
    "ConnectionClosed",
    "HandshakeComplete",
    "KeyUpdated",
    "Negotiated",
    "NewSessionTicket",
    "ServerConfig",
    "ServerConnection",
    "TLSError",
    "__version__",
    "aio",
    "connect",
    "events",
    "serve",
]
