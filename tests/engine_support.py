"""Helpers shared by the engine tests (test_engine*.py, test_interop_*.py, test_rfc8448.py)."""

from __future__ import annotations

import pathlib

import pytest
from certs import make_pki
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tlskit import ClientConnection, ServerConnection
from tlskit.engine.keyschedule import TrafficKeys
from tlskit.engine.record import ContentType, RecordLayer
from tlskit.errors import IllegalParameter
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
