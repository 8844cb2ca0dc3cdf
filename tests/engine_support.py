"""Helpers shared by the engine tests (test_engine*.py, test_interop_*.py, test_rfc8448.py)."""

from __future__ import annotations

import pathlib

from certs import make_pki

from tlskit import ClientConnection, ServerConnection
from tlskit.events import Event

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
