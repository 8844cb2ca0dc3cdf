"""Builders for test PKIs that exercise every tlskit.pki rule.

Unlike tests/certs.py (ordinary root -> intermediate -> leaf files), this factory lets a
test switch each extension on or off, make it critical or not, choose validity windows,
serials, keys and signature hashes, so that a test can produce exactly the defect it
checks. Keys are cached per (type, slot): RSA generation is slow.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from typing import Any, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
SERVER = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.1")

_keys: dict[tuple[str, int], Any] = {}


def key(kind: str = "p256", slot: int = 0) -> Any:
    """A cached private key: p256, p384, p521, p192, ed25519, ed448, rsa2048, rsa1024, rsa3072."""
    cached = _keys.get((kind, slot))
    if cached is None:
        if kind.startswith("p"):
            curve = {"p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1, "p192": ec.SECP192R1}[kind]
            cached = ec.generate_private_key(curve())
        elif kind == "ed25519":
            cached = ed25519.Ed25519PrivateKey.generate()
        elif kind == "ed448":
            cached = ed448.Ed448PrivateKey.generate()
        elif kind.startswith("rsa"):
            cached = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
        else:
            raise ValueError(kind)
        _keys[(kind, slot)] = cached
    return cached


def name(common_name: str | None, **extra: str) -> x509.Name:
    attrs = []
    if "O" in extra:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, extra["O"]))
    if common_name is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if "email" in extra:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, extra["email"]))
    return x509.Name(attrs)


def general_name(value: str | x509.GeneralName) -> x509.GeneralName:
    """'example.com' -> DNSName, '10.0.0.1'/'::1' -> IPAddress, 'a@b' -> RFC822Name."""
    if isinstance(value, x509.GeneralName):
        return value
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        pass
    if "@" in value:
        return x509.RFC822Name(value)
    return x509.DNSName(value)


def subtree(value: str | x509.GeneralName) -> x509.GeneralName:
    """'example.com' -> DNSName, '10.0.0.0/8' -> IPAddress network, 'a@b'/'@b' -> RFC822Name."""
    if isinstance(value, x509.GeneralName):
        return value
    if "/" in value:
        return x509.IPAddress(ipaddress.ip_network(value))
    if value.startswith("@"):
        return x509.RFC822Name(value[1:])
    if "@" in value:
        return x509.RFC822Name(value)
    return x509.DNSName(value)


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def pem(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.cert.public_bytes(Encoding.PEM)

    @property
    def der(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.cert.public_bytes(Encoding.DER)


def _hash_for(private_key: Any, override: hashes.HashAlgorithm | None) -> hashes.HashAlgorithm | None:
    if isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if override is not None:
        return override
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}.get(private_key.curve.key_size, hashes.SHA256())
    return hashes.SHA256()


_DEFAULT = object()


def issue(
    subject: str | x509.Name | None,
    issuer: Issued | None = None,
    *,
    key_kind: str = "p256",
    slot: int | None = None,
    private_key: Any = None,
    ca: bool = False,
    path_length: int | None = None,
    bc: Any = _DEFAULT,  # None: omit basicConstraints; or an x509.BasicConstraints
    bc_critical: bool = True,
    sans: Iterable[str | x509.GeneralName] | None = _DEFAULT,  # type: ignore[assignment]
    san_critical: bool = False,
    eku: Iterable[x509.ObjectIdentifier] | None = None,
    eku_critical: bool = False,
    key_usage: dict[str, bool] | None | Any = _DEFAULT,
    permitted: Iterable[str | x509.GeneralName] | None = None,
    excluded: Iterable[str | x509.GeneralName] | None = None,
    nc_critical: bool = True,
    ski: bool = True,
    aki: bool = True,
    extra: Iterable[tuple[x509.ExtensionType, bool]] = (),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    serial: int | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    rsa_padding: Any = None,
    issuer_name: x509.Name | None = None,
) -> Issued:
    """One certificate. ``issuer=None`` makes it self-signed. Defaults give a valid CA or leaf
    (leaf: SAN ``[subject]`` when subject looks like a host, KU digitalSignature)."""
    if private_key is None:
        private_key = key(key_kind, slot if slot is not None else (abs(hash(str(subject))) % 50) + 1)
    subject_name = subject if isinstance(subject, x509.Name) else name(subject)
    signer = issuer.key if issuer is not None else private_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name or (issuer.cert.subject if issuer is not None else subject_name))
        .public_key(private_key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=30))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=365))
    )
    if bc is _DEFAULT:
        bc = x509.BasicConstraints(ca=ca, path_length=path_length if ca else None)
    if bc is not None:
        builder = builder.add_extension(bc, critical=bc_critical)
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(private_key.public_key()), critical=False)
    if aki and issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if key_usage is _DEFAULT:
        key_usage = {"key_cert_sign": True, "crl_sign": True} if ca else {"digital_signature": True}
    if key_usage is not None:
        flags = dict(
            digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        )
        flags.update(key_usage)
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
    if sans is _DEFAULT:
        sans = [subject] if isinstance(subject, str) and not ca and " " not in subject else None
    if sans is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([general_name(s) for s in sans]), critical=san_critical
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    if permitted is not None or excluded is not None:
        builder = builder.add_extension(
            x509.NameConstraints(
                permitted_subtrees=[subtree(s) for s in permitted] if permitted is not None else None,
                excluded_subtrees=[subtree(s) for s in excluded] if excluded is not None else None,
            ),
            critical=nc_critical,
        )
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    algorithm = _hash_for(signer, hash_alg)
    if rsa_padding is not None:
        cert = builder.sign(signer, algorithm, rsa_padding=rsa_padding)
    else:
        cert = builder.sign(signer, algorithm)
    return Issued(cert, private_key)


def unknown_extension(critical: bool) -> tuple[x509.ExtensionType, bool]:
    return x509.UnrecognizedExtension(UNKNOWN_OID, b"\x05\x00"), critical


@dataclass
class Chain:
    root: Issued
    intermediates: list[Issued]
    leaf: Issued

    @property
    def path(self) -> list[x509.Certificate]:
        return [self.leaf.cert] + [i.cert for i in reversed(self.intermediates)] + [self.root.cert]

    @property
    def untrusted(self) -> list[x509.Certificate]:
        return [i.cert for i in reversed(self.intermediates)]


def chain(
    depth: int = 1,
    *,
    leaf_name: "str | x509.Name" = "example.com",
    key_kind: str = "p256",
    root_kwargs: dict | None = None,
    intermediate_kwargs: dict | None = None,
    leaf_kwargs: dict | None = None,
    tag: str = "",
) -> Chain:
    """root -> ``depth`` intermediates -> leaf, all valid at NOW unless kwargs say otherwise."""
    root = issue(f"Test Root{tag}", None, ca=True, key_kind=key_kind, slot=1, **(root_kwargs or {}))
    parent = root
    intermediates = []
    for level in range(depth):
        parent = issue(
            f"Test Intermediate {level}{tag}", parent, ca=True, key_kind=key_kind, slot=2 + level, **(intermediate_kwargs or {})
        )
        intermediates.append(parent)
    leaf_args = {"eku": [SERVER, CLIENT]}
    leaf_args.update(leaf_kwargs or {})
    leaf = issue(leaf_name, parent, key_kind=leaf_args.pop("key_kind", key_kind), slot=20, **leaf_args)
    return Chain(root, intermediates, leaf)


PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def make_crl(issuer: Issued, serials=(), *, number: int | None = 1, number_critical=False, signer=None,
             aki: bool = True, extra=()) -> x509.CertificateRevocationList:
    """A CRL from ``issuer`` revoking ``serials`` (shared by the CRL and cache tests)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW - datetime.timedelta(days=1))
        .next_update(NOW + datetime.timedelta(days=1))
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=number_critical)
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    for ext, critical in extra:
        builder = builder.add_extension(ext, critical=critical)
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - datetime.timedelta(days=1)).build()
        )
    return builder.sign((signer or issuer).key, hashes.SHA256())
