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
from typing import Any, Callable, Mapping, Union


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
    # TLS 1.2 (RFC 5246 7.3; tlskit/engine/tls12/client.py); WAIT_CERT, WAIT_FINISHED and
    # CONNECTED are shared with TLS 1.3
    WAIT_SKE = "WAIT_SKE"  # ServerKeyExchange (or CertificateStatus first)
    WAIT_CR_OR_SHD = "WAIT_CR_OR_SHD"  # CertificateRequest or ServerHelloDone
    WAIT_SHD = "WAIT_SHD"  # ServerHelloDone
    WAIT_NST = "WAIT_NST"  # NewSessionTicket (RFC 5077), when the server said one comes
    WAIT_CCS = "WAIT_CCS"  # the server's ChangeCipherSpec

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
    # TLS 1.2 (RFC 5246 7.3; tlskit/engine/tls12/server.py); WAIT_CERT, WAIT_CV,
    # WAIT_FINISHED and CONNECTED are shared with TLS 1.3
    WAIT_CKE = "WAIT_CKE"  # ClientKeyExchange
    WAIT_CCS = "WAIT_CCS"  # the client's ChangeCipherSpec

    def __str__(self) -> str:
        return self.value


State = Union[ClientState, ServerState]

#: The table key of TLS 1.2's ChangeCipherSpec: a record type, not a handshake message,
#: given a code outside the handshake types (0..255) so the same table rules it.
CHANGE_CIPHER_SPEC = 0x100 + 20

#: handler(connection, body, raw message) -> the next state; the connection is the side's
#: own class (ClientConnection or ServerConnection), hence Any here
Handler = Callable[[Any, bytes, bytes], State]
#: (state, HandshakeType code) -> handler
TransitionTable = Mapping[tuple[State, int], Handler]

__all__ = ["CHANGE_CIPHER_SPEC", "ClientState", "Handler", "ServerState", "State", "TransitionTable"]
