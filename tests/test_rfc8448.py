"""RFC 8448 section 3 reproduced byte for byte: key schedule, record protection and both engines.

The published randoms and ephemeral x25519 keys are injected through a Provider built
for the test (fixed random source, fixed-key group); the server's RSA-PSS signature is
randomized, so the server flight is checked through the record layer with the published
plaintext, and the client engine is driven with the published server records.
"""

from __future__ import annotations

import json

import pytest
from conftest import VECTORS
from engine_support import deterministic_provider

from tlskit import ApplicationData, ClientConfig, ClientConnection, HandshakeComplete, ServerConfig, ServerConnection
from tlskit.engine.keyschedule import KeySchedule, TrafficKeys, Transcript
from tlskit.engine.messages import Certificate
from tlskit.engine.record import ContentType, RecordLayer
from tlskit.providers import get_provider
from tlskit.providers.base import Provider

VECTOR = json.loads((VECTORS / "rfc8448" / "simple-1rtt.json").read_text())
V = {name: bytes.fromhex(entry["hex"]) for name, entry in VECTOR["values"].items()}
PROVIDERS = ["cryptography", "pycryptodome"]  # PyNaCl has no AES-128-GCM


def injected_provider(base_name: str, private: bytes, random: bytes) -> Provider:
    """The published ephemeral key and random, through the test hook provider."""
    return deterministic_provider(base_name, private, random)


def skip_new_session_ticket_record(layer: RecordLayer, side: str) -> None:
    """In the trace the server's first application-key record (sequence 0) is a
    NewSessionTicket that the vector file does not carry; the server's application
    data and alert records use sequence numbers 1 and 2."""
    direction = layer._read if side == "read" else layer._write
    direction.seq += 1


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_key_schedule(provider_name):
    suite = get_provider(provider_name).cipher_suites["TLS_AES_128_GCM_SHA256"]
    schedule = KeySchedule(suite)
    assert schedule.early_secret == V["early_secret"]
    schedule.set_shared_secret(V["shared_secret"])
    assert schedule.handshake_secret == V["handshake_secret"]
    assert schedule.master_secret == V["master_secret"]
    transcript = Transcript()
    transcript.add(V["client_hello"])
    transcript.start(suite.hash)
    transcript.add(V["server_hello"])
    client_hs, server_hs = schedule.handshake_traffic_secrets(transcript.digest())
    assert client_hs == V["client_handshake_traffic_secret"]
    assert server_hs == V["server_handshake_traffic_secret"]
    server_keys, client_keys = TrafficKeys(suite, server_hs), TrafficKeys(suite, client_hs)
    assert (server_keys.key, server_keys.iv) == (V["server_handshake_key"], V["server_handshake_iv"])
    assert (client_keys.key, client_keys.iv) == (V["client_handshake_key"], V["client_handshake_iv"])
    for name in ("encrypted_extensions", "certificate", "certificate_verify"):
        transcript.add(V[name])
    assert schedule.finished_verify_data(server_hs, transcript.digest()) == V["server_finished_verify_data"]
    transcript.add(V["server_finished"])
    client_ap, server_ap, _ = schedule.application_traffic_secrets(transcript.digest())
    assert client_ap == V["client_application_traffic_secret"]
    assert server_ap == V["server_application_traffic_secret"]
    assert schedule.finished_verify_data(client_hs, transcript.digest()) == V["client_finished_verify_data"]
    server_app, client_app = TrafficKeys(suite, server_ap), TrafficKeys(suite, client_ap)
    assert (server_app.key, server_app.iv) == (V["server_application_key"], V["server_application_iv"])
    assert (client_app.key, client_app.iv) == (V["client_application_key"], V["client_application_iv"])


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_record_protection_byte_exact(provider_name):
    suite = get_provider(provider_name).cipher_suites["TLS_AES_128_GCM_SHA256"]
    flight = V["encrypted_extensions"] + V["certificate"] + V["certificate_verify"] + V["server_finished"]
    cases = [
        (V["server_handshake_traffic_secret"], [(ContentType.handshake, flight, "server_flight_record")]),
        (V["client_handshake_traffic_secret"], [(ContentType.handshake, V["client_finished"], "client_finished_record")]),
        (
            V["client_application_traffic_secret"],
            [
                (ContentType.application_data, V["client_application_data"], "client_application_data_record"),
                (ContentType.alert, V["client_alert"], "client_alert_record"),
            ],
        ),
        (
            V["server_application_traffic_secret"],
            [
                (ContentType.application_data, V["server_application_data"], "server_application_data_record"),
                (ContentType.alert, V["server_alert"], "server_alert_record"),
            ],
        ),
    ]
    for secret, records in cases:
        writer, reader = RecordLayer(), RecordLayer()
        writer.set_write_keys(TrafficKeys(suite, secret))
        reader.set_read_keys(TrafficKeys(suite, secret))
        if secret == V["server_application_traffic_secret"]:
            skip_new_session_ticket_record(writer, "write")
            skip_new_session_ticket_record(reader, "read")
        for content_type, plaintext, expected in records:
            writer.write(content_type, plaintext)
            assert writer.take_output() == V[expected], expected
            reader.feed(V[expected])
            assert reader.next_record() == (content_type, plaintext)


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_client_engine_reproduces_the_trace(provider_name):
    provider = injected_provider(provider_name, V["client_x25519_private"], V["client_hello"][6:38])
    rfc_certificate = Certificate.decode(V["certificate"][4:]).entries[0].cert_data
    seen = []

    def accept_rfc_certificate(chain, server_name):
        # The RFC's certificate expired long ago; pin it exactly instead of validating a path.
        assert list(chain) == [rfc_certificate]
        seen.append(server_name)

    logged = {}
    config = ClientConfig(
        provider=provider,
        verifier=accept_rfc_certificate,
        groups=["x25519"],
        keylog_callback=lambda label, random, secret: logged.setdefault(label, secret),
    )
    client = ClientConnection(config, server_name="server", _client_hello_override=V["client_hello"])
    assert client.data_to_send() == V["client_hello_record"]
    events = client.receive_data(V["server_hello_record"] + V["server_flight_record"])
    assert events == [HandshakeComplete()]
    assert seen == ["server"]
    assert client.data_to_send() == V["client_finished_record"]
    assert logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"] == V["client_handshake_traffic_secret"]
    assert logged["SERVER_TRAFFIC_SECRET_0"] == V["server_application_traffic_secret"]
    assert client.negotiated.signature_scheme == "rsa_pss_rsae_sha256"
    client.send(V["client_application_data"])
    assert client.data_to_send() == V["client_application_data_record"]
    skip_new_session_ticket_record(client._record, "read")
    assert client.receive_data(V["server_application_data_record"]) == [ApplicationData(V["server_application_data"])]
    client.close()
    assert client.data_to_send() == V["client_alert_record"]
    assert [type(e).__name__ for e in client.receive_data(V["server_alert_record"])] == ["ConnectionClosed"]


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_client_engine_rejects_a_tampered_server_finished(provider_name):
    provider = injected_provider(provider_name, V["client_x25519_private"], V["client_hello"][6:38])
    config = ClientConfig(provider=provider, verifier=lambda chain, name: None, groups=["x25519"])
    client = ClientConnection(config, server_name="server", _client_hello_override=V["client_hello"])
    flight = bytearray(V["server_flight_record"])
    flight[-20] ^= 1  # inside the AEAD tag region -> bad_record_mac
    with pytest.raises(Exception) as caught:
        client.receive_data(V["server_hello_record"] + bytes(flight))
    assert caught.value.alert == 20


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_server_engine_reproduces_server_hello_and_handshake_secrets(provider_name, tmp_path):
    from certs import make_pki

    pki = make_pki(tmp_path, leaf_key_type="rsa-2048")
    provider = injected_provider(provider_name, V["server_x25519_private"], V["server_hello"][6:38])
    logged = {}
    config = ServerConfig(
        provider=provider,
        certfile=pki.chain_file,
        keyfile=pki.key_file,
        groups=["x25519"],
        keylog_callback=lambda label, random, secret: logged.setdefault(label, (random, secret)),
    )
    server = ServerConnection(config)
    assert server.receive_data(V["client_hello_record"]) == []
    output = server.data_to_send()
    assert output.startswith(V["server_hello_record"])
    client_random = V["client_hello"][6:38]
    assert logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"] == (client_random, V["client_handshake_traffic_secret"])
    assert logged["SERVER_HANDSHAKE_TRAFFIC_SECRET"] == (client_random, V["server_handshake_traffic_secret"])
