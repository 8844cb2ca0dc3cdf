"""What the TLS 1.2 client and server share: the transcript, the key derivation that
turns an ECDHE result into record protection, and the signature-scheme rules.

RFC 5246 hashes handshake messages twice over: the Finished and the Extended Master
Secret's session hash use the suite's PRF hash (RFC 5246 7.4.9, RFC 7627 3), while a
client CertificateVerify signs the messages themselves (RFC 5246 7.4.8). The transcript
therefore keeps the raw messages; a handshake has a handful of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Iterable

from tlskit.engine.tls12 import messages as m12, prf
from tlskit.engine.tls12.record import Tls12Protection, protections
from tlskit.engine.tls12.suites import Tls12CipherSuite
from tlskit.errors import DecodeError, IllegalParameter
from tlskit.providers.base import PrivateKey
from tlskit.providers.names import SIGNATURE_SCHEME_NAMES, SIGNATURE_SCHEMES

#: Signature schemes allowed with each suite authentication (RFC 8422 5.1 for ECDSA
#: suites with ECDSA and EdDSA certificates; RFC 5246 7.4.1.4.1 and RFC 8446 4.2.3 for RSA).
_AUTH_KINDS = {
    "ECDSA": ("ecdsa_", "ed25519", "ed448"),
    "RSA": ("rsa_pss_rsae_", "rsa_pss_pss_", "rsa_pkcs1_"),
}


def scheme_fits_suite(scheme: str, auth: str) -> bool:
    return scheme.startswith(_AUTH_KINDS[auth])


def key_auth(key: PrivateKey) -> str:
    """"RSA" or "ECDSA": the suite authentication a server key can serve."""
    return "RSA" if any(s.startswith("rsa_") for s in key.schemes) else "ECDSA"


def key_schemes(key: PrivateKey) -> tuple[str, ...]:
    """Every scheme the key can sign with in TLS 1.2: its TLS 1.3 ones plus rsa_pkcs1_*."""
    return tuple(key.schemes) + tuple(getattr(key, "legacy_schemes", ()))


def choose_scheme(preferred: Iterable[str], key: PrivateKey, peer_accepts: Collection[int], auth: str | None = None) -> str | None:
    """Our first preferred scheme that the key signs with, the peer accepts and (given
    ``auth``) the suite allows; None if there is none."""
    signable = key_schemes(key)
    for name in preferred:
        if name in signable and SIGNATURE_SCHEMES[name] in peer_accepts and (auth is None or scheme_fits_suite(name, auth)):
            return name
    return None


def scheme_from_code(code: int, offered: Collection[str], auth: str | None, what: str) -> str:
    """The name of a scheme the peer signed with, which must be one we offered and fit
    the suite; otherwise illegal_parameter (RFC 5246 7.4.3: MUST be one we listed)."""
    name = SIGNATURE_SCHEME_NAMES.get(code)
    if name is None or name not in offered:
        raise IllegalParameter(f"{what} signed with a scheme we did not offer")
    if auth is not None and not scheme_fits_suite(name, auth):
        raise IllegalParameter(f"{what} signed with {name}, which the cipher suite does not allow")
    return name


class Transcript12:
    """The handshake messages of one TLS 1.2 handshake, raw (HelloRequest excluded, RFC 5246 7.4.1.1)."""

    __slots__ = ("messages",)

    def __init__(self, *messages: bytes) -> None:
        self.messages: list[bytes] = list(messages)

    def add(self, message: bytes) -> None:
        self.messages.append(bytes(message))

    def content(self) -> bytes:
        return b"".join(self.messages)

    def digest(self, suite: Tls12CipherSuite) -> bytes:
        return suite.hash.digest(self.content())


@dataclass
class Keys12:
    """The master secret and both directions' protection of one connection."""

    master_secret: bytes
    client_write: Tls12Protection
    server_write: Tls12Protection


def derive_keys(suite: Tls12CipherSuite, pre_master_secret: bytes, session_hash: bytes, client_random: bytes, server_random: bytes) -> Keys12:
    """EMS (RFC 7627 4) then the key block (RFC 5246 6.3)."""
    master = prf.extended_master_secret(suite.hash, pre_master_secret, session_hash)
    return keys_from_master(suite, master, client_random, server_random)


def keys_from_master(suite: Tls12CipherSuite, master: bytes, client_random: bytes, server_random: bytes) -> Keys12:
    block = prf.key_block(suite.hash, master, server_random, client_random, suite.key_block_length)
    client_write, server_write = protections(suite, block)
    return Keys12(master, client_write, server_write)


def finished(suite: Tls12CipherSuite, master: bytes, client: bool, transcript: Transcript12) -> bytes:
    label = prf.CLIENT_FINISHED if client else prf.SERVER_FINISHED
    return prf.verify_data(suite.hash, master, label, transcript.digest(suite))


def receive_change_cipher_spec(conn: Any, body: bytes, peer_write: Tls12Protection) -> None:
    """The peer's ChangeCipherSpec (RFC 5246 7.1): from its next record on we read under
    the keys it writes with. ``conn`` is the client or server connection."""
    if body != b"\x01":
        raise DecodeError("ChangeCipherSpec must be the single byte 1")  # RFC 5246 7.1
    conn._record.activate_read(peer_write)
    if conn._tracer is not None:
        conn._trace_keys("read", "application")


def check_peer_finished(conn: Any, body: bytes, raw: bytes, state: Any, *, peer_is_client: bool) -> None:
    """Check the peer's Finished over the transcript so far (RFC 5246 7.4.9), then add it.
    ``state`` is the connection's Client12/Server12 (suite, keys, transcript)."""
    assert state.keys is not None
    message = m12.Finished12.decode(body)
    expected = finished(state.suite, state.keys.master_secret, peer_is_client, state.transcript)
    who = "client" if peer_is_client else "server"
    conn._checked("finished", f"{who} Finished matches the transcript", prf.check_verify_data, expected, message.verify_data)
    state.transcript.add(raw)


def tls12_exporter(state: "object", label: bytes, context: bytes | None, length: int) -> bytes:
    """A connection's RFC 5705 exporter, from its TLS 1.2 handshake state."""
    keys = getattr(state, "keys", None)
    if keys is None:
        raise IllegalParameter("no TLS 1.2 keys yet")
    suite = getattr(state, "suite")
    return exporter(suite, keys.master_secret, getattr(state, "client_random"), getattr(state, "server_random"), label, context, length)


def exporter(suite: Tls12CipherSuite, master: bytes, client_random: bytes, server_random: bytes, label: bytes, context: bytes | None, length: int) -> bytes:
    """RFC 5705 4: PRF(master_secret, label, client_random + server_random [+ context_length + context])."""
    seed = client_random + server_random
    if context is not None:
        if len(context) >= 1 << 16:
            raise IllegalParameter("exporter context too long")
        seed += len(context).to_bytes(2, "big") + context
    return prf.prf(suite.hash, master, label, seed, length)
