"""Finding providers by name and composing new ones from parts of others.

Backends are imported lazily, so a missing optional library only removes its
provider from ``available_providers()`` instead of breaking ``import tlskit``.
Built providers are cached: they are immutable tables of algorithm objects.

Third-party providers: a separately installed package declares an entry point in
the ``tlskit.providers`` group (``name = "package.module:attr"``, where ``attr`` is
a :class:`Provider` or a callable returning one). It is listed by
``third_party_providers()`` and ``tlskit providers`` and works as
``provider="name"``. The built-in backends win on a name clash (an entry point
cannot shadow "cryptography"); an entry point that fails to load is reported as
unavailable with its error, never fatal for the other providers.

``"fastest"`` names the provider composed, per algorithm, of the built-in backends
ranked fastest on this machine (:mod:`tlskit.providers.fastest`); it is rebuilt when
``tlskit providers rank --save`` writes a new ranking, so it is not kept in the cache here.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from typing import Any, Union

from tlskit.errors import ProviderError
from tlskit.providers._common import SUITE_PARTS, make_suites
from tlskit.providers.base import Provider

_BACKENDS: dict[str, str] = {
    "cryptography": "tlskit.providers.backend_cryptography",
    "pycryptodome": "tlskit.providers.backend_pycryptodome",
    "pynacl": "tlskit.providers.backend_pynacl",
}

#: the entry-point group third-party packages declare their providers in
ENTRY_POINT_GROUP = "tlskit.providers"

#: the provider made of the fastest backend per algorithm (tlskit.providers.fastest)
FASTEST = "fastest"

#: the parts compose() takes, in the order the composed name lists them
PART_KEYS = ("kx", "aead", "hash", "sig")

ProviderLike = Union[str, Provider]

_cache: dict[str, Provider] = {}
_lock = threading.Lock()


class UnknownProvider(ProviderError):
    def __init__(self, name: str, reason: str = "") -> None:
        known = ", ".join(backend_names() + (FASTEST,) + tuple(n for n in third_party_providers() if n not in _BACKENDS))
        super().__init__(f"unknown or unavailable provider {name!r}{reason} (known: {known})")
        self.provider = name


def backend_names() -> tuple[str, ...]:
    """Every backend tlskit knows, available or not."""
    return tuple(_BACKENDS)


def third_party_providers() -> dict[str, str]:
    """Providers declared by installed packages: name -> "module:attr" of the entry point.

    Read from the installed distributions' metadata each call (cheap, and a package
    installed while the process runs shows up). Names clashing with a built-in backend
    are left out: the built-ins always win.
    """
    found: dict[str, str] = {}
    try:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # noqa: BLE001 - broken metadata on sys.path must not break tlskit
        return found
    for ep in entry_points:
        name = ep.name.strip()
        if name and name.lower() not in _BACKENDS and name.lower() != FASTEST and name not in found:
            found[name] = ep.value
    return found


def load_provider_object(obj: Any, label: str) -> Provider:
    """A Provider from what an entry point or ``module:attr`` names: a Provider, or a
    callable (a class or factory) that returns one when called without arguments."""
    if isinstance(obj, Provider):
        return obj
    if callable(obj):
        try:
            built = obj()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is reported, not fatal
            raise UnknownProvider(label, f": building it failed: {type(exc).__name__}: {exc}") from None
        if isinstance(built, Provider):
            return built
        obj = built
    raise UnknownProvider(label, f": {type(obj).__name__} is not a tlskit.providers.Provider")


def load_spec(spec: str) -> Provider:
    """``"module:attr"`` (or ``"module.attr"``) -> the Provider it names; errors are UnknownProvider."""
    module_name, sep, attr = spec.partition(":")
    if not sep:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise UnknownProvider(spec, ": expected module:attribute")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError, or the module's own failure
        raise UnknownProvider(spec, f": cannot load it: {type(exc).__name__}: {exc}") from None
    return load_provider_object(target, spec)


def _build_third_party(name: str, value: str) -> Provider:
    try:
        return load_spec(value)
    except UnknownProvider as exc:
        raise UnknownProvider(name, f" (entry point {value}){str(exc).partition(repr(value))[2].split(' (known')[0]}") from None


def _build_backend(name: str) -> Provider:
    try:
        module = importlib.import_module(_BACKENDS[name])
    except ImportError as exc:
        raise UnknownProvider(name, f": {exc}") from None
    return module.build()


def builtin_providers() -> dict[str, Provider]:
    """The built-in backends whose library is installed, by name, in preference order
    (what "fastest" is composed from: third-party providers never compete, an entry point
    is trusted as a whole, not silently mixed into another provider)."""
    found = {}
    for name in _BACKENDS:
        try:
            found[name] = get_provider(name)
        except UnknownProvider:
            continue
    return found


def available_providers() -> list[str]:
    """Names of the usable providers: the built-in backends whose library is installed,
    in preference order, then the third-party ones that load."""
    names = []
    for name in list(_BACKENDS) + list(third_party_providers()):
        try:
            get_provider(name)
        except UnknownProvider:
            continue
        names.append(name)
    return names


def get_provider(name: ProviderLike) -> Provider:
    """A provider by name: a backend ("cryptography", "pycryptodome", "pynacl"), "fastest"
    (each algorithm from the backend ranked fastest here), a third-party provider's
    entry-point name, or a composed name such as "kx=pynacl,aead=pycryptodome,hash=cryptography,sig=cryptography".
    A Provider instance is returned as is, so configs may hold either.
    """
    if isinstance(name, Provider):
        return name
    if not isinstance(name, str):
        raise TypeError(f"provider must be a name or a Provider, not {type(name).__name__}")
    if name.strip().lower() == FASTEST:
        from tlskit.providers.fastest import fastest_provider  # lazy: only who asks for it pays

        return fastest_provider(builtin_providers())
    with _lock:
        cached = _cache.get(name)
    if cached is not None:
        return cached
    if name.strip().lower() in _BACKENDS:  # "PyNaCl", "Cryptography" are accepted too
        provider = _build_backend(name.strip().lower())
    elif "=" in name:
        parts = _parse_composed_name(name)
        provider = compose(**parts)
        if FASTEST in parts.values():
            return provider  # follows the ranking file: never cached under this name
    else:
        third_party = third_party_providers()
        if name not in third_party:
            raise UnknownProvider(name)
        provider = _build_third_party(name, third_party[name])
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
