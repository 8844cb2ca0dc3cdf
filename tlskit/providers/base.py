"""The provider interface: what a crypto backend must give the TLS engine.

Modelled on rustls' ``CryptoProvider``. A provider hands out *primitives only*:
AEADs, hashes (with HMAC/HKDF), KEM-shaped key-exchange groups, signature
verification and private-key signing, and randomness. Nonce construction,
HKDF-Expand-Label, the transcript and every protocol rule live in the engine.

Conventions every backend follows (the conformance suite checks them):

* Peer input that is malformed or dangerous (wrong-length key share, point not on
  the curve, compressed point, all-zero X25519/X448 result, ...) raises
  :class:`tlskit.errors.IllegalParameter` -- never a library-specific exception.
* AEAD authentication failure raises :class:`tlskit.errors.BadRecordMac`.
* A signature that does not verify raises :class:`tlskit.errors.BadSignatureError`;
  a public key of the wrong type/curve for the scheme raises it too.
* Public keys are passed as DER ``SubjectPublicKeyInfo`` bytes so that the engine
  and ``tlskit.pki`` never hand one library's objects to another.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, TypeVar

from tlskit.errors import UnsupportedAlgorithm


class HashObject(Protocol):
    """An incremental hash (hashlib-like)."""

    def update(self, data: bytes) -> None: ...
    def copy(self) -> "HashObject": ...
    def digest(self) -> bytes: ...


class HashAlgorithm(abc.ABC):
    """A hash with HMAC and HKDF (RFC 5869) built on it."""

    name: str  # "sha256" | "sha384"
    digest_size: int

    @abc.abstractmethod
    def new(self, data: bytes = b"") -> HashObject:
        """A fresh incremental hash, already fed ``data``."""

    def digest(self, data: bytes) -> bytes:
        h = self.new(data)
        return h.digest()

    @abc.abstractmethod
    def hmac(self, key: bytes, data: bytes) -> bytes: ...

    def hkdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        # RFC 5869: an absent salt is HashLen zero bytes.
        return self.hmac(salt or bytes(self.digest_size), ikm)

    def hkdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        # the one RFC 5869 loop lives in expander(); a backend overrides either
        return self.expander(prk)(info, length)


    def keyed_hmac(self, key: bytes) -> "Callable[[bytes], bytes]":
        """``hmac`` with ``key`` bound: ``keyed_hmac(key)(data)``.

        The key schedules MAC many messages under one key (HKDF-Expand of one secret into
        several, the TLS 1.2 PRF's A(i) chain), so a backend may key its HMAC once here and
        copy it per message; the default simply binds the argument."""
        mac = self.hmac
        return lambda data: mac(key, data)

    def expander(self, prk: bytes) -> "Callable[[bytes, int], bytes]":
        """``hkdf_expand`` with ``prk`` bound: ``expander(prk)(info, length)``, over
        ``keyed_hmac(prk)`` (RFC 5869 2.3)."""
        mac = self.keyed_hmac(prk)
        digest_size = self.digest_size

        def expand(info: bytes, length: int) -> bytes:
            if length > 255 * digest_size:
                raise ValueError("HKDF-Expand output too long")
            out: list[bytes] = []
            block = b""
            for counter in range(1, -(-length // digest_size) + 1):
                block = mac(b"".join((block, info, bytes((counter,)))))
                out.append(block)
            return b"".join(out)[:length]

        return expand


class AEAD(abc.ABC):
    """An AEAD bound to one key. Created once per traffic key, not per record."""

    @abc.abstractmethod
    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Return ciphertext || tag."""

    @abc.abstractmethod
    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        """Return the plaintext or raise :class:`tlskit.errors.BadRecordMac`."""


class AEADAlgorithm(abc.ABC):
    name: str  # "AES-128-GCM" | "AES-256-GCM" | "ChaCha20-Poly1305"
    key_length: int
    nonce_length: int = 12
    tag_length: int = 16

    @abc.abstractmethod
    def new(self, key: bytes) -> AEAD: ...


@dataclass(frozen=True)
class CipherSuite:
    """A TLS 1.3 cipher suite: an AEAD plus the hash of the key schedule."""

    name: str  # IANA name, e.g. "TLS_AES_128_GCM_SHA256"
    code: int
    aead: AEADAlgorithm
    hash: HashAlgorithm


class KeyExchange:
    """A client's key exchange in flight: the share it sends and how to finish it.

    ``group.start()`` returns one; ``complete(peer_share)`` gives the shared secret from
    the server's share (validated as ``encapsulate`` validates a client share). The
    private half stays inside (never in repr).
    """

    __slots__ = ("group", "share", "_state")

    def __init__(self, group: "KeyExchangeGroup", share: bytes, state: Any) -> None:
        self.group = group
        self.share = share
        self._state = state

    def complete(self, peer_share: bytes) -> bytes:
        return self.group.complete(self._state, peer_share)

    def __repr__(self) -> str:
        return f"<KeyExchange {self.group.name}>"


class KeyExchangeGroup(abc.ABC):
    """A key-exchange group shaped as a KEM so that (EC)DH and hybrid PQ groups
    look the same to the engine:

    client: ``kx = start()``, sends ``kx.share`` ... server: ``share, secret = encapsulate(client_share)``
    client: ``secret = kx.complete(server_share)``

    ``complete(state, peer_share)`` is the primitive behind ``KeyExchange.complete``
    (the conformance vectors call it with a state made from fixed private bytes).
    """

    name: str  # IANA name, e.g. "x25519", "secp256r1", "X25519MLKEM768"
    code: int

    @abc.abstractmethod
    def start(self) -> KeyExchange: ...

    @abc.abstractmethod
    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]: ...

    @abc.abstractmethod
    def complete(self, state: Any, peer_share: bytes) -> bytes: ...


class SignatureScheme(abc.ABC):
    """Verification for one TLS SignatureScheme (RFC 8446 section 4.2.3)."""

    name: str  # e.g. "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "ed25519"
    code: int

    @abc.abstractmethod
    def verify(
        self, public_key: bytes, message: bytes, signature: bytes, *, strict_curve: bool = True
    ) -> None:
        """Verify ``signature`` over ``message`` with a DER SubjectPublicKeyInfo.

        ``strict_curve``: TLS 1.3 binds each ECDSA scheme to one curve; X.509
        signatures do not (a P-256 key may sign with SHA-384), so ``tlskit.pki``
        passes ``strict_curve=False`` for certificate signatures.
        Raises :class:`tlskit.errors.BadSignatureError` on any failure.
        """


class PrivateKey(abc.ABC):
    """A private key loaded by a provider, able to sign with some schemes."""

    #: TLS signature schemes this key can sign CertificateVerify with, best first.
    schemes: tuple[str, ...]
    #: Schemes this key can sign with in TLS 1.2 only (rsa_pkcs1_* for an RSA key): legal in a
    #: TLS 1.2 ServerKeyExchange or CertificateVerify (RFC 5246 7.4.1.4.1), never in a TLS 1.3
    #: CertificateVerify (RFC 8446 4.2.3), which is why they are kept apart from ``schemes``.
    legacy_schemes: tuple[str, ...] = ()

    @abc.abstractmethod
    def sign(self, scheme: str, message: bytes) -> bytes: ...

    @abc.abstractmethod
    def public_key_der(self) -> bytes:
        """The matching DER SubjectPublicKeyInfo."""


_T = TypeVar("_T")


@dataclass
class Provider:
    """A crypto provider. Backends construct one of these with their parts.

    The dict orders are the provider's default preference orders.
    """

    name: str
    cipher_suites: Mapping[str, CipherSuite]
    groups: Mapping[str, KeyExchangeGroup]
    signature_schemes: Mapping[str, SignatureScheme]
    key_loader: Callable[[bytes, bytes | None], PrivateKey]  # (data, password) -> key
    random_source: Callable[[int], bytes]  # n -> n random bytes
    versions: Mapping[str, str] = field(default_factory=dict)  # library -> version
    parts: Mapping[str, str] = field(default_factory=dict)  # for composed providers
    # Added for compose(): AEADs and hashes a backend implements even when it cannot
    # form a whole suite with them (e.g. libsodium AES-256-GCM without SHA-384).
    # Left empty, they are filled from cipher_suites.
    aead_algorithms: Mapping[str, AEADAlgorithm] = field(default_factory=dict)
    hash_algorithms: Mapping[str, HashAlgorithm] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.aead_algorithms:
            self.aead_algorithms = {s.aead.name: s.aead for s in self.cipher_suites.values()}
        if not self.hash_algorithms:
            self.hash_algorithms = {s.hash.name: s.hash for s in self.cipher_suites.values()}

    def group(self, name: str) -> KeyExchangeGroup:
        """The named group, or UnsupportedAlgorithm naming this provider."""
        return self._lookup(self.groups, "group", name)

    def cipher_suite(self, name: str) -> CipherSuite:
        return self._lookup(self.cipher_suites, "cipher suite", name)

    def signature_scheme(self, name: str) -> SignatureScheme:
        return self._lookup(self.signature_schemes, "signature scheme", name)

    def aead(self, name: str) -> AEADAlgorithm:
        """An AEAD by name ("AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305")."""
        return self._lookup(self.aead_algorithms, "AEAD", name)

    def hash(self, name: str) -> HashAlgorithm:
        """A hash by name ("sha256", "sha384")."""
        return self._lookup(self.hash_algorithms, "hash", name)

    def _lookup(self, table: Mapping[str, _T], kind: str, name: str) -> _T:
        try:
            return table[name]
        except KeyError:
            raise UnsupportedAlgorithm(self.name, kind, name) from None

    def load_private_key(self, data: bytes, password: bytes | None = None) -> PrivateKey:
        """Load a PEM or DER private key (PKCS#8 or traditional)."""
        return self.key_loader(data, password)

    def random(self, n: int) -> bytes:
        return self.random_source(n)

    def __repr__(self) -> str:
        return f"<Provider {self.name}>"
