"""The TLS 1.3 key schedule (RFC 8446 section 7) over a provider's hash.

HKDF-Expand-Label, Derive-Secret, traffic keys, Finished and exporters live here
once for every provider; the provider supplies only HMAC/HKDF primitives.
"""

from __future__ import annotations

import hmac
from typing import Any, Callable

from tlskit.engine.buffer import u8, u16, u24
from tlskit.engine.messages import HandshakeType
from tlskit.errors import TLSError
from tlskit.providers.base import CipherSuite, HashAlgorithm, HashObject


#: HkdfLabel prefixes (length, label) already encoded; a handful of labels are ever used.
_LABEL_PREFIXES: dict[tuple[bytes, int], bytes] = {}


def hkdf_label(label: bytes, context: bytes, length: int) -> bytes:
    """The HkdfLabel structure (RFC 8446 7.1): the ``info`` of HKDF-Expand-Label."""
    if type(label) is not bytes:  # an exporter label may come as bytearray/memoryview
        label = bytes(label)
    prefix = _LABEL_PREFIXES.get((label, length))
    if prefix is None:
        full_label = b"tls13 " + label
        prefix = u16(length) + u8(len(full_label)) + full_label
        if len(_LABEL_PREFIXES) < 256:  # exporters may bring caller-chosen labels
            _LABEL_PREFIXES[(label, length)] = prefix
    return b"".join((prefix, bytes((len(context),)), context))


def hkdf_expand_label(hash_alg: HashAlgorithm, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    return hash_alg.hkdf_expand(secret, hkdf_label(label, context, length), length)


def derive_secret(hash_alg: HashAlgorithm, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    return hkdf_expand_label(hash_alg, secret, label, transcript_hash, hash_alg.digest_size)


class Transcript:
    """The running handshake hash.

    Messages are kept as raw bytes until the cipher suite (and so the hash) is
    known; afterwards the provider's incremental hash object is updated once per
    message and copied to read intermediate values, so nothing is hashed twice.
    """

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._hash_alg: HashAlgorithm | None = None
        self._ctx: HashObject | None = None

    def start(self, hash_alg: HashAlgorithm) -> None:
        self._hash_alg = hash_alg
        self._ctx = hash_alg.new()
        for message in self._pending:
            self._ctx.update(message)
        self._pending = []

    def add(self, message: bytes) -> None:
        if self._ctx is None:
            self._pending.append(bytes(message))
        else:
            self._ctx.update(message)

    def digest(self) -> bytes:
        assert self._ctx is not None, "transcript hash used before the suite was chosen"
        return self._ctx.digest()  # HashObject.digest() leaves the running hash as it was

    def digest_with(self, hash_alg: HashAlgorithm, extra: bytes) -> bytes:
        """The hash of the transcript so far followed by ``extra``, without adding it
        (a PSK binder over a truncated ClientHello, RFC 8446 4.2.11.2). Before the suite
        is chosen the messages so far are hashed with ``hash_alg``."""
        if self._ctx is None:
            ctx = hash_alg.new()
            for message in self._pending:
                ctx.update(message)
        else:
            ctx = self._ctx.copy()
        ctx.update(extra)
        return ctx.digest()

    def restart_with_message_hash(self) -> None:
        """Replace ClientHello1 by message_hash(Hash(ClientHello1)) for HelloRetryRequest (4.4.1)."""
        assert self._hash_alg is not None
        ch1_hash = self.digest()
        self._ctx = self._hash_alg.new()
        self._ctx.update(u8(HandshakeType.message_hash) + u24(len(ch1_hash)) + ch1_hash)


class TrafficKeys:
    """Key and IV of one direction of one epoch, with the AEAD object made once."""

    __slots__ = ("secret", "key", "iv", "aead")

    def __init__(self, suite: CipherSuite, secret: bytes) -> None:
        self.secret = secret
        aead = suite.aead
        expand = suite.hash.hkdf_expand
        # two expansions of one secret: keying an HMAC once (expander) only pays from three
        self.key = expand(secret, hkdf_label(b"key", b"", aead.key_length), aead.key_length)
        self.iv = expand(secret, hkdf_label(b"iv", b"", aead.nonce_length), aead.nonce_length)
        self.aead = aead.new(self.key)


#: Per hash algorithm object: (Hash(""), early secret without PSK, Derive-Secret(early, "derived", "")).
#: All three are constants of the hash, so they are computed once, not per connection.
_HASH_CONSTANTS: dict[Any, tuple[bytes, bytes, bytes]] = {}


def _hash_constants(hash_alg: HashAlgorithm) -> tuple[bytes, bytes, bytes]:
    try:
        constants = _HASH_CONSTANTS.get(hash_alg)
    except TypeError:  # an unhashable third-party hash object: compute every time
        constants = None
    if constants is None:
        zeros = bytes(hash_alg.digest_size)
        empty_hash = hash_alg.digest(b"")
        early_secret = hash_alg.hkdf_extract(zeros, zeros)
        derived = derive_secret(hash_alg, early_secret, b"derived", empty_hash)
        constants = (empty_hash, early_secret, derived)
        if len(_HASH_CONSTANTS) >= 64:  # providers are few; never let this grow unbounded
            _HASH_CONSTANTS.clear()
        try:
            _HASH_CONSTANTS[hash_alg] = constants
        except TypeError:
            pass
    return constants


class KeySchedule:
    """Early -> handshake -> master secrets for one connection. Without a PSK the early
    secret comes from zeros; with one (resumption, RFC 8446 7.1) from the PSK."""

    def __init__(self, suite: CipherSuite, psk: bytes | None = None) -> None:
        self.suite = suite
        self.hash = suite.hash
        self.empty_hash, self.early_secret, self._early_derived = _hash_constants(self.hash)
        if psk is not None:
            self.early_secret = self.hash.hkdf_extract(bytes(self.hash.digest_size), psk)
            self._early_derived = derive_secret(self.hash, self.early_secret, b"derived", self.empty_hash)
        self.handshake_secret: bytes | None = None
        self._handshake_expand: Callable[[bytes, int], bytes] | None = None
        self.master_secret: bytes | None = None

    def derive(self, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
        return derive_secret(self.hash, secret, label, transcript_hash)

    def set_shared_secret(self, shared_secret: bytes | None) -> None:
        """None: a psk_ke handshake, no (EC)DHE input (RFC 8446 7.1: a zero string)."""
        if shared_secret is None:
            shared_secret = bytes(self.hash.digest_size)
        self.handshake_secret = self.hash.hkdf_extract(self._early_derived, shared_secret)
        # One keyed HMAC for the three secrets expanded from the handshake secret; dropped
        # once the traffic secrets are out (an idle connection keeps no HMAC state).
        self._handshake_expand = self.hash.expander(self.handshake_secret)
        size = self.hash.digest_size
        salt = self._handshake_expand(hkdf_label(b"derived", self.empty_hash, size), size)
        self.master_secret = self.hash.hkdf_extract(salt, bytes(size))

    def handshake_traffic_secrets(self, transcript_hash: bytes) -> tuple[bytes, bytes]:
        """(client, server) handshake traffic secrets over ClientHello..ServerHello."""
        assert self.handshake_secret is not None
        expand, size = self._handshake_expand, self.hash.digest_size
        if expand is None:
            expand = self.hash.expander(self.handshake_secret)
        self._handshake_expand = None
        return (
            expand(hkdf_label(b"c hs traffic", transcript_hash, size), size),
            expand(hkdf_label(b"s hs traffic", transcript_hash, size), size),
        )

    def application_traffic_secrets(self, transcript_hash: bytes) -> tuple[bytes, bytes, bytes]:
        """(client, server, exporter master) secrets over ClientHello..server Finished."""
        client, server = self.traffic_secrets_0(transcript_hash)
        return client, server, self.exporter_master_secret(transcript_hash)

    def traffic_secrets_0(self, transcript_hash: bytes) -> tuple[bytes, bytes]:
        """(client, server) application traffic secrets over ClientHello..server Finished."""
        assert self.master_secret is not None
        size = self.hash.digest_size
        expand = self.hash.expander(self.master_secret)  # two secrets from one keyed HMAC
        return (
            expand(hkdf_label(b"c ap traffic", transcript_hash, size), size),
            expand(hkdf_label(b"s ap traffic", transcript_hash, size), size),
        )

    def exporter_master_secret(self, transcript_hash: bytes) -> bytes:
        assert self.master_secret is not None
        return self.derive(self.master_secret, b"exp master", transcript_hash)

    def resumption_master_secret(self, transcript_hash: bytes) -> bytes:
        assert self.master_secret is not None
        return self.derive(self.master_secret, b"res master", transcript_hash)

    def finished_verify_data(self, base_key: bytes, transcript_hash: bytes) -> bytes:
        finished_key = hkdf_expand_label(self.hash, base_key, b"finished", b"", self.hash.digest_size)
        return self.hash.hmac(finished_key, transcript_hash)

    def verify_finished(self, base_key: bytes, transcript_hash: bytes, received: bytes) -> bool:
        return hmac.compare_digest(self.finished_verify_data(base_key, transcript_hash), received)

    def next_traffic_secret(self, secret: bytes) -> bytes:
        """application_traffic_secret_N+1 (RFC 8446 7.2)."""
        return hkdf_expand_label(self.hash, secret, b"traffic upd", b"", self.hash.digest_size)

    def export(self, exporter_master_secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
        """TLS-Exporter (RFC 8446 7.5)."""
        secret = self.derive(exporter_master_secret, label, self.empty_hash)
        return hkdf_expand_label(self.hash, secret, b"exporter", self.hash.digest(context), length)

    def traffic_keys(self, secret: bytes) -> TrafficKeys:
        """Key and IV (and the AEAD object) for one direction under ``secret``."""
        return TrafficKeys(self.suite, secret)


class HandshakeSecrets:
    """The key schedule once the (EC)DHE secret is known, with both handshake traffic
    secrets (RFC 8446 7.1): what the handshake needs from ServerHello to Finished."""

    __slots__ = ("schedule", "client", "server")

    def __init__(self, suite: CipherSuite, shared_secret: bytes | None, transcript_hash: bytes, *, psk: bytes | None = None) -> None:
        """``psk``: resuming (RFC 8446 7.1: the early secret from it); ``shared_secret``
        None: psk_ke, no (EC)DHE."""
        self.schedule = KeySchedule(suite, psk=psk)
        self.schedule.set_shared_secret(shared_secret)
        #: client_/server_handshake_traffic_secret over ClientHello..ServerHello
        self.client, self.server = self.schedule.handshake_traffic_secrets(transcript_hash)

    def __repr__(self) -> str:  # never show key material
        return f"<HandshakeSecrets {self.schedule.suite.name}>"


class ApplicationSecrets:
    """Application traffic secrets from the server Finished on (RFC 8446 7.1, 7.2), with the
    exporter and resumption master secrets derived only when something asks for them."""

    __slots__ = ("schedule", "read", "write", "client_0", "server_0", "_exporter_hash", "_exporter", "resumption_hash")

    def __init__(self, schedule: KeySchedule, transcript_hash: bytes, *, is_client: bool) -> None:
        self.schedule = schedule
        #: client_/server_application_traffic_secret_0 over ClientHello..server Finished
        self.client_0, self.server_0 = schedule.traffic_secrets_0(transcript_hash)
        #: the current secret of each direction (advanced by KeyUpdate)
        self.read, self.write = (self.server_0, self.client_0) if is_client else (self.client_0, self.server_0)
        self._exporter_hash = transcript_hash
        self._exporter = b""
        #: ClientHello..client Finished, set when the client Finished is sent or verified
        self.resumption_hash: bytes | None = None

    @property
    def exporter_master_secret(self) -> bytes:
        if not self._exporter:
            self._exporter = self.schedule.exporter_master_secret(self._exporter_hash)
        return self._exporter

    @property
    def exporter_derived(self) -> bool:
        """Whether the exporter master secret was needed so far (it is derived on demand)."""
        return bool(self._exporter)

    def resumption_master_secret(self) -> bytes:
        """resumption_master_secret (RFC 8446 7.1); only after the client Finished."""
        if self.resumption_hash is None:
            raise TLSError("the resumption secret needs the client Finished")
        return self.schedule.resumption_master_secret(self.resumption_hash)

    def next_read(self) -> TrafficKeys:
        """application_traffic_secret_N+1 for reading (RFC 8446 7.2)."""
        self.read = self.schedule.next_traffic_secret(self.read)
        return self.schedule.traffic_keys(self.read)

    def next_write(self) -> TrafficKeys:
        self.write = self.schedule.next_traffic_secret(self.write)
        return self.schedule.traffic_keys(self.write)

    def __repr__(self) -> str:  # never show key material
        return f"<ApplicationSecrets {self.schedule.suite.name}>"
