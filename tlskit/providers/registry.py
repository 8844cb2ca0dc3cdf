"""Finding providers by name and composing new ones from parts of others.

Backends are imported lazily, so a missing optional library only removes its
provider from ``available_providers()`` instead of breaking ``import tlskit``.
Built providers are cached: they are immutable tables of algorithm objects.
"""

from __future__ import annotations

import importlib
import threading
from typing import Union

from tlskit.errors import ProviderError
from tlskit.providers._common import SUITE_PARTS, make_suites
from tlskit.providers.base import Provider

_BACKENDS: dict[str, str] = {
    "cryptography": "tlskit.providers.backend_cryptography",
    "pycryptodome": "tlskit.providers.backend_pycryptodome",
    "pynacl": "tlskit.providers.backend_pynacl",
}

#: the parts compose() takes, in the order the composed name lists them
PART_KEYS = ("kx", "aead", "hash", "sig")

ProviderLike = Union[str, Provider]

_cache: dict[str, Provider] = {}
_lock = threading.Lock()


class UnknownProvider(ProviderError):
    def __init__(self, name: str, reason: str = "") -> None:
        known = ", ".join(_BACKENDS)
        super().__init__(f"unknown or unavailable provider {name!r}{reason} (known: {known})")
        self.provider = name


def backend_names() -> tuple[str, ...]:
    """Every backend tlskit knows, available or not."""
    return tuple(_BACKENDS)


def _build_backend(name: str) -> Provider:
    try:
        module = importlib.import_module(_BACKENDS[name])
    except ImportError as exc:
        raise UnknownProvider(name, f": {exc}") from None
    return module.build()


def available_providers() -> list[str]:
    """Names of the backends whose library is installed and usable, in preference order."""
    names = []
    for name in _BACKENDS:
        try:
            get_provider(name)
        except UnknownProvider:
            continue
        names.append(name)
    return names


def get_provider(name: ProviderLike) -> Provider:
    """A provider by name: a backend ("cryptography", "pycryptodome", "pynacl"),
    or a composed name such as "kx=pynacl,aead=pycryptodome,hash=cryptography,sig=cryptography".
    A Provider instance is returned as is, so configs may hold either.
    """
    if isinstance(name, Provider):
        return name
    if not isinstance(name, str):
        raise TypeError(f"provider must be a name or a Provider, not {type(name).__name__}")
    with _lock:
        cached = _cache.get(name)
    if cached is not None:
        return cached
    if name.strip().lower() in _BACKENDS:  # "PyNaCl", "Cryptography" are accepted too
        provider = _build_backend(name.strip().lower())
    elif "=" in name:
        provider = compose(**_parse_composed_name(name))
    else:
        raise UnknownProvider(name)
    with _lock:
        return _cache.setdefault(name, provider)


def _parse_composed_name(name: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in name.split(","):
        key, sep, value = item.strip().partition("=")
        key = "signatures" if key == "sig" else key
        if not sep or key not in ("kx", "aead", "hash", "signatures") or not value or key in parts:
            raise UnknownProvider(name, ": composed names look like kx=A,aead=B,hash=C,sig=D")
        parts[key] = value.strip().lower()
    return parts


def _part(provider: Provider, key: str) -> str:
    # A composed provider contributes the matching part of its own composition.
    return provider.parts.get(key, provider.name)


def compose(
    kx: ProviderLike | None = None,
    aead: ProviderLike | None = None,
    hash: ProviderLike | None = None,  # noqa: A002 - the part is called "hash" in the contract
    signatures: ProviderLike | None = None,
    *,
    name: str | None = None,
) -> Provider:
    """A provider made of parts of others.

    ``kx`` gives the key-exchange groups (and the random source, since key
    generation happens there), ``aead`` the record ciphers, ``hash`` the
    transcript hash/HMAC/HKDF, ``signatures`` verification and private-key
    loading. An omitted part comes from "cryptography" (the most complete
    backend); the composed name always lists all four so nothing is hidden.
    A suite is offered only when the AEAD part has its cipher and the hash part
    its hash.
    """
    chosen = {
        "kx": get_provider(kx if kx is not None else "cryptography"),
        "aead": get_provider(aead if aead is not None else "cryptography"),
        "hash": get_provider(hash if hash is not None else "cryptography"),
        "sig": get_provider(signatures if signatures is not None else "cryptography"),
    }
    parts = {key: _part(p, key) for key, p in chosen.items()}
    composed_name = name or ",".join(f"{key}={parts[key]}" for key in PART_KEYS)

    aead_provider, hash_provider = chosen["aead"], chosen["hash"]
    aeads, hashes = aead_provider.aead_algorithms, hash_provider.hash_algorithms
    # Keep the AEAD provider's preference order, then any suite it could not form alone.
    order = list(aead_provider.cipher_suites) + [s for s in SUITE_PARTS if s not in aead_provider.cipher_suites]
    suites = make_suites(aeads, hashes, order)

    versions: dict[str, str] = {}
    for provider in chosen.values():
        versions.update(provider.versions)
    return Provider(
        name=composed_name,
        cipher_suites=suites,
        groups=chosen["kx"].groups,
        signature_schemes=chosen["sig"].signature_schemes,
        key_loader=chosen["sig"].key_loader,
        random_source=chosen["kx"].random_source,
        versions=versions,
        parts=parts,
        aead_algorithms=aeads,
        hash_algorithms=hashes,
    )
