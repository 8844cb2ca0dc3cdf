"""Per-connection limits on what a hostile peer can make the engine do for free (issue 16, 7-9).

At most one compatibility ChangeCipherSpec per handshake; close_notify during the handshake
ends it at once; floods of KeyUpdates, other post-handshake messages, empty records and
warning alerts are capped and end with unexpected_message (the numbers are BoringSSL's).
"""

from __future__ import annotations

import socket

import pytest
from engine_support import connected_pair, expect_alert, pump, record, recorded  # noqa: F401 (recorded: a fixture)

from tlskit import ClientConnection, ServerConfig, ServerConnection, TLSError
from tlskit.ca import EphemeralCA
from tlskit.engine.connection import (
    MAX_EMPTY_RECORDS,
    MAX_POST_HANDSHAKE_WITHOUT_DATA,
    MAX_WARNING_ALERTS,
)
from tlskit.engine.messages import ClientHello
from tlskit.engine.record import ContentType
from tlskit.engine.tls12 import messages as m12
from tlskit.errors import AlertDescription as A
from tlskit.errors import AlertReceivedError, ConfigurationError, ConnectionClosedError
from tlskit.events import AlertReceived, ApplicationData, KeyUpdated

CCS = record(ContentType.change_cipher_spec, b"\x01")
CLOSE_NOTIFY = record(ContentType.alert, b"\x01\x00")


# -- 7: one compatibility ChangeCipherSpec per handshake ------------------------------------


def test_client_hello_followed_by_a_stream_of_ccs_fails_at_the_second(recorded):
    server = recorded.server()
    error = expect_alert(server, recorded.client_hello + CCS * 10_000, A.unexpected_message)
    assert "change_cipher_spec" in str(error)
    assert not server.handshake_complete


def test_two_ccs_after_the_server_flight_fail(recorded):
    server = recorded.server_after_client_hello()
    assert server.receive_data(CCS) == []  # the one compatibility CCS (RFC 8446 D.4)
    expect_alert(server, CCS, A.unexpected_message)


def test_two_ccs_before_the_client_finished_in_one_batch(recorded):
    server = recorded.server_after_client_hello()
    expect_alert(server, CCS + CCS + recorded.client_flight, A.unexpected_message)


def test_client_accepts_one_ccs_from_the_server_not_two(recorded):
    client = recorded.client()
    client.data_to_send()
    flight = recorded.server_hello + CCS + b"".join(recorded.server_encrypted)
    client.receive_data(flight)
    assert client.handshake_complete  # one CCS between ServerHello and the encrypted flight
    client = recorded.client()
    client.data_to_send()
    expect_alert(client, recorded.server_hello + CCS + CCS, A.unexpected_message)


def test_compatibility_mode_handshake_still_completes(recorded):
    client = recorded.client(compatibility_mode=True)
    server = recorded.server()
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete


@pytest.fixture(scope="module")
def ca():
    return EphemeralCA()


@pytest.fixture(scope="module")
def cert(ca):
    return ca.issue_cert("localhost")


def tls12_pair(ca, cert) -> tuple[ClientConnection, ServerConnection]:
    server = ServerConnection(ca.server_config(cert, provider="cryptography"))
    client = ClientConnection(
        ca.client_config(provider="cryptography", min_version="TLSv1.2", max_version="TLSv1.2"), server_name="localhost"
    )
    return client, server


def test_tls12_change_cipher_spec_is_still_a_step_of_the_machine(ca, cert):
    client, server = tls12_pair(ca, cert)
    pump(client, server)
    assert client.negotiated.version == server.negotiated.version == "TLSv1.2"
    client.send(b"ping")
    assert server.receive_data(client.data_to_send()) == [ApplicationData(b"ping")]


# -- 8: close_notify during the handshake --------------------------------------------------


def test_close_notify_after_client_hello_ends_the_handshake(recorded):
    server = recorded.server()
    with pytest.raises(AlertReceivedError) as caught:
        server.receive_data(recorded.client_hello + CLOSE_NOTIFY)
    assert caught.value.alert == A.close_notify
    assert server.closed and not server.handshake_complete
    with pytest.raises(ConnectionClosedError):
        server.receive_data(CCS)


def test_close_notify_from_the_server_mid_handshake_ends_the_client(recorded):
    client = recorded.client_after_server_hello()
    with pytest.raises(AlertReceivedError):
        client.receive_data(CLOSE_NOTIFY)  # a peer without our keys yet may send it in the clear
    assert client.closed and not client.handshake_complete


def test_user_canceled_then_close_notify_during_the_handshake(recorded):
    client = recorded.client()
    server = recorded.server()
    server.receive_data(client.data_to_send())
    client.cancel()
    with pytest.raises(AlertReceivedError) as caught:
        server.receive_data(client.data_to_send())
    assert caught.value.alert == A.close_notify
    assert server.closed and not server.handshake_complete


def test_close_notify_after_the_handshake_is_still_a_clean_close(recorded):
    client, server = connected_pair(recorded)
    client.close()
    assert [type(e).__name__ for e in server.receive_data(client.data_to_send())] == ["ConnectionClosed"]


def test_stream_server_handshake_ends_on_close_notify(ca, cert):
    """The blocking io layer gives up at once (before: it waited for the socket timeout)."""
    from tlskit.io.stream import TLSStream

    a, b = socket.socketpair()
    try:
        client = ClientConnection(ca.client_config(provider="cryptography"), server_name="localhost")
        a.sendall(client.data_to_send() + CLOSE_NOTIFY)
        b.settimeout(20)  # a bound for the broken behaviour, not a measurement
        stream = TLSStream(b, ServerConnection(ca.server_config(cert, provider="cryptography")))
        with pytest.raises(TLSError) as caught:
            stream.do_handshake()
        assert isinstance(caught.value, AlertReceivedError), repr(caught.value)
    finally:
        a.close()
        b.close()


def test_asyncio_server_drops_a_client_that_sends_close_notify_mid_handshake(ca, cert):
    """tlskit.aio closes the socket at once (the handshake timeout is far away)."""
    import asyncio

    from tlskit import aio

    async def scenario() -> bytes:
        server = await aio.start_server(lambda r, w: None, "127.0.0.1", 0, handshake_timeout=60, config=ca.server_config(cert))
        try:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            client = ClientConnection(ca.client_config(provider="cryptography"), server_name="localhost")
            writer.write(client.data_to_send() + CLOSE_NOTIFY)
            received = b""
            while True:  # the server's flight may come first; then the end of the stream
                chunk = await asyncio.wait_for(reader.read(65536), 20)  # a bound, not a measurement
                if not chunk:
                    break
                received += chunk
            writer.close()
            return received
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())  # reaching the end of the stream is the point


# -- 9: flood caps --------------------------------------------------------------------------


def test_key_update_flood_is_capped(recorded):
    client, server = connected_pair(recorded)
    for _ in range(MAX_POST_HANDSHAKE_WITHOUT_DATA):
        client.update_keys(request_peer=True)
        assert server.receive_data(client.data_to_send()) == [KeyUpdated()]
    replies = server.data_to_send()
    client.update_keys(request_peer=True)
    expect_alert(server, client.data_to_send(), A.unexpected_message)
    assert replies  # each batch was answered, at most MAX_POST_HANDSHAKE_WITHOUT_DATA times


def test_key_updates_between_application_data_are_unlimited(recorded):
    client, server = connected_pair(recorded)
    for i in range(3 * MAX_POST_HANDSHAKE_WITHOUT_DATA):
        client.update_keys(request_peer=True)
        client.send(b"x")
        assert server.receive_data(client.data_to_send()) == [KeyUpdated(), ApplicationData(b"x")]
        server.send(b"y")  # the server's KeyUpdate in answer, then data
        assert client.receive_data(server.data_to_send()) == [KeyUpdated(), ApplicationData(b"y")]
    server.send(b"still here")
    assert client.receive_data(server.data_to_send()) == [ApplicationData(b"still here")]


def test_new_session_ticket_flood_is_capped(recorded):
    client, server = connected_pair(recorded)
    body = b"\x00\x00\x0e\x10" + b"\x00\x00\x00\x01" + b"\x01\x00" + b"\x00\x04tick" + b"\x00\x00"
    ticket = b"\x04" + len(body).to_bytes(3, "big") + body
    for _ in range(MAX_POST_HANDSHAKE_WITHOUT_DATA + 1):
        server._record.write(ContentType.handshake, ticket)
    expect_alert(client, server.data_to_send(), A.unexpected_message)


def test_post_handshake_certificate_request_flood_is_capped(ca, cert):
    """Each CertificateRequest costs the client a signature (RFC 8446 4.6.2)."""
    client_cert = ca.issue_cert("client@example.com", client=True)
    client = ClientConnection(ca.client_config(client_cert, provider="cryptography"), server_name="localhost")
    server = ServerConnection(
        ca.server_config(cert, provider="cryptography", client_cadata=ca.root_pem, post_handshake_client_auth=True)
    )
    pump(client, server)
    server.send(b"hello")  # data restarts the count (after any NewSessionTickets)
    assert client.receive_data(server.data_to_send())[-1] == ApplicationData(b"hello")
    for _ in range(MAX_POST_HANDSHAKE_WITHOUT_DATA):
        server.request_client_certificate()
        client.receive_data(server.data_to_send())
        server.receive_data(client.data_to_send())
    server.request_client_certificate()
    expect_alert(client, server.data_to_send(), A.unexpected_message)


def test_empty_record_flood_is_capped(recorded):
    client, server = connected_pair(recorded)
    for _ in range(MAX_EMPTY_RECORDS):
        client.send(b"")
    assert len(server.receive_data(client.data_to_send())) == MAX_EMPTY_RECORDS
    client.send(b"")
    expect_alert(server, client.data_to_send(), A.unexpected_message)


def test_empty_records_between_data_are_fine(recorded):
    client, server = connected_pair(recorded)
    for _ in range(3):
        for _ in range(MAX_EMPTY_RECORDS):
            client.send(b"")
        client.send(b"data")
        events = server.receive_data(client.data_to_send())
        assert events[-1] == ApplicationData(b"data")


def test_a_large_empty_record_flood_fails_fast(recorded):
    client, server = connected_pair(recorded)
    for _ in range(10_000):
        client.send(b"")
    expect_alert(server, client.data_to_send(), A.unexpected_message)


def test_warning_alert_flood_is_capped(recorded):
    client, server = connected_pair(recorded)
    for _ in range(MAX_WARNING_ALERTS):
        client._send_alert(A.user_canceled)
    events = server.receive_data(client.data_to_send())
    assert events == [AlertReceived(A.user_canceled, 1)] * MAX_WARNING_ALERTS
    client._send_alert(A.user_canceled)
    expect_alert(server, client.data_to_send(), A.unexpected_message)


def test_warning_alert_count_restarts_with_data(recorded):
    client, server = connected_pair(recorded)
    for _ in range(3):
        for _ in range(MAX_WARNING_ALERTS):
            client._send_alert(A.user_canceled)
        client.send(b"data")
        assert server.receive_data(client.data_to_send())[-1] == ApplicationData(b"data")


def test_user_canceled_flood_during_the_handshake(recorded):
    server = recorded.server_after_client_hello()
    alerts = record(ContentType.alert, b"\x01\x5a") * (MAX_WARNING_ALERTS + 1)
    # the client has no keys of ours yet: its alerts come in the clear, as a real client's would
    expect_alert(server, alerts, A.unexpected_message)


def test_tls12_no_renegotiation_warning_flood_is_capped(ca, cert):
    client, server = tls12_pair(ca, cert)
    pump(client, server)
    for _ in range(MAX_WARNING_ALERTS):
        client._record.write(ContentType.alert, bytes((1, A.no_renegotiation)))
    assert server.receive_data(client.data_to_send()) == [AlertReceived(A.no_renegotiation, 1)] * MAX_WARNING_ALERTS
    client._record.write(ContentType.alert, bytes((1, A.no_renegotiation)))
    expect_alert(server, client.data_to_send(), A.unexpected_message)


def test_tls12_hello_request_flood_is_capped(ca, cert):
    client, server = tls12_pair(ca, cert)
    pump(client, server)
    for _ in range(MAX_POST_HANDSHAKE_WITHOUT_DATA + 1):
        server._record.write(ContentType.handshake, m12.HelloRequest().encode())
    expect_alert(client, server.data_to_send(), A.unexpected_message)


def test_tls12_renegotiation_flood_is_capped(ca, cert):
    client, server = tls12_pair(ca, cert)
    pump(client, server)
    hello = ClientHello(bytes(32), b"", [0xC02B], [(0xFF01, b"\x00")]).encode()
    for _ in range(MAX_POST_HANDSHAKE_WITHOUT_DATA + 1):
        client._record.write(ContentType.handshake, hello)
    expect_alert(server, client.data_to_send(), A.unexpected_message)


def test_caps_do_not_bite_a_normal_session(recorded):
    client, server = connected_pair(recorded)
    for i in range(200):
        if i % 10 == 0:
            client.update_keys()
        client.send(b"request %d" % i)
        events = server.receive_data(client.data_to_send())
        assert events[-1] == ApplicationData(b"request %d" % i)
        server.send(b"reply")
        client.receive_data(server.data_to_send())
    assert not server.closed and not client.closed


# -- 10: OCSP staples per certificate -----------------------------------------------------

STAPLE_A = b"\x30\x03\x0a\x01\x00" + b"A"  # opaque to the engine: a client reports what it got
STAPLE_B = b"\x30\x03\x0a\x01\x00" + b"B"


@pytest.fixture(scope="module")
def two_names(ca):
    return ca.issue_cert("a.example"), ca.issue_cert("b.example")


def stapled(ca, server_config, name: str, version: str = "TLSv1.3") -> bytes | None:
    client = ClientConnection(
        ca.client_config(provider="cryptography", request_ocsp=True, min_version=version, max_version=version), server_name=name
    )
    server = ServerConnection(server_config)
    pump(client, server)
    assert client.handshake_complete and client.negotiated.version == version
    assert client.negotiated.peer_certificates[0] == (
        server_config.identities[0].chain[0] if name == "a.example" else server_config.identities[1].chain[0]
    )
    return client.negotiated.ocsp_response


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_each_sni_certificate_gets_its_own_staple(ca, two_names, version):
    a, b = two_names
    config = ServerConfig(
        provider="cryptography",
        certificates=[(a.chain_pem, a.key_pem, STAPLE_A), (b.chain_pem, b.key_pem, STAPLE_B)],
    )
    assert stapled(ca, config, "a.example", version) == STAPLE_A
    assert stapled(ca, config, "b.example", version) == STAPLE_B


@pytest.mark.parametrize("version", ["TLSv1.3", "TLSv1.2"])
def test_the_config_wide_staple_belongs_to_the_default_certificate(ca, two_names, version):
    a, b = two_names
    config = ServerConfig(
        provider="cryptography",
        certfile=a.chain_pem,
        keyfile=a.key_pem,
        certificates=[(b.chain_pem, b.key_pem)],
        ocsp_response=STAPLE_A,
    )
    assert stapled(ca, config, "a.example", version) == STAPLE_A
    assert stapled(ca, config, "b.example", version) is None  # never another certificate's staple


def test_a_certificate_entry_without_a_staple(ca, two_names):
    a, b = two_names
    config = ServerConfig(provider="cryptography", certificates=[(a.chain_pem, a.key_pem, None), (b.chain_pem, b.key_pem, STAPLE_B)])
    assert stapled(ca, config, "a.example") is None
    assert stapled(ca, config, "b.example") == STAPLE_B


def test_bad_certificate_entries_are_configuration_errors(ca, two_names):
    a, _ = two_names
    with pytest.raises(ConfigurationError):
        ServerConfig(certificates=[(a.chain_pem,)])
    with pytest.raises(ConfigurationError):
        ServerConfig(certificates=[(a.chain_pem, a.key_pem, "not bytes")])
    with pytest.raises(ConfigurationError):
        ServerConfig(certificates=[(a.chain_pem, a.key_pem, b"")])
