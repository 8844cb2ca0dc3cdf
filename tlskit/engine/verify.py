"""Peer certificate validation: the custom verifier hook, or tlskit.pki's path validation."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Sequence, Union

from tlskit.engine.trust import build_trust_store
from tlskit.errors import AlertDescription, TLSError

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.engine.config import ClientConfig, ServerConfig
    from tlskit.pki import TrustStore
    from tlskit.pki.cache import SignatureCache
    from tlskit.pki.certinfo import CertInfo

    AnyConfig = Union[ClientConfig, ServerConfig]

_trust_lock = threading.Lock()
_STORE_ATTRIBUTES = {"server": "_trust_store_server", "client": "_trust_store_client"}


def _trust_store(config: AnyConfig, usage: str) -> TrustStore:
    """The trust anchors of a config: cafile/cadata were loaded when it was built (and the
    store too, unless the system roots are wanted: those are read here, once per config)."""
    attribute = _STORE_ATTRIBUTES.get(usage) or f"_trust_store_{usage}"
    store: TrustStore | None = getattr(config, attribute, None)
    if store is not None:  # set once, never replaced: no lock needed to read it
        return store
    with _trust_lock:
        store: TrustStore | None = getattr(config, attribute, None)
        if store is not None:
            return store
        # usage "server": a client checking a server, so a ClientConfig
        system = usage == "server" and getattr(config, "use_system_roots", False)
        store = build_trust_store(getattr(config, f"_anchors_{usage}", ()), system)
        object.__setattr__(config, attribute, store)
        return store


#: Peer certificates whose parsed form is kept per config, keyed by their exact DER.
PEER_CERT_CACHE_SIZE = 128
#: Larger certificates are parsed per connection rather than kept (bounds the cache's
#: memory at PEER_CERT_CACHE_SIZE x this, whatever peers send).
PEER_CERT_CACHE_MAX_DER = 16384


def _peer_cert_infos(config: AnyConfig, chain: Sequence[bytes]) -> list[CertInfo | bytes]:
    """The peer's certificates as pki CertInfo objects, reused across connections of a config.

    A CertInfo holds only facts that are a function of the DER bytes (parsed fields and
    the time-independent rule verdicts), so certificates seen again (the same server or
    client presenting the same chain) are not parsed and checked again. Signatures,
    validity periods, names and the path itself are still checked on every connection.
    A certificate that does not load as exactly one certificate is passed through as
    bytes, so pki reports it exactly as before.
    """
    cache: dict[bytes, CertInfo] | None = getattr(config, "_peer_cert_cache", None)
    if cache is None:
        with _trust_lock:
            cache = getattr(config, "_peer_cert_cache", None)
            if cache is None:
                cache = {}
                object.__setattr__(config, "_peer_cert_cache", cache)
    # dict.get is atomic: lookups need no lock, only the insertions below take it
    cached = [cache.get(der) for der in chain]
    if None not in cached:
        return cached  # type: ignore[return-value]  # no None in it
    from tlskit.pki.certinfo import CertInfo
    from tlskit.pki.loading import load_certificates

    infos: list[CertInfo | bytes] = []
    for der, info in zip(chain, cached):
        if info is not None:
            infos.append(info)
            continue
        try:
            certs = load_certificates(der)
        except Exception:
            certs = []
        if len(certs) != 1:
            infos.append(der)
            continue
        info = CertInfo(certs[0])
        infos.append(info)
        if len(der) > PEER_CERT_CACHE_MAX_DER:
            continue
        with _trust_lock:
            while len(cache) >= PEER_CERT_CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[bytes(der)] = info
    return infos


def _signature_cache(config: AnyConfig) -> SignatureCache | None:
    """The config's CA-signature verdict cache when ``verify_cache`` is on (opt-in), else None."""
    if not getattr(config, "verify_cache", False):
        return None
    cache: SignatureCache | None = getattr(config, "_signature_cache", None)
    if cache is None:
        from tlskit.pki.cache import SignatureCache

        with _trust_lock:
            cache = getattr(config, "_signature_cache", None)
            if cache is None:
                cache = SignatureCache()
                object.__setattr__(config, "_signature_cache", cache)
    return cache


def verify_peer(config: AnyConfig, chain: Sequence[bytes], server_name: str | None, usage: str) -> None:
    """Raise a TLSError (a CertificateError from pki, carrying its alert) unless ``chain`` is acceptable.

    ``usage`` is "server" (a client checking a server) or "client" (a server checking a client).
    """
    if config.verifier is not None:
        try:
            config.verifier(tuple(chain), server_name)
        except TLSError:
            raise
        except Exception as exc:  # a hook's own exception still rejects, with bad_certificate
            raise TLSError(f"certificate rejected by verifier: {exc}", AlertDescription.bad_certificate) from exc
        return
    if usage == "server" and getattr(config, "insecure", False):
        return
    from tlskit.pki.verify import verify_chain

    trust = _trust_store(config, usage)
    try:
        infos = _peer_cert_infos(config, chain)
        verify_chain(
            infos[0],
            infos[1:],
            trust,
            server_name=server_name if usage == "server" else None,
            usage=usage,
            at=config.clock(),
            provider=config.resolved_provider,
            crls=getattr(config, "_crls", None) or None,
            signature_cache=_signature_cache(config),
        )
    except TLSError:
        raise
    except Exception as exc:
        raise TLSError(f"certificate validation failed: {exc}", AlertDescription.bad_certificate) from exc
