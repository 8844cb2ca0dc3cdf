"""Session tickets on the server side: where resumption state goes between connections.

Version-neutral: a ticket store turns opaque *state bytes* (whatever the protocol
version wants to remember: TLS 1.3 resumption state, a TLS 1.2 master secret...)
into an opaque *ticket* the client carries, and back. Two stores:

* :class:`StatelessTicketStore` (the default): the ticket *is* the state, sealed with
  an AEAD from the configured provider under a rotating :class:`TicketKeyRing` key
  (RFC 8446 4.6.1 leaves the ticket's contents to the server; RFC 5077 4 describes
  this self-encrypted form). Nothing is kept per client.
* :class:`InMemoryTicketStore`: a bounded server-side table; the ticket is a random
  handle and each ticket can be redeemed once (RFC 8446 8.1, single-use tickets).

Anything with ``issue``/``redeem`` (the :class:`TicketStore` protocol) can replace
them, e.g. a store shared between the processes of a server farm.

Ticket keys are secrets: they never appear in a repr, a log or the key log.
"""

from __future__ import annotations

import collections
import hmac
import threading
import time
from typing import Callable, Optional, Protocol, runtime_checkable

from tlskit.errors import BadRecordMac, ConfigurationError
from tlskit.providers.base import AEAD, Provider

#: RFC 8446 4.6.1: "Servers MUST NOT use any value greater than 604800 seconds (7 days)".
MAX_TICKET_LIFETIME = 604800

#: Bytes of the key name in front of every stateless ticket (RFC 5077 4 uses 16).
KEY_NAME_LENGTH = 16
_NONCE_LENGTH = 12
_SEAL_KEY_LENGTH = 32
#: AEADs for sealing, best first; the first one the provider has is used.
_SEAL_AEADS = ("AES-256-GCM", "ChaCha20-Poly1305", "AES-128-GCM")


@runtime_checkable
class TicketStore(Protocol):
    """Where a server keeps (or seals) resumption state.

    ``issue(state)`` returns the ticket to send (1..65535 bytes); ``redeem(ticket)``
    returns the state given to ``issue`` for that ticket, or None when the ticket is
    unknown, forged, expired or already used. Neither may raise for a bad ticket:
    tickets come from the network.
    """

    def issue(self, state: bytes) -> bytes: ...

    def redeem(self, ticket: bytes) -> Optional[bytes]: ...


class _TicketKey:
    """One sealing key: a public name (in each ticket) and the AEAD under the secret."""

    __slots__ = ("name", "aead", "created")

    def __init__(self, name: bytes, aead: AEAD, created: float) -> None:
        self.name = name
        self.aead = aead
        self.created = created

    def __repr__(self) -> str:  # never the key itself
        return f"<ticket key {self.name[:4].hex()}.. created {self.created:.0f}>"


class TicketKeyRing:
    """Rotating ticket keys: the current key seals for ``rotate_after`` seconds, then a
    fresh one takes over and the previous one still opens tickets for one more period
    (so a ticket issued just before a rotation stays usable for at least one period).
    Older keys are forgotten, and with them every ticket they sealed.

    Keys come from the provider's random source and are held in memory only.
    """

    def __init__(
        self,
        provider: Provider | str = "cryptography",
        *,
        rotate_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(provider, str):
            from tlskit.providers import get_provider

            provider = get_provider(provider)
        if not rotate_after > 0:
            raise ConfigurationError("ticket key rotate_after must be positive")
        self._provider = provider
        self._algorithm = next((provider.aead_algorithms[n] for n in _SEAL_AEADS if n in provider.aead_algorithms), None)
        if self._algorithm is None:
            raise ConfigurationError(f"provider {provider.name!r} has no AEAD to seal session tickets with")
        self.rotate_after = float(rotate_after)
        self._clock = clock
        self._lock = threading.Lock()
        self._current: _TicketKey | None = None
        self._previous: _TicketKey | None = None

    @property
    def aead_name(self) -> str:
        assert self._algorithm is not None
        return self._algorithm.name

    def __repr__(self) -> str:
        return f"<TicketKeyRing {self.aead_name}, rotate_after={self.rotate_after:g}s>"

    def _new_key(self, now: float) -> _TicketKey:
        assert self._algorithm is not None
        key = self._provider.random(self._algorithm.key_length)
        return _TicketKey(self._provider.random(KEY_NAME_LENGTH), self._algorithm.new(key), now)

    def _rotate(self, now: float) -> None:
        """Bring the ring up to ``now`` (the caller holds the lock)."""
        current = self._current
        if current is not None and now - current.created < self.rotate_after:
            return
        if current is not None and now - current.created < 2 * self.rotate_after:
            self._previous = current  # still opens tickets for one more period
        else:
            self._previous = None  # idle for two periods or more: nothing still valid
        self._current = self._new_key(now)

    def rotate(self) -> None:
        """Start a new key now (the current one keeps opening tickets for one period)."""
        with self._lock:
            now = self._clock()
            self._previous = self._current
            self._current = self._new_key(now)

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        """key name || nonce || AEAD(plaintext), the key name also authenticated."""
        with self._lock:
            self._rotate(self._clock())
            key = self._current
        assert key is not None
        nonce = self._provider.random(_NONCE_LENGTH)
        return key.name + nonce + key.aead.seal(nonce, key.name + aad, plaintext)

    def open(self, sealed: bytes, aad: bytes = b"") -> bytes | None:
        """The plaintext, or None for a ticket no live key sealed or one that was altered."""
        if len(sealed) < KEY_NAME_LENGTH + _NONCE_LENGTH + 16:
            return None
        name = sealed[:KEY_NAME_LENGTH]
        with self._lock:
            now = self._clock()
            self._rotate(now)
            keys = [k for k in (self._current, self._previous) if k is not None]
            if self._previous is not None and now - self._previous.created >= 2 * self.rotate_after:
                keys = keys[:1]
        for key in keys:
            if hmac.compare_digest(key.name, name):
                nonce = sealed[KEY_NAME_LENGTH : KEY_NAME_LENGTH + _NONCE_LENGTH]
                try:
                    return key.aead.open(nonce, name + aad, sealed[KEY_NAME_LENGTH + _NONCE_LENGTH :])
                except BadRecordMac:
                    return None
                except Exception:  # a backend's odd error for odd input is still a bad ticket
                    return None
        return None


class StatelessTicketStore:
    """The default store: the ticket is the state sealed under a :class:`TicketKeyRing`."""

    def __init__(self, keys: TicketKeyRing) -> None:
        self.keys = keys

    def __repr__(self) -> str:
        return f"<StatelessTicketStore {self.keys!r}>"

    def issue(self, state: bytes) -> bytes:
        return self.keys.seal(state, b"tlskit ticket")

    def redeem(self, ticket: bytes) -> bytes | None:
        return self.keys.open(ticket, b"tlskit ticket")


class InMemoryTicketStore:
    """A bounded server-side table of resumption states, each redeemable once.

    The ticket is a random 32-byte handle. When full, the oldest entry is dropped
    (its client just gets a full handshake). ``lifetime`` bounds how long an entry is
    kept whatever the state inside says.
    """

    def __init__(
        self,
        *,
        capacity: int = 10000,
        lifetime: float = MAX_TICKET_LIFETIME,
        single_use: bool = True,
        random: Callable[[int], bytes] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if capacity < 1:
            raise ConfigurationError("ticket store capacity must be at least 1")
        if random is None:
            import os

            random = os.urandom
        self.capacity = capacity
        self.lifetime = lifetime
        self.single_use = single_use
        self._random = random
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[bytes, tuple[float, bytes]] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<InMemoryTicketStore {len(self._entries)}/{self.capacity}>"

    def issue(self, state: bytes) -> bytes:
        handle = self._random(32)
        with self._lock:
            while len(self._entries) >= self.capacity:
                self._entries.popitem(last=False)
            self._entries[handle] = (self._clock() + self.lifetime, bytes(state))
        return handle

    def redeem(self, ticket: bytes) -> bytes | None:
        with self._lock:
            entry = self._entries.pop(ticket, None) if self.single_use else self._entries.get(ticket)
        if entry is None:
            return None
        expires, state = entry
        if self._clock() >= expires:
            self._entries.pop(ticket, None)
            return None
        return state


__all__ = [
    "InMemoryTicketStore",
    "MAX_TICKET_LIFETIME",
    "StatelessTicketStore",
    "TicketKeyRing",
    "TicketStore",
]
