"""Certificate revocation lists signed by the issuing CA."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca.errors import CAError
from tlskit.ca.index import IndexRecord
from tlskit.ca.keys import PrivateKey, signature_hash

_REASONS = {flag.name.replace("_", "").lower(): flag for flag in x509.ReasonFlags}
REASON_NAMES: tuple[str, ...] = tuple(
    flag.name for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl
)
#: The names the command line shows (``key-compromise``); every spelling is accepted.
REASON_CHOICES: tuple[str, ...] = tuple(name.replace("_", "-") for name in REASON_NAMES)


def reason_label(reason: str | None) -> str:
    """An index reason (``key_compromise``) as the command line spells it."""
    return reason.replace("_", "-") if reason else ""


def parse_reason(reason: str | None) -> x509.ReasonFlags | None:
    """``key-compromise``, ``keyCompromise`` and ``key_compromise`` all name the same reason."""
    if reason is None or reason == "":
        return None
    flag = _REASONS.get(reason.replace("-", "").replace("_", "").lower())
    if flag is None or flag is x509.ReasonFlags.remove_from_crl:
        raise CAError(f"unknown revocation reason {reason!r} (choose one of: {', '.join(REASON_CHOICES)})")
    return flag


def build_crl(
    issuer: x509.Certificate,
    signing_key: PrivateKey,
    revoked: Sequence[IndexRecord],
    *,
    number: int,
    days: int,
    now: datetime.datetime,
    extra: Sequence[tuple[int, datetime.datetime, str | None]] = (),
) -> bytes:
    """A PEM CRL by ``issuer`` listing ``revoked`` records and ``extra`` (serial, date,
    reason) entries -- the root's CRL lists the intermediate that way."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),  # type: ignore[arg-type]  # an issuer (CA) key; stubs type any certificate key
            critical=False,
        )
    )
    for record in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(record.serial_number)
            .revocation_date(record.revoked_at or now)
        )
        if record.reason:
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags[record.reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    for serial, when, reason in extra:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason:
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags[reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(signing_key, signature_hash(signing_key))
    return crl.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class IntermediateRevocation:
    """The CA's own intermediate was revoked: the root's CRL lists it (kept in the index's meta table)."""

    serial: int
    at: datetime.datetime
    reason: str | None

    def to_json(self) -> str:
        return json.dumps(
            {"serial": format(self.serial, "x"), "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": self.reason}
        )

    @classmethod
    def from_json(cls, raw: str) -> "IntermediateRevocation":
        try:
            value = json.loads(raw)
            at = datetime.datetime.strptime(value["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
            reason = value.get("reason")
            parse_reason(reason)
            return cls(int(value["serial"], 16), at, reason)
        except (ValueError, KeyError, TypeError, AttributeError, CAError):
            raise CAError("the CA index's record of the intermediate's revocation is damaged") from None

    def describe(self) -> str:
        return f"on {self.at:%Y-%m-%d %H:%M} UTC" + (f", {reason_label(self.reason)}" if self.reason else "")

    def entry(self) -> tuple[int, datetime.datetime, str | None]:
        return self.serial, self.at, self.reason
