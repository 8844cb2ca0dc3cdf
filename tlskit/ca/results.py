"""What issuance and renewal hand back to the caller."""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass

from cryptography import x509

from tlskit.ca.index import IndexRecord, serial_hex
from tlskit.ca.profiles import san_text


@dataclass(frozen=True)
class IssuedCertificate:
    """What ``issue``/``sign_csr``/``renew`` produced. ``chain_path`` holds leaf + intermediates.

    ``key_path`` is None for a certificate signed from a CSR (the requester holds the key).
    """

    name: str
    serial: int
    certificate: x509.Certificate
    key_path: pathlib.Path | None
    cert_path: pathlib.Path | None
    chain_path: pathlib.Path | None

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)

    @property
    def not_after(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc

    @property
    def sans(self) -> list[str]:
        try:
            ext = self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return [san_text(name) for name in ext.value]


@dataclass(frozen=True)
class RenewalResult:
    """One certificate ``renew_due`` looked at: renewed (``issued``) or failed (``error``)."""

    record: IndexRecord
    issued: IssuedCertificate | None
    error: str | None
