"""Facts about one certificate, computed once and cached on a wrapper object.

``CertInfo`` turns every parsing surprise into a typed :class:`CertificateError` and keeps
the raw DER fields (issuer, subject, SPKI, algorithm identifiers) used for byte-exact
comparisons during path building.
"""

from __future__ import annotations

import datetime
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from tlskit import _der
from tlskit.pki import names
from tlskit.pki.errors import MalformedCertificate


class CertInfo:
    """A certificate plus lazily computed, cached facts about it."""

    __slots__ = ("cert", "der", "__dict__")

    def __init__(self, cert: x509.Certificate) -> None:
        self.cert = cert
        self.der = cert.public_bytes(Encoding.DER)

    @classmethod
    def of(cls, cert: x509.Certificate) -> "CertInfo":
        return cls(cert)

    def __repr__(self) -> str:
        from tlskit.pki.errors import describe_certificate

        return f"<CertInfo {describe_certificate(self.cert)}>"

    def malformed(self, message: str, rule: str = "well-formed") -> MalformedCertificate:
        return MalformedCertificate(message, self.cert, rule=rule)

    # -- raw DER fields ---------------------------------------------------------------
    @cached_property
    def _signed(self) -> _der.SignedParts:
        try:
            return _der.parse_signed(self.der)
        except _der.DERError as exc:
            raise self.malformed(f"certificate structure: {exc}") from None

    @cached_property
    def _tbs(self) -> _der.TBSFields:
        try:
            return _der.parse_tbs_certificate(self._signed.tbs)
        except _der.DERError as exc:
            raise self.malformed(f"TBSCertificate: {exc}") from None

    @property
    def tbs(self) -> bytes:
        return self._signed.tbs

    @property
    def signature(self) -> bytes:
        return self._signed.signature

    @property
    def signature_algorithm(self) -> _der.AlgorithmIdentifier:
        return self._signed.outer_algorithm

    @property
    def inner_signature_algorithm(self) -> _der.AlgorithmIdentifier:
        return self._tbs.inner_algorithm

    @property
    def subject_der(self) -> bytes:
        return self._tbs.subject

    @property
    def issuer_der(self) -> bytes:
        return self._tbs.issuer

    @property
    def spki_der(self) -> bytes:
        return self._tbs.spki

    @property
    def spki_algorithm_oid(self) -> str:
        return self._tbs.spki_algorithm.oid

    @cached_property
    def self_issued(self) -> bool:
        """Subject and issuer are the same name (RFC 5280 6.1: skipped for pathLen/NC)."""
        return self.subject_der == self.issuer_der

    @cached_property
    def identity(self) -> tuple[bytes, bytes]:
        """(subject, key): two certificates with the same identity are the same logical CA."""
        return (self.subject_der, self.spki_der)

    @cached_property
    def subject_empty(self) -> bool:
        return len(self.cert.subject) == 0

    @cached_property
    def issuer_empty(self) -> bool:
        return len(self.cert.issuer) == 0

    # -- extensions -------------------------------------------------------------------
    @cached_property
    def extensions(self) -> dict[str, x509.Extension[Any]]:
        try:
            exts = self.cert.extensions
        except x509.DuplicateExtension as exc:
            raise self.malformed(f"duplicate extension {exc.oid.dotted_string}", "rfc5280-4.2") from None
        except Exception as exc:  # malformed extension values (ValueError and friends)
            raise self.malformed(f"unparsable extension: {exc}", "rfc5280-4.2") from None
        return {ext.oid.dotted_string: ext for ext in exts}

    def extension(self, oid: x509.ObjectIdentifier) -> x509.Extension[Any] | None:
        return self.extensions.get(oid.dotted_string)

    def value(self, oid: x509.ObjectIdentifier) -> Any:
        ext = self.extension(oid)
        return None if ext is None else ext.value

    @cached_property
    def basic_constraints(self) -> x509.BasicConstraints | None:
        return self.value(ExtensionOID.BASIC_CONSTRAINTS)

    @cached_property
    def is_ca(self) -> bool:
        bc = self.basic_constraints
        return bool(bc is not None and bc.ca)

    @cached_property
    def key_usage(self) -> x509.KeyUsage | None:
        return self.value(ExtensionOID.KEY_USAGE)

    @cached_property
    def extended_key_usage(self) -> list[x509.ObjectIdentifier] | None:
        value = self.value(ExtensionOID.EXTENDED_KEY_USAGE)
        return None if value is None else list(value)

    @cached_property
    def subject_alt_names(self) -> list[x509.GeneralName] | None:
        value = self.value(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        return None if value is None else list(value)

    @cached_property
    def san_index(self) -> names.SANIndex:
        """The SANs prepared for host-name matching (tlskit.pki.names.index_matches)."""
        return names.san_index(self.subject_alt_names)

    @cached_property
    def name_constraints(self) -> x509.NameConstraints | None:
        return self.value(ExtensionOID.NAME_CONSTRAINTS)

    @cached_property
    def subject_key_identifier(self) -> bytes | None:
        value = self.value(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
        return None if value is None else value.digest

    @cached_property
    def authority_key_identifier(self) -> x509.AuthorityKeyIdentifier | None:
        return self.value(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)

    @cached_property
    def authority_key_id(self) -> bytes | None:
        aki = self.authority_key_identifier
        return None if aki is None else aki.key_identifier

    # -- validity ---------------------------------------------------------------------
    @cached_property
    def not_before(self) -> datetime.datetime:
        return self.cert.not_valid_before_utc

    @cached_property
    def not_after(self) -> datetime.datetime:
        return self.cert.not_valid_after_utc
