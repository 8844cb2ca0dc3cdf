"""The raw cost floor: what a handshake and a record cost in the provider alone.

A full handshake with certificate authentication needs, whatever the stack:
  * key exchange: the client's ``start`` + the server's ``encapsulate`` + the
    client's ``complete`` (keygen and exchange on both sides),
  * one signature (the server's CertificateVerify),
  * one verification of that signature plus one per CA signature on the chain
    (leaf by intermediate, intermediate by root: ``CHAIN_SIGNATURES``).
Their sum is the public-key floor: no TLS stack on this provider can be faster.
The record floor is AEAD seal + open of one 16 KiB record with a reused key.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.bench.certs import BenchPKI
from tlskit.bench.harness import interleave, rate_for
from tlskit.providers import get_provider
from tlskit.providers.base import Provider
from tlskit.providers.registry import SUITE_PARTS

#: CA signatures the client checks: leaf (by intermediate) and intermediate (by root)
CHAIN_SIGNATURES = 2
RECORD_SIZE = 16384


class Unsupported(Exception):
    """The provider lacks something this measurement needs (reported, not fatal)."""


@dataclass
class PublicKeyFloor:
    provider: str
    key_type: str
    group: str
    keyexchange_us: float  # start + encapsulate + complete
    sign_us: float
    verify_us: float  # CertificateVerify
    cert_verify_us: float  # one CA signature on the chain
    handshake_us: float  # the sum per handshake
    handshakes_per_s: float

    def as_dict(self) -> dict:
        return asdict(self)


def _chain_signature(pki: BenchPKI) -> tuple[bytes, bytes, bytes]:
    """(issuer SPKI, signed TBS bytes, signature) of the leaf certificate's CA signature."""
    leaf, intermediate = x509.load_pem_x509_certificates(pki.chain_file.read_bytes())[:2]
    spki = intermediate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return spki, leaf.tbs_certificate_bytes, leaf.signature


def _check(provider: Provider, *, group: str | None = None, schemes: tuple[str, ...] = (), suite: str | None = None) -> None:
    missing = []
    if group is not None and group not in provider.groups:
        missing.append(group)
    missing += [s for s in schemes if s not in provider.signature_schemes]
    if suite is not None and suite not in provider.cipher_suites:
        missing.append(suite)
    if missing:
        raise Unsupported(f"{provider.name} lacks {', '.join(missing)}")


def handshake_operations(provider_name: str, pki: BenchPKI, group: str) -> dict[str, Callable[[], object]]:
    """The public-key operations of one handshake, each as a ready-to-time callable:
    ``kx`` (both sides' key exchange), ``sign`` (CertificateVerify), ``verify`` (its
    check) and ``cert`` (one CA signature on the chain; a handshake needs
    ``CHAIN_SIGNATURES`` of them)."""
    provider = get_provider(provider_name)
    _check(provider, group=group, schemes=(pki.scheme, pki.cert_scheme))
    kx = provider.groups[group]
    key = provider.load_private_key(pki.key_file.read_bytes())
    if pki.scheme not in key.schemes:
        raise Unsupported(f"{provider.name} cannot sign {pki.scheme} with this key")
    leaf_spki = key.public_key_der()
    verifier = provider.signature_schemes[pki.scheme]
    cert_verifier = provider.signature_schemes[pki.cert_scheme]
    issuer_spki, tbs, cert_signature = _chain_signature(pki)
    # Same shape as a CertificateVerify input: 64 spaces, context string, transcript hash.
    message = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + os.urandom(32)
    signature = key.sign(pki.scheme, message)

    def key_exchange() -> None:
        exchange = kx.start()
        server_share, server_secret = kx.encapsulate(exchange.share)
        if exchange.complete(server_share) != server_secret:
            raise RuntimeError(f"{provider.name} {group}: the two sides derived different secrets")

    return {
        "kx": key_exchange,
        "sign": lambda: key.sign(pki.scheme, message),
        "verify": lambda: verifier.verify(leaf_spki, message, signature),
        "cert": lambda: cert_verifier.verify(issuer_spki, tbs, cert_signature, strict_curve=False),
    }


def floor_handshake(operations: dict[str, Callable[[], object]]) -> Callable[[], None]:
    """All public-key operations of one handshake, back to back."""
    kx, sign, verify, cert = operations["kx"], operations["sign"], operations["verify"], operations["cert"]

    def handshake() -> None:
        kx()
        sign()
        verify()
        for _ in range(CHAIN_SIGNATURES):
            cert()

    return handshake


def public_key_floor(
    provider_name: str, pki: BenchPKI, group: str, *, reps: int, min_time: float
) -> PublicKeyFloor:
    operations = handshake_operations(provider_name, pki, group)
    samples = interleave(
        {name: functools.partial(rate_for, op, min_time=min_time) for name, op in operations.items()}, reps
    )
    us = {name: 1e6 / sample.median for name, sample in samples.items()}
    total = us["kx"] + us["sign"] + us["verify"] + CHAIN_SIGNATURES * us["cert"]
    return PublicKeyFloor(
        provider=get_provider(provider_name).name,
        key_type=pki.key_type,
        group=group,
        keyexchange_us=us["kx"],
        sign_us=us["sign"],
        verify_us=us["verify"],
        cert_verify_us=us["cert"],
        handshake_us=total,
        handshakes_per_s=1e6 / total,
    )


def aead_floor(provider_name: str, suite: str, *, reps: int, min_time: float) -> dict:
    """Raw seal+open of 16 KiB records through the provider's AEAD: MB/s of plaintext."""
    provider = get_provider(provider_name)
    _check(provider, suite=suite)
    algorithm = provider.cipher_suites[suite].aead
    aead = algorithm.new(os.urandom(algorithm.key_length))
    nonce = os.urandom(algorithm.nonce_length)
    aad = b"\x17\x03\x03\x40\x11"  # a TLS 1.3 record header, as the record layer passes it
    record = bytes(RECORD_SIZE)

    def seal_open() -> None:
        aead.open(nonce, aad, aead.seal(nonce, aad, record))

    sample = interleave({"aead": lambda: rate_for(seal_open, min_time=min_time)}, reps)["aead"]
    return {
        "provider": provider.name,
        "suite": suite,
        "aead": SUITE_PARTS[suite][0],
        "seal_open_us": 1e6 / sample.median,
        "mb_per_s": sample.median * RECORD_SIZE / 1e6,
    }
