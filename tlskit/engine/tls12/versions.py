"""Protocol versions in configs (``min_version``/``max_version``) and the split of a
``cipher_suites`` list into its TLS 1.3 and TLS 1.2 parts.

Only TLS 1.2 and TLS 1.3 exist for tlskit; SSL 3.0, TLS 1.0 and TLS 1.1 are refused in
configs (ConfigurationError) and on the wire (protocol_version, RFC 8996).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from tlskit.engine.extensions import decode_supported_versions_client

from tlskit.engine.tls12.suites import SUITE_TABLE, provider_suites
from tlskit.errors import ConfigurationError, ProtocolVersionError, UnsupportedAlgorithm
from tlskit.providers.base import Provider
from tlskit.providers.names import CIPHER_SUITES

TLS12 = 0x0303
TLS13 = 0x0304
E_SUPPORTED_VERSIONS = 43
VERSION_CODES = {"TLSv1.2": TLS12, "TLSv1.3": TLS13}
VERSION_NAMES = {code: name for name, code in VERSION_CODES.items()}
_ALIASES = {"1.2": "TLSv1.2", "1.3": "TLSv1.3", "TLS1.2": "TLSv1.2", "TLS1.3": "TLSv1.3"}
_OBSOLETE = {"SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1", "1.0", "1.1", "3.0"}


def version_name(value: str, field: str) -> str:
    """The canonical name ("TLSv1.2" or "TLSv1.3") of a configured version."""
    name = _ALIASES.get(value, value) if isinstance(value, str) else value
    if name in VERSION_CODES:
        return name
    if value in _OBSOLETE:
        raise ConfigurationError(f"{field}={value!r}: TLS versions before 1.2 are not supported (RFC 8996)")
    raise ConfigurationError(f"{field}={value!r}: choose 'TLSv1.2' or 'TLSv1.3'")


def resolve_versions(min_version: str, max_version: str) -> tuple[str, str]:
    low, high = version_name(min_version, "min_version"), version_name(max_version, "max_version")
    if VERSION_CODES[low] > VERSION_CODES[high]:
        raise ConfigurationError(f"min_version {low} is above max_version {high}")
    return low, high


def split_suites(wanted: Optional[Sequence[str]]) -> tuple[Optional[list[str]], Optional[list[str]]]:
    """(TLS 1.3 names, TLS 1.2 names) of a configured list; a version the list does not
    name keeps its default suites (None), so a TLS 1.3 suite list leaves TLS 1.2 alone."""
    if wanted is None:
        return None, None
    if isinstance(wanted, str):
        wanted = [w for w in wanted.split(",") if w]
    tls13 = [n for n in wanted if n not in SUITE_TABLE]
    tls12 = [n for n in wanted if n in SUITE_TABLE]
    return (tls13 or None) if tls12 else list(tls13), tls12 or None


def resolve_tls12_suites(provider: Provider, wanted: Optional[list[str]]) -> tuple[str, ...]:
    """The TLS 1.2 suites to use, checked against the provider (UnsupportedAlgorithm names it)."""
    available = provider_suites(provider)
    if wanted is None:
        return tuple(available)
    names: list[str] = []
    for name in wanted:
        if name not in available:
            raise UnsupportedAlgorithm(provider.name, "cipher suite", name)
        if name not in names:
            names.append(name)
    return tuple(names)


def select_version(config: Any, hello: Any, extensions: dict[int, bytes]) -> int:
    """The version a server answers a ClientHello with (RFC 8446 4.2.1, RFC 5246 E.1):
    the highest both sides enable, TLS 1.3 preferred; protocol_version if there is none."""
    if E_SUPPORTED_VERSIONS in extensions:
        offered = decode_supported_versions_client(extensions[E_SUPPORTED_VERSIONS])
    elif hello.legacy_version >= TLS12:
        offered = [TLS12]  # a TLS 1.2 ClientHello without supported_versions (RFC 5246 7.4.1.2)
    else:
        offered = []
    for version in (TLS13, TLS12):
        if version in offered and config.min_version_code <= version <= config.max_version_code:
            return version
    if TLS13 in offered or TLS12 in offered:
        raise ProtocolVersionError("client offers no TLS version this server is configured for")
    # RFC 8996: TLS 1.0 and 1.1 (and SSL 3.0) are refused
    raise ProtocolVersionError("client offers only TLS versions before 1.2")


def is_tls13_suite(name: str) -> bool:
    return name in CIPHER_SUITES
