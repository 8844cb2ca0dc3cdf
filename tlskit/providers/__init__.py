"""Crypto providers: the interface, the registry and the backends.

Backends: ``"cryptography"`` (pyca/cryptography, OpenSSL), ``"pycryptodome"``
and ``"pynacl"`` (libsodium); each advertises only what its library really
implements (``tlskit providers`` prints the table). Usage::

    from tlskit.providers import get_provider, available_providers, compose

    p = get_provider("pycryptodome")
    group = p.group("X25519MLKEM768")        # UnsupportedAlgorithm names provider + algorithm
    kx = group.start()                       # KEM-shaped: kx.share, kx.complete(server_share)
    mixed = compose(kx="pynacl", aead="pycryptodome", hash="cryptography", signatures="cryptography")
    mixed.name  # "kx=pynacl,aead=pycryptodome,hash=cryptography,sig=cryptography"
    get_provider(mixed.name)                 # composed names work wherever a name does

Peer input errors are :class:`tlskit.errors.IllegalParameter`, AEAD failures
:class:`~tlskit.errors.BadRecordMac`, signature failures
:class:`~tlskit.errors.BadSignatureError`, private-key problems
:class:`~tlskit.errors.KeyLoadError` -- the same in every backend.
"""

from __future__ import annotations

from tlskit.errors import KeyLoadError
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    CipherSuite,
    HashAlgorithm,
    HashObject,
    KeyExchange,
    KeyExchangeGroup,
    PrivateKey,
    Provider,
    SignatureScheme,
)
from tlskit.providers.registry import (
    UnknownProvider,
    available_providers,
    backend_names,
    compose,
    get_provider,
)

__all__ = [
    "AEAD",
    "AEADAlgorithm",
    "CipherSuite",
    "HashAlgorithm",
    "HashObject",
    "KeyExchange",
    "KeyExchangeGroup",
    "KeyLoadError",
    "PrivateKey",
    "Provider",
    "SignatureScheme",
    "UnknownProvider",
    "available_providers",
    "backend_names",
    "compose",
    "get_provider",
]
