"""Events returned by ``Connection.receive_data`` (frozen dataclasses, h11 style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    """A NewSessionTicket message from the server. ``session`` is the
    :class:`tlskit.engine.session.Session` it makes resumable (None for a ticket not to
    keep); it is also in the config's session cache, when there is one."""

    ticket: bytes = field(repr=False)
    lifetime: int = 0
    age_add: int = field(default=0, repr=False)
    nonce: bytes = field(default=b"", repr=False)
    session: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class EarlyDataAccepted(Event):
    """Client: the server took the 0-RTT data sent with the ClientHello (RFC 8446 4.2.10)."""


@dataclass(frozen=True)
class EarlyDataRejected(Event):
    """Client: the server ignored the 0-RTT data; the application may send it again now
    (tlskit never resends it by itself, RFC 8446 4.2.10)."""

    data: bytes = field(repr=False)


@dataclass(frozen=True)
class EarlyDataReceived(Event):
    """Server: 0-RTT data from the client. It is **replayable** (RFC 8446 2.3, 8): an
    attacker can deliver the same bytes again to this or another server, so act on it
    only when doing it twice is harmless. Also kept in ``conn.early_data``."""

    data: bytes
    replayable: bool = True


@dataclass(frozen=True)
class CertificateRequested(Event):
    """Client: the server asked for a certificate after the handshake (RFC 8446 4.6.2);
    tlskit answered with the configured certificate (or an empty one)."""

    certificate_sent: bool = False


@dataclass(frozen=True)
class ClientCertificateReceived(Event):
    """Server: the client answered a post-handshake CertificateRequest; ``certificates``
    (DER, leaf first, empty if it declined) verified as configured."""

    certificates: tuple[bytes, ...] = field(default=(), repr=False)


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
    "CertificateRequested",
    "ClientCertificateReceived",
    "ConnectionClosed",
    "EarlyDataAccepted",
    "EarlyDataReceived",
    "EarlyDataRejected",
    "Event",
    "HandshakeComplete",
    "KeyUpdated",
    "NewSessionTicket",
]
