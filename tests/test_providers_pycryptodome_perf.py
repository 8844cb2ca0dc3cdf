"""The pycryptodome provider's fast paths (issue 17) against independent references.

Each shortcut the provider takes instead of the library's own object per call
(HMAC over the one-call digest, the single-block HKDF-Expand, AES-GCM and
ChaCha20-Poly1305 composed from the library's block/stream cipher and MAC) is
compared here with the standard library, the generic RFC 5869 loop or
pyca/cryptography, on the inputs where a shortcut would go wrong: keys around the
hash's block size, empty, block-aligned and record-sized inputs, buffer types
other than bytes, two keys used in turn, every tampered byte, and a library whose
private pieces changed (the provider must fall back, not misbehave).
"""

from __future__ import annotations

import hashlib
import hmac
import types

import pytest

from tlskit.providers import available_providers, get_provider
from tlskit.providers.base import HashAlgorithm

pytestmark = pytest.mark.skipif(
    "pycryptodome" not in available_providers(), reason="pycryptodome is not installed"
)

KEY_LENGTHS = (0, 1, 31, 32, 48, 63, 64, 65, 127, 128, 129, 200)


@pytest.fixture(params=["sha256", "sha384"])
def hash_alg(request: pytest.FixtureRequest) -> HashAlgorithm:
    return get_provider("pycryptodome").hash(request.param)


@pytest.mark.parametrize("key_length", KEY_LENGTHS)
def test_hmac_matches_the_standard_library(hash_alg: HashAlgorithm, key_length: int) -> None:
    key = bytes((7 * i + key_length) % 256 for i in range(key_length))
    for data in (b"", b"x", bytes(range(256)) * 3):
        expected = hmac.digest(key, data, hash_alg.name)
        assert hash_alg.hmac(key, data) == expected
        assert hash_alg.hmac(bytearray(key), memoryview(data)) == expected


@pytest.mark.parametrize("key_length", KEY_LENGTHS)
def test_keyed_hmac_matches_the_standard_library(hash_alg: HashAlgorithm, key_length: int) -> None:
    key = bytes((3 * i + 1) % 256 for i in range(key_length))
    mac = hash_alg.keyed_hmac(bytearray(key))
    for data in (b"", b"x", memoryview(bytes(range(200)))):
        assert mac(data) == hmac.digest(key, data, hash_alg.name)


def test_keyed_hmacs_of_alternating_keys_stay_apart(hash_alg: HashAlgorithm) -> None:
    keys = (bytes(32), bytes(31) + b"\x01")
    macs = [hash_alg.keyed_hmac(k) for k in keys]
    for i in range(4):
        assert macs[i % 2](b"m") == hmac.digest(keys[i % 2], b"m", hash_alg.name)
    expand = hash_alg.expander(keys[1])
    assert expand(b"info", 42) == _generic_expand(hash_alg, keys[1], b"info", 42)


def test_hmac_keys_that_differ_in_one_byte_give_different_tags(hash_alg: HashAlgorithm) -> None:
    # Alternating keys of the same length: nothing of one call may leak into the next.
    a, b = bytes(32), bytes(31) + b"\x01"
    for _ in range(3):
        assert hash_alg.hmac(a, b"m") == hmac.digest(a, b"m", hash_alg.name)
        assert hash_alg.hmac(b, b"m") == hmac.digest(b, b"m", hash_alg.name)


def test_digest_is_the_plain_hash(hash_alg: HashAlgorithm) -> None:
    for data in (b"", b"abc", bytes(range(256)) * 40):
        expected = hashlib.new(hash_alg.name, data).digest()
        assert hash_alg.digest(data) == expected
        assert hash_alg.digest(bytearray(data)) == expected
        assert hash_alg.digest(memoryview(data)) == expected
    # a memoryview of wider items hashes its bytes, not its item count
    wide = memoryview(bytes(range(64))).cast("I")
    assert hash_alg.digest(wide) == hashlib.new(hash_alg.name, bytes(range(64))).digest()


def test_the_cffi_digest_is_used_only_when_it_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-call digest through PyCryptodome's private cffi binding: used on cffi, and
    refused (public digest instead) on the ctypes backend or when the binding misbehaves."""
    from Crypto.Hash import SHA256
    from Crypto.Util import _raw_api

    from tlskit.providers import backend_pycryptodome as backend

    if _raw_api.backend == "cffi":
        fast = backend._cffi_oneshot(SHA256)
        assert fast is not None
        assert fast(b"abc") == hashlib.sha256(b"abc").digest()

    class Silent:  # returns success without writing the digest
        @staticmethod
        def SHA256_oneshot(*args: object) -> int:
            return 0

    monkeypatch.setattr(SHA256, "_raw_sha256_lib", Silent)
    assert backend._cffi_oneshot(SHA256) is None
    monkeypatch.setattr(_raw_api, "backend", "ctypes")
    assert backend._cffi_oneshot(SHA256) is None


def _generic_expand(hash_alg: HashAlgorithm, prk: bytes, info: bytes, length: int) -> bytes:
    return HashAlgorithm.hkdf_expand(hash_alg, prk, info, length)


def test_hkdf_expand_single_block_path_matches_the_rfc5869_loop(hash_alg: HashAlgorithm) -> None:
    prk = bytes(range(hash_alg.digest_size))
    for length in (0, 1, 12, 16, hash_alg.digest_size - 1, hash_alg.digest_size, hash_alg.digest_size + 1, 100):
        for info in (b"", b"\x00\x10\x09tls13 key\x00", bytearray(b"label")):
            assert hash_alg.hkdf_expand(prk, info, length) == _generic_expand(hash_alg, prk, bytes(info), length)
    with pytest.raises(ValueError):
        hash_alg.hkdf_expand(prk, b"", 255 * hash_alg.digest_size + 1)


def test_hmac_without_the_one_call_digest_agrees() -> None:
    """Older PyCryptodome releases lack ``SHA256.digest(data)``: the fallback must agree."""
    from Crypto.Hash import SHA256

    from tlskit.providers import backend_pycryptodome as backend

    only_new = types.SimpleNamespace(new=SHA256.new, digest_size=32, block_size=64)
    assert backend._oneshot(only_new)(b"abc") == hashlib.sha256(b"abc").digest()


# ---------------------------------------------------------------------------
# AES-GCM composed per traffic key (tlskit.providers._pycryptodome_gcm)

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from tlskit.errors import BadRecordMac, TLSError  # noqa: E402

SIZES = (0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 2**14 + 1, 2**14 + 256 - 16)


def _composed(key: bytes):
    from tlskit.providers import _pycryptodome_gcm

    assert _pycryptodome_gcm.available, "PyCryptodome's GHASH failed the self-test"
    name = "AES-128-GCM" if len(key) == 16 else "AES-256-GCM"
    aead = get_provider("pycryptodome").aead(name).new(key)
    assert type(aead).__name__ == "ComposedAESGCM"
    return aead


@pytest.mark.parametrize("key_length", [16, 32])
def test_aes_gcm_matches_pyca_cryptography(key_length: int) -> None:
    import random

    rng = random.Random(key_length)
    key = rng.randbytes(key_length)
    ours, reference = _composed(key), AESGCM(key)
    for size in SIZES:
        for aad_length in (0, 5, 16, 21):
            nonce, aad, plaintext = rng.randbytes(12), rng.randbytes(aad_length), rng.randbytes(size)
            sealed = reference.encrypt(nonce, plaintext, aad)
            assert ours.seal(nonce, aad, plaintext) == sealed
            assert ours.open(nonce, aad, sealed) == plaintext
            assert ours.open(bytearray(nonce), memoryview(aad), memoryview(sealed)) == plaintext
            assert ours.seal(nonce, bytearray(aad), memoryview(plaintext)) == sealed


def test_aes_gcm_keys_alternating_never_mix() -> None:
    """Two traffic keys one bit apart, used in turn (as a client and server are): each
    record is what a fresh AESGCM with that key gives, and neither opens the other's."""
    keys = (bytes(16), bytes(15) + b"\x01")
    aeads = [_composed(k) for k in keys]
    for i in range(6):
        which = i % 2
        nonce = i.to_bytes(12, "big")
        sealed = aeads[which].seal(nonce, b"hdr", b"record %d" % i)
        assert sealed == AESGCM(keys[which]).encrypt(nonce, b"record %d" % i, b"hdr")
        with pytest.raises(BadRecordMac):
            aeads[1 - which].open(nonce, b"hdr", sealed)


def test_aes_gcm_rejects_every_tampering() -> None:
    aead = _composed(bytes(range(16)))
    nonce, aad = bytes(12), b"\x17\x03\x03\x00\x25"
    sealed = aead.seal(nonce, aad, b"twenty-one bytes here")
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x80
        with pytest.raises(BadRecordMac):
            aead.open(nonce, aad, bytes(bad))
    for bad_nonce, bad_aad, bad_sealed in (
        (b"\x01" + bytes(11), aad, sealed),
        (nonce, aad[:-1] + b"\x26", sealed),
        (nonce, aad, sealed[:-1]),
        (nonce, aad, sealed + b"\x00"),
        (nonce, aad, sealed[:15]),
        (bytes(8), aad, sealed),
        (bytes(16), aad, sealed),
    ):
        with pytest.raises(BadRecordMac):
            aead.open(bad_nonce, bad_aad, bad_sealed)
    with pytest.raises(TLSError):
        aead.seal(bytes(16), aad, b"x")


def test_aes_gcm_beyond_the_counter_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages longer than the precomputed counters build their own (not a TLS record size)."""
    from tlskit.providers import _pycryptodome_gcm

    monkeypatch.setattr(_pycryptodome_gcm, "TEMPLATE_BLOCKS", 3)
    key = bytes(range(16))
    aead, reference = _composed(key), AESGCM(key)
    for size in (31, 32, 33, 48, 200):
        sealed = reference.encrypt(bytes(12), bytes(size), b"a")
        assert aead.seal(bytes(12), b"a", bytes(size)) == sealed
        assert aead.open(bytes(12), b"a", sealed) == bytes(size)


def test_aes_gcm_library_fallback_agrees() -> None:
    """Without the private GHASH the provider uses the library's GCM object per record."""
    from tlskit.providers import backend_pycryptodome as backend

    key = bytes(range(32))
    fallback = backend._aes_gcm("AES-256-GCM", 32, composed=False).new(key)
    assert type(fallback).__name__ == "_PycryptodomeAEAD"
    sealed = AESGCM(key).encrypt(bytes(12), b"plaintext", b"aad")
    assert fallback.seal(bytes(12), b"aad", b"plaintext") == sealed
    assert fallback.open(bytes(12), b"aad", sealed) == b"plaintext"


def test_a_misbehaving_ghash_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The private GHASH is used only if it passes the import-time self-test."""
    from tlskit.providers import _pycryptodome_gcm

    ghash_class, ghash_c = _pycryptodome_gcm.GHASH  # type: ignore[misc]

    class ZeroGHASH:
        def __init__(self, subkey: bytes, impl: object) -> None:
            pass

        def update(self, data: bytes) -> "ZeroGHASH":
            return self

        def digest(self) -> bytes:
            return bytes(16)

    class Broken:
        def __init__(self, subkey: bytes, impl: object) -> None:
            raise TypeError("a new signature")

    assert _pycryptodome_gcm._probe() == (ghash_class, ghash_c)
    for replacement in ((ZeroGHASH, ghash_c), (Broken, ghash_c), None):
        monkeypatch.setattr(_pycryptodome_gcm, "_load_ghash", lambda r=replacement: r)
        assert _pycryptodome_gcm._probe() is None


# ---------------------------------------------------------------------------
# ChaCha20-Poly1305 from one ChaCha20 stream per record (tlskit.providers._pycryptodome_chacha)

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402


def _chacha(key: bytes):
    from tlskit.providers import _pycryptodome_chacha

    assert _pycryptodome_chacha.available, "PyCryptodome's Poly1305 failed the self-test"
    aead = get_provider("pycryptodome").aead("ChaCha20-Poly1305").new(key)
    assert type(aead).__name__ == "ComposedChaCha20Poly1305"
    return aead


def test_chacha20_poly1305_matches_pyca_cryptography() -> None:
    import random

    rng = random.Random(8439)
    key = rng.randbytes(32)
    ours, reference = _chacha(key), ChaCha20Poly1305(key)
    for size in (*SIZES, 63, 64, 65, 128):
        for aad_length in (0, 5, 16, 21):
            nonce, aad, plaintext = rng.randbytes(12), rng.randbytes(aad_length), rng.randbytes(size)
            sealed = reference.encrypt(nonce, plaintext, aad)
            assert ours.seal(nonce, aad, plaintext) == sealed
            assert ours.open(nonce, aad, sealed) == plaintext
            assert ours.open(bytearray(nonce), memoryview(aad), memoryview(sealed)) == plaintext
            assert ours.seal(nonce, bytearray(aad), memoryview(plaintext)) == sealed


def test_chacha20_poly1305_keys_alternating_and_tampering() -> None:
    keys = (bytes(32), bytes(31) + b"\x01")
    aeads = [_chacha(k) for k in keys]
    for i in range(6):
        which = i % 2
        nonce = i.to_bytes(12, "big")
        sealed = aeads[which].seal(nonce, b"hdr", b"record %d" % i)
        assert sealed == ChaCha20Poly1305(keys[which]).encrypt(nonce, b"record %d" % i, b"hdr")
        with pytest.raises(BadRecordMac):
            aeads[1 - which].open(nonce, b"hdr", sealed)
    aead, nonce = aeads[0], bytes(12)
    sealed = aead.seal(nonce, b"aad", b"seventeen bytes!!")
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x01
        with pytest.raises(BadRecordMac):
            aead.open(nonce, b"aad", bytes(bad))
    for bad_nonce, bad_aad, bad_sealed in (
        (b"\x01" + bytes(11), b"aad", sealed),
        (nonce, b"aae", sealed),
        (nonce, b"aad", sealed[:-1]),
        (nonce, b"aad", sealed[:15]),
        (bytes(8), b"aad", sealed),
        (bytes(24), b"aad", sealed),
    ):
        with pytest.raises(BadRecordMac):
            aead.open(bad_nonce, bad_aad, bad_sealed)
    for bad_nonce in (bytes(8), bytes(24)):  # the legacy and XChaCha variants are never chosen
        with pytest.raises(TLSError):
            aead.seal(bad_nonce, b"", b"x")


def test_chacha20_poly1305_library_fallback_agrees() -> None:
    from tlskit.providers import backend_pycryptodome as backend

    key = bytes(range(32))
    fallback = backend._chacha20_poly1305(composed=False).new(key)
    assert type(fallback).__name__ == "_PycryptodomeAEAD"
    sealed = ChaCha20Poly1305(key).encrypt(bytes(12), b"plaintext", b"aad")
    assert fallback.seal(bytes(12), b"aad", b"plaintext") == sealed
    assert fallback.open(bytes(12), b"aad", sealed) == b"plaintext"


def test_a_misbehaving_poly1305_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from tlskit.providers import _pycryptodome_chacha

    real = _pycryptodome_chacha.POLY1305

    class ConstantMAC:
        def __init__(self, r: bytes, s: bytes, data: bytes) -> None:
            pass

        def digest(self) -> bytes:
            return bytes(16)

    class Broken:
        def __init__(self, *args: object) -> None:
            raise TypeError("a new signature")

    assert _pycryptodome_chacha._probe() is real
    for replacement in (ConstantMAC, Broken, None):
        monkeypatch.setattr(_pycryptodome_chacha, "_load_poly1305", lambda r=replacement: r)
        assert _pycryptodome_chacha._probe() is None


# ---------------------------------------------------------------------------
# Verifier and signer objects kept per key and scheme (backend_pycryptodome._PublicKey)

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402

from tlskit.errors import BadSignatureError  # noqa: E402

_PEM = dict(
    encoding=serialization.Encoding.PEM,
    format=serialization.PrivateFormat.PKCS8,
    encryption_algorithm=serialization.NoEncryption(),
)


@pytest.fixture(scope="module")
def key_pairs() -> dict[str, list]:
    """Two pycryptodome private keys of each kind (the pair a test alternates between)."""
    provider = get_provider("pycryptodome")
    makers = {
        "ecdsa_secp256r1_sha256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "rsa_pss_rsae_sha256": lambda: rsa.generate_private_key(65537, 1024),
    }
    return {
        scheme: [provider.load_private_key(make().private_bytes(**_PEM)) for _ in range(2)]
        for scheme, make in makers.items()
    }


@pytest.mark.parametrize("scheme_name", ["ecdsa_secp256r1_sha256", "ed25519", "rsa_pss_rsae_sha256"])
def test_cached_verifiers_check_every_signature_under_its_own_key(key_pairs, scheme_name: str) -> None:
    """Two keys of one kind, used in turn: each signature verifies under its own key only,
    a tampered one never does, and a valid one still does after a failure."""
    scheme = get_provider("pycryptodome").signature_scheme(scheme_name)
    keys = key_pairs[scheme_name]
    spkis = [k.public_key_der() for k in keys]
    for round_ in range(3):
        for i in (0, 1):
            message = b"message %d" % round_
            signature = keys[i].sign(scheme_name, message)
            scheme.verify(spkis[i], message, signature)
            with pytest.raises(BadSignatureError):
                scheme.verify(spkis[1 - i], message, signature)
            with pytest.raises(BadSignatureError):
                scheme.verify(spkis[i], message + b"!", signature)
            scheme.verify(spkis[i], message, signature)


def test_verifiers_are_per_scheme_not_per_key(key_pairs) -> None:
    """One RSA key, two PSS schemes (salt 32 and 48): a cached sha256 verifier must not
    accept for sha384, nor the other way round."""
    provider = get_provider("pycryptodome")
    key = key_pairs["rsa_pss_rsae_sha256"][0]
    spki = key.public_key_der()
    sha256, sha384 = provider.signature_scheme("rsa_pss_rsae_sha256"), provider.signature_scheme("rsa_pss_rsae_sha384")
    for _ in range(2):
        sig256, sig384 = key.sign("rsa_pss_rsae_sha256", b"m"), key.sign("rsa_pss_rsae_sha384", b"m")
        sha256.verify(spki, b"m", sig256)
        sha384.verify(spki, b"m", sig384)
        with pytest.raises(BadSignatureError):
            sha384.verify(spki, b"m", sig256)
        with pytest.raises(BadSignatureError):
            sha256.verify(spki, b"m", sig384)


def test_kept_signers_still_draw_fresh_randomness(key_pairs) -> None:
    """ECDSA and PSS signers are kept per key: each signature must still use a new nonce/salt."""
    for scheme_name in ("ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256"):
        key = key_pairs[scheme_name][0]
        signatures = {key.sign(scheme_name, b"same message") for _ in range(3)}
        assert len(signatures) == 3
    ed = key_pairs["ed25519"][0]
    assert ed.sign("ed25519", b"m") == ed.sign("ed25519", b"m")  # deterministic (RFC 8032)


def test_signatures_from_kept_signers_verify_with_pyca(key_pairs) -> None:
    """An independent verifier accepts what the kept signer objects produce, each key its own."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    for scheme_name, keys in key_pairs.items():
        for key in keys * 2:
            public = serialization.load_der_public_key(key.public_key_der())
            signature = key.sign(scheme_name, b"payload")
            if scheme_name == "ed25519":
                public.verify(signature, b"payload")  # type: ignore[call-arg]
            elif scheme_name.startswith("ecdsa"):
                public.verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
            else:
                public.verify(  # type: ignore[call-arg]
                    signature, b"payload", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()
                )


@pytest.mark.parametrize("name", ["AES-128-GCM", "ChaCha20-Poly1305"])
def test_composed_aeads_count_bytes_of_any_buffer(name: str) -> None:
    """Lengths (padding, the length block, the keystream) are byte counts even for a
    memoryview of wider items."""
    key = bytes(range(16 if name.startswith("AES") else 32))
    aead = get_provider("pycryptodome").aead(name).new(key)
    reference = AESGCM(key) if name.startswith("AES") else ChaCha20Poly1305(key)
    plaintext, aad = bytes(range(40)), bytes(range(12))
    sealed = reference.encrypt(bytes(12), plaintext, aad)
    wide = lambda data: memoryview(data).cast("I")  # noqa: E731
    assert aead.seal(wide(bytes(12)), wide(aad), wide(plaintext)) == sealed
    assert aead.open(wide(bytes(12)), wide(aad), memoryview(sealed)) == plaintext
