"""Micro-benchmarks behind ``tlskit providers rank``: each primitive of each built-in backend,
timed as the handshake and the record layer use it.

* ``group:X`` -- one key exchange as a handshake does it: ``start`` (client keygen),
  ``encapsulate`` (server keygen + exchange), ``complete`` (client exchange); the RFC 7919
  groups are timed on ffdhe2048;
* ``aead:X`` -- seal + open of one 16 KiB record and of one 64-byte record with a reused key;
* ``hash:X`` -- a transcript (six handshake-sized messages, a digest after each) plus
  HKDF-Extract, one HKDF-Expand block and one HMAC;
* ``verify:S`` / ``sign:S`` -- one verification / signature of a CertificateVerify-sized
  message (RSA: 2048-bit, rsa_pss_rsae_sha256, standing for every RSA scheme).

Each (primitive, backend) pair runs in short batches for ``min_time`` seconds per
repetition and keeps its fastest batch (see ``_time_per_op``); the backends of one
primitive are interleaved (alternating direction) over ``reps`` repetitions, and the median
of the repetitions is kept, so a burst of load from another process hits all the contenders
alike. The test keys are generated once per run with
pyca/cryptography and handed to every backend as PKCS#8 PEM; they never leave the process.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from tlskit.providers.base import Provider
from tlskit.providers.fastest import offers, primitives
from tlskit.providers.registry import builtin_providers

Operation = Callable[[], object]

RECORD = bytes(16384)
SMALL_RECORD = bytes(64)
#: handshake-sized transcript messages: ClientHello, ServerHello, EncryptedExtensions,
#: Certificate, CertificateVerify, Finished
TRANSCRIPT = tuple(bytes(n) for n in (250, 90, 20, 1500, 80, 52))
MESSAGE = bytes(130)  # a CertificateVerify content is 64 spaces + context + 0 + hash: ~130 bytes
#: the key each signature primitive is timed with, and the scheme
SIGNATURE_KEYS: dict[str, tuple[str, str]] = {
    "ecdsa_secp256r1_sha256": ("secp256r1", "ecdsa_secp256r1_sha256"),
    "ecdsa_secp384r1_sha384": ("secp384r1", "ecdsa_secp384r1_sha384"),
    "ecdsa_secp521r1_sha512": ("secp521r1", "ecdsa_secp521r1_sha512"),
    "ed25519": ("ed25519", "ed25519"),
    "ed448": ("ed448", "ed448"),
    "rsa": ("rsa2048", "rsa_pss_rsae_sha256"),
}
FFDHE_REPRESENTATIVE = "ffdhe2048"
#: the length of one timed batch (see _time_per_op)
BATCH_TIME = 0.0002
#: batches per repetition at least, however slow the operation (a slow one is a batch of one)
MIN_BATCHES = 5


@dataclass
class Measured:
    """Seconds per operation by primitive and backend, and what could not be measured."""

    measurements: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # primitive -> backend -> why
    reps: int = 0
    elapsed: float = 0.0


def _test_key_pem(kind: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if kind == "rsa2048":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif kind == "ed448":
        key = ed448.Ed448PrivateKey.generate()
    else:
        curve = {"secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}[kind]
        key = ec.generate_private_key(curve())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _group_op(provider: Provider, primitive: str) -> Operation:
    name = primitive.partition(":")[2]
    group = provider.groups[FFDHE_REPRESENTATIVE if name == "ffdhe" else name]

    def exchange() -> None:
        client = group.start()
        share, _ = group.encapsulate(client.share)
        client.complete(share)

    return exchange


def _aead_op(provider: Provider, primitive: str) -> Operation:
    algorithm = provider.aead_algorithms[primitive.partition(":")[2]]
    aead = algorithm.new(os.urandom(algorithm.key_length))
    nonce, aad = bytes(algorithm.nonce_length), b"\x17\x03\x03\x40\x11"
    seal, open_ = aead.seal, aead.open

    def records() -> None:
        open_(nonce, aad, seal(nonce, aad, RECORD))
        open_(nonce, aad, seal(nonce, aad, SMALL_RECORD))

    return records


def _hash_op(provider: Provider, primitive: str) -> Operation:
    algorithm = provider.hash_algorithms[primitive.partition(":")[2]]
    secret = bytes(algorithm.digest_size)

    def schedule() -> None:
        transcript = algorithm.new()
        for message in TRANSCRIPT:
            transcript.update(message)
            transcript.digest()
        prk = algorithm.hkdf_extract(b"", secret)
        algorithm.hkdf_expand(prk, b"\x00\x20\x0dtls13 derived\x00", algorithm.digest_size)
        algorithm.hmac(prk, secret)

    return schedule


class _Signatures:
    """Test keys (made once per run), a reference signature for each verification."""

    def __init__(self, reference: Provider) -> None:
        self._reference = reference
        self._pems: dict[str, bytes] = {}
        self._verify_inputs: dict[str, tuple[bytes, bytes]] = {}

    def pem(self, kind: str) -> bytes:
        if kind not in self._pems:
            self._pems[kind] = _test_key_pem(kind)
        return self._pems[kind]

    def sign_op(self, provider: Provider, primitive: str) -> Operation:
        kind, scheme = SIGNATURE_KEYS[primitive.partition(":")[2]]
        key = provider.load_private_key(self.pem(kind))
        sign = key.sign
        return lambda: sign(scheme, MESSAGE)

    def verify_op(self, provider: Provider, primitive: str) -> Operation:
        kind, scheme = SIGNATURE_KEYS[primitive.partition(":")[2]]
        if scheme not in self._verify_inputs:
            key = self._reference.load_private_key(self.pem(kind))
            self._verify_inputs[scheme] = (key.public_key_der(), key.sign(scheme, MESSAGE))
        spki, signature = self._verify_inputs[scheme]
        verify = provider.signature_schemes[scheme].verify
        return lambda: verify(spki, MESSAGE, signature)


def _batch_size(operation: Operation) -> int:
    """Operations per timed batch: enough for a batch of about BATCH_TIME seconds."""
    start = time.perf_counter()
    operation()
    once = time.perf_counter() - start
    return max(1, min(1000, int(BATCH_TIME / once) if once > 0 else 1000))


def _time_per_op(operation: Operation, batch: int, min_time: float) -> float:
    """The fastest batch's time per operation, batches run for ``min_time`` seconds.

    The minimum, not the mean: on a shared machine a batch can only be slowed down by
    other processes (preemption, cache pollution), never sped up, so the fastest batch
    is the closest to the operation's own cost. Batches are short (``BATCH_TIME``) and
    at least ``MIN_BATCHES``, so that some of them fall between two preemptions.
    """
    best = float("inf")
    deadline = time.perf_counter() + min_time
    count = 0
    while True:
        t0 = time.perf_counter()
        for _ in range(batch):
            operation()
        now = time.perf_counter()
        best = min(best, (now - t0) / batch)
        count += 1
        if now >= deadline and count >= MIN_BATCHES:
            return best


def operations(
    providers: Mapping[str, Provider], only: Iterable[str] | None = None
) -> tuple[dict[str, dict[str, Operation]], dict[str, dict[str, str]]]:
    """The ready-to-time callables by primitive and backend, each run once already (so a
    failure is found here and reported, not in the middle of the timing)."""
    wanted = None if only is None else set(only)
    reference = next(iter(providers.values()))
    signatures = _Signatures(reference)
    makers: dict[str, Callable[[Provider, str], Operation]] = {
        "group": _group_op, "aead": _aead_op, "hash": _hash_op,
        "verify": signatures.verify_op, "sign": signatures.sign_op,
    }  # fmt: skip
    ops: dict[str, dict[str, Operation]] = {}
    errors: dict[str, dict[str, str]] = {}
    for primitive in primitives(providers):
        if wanted is not None and primitive not in wanted:
            continue
        kind = primitive.partition(":")[0]
        for backend, provider in providers.items():
            if not offers(provider, primitive):
                continue
            try:
                operation = makers[kind](provider, primitive)
                operation()
            except Exception as exc:  # noqa: BLE001 - a backend that cannot do it is reported, not fatal
                errors.setdefault(primitive, {})[backend] = f"{type(exc).__name__}: {exc}"
                continue
            ops.setdefault(primitive, {})[backend] = operation
    return ops, errors


def measure(
    providers: Mapping[str, Provider] | None = None,
    *,
    reps: int = 3,
    min_time: float = 0.003,
    only: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Measured:
    """Time every primitive of every backend (see the module docstring); the median of
    ``reps`` interleaved repetitions, in seconds per operation."""
    if reps < 1:
        raise ValueError("reps must be at least 1")
    providers = builtin_providers() if providers is None else dict(providers)
    started = time.perf_counter()
    ops, errors = operations(providers, only)
    batches = {p: {b: _batch_size(op) for b, op in by_backend.items()} for p, by_backend in ops.items()}
    samples: dict[str, dict[str, list[float]]] = {p: {b: [] for b in by_backend} for p, by_backend in ops.items()}
    for rep in range(reps):
        if progress is not None:
            progress(f"repetition {rep + 1}/{reps}")
        for primitive, by_backend in ops.items():
            # alternate the order so that no backend always runs first (warm caches, a
            # garbage collection left over by the previous one)
            backends = list(by_backend) if rep % 2 == 0 else list(reversed(by_backend))
            for backend in backends:
                samples[primitive][backend].append(_time_per_op(by_backend[backend], batches[primitive][backend], min_time))
    measurements = {p: {b: statistics.median(v) for b, v in by.items()} for p, by in samples.items()}
    return Measured(measurements, errors, reps, time.perf_counter() - started)


__all__ = ["Measured", "measure", "operations"]
