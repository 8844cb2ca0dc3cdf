"""The pynacl provider's direct libsodium calls (issue 17) against independent references.

Every fast path (libsodium's incremental SHA-256/HMAC states reached in PyNaCl's shared
object, the one-call SHA-256, AEADs, X25519 and Ed25519 through PyNaCl's compiled
binding without its Python wrappers) is compared with the standard library,
pyca/cryptography or the public PyNaCl API, on the inputs where a shortcut would go
wrong: empty, block-sized and long inputs, buffer types other than bytes, keys used in
turn, tampered bytes, malformed peer input; and each builder must refuse a binding that
misbehaves, so the provider falls back instead of answering wrongly.
"""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from tlskit.providers import available_providers, get_provider

pytestmark = pytest.mark.skipif("pynacl" not in available_providers(), reason="pynacl is not installed")

import nacl.bindings as sodium  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from tlskit.errors import BadRecordMac, BadSignatureError, IllegalParameter, TLSError  # noqa: E402
from tlskit.providers import _sodium_direct as direct  # noqa: E402
from tlskit.providers import backend_pynacl as backend  # noqa: E402
from tlskit.providers.base import HashAlgorithm  # noqa: E402

KEY_LENGTHS = (0, 1, 31, 32, 63, 64, 65, 128, 200)
DATA = (b"", b"x", bytes(range(55)), bytes(range(56)), bytes(range(64)), bytes(range(256)) * 7 + b"\x01")
TIERS = ("state", "compiled", "public")


def test_every_direct_path_passes_its_self_test_here() -> None:
    # PyNaCl bundles libsodium and exports its symbols: on this machine every fast path is on.
    assert backend._SHA256 is not None
    assert backend._STATES is not None
    assert backend._SCALARMULT is not None and backend._ED25519 is not None
    assert all(calls is not None for calls in backend._AEAD_CALLS.values())
    assert get_provider("pynacl").hash("sha256").tier == "state"


def _tier(name: str) -> backend.SodiumSHA256:
    if name == "state":
        h = backend.SodiumSHA256()
    elif name == "compiled":
        h = backend.SodiumSHA256(states=None)
    else:
        h = backend.SodiumSHA256(oneshot=direct.public_sha256, states=None)
    assert h.tier == name
    return h


@pytest.fixture(params=TIERS)
def sha(request: pytest.FixtureRequest) -> backend.SodiumSHA256:
    return _tier(request.param)


# ---------------------------------------------------------------------------
# SHA-256, HMAC, HKDF


def test_digest_matches_hashlib(sha: backend.SodiumSHA256) -> None:
    for data in DATA:
        expected = hashlib.sha256(data).digest()
        assert sha.digest(data) == expected
        assert sha.digest(bytearray(data)) == expected
        assert sha.digest(memoryview(data)) == expected
        assert sha.new(data).digest() == expected
    wide = memoryview(bytes(range(64))).cast("I")  # bytes, not items, are hashed
    assert sha.digest(wide) == hashlib.sha256(bytes(range(64))).digest()
    strided = memoryview(bytes(range(64)))[::2]  # not contiguous: hashed as its bytes
    expected = hashlib.sha256(strided.tobytes()).digest()
    assert sha.digest(strided) == expected
    assert sha.new(strided).digest() == expected
    assert sha.hmac(b"k" * 32, strided) == hmac.digest(b"k" * 32, strided.tobytes(), "sha256")
    assert sha.keyed_hmac(b"k")(strided) == hmac.digest(b"k", strided.tobytes(), "sha256")


def test_incremental_hash_matches_hashlib_on_random_splits(sha: backend.SodiumSHA256) -> None:
    rng = random.Random(17)
    for _ in range(20):
        ours, ref = sha.new(), hashlib.sha256()
        for _ in range(rng.randrange(1, 12)):
            chunk = rng.randbytes(rng.choice((0, 1, 5, 63, 64, 65, 300, 2000)))
            ours.update(rng.choice((bytes, bytearray, memoryview))(chunk))
            ref.update(chunk)
            # reading the running hash (twice) never changes it
            assert ours.digest() == ref.digest()
            assert ours.digest() == ref.digest()


def test_copies_of_the_hash_go_on_independently(sha: backend.SodiumSHA256) -> None:
    h = sha.new(b"ClientHello")
    before = h.digest()
    twin = h.copy()
    twin.update(b"ServerHello")
    assert h.digest() == before == hashlib.sha256(b"ClientHello").digest()
    assert twin.digest() == hashlib.sha256(b"ClientHelloServerHello").digest()
    h.update(b"other")
    assert twin.digest() == hashlib.sha256(b"ClientHelloServerHello").digest()
    assert h.digest() == hashlib.sha256(b"ClientHelloother").digest()
    h.update(b"")  # an empty update keeps the value (the buffered tier keeps its cached digest)
    assert h.digest() == hashlib.sha256(b"ClientHelloother").digest()


@pytest.mark.parametrize("key_length", KEY_LENGTHS)
def test_hmac_matches_the_standard_library(sha: backend.SodiumSHA256, key_length: int) -> None:
    key = bytes((7 * i + key_length) % 256 for i in range(key_length))
    mac = sha.keyed_hmac(bytearray(key))
    for data in DATA:
        expected = hmac.digest(key, data, "sha256")
        assert sha.hmac(key, data) == expected
        assert sha.hmac(bytearray(key), memoryview(data)) == expected
        assert mac(data) == expected
        assert mac(bytearray(data)) == expected


def test_keyed_hmacs_of_alternating_keys_stay_apart(sha: backend.SodiumSHA256) -> None:
    keys = (bytes(32), bytes(31) + b"\x01", b"k" * 100)
    macs = [sha.keyed_hmac(k) for k in keys]
    for i in range(9):
        key, mac = keys[i % 3], macs[i % 3]
        assert mac(b"m%d" % i) == hmac.digest(key, b"m%d" % i, "sha256")
        assert sha.hmac(key, b"m") == hmac.digest(key, b"m", "sha256")


def test_hkdf_expand_single_block_path_matches_the_rfc5869_loop(sha: backend.SodiumSHA256) -> None:
    prk = bytes(range(32))
    for length in (0, 1, 12, 16, 31, 32, 33, 64, 100):
        for info in (b"", b"\x00\x10\x09tls13 key\x00", bytearray(b"label")):
            expected = HashAlgorithm.hkdf_expand(sha, prk, bytes(info), length)
            assert sha.hkdf_expand(prk, info, length) == expected
            assert sha.expander(prk)(bytes(info), length) == expected
    with pytest.raises(ValueError):
        sha.hkdf_expand(prk, b"", 255 * 32 + 1)


# ---------------------------------------------------------------------------
# Fallbacks: a misbehaving private binding is refused at import


class _Wrapping:
    """A stand-in for a binding: the real one, with some functions replaced."""

    def __init__(self, real: object, **replaced: object) -> None:
        self._real = real
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def test_a_one_call_digest_that_misbehaves_is_refused() -> None:
    lib, ffi = direct.compiled()
    assert direct.make_sha256(lib, ffi) is not None
    silent = _Wrapping(lib, crypto_hash_sha256=lambda out, data, n: 0)  # writes nothing
    assert direct.make_sha256(silent, ffi) is None
    shifted = _Wrapping(lib, crypto_hash_sha256=lambda out, data, n: lib.crypto_hash_sha256(out, data, max(n - 1, 0)))
    assert direct.make_sha256(shifted, ffi) is None
    assert direct.make_sha256(object(), ffi) is None  # no such function at all


def test_state_functions_that_misbehave_are_refused() -> None:
    opened = direct.open_state_library()
    assert opened is not None
    lib, ffi = opened
    reference = direct.public_sha256
    assert direct.make_state_sha256(opened, reference) is not None
    assert direct.make_state_sha256(opened, reference, direct.compiled()[1]) is not None  # the provider's way
    assert direct.make_state_sha256(None, reference) is None
    # an update that drops its input, a final that writes nothing, an HMAC that ignores its key
    broken = (
        {"crypto_hash_sha256_update": lambda state, data, n: 0},
        {"crypto_hash_sha256_final": lambda state, out: 0},
        {"crypto_auth_hmacsha256_init": lambda state, key, n: lib.crypto_auth_hmacsha256_init(state, b"", 0)},
        {"crypto_hash_sha256_statebytes": lambda: 8},  # an implausible size
        {"crypto_auth_hmacsha256": lambda out, data, n, key: lib.crypto_auth_hmacsha256(out, data, n, bytes(32))},
        {"crypto_auth_hmacsha256_keybytes": lambda: 64},
    )
    for replaced in broken:
        assert direct.make_state_sha256((_Wrapping(lib, **replaced), ffi), reference) is None
        assert direct.make_state_sha256((_Wrapping(lib, **replaced), ffi), reference, direct.compiled()[1]) is None
    # a reference the states disagree with (as if the one-call digest were another hash)
    assert direct.make_state_sha256(opened, lambda data: hashlib.sha3_256(data).digest()) is None


def test_the_state_library_is_refused_when_it_cannot_be_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    import nacl._sodium

    monkeypatch.setattr(nacl._sodium, "__file__", "/nonexistent/_sodium.so")
    assert direct.open_state_library() is None


def _pyca_aead(name: str, key: bytes) -> object:
    return ChaCha20Poly1305(key) if name == "ChaCha20-Poly1305" else AESGCM(key)


def test_aead_calls_that_misbehave_are_refused() -> None:
    lib, ffi = direct.compiled()
    prefix = "crypto_aead_chacha20poly1305_ietf"
    enc, dec = sodium.crypto_aead_chacha20poly1305_ietf_encrypt, sodium.crypto_aead_chacha20poly1305_ietf_decrypt
    assert direct.make_aead(lib, ffi, prefix, enc, dec) is not None
    accepting = _Wrapping(lib, **{f"{prefix}_decrypt": lambda *args: 0})  # accepts any tag
    assert direct.make_aead(accepting, ffi, prefix, enc, dec) is None

    def no_aad(c, clen, m, mlen, ad, adlen, nsec, npub, k):  # ignores the associated data
        return lib.crypto_aead_chacha20poly1305_ietf_encrypt(c, clen, m, mlen, b"", 0, nsec, npub, k)

    assert direct.make_aead(_Wrapping(lib, **{f"{prefix}_encrypt": no_aad}), ffi, prefix, enc, dec) is None
    assert direct.make_aead(lib, ffi, "crypto_aead_no_such_thing", enc, dec) is None


def test_x25519_and_ed25519_calls_that_misbehave_are_refused() -> None:
    lib, ffi = direct.compiled()
    assert direct.make_scalarmult(lib, ffi) is not None and direct.make_ed25519(lib, ffi) is not None

    def no_refusal(out, n, p):  # computes, but never refuses a low-order point
        lib.crypto_scalarmult(out, n, p)
        return 0

    assert direct.make_scalarmult(_Wrapping(lib, crypto_scalarmult=no_refusal), ffi) is None
    assert direct.make_ed25519(_Wrapping(lib, crypto_sign_open=lambda *args: 0), ffi) is None  # accepts all
    assert direct.make_ed25519(_Wrapping(lib, crypto_sign=lambda *args: 0), ffi) is None  # signs nothing


# ---------------------------------------------------------------------------
# AEADs


def _aeads(name: str) -> list:
    c_name = {"ChaCha20-Poly1305": "crypto_aead_chacha20poly1305_ietf", "AES-256-GCM": "crypto_aead_aes256gcm"}[name]
    stem = c_name.replace("crypto_aead_", "")
    enc = getattr(sodium, f"crypto_aead_{stem}_encrypt")
    dec = getattr(sodium, f"crypto_aead_{stem}_decrypt")
    return [backend._aead(name, c_name, enc, dec), backend._aead(name, c_name, enc, dec, direct=False)]


AEAD_NAMES = ["ChaCha20-Poly1305"] + (["AES-256-GCM"] if backend.aes256gcm_available() else [])
SIZES = (0, 1, 15, 16, 17, 64, 200, 1000, 2**14 + 1)


@pytest.mark.parametrize("name", AEAD_NAMES)
def test_aead_matches_pyca_for_direct_and_fallback(name: str) -> None:
    direct_alg, public_alg = _aeads(name)
    rng = random.Random(name)
    keys = [rng.randbytes(32) for _ in range(2)]
    ours = [(direct_alg.new(k), public_alg.new(k), _pyca_aead(name, k)) for k in keys]
    assert type(ours[0][0]).__name__ == "_DirectAEAD" and type(ours[0][1]).__name__ == "_SodiumAEAD"
    for i, size in enumerate(SIZES):
        fast, slow, ref = ours[i % 2]  # the two keys in turn
        nonce, aad, plaintext = rng.randbytes(12), rng.randbytes(i % 6), rng.randbytes(size)
        sealed = ref.encrypt(nonce, plaintext, aad)
        assert fast.seal(nonce, aad, plaintext) == sealed == slow.seal(nonce, aad, plaintext)
        assert fast.seal(bytearray(nonce), memoryview(aad), bytearray(plaintext)) == sealed
        assert fast.open(nonce, aad, sealed) == plaintext == slow.open(nonce, aad, sealed)
        assert fast.open(nonce, aad, bytearray(sealed)) == plaintext
        other_fast = ours[(i + 1) % 2][0]  # the other key refuses it
        with pytest.raises(BadRecordMac):
            other_fast.open(nonce, aad, sealed)


@pytest.mark.parametrize("name", AEAD_NAMES)
def test_every_tampered_byte_is_bad_record_mac(name: str) -> None:
    for aead_alg in _aeads(name):
        aead = aead_alg.new(bytes(range(32)))
        nonce, aad = bytes(12), b"\x17\x03\x03\x00\x30"
        sealed = aead.seal(nonce, aad, b"handshake bytes!" * 2)
        for position in range(len(sealed)):
            tampered = bytearray(sealed)
            tampered[position] ^= 0x80
            with pytest.raises(BadRecordMac):
                aead.open(nonce, aad, bytes(tampered))
        for bad in (b"", sealed[:15], sealed[:-1], sealed + b"\x00"):
            with pytest.raises(BadRecordMac):
                aead.open(nonce, aad, bad)
        with pytest.raises(BadRecordMac):
            aead.open(nonce, aad + b"x", sealed)
        with pytest.raises(BadRecordMac):
            aead.open(nonce[:11], aad, sealed)
        with pytest.raises(TLSError):  # a nonce of the wrong length never reaches libsodium
            aead.seal(nonce + b"\x00", aad, b"m")


# ---------------------------------------------------------------------------
# X25519

LOW_ORDER = (
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
)


@pytest.mark.parametrize("use_direct", [True, False])
def test_x25519_agrees_with_pyca_and_refuses_bad_shares(use_direct: bool) -> None:
    group = backend.SodiumX25519(direct=use_direct)
    assert (group._scalarmult is backend._public_scalarmult) is not use_direct
    for _ in range(4):
        peer = X25519PrivateKey.generate()
        peer_share = peer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        kx = group.start()
        ours = kx.complete(peer_share)
        assert ours == peer.exchange(X25519PublicKey.from_public_bytes(kx.share))
        share, secret = group.encapsulate(peer_share)
        assert secret == peer.exchange(X25519PublicKey.from_public_bytes(share))
    for bad in LOW_ORDER:
        with pytest.raises(IllegalParameter):
            group.encapsulate(bad)
        with pytest.raises(IllegalParameter):
            group.start().complete(bad)
    for bad in (b"", bytes(31), peer_share + b"\x00"):
        with pytest.raises(IllegalParameter):
            group.encapsulate(bad)


# ---------------------------------------------------------------------------
# Ed25519


def _pyca_ed25519(seed: bytes) -> tuple[Ed25519PrivateKey, bytes]:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    return key, key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("use_direct", [True, False])
def test_ed25519_signs_as_pyca_and_verifies_alternating_keys(use_direct: bool) -> None:
    scheme = backend.SodiumEd25519(direct=use_direct)
    seeds = [bytes(range(32)), bytes(32), b"\xff" * 32]
    keys = [(backend.SodiumEd25519PrivateKey(s, direct=use_direct), *_pyca_ed25519(s)) for s in seeds]
    for i, message in enumerate(DATA * 2):
        ours, ref, spki = keys[i % 3]
        assert ours.public_key_der() == spki
        signature = ours.sign("ed25519", message)
        assert signature == ref.sign(message)  # Ed25519 is deterministic
        scheme.verify(spki, message, signature)
        scheme.verify(bytearray(spki), bytearray(message), memoryview(signature))
        other_spki = keys[(i + 1) % 3][2]  # the next key (from the cache, too) refuses it
        with pytest.raises(BadSignatureError):
            scheme.verify(other_spki, message, signature)
        with pytest.raises(BadSignatureError):
            scheme.verify(spki, message + b"!", signature)
        tampered = bytearray(signature)
        tampered[i % 64] ^= 1
        with pytest.raises(BadSignatureError):
            scheme.verify(spki, message, bytes(tampered))
        for bad in (b"", signature[:63], signature + b"\x00"):
            with pytest.raises(BadSignatureError, match="64 bytes"):
                scheme.verify(spki, message, bad)


@pytest.mark.parametrize("use_direct", [True, False])
def test_ed25519_malformed_keys_give_the_same_typed_errors_every_time(use_direct: bool) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    scheme = backend.SodiumEd25519(direct=use_direct)
    _, spki = _pyca_ed25519(bytes(range(32)))
    signature = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).sign(b"m")
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    for _ in range(2):  # the second time would come from a cache if a refusal were kept
        with pytest.raises(BadSignatureError, match="not a valid SubjectPublicKeyInfo"):
            scheme.verify(spki[:-1], b"m", signature)
        with pytest.raises(BadSignatureError, match="not a valid SubjectPublicKeyInfo"):
            scheme.verify(b"", b"m", signature)
        with pytest.raises(BadSignatureError, match="not an Ed25519 public key"):
            scheme.verify(p256, b"m", signature)
        scheme.verify(spki, b"m", signature)
    assert spki in scheme._keys._keys and p256 not in scheme._keys._keys


# ---------------------------------------------------------------------------
# The whole provider on its fallbacks: the conformance kit (Wycheproof vectors, peer
# input, handshakes against pyca/cryptography) passes as on the direct paths.


@pytest.mark.parametrize("lost", ["states", "everything"])
def test_the_provider_on_its_fallbacks_is_conformant(monkeypatch: pytest.MonkeyPatch, lost: str) -> None:
    from tlskit.providers.testing import assert_conformant

    monkeypatch.setattr(backend, "_STATES", None)  # as if the incremental functions failed their self-test
    if lost == "everything":  # as if every direct call failed its self-test
        monkeypatch.setattr(backend, "_SHA256", None)
        monkeypatch.setattr(backend, "_SCALARMULT", None)
        monkeypatch.setattr(backend, "_ED25519", None)
        monkeypatch.setattr(backend, "_AEAD_CALLS", dict.fromkeys(backend._AEAD_CALLS))
    provider = backend.build()
    sha = provider.hash("sha256")
    assert sha.tier == ("public" if lost == "everything" else "compiled")
    aead = type(provider.aead("ChaCha20-Poly1305").new(bytes(32))).__name__
    assert aead == ("_SodiumAEAD" if lost == "everything" else "_DirectAEAD")
    assert (provider.group("x25519")._scalarmult is backend._public_scalarmult) is (lost == "everything")
    assert_conformant(provider, peers=["cryptography"])
