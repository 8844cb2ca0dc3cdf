"""The PyCryptodome provider: every primitive from PyCryptodome (``Crypto``).

Offers the three TLS 1.3 suites, x25519, x448, secp256r1/384r1/521r1,
X25519MLKEM768 (and SecP256r1MLKEM768) and the full signature-scheme set.

Choices and library quirks handled (see shared notes/provider-quirks.md):
* ``ChaCha20_Poly1305.new`` silently switches algorithm on 8- or 24-byte
  nonces and AES-GCM accepts any nonce length, so every AEAD call enforces
  the 12-byte TLS nonce. PyCryptodome cipher objects are bound to one nonce and
  redo the key schedule each time; AES-GCM is therefore composed per traffic key
  from the AES block cipher and the library's (private) GHASH, self-tested at
  import (tlskit.providers._pycryptodome_gcm); ChaCha20-Poly1305 likewise draws
  its one-time Poly1305 key and keystream from one ChaCha20 object per record
  (tlskit.providers._pycryptodome_chacha) instead of the library's three.
* ML-KEM-768 encapsulation/decapsulation are reachable only through the
  private ``MLKEMKey._encaps`` / ``_decaps`` methods (the public API only
  serves HPKE). We depend on them deliberately and pin the behaviour with the
  Wycheproof ML-KEM vectors; ``Crypto.PublicKey.Hybrid`` is X-Wing, not the
  TLS hybrid, so X25519MLKEM768 is composed here from ML-KEM-768 + X25519.
* HMAC is RFC 2104 over PyCryptodome's one-call SHA-2 digest (``Crypto.Hash.HMAC``
  costs several hash objects per call), called through the library's cffi binding
  when it agrees with hashlib at import, and HKDF-Expand is built over it (the
  library's own Expand is private).
* X25519/X448 low-order points are refused by the importer; an explicit
  all-zero check stays as well. ECDH shares must be uncompressed points
  (PyCryptodome would accept compressed ones).
* RSA PKCS#1 v1.5 verification is the library's: it also accepts a DigestInfo
  without the NULL parameter (Wycheproof "MissingNull", rated acceptable);
  cryptography/OpenSSL rejects those. Only certificate signatures use it.
* Encrypted PKCS#8 RSASSA-PSS private keys cannot be recognised as PSS keys
  (the algorithm is hidden until decryption); they load as RSA keys with the
  rsa_pss_rsae schemes. Unencrypted ones are recognised.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import Crypto
from Crypto.Cipher import AES, ChaCha20_Poly1305
from Crypto.Hash import SHA256, SHA384, SHA512
from Crypto.Protocol import DH
from Crypto.PublicKey import ECC, MLKEM, RSA
from Crypto.Random import get_random_bytes
from Crypto.Signature import DSS, eddsa, pkcs1_15, pss

from tlskit import _der, _oids
from tlskit.errors import (
    BadRecordMac,
    BadSignatureError,
    IllegalParameter,
    InternalError,
    KeyLoadError,
)
from tlskit.providers import _common as c
from tlskit.providers import _pycryptodome_chacha as _chacha_composed
from tlskit.providers import _pycryptodome_gcm as _gcm_composed
from tlskit.providers.ffdhe import FFDHE_GROUPS, PowFFDHEGroup
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    HashAlgorithm,
    Provider,
    SignatureScheme,
)

NAME = "pycryptodome"

_HASH_MODULES = {"sha256": SHA256, "sha384": SHA384, "sha512": SHA512}
# Exceptions PyCryptodome raises on malformed keys/signatures; all mean "reject".
_PARSE_ERRORS = (ValueError, TypeError, IndexError, KeyError, OverflowError, NotImplementedError)

# ---------------------------------------------------------------------------
# Hashes


#: bytes.translate tables XOR-ing every byte with HMAC's ipad / opad (RFC 2104)


def _oneshot(module: Any) -> Callable[[bytes], bytes]:
    """The module's one-call digest (PyCryptodome >= 4.x ``SHA256.digest(data)``), else new+digest."""
    digest = getattr(module, "digest", None)
    if callable(digest):
        return digest  # type: ignore[no-any-return]
    return lambda data: module.new(data).digest()


def _cffi_oneshot(module: Any) -> Callable[[bytes], bytes] | None:
    """The same one-call digest straight through PyCryptodome's cffi binding, or None.

    The public ``SHA256.digest`` wraps one C call in five Python-level helpers
    (buffer allocation, pointer and size conversions), a third of its cost on the
    short inputs of a key schedule (~80 one-call digests per handshake pair). This
    reaches the C function the public wrapper calls (``<NAME>_oneshot`` of the
    private ``_raw_<name>_lib``) when PyCryptodome runs on cffi; the result is
    checked against hashlib's SHA-2 on several inputs before it is used.
    """
    try:
        from Crypto.Util import _raw_api

        if getattr(_raw_api, "backend", None) != "cffi":
            return None
        ffi = _raw_api.ffi
        name = module.__name__.rsplit(".", 1)[1]  # "SHA256"
        oneshot = getattr(getattr(module, f"_raw_{name.lower()}_lib"), f"{name}_oneshot")
        size = module.digest_size
        new_output, from_buffer, buffer = ffi.new, ffi.from_buffer, ffi.buffer
        ctype = ffi.typeof(f"uint8_t[{size}]")

        def digest(data: bytes) -> bytes:
            source = from_buffer(data)
            output = new_output(ctype)
            if oneshot(source, len(source), output, size):
                raise InternalError(f"{name} failed")
            return buffer(output)[:]  # type: ignore[no-any-return]

        for sample in (b"", b"abc", bytes(range(256)) * 5, bytearray(b"x" * 200), memoryview(b"y" * 65)):
            # the check is independent of the library: the standard library's SHA-2
            if digest(sample) != hashlib.new(name.lower(), sample).digest():
                return None
        return digest
    except Exception:  # noqa: BLE001 - any surprise from a private binding means "do not use it"
        return None


class PycryptodomeHash(HashAlgorithm):
    """SHA-2 with HMAC and HKDF-Expand written over the one-call digest.

    ``Crypto.Hash.HMAC`` builds four hash objects and XORs the pads in Python per
    call (about 20 us); TLS 1.3 does some 40 HMACs per handshake pair, nearly all on
    short inputs, so HMAC is computed here as RFC 2104 spells it,
    H((K ^ opad) || H((K ^ ipad) || m)), with two one-call digests. The Wycheproof
    HMAC and HKDF vectors pin it (tlskit.providers._wycheproof).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._module = _HASH_MODULES[name]
        self.digest_size = self._module.digest_size
        self._block_size: int = self._module.block_size
        self._digest = _cffi_oneshot(self._module) or _oneshot(self._module)

    def new(self, data: bytes = b"") -> Any:
        # PyCryptodome hash objects are already incremental with copy() and a
        # non-destructive digest(): exactly the HashObject protocol.
        return self._module.new(data)

    def digest(self, data: bytes) -> bytes:
        return self._digest(data)

    def _pads(self, key: bytes) -> tuple[bytes, bytes]:
        return c.hmac_pads(key, self._block_size, self._digest)

    def hmac(self, key: bytes, data: bytes) -> bytes:
        digest = self._digest
        inner, outer = self._pads(key)
        return digest(outer + digest(inner + data))

    def keyed_hmac(self, key: bytes) -> Callable[[bytes], bytes]:
        # The pads are computed once per key; a message costs two one-call digests.
        digest = self._digest
        inner, outer = self._pads(key)
        return lambda data: digest(outer + digest(inner + data))

    def hkdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        # Every HKDF-Expand-Label of TLS 1.3 fits in one block: T(1) = HMAC(PRK, info || 0x01)
        # (RFC 5869 section 2.3); longer outputs take the generic loop.
        if 0 < length <= self.digest_size:
            return self.hmac(prk, bytes(info) + b"\x01")[:length]
        return super().hkdf_expand(prk, info, length)


# ---------------------------------------------------------------------------
# AEADs


def _gcm(key: bytes, nonce: bytes) -> Any:
    return AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)


def _chacha(key: bytes, nonce: bytes) -> Any:
    return ChaCha20_Poly1305.new(key=key, nonce=nonce)


class _PycryptodomeAEAD(AEAD):
    """PyCryptodome cipher objects are bound to one nonce: one is made per record."""

    __slots__ = ("_name", "_cipher", "_key")

    def __init__(self, name: str, cipher: Callable[[bytes, bytes], Any], key: bytes) -> None:
        self._name = name
        self._cipher = cipher
        self._key = key

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        # AES-GCM accepts any nonce length and ChaCha20_Poly1305 silently selects the
        # legacy or XChaCha variant on 8 or 24 bytes: TLS uses 12.
        if len(nonce) != 12:
            raise InternalError(f"{self._name} nonce must be 12 bytes")
        cipher = self._cipher(self._key, nonce)
        cipher.update(aad)
        ct, tag = cipher.encrypt_and_digest(plaintext)
        return ct + tag

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(nonce) != 12 or len(ciphertext) < 16:
            raise BadRecordMac(f"{self._name} authentication failed")
        cipher = self._cipher(self._key, nonce)
        cipher.update(aad)
        try:
            return cipher.decrypt_and_verify(ciphertext[:-16], ciphertext[-16:])
        except ValueError:
            raise BadRecordMac(f"{self._name} authentication failed") from None


def _aead(name: str, key_length: int, cipher: Callable[[bytes, bytes], Any]) -> AEADAlgorithm:
    return c.KeyedAEADAlgorithm(name, key_length, lambda key: _PycryptodomeAEAD(name, cipher, key))


def _aes_gcm(name: str, key_length: int, *, composed: bool | None = None) -> AEADAlgorithm:
    """AES-GCM with the key schedule kept per traffic key (tlskit.providers._pycryptodome_gcm)
    when PyCryptodome's GHASH passes its self-test, else the library's GCM object per record."""
    if composed is None:
        composed = _gcm_composed.available
    if composed:
        return c.KeyedAEADAlgorithm(name, key_length, lambda key: _gcm_composed.new(name, key))
    return _aead(name, key_length, _gcm)


def _chacha20_poly1305(*, composed: bool | None = None) -> AEADAlgorithm:
    """ChaCha20-Poly1305 from one ChaCha20 stream per record (tlskit.providers._pycryptodome_chacha)
    when PyCryptodome's Poly1305 passes its self-test, else the library's AEAD object per record."""
    if composed is None:
        composed = _chacha_composed.available
    if composed:
        return c.KeyedAEADAlgorithm("ChaCha20-Poly1305", 32, _chacha_composed.new)
    return _aead("ChaCha20-Poly1305", 32, _chacha)


# ---------------------------------------------------------------------------
# Key exchange


def _agree(private: Any, public: Any) -> bytes:
    return DH.key_agreement(static_priv=private, static_pub=public, kdf=bytes)


class _XDHGroup(c.DHGroup):
    def __init__(self, name: str, curve: str, length: int, import_public: Any, import_private: Any) -> None:
        self.share_length = length
        super().__init__(name)
        self._curve = curve
        self._import_public = import_public
        self._import_private = import_private

    def _generate(self) -> tuple[Any, bytes]:
        key = ECC.generate(curve=self._curve)
        return key, key.public_key().export_key(format="raw")

    def _load_private(self, raw: bytes) -> Any:
        return self._import_private(raw)

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        try:
            # The importer refuses low-order points (all-zero results) itself.
            peer = self._import_public(peer_share)
            secret = _agree(private, peer)
        except ValueError:
            raise IllegalParameter(f"{self.name} key share rejected (low-order point)") from None
        return c.check_nonzero_secret(self.name, secret)


class _ECDHGroup(c.ECDHGroup):
    def __init__(self, name: str, curve: str, coord_len: int) -> None:
        super().__init__(name, coord_len)
        self._curve = curve

    def _generate(self) -> tuple[Any, bytes]:
        key = ECC.generate(curve=self._curve)
        return key, key.public_key().export_key(format="raw", compress=False)

    def _load_private(self, raw: bytes) -> Any:
        return ECC.construct(curve=self._curve, d=int.from_bytes(raw, "big"))

    def _exchange(self, private: Any, peer_share: bytes) -> bytes:
        try:
            peer = ECC.import_key(peer_share, curve_name=self._curve)
            return _agree(private, peer)
        except _PARSE_ERRORS:
            raise IllegalParameter(f"{self.name} key share is not a valid curve point") from None


class PycryptodomeMLKEM768(c.MLKEMGroup):
    def _generate(self) -> tuple[Any, bytes]:
        key = MLKEM.generate(param_set=MLKEM.ML_KEM_768)
        return key, key.ek

    def encapsulate(self, peer_share: bytes, *, _coins: bytes | None = None) -> tuple[bytes, bytes]:
        c.check_share_length("ML-KEM-768", peer_share, self.client_share_length)
        try:
            public = MLKEM.construct(param_set=MLKEM.ML_KEM_768, ek=peer_share)  # modulus check
        except ValueError:
            raise IllegalParameter("ML-KEM-768 encapsulation key is invalid") from None
        secret, ciphertext = public._encaps(_coins)  # private API: see module docstring
        return ciphertext, secret

    def encapsulate_derandomized(self, peer_share: bytes, coins: bytes) -> tuple[bytes, bytes]:
        """Test hook: FIPS 203 ML-KEM.Encaps_internal with fixed randomness."""
        return self.encapsulate(peer_share, _coins=coins)

    def complete(self, state: Any, peer_share: bytes) -> bytes:
        c.check_share_length("ML-KEM-768", peer_share, self.server_share_length)
        try:
            return state._decaps(peer_share)  # private API: see module docstring
        except ValueError:
            raise IllegalParameter("ML-KEM-768 ciphertext is invalid") from None

    def state_from_seed(self, seed: bytes) -> Any:
        c.check_share_length("ML-KEM-768 seed", seed, 64)
        return MLKEM.construct(param_set=MLKEM.ML_KEM_768, seed=seed)

    def encapsulation_key(self, state: Any) -> bytes:
        return state.ek


# ---------------------------------------------------------------------------
# Signatures


class _PublicKey:
    """A parsed public key with the library's verifier objects for it, one per scheme.

    Those objects hold the key and constants derived from it alone (the ECDSA order,
    the encoded EdDSA point -- ``eddsa.new`` re-encodes the point each time, which costs
    more than a third of an Ed25519 verification -- the PSS salt length), never a
    verdict, so one object serves every verification under that key and scheme.
    Entries live in the bounded PublicKeyCache, keyed by the SPKI bytes.
    """

    __slots__ = ("key", "_verifiers")

    def __init__(self, key: Any) -> None:
        self.key = key
        self._verifiers: dict[str, Any] = {}

    def verifier(self, scheme: str, make: Callable[[Any], Any]) -> Any:
        verifier = self._verifiers.get(scheme)
        if verifier is None:
            verifier = self._verifiers[scheme] = make(self.key)
        return verifier


def _load_public(spki: _der.SubjectPublicKeyInfo, der: bytes) -> _PublicKey:
    if spki.algorithm == _oids.RSASSA_PSS:
        # PyCryptodome does not know the RSASSA-PSS OID; the key itself is
        # a plain PKCS#1 RSAPublicKey inside the BIT STRING.
        return _PublicKey(RSA.import_key(spki.key))
    if spki.algorithm == _oids.RSA_ENCRYPTION:
        return _PublicKey(RSA.import_key(der))
    # ECC.import_key (point decoding and validation in Python) is the costly one
    return _PublicKey(ECC.import_key(der))


_PUBLIC_KEYS = c.PublicKeyCache(_load_public, _PARSE_ERRORS)


def _pss(key: Any, hash_name: str) -> Any:
    # salt length == hash length, exactly (RFC 8446 4.2.3)
    return pss.new(key, salt_bytes=c.HASH_LENGTHS[hash_name])


def _signer_factory(info: c.SchemeInfo) -> Callable[[Any], Any]:
    """The library's signature object for ``info``'s scheme, from a key (public or private)."""
    if info.kind == "ecdsa":
        return lambda key: DSS.new(key, "fips-186-3", encoding="der")
    if info.kind == "rsa_pkcs1":
        return pkcs1_15.new  # type: ignore[no-any-return]
    if info.kind in ("rsa_pss_rsae", "rsa_pss_pss"):
        hash_name = info.hash_name
        return lambda key: _pss(key, hash_name)
    return lambda key: eddsa.new(key, "rfc8032")


class PycryptodomeSignatureScheme(SignatureScheme):
    def __init__(self, name: str) -> None:
        self.info = c.SCHEME_INFO[name]
        self.name = name
        self.code = self.info.code
        self._make_verifier = _signer_factory(self.info)
        # EdDSA signs the message itself; the others a hash object of it
        self._hash = None if self.info.hash is None else _HASH_MODULES[self.info.hash_name]

    def verify(
        self, public_key: bytes, message: bytes, signature: bytes, *, strict_curve: bool = True
    ) -> None:
        info = self.info
        spki, entry = _PUBLIC_KEYS.get(self.name, public_key)
        c.check_scheme_key(info, spki, strict_curve=strict_curve)
        try:
            verifier = entry.verifier(self.name, self._make_verifier)
            if self._hash is not None:
                verifier.verify(self._hash.new(message), signature)
            else:  # EdDSA
                length = 64 if info.kind == "ed25519" else 114
                if len(signature) != length:
                    raise BadSignatureError(f"{self.name}: signature must be {length} bytes")
                verifier.verify(message, signature)
        except _PARSE_ERRORS:
            raise BadSignatureError(f"{self.name} signature did not verify") from None


class PycryptodomePrivateKey(c.BackendPrivateKey):
    provider_name = NAME

    def __init__(self, key: Any, spki: bytes) -> None:
        super().__init__(key, spki)
        # the library's signer object per scheme, made on first use (as for public keys:
        # eddsa.new encodes the public point each time); they keep no per-signature state
        self._signers: dict[str, Any] = {}

    def _sign(self, info: c.SchemeInfo, message: bytes) -> bytes:
        signer = self._signers.get(info.name)
        if signer is None:
            signer = self._signers[info.name] = _signer_factory(info)(self._key)
        if info.hash is None:  # EdDSA
            return signer.sign(message)  # type: ignore[no-any-return]
        return signer.sign(_HASH_MODULES[info.hash_name].new(message))  # type: ignore[no-any-return]


def _rsa_from_pss_pkcs8(der: bytes) -> Any:
    """The RSAPrivateKey inside an unencrypted RSASSA-PSS PKCS#8 PrivateKeyInfo."""
    return RSA.import_key(_der.parse_pkcs8(der).private_key)


def load_private_key(data: bytes, password: bytes | None = None) -> PycryptodomePrivateKey:
    der, _ = c.pem_to_der(data)
    c.check_password_use(data, password)
    try:
        if c.pkcs8_algorithm(der) == _oids.RSASSA_PSS:
            key = _rsa_from_pss_pkcs8(der)
            pkcs1 = _der.parse_spki(key.public_key().export_key(format="DER")).key
            spki = c.rsassa_pss_spki(pkcs1, c.pkcs8_algorithm_identifier(der))
        else:
            key = _import_any(data, password)
            if not key.has_private():
                raise KeyLoadError("this is a public key, not a private key")
            spki = key.public_key().export_key(format="DER")
    except (_der.DERError, *_PARSE_ERRORS):
        raise KeyLoadError("cannot load private key (bad encoding or wrong password)") from None
    return PycryptodomePrivateKey(key, spki)


def _import_any(data: bytes, password: bytes | None) -> Any:
    # PyCryptodome splits keys by family; try EC (incl. EdDSA) and then RSA.
    try:
        return ECC.import_key(data, passphrase=password)
    except _PARSE_ERRORS as ec_error:
        try:
            return RSA.import_key(data, passphrase=password)
        except _PARSE_ERRORS:
            raise ec_error from None


# ---------------------------------------------------------------------------


def build() -> Provider:
    sha256, sha384 = PycryptodomeHash("sha256"), PycryptodomeHash("sha384")
    aes128 = _aes_gcm("AES-128-GCM", 16)
    aes256 = _aes_gcm("AES-256-GCM", 32)
    chacha = _chacha20_poly1305()
    aeads = {a.name: a for a in (aes128, aes256, chacha)}
    hashes = {"sha256": sha256, "sha384": sha384}
    x25519 = _XDHGroup("x25519", "Curve25519", 32, DH.import_x25519_public_key, DH.import_x25519_private_key)
    p256 = _ECDHGroup("secp256r1", "P-256", 32)
    kem = PycryptodomeMLKEM768()
    groups = {
        "x25519": x25519,
        "secp256r1": p256,
        "x448": _XDHGroup("x448", "Curve448", 56, DH.import_x448_public_key, DH.import_x448_private_key),
        "secp384r1": _ECDHGroup("secp384r1", "P-384", 48),
        "secp521r1": _ECDHGroup("secp521r1", "P-521", 66),
        "X25519MLKEM768": c.HybridGroup("X25519MLKEM768", kem, x25519),
        "SecP256r1MLKEM768": c.HybridGroup("SecP256r1MLKEM768", p256, kem),
        # RFC 7919 groups last (offered after the elliptic-curve ones, never a default
        # share); pycryptodome has no DH, so Python's pow() does it (tlskit.providers.ffdhe)
        **{name: PowFFDHEGroup(name) for name in FFDHE_GROUPS},
    }
    schemes = {name: PycryptodomeSignatureScheme(name) for name in c.FULL_SCHEME_ORDER}
    return Provider(
        name=NAME,
        cipher_suites=c.make_suites(aeads, hashes),
        groups=groups,
        signature_schemes=schemes,
        key_loader=load_private_key,
        random_source=get_random_bytes,
        versions={"pycryptodome": Crypto.__version__},
        aead_algorithms=aeads,
        hash_algorithms=hashes,
    )
