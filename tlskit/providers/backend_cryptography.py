"""The pyca/cryptography provider (OpenSSL underneath): the reference backend.

Offers every TLS 1.3 suite, x25519, x448, secp256r1/384r1/521r1,
X25519MLKEM768 and SecP256r1MLKEM768 (ML-KEM-768 from ``cryptography``'s
``mlkem`` module, combined per draft-ietf-tls-ecdhe-mlkem), and the full
signature-scheme set (rsa_pkcs1_* for certificate signatures only).

Choices:
* Hash objects wrap ``hashes.Hash`` (incremental, ``copy()`` forks it);
  ``digest()`` finalizes a copy so the transcript can keep growing.
* HMAC is ``cryptography``'s HMAC and HKDF-Expand its ``HKDFExpand`` (one HMAC when
  a single output block is asked for, as in every TLS 1.3 derivation).
* Randomness is ``os.urandom``, which is what cryptography itself recommends
  (it has no random API of its own).
* ECDH shares must be uncompressed points of the exact length; an all-zero
  X25519/X448 result is refused explicitly as well as by OpenSSL.
* RSA-PSS verification uses salt length == hash length exactly (never AUTO).
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any, Callable

import cryptography
from cryptography import exceptions as cx
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import hashes, hmac as chmac, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, mlkem, padding, rsa
from cryptography.hazmat.primitives.asymmetric import x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tlskit import _der, _oids
from tlskit.errors import (
    BadRecordMac,
    BadSignatureError,
    IllegalParameter,
    InternalError,
    KeyLoadError,
)
from tlskit.providers import _common as c
from tlskit.providers.ffdhe import FFDHE_GROUPS, GENERATOR, FFDHEGroup
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    HashAlgorithm,
    Provider,
    SignatureScheme,
)

NAME = "cryptography"

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}

# ---------------------------------------------------------------------------
# Hashes


class _HashObject:
    __slots__ = ("_ctx",)

    def __init__(self, ctx: hashes.Hash) -> None:
        self._ctx = ctx

    def update(self, data: bytes) -> None:
        self._ctx.update(data)

    def copy(self) -> "_HashObject":
        return _HashObject(self._ctx.copy())

    def digest(self) -> bytes:
        return self._ctx.copy().finalize()


class CryptographyHash(HashAlgorithm):
    def __init__(self, name: str) -> None:
        self.name = name
        self._algorithm = _HASHES[name]()
        self.digest_size = self._algorithm.digest_size

    def new(self, data: bytes = b"") -> _HashObject:
        ctx = hashes.Hash(self._algorithm)
        if data:
            ctx.update(data)
        return _HashObject(ctx)

    def digest(self, data: bytes) -> bytes:
        ctx = hashes.Hash(self._algorithm)
        ctx.update(data)
        return ctx.finalize()

    def hmac(self, key: bytes, data: bytes) -> bytes:
        mac = chmac.HMAC(key, self._algorithm)
        mac.update(data)
        return mac.finalize()

    def hkdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        if length > 255 * self.digest_size:
            raise ValueError("HKDF-Expand output too long")
        if 0 < length <= self.digest_size:
            # RFC 5869 2.3 with N = 1: the output is T(1) = HMAC(PRK, info | 0x01), cut to
            # length. Every TLS 1.3 key, IV and secret is this case; one HMAC is cheaper
            # than setting up an HKDFExpand object.
            mac = chmac.HMAC(prk, self._algorithm)
            mac.update(info + b"\x01")
            return mac.finalize()[:length]
        return HKDFExpand(self._algorithm, length, info).derive(prk)

    def keyed_hmac(self, key: bytes) -> Callable[[bytes], bytes]:
        # The HMAC keyed once and copied per message: a copy costs about half of keying a
        # new HMAC, and the key schedules MAC several messages under each secret.
        keyed = chmac.HMAC(key, self._algorithm)

        def mac(data: bytes) -> bytes:
            h = keyed.copy()
            h.update(data)
            return h.finalize()

        return mac


# ---------------------------------------------------------------------------
# AEADs


class _CryptographyAEAD(AEAD):
    __slots__ = ("_encrypt", "_decrypt", "_name")

    def __init__(self, name: str, impl: Any) -> None:
        self._name = name
        # Bound methods hoisted once per key: seal/open run per record.
        self._encrypt = impl.encrypt
        self._decrypt = impl.decrypt

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        if len(nonce) != 12:  # AESGCM would accept 8..128 bytes; TLS uses 12
            raise InternalError(f"{self._name} nonce must be 12 bytes")
        return self._encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(nonce) != 12:
            raise BadRecordMac(f"{self._name} authentication failed")
        try:
            return self._decrypt(nonce, ciphertext, aad)
        except (cx.InvalidTag, ValueError):
            raise BadRecordMac(f"{self._name} authentication failed") from None


def _aead(name: str, key_length: int, cls: Any) -> AEADAlgorithm:
    return c.KeyedAEADAlgorithm(name, key_length, lambda key: _CryptographyAEAD(name, cls(key)))


# ---------------------------------------------------------------------------
# Key exchange


class _XDHGroup(c.DHGroup):
    def __init__(self, name: str, private_cls: Any, public_cls: Any, length: int) -> None:
        self.share_length = length
        super().__init__(name)
        self._private_cls = private_cls
        self._public_cls = public_cls

    def _generate(self) -> tuple[Any, bytes]:
        key = self._private_cls.generate()
        return key, key.public_key().public_bytes_raw()

    def _load_private(self, raw: bytes) -> Any:
        return self._private_cls.from_private_bytes(raw)

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        try:
            secret = private.exchange(self._public_cls.from_public_bytes(peer_share))
        except ValueError:  # OpenSSL refuses all-zero results itself
            raise IllegalParameter(f"{self.name} key share rejected (low-order point)") from None
        return c.check_nonzero_secret(self.name, secret)


class _ECDHGroup(c.ECDHGroup):
    def __init__(self, name: str, curve: ec.EllipticCurve, coord_len: int) -> None:
        super().__init__(name, coord_len)
        self._curve = curve

    def _generate(self) -> tuple[Any, bytes]:
        key = ec.generate_private_key(self._curve)
        share = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return key, share

    def _load_private(self, raw: bytes) -> Any:
        return ec.derive_private_key(int.from_bytes(raw, "big"), self._curve)

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self._curve, peer_share)
            return private.exchange(ec.ECDH(), peer)
        except ValueError:
            raise IllegalParameter(f"{self.name} key share is not a valid curve point") from None


# cryptography deprecates finite-field DH (FFDH) in general; RFC 7919 groups in TLS 1.3
# are what tlskit uses it for, on purpose. Silence that warning only where it is
# attributed to this module, so the application's own uses still warn.
warnings.filterwarnings(
    "ignore", message="Diffie-Hellman over finite fields", category=CryptographyDeprecationWarning, module=re.escape(__name__)
)


class _FFDHEGroup(FFDHEGroup):
    """RFC 7919 group on OpenSSL's DH (through cryptography's dh module)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._numbers = dh.DHParameterNumbers(self.prime, GENERATOR)
        self._parameters: Any = None  # built at first use: imports stay cheap

    def _params(self) -> Any:
        if self._parameters is None:
            self._parameters = self._numbers.parameters()
        return self._parameters

    def _private(self, exponent: int) -> Any:
        public = dh.DHPublicNumbers(pow(GENERATOR, exponent, self.prime), self._numbers)
        return dh.DHPrivateNumbers(exponent, public).private_key()

    def _generate(self) -> tuple[Any, bytes]:
        key = self._params().generate_private_key()
        return key, self.encode(key.public_key().public_numbers().y)

    def _load_private(self, raw: bytes) -> Any:
        return self._private(int.from_bytes(raw, "big"))

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        try:
            peer = dh.DHPublicNumbers(int.from_bytes(peer_share, "big"), self._numbers).public_key()
            secret = private.exchange(peer)
        except ValueError:
            raise IllegalParameter(f"{self.name} key share rejected") from None
        return self._finish(int.from_bytes(secret, "big"))


class CryptographyMLKEM768(c.MLKEMGroup):
    def _generate(self) -> tuple[Any, bytes]:
        key = mlkem.MLKEM768PrivateKey.generate()
        return key, key.public_key().public_bytes_raw()

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        c.check_share_length("ML-KEM-768", peer_share, self.client_share_length)
        try:
            public = mlkem.MLKEM768PublicKey.from_public_bytes(peer_share)
        except ValueError:  # FIPS 203 modulus check failed
            raise IllegalParameter("ML-KEM-768 encapsulation key is invalid") from None
        secret, ciphertext = public.encapsulate()
        return ciphertext, secret

    def complete(self, state: Any, peer_share: bytes) -> bytes:
        c.check_share_length("ML-KEM-768", peer_share, self.server_share_length)
        try:
            return state.decapsulate(peer_share)
        except ValueError:
            raise IllegalParameter("ML-KEM-768 ciphertext is invalid") from None

    def state_from_seed(self, seed: bytes) -> Any:
        c.check_share_length("ML-KEM-768 seed", seed, 64)
        return mlkem.MLKEM768PrivateKey.from_seed_bytes(seed)

    def encapsulation_key(self, state: Any) -> bytes:
        return state.public_key().public_bytes_raw()


# ---------------------------------------------------------------------------
# Signatures


def _load_public(spki: _der.SubjectPublicKeyInfo, der: bytes) -> Any:
    return serialization.load_der_public_key(der)


_PUBLIC_KEYS = c.PublicKeyCache(_load_public, (ValueError, TypeError, cx.UnsupportedAlgorithm))


def _pss(hash_name: str) -> padding.PSS:
    algorithm = _HASHES[hash_name]()
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)


class CryptographySignatureScheme(SignatureScheme):
    def __init__(self, name: str) -> None:
        self.info = c.SCHEME_INFO[name]
        self.name = name
        self.code = self.info.code
        # Immutable algorithm objects, made once per scheme rather than per signature.
        self._ecdsa = ec.ECDSA(_HASHES[self.info.hash_name]()) if self.info.kind == "ecdsa" else None

    def verify(
        self, public_key: bytes, message: bytes, signature: bytes, *, strict_curve: bool = True
    ) -> None:
        info = self.info
        spki, key = _PUBLIC_KEYS.get(self.name, public_key)
        c.check_scheme_key(info, spki, strict_curve=strict_curve)
        try:
            if info.kind == "ecdsa":
                key.verify(signature, message, self._ecdsa)
            elif info.kind in ("rsa_pss_rsae", "rsa_pss_pss", "rsa_pkcs1"):
                pad = padding.PKCS1v15() if info.kind == "rsa_pkcs1" else _pss(info.hash_name)
                key.verify(signature, message, pad, _HASHES[info.hash_name]())
            else:  # EdDSA
                key.verify(signature, message)
        except (cx.InvalidSignature, ValueError, TypeError):
            raise BadSignatureError(f"{self.name} signature did not verify") from None


class CryptographyPrivateKey(c.BackendPrivateKey):
    provider_name = NAME

    def _sign(self, info: c.SchemeInfo, message: bytes) -> bytes:
        if info.kind == "ecdsa":
            return self._key.sign(message, ec.ECDSA(_HASHES[info.hash_name]()))
        if info.kind == "rsa_pkcs1":  # TLS 1.2 only (legacy_schemes)
            return self._key.sign(message, padding.PKCS1v15(), _HASHES[info.hash_name]())
        if info.kind in ("rsa_pss_rsae", "rsa_pss_pss"):
            return self._key.sign(message, _pss(info.hash_name), _HASHES[info.hash_name]())
        return self._key.sign(message)


def load_private_key(data: bytes, password: bytes | None = None) -> CryptographyPrivateKey:
    der, label = c.pem_to_der(data)
    c.check_password_use(data, password)
    try:
        if label is not None:
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError as exc:  # password missing, or given for an unencrypted key
        raise KeyLoadError(f"cannot load private key: {exc}") from None
    except (ValueError, cx.UnsupportedAlgorithm, cx.InternalError):
        # InternalError: OpenSSL refusing the key material itself, e.g. an X448 OID
        # around a 32-byte key ("key setup failed")
        raise KeyLoadError("cannot load private key (bad encoding or wrong password)") from None
    public = key.public_key()
    if isinstance(key, rsa.RSAPrivateKey) and c.pkcs8_algorithm(der) == _oids.RSASSA_PSS:
        pkcs1 = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        spki = c.rsassa_pss_spki(pkcs1, c.pkcs8_algorithm_identifier(der))
    else:
        spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return CryptographyPrivateKey(key, spki)


# ---------------------------------------------------------------------------


def _openssl_version() -> str:
    """The OpenSSL linked into cryptography's wheel ("4.0.3"), not the system one."""
    from cryptography.hazmat.backends.openssl import backend

    text = backend.openssl_version_text()  # "OpenSSL 4.0.3 29 Sep 2026"
    parts = text.split()
    return parts[1] if len(parts) > 1 else text


def build() -> Provider:
    sha256, sha384 = CryptographyHash("sha256"), CryptographyHash("sha384")
    aes128 = _aead("AES-128-GCM", 16, AESGCM)
    aes256 = _aead("AES-256-GCM", 32, AESGCM)
    chacha = _aead("ChaCha20-Poly1305", 32, ChaCha20Poly1305)
    aeads = {a.name: a for a in (aes128, aes256, chacha)}
    hashes = {"sha256": sha256, "sha384": sha384}
    x25519_group = _XDHGroup("x25519", x25519.X25519PrivateKey, x25519.X25519PublicKey, 32)
    p256 = _ECDHGroup("secp256r1", ec.SECP256R1(), 32)
    kem = CryptographyMLKEM768()
    # Classic groups first: peers without ML-KEM (OpenSSL 3.0) are the common case;
    # configs can put the hybrids first.
    groups = {
        "x25519": x25519_group,
        "secp256r1": p256,
        "x448": _XDHGroup("x448", x448.X448PrivateKey, x448.X448PublicKey, 56),
        "secp384r1": _ECDHGroup("secp384r1", ec.SECP384R1(), 48),
        "secp521r1": _ECDHGroup("secp521r1", ec.SECP521R1(), 66),
        "X25519MLKEM768": c.HybridGroup("X25519MLKEM768", kem, x25519_group),
        "SecP256r1MLKEM768": c.HybridGroup("SecP256r1MLKEM768", p256, kem),
        # RFC 7919 groups last: offered after the elliptic-curve ones, never a default share
        **{name: _FFDHEGroup(name) for name in FFDHE_GROUPS},
    }
    schemes = {name: CryptographySignatureScheme(name) for name in c.FULL_SCHEME_ORDER}
    return Provider(
        name=NAME,
        cipher_suites=c.make_suites(aeads, hashes),
        groups=groups,
        signature_schemes=schemes,
        key_loader=load_private_key,
        random_source=os.urandom,
        versions={"cryptography": cryptography.__version__, "openssl": _openssl_version()},
        aead_algorithms=aeads,
        hash_algorithms=hashes,
    )
