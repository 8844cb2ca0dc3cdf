"""A worked example of a third-party provider (docs/providers.md walks through it).

``audited(inner)`` wraps another provider and records, in ``AUDIT_LOG``, which
algorithm was used for what -- names and sizes only, never keys, secrets or
plaintext. It implements only the public interface of tlskit.providers.base, as a
package outside tlskit would, and is published through the ``tlskit.providers``
entry-point group by the throwaway package the tests build (tests/test_providers_kit.py).

``broken(inner)`` is the same wrapper with two deliberate bugs the conformance kit
must catch: an AEAD that appends a wrong tag, and a signer that signs the wrong bytes.
"""

from __future__ import annotations

from typing import Any

from tlskit.providers import get_provider
from tlskit.providers.base import (
    AEAD,
    AEADAlgorithm,
    CipherSuite,
    HashAlgorithm,
    HashObject,
    KeyExchange,
    KeyExchangeGroup,
    PrivateKey,
    Provider,
    SignatureScheme,
)

#: (operation, algorithm) pairs, in order; a real provider would use logging or an HSM's audit trail
AUDIT_LOG: list[tuple[str, str]] = []


def _audit(operation: str, algorithm: str) -> None:
    AUDIT_LOG.append((operation, algorithm))


class AuditedAEAD(AEAD):
    def __init__(self, inner: AEAD, name: str) -> None:
        self._inner, self._name = inner, name

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        _audit("seal", self._name)
        return self._inner.seal(nonce, aad, plaintext)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        _audit("open", self._name)
        return self._inner.open(nonce, aad, ciphertext)


class AuditedAEADAlgorithm(AEADAlgorithm):
    aead_class: type[AuditedAEAD] = AuditedAEAD

    def __init__(self, inner: AEADAlgorithm) -> None:
        self._inner = inner
        self.name, self.key_length = inner.name, inner.key_length
        self.nonce_length, self.tag_length = inner.nonce_length, inner.tag_length

    def new(self, key: bytes) -> AEAD:
        _audit("aead key", self.name)
        return self.aead_class(self._inner.new(key), self.name)


class AuditedHash(HashAlgorithm):
    def __init__(self, inner: HashAlgorithm) -> None:
        self._inner = inner
        self.name, self.digest_size = inner.name, inner.digest_size

    def new(self, data: bytes = b"") -> HashObject:
        return self._inner.new(data)

    def hmac(self, key: bytes, data: bytes) -> bytes:
        return self._inner.hmac(key, data)


class AuditedGroup(KeyExchangeGroup):
    def __init__(self, inner: KeyExchangeGroup) -> None:
        self._inner = inner
        self.name, self.code = inner.name, inner.code

    def start(self) -> KeyExchange:
        _audit("key share", self.name)
        exchange = self._inner.start()
        # our state is the inner exchange: complete() hands it the peer's share
        return KeyExchange(self, exchange.share, exchange)

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        _audit("encapsulate", self.name)
        return self._inner.encapsulate(peer_share)

    def complete(self, state: Any, peer_share: bytes) -> bytes:
        _audit("complete", self.name)
        return state.complete(peer_share)


class AuditedScheme(SignatureScheme):
    def __init__(self, inner: SignatureScheme) -> None:
        self._inner = inner
        self.name, self.code = inner.name, inner.code

    def verify(self, public_key: bytes, message: bytes, signature: bytes, *, strict_curve: bool = True) -> None:
        _audit("verify", self.name)
        self._inner.verify(public_key, message, signature, strict_curve=strict_curve)


class AuditedKey(PrivateKey):
    def __init__(self, inner: PrivateKey) -> None:
        self._inner = inner
        self.schemes, self.legacy_schemes = inner.schemes, inner.legacy_schemes

    def sign(self, scheme: str, message: bytes) -> bytes:
        _audit("sign", scheme)
        return self._inner.sign(scheme, message)

    def public_key_der(self) -> bytes:
        return self._inner.public_key_der()

    def __repr__(self) -> str:  # never show the key
        return f"<AuditedKey {self.schemes}>"


def _wrap(inner: Provider, name: str, aead_cls: type[AuditedAEADAlgorithm], key_cls: type[AuditedKey]) -> Provider:
    aeads = {n: aead_cls(a) for n, a in inner.aead_algorithms.items()}
    hashes = {n: AuditedHash(h) for n, h in inner.hash_algorithms.items()}
    suites = {
        n: CipherSuite(s.name, s.code, aeads[s.aead.name], hashes[s.hash.name]) for n, s in inner.cipher_suites.items()
    }
    return Provider(
        name=name,
        cipher_suites=suites,
        groups={n: AuditedGroup(g) for n, g in inner.groups.items()},
        signature_schemes={n: AuditedScheme(s) for n, s in inner.signature_schemes.items()},
        key_loader=lambda data, password: key_cls(inner.load_private_key(data, password)),
        random_source=inner.random,
        versions={"audited-example": "1.0", **inner.versions},
        aead_algorithms=aeads,
        hash_algorithms=hashes,
    )


def audited(inner: str = "pynacl", name: str = "audited") -> Provider:
    """``inner``'s algorithms with every use recorded in AUDIT_LOG."""
    return _wrap(get_provider(inner), name, AuditedAEADAlgorithm, AuditedKey)


# --- the deliberately broken variant -------------------------------------------------


class WrongTagAEAD(AuditedAEAD):
    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        sealed = super().seal(nonce, aad, plaintext)
        return sealed[:-1] + bytes([sealed[-1] ^ 0x01])  # BUG: the last tag byte is wrong


class WrongTagAEADAlgorithm(AuditedAEADAlgorithm):
    aead_class = WrongTagAEAD


class WrongBytesKey(AuditedKey):
    def sign(self, scheme: str, message: bytes) -> bytes:
        return super().sign(scheme, message + b"\x00")  # BUG: signs other bytes than asked


def broken(inner: str = "pynacl", name: str = "broken") -> Provider:
    """A provider with a wrong AEAD tag and a signer that signs the wrong bytes."""
    return _wrap(get_provider(inner), name, WrongTagAEADAlgorithm, WrongBytesKey)
