"""TLS 1.2 sessions: what resumption by session id (RFC 5246 7.3) or by ticket
(RFC 5077) needs to skip the key exchange, on both sides.

A session is the suite, the (extended) master secret and the peer's certificates.
The server keeps it in a bounded session-id cache, or seals it into a ticket with the
version-neutral ticket store of :mod:`tlskit.engine.tickets`; the client keeps it in
the config's ``tls12_session_cache`` by server name.

Only EMS sessions exist (RFC 7627 5.3: resuming a non-EMS session is refused), so every
session is bound to its original handshake.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from tlskit.engine.buffer import Reader, u8, u16, vec8, vec16, vec24
from tlskit.engine.messages import ServerHello
from tlskit.errors import DecodeError, IllegalParameter

#: RFC 5077 / common practice: a TLS 1.2 session is resumable for at most a day here
MAX_SESSION_LIFETIME = 86400
_FORMAT = 0x12


@dataclass(frozen=True)
class Session12:
    suite: str
    master_secret: bytes = field(repr=False)
    session_id: bytes = b""
    ticket: bytes = field(default=b"", repr=False)
    extended_master_secret: bool = True
    peer_certificates: tuple[bytes, ...] = field(default=(), repr=False)
    group: str = ""
    created: float = 0.0
    lifetime: int = 7200
    #: on the client: the session id sent with a ticket (RFC 5077 3.4) to spot acceptance
    offered_session_id: bytes = b""

    def is_valid(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now < self.created + min(self.lifetime, MAX_SESSION_LIFETIME)

    def matches(self, hello: ServerHello, suite: str) -> bool:
        """Did the server resume this session? (it echoed the session id we sent)"""
        sent = self.offered_session_id or self.session_id
        if not sent or hello.legacy_session_id_echo != sent:
            return False
        if suite != self.suite:
            # RFC 5246 7.4.1.3: a resumed session keeps its cipher suite
            raise IllegalParameter("server resumed the session with another cipher suite")
        return True

    # -- server-side state (sealed into a ticket or kept in the cache) -------------------

    def to_state(self) -> bytes:
        certs = b"".join(vec24(c) for c in self.peer_certificates)
        return (
            u8(_FORMAT)
            + vec8(self.suite.encode("ascii"))
            + vec8(self.master_secret)
            + vec8(self.group.encode("ascii"))
            + int(self.created).to_bytes(8, "big")
            + self.lifetime.to_bytes(4, "big")
            + vec24(certs)
        )

    @classmethod
    def from_state(cls, data: bytes) -> Optional["Session12"]:
        """The session in ``data``, or None if it is not a TLS 1.2 session state."""
        try:
            r = Reader(data)
            if r.pull_u8() != _FORMAT:
                return None
            suite = r.pull_vector(1).decode("ascii")
            master = r.pull_vector(1)
            group = r.pull_vector(1).decode("ascii")
            created = r.pull_uint(8)
            lifetime = r.pull_u32()
            certs_reader = r.pull_reader(3)
            r.expect_end()
            certs = []
            while not certs_reader.eof():
                certs.append(certs_reader.pull_vector(3, minimum=1))
        except (DecodeError, UnicodeDecodeError):
            return None
        if len(master) != 48:
            return None
        return cls(suite, master, group=group, created=float(created), lifetime=lifetime, peer_certificates=tuple(certs))


class SessionIdCache:
    """A server's bounded table of sessions by session id (RFC 5246 7.3), oldest dropped first."""

    def __init__(self, capacity: int = 10000, lifetime: int = 7200, clock: Callable[[], float] = time.time) -> None:
        self.capacity = capacity
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<SessionIdCache {len(self._entries)}/{self.capacity}>"

    def put(self, session_id: bytes, session: Session12) -> None:
        with self._lock:
            while len(self._entries) >= self.capacity:
                self._entries.popitem(last=False)
            self._entries[bytes(session_id)] = session.to_state()

    def get(self, session_id: bytes) -> Optional[Session12]:
        with self._lock:
            state = self._entries.get(bytes(session_id))
        if state is None:
            return None
        session = Session12.from_state(state)
        if session is None or not session.is_valid(self._clock()):
            with self._lock:
                self._entries.pop(bytes(session_id), None)
            return None
        return session


class ClientSessionCache12:
    """A client's TLS 1.2 sessions by server name, bounded; a session is used for one
    resumption attempt at a time and replaced by what that handshake yields."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[Optional[str], Session12] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<ClientSessionCache12 {len(self._entries)}/{self.capacity}>"

    def put(self, server_name: Optional[str], session: Session12) -> None:
        with self._lock:
            self._entries.pop(server_name, None)
            while len(self._entries) >= self.capacity:
                self._entries.popitem(last=False)
            self._entries[server_name] = session

    def get(self, server_name: Optional[str]) -> Optional[Session12]:
        with self._lock:
            session = self._entries.get(server_name)
        if session is not None and not session.is_valid():
            with self._lock:
                self._entries.pop(server_name, None)
            return None
        return session
