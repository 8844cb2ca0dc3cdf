"""The ``"fastest"`` provider: per primitive, the built-in backend measured fastest here.

The granularity is the algorithm, not the part: the x25519 group may come from pynacl
while secp256r1 comes from cryptography, ChaCha20-Poly1305 from libsodium while the
AES-GCM AEADs come from OpenSSL, and each verification scheme from its own winner. This
works because every algorithm object speaks bytes only (raw key shares, secrets, DER
SubjectPublicKeyInfo), never a library's key objects, so objects of different backends
can sit in one :class:`~tlskit.providers.base.Provider`'s tables; the cipher suites are
rebuilt from the chosen AEADs and hashes with ``make_suites`` as ``compose()`` does.

Primitives (the keys of a ranking; :func:`primitive_of_group` and friends map names to them):

* ``group:NAME`` for each group, a hybrid as a whole (keygen + encapsulate + complete);
  the RFC 7919 groups share one entry, ``group:ffdhe`` (one implementation per backend);
* ``aead:NAME``, ``hash:NAME``;
* ``verify:SCHEME`` for each signature scheme, the RSA schemes sharing ``verify:rsa``;
* ``sign:SCHEME`` by the first scheme of a private key (``sign:rsa`` for RSA keys).

Private keys: one backend loads *and* signs with a key. The loader asks the reference
backend first (the most complete, so a malformed key gets its precise error), then, if the
ranking names another backend as the faster signer for that kind of key, reloads the key
with it and keeps that copy only if it loaded and has the same public key and schemes;
otherwise the reference's key is used (an encrypted Ed25519 key, which libsodium cannot
decrypt, is signed by cryptography).

Where the ranking comes from (never measured implicitly: a library call must not spend
seconds benchmarking): the JSON file written by ``tlskit providers rank --save``
(:func:`ranking_path`: ``$TLSKIT_PROVIDER_RANK`` or the per-user cache directory), used
only while its key -- the Python build, the CPU and every backend library's version --
matches this process. Without a valid file the ranking is :data:`DEFAULT_ORDER`: each
primitive from the first backend in that order that has it, i.e. cryptography (OpenSSL)
for everything it offers. A challenger replaces the preferred backend only when it is
more than :data:`MARGIN` faster, so noise does not flip choices between two runs.
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from tlskit.errors import KeyLoadError, ProviderError
from tlskit.providers._common import make_suites
from tlskit.providers.base import AEADAlgorithm, HashAlgorithm, KeyExchangeGroup, PrivateKey, Provider, SignatureScheme

#: the name that selects this provider wherever a provider name is accepted
NAME = "fastest"
#: preference order: who provides a primitive when nothing (or a tie) says otherwise
DEFAULT_ORDER: tuple[str, ...] = ("cryptography", "pycryptodome", "pynacl")
#: a challenger must be this much faster (time per operation) to replace the preferred backend
MARGIN = 0.05
#: environment variable naming the ranking file (overrides the per-user cache file)
RANKING_ENV = "TLSKIT_PROVIDER_RANK"
FORMAT = 1

Measurements = Mapping[str, Mapping[str, float]]  # primitive -> backend -> seconds per operation


# ---------------------------------------------------------------------------
# Primitive names


def primitive_of_group(name: str) -> str:
    return "group:ffdhe" if name.startswith("ffdhe") else f"group:{name}"


def primitive_of_scheme(name: str, action: str = "verify") -> str:
    """``verify:SCHEME`` / ``sign:SCHEME``; every RSA scheme is one modular exponentiation
    engine per backend, so they share ``verify:rsa`` / ``sign:rsa``."""
    return f"{action}:rsa" if name.startswith("rsa_") else f"{action}:{name}"


def primitives(providers: Mapping[str, Provider]) -> list[str]:
    """Every primitive at least one of ``providers`` offers, in a stable order."""
    found: dict[str, None] = {}
    for provider in providers.values():
        found.update((primitive_of_group(g), None) for g in provider.groups)
    for provider in providers.values():
        found.update((f"aead:{a}", None) for a in provider.aead_algorithms)
    for provider in providers.values():
        found.update((f"hash:{h}", None) for h in provider.hash_algorithms)
    for action in ("verify", "sign"):
        for provider in providers.values():
            found.update((primitive_of_scheme(s, action), None) for s in provider.signature_schemes)
    return list(found)


def offers(provider: Provider, primitive: str) -> bool:
    """Whether ``provider`` has the primitive (for ``sign:``, a scheme its keys could sign with)."""
    kind, _, name = primitive.partition(":")
    if kind == "group":
        return any(primitive_of_group(g) == primitive for g in provider.groups)
    if kind == "aead":
        return name in provider.aead_algorithms
    if kind == "hash":
        return name in provider.hash_algorithms
    if kind in ("verify", "sign"):
        return any(primitive_of_scheme(s, kind) == primitive for s in provider.signature_schemes)
    return False


# ---------------------------------------------------------------------------
# Selection


def choose_one(times: Mapping[str, float], order: Iterable[str] = DEFAULT_ORDER) -> str | None:
    """The backend for one primitive from its measured seconds per operation: the fastest,
    unless the first backend of ``order`` that was measured is within ``MARGIN`` of it."""
    valid = {b: t for b, t in times.items() if isinstance(t, (int, float)) and t > 0 and t == t}
    if not valid:
        return None
    fastest = min(valid, key=lambda b: (valid[b], b))
    preferred = next((b for b in order if b in valid), fastest)
    return preferred if valid[preferred] <= valid[fastest] * (1 + MARGIN) else fastest


def choose(measurements: Measurements, providers: Mapping[str, Provider], order: Iterable[str] = DEFAULT_ORDER) -> dict[str, str]:
    """primitive -> backend for every primitive one of ``providers`` offers.

    Only measured backends that offer the primitive compete; a primitive nobody measured
    goes to the first backend of ``order`` (then of ``providers``) that offers it.
    """
    order = tuple(order)
    fallback = [b for b in order if b in providers] + [b for b in providers if b not in order]
    choices = {}
    for primitive in primitives(providers):
        times = {b: t for b, t in measurements.get(primitive, {}).items() if b in providers and offers(providers[b], primitive)}
        chosen = choose_one(times, fallback)
        if chosen is None:
            chosen = next(b for b in fallback if offers(providers[b], primitive))
        choices[primitive] = chosen
    return choices


# ---------------------------------------------------------------------------
# The composed provider


@dataclass(repr=False)  # Provider's short repr, never the tables
class RankedProvider(Provider):
    """A provider whose every algorithm comes from the backend a ranking chose for it."""

    #: primitive -> backend that provides it (see the module docstring for the names)
    choices: Mapping[str, str] = field(default_factory=dict)
    #: where the ranking came from: "default", or the ranking file and when it was measured
    source: str = "default"


class _RankedKeyLoader:
    """Loads with the reference backend, then prefers the ranked signer (module docstring)."""

    def __init__(self, reference: str, providers: Mapping[str, Provider], choices: Mapping[str, str]) -> None:
        self._reference = reference
        self._providers = dict(providers)
        self._choices = dict(choices)

    def __call__(self, data: bytes, password: bytes | None = None) -> PrivateKey:
        order = [self._reference] + [b for b in self._providers if b != self._reference]
        first_error: KeyLoadError | None = None
        for backend in order:
            try:
                key = self._providers[backend].load_private_key(data, password)
                break
            except KeyLoadError as exc:
                first_error = first_error or exc
        else:
            assert first_error is not None
            raise first_error
        if not key.schemes:
            return key
        signer = self._choices.get(primitive_of_scheme(key.schemes[0], "sign"), backend)
        if signer == backend or signer not in self._providers:
            return key
        try:
            faster = self._providers[signer].load_private_key(data, password)
        except KeyLoadError:
            return key
        same = (
            hmac.compare_digest(faster.public_key_der(), key.public_key_der())
            and tuple(faster.schemes) == tuple(key.schemes)
            and tuple(faster.legacy_schemes) == tuple(key.legacy_schemes)
        )
        return faster if same else key


def build(choices: Mapping[str, str], providers: Mapping[str, Provider], *, source: str = "default") -> RankedProvider:
    """The provider made of the chosen algorithm objects (``choices`` as :func:`choose` returns).

    Table orders follow the reference backend (the first of ``providers``), then anything
    only the others offer, so defaults such as the first key share do not change with the
    ranking. A primitive whose chosen backend does not offer it falls back to the first that does.
    """
    if not providers:
        raise ProviderError("no backend is available to compose the fastest provider from")
    names = list(providers)
    reference = names[0]

    used: dict[str, str] = {}  # what was really used: a fallback shows as what it is

    def pick(primitive: str, has: Any) -> Provider:
        chosen = choices.get(primitive)
        if not (chosen in providers and has(providers[chosen])):
            chosen = next(b for b in names if has(providers[b]))
        used.setdefault(primitive, chosen)
        # a family (ffdhe*, rsa_*) follows its first member's backend where it can
        return providers[used[primitive]] if has(providers[used[primitive]]) else providers[chosen]

    def union(table: str) -> list[str]:
        seen: dict[str, None] = {}
        for b in names:
            seen.update((key, None) for key in getattr(providers[b], table))
        return list(seen)

    groups: dict[str, KeyExchangeGroup] = {}
    for g in union("groups"):
        groups[g] = pick(primitive_of_group(g), lambda p, g=g: g in p.groups).groups[g]
    aeads: dict[str, AEADAlgorithm] = {}
    for a in union("aead_algorithms"):
        aeads[a] = pick(f"aead:{a}", lambda p, a=a: a in p.aead_algorithms).aead_algorithms[a]
    hashes: dict[str, HashAlgorithm] = {}
    for h in union("hash_algorithms"):
        hashes[h] = pick(f"hash:{h}", lambda p, h=h: h in p.hash_algorithms).hash_algorithms[h]
    schemes: dict[str, SignatureScheme] = {}
    for s in union("signature_schemes"):
        schemes[s] = pick(primitive_of_scheme(s), lambda p, s=s: s in p.signature_schemes).signature_schemes[s]
    for s in union("signature_schemes"):  # signing: decided per key by the loader
        pick(primitive_of_scheme(s, "sign"), lambda p, s=s: s in p.signature_schemes)

    versions: dict[str, str] = {}
    for backend in dict.fromkeys(used.values()):
        versions.update(providers[backend].versions)
    return RankedProvider(
        name=NAME,
        cipher_suites=make_suites(aeads, hashes),
        groups=groups,
        signature_schemes=schemes,
        key_loader=_RankedKeyLoader(reference, providers, used),
        # os.urandom (cryptography's source) or the reference's own: never ranked, randomness
        # is a few bytes per handshake and the reference's source is the one best reviewed.
        random_source=providers[reference].random_source,
        versions=versions,
        aead_algorithms=aeads,
        hash_algorithms=hashes,
        choices=used,
        source=source,
    )


# ---------------------------------------------------------------------------
# The ranking file


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor()


def machine_key(providers: Mapping[str, Provider]) -> dict[str, Any]:
    """What a ranking is valid for: this Python, this CPU, these backends and library versions."""
    libraries: dict[str, str] = {}
    for provider in providers.values():
        libraries.update(provider.versions)
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "backends": sorted(providers),
        "libraries": dict(sorted(libraries.items())),
    }


def ranking_path() -> Path:
    """``$TLSKIT_PROVIDER_RANK`` if set, else ``provider-rank.json`` in the per-user cache dir."""
    override = os.environ.get(RANKING_ENV)
    if override:
        return Path(override)
    return _cache_file(os.environ.get("XDG_CACHE_HOME"), os.environ.get("HOME"), os.environ.get("LOCALAPPDATA"))


@functools.lru_cache(maxsize=8)
def _cache_file(*environment: str | None) -> Path:
    """platformdirs' answer (tens of µs) for the variables it reads, remembered per value."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("tlskit")) / "provider-rank.json"


def save_ranking(measurements: Measurements, key: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write a ranking file (``key``: :func:`machine_key` of the measured backends) atomically:
    a reader never sees half of it."""
    path = ranking_path() if path is None else Path(path)
    document = {
        "format": FORMAT,
        "key": dict(key),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "measurements": {p: dict(t) for p, t in measurements.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class RankingStatus:
    """What ``provider="fastest"`` is built from right now, and why."""

    path: Path
    measurements: Measurements  # empty when the default ranking is in use
    state: str  # "measured" | "missing" | "stale" | "unreadable"
    detail: str = ""
    measured_at: str = ""

    @property
    def source(self) -> str:
        if self.state == "measured":
            return f"measured {self.measured_at} ({self.path})"
        return f"default ({self.state}: {self.detail})" if self.detail else f"default ({self.state})"


def _valid_measurements(raw: Any) -> dict[str, dict[str, float]]:
    if not isinstance(raw, dict):
        raise ValueError("measurements is not an object")
    clean: dict[str, dict[str, float]] = {}
    for primitive, times in raw.items():
        if not isinstance(primitive, str) or not isinstance(times, dict):
            raise ValueError(f"bad entry {primitive!r}")
        clean[primitive] = {
            b: float(t) for b, t in times.items() if isinstance(b, str) and isinstance(t, (int, float)) and not isinstance(t, bool)
        }
    return clean


def read_ranking(providers: Mapping[str, Provider], path: Path | None = None) -> RankingStatus:
    """The ranking file's measurements if it exists, parses and was made for this machine."""
    path = ranking_path() if path is None else Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RankingStatus(path, {}, "missing", f"no ranking at {path}; run `tlskit providers rank --save`")
    except OSError as exc:
        return RankingStatus(path, {}, "unreadable", f"{path}: {exc.strerror or exc}")
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ValueError(f"not a format-{FORMAT} ranking")
        measurements = _valid_measurements(document.get("measurements"))
    except (ValueError, TypeError) as exc:
        return RankingStatus(path, {}, "unreadable", f"{path}: {exc}")
    expected = machine_key(providers)
    if document.get("key") != expected:
        found = document.get("key") if isinstance(document.get("key"), dict) else {}
        changed = sorted(k for k in expected if found.get(k) != expected[k])
        return RankingStatus(path, {}, "stale", f"{path} was measured with a different {', '.join(changed) or 'key'}; run `tlskit providers rank --save`")
    return RankingStatus(path, measurements, "measured", measured_at=str(document.get("measured_at", "")))


# ---------------------------------------------------------------------------
# The process-wide instance


_lock = threading.Lock()
_built: tuple[Any, RankedProvider] | None = None


def _file_state(path: Path) -> tuple[Any, ...]:
    try:
        st = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def fastest_provider(providers: Mapping[str, Provider]) -> RankedProvider:
    """The ``"fastest"`` provider composed from ``providers`` (the installed built-in backends,
    ``registry.builtin_providers()``, which ``get_provider("fastest")`` passes) for the
    current ranking file.

    Built once and reused while the ranking file is unchanged (path, mtime, size, inode
    and the loaded backends are the cache key), so a ``rank --save`` -- in this process or
    another -- is picked up by the next configuration that asks for it.
    """
    global _built
    path = ranking_path()
    state = (_file_state(path), tuple(id(p) for p in providers.values()), tuple(providers))
    with _lock:
        if _built is not None and _built[0] == state:
            return _built[1]
    status = read_ranking(providers, path)
    provider = build(choose(status.measurements, providers), providers, source=status.source)
    with _lock:
        _built = (state, provider)
    return provider


__all__ = [
    "DEFAULT_ORDER",
    "MARGIN",
    "NAME",
    "RANKING_ENV",
    "RankedProvider",
    "RankingStatus",
    "build",
    "choose",
    "choose_one",
    "fastest_provider",
    "machine_key",
    "primitive_of_group",
    "primitive_of_scheme",
    "primitives",
    "ranking_path",
    "read_ranking",
    "save_ranking",
]
