"""``CertificateAuthority.verify``: validation of a certificate against the CA through tlskit.pki."""

from __future__ import annotations

import datetime
import os
import pathlib
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tlskit.ca import files
from tlskit.ca.errors import CAError

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.ca.authority import CertificateAuthority
    from tlskit.pki import VerifiedPath


def _read(source: str | os.PathLike[str] | bytes, what: str) -> bytes:
    if isinstance(source, bytes):
        return source
    return files.read_file(pathlib.Path(source).expanduser(), what)


def load_pem_certificates(
    source: str | os.PathLike[str] | bytes, what: str = "certificate"
) -> list[x509.Certificate]:
    data = _read(source, what)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise CAError(f"{what} is not a readable PEM or DER certificate") from None
    if not certs:
        raise CAError(f"{what} holds no certificate")
    return certs


def load_crl(source: str | os.PathLike[str] | bytes) -> x509.CertificateRevocationList:
    data = _read(source, "CRL")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise CAError("the CRL is not a readable PEM or DER CRL") from None


def usage_of(cert: x509.Certificate) -> str:
    """``server`` unless the certificate is for client authentication only."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return "server"
    if ExtendedKeyUsageOID.SERVER_AUTH not in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku:
        return "client"
    return "server"


def verify_with_ca(
    ca: "CertificateAuthority",
    cert: str | os.PathLike[str] | bytes,
    *,
    host: str | None,
    crl: str | os.PathLike[str] | bytes | None,
    usage: str | None,
    at: datetime.datetime | None,
) -> VerifiedPath:
    from tlskit.pki import TrustStore, verify_chain

    certs = load_pem_certificates(cert)
    leaf, extra = certs[0], certs[1:]
    inter = ca.intermediate_certificate
    intermediates = extra + ([inter] if inter is not None and inter not in extra else [])
    trust = TrustStore([ca.root_certificate])
    crls = [load_crl(crl)] if crl is not None else None
    return verify_chain(
        leaf,
        intermediates,
        trust,
        server_name=host,
        usage=usage or usage_of(leaf),
        at=at,
        crls=crls,
    )
