"""Fuzz targets for tlskit: one function per target, ``target(data: bytes) -> None``.

Each target feeds hostile bytes to one parser or state machine and lets through only
the *typed* errors the quality bar allows (``TLSError`` subclasses and alerts for the
engine, ``CertificateError`` for pki, ``CAError`` for the CA). Anything else escaping
-- IndexError, struct.error, ValueError, KeyError, AttributeError, a hang -- is a
finding, and atheris (scripts/fuzz.py) or the test suite (tests/test_fuzz_targets.py,
which runs every target on its seeds plus deterministic mutations, without atheris)
reports it.

The engine targets replay a *deterministic* handshake (fixed randoms and x25519 keys on
both sides, recorded once at import), so that the client target can re-encrypt a
mutated server flight with the real handshake keys and reach EncryptedExtensions,
Certificate and CertificateVerify parsing instead of dying at the first AEAD check.

Seeds: fuzz/corpus/<target>/ (made by ``scripts/fuzz.py --make-corpus`` from real
recorded transcripts and certificates).
"""

from __future__ import annotations

import datetime
import functools
import pathlib
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlskit.ca.ephemeral import EphemeralCA
from tlskit.ca.errors import CAError
from tlskit.engine.client import ClientConnection
from tlskit.engine.config import ClientConfig, ServerConfig
from tlskit.engine.keyschedule import TrafficKeys
from tlskit.engine.record import ContentType, RecordLayer
from tlskit.engine.server import ServerConnection
from tlskit.errors import IllegalParameter, TLSError
from tlskit.pki import CertificateError, TrustStore, load_certificates, load_crls, verify_chain
from tlskit.providers import get_provider
from tlskit.providers.base import KeyExchange, KeyExchangeGroup, Provider

FIXTURE = pathlib.Path(__file__).parent / "fixture"


class _FixedX25519(KeyExchangeGroup):
    """x25519 with a fixed private key, so the handshake replays byte for byte."""

    name, code = "x25519", 0x001D

    def __init__(self, private: bytes) -> None:
        self._private = X25519PrivateKey.from_private_bytes(private)
        self._share = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def start(self) -> KeyExchange:
        return KeyExchange(self, self._share, self._private)

    def encapsulate(self, peer_share: bytes) -> tuple[bytes, bytes]:
        return self._share, self.complete(self._private, peer_share)

    def complete(self, state: Any, peer_share: bytes) -> bytes:
        if len(peer_share) != 32:
            raise IllegalParameter("x25519 share must be 32 bytes")
        try:
            return state.exchange(X25519PublicKey.from_public_bytes(peer_share))
        except ValueError:
            raise IllegalParameter("x25519 share gives an all-zero secret") from None


def _fixed_provider(private: bytes, random: bytes) -> Provider:
    base = get_provider("cryptography")
    return Provider(
        name="cryptography+fixed",
        cipher_suites=base.cipher_suites,
        groups={"x25519": _FixedX25519(private)},
        signature_schemes=base.signature_schemes,
        key_loader=base.key_loader,
        random_source=lambda n: (random * n)[:n],
    )


class _Setup:
    """The deterministic configs and one recorded handshake (built once, lazily)."""

    def __init__(self, fresh: bool = False) -> None:
        # The recorded handshake must replay byte for byte across runs, so the PKI is a
        # committed fixture (test-only keys) and the client's clock is pinned to when it was made.
        if fresh or not (FIXTURE / "chain.pem").exists():
            ca = EphemeralCA(key_type="ecdsa-p256", intermediate=False)
            leaf = ca.issue_cert("localhost")
            FIXTURE.mkdir(exist_ok=True)
            (FIXTURE / "root.pem").write_bytes(bytes(ca.root_pem))
            (FIXTURE / "chain.pem").write_bytes(bytes(leaf.chain_pem))
            (FIXTURE / "key.pem").write_bytes(bytes(leaf.key_pem))
            (FIXTURE / "time.txt").write_text(datetime.datetime.now(datetime.timezone.utc).isoformat())
        self.root_pem = (FIXTURE / "root.pem").read_bytes()
        self.chain_pem = (FIXTURE / "chain.pem").read_bytes()
        self.key_pem = (FIXTURE / "key.pem").read_bytes()
        self.now = datetime.datetime.fromisoformat((FIXTURE / "time.txt").read_text().strip())
        clock = lambda: self.now  # noqa: E731
        client_provider = _fixed_provider(bytes(range(1, 33)), b"\xc1")
        server_provider = _fixed_provider(bytes(range(101, 133)), b"\x5e")
        self.secrets: dict[str, bytes] = {}
        self.client_config = ClientConfig(
            provider=client_provider,
            cadata=self.root_pem,
            cipher_suites=["TLS_AES_128_GCM_SHA256"],
            clock=clock,
            keylog_callback=lambda label, random, secret: self.secrets.__setitem__(label, secret),
        )
        server = dict(certfile=self.chain_pem, keyfile=self.key_pem, clock=clock)
        self.server_config = ServerConfig(provider=server_provider, tickets=0, **server)
        # a second, realistic server (real randomness, every group, mTLS asked) for ClientHellos
        self.open_server_config = ServerConfig(
            client_cadata=self.root_pem, require_client_auth=True, alpn_protocols=["h2", "http/1.1"], **server
        )
        client = ClientConnection(self.client_config, "localhost")
        server = ServerConnection(self.server_config)
        self.client_hello = client.data_to_send()
        server.receive_data(self.client_hello)
        flight = server.data_to_send()
        length = int.from_bytes(flight[3:5], "big")
        self.server_hello, encrypted = flight[: 5 + length], flight[5 + length :]
        self.suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
        client.receive_data(flight)
        self.client_finished = client.data_to_send()
        server.receive_data(self.client_finished)
        assert client.handshake_complete and server.handshake_complete, "the recorded handshake failed"
        layer = RecordLayer()
        layer.set_read_keys(TrafficKeys(self.suite, self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]))
        layer.feed(encrypted)
        self.server_flight_plaintext = b""
        while (record := layer.next_record()) is not None:
            self.server_flight_plaintext += record[1]
        self.trust = TrustStore(load_certificates(self.root_pem))

    def encrypt(self, plaintext: bytes, secret_label: str) -> bytes:
        layer = RecordLayer()
        layer.set_write_keys(TrafficKeys(self.suite, self.secrets[secret_label]))
        if plaintext:
            layer.write(ContentType.handshake, plaintext)
        return layer.take_output()


@functools.lru_cache(maxsize=1)
def setup() -> _Setup:
    return _Setup()


def remake_fixture() -> _Setup:
    """A new fixture PKI (scripts/fuzz.py --make-corpus): the seeds must be remade with it."""
    setup.cache_clear()
    _Setup(fresh=True)
    return setup()


def _drive(connection: Any, data: bytes, chunk: int) -> None:
    """Feed ``data`` in chunks (a split record must not change the outcome class), then
    let the connection answer; only TLSError may come out."""
    try:
        if chunk <= 0:
            connection.receive_data(data)
        else:
            for pos in range(0, len(data), chunk):
                connection.receive_data(data[pos : pos + chunk])
    except TLSError:
        pass
    connection.data_to_send()  # an alert, or the next flight: must not raise


# -- the targets ------------------------------------------------------------------------


def server_engine(data: bytes) -> None:
    """A server fed a client's first flight (ClientHello records, perhaps more)."""
    s = setup()
    config = s.open_server_config if data[:1] == b"\x16" else s.server_config
    _drive(ServerConnection(config), data, 0 if len(data) % 3 else 7)


def client_engine(data: bytes) -> None:
    """A client fed a server flight: byte 0 even -> ``data[1:]`` is the plaintext of the
    server's encrypted handshake (EncryptedExtensions .. Finished), re-encrypted with the
    recorded handshake's keys after its ServerHello; odd -> ``data[1:]`` is raw records."""
    s = setup()
    if not data:
        return
    client = ClientConnection(s.client_config, "localhost")
    client.data_to_send()
    if data[0] % 2 == 0:
        payload = s.server_hello + s.encrypt(data[1:], "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    else:
        payload = data[1:]
    _drive(client, payload, 0 if data[0] % 4 < 2 else 11)


def record_layer(data: bytes) -> None:
    """The record layer's framing and unprotection: byte 0 picks plaintext or keyed reads."""
    s = setup()
    if not data:
        return
    layer = RecordLayer()
    if data[0] & 1:
        layer.set_read_keys(TrafficKeys(s.suite, s.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]))
    try:
        layer.feed(data[1:])
        for _ in range(len(data)):  # bounded: at most one record per input byte
            if layer.next_record() is None:
                break
    except TLSError:
        pass


def certificates(data: bytes) -> None:
    """Certificate/chain loading (PEM or DER, bundles) and verify_chain against the CA."""
    s = setup()
    try:
        certs = load_certificates(data)
    except CertificateError:
        certs = []
    if certs:
        try:
            verify_chain(certs[0], certs[1:], s.trust, server_name="localhost", at=s.now)
        except CertificateError:
            pass
    try:
        load_crls([data])
    except CertificateError:
        pass


def csr(data: bytes) -> None:
    """CSR parsing in the CA (PEM or DER; signature and key checks)."""
    from tlskit.ca.csr import parse_csr

    try:
        parse_csr(data)
    except CAError:
        pass


def extensions(data: bytes) -> None:
    """The handshake message and extension decoders, byte 0 picking the message; every
    typed extension accessor is then read."""
    from tlskit.engine import messages

    if not data:
        return
    decoders: list[Callable[[bytes], Any]] = [
        messages.ClientHello.decode,
        messages.ServerHello.decode,
        messages.EncryptedExtensions.decode,
        messages.CertificateRequest.decode,
        messages.Certificate.decode,
        messages.NewSessionTicketMessage.decode,
        messages.CertificateVerify.decode,
        messages.KeyUpdate.decode,
    ]
    decode = decoders[data[0] % len(decoders)]
    try:
        message = decode(data[1:])
        extension_list = getattr(message, "extensions", None)
        if extension_list is not None:
            extension_list.check()
            for name in dir(type(extension_list)):
                if isinstance(getattr(type(extension_list), name, None), property):
                    getattr(extension_list, name)
        for entry in getattr(message, "entries", None) or ():
            entry_extensions = getattr(entry, "extensions", None)
            if entry_extensions is not None:
                for name in dir(type(entry_extensions)):
                    if isinstance(getattr(type(entry_extensions), name, None), property):
                        getattr(entry_extensions, name)
    except TLSError:
        pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "server_engine": server_engine,
    "client_engine": client_engine,
    "record_layer": record_layer,
    "certificates": certificates,
    "csr": csr,
    "extensions": extensions,
}
