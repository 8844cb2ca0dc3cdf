"""Revocation checking against CRLs the caller supplies (``verify_chain(..., crls=[...])``).

Policy (docs/pki.md): only certificates whose issuer has a CRL in the list are checked
("soft" when no CRL is given for an issuer). A CRL counts for an issuer when its issuer
name equals the CA's subject, its authorityKeyIdentifier (if any) names the CA's key and
its signature verifies with the CA's key. Such a CRL must be well formed or the chain is
rejected (fail closed): CRL v2 with a non-critical cRLNumber, the CA's keyUsage (if any)
allows cRLSign, no unknown critical extensions (issuingDistributionPoint and delta CRLs
are not supported and rejected). The CRL's thisUpdate/nextUpdate are not enforced:
a stale CRL still revokes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from tlskit import _der
from tlskit.pki import algorithms
from tlskit.pki.budget import Budget
from tlskit.pki.certinfo import CertInfo
from tlskit.pki.errors import InvalidCRL, PathBuildingExhausted, Revoked

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.providers.base import Provider

_KNOWN_CRL_EXTENSIONS = {ExtensionOID.CRL_NUMBER.dotted_string, ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string}
_KNOWN_ENTRY_EXTENSIONS = {
    CRLEntryExtensionOID.CRL_REASON.dotted_string,
    CRLEntryExtensionOID.INVALIDITY_DATE.dotted_string,
}


@dataclass
class _ParsedCRL:
    crl: x509.CertificateRevocationList
    issuer_der: bytes
    signed: _der.SignedParts | None
    error: str | None
    aki: bytes | None = None
    checked_against: dict[bytes, InvalidCRL | None] = field(default_factory=dict)


class RevocationChecker:
    """Holds the caller's CRLs, indexed by issuer name."""

    def __init__(self, crls: list[x509.CertificateRevocationList]) -> None:
        self._by_issuer: dict[bytes, list[_ParsedCRL]] = {}
        for crl in crls:
            parsed = self._parse(crl)
            self._by_issuer.setdefault(parsed.issuer_der, []).append(parsed)

    def __bool__(self) -> bool:
        return bool(self._by_issuer)

    @staticmethod
    def _parse(crl: x509.CertificateRevocationList) -> _ParsedCRL:
        try:
            issuer_der = crl.issuer.public_bytes()
        except Exception:
            issuer_der = b""
        try:
            signed = _der.parse_signed(crl.public_bytes(Encoding.DER))
            inner = _der.parse_tbs_crl_algorithm(signed.tbs)
        except _der.DERError as exc:
            return _ParsedCRL(crl, issuer_der, None, f"malformed CRL: {exc}")
        if inner.raw != signed.outer_algorithm.raw:
            return _ParsedCRL(crl, issuer_der, signed, "CRL signature algorithm inside the TBS differs from the outer one")
        error = None
        aki = None
        try:
            exts = {e.oid.dotted_string: e for e in crl.extensions}
            number = exts.get(ExtensionOID.CRL_NUMBER.dotted_string)
            if number is None:
                error = "CRL has no cRLNumber extension"
            elif number.critical:
                error = "CRL cRLNumber extension must not be critical"
            for oid, ext in exts.items():
                if oid not in _KNOWN_CRL_EXTENSIONS and ext.critical:
                    error = error or f"CRL has an unsupported critical extension {oid}"
            aki_ext = exts.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string)
            if aki_ext is not None:
                aki = aki_ext.value.key_identifier
        except Exception as exc:
            error = f"CRL extensions do not parse: {exc}"
        return _ParsedCRL(crl, issuer_der, signed, error, aki)

    def check(self, provider: Provider, subject: CertInfo, issuer: CertInfo, budget: Budget) -> None:
        """Raise Revoked if ``issuer``'s CRL lists ``subject``; InvalidCRL for a bad CRL."""
        for parsed in self._by_issuer.get(subject.issuer_der, ()):
            if parsed.issuer_der != issuer.subject_der:
                continue
            if parsed.aki is not None and issuer.subject_key_identifier is not None and parsed.aki != issuer.subject_key_identifier:
                continue  # a CRL from another key of a same-named CA
            if issuer.der not in parsed.checked_against:
                parsed.checked_against[issuer.der] = self._validate(provider, parsed, issuer, budget)
            problem = parsed.checked_against[issuer.der]
            if problem is not None:
                raise problem
            try:
                entry = parsed.crl.get_revoked_certificate_by_serial_number(subject.cert.serial_number)
            except Exception as exc:  # revoked entries are parsed lazily
                raise InvalidCRL(f"CRL entries do not parse: {exc}", issuer.cert, rule="crl") from None
            if entry is not None:
                try:
                    for ext in entry.extensions:
                        if ext.critical and ext.oid.dotted_string not in _KNOWN_ENTRY_EXTENSIONS:
                            raise InvalidCRL(f"CRL entry has an unsupported critical extension {ext.oid.dotted_string}", issuer.cert, rule="crl")
                except InvalidCRL:
                    raise
                except Exception as exc:
                    raise InvalidCRL(f"CRL entry extensions do not parse: {exc}", issuer.cert, rule="crl") from None
                raise Revoked(
                    f"revoked on {entry.revocation_date_utc.isoformat()} by a CRL of {issuer.cert.subject.rfc4514_string()!r}",
                    subject.cert,
                    rule="crl",
                )

    @staticmethod
    def _validate(provider: Provider, parsed: _ParsedCRL, issuer: CertInfo, budget: Budget) -> InvalidCRL | None:
        if parsed.error is not None or parsed.signed is None:
            return InvalidCRL(parsed.error or "malformed CRL", issuer.cert, rule="crl")
        ku = issuer.key_usage
        if ku is not None and not ku.crl_sign:
            return InvalidCRL("the CRL issuer's keyUsage does not allow cRLSign", issuer.cert, rule="rfc5280-4.2.1.3")
        try:
            scheme = algorithms.scheme_for(parsed.signed.outer_algorithm, issuer.spki_algorithm_oid, issuer.cert)
            budget.spend_signature()
            algorithms.verify_signature(provider, scheme, issuer.spki_der, parsed.signed.tbs, parsed.signed.signature, issuer.cert, "CRL")
        except PathBuildingExhausted:  # the work limit stops the whole search
            raise
        except Exception as exc:  # BadCertificateSignature / UnsupportedCertificateAlgorithm, reported as a bad CRL
            return InvalidCRL(f"CRL signature: {exc}", issuer.cert, rule="crl-signature")
        return None
