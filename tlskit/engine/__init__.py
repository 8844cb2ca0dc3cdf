"""The sans-IO TLS 1.3 engine: codec, record layer, key schedule, client and server."""

from __future__ import annotations

from tlskit.engine.client import ClientConnection
from tlskit.engine.config import ClientConfig, Negotiated, ServerConfig
from tlskit.engine.server import ServerConnection
from tlskit.engine.states import ClientState, ServerState

__all__ = ["ClientConfig", "ClientConnection", "ClientState", "Negotiated", "ServerConfig", "ServerConnection", "ServerState"]
