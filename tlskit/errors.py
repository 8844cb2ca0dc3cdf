"""Errors shared by every layer of tlskit.

This module sits below everything else (providers, pki, engine, ca, io, cli) and
imports nothing from tlskit, so any layer can raise these without cyclic imports.
Every failure that can end a TLS connection is a :class:`TLSError` carrying the
alert (RFC 8446 section 6) that the engine sends to the peer.
"""

from __future__ import annotations

import enum


class AlertLevel(enum.IntEnum):
    WARNING = 1
    FATAL = 2


class AlertDescription(enum.IntEnum):
    close_notify = 0
    unexpected_message = 10
    bad_record_mac = 20
    record_overflow = 22
    handshake_failure = 40
    bad_certificate = 42
    unsupported_certificate = 43
    certificate_revoked = 44
    certificate_expired = 45
    certificate_unknown = 46
    illegal_parameter = 47
    unknown_ca = 48
    access_denied = 49
    decode_error = 50
    decrypt_error = 51
    protocol_version = 70
    insufficient_security = 71
    internal_error = 80
    inappropriate_fallback = 86
    user_canceled = 90
    no_renegotiation = 100  # TLS 1.2 only (RFC 5246 7.2.2), always a warning
    missing_extension = 109
    unsupported_extension = 110
    unrecognized_name = 112
    bad_certificate_status_response = 113
    unknown_psk_identity = 115
    certificate_required = 116
    no_application_protocol = 120


class TLSError(Exception):
    """Base of every tlskit failure; ``alert`` is what the peer is told."""

    alert: AlertDescription = AlertDescription.internal_error

    def __init__(self, message: str = "", alert: AlertDescription | None = None) -> None:
        super().__init__(message or self.__class__.__name__)
        if alert is not None:
            self.alert = alert


class DecodeError(TLSError):
    """Bytes from the peer do not parse (truncated, overlong, bad lengths)."""

    alert = AlertDescription.decode_error


class IllegalParameter(TLSError):
    """A field parsed but has a value the protocol forbids (bad key share, bad point...)."""

    alert = AlertDescription.illegal_parameter


class UnexpectedMessage(TLSError):
    alert = AlertDescription.unexpected_message


class BadRecordMac(TLSError):
    """AEAD authentication of a record failed."""

    alert = AlertDescription.bad_record_mac


class RecordOverflow(TLSError):
    alert = AlertDescription.record_overflow


class HandshakeFailure(TLSError):
    """No acceptable set of parameters (suite, group, signature scheme...)."""

    alert = AlertDescription.handshake_failure


class DecryptError(TLSError):
    """A signature or Finished value did not verify."""

    alert = AlertDescription.decrypt_error


class ProtocolVersionError(TLSError):
    alert = AlertDescription.protocol_version


class MissingExtension(TLSError):
    alert = AlertDescription.missing_extension


class UnsupportedExtension(TLSError):
    alert = AlertDescription.unsupported_extension


class NoApplicationProtocol(TLSError):
    alert = AlertDescription.no_application_protocol


class CertificateRequired(TLSError):
    alert = AlertDescription.certificate_required


class InternalError(TLSError):
    alert = AlertDescription.internal_error


class AlertReceivedError(TLSError):
    """The peer sent a fatal alert; ``alert`` is the description it sent."""

    def __init__(self, alert: AlertDescription | int) -> None:
        try:
            alert = AlertDescription(alert)
            name = alert.name
        except ValueError:
            name = f"unknown({int(alert)})"
        super().__init__(f"peer sent fatal alert {name}")
        self.alert = alert  # type: ignore[assignment]  # deliberately wider: an unknown code stays an int


class ConfigurationError(TLSError):
    """A config or connection parameter cannot work: raised when the ClientConfig /
    ServerConfig (or the ClientConnection) is built, before any byte is exchanged, for
    mistakes that would otherwise fail every handshake or reach the peer (a key that does
    not match its certificate, unusable trust anchors, an unwritable key log, a
    server_name that is not a DNS host name). No peer is involved, so no alert is sent."""


class ConnectionClosedError(TLSError):
    """An operation was attempted on a connection that is already closed."""


class ProviderError(ConfigurationError):
    """A configuration asked a provider for something it does not implement (an
    unknown provider, an algorithm the provider lacks): a configuration mistake."""

    alert = AlertDescription.internal_error


class UnsupportedAlgorithm(ProviderError):
    """A provider lacks the named algorithm (group, suite or signature scheme)."""

    def __init__(self, provider: str, kind: str, algorithm: str) -> None:
        super().__init__(f"provider {provider!r} does not implement {kind} {algorithm!r}")
        self.provider = provider
        self.kind = kind
        self.algorithm = algorithm


class BadSignatureError(DecryptError):
    """A signature failed to verify (raised by provider verifiers). A certificate's
    signature that fails during path validation is the certificate error
    :class:`tlskit.pki.BadCertificateSignature`, a subclass of this one."""


class KeyLoadError(ConfigurationError):
    """A private key cannot be read or loaded (unreadable file, bad encoding,
    wrong or missing password, a key type the provider cannot sign with): local
    configuration, never peer input. Raised by ``Provider.load_private_key`` and
    ``tlskit.pki.load_private_key_bytes`` alike."""

    alert = AlertDescription.internal_error
