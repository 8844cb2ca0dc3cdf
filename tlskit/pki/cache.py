"""Bounded caches for path validation: path plans (per trust store) and, opt-in,
certificate-signature verdicts.

Both are keyed by exact bytes (dict lookups compare the bytes themselves after the
hash, so two different certificates never share an entry) and hold only what is a pure
function of those bytes. Neither lets a check be skipped that depends on anything else:
validity periods, the host name, revocation and (unless a :class:`SignatureCache` is
given) every signature are checked on every call. docs/performance.md explains the
security argument.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, Hashable, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """A dict with at most ``size`` entries (the oldest goes first), safe across threads.

    Lookups take no lock (a dict ``get`` is atomic in CPython); insertions do, so that
    two threads evicting at once cannot drop more than they should or raise.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("cache size must be >= 1")
        self._size = size
        self._data: dict[Hashable, V] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        return self._data.get(key)

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if key not in self._data:
                while len(self._data) >= self._size:
                    self._data.pop(next(iter(self._data)))
            self._data[key] = value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


#: Default number of signature verdicts a SignatureCache keeps.
SIGNATURE_CACHE_SIZE = 256
#: Signed data larger than this is verified every time rather than remembered (bounds
#: the cache's memory at about SIGNATURE_CACHE_SIZE x this, whatever peers send).
SIGNATURE_CACHE_MAX_TBS = 16384


class SignatureCache:
    """Remembers certificate signatures that verified: opt-in (``verify_cache=True`` on a
    config, ``signature_cache=`` for :func:`tlskit.pki.verify_chain`).

    An entry is the exact issuer SubjectPublicKeyInfo, the exact signed TBSCertificate,
    the exact signature bytes, the signature scheme and the provider that verified them.
    Verifying a signature is a deterministic function of exactly those, so a later
    lookup that finds all of them equal gets the answer the provider gave. Only
    successes are kept (a failure is checked again, and reported as it was).
    Everything else about the chain (validity at the time of the call, names, usage,
    constraints, revocation) is still checked on each call, and a TLS handshake's
    CertificateVerify, which signs a fresh transcript, is never cached.
    """

    def __init__(self, size: int = SIGNATURE_CACHE_SIZE) -> None:
        self._entries: BoundedCache[Any] = BoundedCache(size)

    def verified(self, provider: object, scheme: str, spki: bytes, tbs: bytes, signature: bytes) -> bool:
        """Whether this exact signature was verified by ``provider`` before."""
        key = (id(provider), scheme, spki, tbs, signature)
        # the entry holds the provider itself: an id() is only unique while its object lives
        return self._entries.get(key) is provider

    def remember(self, provider: object, scheme: str, spki: bytes, tbs: bytes, signature: bytes) -> None:
        if type(spki) is not bytes or type(tbs) is not bytes or type(signature) is not bytes:
            return  # only immutable bytes are safe as keys
        if len(tbs) > SIGNATURE_CACHE_MAX_TBS:
            return
        self._entries.put((id(provider), scheme, spki, tbs, signature), provider)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<SignatureCache {len(self)} verdicts>"


__all__ = ["BoundedCache", "SignatureCache", "SIGNATURE_CACHE_SIZE"]
