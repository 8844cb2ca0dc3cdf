"""tlskit: TLS 1.3 with pluggable crypto providers and a bundled certificate authority."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlskit import events
from tlskit.engine import ClientConfig, ClientConnection, Negotiated, ServerConfig, ServerConnection
from tlskit.errors import (
    AlertDescription,
    AlertLevel,
    AlertReceivedError,
    BadRecordMac,
    BadSignatureError,
    CertificateRequired,
    ConfigurationError,
    ConnectionClosedError,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    InternalError,
    KeyLoadError,
    MissingExtension,
    NoApplicationProtocol,
    ProtocolVersionError,
    ProviderError,
    RecordOverflow,
    TLSError,
    UnexpectedMessage,
    UnsupportedAlgorithm,
    UnsupportedExtension,
)
from tlskit.engine.session import Session, SessionCache
from tlskit.engine.tickets import InMemoryTicketStore, StatelessTicketStore, TicketKeyRing, TicketStore
from tlskit.events import (
    AlertReceived,
    ApplicationData,
    CertificateRequested,
    ClientCertificateReceived,
    ConnectionClosed,
    EarlyDataAccepted,
    EarlyDataReceived,
    EarlyDataRejected,
    HandshakeComplete,
    KeyUpdated,
    NewSessionTicket,
)
from tlskit.providers.registry import UnknownProvider

__version__ = "0.1.0"

# Everything the public API can raise is importable from here (one error vocabulary).
# The certificate, CA and socket errors live with their layer and load on first use,
# like connect/serve below, so that `import tlskit` stays light for sans-IO users.
_LAZY_ERRORS = {
    "tlskit.pki.errors": (
        "BadCertificateSignature",
        "CertificateError",
        "Expired",
        "ForbiddenSignatureAlgorithm",
        "InvalidCRL",
        "MalformedCertificate",
        "NameConstraintViolation",
        "NameMismatch",
        "NotAuthorizedForUsage",
        "NotYetValid",
        "PathBuildingExhausted",
        "PathLenExceeded",
        "Revoked",
        "UnknownIssuer",
        "UnsupportedCertificateAlgorithm",
        "UnsupportedCriticalExtension",
    ),
    "tlskit.ca.errors": ("CAError", "CAWarning"),
    "tlskit.io.errors": ("HandshakeEOFError", "TLSConnectionError", "TLSTimeoutError", "TruncatedConnectionError"),
}
_LAZY_MODULE = {name: module for module, names in _LAZY_ERRORS.items() for name in names}

if TYPE_CHECKING:  # what __getattr__ returns, for type checkers and IDEs
    from tlskit.ca.errors import CAError, CAWarning
    from tlskit.io.errors import HandshakeEOFError, TLSConnectionError, TLSTimeoutError, TruncatedConnectionError
    from tlskit.pki.errors import (
        BadCertificateSignature,
        CertificateError,
        Expired,
        ForbiddenSignatureAlgorithm,
        InvalidCRL,
        MalformedCertificate,
        NameConstraintViolation,
        NameMismatch,
        NotAuthorizedForUsage,
        NotYetValid,
        PathBuildingExhausted,
        PathLenExceeded,
        Revoked,
        UnknownIssuer,
        UnsupportedCertificateAlgorithm,
        UnsupportedCriticalExtension,
    )


def __getattr__(name: str) -> object:
    import importlib

    module = _LAZY_MODULE.get(name)
    if module is not None:
        return getattr(importlib.import_module(module), name)
    # connect/serve and tlskit.aio load sockets and asyncio on first use only.
    if name in ("connect", "serve"):
        from tlskit import io

        return getattr(io, name)
    if name == "aio":
        return importlib.import_module("tlskit.aio")
    raise AttributeError(f"module 'tlskit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AlertDescription",
    "AlertLevel",
    "AlertReceived",
    "AlertReceivedError",
    "ApplicationData",
    "BadRecordMac",
    "BadSignatureError",
    "CertificateRequired",
    "ClientConfig",
    "ClientConnection",
    "ConfigurationError",
    "ConnectionClosed",
    "ConnectionClosedError",
    "DecodeError",
    "DecryptError",
    "HandshakeComplete",
    "HandshakeFailure",
    "IllegalParameter",
    "InternalError",
    "KeyLoadError",
    "KeyUpdated",
    "MissingExtension",
    "Negotiated",
    "NewSessionTicket",
    "NoApplicationProtocol",
    "ProtocolVersionError",
    "ProviderError",
    "RecordOverflow",
    "ServerConfig",
    "ServerConnection",
    "Session",
    "SessionCache",
    "StatelessTicketStore",
    "TicketKeyRing",
    "TicketStore",
    "InMemoryTicketStore",
    "CertificateRequested",
    "ClientCertificateReceived",
    "EarlyDataAccepted",
    "EarlyDataReceived",
    "EarlyDataRejected",
    "TLSError",
    "UnexpectedMessage",
    "UnknownProvider",
    "UnsupportedAlgorithm",
    "UnsupportedExtension",
    "aio",
    "connect",
    "events",
    "serve",
    "__version__",
    *_LAZY_MODULE,
]
