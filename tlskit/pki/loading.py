"""Loading certificates, CRLs and private keys from files and bytes.

PEM is parsed here (not by cryptography's bundle loader) so that comments, blank lines
and other PEM blocks (a key next to the chain, OpenSSL's "TRUSTED CERTIFICATE") are
tolerated and so that every failure can name the file and the block number.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Iterable, Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.errors import KeyLoadError
from tlskit.pki.errors import InvalidCRL, MalformedCertificate

PathLike = Union[str, "os.PathLike[str]"]
CertificateSource = Union[PathLike, bytes, bytearray, memoryview]
CertificateLike = Union[x509.Certificate, bytes, bytearray, memoryview, str]

_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n")
_CERTIFICATE_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE"}
_CRL_LABELS = {b"X509 CRL"}
# RFC 7468 allows whitespace in the base64 body; headers (Proc-Type ...) are not used for certs.
_BASE64_BODY = re.compile(rb"^[A-Za-z0-9+/=\s]*$")


def _looks_like_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def _pem_bodies(data: bytes, labels: set[bytes]) -> Iterable[tuple[int, bytes]]:
    """(block number, body) of each complete PEM block whose label is in ``labels``.

    Linear in ``len(data)``: a regex with a lazy body and a back-reference
    (``BEGIN (L)...(.*?)...END \\1``) rescans to the end of the input for every BEGIN
    line without its END, so a few hundred kilobytes of BEGIN lines took minutes.
    Here the next END of each wanted label is searched once and reused until passed.
    """
    next_end: dict[bytes, int] = {}  # label -> position of its next END line (-1: none left)
    position = number = 0
    while True:
        begin = _PEM_BEGIN.search(data, position)
        if begin is None:
            return
        number += 1
        label = begin.group(1)
        position = begin.end()
        if label not in labels:
            continue  # its base64 body holds no BEGIN line: scanning on skips it
        marker = b"-----END " + label + b"-----"
        end = next_end.get(label)
        if end is None or 0 <= end < position:
            end = data.find(marker, position)
            next_end[label] = end
        if end < 0:
            continue  # no END for this label anywhere after here
        yield number, data[position:end]
        position = end + len(marker)


def pem_blocks(data: bytes, labels: set[bytes], origin: str) -> list[bytes]:
    """DER payloads of the PEM blocks in ``data`` whose label is in ``labels``."""
    out = []
    for number, body in _pem_bodies(data, labels):
        if not _BASE64_BODY.match(body):
            raise MalformedCertificate(f"{origin}: PEM block {number} has characters outside base64")
        try:
            out.append(base64.b64decode(b"".join(body.split()), validate=True))
        except (binascii.Error, ValueError):
            raise MalformedCertificate(f"{origin}: PEM block {number} is not valid base64") from None
    return out


def certificate_from_der(data: bytes, origin: str = "input") -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(bytes(data))
    except Exception as exc:  # cryptography raises ValueError (and friends) for bad DER
        raise MalformedCertificate(f"{origin}: not a DER X.509 certificate ({exc})") from None


def _certificates_from_bytes(data: bytes, origin: str) -> list[x509.Certificate]:
    # A DER certificate starts with a SEQUENCE tag (0x30) and is never searched for PEM:
    # a peer's DER certificate could carry the PEM text of someone else's certificate
    # inside an extension, and the engine checks CertificateVerify against the DER it
    # received, so pki must validate exactly that certificate.
    if data[:1] == b"\x30":
        return [certificate_from_der(data, origin)]
    if _looks_like_pem(data):
        ders = pem_blocks(data, _CERTIFICATE_LABELS, origin)
        if not ders:
            raise MalformedCertificate(f"{origin}: no CERTIFICATE PEM block found")
        return [certificate_from_der(d, f"{origin} (certificate {i})") for i, d in enumerate(ders, 1)]
    if not data.strip():
        raise MalformedCertificate(f"{origin}: empty input")
    return [certificate_from_der(data, origin)]


def _read_file(path: PathLike, error_type: type) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise error_type(f"{os.fspath(path)}: cannot read file ({exc.strerror or exc})") from None


def load_certificates(source: CertificateSource) -> list[x509.Certificate]:
    """Certificates from a file path, PEM bytes (a bundle, comments allowed) or DER bytes.

    A ``str`` is a path unless it contains a PEM header, in which case it is PEM text.
    Raises :class:`MalformedCertificate` (a ``CertificateError``) naming the source.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _certificates_from_bytes(bytes(source), "certificate bytes")
    if isinstance(source, str) and "-----BEGIN " in source:
        return _certificates_from_bytes(source.encode("ascii", "replace"), "certificate text")
    if isinstance(source, (str, os.PathLike)):
        return _certificates_from_bytes(_read_file(source, MalformedCertificate), os.fspath(source))
    raise TypeError(f"cannot load certificates from {type(source).__name__}")


def coerce_certificate(value: CertificateLike, what: str = "certificate") -> x509.Certificate:
    """One certificate from an x509 object, PEM/DER bytes or PEM text."""
    if isinstance(value, x509.Certificate):
        return value
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        certs = load_certificates(value)
        if len(certs) != 1:
            raise MalformedCertificate(f"{what}: expected one certificate, found {len(certs)}")
        return certs[0]
    raise TypeError(f"{what}: expected a certificate, PEM or DER bytes, got {type(value).__name__}")


def coerce_certificates(values: Iterable[CertificateLike] | bytes | None, what: str) -> list[x509.Certificate]:
    """A list of certificates; bytes (a PEM bundle) are accepted in place of a list."""
    if values is None:
        return []
    if isinstance(values, (bytes, bytearray, memoryview)):
        return load_certificates(values)
    out: list[x509.Certificate] = []
    for value in values:
        if isinstance(value, x509.Certificate):
            out.append(value)
        else:
            out.extend(load_certificates(value))
    return out


CRLSource = Union[x509.CertificateRevocationList, PathLike, bytes, bytearray, memoryview]


def load_crls(values: Iterable[CRLSource] | None) -> list[x509.CertificateRevocationList]:
    """CRLs from x509 objects, PEM/DER bytes (a PEM blob may hold several) or files.

    A ``str`` is a path unless it contains a PEM header (as for certificates); an
    ``os.PathLike`` is a path. Raises :class:`InvalidCRL` naming the problem.
    """
    out: list[x509.CertificateRevocationList] = []
    for value in values or ():
        if isinstance(value, x509.CertificateRevocationList):
            out.append(value)
            continue
        if isinstance(value, str) and "-----BEGIN " in value:
            value = value.encode("ascii", "replace")
        elif isinstance(value, (str, os.PathLike)):
            value = _read_file(value, InvalidCRL)
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"CRL: expected a path, bytes or a CertificateRevocationList, got {type(value).__name__}")
        data = bytes(value)
        try:
            ders = pem_blocks(data, _CRL_LABELS, "CRL") if _looks_like_pem(data) else [data]
        except MalformedCertificate as exc:
            raise InvalidCRL(str(exc)) from None
        if not ders:
            raise InvalidCRL("CRL: no X509 CRL PEM block found")
        for blob in ders:
            try:
                out.append(x509.load_der_x509_crl(blob))
            except Exception as exc:
                raise InvalidCRL(f"CRL: not a DER certificate revocation list ({exc})") from None
    return out


def load_private_key_bytes(path: PathLike, password: bytes | str | None = None) -> bytes:
    """Read a private key file, check that it parses, and return its bytes.

    Accepts PEM or DER, PKCS#8 or traditional (PKCS#1 / SEC1), encrypted with ``password``.
    The bytes go to ``provider.load_private_key``; parsing here only gives a clear error
    that names the file. Key material is never included in error messages.
    """
    name = os.fspath(path)
    data = _read_file(path, KeyLoadError)
    pw = password.encode("utf-8") if isinstance(password, str) else password
    try:
        if _looks_like_pem(data):
            serialization.load_pem_private_key(data, pw)
        else:
            serialization.load_der_private_key(data, pw)
    except TypeError as exc:
        # cryptography: "Password was not given but private key is encrypted" or the reverse.
        msg = str(exc)
        if "not given" in msg or "encrypted" in msg and pw is None:
            raise KeyLoadError(f"{name}: the private key is encrypted and no password was given") from None
        raise KeyLoadError(f"{name}: a password was given but the private key is not encrypted") from None
    except ValueError as exc:
        if pw is not None and ("decrypt" in str(exc).lower() or "password" in str(exc).lower()):
            raise KeyLoadError(f"{name}: wrong password for the encrypted private key") from None
        raise KeyLoadError(f"{name}: not a supported private key (PEM/DER, PKCS#8 or traditional)") from None
    except Exception as exc:  # cryptography's UnsupportedAlgorithm and other library errors
        raise KeyLoadError(f"{name}: cannot load private key ({type(exc).__name__})") from None
    return data
