"""Private keys of the CA and of issued certificates: generation, storage, loading."""

from __future__ import annotations

import pathlib
from typing import Union

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from tlskit.ca.errors import CAError
from tlskit.ca.files import read_file, warn_if_loose

KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096")

PrivateKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, rsa.RSAPublicKey]

_CURVES = {"ecdsa-p256": ec.SECP256R1, "ecdsa-p384": ec.SECP384R1}


def check_key_type(key_type: str) -> str:
    if key_type not in KEY_TYPES:
        raise CAError(f"unknown key type {key_type!r} (choose one of: {', '.join(KEY_TYPES)})")
    return key_type


def generate_key(key_type: str) -> PrivateKey:
    check_key_type(key_type)
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type]())
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split("-")[1]))


def key_type_of(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    """The tlskit key-type name of a key, or CAError if the CA does not support it."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        name = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384"}.get(key.curve.name)
        if name:
            return name
        raise CAError(f"unsupported elliptic curve {key.curve.name} (use P-256 or P-384)")
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048:
            raise CAError(f"RSA key of {key.key_size} bits is too small (2048 at least)")
        if key.key_size > 8192:
            raise CAError(f"RSA key of {key.key_size} bits is too large (8192 at most)")
        return f"rsa-{key.key_size}"
    raise CAError(f"unsupported key algorithm {type(key).__name__}")


def supported_public_key(key: PublicKeyTypes) -> PublicKey:
    """``key`` itself, typed as a key the CA issues for; CAError (from key_type_of) if it is not one."""
    key_type_of(key)
    if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, rsa.RSAPublicKey)):
        raise CAError(f"unsupported key algorithm {type(key).__name__}")  # pragma: no cover - key_type_of refused it
    return key


def same_public_key(a: PublicKeyTypes, b: PublicKeyTypes) -> bool:
    """Whether two public keys are the same key (their SubjectPublicKeyInfo encodings match)."""
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(*spki) == b.public_bytes(*spki)


def signature_hash(signing_key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The digest a CA key signs certificates and CRLs with (None for Ed25519)."""
    if isinstance(signing_key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(signing_key, ec.EllipticCurvePrivateKey) and signing_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def private_key_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM; with a passphrase, cryptography's best available encryption
    (PBES2: AES-256-CBC with a PBKDF2 or scrypt-derived key)."""
    encryption: serialization.KeySerializationEncryption
    if passphrase:
        encryption = serialization.BestAvailableEncryption(passphrase)
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(
    path: pathlib.Path, passphrase: bytes | None = None, *, what: str = "private key"
) -> PrivateKey:
    """Load a PEM key file; warn when its permissions are loose; one-line errors otherwise."""
    data = read_file(path, what)
    warn_if_loose(path)
    encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0] or b"Proc-Type: 4,ENCRYPTED" in data
    if encrypted and not passphrase:
        raise CAError(
            f"{what} {path} is encrypted: set TLSKIT_CA_PASSPHRASE or use --passphrase-file"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise CAError(f"wrong passphrase for {what} {path}") from None
        raise CAError(f"{what} {path} is not a readable PEM private key ({_first_line(exc)})") from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for exotic keys
        raise CAError(f"{what} {path} cannot be loaded: {_first_line(exc)}") from None
    key_type_of(key)  # refuse key algorithms the CA does not sign with
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
        raise CAError(f"unsupported key algorithm {type(key).__name__}")  # pragma: no cover - key_type_of refused it
    return key


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
