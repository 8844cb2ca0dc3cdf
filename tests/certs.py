"""A small factory for ordinary test PKIs: root -> intermediate -> leaf.

Built on pyca/cryptography's x509 builder, independent of tlskit.ca, so that
engine, io and interop tests do not depend on the CA being correct. Keys are
cached per key type within a process because RSA generation is slow.
"""

from __future__ import annotations

import datetime
import ipaddress
import pathlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "ed448", "rsa-2048")

_key_cache: dict[tuple[str, int], object] = {}


def new_key(key_type: str, slot: int = 0):
    """A private key of ``key_type``; ``slot`` picks one of several cached keys."""
    cached = _key_cache.get((key_type, slot))
    if cached is not None:
        return cached
    if key_type == "ecdsa-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "ecdsa-p384":
        key = ec.generate_private_key(ec.SECP384R1())
    elif key_type == "ecdsa-p521":
        key = ec.generate_private_key(ec.SECP521R1())
    elif key_type == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif key_type == "ed448":
        key = ed448.Ed448PrivateKey.generate()
    elif key_type.startswith("rsa-"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    else:
        raise ValueError(f"unknown key type {key_type}")
    _key_cache[(key_type, slot)] = key
    return key


def _hash_for(key) -> hashes.HashAlgorithm | None:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]
    return hashes.SHA256()


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_cert(
    subject: str,
    key,
    issuer_cert: x509.Certificate | None,
    issuer_key,
    *,
    ca: bool,
    path_length: int | None = None,
    sans: tuple[str, ...] = (),
    eku: tuple[x509.ObjectIdentifier, ...] = (),
    days: int = 30,
    not_before: datetime.datetime | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    start = not_before or (now - datetime.timedelta(hours=1))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(s) for s in sans]), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(issuer_key, _hash_for(issuer_key))


@dataclass
class PKI:
    """Files of one test PKI in ``directory``; paths are what configs take."""

    directory: pathlib.Path
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: object
    files: dict[str, pathlib.Path] = field(default_factory=dict)

    @property
    def ca_file(self) -> pathlib.Path:
        """The root certificate (trust anchor) as PEM."""
        return self.files["ca"]

    @property
    def chain_file(self) -> pathlib.Path:
        """Leaf followed by the intermediate, as a server sends it."""
        return self.files["chain"]

    @property
    def key_file(self) -> pathlib.Path:
        return self.files["key"]

    @property
    def leaf_file(self) -> pathlib.Path:
        return self.files["leaf"]

    @property
    def intermediate_file(self) -> pathlib.Path:
        return self.files["intermediate"]


def make_pki(
    directory: pathlib.Path,
    *,
    leaf_key_type: str = "ecdsa-p256",
    ca_key_type: str = "ecdsa-p256",
    sans: tuple[str, ...] = ("localhost", "127.0.0.1", "::1"),
    subject: str = "localhost",
    usage: str = "both",
    name: str = "pki",
) -> PKI:
    """Write ``<name>-ca.pem``, ``<name>-chain.pem``, ``<name>-key.pem`` (and leaf/intermediate) into directory.

    ``usage`` is "server", "client" or "both" (the leaf's extended key usage).
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    root_key = new_key(ca_key_type, slot=1)
    inter_key = new_key(ca_key_type, slot=2)
    leaf_key = new_key(leaf_key_type, slot=0)
    root = make_cert(f"{name} Test Root", root_key, None, root_key, ca=True, path_length=1, days=365)
    inter = make_cert(f"{name} Test Intermediate", inter_key, root, root_key, ca=True, path_length=0, days=365)
    eku = {
        "server": (ExtendedKeyUsageOID.SERVER_AUTH,),
        "client": (ExtendedKeyUsageOID.CLIENT_AUTH,),
        "both": (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
    }[usage]
    leaf = make_cert(subject, leaf_key, inter, inter_key, ca=False, sans=sans, eku=eku)
    files = {
        "ca": directory / f"{name}-ca.pem",
        "intermediate": directory / f"{name}-intermediate.pem",
        "leaf": directory / f"{name}-leaf.pem",
        "chain": directory / f"{name}-chain.pem",
        "key": directory / f"{name}-key.pem",
    }
    files["ca"].write_bytes(cert_pem(root))
    files["intermediate"].write_bytes(cert_pem(inter))
    files["leaf"].write_bytes(cert_pem(leaf))
    files["chain"].write_bytes(cert_pem(leaf) + cert_pem(inter))
    files["key"].write_bytes(key_pem(leaf_key))
    files["key"].chmod(0o600)
    return PKI(directory, root, inter, leaf, leaf_key, files)
