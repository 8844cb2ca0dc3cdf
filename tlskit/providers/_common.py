"""Pieces every backend shares: peer-input checks, a strict DER reader for
SubjectPublicKeyInfo/PKCS#8 headers, the KEM-shaped group skeletons and the
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

from tlskit.errors import BadSignatureError, IllegalParameter, InternalError, KeyLoadError
from tlskit.providers.base import AEAD, AEADAlgorithm, CipherSuite, HashAlgorithm, KeyExchange, KeyExchangeGroup
from tlskit.providers.names import CIPHER_SUITES, GROUPS, SIGNATURE_SCHEMES


# ---------------------------------------------------------------------------
# Cipher suites

#: which AEAD and hash make up each TLS 1.3 suite, in default preference order
SUITE_PARTS: dict[str, tuple[str, str]] = {
    "TLS_AES_128_GCM_SHA256": ("AES-128-GCM", "sha256"),
    "TLS_AES_256_GCM_SHA384": ("AES-256-GCM", "sha384"),
    "TLS_CHACHA20_POLY1305_SHA256": ("ChaCha20-Poly1305", "sha256"),
}


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
HASH_LENGTHS = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}

# ---------------------------------------------------------------------------
# Minimal strict DER reader. Only what is needed to look at the algorithm
# identifier of a SubjectPublicKeyInfo / PKCS#8 PrivateKeyInfo (e.g. to tell an
# RSASSA-PSS key from an rsaEncryption one, which the libraries hide).


class DERError(ValueError):
    pass


def der_read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """Read one TLV at ``pos``: (tag, content, next_pos). Definite, minimal lengths only."""
    try:
        tag = data[pos]
        first = data[pos + 1]
    except IndexError:
        raise DERError("truncated DER") from None
    pos += 2
    if first < 0x80:
        length = first
    elif first == 0x80 or first > 0x84:
        raise DERError("unsupported DER length")
    else:
        n = first & 0x7F
        raw = data[pos : pos + n]
        if len(raw) != n or raw[0] == 0:
            raise DERError("bad DER length")
        length = int.from_bytes(raw, "big")
        if length < 0x80:
            raise DERError("non-minimal DER length")
        pos += n
    end = pos + length
    if end > len(data):
        raise DERError("truncated DER")
    return tag, data[pos:end], end


def der_encode(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


OID_RSA_ENCRYPTION = bytes.fromhex("2a864886f70d010101")
OID_RSASSA_PSS = bytes.fromhex("2a864886f70d01010a")
OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
OID_ED25519 = bytes.fromhex("2b6570")
OID_ED448 = bytes.fromhex("2b6571")
CURVE_OIDS = {
    bytes.fromhex("2a8648ce3d030107"): "secp256r1",
    bytes.fromhex("2b81040022"): "secp384r1",
    bytes.fromhex("2b81040023"): "secp521r1",
}


@dataclass(frozen=True)
class SPKI:
    algorithm: bytes  # OID content bytes
    parameters: bytes | None  # full TLV of the parameters, if any
    key: bytes  # BIT STRING payload without the unused-bits byte

    @property
    def curve(self) -> str | None:
        if self.algorithm != OID_EC_PUBLIC_KEY or self.parameters is None:
            return None
        try:
            tag, content, _ = der_read(self.parameters)
        except DERError:
            return None
        return CURVE_OIDS.get(content) if tag == 0x06 else None


def parse_spki(der: bytes) -> SPKI:
    """Parse a DER SubjectPublicKeyInfo strictly; raise DERError if malformed."""
    tag, body, end = der_read(der)
    if tag != 0x30 or end != len(der):
        raise DERError("SPKI is not a single SEQUENCE")
    tag, alg, pos = der_read(body)
    if tag != 0x30:
        raise DERError("bad AlgorithmIdentifier")
    tag, key_bits, rest = der_read(body, pos)
    if tag != 0x03 or rest != len(body) or not key_bits or key_bits[0] != 0:
        raise DERError("bad subjectPublicKey")
    tag, oid, apos = der_read(alg)
    if tag != 0x06:
        raise DERError("bad algorithm OID")
    params = alg[apos:] or None
    if params is not None:
        _, _, pend = der_read(params)
        if pend != len(params):
            raise DERError("trailing data in AlgorithmIdentifier")
    return SPKI(oid, params, key_bits[1:])


def pkcs8_algorithm_identifier(der: bytes) -> bytes | None:
    """The whole AlgorithmIdentifier TLV of an unencrypted PKCS#8 PrivateKeyInfo, or None."""
    try:
        tag, body, _ = der_read(der)
        if tag != 0x30:
            return None
        tag, _version, pos = der_read(body)
        if tag != 0x02:
            return None
        tag, _, end = der_read(body, pos)
        return body[pos:end] if tag == 0x30 else None
    except DERError:
        return None


def pkcs8_algorithm(der: bytes) -> bytes | None:
    """The algorithm OID of an unencrypted PKCS#8 PrivateKeyInfo, or None."""
    identifier = pkcs8_algorithm_identifier(der)
    if identifier is None:
        return None
    try:
        _, alg, _ = der_read(identifier)
        tag, oid, _ = der_read(alg)
    except DERError:
        return None
    return oid if tag == 0x06 else None


def rsassa_pss_spki(rsa_public_key_pkcs1: bytes, algorithm_identifier: bytes | None = None) -> bytes:
    """An RSASSA-PSS SubjectPublicKeyInfo for a PKCS#1 RSAPublicKey.

    ``algorithm_identifier`` (the key's own, with its RSASSA-PSS-params) is kept
    byte for byte so the SPKI matches the one in the key's certificate.
    """
    alg = algorithm_identifier or der_encode(0x30, der_encode(0x06, OID_RSASSA_PSS))
    return der_encode(0x30, alg + der_encode(0x03, b"\x00" + rsa_public_key_pkcs1))


HASH_OIDS = {
    bytes.fromhex("608648016503040201"): "sha256",
    bytes.fromhex("608648016503040202"): "sha384",
    bytes.fromhex("608648016503040203"): "sha512",
    bytes.fromhex("2b0e03021a"): "sha1",
}


def pss_key_hash(parameters: bytes | None) -> str | None:
    """The hash an RSASSA-PSS key is restricted to by its parameters (RFC 4055),
    or None when the key carries no parameters (any hash). An absent
    hashAlgorithm means SHA-1; an unknown one gives "unknown". Raises DERError."""
    if parameters is None:
        return None
    tag, body, end = der_read(parameters)
    if tag != 0x30 or end != len(parameters):
        raise DERError("bad RSASSA-PSS-params")
    if not body or body[0] != 0xA0:
        return "sha1"
    _, explicit, _ = der_read(body)
    tag, alg, _ = der_read(explicit)
    if tag != 0x30:
        raise DERError("bad hashAlgorithm")
    tag, oid, _ = der_read(alg)
    if tag != 0x06:
        raise DERError("bad hashAlgorithm OID")
    return HASH_OIDS.get(oid, "unknown")


def pss_key_schemes(parameters: bytes | None) -> tuple[str, ...]:
    """The rsa_pss_pss_* schemes an RSASSA-PSS key may sign with."""
    try:
        restricted = pss_key_hash(parameters)
    except DERError:
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
        spki = parse_spki(spki_der)
    except DERError:
        raise KeyLoadError("the key's public part is not a valid SubjectPublicKeyInfo") from None
    if spki.algorithm == OID_RSA_ENCRYPTION:
        return RSA_PSS_RSAE_SCHEMES
    if spki.algorithm == OID_RSASSA_PSS:
        return pss_key_schemes(spki.parameters)
    if spki.algorithm == OID_EC_PUBLIC_KEY:
        if spki.curve is None:
            raise KeyLoadError("EC key on a curve TLS 1.3 cannot sign with")
        return (CURVE_SCHEME[spki.curve],)
    if spki.algorithm == OID_ED25519:
        return ("ed25519",)
    if spki.algorithm == OID_ED448:
        return ("ed448",)
    raise KeyLoadError("unsupported private key type (RSA, EC on P-256/384/521, Ed25519 and Ed448 can sign)")


RSA_PKCS1_SCHEMES = ("rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512")


def legacy_signing_schemes(spki_der: bytes) -> tuple[str, ...]:
    """The TLS 1.2-only schemes (PrivateKey.legacy_schemes) a key can sign with: RSA
    PKCS#1 v1.5 for an rsaEncryption key, nothing for any other key."""
    try:
        spki = parse_spki(spki_der)
    except DERError:
        return ()
    return RSA_PKCS1_SCHEMES if spki.algorithm == OID_RSA_ENCRYPTION else ()


def check_pss_key_allows(scheme: str, hash_name: str, parameters: bytes | None) -> None:
    """Verification side of pss_key_schemes: the key's parameters must allow the scheme's hash."""
    try:
        restricted = pss_key_hash(parameters)
    except DERError:
        raise BadSignatureError(f"{scheme}: malformed RSASSA-PSS parameters") from None
    if restricted is not None and restricted != hash_name:
        raise BadSignatureError(f"{scheme}: key is restricted to {restricted}")


def check_scheme_key(info: SchemeInfo, spki: SPKI, *, strict_curve: bool) -> None:
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
        wanted = OID_RSASSA_PSS if info.kind == "rsa_pss_pss" else OID_RSA_ENCRYPTION
        if spki.algorithm != wanted:
            raise BadSignatureError(f"{name}: wrong RSA key type")
        if info.kind == "rsa_pss_pss":
            check_pss_key_allows(name, info.hash_name, spki.parameters)
    elif info.kind in ("ed25519", "ed448"):
        if spki.algorithm != (OID_ED25519 if info.kind == "ed25519" else OID_ED448):
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
        load: Callable[[SPKI, bytes], Any],
        errors: tuple[type[BaseException], ...],
        size: int = 256,
    ) -> None:
        self._load = load
        self._errors: tuple[type[BaseException], ...] = (DERError, *errors)
        self._size = size
        self._keys: dict[bytes, tuple[SPKI, Any]] = {}

    def get(self, scheme: str, der: bytes) -> tuple[SPKI, Any]:
        """(parsed SPKI, the library's key object) or BadSignatureError naming ``scheme``."""
        cacheable = type(der) is bytes  # hashable and immutable: safe as a key
        if cacheable:
            cached = self._keys.get(der)
            if cached is not None:
                return cached
        try:
            spki = parse_spki(der)
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
    try:
        tag, body, _ = der_read(der)
        first_tag, _, _ = der_read(body)
    except DERError:
        return False
    # PrivateKeyInfo starts with INTEGER version; EncryptedPrivateKeyInfo with a SEQUENCE
    return tag == 0x30 and first_tag == 0x30


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
