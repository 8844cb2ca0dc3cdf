"""Pieces every backend shares: peer-input checks, the key-type rules read from a
SubjectPublicKeyInfo/PKCS#8 header (with tlskit._der), the KEM-shaped group skeletons and the
X25519MLKEM768 / SecP256r1MLKEM768 hybrid combiner.

Nothing here does cryptography itself; backends plug their library's
primitives into these shapes so that validation rules (RFC 8446 4.2.8.2,
7.4.2, draft-ietf-tls-ecdhe-mlkem) are written once and behave identically
whatever library sits underneath.
"""

from __future__ import annotations

import abc
import hmac
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from tlskit import _der, _oids
from tlskit.errors import BadSignatureError, IllegalParameter, InternalError, KeyLoadError, UnsupportedAlgorithm
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    CipherSuite,
    HashAlgorithm,
    KeyExchange,
    KeyExchangeGroup,
    PrivateKey,
)
from tlskit.providers.names import CIPHER_SUITES, GROUPS, SIGNATURE_SCHEMES


# ---------------------------------------------------------------------------
# Cipher suites

#: which AEAD and hash make up each TLS 1.3 suite, in default preference order
SUITE_PARTS: dict[str, tuple[str, str]] = {
    "TLS_AES_128_GCM_SHA256": ("AES-128-GCM", "sha256"),
    "TLS_AES_256_GCM_SHA384": ("AES-256-GCM", "sha384"),
    "TLS_CHACHA20_POLY1305_SHA256": ("ChaCha20-Poly1305", "sha256"),
}


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def hmac_pads(key: bytes, block_size: int, digest: Callable[[bytes], bytes]) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad) for an HMAC key (RFC 2104 section 2): a key longer than the
    block is hashed first, a shorter one padded with zeros. For backends that build HMAC
    from a one-call digest: HMAC(K, m) = digest(outer + digest(inner + m))."""
    if len(key) > block_size:
        key = digest(bytes(key))
    key = bytes(key).ljust(block_size, b"\0")
    return key.translate(_IPAD), key.translate(_OPAD)


def make_suites(
    aeads: Mapping[str, AEADAlgorithm],
    hashes: Mapping[str, HashAlgorithm],
    order: Iterable[str] = SUITE_PARTS,
) -> dict[str, CipherSuite]:
    """Every suite whose AEAD and hash are both available, in ``order``."""
    suites = {}
    for suite in order:
        aead_name, hash_name = SUITE_PARTS[suite]
        if aead_name in aeads and hash_name in hashes:
            suites[suite] = CipherSuite(suite, CIPHER_SUITES[suite], aeads[aead_name], hashes[hash_name])
    return suites


# ---------------------------------------------------------------------------
# Signature scheme metadata (RFC 8446 4.2.3)


@dataclass(frozen=True)
class SchemeInfo:
    name: str
    kind: str  # "ecdsa" | "rsa_pss_rsae" | "rsa_pss_pss" | "rsa_pkcs1" | "ed25519" | "ed448"
    hash: str | None  # "sha1" | "sha256" | "sha384" | "sha512" | None for EdDSA
    curve: str | None = None  # only for ecdsa schemes bound to a curve

    @property
    def code(self) -> int:
        return SIGNATURE_SCHEMES[self.name]

    @property
    def hash_name(self) -> str:
        """``hash`` for the schemes that hash the message first (all but EdDSA)."""
        if self.hash is None:  # pragma: no cover - table and code out of sync
            raise InternalError(f"{self.name} does not hash the message separately")
        return self.hash


SCHEME_INFO: dict[str, SchemeInfo] = {
    "ecdsa_secp256r1_sha256": SchemeInfo("ecdsa_secp256r1_sha256", "ecdsa", "sha256", "secp256r1"),
    "ecdsa_secp384r1_sha384": SchemeInfo("ecdsa_secp384r1_sha384", "ecdsa", "sha384", "secp384r1"),
    "ecdsa_secp521r1_sha512": SchemeInfo("ecdsa_secp521r1_sha512", "ecdsa", "sha512", "secp521r1"),
    "rsa_pss_rsae_sha256": SchemeInfo("rsa_pss_rsae_sha256", "rsa_pss_rsae", "sha256"),
    "rsa_pss_rsae_sha384": SchemeInfo("rsa_pss_rsae_sha384", "rsa_pss_rsae", "sha384"),
    "rsa_pss_rsae_sha512": SchemeInfo("rsa_pss_rsae_sha512", "rsa_pss_rsae", "sha512"),
    "rsa_pss_pss_sha256": SchemeInfo("rsa_pss_pss_sha256", "rsa_pss_pss", "sha256"),
    "rsa_pss_pss_sha384": SchemeInfo("rsa_pss_pss_sha384", "rsa_pss_pss", "sha384"),
    "rsa_pss_pss_sha512": SchemeInfo("rsa_pss_pss_sha512", "rsa_pss_pss", "sha512"),
    "rsa_pkcs1_sha256": SchemeInfo("rsa_pkcs1_sha256", "rsa_pkcs1", "sha256"),
    "rsa_pkcs1_sha384": SchemeInfo("rsa_pkcs1_sha384", "rsa_pkcs1", "sha384"),
    "rsa_pkcs1_sha512": SchemeInfo("rsa_pkcs1_sha512", "rsa_pkcs1", "sha512"),
    "ed25519": SchemeInfo("ed25519", "ed25519", None),
    "ed448": SchemeInfo("ed448", "ed448", None),
}

#: The signature schemes the full-featured backends offer, in preference order.
#: rsa_pkcs1_sha1 / ecdsa_sha1 are deliberately absent: SHA-1 certificate
#: signatures are not accepted by tlskit (RFC 8446 4.2.3 lets an implementation
#: refuse them, and no modern CA issues them).
FULL_SCHEME_ORDER: tuple[str, ...] = (
    "ecdsa_secp256r1_sha256",
    "ecdsa_secp384r1_sha384",
    "ecdsa_secp521r1_sha512",
    "ed25519",
    "ed448",
    "rsa_pss_rsae_sha256",
    "rsa_pss_rsae_sha384",
    "rsa_pss_rsae_sha512",
    "rsa_pss_pss_sha256",
    "rsa_pss_pss_sha384",
    "rsa_pss_pss_sha512",
    "rsa_pkcs1_sha256",
    "rsa_pkcs1_sha384",
    "rsa_pkcs1_sha512",
)

RSA_PSS_RSAE_SCHEMES = ("rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512")
RSA_PSS_PSS_SCHEMES = ("rsa_pss_pss_sha256", "rsa_pss_pss_sha384", "rsa_pss_pss_sha512")
CURVE_SCHEME = {
    "secp256r1": "ecdsa_secp256r1_sha256",
    "secp384r1": "ecdsa_secp384r1_sha384",
    "secp521r1": "ecdsa_secp521r1_sha512",
}
HASH_LENGTHS = {info.name: info.length for info in _oids.HASHES.values()}

# ---------------------------------------------------------------------------
# Keys, read with tlskit's DER reader (tlskit._der) and OID table (tlskit._oids):
# the algorithm identifier of a SubjectPublicKeyInfo / PKCS#8 PrivateKeyInfo tells
# an RSASSA-PSS key from an rsaEncryption one, which the libraries hide.

def pkcs8_algorithm_identifier(der: bytes) -> bytes | None:
    """The whole AlgorithmIdentifier TLV of an unencrypted PKCS#8 PrivateKeyInfo, or None."""
    try:
        return _der.parse_pkcs8(der).algorithm.raw
    except _der.DERError:
        return None


def pkcs8_algorithm(der: bytes) -> str | None:
    """The algorithm OID of an unencrypted PKCS#8 PrivateKeyInfo, or None."""
    try:
        return _der.parse_pkcs8(der).algorithm.oid
    except _der.DERError:
        return None


def rsassa_pss_spki(rsa_public_key_pkcs1: bytes, algorithm_identifier: bytes | None = None) -> bytes:
    """An RSASSA-PSS SubjectPublicKeyInfo for a PKCS#1 RSAPublicKey.

    ``algorithm_identifier`` (the key's own, with its RSASSA-PSS-params) is kept
    byte for byte so the SPKI matches the one in the key's certificate.
    """
    alg = algorithm_identifier or _der.algorithm_identifier(_oids.RSASSA_PSS)
    return _der.encode_spki(alg, rsa_public_key_pkcs1)


def pss_key_hash(parameters: bytes | None) -> str | None:
    """The hash an RSASSA-PSS key is restricted to by its parameters (RFC 4055),
    or None when the key carries no parameters (any hash). An absent
    hashAlgorithm means SHA-1; one not in the OID table gives "unknown".
    Raises DERError."""
    if parameters is None:
        return None
    return _der.parse_pss_params(parameters).hash_name


def pss_key_schemes(parameters: bytes | None) -> tuple[str, ...]:
    """The rsa_pss_pss_* schemes an RSASSA-PSS key may sign with."""
    try:
        restricted = pss_key_hash(parameters)
    except _der.DERError:
        raise KeyLoadError("RSASSA-PSS key has malformed parameters") from None
    if restricted is None:
        return RSA_PSS_PSS_SCHEMES
    if f"rsa_pss_pss_{restricted}" not in RSA_PSS_PSS_SCHEMES:
        raise KeyLoadError(f"RSASSA-PSS key is restricted to {restricted}, which TLS 1.3 cannot use")
    return (f"rsa_pss_pss_{restricted}",)


def signing_schemes(spki_der: bytes) -> tuple[str, ...]:
    """The TLS schemes a private key can sign CertificateVerify with, from its
    public key's SubjectPublicKeyInfo (an RSASSA-PSS key's with its parameters,
    as rsassa_pss_spki builds it). Raises KeyLoadError for other key types."""
    try:
        spki = _der.parse_spki(spki_der)
    except _der.DERError:
        raise KeyLoadError("the key's public part is not a valid SubjectPublicKeyInfo") from None
    if spki.algorithm == _oids.RSA_ENCRYPTION:
        return RSA_PSS_RSAE_SCHEMES
    if spki.algorithm == _oids.RSASSA_PSS:
        return pss_key_schemes(spki.parameters)
    if spki.algorithm == _oids.EC_PUBLIC_KEY:
        if spki.curve is None:
            raise KeyLoadError("EC key on a curve TLS 1.3 cannot sign with")
        return (CURVE_SCHEME[spki.curve],)
    if spki.algorithm == _oids.ED25519:
        return ("ed25519",)
    if spki.algorithm == _oids.ED448:
        return ("ed448",)
    raise KeyLoadError("unsupported private key type (RSA, EC on P-256/384/521, Ed25519 and Ed448 can sign)")


RSA_PKCS1_SCHEMES = ("rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512")


def legacy_signing_schemes(spki_der: bytes) -> tuple[str, ...]:
    """The TLS 1.2-only schemes (PrivateKey.legacy_schemes) a key can sign with: RSA
    PKCS#1 v1.5 for an rsaEncryption key, nothing for any other key."""
    try:
        spki = _der.parse_spki(spki_der)
    except _der.DERError:
        return ()
    return RSA_PKCS1_SCHEMES if spki.algorithm == _oids.RSA_ENCRYPTION else ()


class BackendPrivateKey(PrivateKey):
    """What every backend's private key shares, written once: the schemes it may sign
    with are read from its SubjectPublicKeyInfo by the rules above (the same for every
    library), ``sign`` refuses any other scheme before the library sees the message,
    and ``repr`` never shows key material. A backend subclass names its provider and
    implements ``_sign`` with its library's key object (``self._key``)."""

    #: the backend's provider name, for UnsupportedAlgorithm
    provider_name: str

    def __init__(self, key: Any, spki: bytes) -> None:
        self._key = key
        self._spki = spki
        self.schemes = signing_schemes(spki)
        self.legacy_schemes = legacy_signing_schemes(spki)

    def sign(self, scheme: str, message: bytes) -> bytes:
        if scheme not in self.schemes and scheme not in self.legacy_schemes:
            raise UnsupportedAlgorithm(self.provider_name, "signature scheme for this key", scheme)
        return self._sign(SCHEME_INFO[scheme], message)

    @abc.abstractmethod
    def _sign(self, info: SchemeInfo, message: bytes) -> bytes:
        """Sign ``message`` with the scheme ``info`` describes (one of this key's)."""

    def public_key_der(self) -> bytes:
        return self._spki

    def __repr__(self) -> str:  # never show key material
        return f"<{type(self).__name__} schemes={self.schemes}>"


def check_pss_key_allows(scheme: str, hash_name: str, parameters: bytes | None) -> None:
    """Verification side of pss_key_schemes: the key's parameters must allow the scheme's hash."""
    try:
        restricted = pss_key_hash(parameters)
    except _der.DERError:
        raise BadSignatureError(f"{scheme}: malformed RSASSA-PSS parameters") from None
    if restricted is not None and restricted != hash_name:
        raise BadSignatureError(f"{scheme}: key is restricted to {restricted}")


def check_scheme_key(info: SchemeInfo, spki: _der.SubjectPublicKeyInfo, *, strict_curve: bool) -> None:
    """The key-type rules for verifying with ``info``'s scheme (RFC 8446 4.2.3),
    read from the SubjectPublicKeyInfo alone so that every backend applies them
    the same way before its library verifies: ECDSA wants an EC key on a TLS
    curve (the scheme's own unless ``strict_curve`` is off), rsa_pss_pss an
    RSASSA-PSS key whose parameters allow the hash, rsa_pss_rsae and rsa_pkcs1
    an rsaEncryption key, EdDSA its own OID. Raises BadSignatureError."""
    name = info.name
    if info.kind == "ecdsa":
        if spki.curve is None:  # also None for anything but id-ecPublicKey
            raise BadSignatureError(f"{name}: not an EC key on a TLS curve")
        if strict_curve and spki.curve != info.curve:
            raise BadSignatureError(f"{name}: key is on {spki.curve}")
    elif info.kind in ("rsa_pss_rsae", "rsa_pss_pss", "rsa_pkcs1"):
        wanted = _oids.RSASSA_PSS if info.kind == "rsa_pss_pss" else _oids.RSA_ENCRYPTION
        if spki.algorithm != wanted:
            raise BadSignatureError(f"{name}: wrong RSA key type")
        if info.kind == "rsa_pss_pss":
            check_pss_key_allows(name, info.hash_name, spki.parameters)
    elif info.kind in ("ed25519", "ed448"):
        if spki.algorithm != (_oids.ED25519 if info.kind == "ed25519" else _oids.ED448):
            raise BadSignatureError(f"{name}: not an {info.kind.capitalize()} key")
    else:  # pragma: no cover - table and code out of sync
        raise BadSignatureError(f"{name}: unsupported")


class PublicKeyCache:
    """A backend's parsed public keys by their DER SubjectPublicKeyInfo.

    A handshake verifies up to three signatures (CertificateVerify and the
    chain), usually under keys seen before (the trust anchor, the intermediate,
    a server's leaf), and parsing a key costs a good part of a verification.
    ``load`` is the backend's library parse of the whole SPKI; ``errors`` the
    exceptions it raises on a bad key, which become BadSignatureError. Only keys
    that loaded are kept, at most ``size`` of them.
    """

    def __init__(
        self,
        load: Callable[[_der.SubjectPublicKeyInfo, bytes], Any],
        errors: tuple[type[BaseException], ...],
        size: int = 256,
    ) -> None:
        self._load = load
        self._errors: tuple[type[BaseException], ...] = (_der.DERError, *errors)
        self._size = size
        self._keys: dict[bytes, tuple[_der.SubjectPublicKeyInfo, Any]] = {}

    def get(self, scheme: str, der: bytes) -> tuple[_der.SubjectPublicKeyInfo, Any]:
        """(parsed SPKI, the library's key object) or BadSignatureError naming ``scheme``."""
        cacheable = type(der) is bytes  # hashable and immutable: safe as a key
        if cacheable:
            cached = self._keys.get(der)
            if cached is not None:
                return cached
        try:
            spki = _der.parse_spki(der)
            entry = (spki, self._load(spki, der))
        except self._errors:
            raise BadSignatureError(f"{scheme}: public key is not a valid SubjectPublicKeyInfo") from None
        if cacheable:
            if len(self._keys) >= self._size:
                self._keys.clear()
            self._keys[der] = entry
        return entry


def pem_to_der(data: bytes) -> tuple[bytes, str | None]:
    """If ``data`` is PEM, return (DER of the first block, its label); else (data, None)."""
    import base64
    import binascii

    text = data.lstrip()
    if not text.startswith(b"-----BEGIN "):
        return data, None
    try:
        header, rest = text.split(b"\n", 1)
        label = header.strip()[len(b"-----BEGIN ") : -5].decode("ascii")
        body, _ = rest.split(b"-----END ", 1)
        lines = [ln for ln in body.splitlines() if ln.strip() and b":" not in ln]
        return base64.b64decode(b"".join(lines), validate=False), label
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return data, None


def is_encrypted_private_key(data: bytes) -> bool:
    """PKCS#8 EncryptedPrivateKeyInfo (PEM or DER) or legacy encrypted PEM."""
    der, label = pem_to_der(data)
    if label is not None:
        return label == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in data
    return _der.is_encrypted_pkcs8(der)


def check_password_use(data: bytes, password: bytes | None) -> None:
    """Same rule in every backend (cryptography's): a password exactly when encrypted."""
    encrypted = is_encrypted_private_key(data)
    if encrypted and password is None:
        raise KeyLoadError("the private key is encrypted: a password is needed")
    if not encrypted and password is not None:
        raise KeyLoadError("a password was given but the private key is not encrypted")


# ---------------------------------------------------------------------------
# Peer-input checks


def check_share_length(group: str, share: bytes, expected: int) -> None:
    if len(share) != expected:
        raise IllegalParameter(
            f"{group} key share has length {len(share)}, expected {expected}"
        )


def check_uncompressed_point(group: str, share: bytes, coord_len: int) -> None:
    """RFC 8446 4.2.8.2: only the uncompressed X9.62 form is allowed."""
    check_share_length(group, share, 1 + 2 * coord_len)
    if share[0] != 0x04:
        raise IllegalParameter(f"{group} key share is not an uncompressed point")


def check_nonzero_secret(group: str, secret: bytes) -> bytes:
    """RFC 8446 7.4.2: an all-zero (EC)DH result means a low-order peer point."""
    if hmac.compare_digest(secret, bytes(len(secret))):
        raise IllegalParameter(f"{group} shared secret is all zero (low-order peer share)")
    return secret


class KeyedAEADAlgorithm(AEADAlgorithm):
    """An AEAD algorithm whose ``new`` checks the key length and hands the key
    (as bytes) to the backend's ``bind``, which returns the per-key AEAD."""

    def __init__(self, name: str, key_length: int, bind: Callable[[bytes], AEAD]) -> None:
        self.name = name
        self.key_length = key_length
        self._bind = bind

    def new(self, key: bytes) -> AEAD:
        if len(key) != self.key_length:
            raise InternalError(f"{self.name} key must be {self.key_length} bytes, got {len(key)}")
        return self._bind(bytes(key))


# ---------------------------------------------------------------------------
# KEM-shaped groups


class DHGroup(KeyExchangeGroup):
    """(EC)DH as a KEM: the server's "encapsulation" is its own ephemeral share.

    Backends implement ``_generate`` (fresh key pair), ``_load_private`` (test
    hook: a state from fixed private bytes, so conformance vectors run through
    the real ``complete`` validation path) and ``_exchange`` (compute the raw
    shared secret from a peer share of the right length and form, mapping the
    library's refusal of the point to IllegalParameter).
    """

    #: length of a key share in either direction
    share_length: int
    client_share_length: int
    server_share_length: int

    def __init__(self, name: str) -> None:
        self.name = name
        self.code = GROUPS[name]
        self.client_share_length = self.server_share_length = self.share_length

    @abc.abstractmethod
    def _generate(self) -> tuple[Any, bytes]: ...

    @abc.abstractmethod
    def _load_private(self, raw: bytes) -> Any: ...

    @abc.abstractmethod
    def _exchange(self, private: Any, peer_share: bytes) -> bytes: ...

    def state_from_private_bytes(self, raw: bytes) -> Any:
        """Test hook: a client state holding the given private key."""
        return self._load_private(raw)

    def start(self) -> KeyExchange:
        private, share = self._generate()
        return KeyExchange(self, share, private)

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        # Validate the peer share before spending a key generation on it.
        self._check_share(peer_share)
        private, share = self._generate()
        return share, self._exchange(private, peer_share)

    def complete(self, state: Any, peer_share: bytes) -> bytes:
        self._check_share(peer_share)
        return self._exchange(state, peer_share)

    def _check_share(self, peer_share: bytes) -> None:
        check_share_length(self.name, peer_share, self.share_length)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class ECDHGroup(DHGroup):
    """ECDH on a NIST curve: shares are uncompressed X9.62 points (RFC 8446 4.2.8.2)."""

    def __init__(self, name: str, coord_len: int) -> None:
        self.coord_len = coord_len
        self.share_length = 1 + 2 * coord_len
        super().__init__(name)

    def _check_share(self, peer_share: bytes) -> None:
        check_uncompressed_point(self.name, peer_share, self.coord_len)


class MLKEMGroup(abc.ABC):
    """ML-KEM-768 in KEM shape (not a TLS group on its own; used by hybrids)."""

    name = "ML-KEM-768"
    client_share_length = 1184  # encapsulation key
    server_share_length = 1088  # ciphertext
    secret_length = 32

    @abc.abstractmethod
    def _generate(self) -> tuple[Any, bytes]:
        """A fresh decapsulation key: (state, encapsulation key)."""

    def start(self) -> KeyExchange:
        state, share = self._generate()
        return KeyExchange(self, share, state)  # type: ignore[arg-type]  # a component, not a TLS group

    @abc.abstractmethod
    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]: ...

    @abc.abstractmethod
    def complete(self, state: Any, peer_share: bytes) -> bytes: ...

    @abc.abstractmethod
    def state_from_seed(self, seed: bytes) -> Any:
        """Test hook: a decapsulation state from a 64-byte (d || z) seed."""

    @abc.abstractmethod
    def encapsulation_key(self, state: Any) -> bytes: ...


class HybridGroup(KeyExchangeGroup):
    """A hybrid group per draft-ietf-tls-ecdhe-mlkem: shares and secrets are the
    concatenation of the two components' shares and secrets, in the order the
    draft fixes (ML-KEM first for X25519MLKEM768, ECDH first for the NIST ones).
    Each component validates its own part, so a bad X25519 half or a bad ML-KEM
    key both end in IllegalParameter.
    """

    def __init__(self, name: str, first: Any, second: Any) -> None:
        self.name = name
        self.code = GROUPS[name]
        self.first = first
        self.second = second
        self.client_share_length = first.client_share_length + second.client_share_length
        self.server_share_length = first.server_share_length + second.server_share_length

    def start(self) -> KeyExchange:
        first, second = self.first.start(), self.second.start()
        return KeyExchange(self, first.share + second.share, (first, second))

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        check_share_length(self.name, peer_share, self.client_share_length)
        cut = self.first.client_share_length
        c1, ss1 = self.first.encapsulate(peer_share[:cut])
        c2, ss2 = self.second.encapsulate(peer_share[cut:])
        return c1 + c2, ss1 + ss2

    def complete(self, state: Any, peer_share: bytes) -> bytes:
        check_share_length(self.name, peer_share, self.server_share_length)
        cut = self.first.server_share_length
        first, second = state  # the components' KeyExchange objects
        return first.complete(peer_share[:cut]) + second.complete(peer_share[cut:])

    def __repr__(self) -> str:
        return f"<HybridGroup {self.name}>"
