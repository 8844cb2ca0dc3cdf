"""Pre-shared keys for TLS 1.3 resumption and 0-RTT (RFC 8446 2.2, 2.3, 4.2.9-4.2.11, 4.6.1, 8).

What the client and server handshakes need besides the messages themselves:

* the codecs of ``pre_shared_key``, ``psk_key_exchange_modes`` and ``early_data``;
* the PSK binder over the truncated ClientHello (4.2.11.2), computed and verified in
  constant time;
* the PSK a ticket stands for (4.6.1) and the server's resumption state that a ticket
  seals (:class:`ResumptionState`);
* the obfuscated ticket age and its freshness window (4.2.11.1, 8.3);
* a bounded anti-replay record for 0-RTT (8.1, 8.2).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from tlskit.engine.buffer import Reader, u8, u16, vec8, vec16, vec24
from tlskit.engine.keyschedule import derive_secret, hkdf_expand_label
from tlskit.engine.tickets import MAX_TICKET_LIFETIME
from tlskit.errors import DecodeError, IllegalParameter
from tlskit.providers.base import HashAlgorithm

#: PskKeyExchangeMode (RFC 8446 4.2.9)
PSK_KE = 0
PSK_DHE_KE = 1

#: How far the client's idea of a ticket's age may be from ours (RFC 8446 8.3 suggests
#: "on the order of 10 seconds" for 0-RTT; round trips and clock rates both count).
DEFAULT_AGE_WINDOW = 10.0


# -- psk_key_exchange_modes (4.2.9) ----------------------------------------------

def encode_psk_modes(modes: list[int] | tuple[int, ...]) -> bytes:
    return vec8(bytes(modes))


def decode_psk_modes(body: bytes) -> list[int]:
    r = Reader(body)
    modes = list(r.pull_vector(1, minimum=1))
    r.expect_end()
    return modes


# -- early_data (4.2.10) -----------------------------------------------------------

def encode_early_data_indication(max_early_data_size: int | None = None) -> bytes:
    """Empty in ClientHello/EncryptedExtensions, a uint32 in NewSessionTicket."""
    return b"" if max_early_data_size is None else max_early_data_size.to_bytes(4, "big")


def decode_early_data_empty(body: bytes) -> None:
    if body:
        raise DecodeError("early_data must be empty here")


def decode_early_data_max(body: bytes) -> int:
    r = Reader(body)
    value = r.pull_u32()
    r.expect_end()
    return value


# -- pre_shared_key (4.2.11) ---------------------------------------------------------

@dataclass
class OfferedPsks:
    """The ClientHello form: identities (ticket, obfuscated age) and one binder each."""

    identities: list[tuple[bytes, int]]
    binders: list[bytes] = field(default_factory=list)

    def encode_identities(self) -> bytes:
        return vec16(b"".join(vec16(identity) + age.to_bytes(4, "big") for identity, age in self.identities))

    def encode(self) -> bytes:
        return self.encode_identities() + vec16(b"".join(vec8(b) for b in self.binders))

    @staticmethod
    def binders_length(binder_lengths: list[int]) -> int:
        """Bytes the binders list takes on the wire (with its 2-byte length)."""
        return 2 + sum(1 + n for n in binder_lengths)

    @classmethod
    def decode(cls, body: bytes) -> "OfferedPsks":
        r = Reader(body)
        ids = r.pull_reader(2, minimum=7)
        identities: list[tuple[bytes, int]] = []
        while not ids.eof():
            identities.append((ids.pull_vector(2, minimum=1), ids.pull_u32()))
        binders_reader = r.pull_reader(2, minimum=33)
        r.expect_end()
        binders: list[bytes] = []
        while not binders_reader.eof():
            binders.append(binders_reader.pull_vector(1, minimum=32))
        if len(binders) != len(identities):
            # RFC 8446 4.2.11: one binder per identity, in order
            raise IllegalParameter("pre_shared_key has not one binder per identity")
        return cls(identities, binders)


def encode_selected_identity(index: int) -> bytes:
    return u16(index)


def decode_selected_identity(body: bytes) -> int:
    r = Reader(body)
    value = r.pull_u16()
    r.expect_end()
    return value


def truncate_client_hello(client_hello: bytes, binders: list[bytes]) -> bytes:
    """Truncate(ClientHello) of 4.2.11.2: the whole message but its binders list.

    pre_shared_key is the last extension, so the binders list is the message's tail.
    ``client_hello`` is the full handshake message (with its 4-byte header)."""
    length = OfferedPsks.binders_length([len(b) for b in binders])
    if length >= len(client_hello):
        raise DecodeError("ClientHello shorter than its binders")
    return client_hello[:-length]


# -- key schedule pieces (7.1) ----------------------------------------------------

def early_secret(hash_alg: HashAlgorithm, psk: bytes) -> bytes:
    return hash_alg.hkdf_extract(bytes(hash_alg.digest_size), psk)


def binder_key(hash_alg: HashAlgorithm, early: bytes, *, external: bool = False) -> bytes:
    label = b"ext binder" if external else b"res binder"
    return derive_secret(hash_alg, early, label, hash_alg.digest(b""))


def compute_binder(hash_alg: HashAlgorithm, binder_base_key: bytes, transcript_hash: bytes) -> bytes:
    """A PskBinderEntry: computed as Finished is (4.4.4), with the binder key as BaseKey."""
    finished_key = hkdf_expand_label(hash_alg, binder_base_key, b"finished", b"", hash_alg.digest_size)
    return hash_alg.hmac(finished_key, transcript_hash)


def verify_binder(hash_alg: HashAlgorithm, binder_base_key: bytes, transcript_hash: bytes, received: bytes) -> bool:
    """Constant-time comparison of the binder we compute with the one received."""
    return hmac.compare_digest(compute_binder(hash_alg, binder_base_key, transcript_hash), received)


def client_early_traffic_secret(hash_alg: HashAlgorithm, early: bytes, client_hello_hash: bytes) -> bytes:
    return derive_secret(hash_alg, early, b"c e traffic", client_hello_hash)


def early_exporter_master_secret(hash_alg: HashAlgorithm, early: bytes, client_hello_hash: bytes) -> bytes:
    return derive_secret(hash_alg, early, b"e exp master", client_hello_hash)


def ticket_psk(hash_alg: HashAlgorithm, resumption_master_secret: bytes, nonce: bytes) -> bytes:
    """The PSK a ticket stands for (4.6.1)."""
    return hkdf_expand_label(hash_alg, resumption_master_secret, b"resumption", nonce, hash_alg.digest_size)


# -- ticket age (4.2.11.1, 8.3) ----------------------------------------------------

def ticket_age_ms(obfuscated_age: int, age_add: int) -> int:
    """The client's idea of the ticket's age in ms: obfuscated_ticket_age - ticket_age_add mod 2^32."""
    return (obfuscated_age - age_add) & 0xFFFFFFFF


def age_within_window(obfuscated_age: int, age_add: int, issued_at: float, now: float, window: float = DEFAULT_AGE_WINDOW) -> bool:
    """Whether the client's ticket age is within ``window`` seconds of ours (8.3)."""
    client_age = ticket_age_ms(obfuscated_age, age_add) / 1000
    server_age = now - issued_at
    return abs(server_age - client_age) <= window


# -- server resumption state ----------------------------------------------------------

_STATE_MAGIC = b"T13R"


@dataclass(frozen=True)
class ResumptionState:
    """What a TLS 1.3 server seals into a ticket (and nothing it does not need).

    ``issued_at`` is Unix time in seconds. ``client_certificates``: the client's chain
    from the original handshake, so a resumed connection knows who the client is.
    """

    cipher_suite: int
    psk: bytes = field(repr=False)
    issued_at: float
    lifetime: int
    age_add: int
    max_early_data: int = 0
    server_name: Optional[str] = None
    alpn: Optional[bytes] = None
    client_certificates: tuple[bytes, ...] = field(default=(), repr=False)

    def encode(self) -> bytes:
        certs = b"".join(vec24(c) for c in self.client_certificates)
        return (
            _STATE_MAGIC
            + u16(self.cipher_suite)
            + vec8(self.psk)
            + int(self.issued_at * 1000).to_bytes(8, "big")
            + self.lifetime.to_bytes(4, "big")
            + self.age_add.to_bytes(4, "big")
            + self.max_early_data.to_bytes(4, "big")
            + vec16((self.server_name or "").encode("ascii"))
            + u8(0 if self.alpn is None else 1)
            + vec8(self.alpn or b"")
            + vec24(certs)
        )

    @classmethod
    def decode(cls, data: bytes) -> "ResumptionState | None":
        """The state, or None if ``data`` is not one (a store from elsewhere, an old format)."""
        if not data.startswith(_STATE_MAGIC):
            return None
        try:
            r = Reader(data[len(_STATE_MAGIC) :])
            suite = r.pull_u16()
            psk = r.pull_vector(1, minimum=1)
            issued_at = r.pull_uint(8) / 1000
            lifetime = r.pull_u32()
            age_add = r.pull_u32()
            max_early = r.pull_u32()
            server_name = r.pull_vector(2).decode("ascii") or None
            has_alpn = r.pull_u8()
            alpn = r.pull_vector(1)
            certs_reader = r.pull_reader(3)
            certs = []
            while not certs_reader.eof():
                certs.append(certs_reader.pull_vector(3, minimum=1))
            r.expect_end()
        except (DecodeError, UnicodeDecodeError):
            return None
        if lifetime > MAX_TICKET_LIFETIME:
            return None
        return cls(suite, psk, issued_at, lifetime, age_add, max_early, server_name, alpn if has_alpn else None, tuple(certs))

    def expired(self, now: float) -> bool:
        return not self.issued_at - 1 <= now < self.issued_at + self.lifetime


# -- anti-replay (8.1, 8.2) ----------------------------------------------------------

class AntiReplay:
    """A bounded record of what was already accepted for 0-RTT.

    ``first_use(key, until)`` is True the first time ``key`` is seen and records it
    until ``until`` (Unix seconds); any later call before then is False. When the record
    is full of unexpired entries, it answers False (fail closed: the client falls back
    to a 1-RTT handshake, RFC 8446 8.2 "if [...] the server cannot determine ... it
    MUST reject 0-RTT"). Keys are hashed, so the record holds no ticket.
    """

    def __init__(self, capacity: int = 100_000, *, clock: Callable[[], float] = time.time) -> None:
        if capacity < 1:
            raise ValueError("anti-replay capacity must be at least 1")
        self.capacity = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[bytes, float] = {}
        self._expiry: list[tuple[float, bytes]] = []  # a heap: the soonest expiry first

    def __len__(self) -> int:
        return len(self._seen)

    def __repr__(self) -> str:
        return f"<AntiReplay {len(self._seen)}/{self.capacity}>"

    def _purge(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            until, digest = heapq.heappop(expiry)
            if self._seen.get(digest) == until:
                del self._seen[digest]

    def first_use(self, key: bytes, until: float, now: float | None = None) -> bool:
        """``now``: the caller's clock (a connection's config clock), else the record's."""
        digest = hashlib.sha256(key).digest()
        if now is None:
            now = self._clock()
        with self._lock:
            self._purge(now)
            if digest in self._seen:
                return False
            if len(self._seen) >= self.capacity:
                return False
            if until > now:
                self._seen[digest] = until
                heapq.heappush(self._expiry, (until, digest))
            return True


__all__ = [
    "AntiReplay",
    "DEFAULT_AGE_WINDOW",
    "OfferedPsks",
    "PSK_DHE_KE",
    "PSK_KE",
    "ResumptionState",
    "age_within_window",
    "binder_key",
    "client_early_traffic_secret",
    "compute_binder",
    "decode_early_data_max",
    "decode_psk_modes",
    "decode_selected_identity",
    "early_secret",
    "encode_early_data_indication",
    "encode_psk_modes",
    "encode_selected_identity",
    "ticket_age_ms",
    "ticket_psk",
    "truncate_client_hello",
    "verify_binder",
]
