"""AES-GCM for TLS records from PyCryptodome's AES block cipher and GHASH.

PyCryptodome's GCM objects serve one nonce each, and every ``AES.new(key,
MODE_GCM, nonce=...)`` expands the AES key three times (hash subkey, CTR
keystream, tag mask) and the GHASH key once, in Python-driven steps: about 40 us
before the first byte, which is most of the cost of a handshake record. A TLS
traffic key seals thousands of records under one key with a new nonce each, so
this module keeps what depends on the key alone (the AES key schedule and the
hash subkey H = E_K(0^128)) and per record does only what SP 800-38D makes
depend on the nonce:

* J0 = nonce || 0^31 || 1 (the 96-bit-IV case, SP 800-38D 7.1 step 2; TLS 1.3
  nonces are always 12 bytes, RFC 8446 5.3, and any other length is refused);
* the keystream E_K(J0), E_K(inc32(J0)), ... in one AES-ECB call over counter
  blocks built by XOR-ing the nonce into a precomputed template of counters;
* the tag GHASH_H(A || 0^v || C || 0^u || [len(A)]64 || [len(C)]64) XOR E_K(J0),
  checked (``hmac.compare_digest``) before anything is decrypted.

GHASH itself is PyCryptodome's C code (CLMUL or portable), reached through the
private ``Crypto.Cipher._mode_gcm._GHASH``, like the provider's ML-KEM. Whether
that private piece behaves as this module expects is checked when the module is
imported, against the library's own GCM object on SP 800-38D-shaped inputs; if
it is missing or disagrees, ``available`` is False and the provider keeps the
library's GCM object per record. The Wycheproof AES-GCM vectors and a
comparison with pyca/cryptography's AESGCM pin the result (tests).
"""

from __future__ import annotations

import hmac
import struct
from typing import Any

from Crypto.Cipher import AES
from Crypto.Util.strxor import strxor

from tlskit.errors import BadRecordMac, InternalError
from tlskit.providers.base import AEAD

TAG_LENGTH = 16
#: Counter blocks kept precomputed: enough for the largest TLS 1.3 record
#: (2^14 + 256 bytes of ciphertext, RFC 8446 5.2) plus the J0 block.
TEMPLATE_BLOCKS = (2**14 + 256) // 16 + 1
#: SP 800-38D 5.2.1.1: a plaintext is at most 2^39 - 256 bits, 2^32 - 2 blocks.
MAX_BLOCKS = 2**32 - 2


#: Below this many bytes, XOR through Python integers beats ``strxor``, whose
#: argument conversions cost more than the XOR of a handshake-sized record.
INT_XOR_LIMIT = 4096


def _xor(a: bytes, b: bytes) -> bytes:
    """a XOR b, for two buffers of equal length."""
    n = len(a)
    if n <= INT_XOR_LIMIT:
        return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")
    return strxor(a, b)  # type: ignore[no-any-return]


def _counter_blocks(first: int, count: int) -> bytes:
    return b"".join([bytes(12) + i.to_bytes(4, "big") for i in range(first, first + count)])


# 0^96 || [i]32 for i = 1 .. TEMPLATE_BLOCKS: XOR-ing (nonce || 0^32) into it gives
# J0, inc32(J0), inc32^2(J0), ... for a 96-bit nonce (inc32 cannot wrap: the counter
# starts at 1 and a record has far fewer than 2^32 blocks).
_TEMPLATE = _counter_blocks(1, TEMPLATE_BLOCKS)


def _load_ghash() -> tuple[Any, Any] | None:
    """PyCryptodome's private GHASH class and C implementation, or None."""
    try:
        from Crypto.Cipher import _mode_gcm
    except ImportError:  # pragma: no cover - the library reorganised its modules
        return None
    ghash_class = getattr(_mode_gcm, "_GHASH", None)
    ghash_c = getattr(_mode_gcm, "_ghash_clmul", None) or getattr(_mode_gcm, "_ghash_portable", None)
    if ghash_class is None or ghash_c is None:
        return None
    return ghash_class, ghash_c


class ComposedAESGCM(AEAD):
    """AES-GCM bound to one key, for 12-byte nonces (see the module docstring)."""

    __slots__ = ("_name", "_ecb", "_h", "_ghash")

    def __init__(self, name: str, key: bytes, ghash: tuple[Any, Any]) -> None:
        self._name = name
        self._ecb = AES.new(key, AES.MODE_ECB)
        self._h = self._ecb.encrypt(bytes(16))  # the hash subkey H = E_K(0^128), SP 800-38D 7.1 step 1
        self._ghash = ghash

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        """E_K(J0) followed by at least ``length`` bytes of CTR keystream from inc32(J0)."""
        blocks = (length + 15) // 16 + 1
        if blocks <= TEMPLATE_BLOCKS:
            template = _TEMPLATE[: 16 * blocks]
        elif blocks - 1 <= MAX_BLOCKS:
            template = _counter_blocks(1, blocks)
        else:
            raise InternalError(f"{self._name}: message too long for GCM")
        return self._ecb.encrypt(_xor(template, (nonce + b"\x00\x00\x00\x00") * blocks))

    def _tag(self, aad: bytes, ciphertext: bytes, mask: bytes) -> bytes:
        ghash_class, ghash_c = self._ghash
        ghash = ghash_class(self._h, ghash_c)
        ghash.update(
            b"".join(
                (
                    aad,
                    bytes(-len(aad) % 16),
                    ciphertext,
                    bytes(-len(ciphertext) % 16),
                    struct.pack(">QQ", 8 * len(aad), 8 * len(ciphertext)),
                )
            )
        )
        return _xor(ghash.digest(), mask)

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        # lengths below are byte counts: any buffer becomes bytes (no copy for bytes)
        nonce, aad, plaintext = bytes(nonce), bytes(aad), bytes(plaintext)
        if len(nonce) != 12:
            raise InternalError(f"{self._name} nonce must be 12 bytes")
        n = len(plaintext)
        stream = self._keystream(nonce, n)
        ciphertext = _xor(plaintext, stream[16 : 16 + n]) if n else b""
        return ciphertext + self._tag(aad, ciphertext, stream[:16])

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        nonce, aad, ciphertext = bytes(nonce), bytes(aad), bytes(ciphertext)
        if len(nonce) != 12 or len(ciphertext) < TAG_LENGTH:
            raise BadRecordMac(f"{self._name} authentication failed")
        body, tag = ciphertext[:-TAG_LENGTH], ciphertext[-TAG_LENGTH:]
        n = len(body)
        stream = self._keystream(nonce, n)
        if not hmac.compare_digest(self._tag(aad, body, stream[:16]), tag):
            raise BadRecordMac(f"{self._name} authentication failed")
        return _xor(body, stream[16 : 16 + n]) if n else b""


def _self_test(ghash: tuple[Any, Any]) -> bool:
    """The composition agrees with the library's GCM object on a few shapes of input."""
    key = bytes(range(16))
    nonce = bytes(range(100, 112))
    composed = ComposedAESGCM("AES-128-GCM", key, ghash)
    for aad_len, pt_len in ((0, 0), (5, 1), (13, 16), (16, 33), (0, 300)):
        aad, plaintext = bytes(range(aad_len)), bytes(i % 251 for i in range(pt_len))
        reference = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_LENGTH)
        reference.update(aad)
        ct, tag = reference.encrypt_and_digest(plaintext)
        if composed.seal(nonce, aad, plaintext) != ct + tag or composed.open(nonce, aad, ct + tag) != plaintext:
            return False
    return True


def _probe() -> tuple[Any, Any] | None:
    ghash = _load_ghash()
    if ghash is None:
        return None
    try:
        return ghash if _self_test(ghash) else None
    except Exception:  # noqa: BLE001 - any surprise from a private API means "do not use it"
        return None


#: (GHASH class, C implementation) when the composition is usable, else None
GHASH = _probe()
available = GHASH is not None


def new(name: str, key: bytes) -> ComposedAESGCM:
    if GHASH is None:  # pragma: no cover - guarded by ``available``
        raise InternalError("PyCryptodome's GHASH is not usable")
    return ComposedAESGCM(name, key, GHASH)
