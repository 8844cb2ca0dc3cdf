"""libsodium called directly for the pynacl provider (issue 17), every piece self-tested.

PyNaCl's public functions (``nacl.bindings``) wrap each C call in argument checks,
``ffi.new`` allocations and conversions: on the short inputs of a TLS key schedule the
wrapper costs as much as the C function. This module calls the same libsodium
functions without the wrapper, in two ways:

* ``nacl._sodium.lib``, PyNaCl's compiled (API-mode) cffi binding: the one-call
  SHA-256, the IETF ChaCha20-Poly1305 / AES-256-GCM AEADs, X25519 and Ed25519, the
  very functions ``nacl.bindings`` calls.
* the incremental SHA-256 and HMAC-SHA-256 (``crypto_hash_sha256_init/update/final``,
  ``crypto_auth_hmacsha256_*``), which PyNaCl's cdef leaves out although its bundled
  libsodium exports them: reached by opening the same shared object with a small
  ABI-mode cffi declaration (``ffi.dlopen``). States are opaque buffers of the size
  libsodium reports (``*_statebytes``); they hold no pointers, so a memmove copies one.

Nothing here is another crypto library: every primitive is libsodium's. Each builder
returns None unless its functions agree with the public PyNaCl API (and a known
answer) on several inputs at import, so a changed private binding means the public,
slower path, never a wrong answer. Callers validate lengths first: the C functions
read fixed-size keys and nonces.
"""

from __future__ import annotations

from typing import Any, Callable

import nacl.bindings as sodium  # importing it runs sodium_init()
import nacl.exceptions

# SHA-256("abc"), FIPS 180-2 appendix B.1: a known answer independent of any library
_ABC_SHA256 = bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
_SAMPLES = (b"", b"abc", bytes(range(55)), bytes(range(64)), bytes(range(256)) * 5 + b"\x01")


def _view(from_buffer: Any, data: Any) -> Any:
    """A bytes-like object as C bytes: a view without a copy (``len`` counts bytes, also for
    a memoryview of wider items), or a copy for a non-contiguous view."""
    try:
        return from_buffer(data)
    except BufferError:
        return bytes(data)


def compiled() -> tuple[Any, Any]:
    """PyNaCl's compiled binding (lib, ffi)."""
    from nacl._sodium import ffi, lib

    return lib, ffi


# ---------------------------------------------------------------------------
# One-call SHA-256


def make_sha256(lib: Any, ffi: Any) -> Callable[[bytes], bytes] | None:
    """SHA-256 of a bytes-like object through ``lib.crypto_hash_sha256``, or None."""
    try:
        function = lib.crypto_hash_sha256
        new, buffer, from_buffer = ffi.new, ffi.buffer, ffi.from_buffer
        out_type = ffi.typeof("unsigned char[32]")

        def sha256(data: bytes) -> bytes:
            if type(data) is not bytes:
                data = _view(from_buffer, data)  # bytearray/memoryview without a copy; len() in bytes
            out = new(out_type)
            function(out, data, len(data))
            return buffer(out)[:]  # type: ignore[no-any-return]

        if sha256(b"abc") != _ABC_SHA256:
            return None
        for sample in _SAMPLES:
            if sha256(sample) != sodium.crypto_hash_sha256(sample) or sha256(bytearray(sample)) != sha256(sample):
                return None
        return sha256
    except Exception:  # noqa: BLE001 - any surprise from a private binding means "do not use it"
        return None


def public_sha256(data: bytes) -> bytes:
    """The public PyNaCl one-call SHA-256 (bytes only)."""
    return sodium.crypto_hash_sha256(bytes(data))


# ---------------------------------------------------------------------------
# Incremental SHA-256 and HMAC-SHA-256 (ABI mode over the same shared object)

_STATE_CDEF = """
size_t crypto_hash_sha256_statebytes(void);
int crypto_hash_sha256_init(void *state);
int crypto_hash_sha256_update(void *state, const unsigned char *in, unsigned long long inlen);
int crypto_hash_sha256_final(void *state, unsigned char *out);
size_t crypto_auth_hmacsha256_statebytes(void);
size_t crypto_auth_hmacsha256_keybytes(void);
int crypto_auth_hmacsha256(unsigned char *out, const unsigned char *in, unsigned long long inlen, const unsigned char *k);
int crypto_auth_hmacsha256_init(void *state, const unsigned char *key, size_t keylen);
int crypto_auth_hmacsha256_update(void *state, const unsigned char *in, unsigned long long inlen);
int crypto_auth_hmacsha256_final(void *state, unsigned char *out);
"""


def open_state_library() -> tuple[Any, Any] | None:
    """(lib, ffi) for the incremental functions of PyNaCl's libsodium, or None."""
    try:
        import cffi
        import nacl._sodium

        ffi = cffi.FFI()
        ffi.cdef(_STATE_CDEF)
        return ffi.dlopen(nacl._sodium.__file__), ffi
    except Exception:  # noqa: BLE001 - no shared object, symbols not exported (a static Windows build), ...
        return None


class StateSHA256:
    """SHA-256 state functions: incremental hash objects and keyed HMACs.

    The running transcript hash is updated once per message and read with a
    copy + final (``digest()`` leaves the running state untouched), so reading it
    costs one final block, not a rehash of the whole transcript. An HMAC key is
    absorbed once (``keyed_hmac``: libsodium's state holds the inner and outer
    contexts after their pad blocks, RFC 2104) and copied per message.
    """

    def __init__(self, lib: Any, ffi: Any, memory: Any = None) -> None:
        # Buffers come from ``memory``, PyNaCl's compiled FFI when given: its new/memmove/
        # buffer are C functions, an ABI-mode FFI's are Python methods (the C types are
        # shared by every FFI of the process, so its buffers fit these functions).
        ffi = memory or ffi
        hash_size = int(lib.crypto_hash_sha256_statebytes())
        hmac_size = int(lib.crypto_auth_hmacsha256_statebytes())
        if not (64 <= hash_size <= 4096 and 2 * hash_size <= hmac_size <= 8192):
            raise ValueError("implausible libsodium state sizes")
        # uint64 words: the states hold a uint64_t bit count, keep it aligned
        self.hash_type = ffi.typeof(f"uint64_t[{-(-hash_size // 8)}]")
        self.hmac_type = ffi.typeof(f"uint64_t[{-(-hmac_size // 8)}]")
        self.hash_size, self.hmac_size = hash_size, hmac_size
        self.out_type = ffi.typeof("unsigned char[32]")
        self.new, self.memmove, self.buffer, self.from_buffer = ffi.new, ffi.memmove, ffi.buffer, ffi.from_buffer
        self.init, self.update = lib.crypto_hash_sha256_init, lib.crypto_hash_sha256_update
        self.final = lib.crypto_hash_sha256_final
        self.hmac_init, self.hmac_update = lib.crypto_auth_hmacsha256_init, lib.crypto_auth_hmacsha256_update
        self.hmac_final = lib.crypto_auth_hmacsha256_final
        # the one-call HMAC takes a key of exactly crypto_auth_hmacsha256_KEYBYTES (32), the
        # size of every TLS 1.3 SHA-256 secret: one C call instead of init/update/final
        if int(lib.crypto_auth_hmacsha256_keybytes()) != 32:
            raise ValueError("unexpected crypto_auth_hmacsha256_KEYBYTES")
        self.hmac_oneshot = lib.crypto_auth_hmacsha256

    def hash(self, data: bytes = b"") -> "IncrementalSHA256":
        state = self.new(self.hash_type)
        if self.init(state) != 0:
            raise nacl.exceptions.RuntimeError("crypto_hash_sha256_init failed")
        h = IncrementalSHA256(self, state)
        if data:
            h.update(data)
        return h

    def keyed_hmac(self, key: bytes) -> Callable[[bytes], bytes]:
        if type(key) is not bytes:
            key = bytes(key)
        keyed = self.new(self.hmac_type)
        # keys longer than the block are hashed first by libsodium, as RFC 2104 says
        if self.hmac_init(keyed, key, len(key)) != 0:
            raise nacl.exceptions.RuntimeError("crypto_auth_hmacsha256_init failed")
        new, memmove, buffer, from_buffer = self.new, self.memmove, self.buffer, self.from_buffer
        state_type, size, out_type = self.hmac_type, self.hmac_size, self.out_type
        update, final = self.hmac_update, self.hmac_final

        def mac(data: bytes) -> bytes:
            if type(data) is not bytes:
                data = _view(from_buffer, data)
            state = new(state_type)
            memmove(state, keyed, size)
            update(state, data, len(data))
            out = new(out_type)
            final(state, out)
            return buffer(out)[:]  # type: ignore[no-any-return]

        return mac

    def hmac(self, key: bytes, data: bytes) -> bytes:
        if type(key) is not bytes:
            key = bytes(key)
        if type(data) is not bytes:
            data = _view(self.from_buffer, data)
        if len(key) == 32:
            out = self.new(self.out_type)
            self.hmac_oneshot(out, data, len(data), key)
            return self.buffer(out)[:]  # type: ignore[no-any-return]
        state = self.new(self.hmac_type)
        if self.hmac_init(state, key, len(key)) != 0:
            raise nacl.exceptions.RuntimeError("crypto_auth_hmacsha256_init failed")
        self.hmac_update(state, data, len(data))
        out = self.new(self.out_type)
        self.hmac_final(state, out)
        return self.buffer(out)[:]  # type: ignore[no-any-return]


class IncrementalSHA256:
    """A hashlib-like SHA-256 object over a libsodium state (see StateSHA256)."""

    __slots__ = ("_functions", "_state")
    digest_size = 32

    def __init__(self, functions: StateSHA256, state: Any) -> None:
        self._functions = functions
        self._state = state

    def update(self, data: bytes) -> None:
        f = self._functions
        if type(data) is not bytes:
            data = _view(f.from_buffer, data)
        f.update(self._state, data, len(data))

    def copy(self) -> "IncrementalSHA256":
        f = self._functions
        state = f.new(f.hash_type)
        f.memmove(state, self._state, f.hash_size)
        return IncrementalSHA256(f, state)

    def digest(self) -> bytes:
        f = self._functions
        state = f.new(f.hash_type)
        f.memmove(state, self._state, f.hash_size)  # final() wipes its state: finish a copy
        out = f.new(f.out_type)
        f.final(state, out)
        return f.buffer(out)[:]  # type: ignore[no-any-return]


def make_state_sha256(
    opened: tuple[Any, Any] | None, reference: Callable[[bytes], bytes], memory: Any = None
) -> StateSHA256 | None:
    """StateSHA256 over ``opened`` (from open_state_library; buffers from ``memory``, see
    StateSHA256) if it agrees with ``reference`` (the one-call SHA-256) and with RFC 2104
    HMAC written over it, else None."""
    if opened is None:
        return None
    try:
        functions = StateSHA256(*opened, memory)
        if functions.hash(b"abc").digest() != _ABC_SHA256:
            return None
        for sample in _SAMPLES:
            h = functions.hash()
            h.update(sample[:7])
            early = h.copy()
            h.update(sample[7:])
            if h.digest() != reference(sample) or h.digest() != reference(sample):  # digest() twice
                return None
            early.update(bytearray(sample[7:]))  # the copy went on on its own
            if early.digest() != reference(sample):
                return None
            for key in (b"", bytes(range(31)), bytes(range(32)), bytes(range(33)), bytes(range(64)), bytes(range(65)) * 2):
                expected = _rfc2104(reference, key, sample)
                if functions.hmac(key, sample) != expected or functions.keyed_hmac(key)(sample) != expected:
                    return None
        return functions
    except Exception:  # noqa: BLE001 - any surprise from a private binding means "do not use it"
        return None


def _rfc2104(sha256: Callable[[bytes], bytes], key: bytes, data: bytes) -> bytes:
    """HMAC-SHA-256 as RFC 2104 writes it: H((K ^ opad) || H((K ^ ipad) || data))."""
    if len(key) > 64:
        key = sha256(key)
    key = key.ljust(64, b"\x00")
    inner = sha256(bytes(k ^ 0x36 for k in key) + data)
    return sha256(bytes(k ^ 0x5C for k in key) + inner)


# ---------------------------------------------------------------------------
# AEADs (IETF ChaCha20-Poly1305, AES-256-GCM): 32-byte key, 12-byte nonce, 16-byte tag


def make_aead(lib: Any, ffi: Any, name: str, public_encrypt: Any, public_decrypt: Any) -> tuple[Any, Any] | None:
    """(seal, open) calling ``lib.<name>_encrypt/_decrypt`` directly, or None.

    ``seal(key, nonce, aad, plaintext)`` -> ciphertext||tag; ``open(key, nonce, aad,
    ciphertext)`` -> plaintext or None when the tag does not verify. Arguments must be
    bytes and the caller checks the key (32) and nonce (12) lengths.
    """
    try:
        encrypt, decrypt = getattr(lib, f"{name}_encrypt"), getattr(lib, f"{name}_decrypt")
        alloc = ffi.new_allocator(should_clear_after_alloc=False)  # every byte is written before use
        buffer, null = ffi.buffer, ffi.NULL

        def seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
            n = len(plaintext)
            out = alloc("unsigned char[]", n + 16)
            if encrypt(out, null, plaintext, n, aad, len(aad), null, nonce, key) != 0:
                raise nacl.exceptions.CryptoError(f"{name} encryption failed")
            return buffer(out)[:]  # type: ignore[no-any-return]

        def open_(key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes | None:
            n = len(ciphertext) - 16  # callers check >= 16
            out = alloc("unsigned char[]", n or 1)
            if decrypt(out, null, null, ciphertext, n + 16, aad, len(aad), nonce, key) != 0:
                return None
            return buffer(out, n)[:]  # type: ignore[no-any-return]

        key, nonce = bytes(range(32)), bytes(range(12))
        for aad in (b"", b"\x17\x03\x03\x00\x20"):
            for plaintext in _SAMPLES:
                sealed = seal(key, nonce, aad, plaintext)
                if sealed != public_encrypt(plaintext, aad, nonce, key):
                    return None
                if open_(key, nonce, aad, sealed) != plaintext:
                    return None
                if open_(key, nonce, aad, sealed[:-1] + bytes([sealed[-1] ^ 1])) is not None:
                    return None
        if public_decrypt(seal(key, nonce, b"a", b"m"), b"a", nonce, key) != b"m":
            return None
        return seal, open_
    except Exception:  # noqa: BLE001 - any surprise from a private binding means "do not use it"
        return None


# ---------------------------------------------------------------------------
# X25519 and Ed25519


def make_scalarmult(lib: Any, ffi: Any) -> tuple[Any, Any] | None:
    """(scalarmult(n, p) -> bytes | None, scalarmult_base(n) -> bytes) through the compiled
    lib, or None. ``scalarmult`` gives None where libsodium refuses the point (an all-zero
    result). Arguments must be 32-byte bytes."""
    try:
        function, base = lib.crypto_scalarmult, lib.crypto_scalarmult_base
        new, buffer = ffi.new, ffi.buffer
        out_type = ffi.typeof("unsigned char[32]")

        def scalarmult(n: bytes, p: bytes) -> bytes | None:
            out = new(out_type)
            if function(out, n, p) != 0:
                return None
            return buffer(out)[:]  # type: ignore[no-any-return]

        def scalarmult_base(n: bytes) -> bytes:
            out = new(out_type)
            if base(out, n) != 0:
                raise nacl.exceptions.RuntimeError("crypto_scalarmult_base failed")
            return buffer(out)[:]  # type: ignore[no-any-return]

        for seed in (1, 2, 200):
            a, b = bytes((seed * i + 1) % 256 for i in range(32)), bytes((seed * i + 7) % 256 for i in range(32))
            pa, pb = scalarmult_base(a), scalarmult_base(b)
            if pa != sodium.crypto_scalarmult_base(a) or pb != sodium.crypto_scalarmult_base(b):
                return None
            shared = scalarmult(a, pb)
            if shared is None or shared != scalarmult(b, pa) or shared != sodium.crypto_scalarmult(a, pb):
                return None
        if scalarmult(a, bytes(32)) is not None:  # a low-order point: libsodium must refuse it
            return None
        return scalarmult, scalarmult_base
    except Exception:  # noqa: BLE001 - any surprise from a private binding means "do not use it"
        return None


def make_ed25519(lib: Any, ffi: Any) -> tuple[Any, Any] | None:
    """(sign(secret64, message) -> 64-byte signature, verify(public32, message, signature64)
    -> bool) through the compiled lib's crypto_sign / crypto_sign_open, or None.
    Arguments must be bytes of the right lengths."""
    try:
        c_sign, c_open = lib.crypto_sign, lib.crypto_sign_open
        alloc = ffi.new_allocator(should_clear_after_alloc=False)
        buffer, null = ffi.buffer, ffi.NULL

        def sign(secret: bytes, message: bytes) -> bytes:
            n = len(message)
            out = alloc("unsigned char[]", n + 64)
            if c_sign(out, null, message, n, secret) != 0:
                raise nacl.exceptions.RuntimeError("crypto_sign failed")
            return buffer(out, 64)[:]  # type: ignore[no-any-return]

        def verify(public: bytes, message: bytes, signature: bytes) -> bool:
            signed = signature + message
            out = alloc("unsigned char[]", len(message) or 1)
            return c_open(out, null, signed, len(signed), public) == 0  # type: ignore[no-any-return]

        for seed in (bytes(32), bytes(range(32))):
            public, secret = sodium.crypto_sign_seed_keypair(seed)
            for message in _SAMPLES:
                signature = sign(secret, message)
                if signature != sodium.crypto_sign(message, secret)[:64]:
                    return None
                if not verify(public, message, signature):
                    return None
                if verify(public, message + b"x", signature):
                    return None
                if verify(public, message, signature[:-1] + bytes([signature[-1] ^ 1])):
                    return None
        return sign, verify
    except Exception:  # noqa: BLE001 - any surprise from a private binding means "do not use it"
        return None
