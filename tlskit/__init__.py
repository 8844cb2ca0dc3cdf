"""tlskit: TLS 1.3 with pluggable crypto providers and a bundled certificate authority."""

from __future__ import annotations

from tlskit import events
from tlskit.engine import ClientConfig, ClientConnection, Negotiated, ServerConfig, ServerConnection
from tlskit.errors import AlertDescription, AlertLevel, TLSError
from tlskit.events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    HandshakeComplete,
    KeyUpdated,
    NewSessionTicket,
)

__version__ = "0.1.0"

__all__ = [
    "AlertDescription",
    "AlertLevel",
    "AlertReceived",
    "ApplicationData",
    "ClientConfig",
    "ClientConnection",
    "ConnectionClosed",
    "HandshakeComplete",
    "KeyUpdated",
    "Negotiated",
    "NewSessionTicket",
    "ServerConfig",
    "ServerConnection",
    "TLSError",
    "__version__",
    "events",
]
