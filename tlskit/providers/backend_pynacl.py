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
* SHA-256 is libsodium's ``crypto_hash_sha256``; HMAC-SHA-256 (and so HKDF) is
  libsodium's ``crypto_auth_hmacsha256``. PyNaCl binds neither the incremental
  SHA-256 nor HMAC, but its libsodium exports them: tlskit.providers._sodium_direct
  reaches them in PyNaCl's own shared object, so the transcript hash is truly
  incremental and an HMAC key is absorbed once per key. Where that binding is not
  available or fails its import-time self-test, the hash object buffers what it is fed
  and hashes the buffer on ``digest()`` (keeping the answer until the next update), and
  HMAC is the RFC 2104 construction over the one-call ``crypto_hash_sha256``.
  Both are checked against the Wycheproof HMAC/HKDF vectors.
  No other crypto library (not even hashlib) is used for advertised primitives.

Speed (issue 17): PyNaCl's public functions check and convert their arguments and
allocate per call, as much as the C function costs on a key schedule's short inputs.
The AEADs, SHA-256, X25519 and Ed25519 are therefore called through PyNaCl's compiled
binding (``nacl._sodium.lib``) directly, each self-tested at import against the public
API, with the public functions as the fallback; the lengths the C functions trust are
checked here first.

Peer input: X25519 shares must be 32 bytes; libsodium's refusal of an all-zero
result (``nacl.exceptions.RuntimeError``) and our explicit all-zero check both
end in IllegalParameter. Ed25519 signatures must be exactly 64 bytes before
``crypto_sign_open`` (which takes sig||msg) sees them.
"""

from __future__ import annotations

from typing import Any, Callable

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
from tlskit.providers import _sodium_direct as _direct
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
#
# Fastest first, each tier self-tested at import (tlskit.providers._sodium_direct):
# libsodium's incremental SHA-256/HMAC states (ABI binding of PyNaCl's own shared
# object), else RFC 2104 over the one-call SHA-256 through the compiled binding,
# else the same over the public nacl.bindings function.

_BLOCK = 64

_LIB, _FFI = _direct.compiled()
_SHA256 = _direct.make_sha256(_LIB, _FFI)
_STATES = _direct.make_state_sha256(_direct.open_state_library(), _SHA256 or _direct.public_sha256, _FFI)


class _BufferedSHA256:
    """Incremental SHA-256 over a one-call function, for when libsodium's incremental
    state is out of reach: the messages are buffered and hashed on ``digest()``, whose
    answer is kept until the next non-empty ``update`` (a transcript is read several
    times between messages)."""

    __slots__ = ("_buffer", "_digest", "_oneshot")
    digest_size = 32

    def __init__(self, oneshot: Callable[[bytes], bytes], data: bytes | bytearray = b"") -> None:
        self._oneshot = oneshot
        self._buffer = bytearray(data)
        self._digest: bytes | None = None

    def update(self, data: bytes) -> None:
        if data:
            self._buffer += data
            self._digest = None

    def copy(self) -> "_BufferedSHA256":
        twin = _BufferedSHA256(self._oneshot, self._buffer)
        twin._digest = self._digest
        return twin

    def digest(self) -> bytes:
        digest = self._digest
        if digest is None:
            digest = self._digest = self._oneshot(self._buffer)
        return digest


class SodiumSHA256(HashAlgorithm):
    """SHA-256, HMAC-SHA-256 and HKDF over libsodium (see the tiers above).

    ``oneshot`` and ``states`` are the parts to use (tests pass other tiers); by
    default the best that passed its self-test."""

    name = "sha256"
    digest_size = 32

    def __init__(self, oneshot: Callable[[bytes], bytes] | None = None, states: Any = "default") -> None:
        self._oneshot = oneshot or _SHA256 or _direct.public_sha256
        self._states: _direct.StateSHA256 | None = _STATES if states == "default" else states

    @property
    def tier(self) -> str:
        """Which tier computes: "state", "compiled" or "public" (for tests and diagnostics)."""
        if self._states is not None:
            return "state"
        return "public" if self._oneshot is _direct.public_sha256 else "compiled"

    def new(self, data: bytes = b"") -> Any:
        if self._states is not None:
            return self._states.hash(data)
        return _BufferedSHA256(self._oneshot, data)

    def digest(self, data: bytes) -> bytes:
        return self._oneshot(data)

    def _pads(self, key: bytes) -> tuple[bytes, bytes]:
        return c.hmac_pads(key, _BLOCK, self._oneshot)

    def hmac(self, key: bytes, data: bytes) -> bytes:
        if self._states is not None:
            return self._states.hmac(key, data)
        # RFC 2104: H((K ^ opad) || H((K ^ ipad) || data)), K padded to the block size.
        inner, outer = self._pads(key)
        digest = self._oneshot
        return digest(outer + digest(inner + bytes(data)))

    def keyed_hmac(self, key: bytes) -> Callable[[bytes], bytes]:
        # The key is absorbed once (libsodium state or pads); a message pays the rest.
        if self._states is not None:
            return self._states.keyed_hmac(key)
        inner, outer = self._pads(key)
        digest = self._oneshot
        return lambda data: digest(outer + digest(inner + bytes(data)))

    def hkdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        # Every HKDF-Expand-Label of TLS 1.3 fits in one block: T(1) = HMAC(PRK, info || 0x01)
        # (RFC 5869 section 2.3); longer outputs take the generic loop.
        if 0 < length <= 32:
            states = self._states
            block = b"".join((info, b"\x01"))
            return (states.hmac(prk, block) if states is not None else self.hmac(prk, block))[:length]
        return super().hkdf_expand(prk, info, length)


# ---------------------------------------------------------------------------
# AEADs


class _SodiumAEAD(AEAD):
    """Through the nacl.bindings functions (the fallback when the direct calls fail
    their self-test)."""

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


class _DirectAEAD(AEAD):
    """libsodium's AEAD called without PyNaCl's wrapper (see _sodium_direct.make_aead):
    the lengths the C function trusts are checked here."""

    __slots__ = ("_key", "_seal", "_open", "_name")

    def __init__(self, name: str, key: bytes, seal: Any, open_: Any) -> None:
        self._name = name
        self._key = key
        self._seal = seal
        self._open = open_

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        if len(nonce) != 12:
            raise InternalError(f"{self._name} nonce must be 12 bytes")
        # the C function needs bytes; the engine passes bytes, so a copy is rare
        if type(plaintext) is not bytes:
            plaintext = bytes(plaintext)
        if type(aad) is not bytes:
            aad = bytes(aad)
        return self._seal(self._key, nonce if type(nonce) is bytes else bytes(nonce), aad, plaintext)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(nonce) != 12 or len(ciphertext) < 16:
            raise BadRecordMac(f"{self._name} authentication failed")
        if type(ciphertext) is not bytes:
            ciphertext = bytes(ciphertext)
        if type(aad) is not bytes:
            aad = bytes(aad)
        plaintext = self._open(self._key, nonce if type(nonce) is bytes else bytes(nonce), aad, ciphertext)
        if plaintext is None:
            raise BadRecordMac(f"{self._name} authentication failed")
        return plaintext  # type: ignore[no-any-return]


#: the direct AEAD calls per C function prefix, self-tested once per process (None: failed)
_AEAD_CALLS: dict[str, Any] = {}


def _aead(name: str, c_name: str, encrypt: Any, decrypt: Any, *, direct: bool = True) -> AEADAlgorithm:
    """libsodium's ChaCha20-Poly1305 (IETF) and AES-256-GCM both take 32-byte keys.
    ``c_name`` is the C function prefix; its direct calls are used when they pass their
    self-test (and ``direct``), else the nacl.bindings functions ``encrypt``/``decrypt``."""
    calls = None
    if direct:
        if c_name not in _AEAD_CALLS:
            _AEAD_CALLS[c_name] = _direct.make_aead(_LIB, _FFI, c_name, encrypt, decrypt)
        calls = _AEAD_CALLS[c_name]
    if calls is not None:
        seal, open_ = calls
        return c.KeyedAEADAlgorithm(name, 32, lambda key: _DirectAEAD(name, key, seal, open_))
    return c.KeyedAEADAlgorithm(name, 32, lambda key: _SodiumAEAD(name, key, encrypt, decrypt))


def aes256gcm_available() -> bool:
    """libsodium's AES-256-GCM needs hardware AES; importing nacl.bindings ran
    sodium_init(), which the availability probe needs to answer truthfully."""
    return bool(_LIB.crypto_aead_aes256gcm_is_available())  # the probe is not in nacl.bindings


# ---------------------------------------------------------------------------
# X25519

_SCALARMULT = _direct.make_scalarmult(_LIB, _FFI)


def _public_scalarmult(n: bytes, p: bytes) -> bytes | None:
    try:
        return sodium.crypto_scalarmult(n, p)
    except nacl.exceptions.CryptoError:  # libsodium refuses an all-zero result
        return None


class SodiumX25519(c.DHGroup):
    """X25519 (RFC 7748) through ``crypto_scalarmult``: called directly when the direct
    calls passed their self-test (``direct``), else through nacl.bindings."""

    share_length = 32

    def __init__(self, *, direct: bool = True) -> None:
        super().__init__("x25519")
        if direct and _SCALARMULT is not None:
            self._scalarmult, self._scalarmult_base = _SCALARMULT
        else:
            self._scalarmult, self._scalarmult_base = _public_scalarmult, sodium.crypto_scalarmult_base

    def _generate(self) -> tuple[Any, bytes]:
        private = nacl.utils.random(32)
        return private, self._scalarmult_base(private)

    def _load_private(self, raw: bytes) -> Any:
        if len(raw) != 32:
            raise ValueError("X25519 private key must be 32 bytes")
        return bytes(raw)

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        # the share's length (32) was checked by DHGroup before this point
        secret = self._scalarmult(private, bytes(peer_share))
        if secret is None:  # libsodium refuses an all-zero result
            raise IllegalParameter("x25519 key share rejected (low-order point)")
        return c.check_nonzero_secret(self.name, secret)  # RFC 8446 7.4.2, whatever the library did


# ---------------------------------------------------------------------------
# Ed25519

_ED25519 = _direct.make_ed25519(_LIB, _FFI)


def _public_sign(secret: bytes, message: bytes) -> bytes:
    return sodium.crypto_sign(message, secret)[:64]


def _public_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        sodium.crypto_sign_open(signature + message, public)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


def _ed25519_spki(public: bytes) -> bytes:
    return _der.encode_spki(_der.algorithm_identifier(_oids.ED25519), public)  # RFC 8410 4


def _load_ed25519_key(spki: _der.SubjectPublicKeyInfo, der: bytes) -> bytes:
    if spki.algorithm != _oids.ED25519 or spki.parameters is not None or len(spki.key) != 32:
        raise BadSignatureError("ed25519: not an Ed25519 public key")
    return bytes(spki.key)


class SodiumEd25519(SignatureScheme):
    """Ed25519 verification through ``crypto_sign_open`` (directly when the direct call
    passed its self-test, else through nacl.bindings). The raw key read from a
    SubjectPublicKeyInfo is kept per exact DER (c.PublicKeyCache: a chain's keys are
    seen again on every handshake); a key that is not Ed25519 is never kept."""

    name = "ed25519"
    code = c.SCHEME_INFO["ed25519"].code

    def __init__(self, *, direct: bool = True) -> None:
        self._verify = _ED25519[1] if direct and _ED25519 is not None else _public_verify
        self._keys = c.PublicKeyCache(_load_ed25519_key, ())

    def verify(
        self, public_key: bytes, message: bytes, signature: bytes, *, strict_curve: bool = True
    ) -> None:
        _, key = self._keys.get(self.name, public_key)
        # crypto_sign_open takes sig||msg: pin the signature length first so a
        # short or long signature is rejected as such, not as a shifted message.
        if len(signature) != 64:
            raise BadSignatureError("ed25519: signature must be 64 bytes")
        if not self._verify(key, bytes(message), bytes(signature)):
            raise BadSignatureError("ed25519 signature did not verify")


class SodiumEd25519PrivateKey(c.BackendPrivateKey):
    provider_name = NAME

    def __init__(self, seed: bytes, *, direct: bool = True) -> None:
        public, secret = sodium.crypto_sign_seed_keypair(seed)
        super().__init__(secret, _ed25519_spki(public))
        self._sign_with = _ED25519[0] if direct and _ED25519 is not None else _public_sign

    def _sign(self, info: c.SchemeInfo, message: bytes) -> bytes:
        return self._sign_with(self._key, bytes(message))  # ed25519, the only scheme


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
        "crypto_aead_chacha20poly1305_ietf",
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt,
        sodium.crypto_aead_chacha20poly1305_ietf_decrypt,
    )
    aeads: dict[str, AEADAlgorithm] = {chacha.name: chacha}
    if aes256gcm_available():
        aes256 = _aead(
            "AES-256-GCM",
            "crypto_aead_aes256gcm",
            sodium.crypto_aead_aes256gcm_encrypt,
            sodium.crypto_aead_aes256gcm_decrypt,
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
