"""Helpers shared by the engine tests (test_engine*.py, test_interop_*.py, test_rfc8448.py)."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import pytest
from certs import make_pki
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tlskit.engine.messages import ClientHello
from tlskit.engine.keyschedule import TrafficKeys
from tlskit.engine.record import ContentType, RecordLayer
from tlskit.errors import AlertDescription as A
from tlskit.errors import ConnectionClosedError, IllegalParameter
from tlskit.events import Event
from tlskit.providers import get_provider
from tlskit.providers.base import KeyExchange, KeyExchangeGroup, Provider

#: leaf key type -> a signature scheme the leaf signs CertificateVerify with
KEY_TYPE_SCHEMES = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "ecdsa-p384": "ecdsa_secp384r1_sha384",
    "ecdsa-p521": "ecdsa_secp521r1_sha512",
    "rsa-2048": "rsa_pss_rsae_sha256",
    "ed25519": "ed25519",
    "ed448": "ed448",
}


def pki_for(tmp_path: pathlib.Path, key_type: str = "ecdsa-p256", *, ca_key_type: str | None = None, name: str = "pki", **kwargs):
    """A test PKI whose CA signs with a key the same providers can check as the leaf's."""
    if ca_key_type is None:
        ca_key_type = "ed25519" if key_type == "ed25519" else "ecdsa-p256"
    return make_pki(tmp_path, leaf_key_type=key_type, ca_key_type=ca_key_type, name=name, **kwargs)


@pytest.fixture(scope="module")
def other_key(tmp_path_factory):
    """A P-256 key no test certificate holds (the test PKIs share cached leaf keys)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path_factory.mktemp("other") / "other-key.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def leaf_der(pki) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return pki.leaf.public_bytes(Encoding.DER)


def pump(client: ClientConnection, server: ServerConnection, limit: int = 20) -> tuple[list[Event], list[Event]]:
    """Move bytes both ways until neither side has anything to send; returns all events."""
    client_events: list[Event] = []
    server_events: list[Event] = []
    for _ in range(limit):
        to_server = client.data_to_send()
        if to_server:
            server_events += server.receive_data(to_server)
        to_client = server.data_to_send()
        if to_client:
            client_events += client.receive_data(to_client)
        if not to_server and not to_client:
            return client_events, server_events
    raise AssertionError("handshake did not settle")


def event_types(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


class FixedX25519(KeyExchangeGroup):
    """x25519 with a fixed private key, so handshakes can be replayed (test hook only)."""

    name = "x25519"
    code = 0x001D

    def __init__(self, private: bytes) -> None:
        self._private = X25519PrivateKey.from_private_bytes(private)
        self._share = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def start(self) -> KeyExchange:
        return KeyExchange(self, self._share, self._private)

    def encapsulate(self, peer_share):
        return self._share, self._exchange(self._private, peer_share)

    def complete(self, state, peer_share):
        return self._exchange(state, peer_share)

    @staticmethod
    def _exchange(private, peer_share: bytes) -> bytes:
        # behave like a real provider: bad peer shares are illegal_parameter
        if len(peer_share) != 32:
            raise IllegalParameter("x25519 share must be 32 bytes")
        try:
            return private.exchange(X25519PublicKey.from_public_bytes(peer_share))
        except ValueError:
            raise IllegalParameter("x25519 share gives an all-zero secret") from None


def deterministic_provider(base_name: str, private: bytes, random: bytes) -> Provider:
    """``base_name``'s algorithms with a fixed x25519 key and a fixed random source."""
    base = get_provider(base_name)
    return Provider(
        name=f"{base_name}+fixed",
        cipher_suites=base.cipher_suites,
        groups={"x25519": FixedX25519(private)},
        signature_schemes=base.signature_schemes,
        key_loader=base.key_loader,
        random_source=lambda n: (random * (n // len(random) + 1))[:n],
    )


def split_records(data: bytes) -> list[bytes]:
    """Whole records of a well-formed byte stream."""
    records, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        records.append(data[pos : pos + 5 + length])
        pos += 5 + length
    return records


def decrypt_records(records: list[bytes], suite, secret: bytes) -> bytes:
    """The handshake plaintext carried by protected records (a man in the middle who knows the keys)."""
    layer = RecordLayer()
    layer.set_read_keys(TrafficKeys(suite, secret))
    layer.feed(b"".join(records))
    plaintext = b""
    while (record := layer.next_record()) is not None:
        assert record[0] == ContentType.handshake
        plaintext += record[1]
    return plaintext


def encrypt_handshake(plaintext: bytes, suite, secret: bytes, content_type: int = ContentType.handshake) -> bytes:
    layer = RecordLayer()
    layer.set_write_keys(TrafficKeys(suite, secret))
    layer.write(content_type, plaintext)
    return layer.take_output()


# -- a recorded, replayable handshake (fixed randoms and keys) -----------------------------
#
# The hostile and RFC 8446 tests replay it with one field of one message changed.

CLIENT_KEY = bytes(range(1, 33))
SERVER_KEY = bytes(range(101, 133))


@dataclass
class Recorded:
    pki: object
    client_hello: bytes  # the ClientHello record
    server_hello: bytes  # the ServerHello record
    server_encrypted: list[bytes]  # EE .. Finished records
    client_flight: bytes  # client Finished record(s)
    secrets: dict[str, bytes]
    suite: object

    def client(self, **kwargs) -> ClientConnection:
        config = ClientConfig(
            provider=deterministic_provider("cryptography", CLIENT_KEY, b"\xc1"),
            cafile=self.pki.ca_file,
            **kwargs,
        )
        return ClientConnection(config, server_name="localhost")

    def server(self, **kwargs) -> ServerConnection:
        # no session tickets after the handshake: the tests forge the server's first
        # application records (sequence number 0) themselves
        kwargs.setdefault("tickets", 0)
        config = ServerConfig(
            provider=deterministic_provider("cryptography", SERVER_KEY, b"\x5e"),
            certfile=self.pki.chain_file,
            keyfile=self.pki.key_file,
            **kwargs,
        )
        return ServerConnection(config)

    def server_flight_plaintext(self) -> bytes:
        return decrypt_records(self.server_encrypted, self.suite, self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])

    def reencrypted_server_flight(self, plaintext: bytes) -> bytes:
        return self.server_hello + encrypt_handshake(plaintext, self.suite, self.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])

    def client_after_server_hello(self) -> ClientConnection:
        client = self.client()
        client.data_to_send()
        client.receive_data(self.server_hello)
        return client

    def server_after_client_hello(self) -> ServerConnection:
        server = self.server()
        server.receive_data(self.client_hello)
        server.data_to_send()
        return server


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Recorded:
    pki = pki_for(tmp_path_factory.mktemp("hostile"), "ed25519")
    secrets: dict[str, bytes] = {}
    shell = Recorded(pki, b"", b"", [], b"", secrets, None)
    client = shell.client(keylog_callback=lambda label, random, secret: secrets.__setitem__(label, secret))
    server = shell.server()
    hello = client.data_to_send()
    server.receive_data(hello)
    flight = split_records(server.data_to_send())
    client.receive_data(b"".join(flight))
    client_flight = client.data_to_send()
    server.receive_data(client_flight)
    assert client.handshake_complete and server.handshake_complete
    suite = get_provider("cryptography").cipher_suites[client.negotiated.cipher_suite]
    return Recorded(pki, hello, flight[0], flight[1:], client_flight, secrets, suite)


def split_messages(plaintext: bytes) -> list[bytes]:
    messages, pos = [], 0
    while pos < len(plaintext):
        length = int.from_bytes(plaintext[pos + 1 : pos + 4], "big")
        messages.append(plaintext[pos : pos + 4 + length])
        pos += 4 + length
    return messages


def record(content_type: int, payload: bytes, version: bytes = b"\x03\x03") -> bytes:
    return bytes([content_type]) + version + len(payload).to_bytes(2, "big") + payload


def expect_alert(connection, data: bytes, alert: A) -> TLSError:
    with pytest.raises(TLSError) as caught:
        connection.receive_data(data)
    assert caught.value.alert == alert, repr(caught.value)
    assert connection.closed
    with pytest.raises(ConnectionClosedError):
        connection.receive_data(b"\x17\x03\x03\x00\x00")
    return caught.value


def sent_alert(connection) -> int:
    """The description of the (plaintext) alert a connection queued."""
    out = connection.data_to_send()
    assert out[:1] == b"\x15" and len(out) == 7, out
    return out[6]


def replayed_client_hello(recorded: Recorded, mutate) -> bytes:
    hello = ClientHello.decode(recorded.client_hello[9:])
    mutate(hello)
    message = hello.encode()
    return record(ContentType.handshake, message, b"\x03\x01")


def connected_pair(recorded):
    client = recorded.client()
    client.data_to_send()
    client.receive_data(recorded.server_hello + b"".join(recorded.server_encrypted))
    server = recorded.server()
    server.receive_data(recorded.client_hello)
    server.data_to_send()
    server.receive_data(client.data_to_send())
    assert client.handshake_complete and server.handshake_complete
    return client, server


def client_with_flight(recorded, messages: list[bytes], alert: A):
    client = recorded.client()
    client.data_to_send()
    error = expect_alert(client, recorded.reencrypted_server_flight(b"".join(messages)), alert)
    return client, error
