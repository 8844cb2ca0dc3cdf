"""Peer certificate validation: the custom verifier hook, or tlskit.pki's path validation."""

from __future__ import annotations

import threading
from typing import Any, Sequence

from tlskit.errors import AlertDescription, TLSError

_trust_lock = threading.Lock()


def _trust_store(config: Any, usage: str) -> Any:
    """The trust anchors of a config, loaded once and kept on the (frozen) config."""
    attribute = f"_trust_store_{usage}"
    with _trust_lock:
        store = getattr(config, attribute, None)
        if store is not None:
            return store
        from tlskit import pki

        if usage == "server":
            cafile, cadata, system = config.cafile, config.cadata, config.use_system_roots
        else:
            cafile, cadata, system = config.client_cafile, config.client_cadata, False
        certs: list[Any] = []
        if cafile is not None:
            certs.extend(pki.TrustStore.from_file(cafile).certificates())
        if cadata is not None:
            certs.extend(pki.TrustStore.from_pem(cadata).certificates())
        if system:
            certs.extend(pki.TrustStore.system().certificates())
        store = pki.TrustStore(certs)
        object.__setattr__(config, attribute, store)
        return store


def verify_peer(config: Any, chain: Sequence[bytes], server_name: str | None, usage: str) -> None:
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
    from tlskit import pki

    trust = _trust_store(config, usage)
    try:
        pki.verify_chain(
            chain[0],
            list(chain[1:]),
            trust,
            server_name=server_name if usage == "server" else None,
            usage=usage,
            at=config.clock(),
            provider=config.resolved_provider,
        )
    except TLSError:
        raise
    except Exception as exc:
        raise TLSError(f"certificate validation failed: {exc}", AlertDescription.bad_certificate) from exc
