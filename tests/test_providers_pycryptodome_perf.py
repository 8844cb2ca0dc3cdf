"""The pycryptodome provider's fast paths (issue 17) against independent references.

Each shortcut the provider takes instead of the library's own object per call
(HMAC over the one-call digest, the single-block HKDF-Expand) is compared here
with the standard library or the generic RFC 5869 loop, on the inputs where a
shortcut would go wrong: keys around the hash's block size, empty and long
inputs, buffer types other than bytes.
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


def test_hmac_keys_that_differ_in_one_byte_give_different_tags(hash_alg: HashAlgorithm) -> None:
    # Alternating keys of the same length: nothing of one call may leak into the next.
    a, b = bytes(32), bytes(31) + b"\x01"
    for _ in range(3):
        assert hash_alg.hmac(a, b"m") == hmac.digest(a, b"m", hash_alg.name)
        assert hash_alg.hmac(b, b"m") == hmac.digest(b, b"m", hash_alg.name)


def test_digest_is_the_plain_hash(hash_alg: HashAlgorithm) -> None:
    for data in (b"", b"abc", bytes(1000)):
        assert hash_alg.digest(data) == hashlib.new(hash_alg.name, data).digest()


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
