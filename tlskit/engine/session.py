"""Client sessions: what a client keeps from a NewSessionTicket to resume later.

A :class:`Session` holds what RFC 8446 4.6.1 says a client must remember with a
ticket (the PSK derived from the resumption master secret and the ticket nonce, the
cipher suite whose hash it goes with, the ticket, ``ticket_age_add``, the lifetime and
when it arrived, ``max_early_data_size``), plus what the resumed connection must match
(server name, ALPN, version) and what it reports (the server's certificates from the
original handshake). ``to_bytes``/``from_bytes`` let tools save one and load it later.

A :class:`SessionCache` (one per ClientConfig by default) keeps recent sessions per
(server name, port), a bounded number of each; tickets are used once (RFC 8446 C.4:
"clients SHOULD NOT reuse a ticket for multiple connections") unless told otherwise.

The PSK is a secret: it is never in a repr; a saved session must be protected like a key.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from tlskit.engine.buffer import Reader, u8, u16, vec8, vec16, vec24
from tlskit.engine.tickets import MAX_TICKET_LIFETIME
from tlskit.errors import ConfigurationError, DecodeError

_MAGIC = b"TLSKIT-SESSION"
_FORMAT = 1
_VERSION_CODES = {"TLSv1.3": 0x0304, "TLSv1.2": 0x0303}
_VERSION_NAMES = {v: k for k, v in _VERSION_CODES.items()}


@dataclass(frozen=True)
class Session:
    """A resumable session (one ticket). ``received_at`` is Unix time in seconds."""

    version: str
    cipher_suite: str
    psk: bytes = field(repr=False)
    ticket: bytes = field(repr=False)
    age_add: int = 0
    lifetime: int = 0
    received_at: float = 0.0
    max_early_data: int = 0
    server_name: Optional[str] = None
    alpn: Optional[str] = None
    peer_certificates: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.version not in _VERSION_CODES:
            raise ConfigurationError(f"unknown session version {self.version!r}")
        if not 0 <= self.lifetime <= MAX_TICKET_LIFETIME:
            raise ConfigurationError("session lifetime out of range")

    @property
    def early_data_allowed(self) -> bool:
        """The server said it takes 0-RTT data with this ticket (early_data in the ticket)."""
        return self.max_early_data > 0

    def expires_at(self) -> float:
        return self.received_at + self.lifetime

    def is_valid(self, now: float | None = None) -> bool:
        """Not expired (RFC 8446 4.6.1: not to be used past ticket_lifetime)."""
        now = time.time() if now is None else now
        return self.received_at <= now + 1 and now < self.expires_at()

    def obfuscated_age(self, now: float | None = None) -> int:
        """obfuscated_ticket_age (RFC 8446 4.2.11): age in ms plus age_add, mod 2^32."""
        now = time.time() if now is None else now
        age_ms = max(0, int((now - self.received_at) * 1000))
        return (age_ms + self.age_add) & 0xFFFFFFFF

    # -- serialisation -------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A self-describing binary form (magic, format number, fields). Holds the PSK."""
        certs = b"".join(vec24(c) for c in self.peer_certificates)
        body = (
            u16(_VERSION_CODES[self.version])
            + vec8(self.cipher_suite.encode("ascii"))
            + vec8(self.psk)
            + vec16(self.ticket)
            + self.age_add.to_bytes(4, "big")
            + self.lifetime.to_bytes(4, "big")
            + int(self.received_at * 1000).to_bytes(8, "big")
            + self.max_early_data.to_bytes(4, "big")
            + vec16((self.server_name or "").encode("ascii"))
            + vec8((self.alpn or "").encode("utf-8"))
            + vec24(certs)
        )
        return _MAGIC + u8(_FORMAT) + body

    @classmethod
    def from_bytes(cls, data: bytes) -> "Session":
        """Load what ``to_bytes`` wrote; ConfigurationError for anything else."""
        data = bytes(data)
        if not data.startswith(_MAGIC):
            raise ConfigurationError("not a tlskit session (bad magic)")
        try:
            r = Reader(data[len(_MAGIC) :])
            if r.pull_u8() != _FORMAT:
                raise ConfigurationError("unknown tlskit session format")
            version = _VERSION_NAMES.get(r.pull_u16())
            if version is None:
                raise ConfigurationError("unknown version in the session")
            suite = r.pull_vector(1, minimum=1).decode("ascii")
            psk = r.pull_vector(1, minimum=1)
            ticket = r.pull_vector(2, minimum=1)
            age_add = r.pull_u32()
            lifetime = r.pull_u32()
            received_at = r.pull_uint(8) / 1000
            max_early = r.pull_u32()
            server_name = r.pull_vector(2).decode("ascii") or None
            alpn = r.pull_vector(1).decode("utf-8") or None
            certs_reader = r.pull_reader(3)
            certs = []
            while not certs_reader.eof():
                certs.append(certs_reader.pull_vector(3, minimum=1))
            r.expect_end()
        except (DecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"damaged tlskit session: {exc}") from None
        return cls(version, suite, psk, ticket, age_add, lifetime, received_at, max_early, server_name, alpn, tuple(certs))


SessionKey = tuple[Optional[str], Optional[int]]


class SessionCache:
    """Recent sessions per (server name, port), bounded in both directions.

    ``max_servers`` keys are kept (least recently used dropped first), each with at
    most ``per_server`` sessions (the newest kept). ``take`` hands out the newest valid
    session and, with ``single_use`` (the default, RFC 8446 C.4), removes it.
    Thread-safe: one cache may serve every connection made with a config.
    """

    def __init__(
        self,
        max_servers: int = 256,
        per_server: int = 4,
        *,
        single_use: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_servers < 1 or per_server < 1:
            raise ConfigurationError("session cache sizes must be at least 1")
        self.max_servers = max_servers
        self.per_server = per_server
        self.single_use = single_use
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[SessionKey, list[Session]] = collections.OrderedDict()

    def __repr__(self) -> str:
        return f"<SessionCache {len(self._entries)} servers, single_use={self.single_use}>"

    def __len__(self) -> int:
        """Number of sessions held (all servers)."""
        with self._lock:
            return sum(len(v) for v in self._entries.values())

    def put(self, server_name: str | None, port: int | None, session: Session) -> None:
        key = (server_name, port)
        with self._lock:
            sessions = self._entries.pop(key, [])
            sessions.append(session)
            del sessions[: -self.per_server]
            self._entries[key] = sessions
            while len(self._entries) > self.max_servers:
                self._entries.popitem(last=False)

    def take(self, server_name: str | None, port: int | None) -> Session | None:
        """The newest unexpired session for this server (removed when single_use)."""
        key = (server_name, port)
        now = self._clock()
        with self._lock:
            sessions = self._entries.get(key)
            if not sessions:
                return None
            sessions[:] = [s for s in sessions if s.is_valid(now)]
            if not sessions:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            session = sessions.pop() if self.single_use else sessions[-1]
            if not sessions:
                del self._entries[key]
            return session

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


__all__ = ["Session", "SessionCache"]
