"""The PyNaCl provider: every advertised primitive comes from libsodium.

What libsodium (through PyNaCl 1.6) can honestly give a TLS 1.3 provider, and
what this backend therefore offers:

* suites: TLS_CHACHA20_POLY1305_SHA256 only. libsodium has no SHA-384, so
  TLS_AES_256_GCM_SHA384 cannot be a pynacl suite even though libsodium has
  AES-256-GCM. That AEAD *is* exported (``aead_algorithms``) when the CPU
  supports it (libsodium needs AES-NI+PCLMUL or ARMv8 crypto, queried at run
  time), so ``compose(aead="pynacl", hash="cryptography")`` can still offer
  the suite with libsodium doing the record encryption.
* groups: x25519 (``crypto_scalarmult``). No X448, NIST curves or ML-KEM.
* signatures: ed25519 (``crypto_sign``); keys in unencrypted PKCS#8 only
  (libsodium cannot decrypt PKCS#8 PBES2 containers: no AES-CBC).

Hashing choices:
* SHA-256 is libsodium's ``crypto_hash_sha256``. PyNaCl binds only the
  one-shot function (no init/update/final), so the incremental hash object
  buffers what it is fed and hashes the whole buffer on ``digest()``. TLS
  transcripts are a few KiB and are digested a handful of times per
  handshake, so this costs little and keeps SHA-256 inside libsodium.
* HMAC-SHA-256 (and so HKDF) is the RFC 2104 construction over
  ``crypto_hash_sha256``: libsodium's own ``crypto_auth_hmacsha256`` is not
  bound by PyNaCl. It is checked against the Wycheproof HMAC/HKDF vectors.
  No other crypto library (not even hashlib) is used for advertised primitives.

Peer input: X25519 shares must be 32 bytes; libsodium's refusal of an all-zero
result (``nacl.exceptions.RuntimeError``) and our explicit all-zero check both
end in IllegalParameter. Ed25519 signatures must be exactly 64 bytes before
``crypto_sign_open`` (which takes sig||msg) sees them.
"""

from __future__ import annotations

from typing import Any

import nacl
import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from tlskit import _der, _oids
from tlskit.errors import (
    BadRecordMac,
    BadSignatureError,
    IllegalParameter,
    InternalError,
    KeyLoadError,
)
from tlskit.providers import _common as c
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    HashAlgorithm,
    Provider,
    SignatureScheme,
)

NAME = "pynacl"

# ---------------------------------------------------------------------------
# SHA-256, HMAC-SHA-256

_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class _BufferedSHA256:
    """Incremental SHA-256 over libsodium's one-shot function (see module docstring)."""

    __slots__ = ("_buffer",)
    digest_size = 32

    def __init__(self, data: bytes | bytearray = b"") -> None:
        self._buffer = bytearray(data)

    def update(self, data: bytes) -> None:
        self._buffer += data

    def copy(self) -> "_BufferedSHA256":
        return _BufferedSHA256(self._buffer)

    def digest(self) -> bytes:
        return sodium.crypto_hash_sha256(bytes(self._buffer))


class SodiumSHA256(HashAlgorithm):
    name = "sha256"
    digest_size = 32

    def new(self, data: bytes = b"") -> _BufferedSHA256:
        return _BufferedSHA256(data)

    def digest(self, data: bytes) -> bytes:
        return sodium.crypto_hash_sha256(bytes(data))

    def hmac(self, key: bytes, data: bytes) -> bytes:
        # RFC 2104: H((K ^ opad) || H((K ^ ipad) || data)), K padded to the block size.
        if len(key) > _BLOCK:
            key = sodium.crypto_hash_sha256(bytes(key))
        key = bytes(key).ljust(_BLOCK, b"\x00")
        inner = sodium.crypto_hash_sha256(key.translate(_IPAD) + bytes(data))
        return sodium.crypto_hash_sha256(key.translate(_OPAD) + inner)


# ---------------------------------------------------------------------------
# AEADs


class _SodiumAEAD(AEAD):
    __slots__ = ("_key", "_encrypt", "_decrypt", "_name")

    def __init__(self, name: str, key: bytes, encrypt: Any, decrypt: Any) -> None:
        self._name = name
        self._key = key
        self._encrypt = encrypt
        self._decrypt = decrypt

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        if len(nonce) != 12:  # libsodium raises TypeError (not ValueError) here
            raise InternalError(f"{self._name} nonce must be 12 bytes")
        return self._encrypt(plaintext, aad, nonce, self._key)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(nonce) != 12 or len(ciphertext) < 16:
            raise BadRecordMac(f"{self._name} authentication failed")
        try:
            return self._decrypt(ciphertext, aad, nonce, self._key)
        except nacl.exceptions.CryptoError:
            raise BadRecordMac(f"{self._name} authentication failed") from None


def _aead(name: str, encrypt: Any, decrypt: Any) -> AEADAlgorithm:
    """libsodium's ChaCha20-Poly1305 (IETF) and AES-256-GCM both take 32-byte keys."""
    return c.KeyedAEADAlgorithm(name, 32, lambda key: _SodiumAEAD(name, key, encrypt, decrypt))


def aes256gcm_available() -> bool:
    """libsodium's AES-256-GCM needs hardware AES; importing nacl.bindings ran
    sodium_init(), which the availability probe needs to answer truthfully."""
    from nacl._sodium import lib  # the probe is not in nacl.bindings

    return bool(lib.crypto_aead_aes256gcm_is_available())


# ---------------------------------------------------------------------------
# X25519


class SodiumX25519(c.DHGroup):
    share_length = 32

    def __init__(self) -> None:
        super().__init__("x25519")

    def _generate(self) -> tuple[Any, bytes]:
        private = nacl.utils.random(32)
        return private, sodium.crypto_scalarmult_base(private)

    def _load_private(self, raw: bytes) -> Any:
        if len(raw) != 32:
            raise ValueError("X25519 private key must be 32 bytes")
        return bytes(raw)

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        try:
            secret = sodium.crypto_scalarmult(private, bytes(peer_share))
        except nacl.exceptions.CryptoError:  # libsodium refuses an all-zero result
            raise IllegalParameter("x25519 key share rejected (low-order point)") from None
        return c.check_nonzero_secret(self.name, secret)


# ---------------------------------------------------------------------------
# Ed25519


def _ed25519_spki(public: bytes) -> bytes:
    return _der.encode_spki(_der.algorithm_identifier(_oids.ED25519), public)  # RFC 8410 4


class SodiumEd25519(SignatureScheme):
    name = "ed25519"
    code = c.SCHEME_INFO["ed25519"].code

    def verify(
        self, public_key: bytes, message: bytes, signature: bytes, *, strict_curve: bool = True
    ) -> None:
        try:
            spki = _der.parse_spki(public_key)
        except _der.DERError:
            raise BadSignatureError("ed25519: public key is not a valid SubjectPublicKeyInfo") from None
        if spki.algorithm != _oids.ED25519 or spki.parameters is not None or len(spki.key) != 32:
            raise BadSignatureError("ed25519: not an Ed25519 public key")
        # crypto_sign_open takes sig||msg: pin the signature length first so a
        # short or long signature is rejected as such, not as a shifted message.
        if len(signature) != 64:
            raise BadSignatureError("ed25519: signature must be 64 bytes")
        try:
            sodium.crypto_sign_open(bytes(signature) + bytes(message), spki.key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise BadSignatureError("ed25519 signature did not verify") from None


class SodiumEd25519PrivateKey(c.BackendPrivateKey):
    provider_name = NAME

    def __init__(self, seed: bytes) -> None:
        public, secret = sodium.crypto_sign_seed_keypair(seed)
        super().__init__(secret, _ed25519_spki(public))

    def _sign(self, info: c.SchemeInfo, message: bytes) -> bytes:
        return sodium.crypto_sign(bytes(message), self._key)[:64]  # ed25519, the only scheme


def load_private_key(data: bytes, password: bytes | None = None) -> SodiumEd25519PrivateKey:
    """Unencrypted PKCS#8 Ed25519 keys (PEM or DER), RFC 8410."""
    der, _ = c.pem_to_der(data)
    if c.is_encrypted_private_key(data):
        raise KeyLoadError("the pynacl provider cannot decrypt encrypted private keys")
    c.check_password_use(data, password)
    algorithm = c.pkcs8_algorithm(der)
    if algorithm is None:
        raise KeyLoadError("cannot load private key: not an unencrypted PKCS#8 key")
    if algorithm != _oids.ED25519:
        raise KeyLoadError("the pynacl provider loads Ed25519 keys only")
    try:
        info = _der.parse_pkcs8(der)
        if info.version not in (0, 1):
            raise _der.DERError("bad PKCS#8 structure")
        # RFC 8410 7: privateKey holds CurvePrivateKey, an OCTET STRING of the 32-byte seed
        wrapped = info.private_key
        seed = _der.read_single(wrapped, _der.TAG_OCTET_STRING).content(wrapped)
        if len(seed) != 32:
            raise _der.DERError("bad Ed25519 private key")
    except _der.DERError as exc:
        raise KeyLoadError(f"cannot load private key: {exc}") from None
    return SodiumEd25519PrivateKey(seed)


# ---------------------------------------------------------------------------


def build() -> Provider:
    sha256 = SodiumSHA256()
    chacha = _aead(
        "ChaCha20-Poly1305",
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt,
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt,
    )
    aeads: dict[str, AEADAlgorithm] = {chacha.name: chacha}
    if aes256gcm_available():
        aes256 = _aead(
            "AES-256-GCM", sodium.crypto_aead_aes256gcm_encrypt, sodium.crypto_aead_aes256gcm_decrypt
        )
        aeads[aes256.name] = aes256
    return Provider(
        name=NAME,
        # no SHA-384 in libsodium: only the ChaCha20 suite can be formed
        cipher_suites=c.make_suites(aeads, {"sha256": sha256}),
        groups={"x25519": SodiumX25519()},
        signature_schemes={"ed25519": SodiumEd25519()},
        key_loader=load_private_key,
        random_source=nacl.utils.random,
        # libsodium's own version is not exposed by PyNaCl 1.6 (quirk 12).
        versions={"pynacl": nacl.__version__},
        aead_algorithms=aeads,
        hash_algorithms={"sha256": sha256},
    )
