"""Certificate errors: one class per rule family, each carrying the TLS alert it maps to.

Every message names the certificate (subject + serial) when there is one and the rule
that failed, so that a user reading ``tlskit connect`` output or the CA's ``verify``
knows which link of the chain is at fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tlskit.errors import AlertDescription, BadSignatureError, KeyLoadError, TLSError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from cryptography import x509


def describe_certificate(cert: "x509.Certificate | None") -> str:
    """``subject=CN=foo, serial=0x1f`` (never raises, even for odd certificates)."""
    if cert is None:
        return "<no certificate>"
    try:
        subject = cert.subject.rfc4514_string() or "<empty subject>"
    except Exception:  # a subject cryptography cannot render must not hide the real error
        subject = "<unprintable subject>"
    try:
        serial = f"{cert.serial_number:#x}"
    except Exception:
        serial = "<unparsable serial>"
    return f"subject={subject!r} serial={serial}"


class CertificateError(TLSError):
    """A certificate or chain was rejected; ``certificate`` is the one at fault (if known)."""

    alert = AlertDescription.bad_certificate

    def __init__(
        self,
        message: str,
        certificate: "x509.Certificate | None" = None,
        *,
        rule: str | None = None,
        alert: AlertDescription | None = None,
    ) -> None:
        self.certificate = certificate
        self.rule = rule
        self.reason = message
        text = message
        if certificate is not None:
            text = f"{message} [{describe_certificate(certificate)}]"
        if rule:
            text = f"{text} (rule: {rule})"
        super().__init__(text, alert)


class MalformedCertificate(CertificateError):
    """Bytes that are not a certificate, or a certificate with an unparsable field."""


class Expired(CertificateError):
    alert = AlertDescription.certificate_expired


class NotYetValid(CertificateError):
    # RFC 8446 has no "not yet valid" alert; certificate_expired is what OpenSSL and
    # rustls send for any validity-period failure.
    alert = AlertDescription.certificate_expired


class UnknownIssuer(CertificateError):
    alert = AlertDescription.unknown_ca


class BadCertificateSignature(CertificateError, BadSignatureError):
    """A link's signature does not verify. Also a :class:`tlskit.errors.BadSignatureError`
    (one concept: a signature that fails), but told to the peer as bad_certificate, the
    alert for a certificate it sent (RFC 8446 6.2), not decrypt_error."""

    alert = AlertDescription.bad_certificate


class NameMismatch(CertificateError):
    alert = AlertDescription.bad_certificate


class NotAuthorizedForUsage(CertificateError):
    """keyUsage / extendedKeyUsage / basicConstraints forbid the role the certificate plays."""

    alert = AlertDescription.bad_certificate


class NameConstraintViolation(CertificateError):
    alert = AlertDescription.bad_certificate


class PathLenExceeded(CertificateError):
    """pathLenConstraint of a CA or the caller's ``max_depth`` exceeded."""

    alert = AlertDescription.bad_certificate


class UnsupportedCertificateAlgorithm(CertificateError):
    """A certificate's signature or key algorithm that the policy or the provider does
    not accept. (A provider lacking an algorithm a *configuration* names is the
    configuration error :class:`tlskit.errors.UnsupportedAlgorithm`.)"""

    alert = AlertDescription.unsupported_certificate


class ForbiddenSignatureAlgorithm(UnsupportedCertificateAlgorithm):
    """A signature that uses an MD5 hash: RFC 8446 4.4.2.4, an endpoint receiving a
    certificate it would need to validate with it "MUST abort the handshake with a
    bad_certificate alert" (other algorithms outside the policy, SHA-1 included, stay
    plain UnsupportedCertificateAlgorithm, unsupported_certificate)."""

    alert = AlertDescription.bad_certificate


class UnsupportedCriticalExtension(CertificateError):
    alert = AlertDescription.unsupported_certificate


class Revoked(CertificateError):
    alert = AlertDescription.certificate_revoked


class InvalidCRL(CertificateError):
    """A CRL given to the verifier is unusable (bad signature, bad extensions, unknown issuer)."""

    alert = AlertDescription.bad_certificate


class PathBuildingExhausted(UnknownIssuer):
    """The work budget (signature checks / candidate paths) ran out before a path validated."""


__all__ = [
    "BadCertificateSignature",
    "CertificateError",
    "Expired",
    "ForbiddenSignatureAlgorithm",
    "InvalidCRL",
    "KeyLoadError",
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
    "describe_certificate",
]
