"""Resumption, 0-RTT and post-handshake authentication between tlskit peers in memory
(RFC 8446 2.2, 2.3, 4.2.9-4.2.11, 4.6.1, 4.6.2, 8)."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import EphemeralCA
from tlskit.engine.session import Session, SessionCache
from tlskit.engine.tickets import InMemoryTicketStore
from tlskit.errors import AlertDescription, DecryptError, TLSError
from tlskit.events import (
    CertificateRequested,
    ClientCertificateReceived,
    EarlyDataAccepted,
    EarlyDataReceived,
    EarlyDataRejected,
    NewSessionTicket,
)
from tlskit.providers import available_providers
from engine_support import pump

PROVIDERS = available_providers()




@pytest.fixture(scope="module")
def ca():
    return EphemeralCA()


@pytest.fixture(scope="module")
def ed_ca():
    return EphemeralCA(key_type="ed25519")


@pytest.fixture(scope="module")
def cert(ca):
    return ca.issue_cert("localhost", "other.test")


@pytest.fixture(scope="module")
def ed_cert(ed_ca):
    return ed_ca.issue_cert("localhost", "other.test")


def _pki(provider, ca, cert, ed_ca, ed_cert):
    return (ed_ca, ed_cert) if provider == "pynacl" else (ca, cert)


class Counting:
    """A verifier that counts how often the server's chain was checked."""

    def __init__(self):
        self.calls = 0

    def __call__(self, chain, server_name):
        self.calls += 1


def connect(client_config, server_config, server_name="localhost", **kwargs):
    client = ClientConnection(client_config, server_name, **kwargs)
    server = ServerConnection(server_config)
    client_events, server_events = pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    return client, server, client_events, server_events


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("modes", [("psk_dhe_ke",), ("psk_ke",)])
def test_full_then_resumed(provider, modes, ca, cert, ed_ca, ed_cert):
    the_ca, the_cert = _pki(provider, ca, cert, ed_ca, ed_cert)
    verifier = Counting()
    server_config = the_ca.server_config(the_cert, provider=provider, psk_key_exchange_modes=modes)
    client_config = ClientConfig(provider=provider, verifier=verifier, psk_key_exchange_modes=modes)
    first, first_server, events, _ = connect(client_config, server_config)
    tickets = [e for e in events if isinstance(e, NewSessionTicket)]
    assert len(tickets) == 2  # RFC 8446 4.6.1: sent after the handshake, two by default
    assert not first.negotiated.resumed and verifier.calls == 1
    assert first.session is not None and first.session.server_name == "localhost"
    assert len(client_config.session_cache) == 2

    second, second_server, _, _ = connect(client_config, server_config)
    assert second.negotiated.resumed and second_server.negotiated.resumed
    assert verifier.calls == 1  # no Certificate on resumption: nothing to verify
    assert second.negotiated.signature_scheme is None
    assert second.negotiated.peer_certificates == first.negotiated.peer_certificates
    assert second.negotiated.cipher_suite == first.negotiated.cipher_suite
    assert second.negotiated.group == ("" if modes == ("psk_ke",) else first.negotiated.group)
    second.send(b"ping")
    pump(second, second_server)
    assert second_server.recv() == b"ping"
    assert second.export_keying_material("x") == second_server.export_keying_material("x")


def test_psk_ke_needs_both_sides(ca, cert):
    server_config = ca.server_config(cert)  # psk_dhe_ke only
    client_config = ca.client_config(psk_key_exchange_modes=("psk_ke",))
    connect(client_config, server_config)
    second, _, _, _ = connect(client_config, server_config)
    assert not second.negotiated.resumed  # the server refuses psk_ke unless configured


def test_server_prefers_its_own_mode_order(ca, cert):
    server_config = ca.server_config(cert, psk_key_exchange_modes=("psk_ke", "psk_dhe_ke"))
    client_config = ca.client_config(psk_key_exchange_modes=("psk_dhe_ke", "psk_ke"))
    connect(client_config, server_config)
    second, _, _, _ = connect(client_config, server_config)
    assert second.negotiated.resumed and second.negotiated.group == ""


def test_ticket_count_and_on_demand(ca, cert):
    client_config = ca.client_config()
    _, _, events, _ = connect(client_config, ca.server_config(cert, tickets=0))
    assert not [e for e in events if isinstance(e, NewSessionTicket)]
    client, server, events, _ = connect(client_config, ca.server_config(cert, tickets=1))
    assert len([e for e in events if isinstance(e, NewSessionTicket)]) == 1
    server.send_session_tickets(3)
    events, _ = pump(client, server)
    assert len([e for e in events if isinstance(e, NewSessionTicket)]) == 3


def test_no_cache_no_psk_modes_no_tickets(ca, cert):
    client_config = ca.client_config(session_cache=None)
    client, server, events, _ = connect(client_config, ca.server_config(cert))
    # RFC 8446 4.2.9: without psk_key_exchange_modes the client cannot resume; tlskit
    # servers then send no tickets
    assert not [e for e in events if isinstance(e, NewSessionTicket)]
    assert client.session is None


def test_tickets_are_single_use_from_the_cache(ca, cert):
    server_config = ca.server_config(cert, tickets=1)
    cache = SessionCache()
    client_config = ca.client_config(session_cache=cache)
    connect(client_config, server_config)
    assert len(cache) == 1
    second, _, _, _ = connect(client_config, server_config)
    assert second.negotiated.resumed
    assert len(cache) == 1  # the used ticket went, the resumed connection brought a new one
    reusing = ca.client_config(session_cache=SessionCache(single_use=False))
    connect(reusing, server_config)
    for _ in range(2):
        again, _, _, _ = connect(reusing, server_config)
        assert again.negotiated.resumed


def test_explicit_session_round_trips_through_bytes(ca, cert):
    server_config = ca.server_config(cert)
    first, _, _, _ = connect(ca.client_config(session_cache=None, psk_key_exchange_modes=("psk_dhe_ke",)), server_config)
    # without a cache the client sent no psk_key_exchange_modes: connect with one to get a ticket
    first, _, _, _ = connect(ca.client_config(), server_config)
    saved = first.session.to_bytes()
    fresh_config = ca.client_config()  # a new process, say: nothing cached
    resumed, _, _, _ = connect(fresh_config, server_config, session=Session.from_bytes(saved))
    assert resumed.negotiated.resumed


def test_resumption_after_hello_retry_request(ca, cert):
    server_config = ca.server_config(cert, key_share_groups=["secp256r1"])
    client_config = ca.client_config(groups=["x25519", "secp256r1"])
    first, _, _, _ = connect(client_config, server_config)
    second, second_server, _, _ = connect(client_config, server_config)
    assert second.negotiated.resumed and second.negotiated.group == "secp256r1"


def test_resumed_connection_keeps_the_client_identity(ca, cert):
    client_cert = ca.issue_cert(client=True)
    server_config = ca.server_config(cert, client_auth=True)
    client_config = ca.client_config(client_cert)
    _, first_server, _, _ = connect(client_config, server_config)
    _, second_server, _, _ = connect(client_config, server_config)
    assert second_server.negotiated.resumed
    assert second_server.negotiated.peer_certificates == first_server.negotiated.peer_certificates


# -- negative cases: each gives a full handshake or the right alert -----------------------


def _ticketed(ca, cert, server_config=None, **client_options):
    server_config = server_config or ca.server_config(cert)
    client_config = ca.client_config(session_cache=None, **client_options)
    first, _, _, _ = connect(ca.client_config(**client_options), server_config)
    return server_config, client_config, first.session


def test_tampered_ticket_gives_full_handshake(ca, cert):
    server_config, client_config, session = _ticketed(ca, cert)
    ticket = bytearray(session.ticket)
    ticket[len(ticket) // 2] ^= 1
    client, _, _, _ = connect(client_config, server_config, session=dataclasses.replace(session, ticket=bytes(ticket)))
    assert not client.negotiated.resumed


def test_wrong_binder_is_decrypt_error(ca, cert):
    server_config, client_config, session = _ticketed(ca, cert)
    forged = dataclasses.replace(session, psk=bytes(len(session.psk)))  # the right ticket, another key
    client = ClientConnection(client_config, "localhost", session=forged)
    server = ServerConnection(server_config)
    with pytest.raises(DecryptError):
        server.receive_data(client.data_to_send())
    assert server.data_to_send()[-2:] == bytes([2, AlertDescription.decrypt_error])


def test_ticket_from_another_ticket_key_gives_full_handshake(ca, cert):
    _, client_config, session = _ticketed(ca, cert)
    other_server = ca.server_config(cert)  # a server with its own ticket keys
    client, _, _, _ = connect(client_config, other_server, session=session)
    assert not client.negotiated.resumed


def test_expired_ticket_gives_full_handshake(ca, cert):
    now = datetime.datetime.now(datetime.timezone.utc)
    server_config, client_config, session = _ticketed(ca, cert, ca.server_config(cert, ticket_lifetime=60))
    later = dataclasses.replace(server_config, clock=lambda: now + datetime.timedelta(seconds=61), ticket_store=server_config.resolved_ticket_store)
    client, _, _, _ = connect(client_config, later, session=session)
    assert not client.negotiated.resumed


def test_ticket_for_another_server_name_gives_full_handshake(ca, cert):
    server_config, client_config, session = _ticketed(ca, cert)
    # the client would not offer it (RFC 8446 4.6.1); force the offer to check the server
    moved = dataclasses.replace(session, server_name="other.test")
    client, _, _, _ = connect(client_config, server_config, server_name="other.test", session=moved)
    assert not client.negotiated.resumed


def test_ticket_with_another_hash_gives_full_handshake(ca, cert):
    server_config, client_config, session = _ticketed(ca, cert, ca.server_config(cert, cipher_suites=["TLS_AES_256_GCM_SHA384"]))
    assert session.cipher_suite == "TLS_AES_256_GCM_SHA384"
    sha256_server = dataclasses.replace(
        server_config, cipher_suites=["TLS_AES_128_GCM_SHA256"], ticket_store=server_config.resolved_ticket_store
    )
    client, _, _, _ = connect(client_config, sha256_server, session=session)
    assert not client.negotiated.resumed and client.negotiated.cipher_suite == "TLS_AES_128_GCM_SHA256"


def test_ticket_keys_never_reach_the_key_log(ca, cert, tmp_path):
    keylog = tmp_path / "keys.log"
    server_config = ca.server_config(cert, keylog_file=keylog)
    client_config = ca.client_config()
    connect(client_config, server_config)
    connect(client_config, server_config)
    text = keylog.read_text()
    labels = {line.split()[0] for line in text.splitlines()}
    assert labels <= {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET", "CLIENT_EARLY_TRAFFIC_SECRET"}


# -- 0-RTT ---------------------------------------------------------------------------------


def _early_pair(ca, cert, **server_options):
    server_config = ca.server_config(cert, max_early_data_size=1024, **server_options)
    client_config = ca.client_config()
    connect(client_config, server_config)
    return server_config, client_config


def test_early_data_accepted_once(ca, cert):
    server_config, client_config = _early_pair(ca, cert)
    session = client_config.session_cache.take("localhost", None)
    assert session.max_early_data == 1024
    client = ClientConnection(client_config, "localhost", session=session, early_data=b"GET / early")
    hello = client.data_to_send()
    server = ServerConnection(server_config)
    server_events = server.receive_data(hello)
    client_events, more = pump(client, server)
    server_events += more
    assert [e.data for e in server_events if isinstance(e, EarlyDataReceived)] == [b"GET / early"]
    assert all(e.replayable for e in server_events if isinstance(e, EarlyDataReceived))
    assert server.early_data == b"GET / early" and server.recv() == b""
    assert any(isinstance(e, EarlyDataAccepted) for e in client_events)
    assert client.early_data_accepted is True and client.negotiated.resumed

    # RFC 8446 8: the same ClientHello and early data replayed to the server
    replay = ServerConnection(server_config)
    events = replay.receive_data(hello)
    assert not [e for e in events if isinstance(e, EarlyDataReceived)]
    assert replay.early_data == b""


def test_early_data_rejected_when_server_has_it_off(ca, cert):
    server_config, client_config = _early_pair(ca, cert)
    session = client_config.session_cache.take("localhost", None)
    off = dataclasses.replace(server_config, max_early_data_size=0, ticket_store=server_config.resolved_ticket_store)
    client = ClientConnection(client_config, "localhost", session=session, early_data=b"please")
    server = ServerConnection(off)
    client_events, server_events = pump(client, server)
    rejected = [e for e in client_events if isinstance(e, EarlyDataRejected)]
    assert rejected and rejected[0].data == b"please" and client.early_data_accepted is False
    assert client.negotiated.resumed  # resumed, 1-RTT: the early data was skipped
    assert not [e for e in server_events if isinstance(e, EarlyDataReceived)]
    client.send(b"please")  # the application resends
    pump(client, server)
    assert server.recv() == b"please"


def test_early_data_rejected_on_full_handshake(ca, cert):
    server_config, client_config = _early_pair(ca, cert)
    session = client_config.session_cache.take("localhost", None)
    other = ca.server_config(cert, max_early_data_size=1024)  # other ticket keys: full handshake
    client = ClientConnection(client_config, "localhost", session=session, early_data=b"x" * 100)
    server = ServerConnection(other)
    client_events, _ = pump(client, server)
    assert client.early_data_accepted is False and not client.negotiated.resumed
    assert any(isinstance(e, EarlyDataRejected) for e in client_events)


def test_early_data_not_sent_beyond_the_ticket_limit(ca, cert):
    server_config, client_config = _early_pair(ca, cert)
    session = client_config.session_cache.take("localhost", None)
    client = ClientConnection(client_config, "localhost", session=session, early_data=b"x" * 2000)
    assert client.early_data_accepted is False  # over max_early_data_size: not even offered
    server = ServerConnection(server_config)
    pump(client, server)
    assert client.negotiated.resumed


# -- post-handshake client authentication (RFC 8446 4.6.2) ------------------------------------


def test_post_handshake_auth_both_sides(ca, cert):
    client_cert = ca.issue_cert(client=True)
    server_config = ca.server_config(cert, client_cadata=ca.root_pem, post_handshake_client_auth=True)
    client, server, _, _ = connect(ca.client_config(client_cert), server_config)
    assert server.negotiated.peer_certificates == ()  # nothing asked during the handshake
    server.request_client_certificate()
    client_events, server_events = pump(client, server)
    assert [e.certificate_sent for e in client_events if isinstance(e, CertificateRequested)] == [True]
    received = [e for e in server_events if isinstance(e, ClientCertificateReceived)]
    assert len(received) == 1 and received[0].certificates[0] == client_cert.chain_der[0]
    assert server.negotiated.peer_certificates == received[0].certificates
    client.send(b"still fine")
    pump(client, server)
    assert server.recv() == b"still fine"
    server.request_client_certificate()  # again: each request stands on its own
    _, server_events = pump(client, server)
    assert any(isinstance(e, ClientCertificateReceived) for e in server_events)


def test_post_handshake_auth_needs_the_client_offer(ca, cert):
    server_config = ca.server_config(cert, client_cadata=ca.root_pem, post_handshake_client_auth=True)
    client, server, _, _ = connect(ca.client_config(), server_config)  # no certificate: no offer
    with pytest.raises(TLSError):
        server.request_client_certificate()


def test_unsolicited_post_handshake_certificate_request_is_unexpected(ca, cert):
    from tlskit.engine.messages import CertificateRequest
    from tlskit.engine.record import ContentType

    client, server, _, _ = connect(ca.client_config(), ca.server_config(cert))
    request = CertificateRequest(b"\x01", [(13, b"\x00\x02\x04\x03")]).encode()
    server._record.write(ContentType.handshake, request)
    with pytest.raises(TLSError) as failure:
        client.receive_data(server.data_to_send())
    assert failure.value.alert == AlertDescription.unexpected_message


def test_post_handshake_certificate_without_request_is_unexpected(ca, cert):
    client_cert = ca.issue_cert(client=True)
    client, server, _, _ = connect(ca.client_config(client_cert), ca.server_config(cert))
    from tlskit.engine.messages import Certificate
    from tlskit.engine.record import ContentType

    client._record.write(ContentType.handshake, Certificate(b"\x01", []).encode())
    with pytest.raises(TLSError) as failure:
        server.receive_data(client.data_to_send())
    assert failure.value.alert == AlertDescription.unexpected_message
