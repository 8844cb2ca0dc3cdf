"""The TLS 1.2 PRF and everything derived through it (RFC 5246 sections 5, 6.3, 7.4.9; RFC 7627).

Every HMAC goes through the provider's hash (``HashAlgorithm.hmac``), so the PRF runs on
whichever backend the connection uses, like the TLS 1.3 key schedule does.

The PRF hash is the cipher suite's: SHA-256 for every suite except the *_SHA384 ones
(RFC 5246 5, RFC 5289 3.2).
"""

from __future__ import annotations

import hmac

from tlskit.errors import DecryptError
from tlskit.providers.base import HashAlgorithm

#: RFC 5246 8.1: the master secret is always 48 bytes.
MASTER_SECRET_LENGTH = 48
#: RFC 5246 7.4.9: verify_data_length is 12 for every cipher suite we implement.
VERIFY_DATA_LENGTH = 12

CLIENT_FINISHED = b"client finished"
SERVER_FINISHED = b"server finished"


def p_hash(hash_alg: HashAlgorithm, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash(secret, seed) cut to ``length`` bytes (RFC 5246 5)::

        A(0) = seed; A(i) = HMAC_hash(secret, A(i-1))
        P_hash = HMAC_hash(secret, A(1) + seed) + HMAC_hash(secret, A(2) + seed) + ...
    """
    if length < 0:
        raise ValueError("negative PRF output length")
    out: list[bytes] = []
    produced = 0
    a = seed
    mac = hash_alg.keyed_hmac(secret)  # 2 MACs per block under one key
    while produced < length:
        a = mac(a)
        block = mac(a + seed)
        out.append(block)
        produced += len(block)
    return b"".join(out)[:length]


def prf(hash_alg: HashAlgorithm, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed) = P_<hash>(secret, label + seed) (RFC 5246 5)."""
    return p_hash(hash_alg, secret, label + seed, length)


def extended_master_secret(hash_alg: HashAlgorithm, pre_master_secret: bytes, session_hash: bytes) -> bytes:
    """RFC 7627 4: master_secret = PRF(pre_master_secret, "extended master secret", session_hash),
    where session_hash is the hash of the handshake messages up to and including
    ClientKeyExchange. tlskit never derives the RFC 5246 8.1 master secret (the one over
    the randoms alone): EMS is required, as rustls requires it (RFC 7627 5.2, 5.3)."""
    return prf(hash_alg, pre_master_secret, b"extended master secret", session_hash, MASTER_SECRET_LENGTH)


def key_block(hash_alg: HashAlgorithm, master_secret: bytes, server_random: bytes, client_random: bytes, length: int) -> bytes:
    """RFC 5246 6.3: PRF(master_secret, "key expansion", server_random + client_random).
    Note the order: server random first, unlike the master secret's seed."""
    return prf(hash_alg, master_secret, b"key expansion", server_random + client_random, length)


def verify_data(hash_alg: HashAlgorithm, master_secret: bytes, label: bytes, handshake_hash: bytes) -> bytes:
    """RFC 5246 7.4.9: PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]."""
    return prf(hash_alg, master_secret, label, handshake_hash, VERIFY_DATA_LENGTH)


def check_verify_data(expected: bytes, received: bytes) -> None:
    """Compare Finished values in constant time; a mismatch is decrypt_error (RFC 5246 7.4.9)."""
    if not hmac.compare_digest(expected, received):
        raise DecryptError("Finished verify_data does not match")
