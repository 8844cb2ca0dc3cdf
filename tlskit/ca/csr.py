"""Certificate signing requests: parsed, self-signature checked, reduced to what the CA accepts."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from tlskit.ca.errors import CAError
from tlskit.ca.keys import PublicKey, supported_public_key
from tlskit.ca.profiles import check_san_count, default_sans, parse_san, parse_sans, san_text, unique_sans


@dataclass(frozen=True)
class CSRRequest:
    """The parts of a CSR the CA uses: everything else (extensions, CA=true, key usage) is ignored."""

    common_name: str | None
    sans: list[x509.GeneralName]
    public_key: PublicKey


def parse_csr(data: bytes | str) -> CSRRequest:
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if data[:1] != b"\x30":
        count = data.count(b"-----BEGIN CERTIFICATE REQUEST-----") + data.count(b"-----BEGIN NEW CERTIFICATE REQUEST-----")
        if count > 1:
            raise CAError(f"the file holds {count} certificate signing requests; give one per file")
    try:
        # DER starts with a SEQUENCE tag and is never searched for PEM text (an extension
        # could carry another request's PEM), as tlskit.pki loads certificates.
        if data[:1] != b"\x30" and b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except (ValueError, x509.InvalidVersion):
        # InvalidVersion (a version other than v1, found by fuzzing: fuzz/corpus/csr/regression-*)
        # is not a ValueError in cryptography
        raise CAError("the CSR is not a readable PEM or DER certificate signing request") from None
    try:
        algorithm = csr.signature_hash_algorithm
    except Exception:  # an algorithm cryptography does not know, or Ed25519 (no separate hash)
        algorithm = None
    if algorithm is not None and algorithm.name in ("sha1", "md5"):
        raise CAError(
            f"the CSR is signed with {algorithm.name.upper()}, which is too weak to accept;"
            " re-create it with SHA-256 (openssl req -sha256)"
        )
    try:
        valid = csr.is_signature_valid
    except Exception:
        valid = False
    if not valid:
        raise CAError("the CSR's self-signature does not verify")
    try:
        parsed_key = csr.public_key()
    except Exception:
        raise CAError("the CSR's public key cannot be parsed") from None
    public_key = supported_public_key(parsed_key)
    try:
        names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else None
    except ValueError:
        raise CAError("the CSR's subject cannot be parsed") from None
    if common_name is not None and not (0 < len(common_name) <= 64 and common_name.isprintable()):
        raise CAError("the CSR's common name must be 1 to 64 printable characters")
    try:
        extension = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        raw_sans = list(extension.value)
    except x509.ExtensionNotFound:
        raw_sans = []
    except ValueError:
        raise CAError("the CSR's extensions cannot be parsed") from None
    check_san_count(len(raw_sans))
    sans: list[x509.GeneralName] = []
    for name in raw_sans:
        if not isinstance(
            name, (x509.DNSName, x509.IPAddress, x509.RFC822Name, x509.UniformResourceIdentifier)
        ):
            raise CAError(f"the CSR asks for an unsupported subject alternative name type {type(name).__name__}")
        # Re-validate through the same parser as --san so a CSR cannot smuggle bad names.
        sans.append(parse_san(san_text(name)))
    return CSRRequest(common_name, unique_sans(sans), public_key)


def certificate_names(request: CSRRequest, sans: list[str]) -> list[x509.GeneralName]:
    """The names a CSR's certificate gets: ``sans`` when given (the CA decides), else the
    CSR's subject alternative names, else its CN when that is a host, IP or email address
    (step-ca and mkcert do the same)."""
    if sans:
        return parse_sans(sans)
    if request.sans:
        return request.sans
    return parse_sans(default_sans(request.common_name or ""))
