"""Crypto providers: the interface, the registry and the backends.

>>> from tlskit.providers import get_provider, available_providers, compose
>>> get_provider("cryptography").group("x25519")
"""

from __future__ import annotations

from tlskit.providers._common import KeyLoadError
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    CipherSuite,
    HashAlgorithm,
    HashObject,
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
