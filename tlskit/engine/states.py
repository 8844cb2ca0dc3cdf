"""Handshake state names (RFC 8446 Appendix A) and the shape of a transition table.

Each side has one table, ``{(state, HandshakeType): handler}`` (client.py, server.py);
``Connection`` looks up every handshake message there, and a message the table does
not list for the current state can only be unexpected_message. A handler returns the
state the connection moves to. ``conn.state`` is public and read-only.

The table a connection uses is an attribute of the connection (``_transitions``), so
a version-specific table can replace it once the version is known (after ServerHello on
the client, after ClientHello on the server), and post-handshake messages are simply
entries under ``CONNECTED``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Callable, Mapping, Union

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.engine.connection import Connection


class ClientState(str, enum.Enum):
    """The client's states, RFC 8446 A.1. A str enum: ``client.state == "CONNECTED"`` holds."""

    START = "START"  # nothing sent yet (the constructor sends the ClientHello at once)
    WAIT_SH = "WAIT_SH"
    WAIT_EE = "WAIT_EE"
    WAIT_CERT_CR = "WAIT_CERT_CR"
    WAIT_CERT = "WAIT_CERT"
    WAIT_CV = "WAIT_CV"
    WAIT_FINISHED = "WAIT_FINISHED"
    CONNECTED = "CONNECTED"

    def __str__(self) -> str:
        return self.value


class ServerState(str, enum.Enum):
    """The server's states, RFC 8446 A.2. RECVD_CH, NEGOTIATED and WAIT_FLIGHT2 are passed
    through while one ClientHello is answered (visible to a trace, never between calls)."""

    START = "START"
    RECVD_CH = "RECVD_CH"
    NEGOTIATED = "NEGOTIATED"
    WAIT_EOED = "WAIT_EOED"  # 0-RTT accepted (not yet: tlskit skips early data)
    WAIT_FLIGHT2 = "WAIT_FLIGHT2"
    WAIT_CERT = "WAIT_CERT"
    WAIT_CV = "WAIT_CV"
    WAIT_FINISHED = "WAIT_FINISHED"
    CONNECTED = "CONNECTED"

    def __str__(self) -> str:
        return self.value


State = Union[ClientState, ServerState]

#: handler(connection, body, raw message) -> the next state
Handler = Callable[["Connection", bytes, bytes], State]
#: (state, HandshakeType code) -> handler
TransitionTable = Mapping[tuple[State, int], Handler]

__all__ = ["ClientState", "Handler", "ServerState", "State", "TransitionTable"]
