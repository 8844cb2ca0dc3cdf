"""Events returned by ``Connection.receive_data`` (frozen dataclasses, h11 style)."""

from __future__ import annotations

from dataclasses import dataclass

from tlskit.errors import AlertDescription, AlertLevel


class Event:
    """Base class of every event."""

    __slots__ = ()


@dataclass(frozen=True)
class HandshakeComplete(Event):
    """Keys are established and the peer is authenticated as configured."""


@dataclass(frozen=True)
class ApplicationData(Event):
    """Application data received. The same bytes object is also kept for ``recv()``
    (shared, not copied) until the application takes it with ``recv()``."""

    data: bytes


@dataclass(frozen=True)
class NewSessionTicket(Event):
    """A NewSessionTicket message from the server (kept for later resumption support)."""

    ticket: bytes
    lifetime: int = 0
    age_add: int = 0
    nonce: bytes = b""


@dataclass(frozen=True)
class KeyUpdated(Event):
    """The peer updated its sending keys (and we answered if it asked us to)."""


@dataclass(frozen=True)
class AlertReceived(Event):
    """A non-fatal alert (e.g. user_canceled) arrived; fatal alerts raise instead."""

    description: AlertDescription | int
    level: AlertLevel | int


@dataclass(frozen=True)
class ConnectionClosed(Event):
    """The peer sent close_notify: it will send nothing more."""


__all__ = [
    "AlertReceived",
    "ApplicationData",
    "ConnectionClosed",
    "Event",
    "HandshakeComplete",
    "KeyUpdated",
    "NewSessionTicket",
]
