"""``CertificateAuthority.verify``: validation of a certificate against the CA through tlskit.pki."""

from __future__ import annotations

import contextlib
import datetime
import os
import warnings
import pathlib
from typing import TYPE_CHECKING, Iterator, Sequence

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlskit.ca import files
from tlskit.ca.errors import CAError, CAWarning
from tlskit.ca.index import IndexRecord

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.pki import VerifiedPath


def _read(source: str | os.PathLike[str] | bytes, what: str) -> bytes:
    if isinstance(source, bytes):
        return source
    return files.read_file(pathlib.Path(source).expanduser(), what)


def cryptography_warning_text(message: object) -> str:
    """A cryptography deprecation warning about an input (a negative serial, a malformed
    field) as one line about the certificate, without the note about future releases."""
    text = " ".join(str(message).split())
    text = text.split(" Loading this certificate will")[0].split(" In a future version")[0]
    return f"the certificate breaks RFC 5280: {text[:1].lower()}{text[1:]}"


@contextlib.contextmanager
def _certificate_warnings() -> Iterator[None]:
    """Re-issue cryptography's warnings about parsed input as one CAWarning each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for warning in caught:
        text = str(warning.message)
        if warning.category.__name__ == "CryptographyDeprecationWarning":
            text = cryptography_warning_text(warning.message)
            category: type[Warning] = CAWarning
        else:
            category = warning.category
        if text not in seen:
            seen.add(text)
            warnings.warn(text, category, stacklevel=4)


def load_pem_certificates(
    source: str | os.PathLike[str] | bytes, what: str = "certificate"
) -> list[x509.Certificate]:
    """The certificates of a PEM bundle or one DER certificate, parsed by tlskit.pki:
    DER is never searched for PEM text, so a certificate carrying another one's PEM
    inside an extension is that certificate, not the one it carries."""
    from tlskit.pki.errors import MalformedCertificate
    from tlskit.pki.loading import load_certificates

    data = _read(source, what)
    try:
        with _certificate_warnings():
            certs = load_certificates(data)
            for cert in certs:  # cryptography parses lazily: touch what warns now
                cert.serial_number
        return certs
    except MalformedCertificate as exc:
        raise CAError(f"{what} is not a readable PEM or DER certificate ({exc})") from None


def load_crls(source: str | os.PathLike[str] | bytes) -> list[x509.CertificateRevocationList]:
    """The CRLs of a file (PEM, one or several, or one DER CRL), parsed by tlskit.pki."""
    from tlskit.pki.errors import InvalidCRL
    from tlskit.pki.loading import load_crls as pki_load_crls

    data = _read(source, "CRL")
    try:
        return pki_load_crls([data])
    except InvalidCRL as exc:
        raise CAError(f"the CRL is not a readable PEM or DER CRL ({exc})") from None


def usage_of(cert: x509.Certificate) -> str:
    """``server`` unless the certificate is for client authentication only."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return "server"
    if ExtendedKeyUsageOID.SERVER_AUTH not in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku:
        return "client"
    return "server"


def is_ca_certificate(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def verify_with_ca(
    root: x509.Certificate,
    intermediate: x509.Certificate | None,
    cert: str | os.PathLike[str] | bytes,
    *,
    host: str | None,
    crl: str | os.PathLike[str] | bytes | None,
    usage: str | None,
    at: datetime.datetime | None,
    revoked: Sequence[IndexRecord],
    intermediate_revoked: str | None,
) -> VerifiedPath:
    """Validate with tlskit.pki, then consult the CA's own records: ``revoked`` index
    records and the intermediate's revocation -- the CA knows its revocations without
    being handed a CRL."""
    from tlskit.ca.crl import reason_label

    revocations = {
        r.serial_number: f"{r.revoked_at:%Y-%m-%d %H:%M} UTC" + (f", {reason_label(r.reason)}" if r.reason else "")
        for r in revoked
        if r.revoked_at is not None
    }
    from tlskit.pki import TrustStore, verify_chain
    from tlskit.pki.errors import Revoked

    certs = load_pem_certificates(cert)
    leaf, extra = certs[0], certs[1:]
    if is_ca_certificate(leaf):
        what = "this CA's root" if leaf == root else "this CA's intermediate" if leaf == intermediate else "a CA"
        raise CAError(
            f"the certificate is {what} certificate (CA:TRUE), not an issued one: verify checks"
            " end-entity certificates against the CA"
        )
    intermediates = extra + ([intermediate] if intermediate is not None and intermediate not in extra else [])
    trust = TrustStore([root])
    crls = load_crls(crl) if crl is not None else None
    path = verify_chain(
        leaf,
        intermediates,
        trust,
        server_name=host,
        usage=usage or usage_of(leaf),
        at=at,
        crls=crls,
    )
    if intermediate_revoked is not None and intermediate is not None and intermediate in path.certificates:
        raise Revoked(f"the CA's intermediate was revoked ({intermediate_revoked})", intermediate)
    if leaf.serial_number in revocations and leaf.issuer == (intermediate or root).subject:
        raise Revoked(f"revoked by this CA ({revocations[leaf.serial_number]})", leaf)
    return path
