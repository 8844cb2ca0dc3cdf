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

from tlskit.engine.buffer import Reader, u8, vec8, vec16, vec24
from tlskit.errors import DecodeError

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
    #: the SNI of the original handshake: a resumption must ask for the same name (RFC 6066 3)
    server_name: Optional[str] = None
    alpn: Optional[str] = None

    def is_valid(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now < self.created + min(self.lifetime, MAX_SESSION_LIFETIME)

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
            + vec16((self.server_name or "").encode("utf-8"))
            + vec8((self.alpn or "").encode("utf-8"))
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
            server_name = r.pull_vector(2).decode("utf-8") or None
            alpn = r.pull_vector(1).decode("utf-8") or None
            certs_reader = r.pull_reader(3)
            r.expect_end()
            certs = []
            while not certs_reader.eof():
                certs.append(certs_reader.pull_vector(3, minimum=1))
        except (DecodeError, UnicodeDecodeError):
            return None
        if len(master) != 48:
            return None
        return cls(
            suite, master, group=group, created=float(created), lifetime=lifetime,
            peer_certificates=tuple(certs), server_name=server_name, alpn=alpn,
        )  # fmt: skip


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


def _attached(config: object, name: str, factory: Callable[[], object]) -> object:
    """A store kept on a (frozen, shared) config object, made on first use."""
    store = config.__dict__.get(name)
    if store is None:
        store = factory()
        object.__setattr__(config, name, store)
    return store


def server_session_ids(config: object) -> SessionIdCache:
    """The server config's TLS 1.2 session-id cache (shared by its connections)."""
    return _attached(config, "_tls12_session_ids", SessionIdCache)  # type: ignore[return-value]


def server_ticket_store(config: object) -> object | None:
    """Where TLS 1.2 tickets are sealed: the config's ticket store (the one TLS 1.3 uses),
    or None when the server issues no tickets (``tickets=0``)."""
    if getattr(config, "tickets", 1) == 0:
        return None
    store = getattr(config, "resolved_ticket_store", None)
    if store is not None:
        return store

    def default() -> object:
        from tlskit.engine.tickets import StatelessTicketStore, TicketKeyRing

        return StatelessTicketStore(TicketKeyRing(getattr(config, "resolved_provider")))

    return _attached(config, "_tls12_ticket_store", default)


def client_sessions(config: object) -> Optional[ClientSessionCache12]:
    """The client config's TLS 1.2 sessions (shared by its connections); None when the
    config resumes nothing (``session_cache=None``)."""
    if getattr(config, "session_cache", True) is None:
        return None
    return _attached(config, "_tls12_sessions", ClientSessionCache12)  # type: ignore[return-value]
