"""The handshake state machines: ``conn.state`` names (RFC 8446 Appendix A), the path each
side takes through them, and the transition tables as the only way in."""

from __future__ import annotations

import pytest
from engine_support import decrypt_records, pki_for, pump, split_records

from tlskit.engine.keyschedule import TrafficKeys
from tlskit.engine.record import ContentType, RecordLayer
from tlskit.providers import get_provider

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.engine.client import TLS13_CLIENT
from tlskit.engine.messages import HandshakeType
from tlskit.engine.server import TLS13_SERVER
from tlskit.engine.states import ClientState, ServerState
from tlskit.errors import AlertDescription, UnexpectedMessage

C, S = ClientState, ServerState


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("pki"))


SECRETS: dict[str, bytes] = {}


def _pair(pki, client=None, server=None):
    def log(label, _random, secret):
        SECRETS[label] = secret

    client_config = ClientConfig(cafile=pki.ca_file, keylog_callback=log, **(client or {}))
    server_config = ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, keylog_callback=log, **(server or {}))
    return ClientConnection(client_config, server_name="localhost"), ServerConnection(server_config)


def _one_record_per_message(flight: bytes, secret_label: str) -> list[bytes]:
    """A protected flight re-sent with each handshake message in its own record (a peer
    may split its flight so; it lets the receiver's state be read after every message)."""
    records = split_records(flight)
    plain = [r for r in records if r[0] != ContentType.application_data]
    suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
    data = decrypt_records(records[len(plain):], suite, SECRETS[secret_label])
    layer = RecordLayer()
    layer.set_write_keys(TrafficKeys(suite, SECRETS[secret_label]))
    out = list(plain)
    while data:
        length = 4 + int.from_bytes(data[1:4], "big")
        layer.write(ContentType.handshake, data[:length])
        out.append(layer.take_output())
        data = data[length:]
    return out


def _states_along(connection, flight: bytes, secret_label: str) -> list:
    """Feed a flight one message at a time; the states the connection went through."""
    seen = [connection.state]
    for record in _one_record_per_message(flight, secret_label):
        connection.receive_data(record)
        seen.append(connection.state)
    return seen


def test_states_are_public_read_only_and_named_as_in_rfc8446(pki):
    client, server = _pair(pki)
    assert client.state is C.WAIT_SH and server.state is S.START
    assert client.state == "WAIT_SH" and str(server.state) == "START"  # str enums
    with pytest.raises(AttributeError):
        client.state = C.CONNECTED  # type: ignore[misc]
    from tlskit import engine

    assert engine.ClientState is C and engine.ServerState is S
    assert [s.name for s in C] == [
        "START", "WAIT_SH", "WAIT_EE", "WAIT_CERT_CR", "WAIT_CERT", "WAIT_CV", "WAIT_FINISHED", "CONNECTED",
        # TLS 1.2 (tls12/client.py)
        "WAIT_SKE", "WAIT_CR_OR_SHD", "WAIT_SHD", "WAIT_NST", "WAIT_CCS",
    ]
    assert [s.name for s in S] == [
        "START", "RECVD_CH", "NEGOTIATED", "WAIT_EOED", "WAIT_FLIGHT2", "WAIT_CERT", "WAIT_CV", "WAIT_FINISHED", "CONNECTED",
        "WAIT_CKE", "WAIT_CCS",  # TLS 1.2 (tls12/server.py)
    ]


def test_client_walks_every_server_authentication_state(pki):
    client, server = _pair(pki)
    server.receive_data(client.data_to_send())
    assert server.state is S.WAIT_FINISHED
    assert _states_along(client, server.data_to_send(), "SERVER_HANDSHAKE_TRAFFIC_SECRET") == [
        C.WAIT_SH, C.WAIT_EE, C.WAIT_CERT_CR, C.WAIT_CV, C.WAIT_FINISHED, C.CONNECTED,
    ]
    server.receive_data(client.data_to_send())
    assert server.state is S.CONNECTED and client.handshake_complete and server.handshake_complete


def test_client_authentication_states_on_both_sides(pki):
    client, server = _pair(
        pki,
        client={"certfile": pki.chain_file, "keyfile": pki.key_file},
        server={"client_cafile": pki.ca_file, "require_client_auth": True},
    )
    server.receive_data(client.data_to_send())
    assert server.state is S.WAIT_CERT
    assert _states_along(client, server.data_to_send(), "SERVER_HANDSHAKE_TRAFFIC_SECRET") == [
        C.WAIT_SH, C.WAIT_EE, C.WAIT_CERT_CR, C.WAIT_CERT, C.WAIT_CV, C.WAIT_FINISHED, C.CONNECTED,
    ]
    assert _states_along(server, client.data_to_send(), "CLIENT_HANDSHAKE_TRAFFIC_SECRET") == [
        S.WAIT_CERT, S.WAIT_CV, S.WAIT_FINISHED, S.CONNECTED,
    ]


def test_client_without_a_certificate_goes_straight_to_finished(pki):
    client, server = _pair(pki, server={"client_cafile": pki.ca_file})  # asked, but has none
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    assert _states_along(server, client.data_to_send(), "CLIENT_HANDSHAKE_TRAFFIC_SECRET") == [
        S.WAIT_CERT, S.WAIT_FINISHED, S.CONNECTED,
    ]


def test_hello_retry_request_returns_both_sides_to_their_hello_states(pki):
    client, server = _pair(pki, client={"groups": ["x25519", "secp256r1"]}, server={"key_share_groups": ["secp256r1"]})
    server.receive_data(client.data_to_send())
    assert server.state is S.START  # RFC 8446 A.2: HelloRetryRequest leads back to START
    client.receive_data(server.data_to_send())
    assert client.state is C.WAIT_SH  # A.1: the second ClientHello waits for ServerHello again
    pump(client, server)
    assert client.state is C.CONNECTED and server.state is S.CONNECTED


def test_a_message_the_table_does_not_list_is_unexpected_message(pki):
    client, server = _pair(pki)
    finished = bytes([HandshakeType.finished, 0, 0, 32]) + bytes(32)
    with pytest.raises(UnexpectedMessage, match="finished in state START") as info:
        server.receive_data(b"\x16\x03\x03\x00\x24" + finished)
    assert info.value.alert == AlertDescription.unexpected_message
    assert server.state is S.START and server.closed


def test_transition_tables_only_name_states_of_their_own_side():
    assert {state for state, _ in TLS13_CLIENT} <= set(C)
    assert {state for state, _ in TLS13_SERVER} <= set(S)
    # post-handshake: tickets reach only the client, KeyUpdate both sides
    assert (C.CONNECTED, HandshakeType.new_session_ticket) in TLS13_CLIENT
    assert (S.CONNECTED, HandshakeType.new_session_ticket) not in TLS13_SERVER
    assert (S.CONNECTED, HandshakeType.key_update) in TLS13_SERVER
