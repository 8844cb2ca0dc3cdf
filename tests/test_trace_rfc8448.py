"""The trace of the RFC 8448 section 3 handshake ("Simple 1-RTT Handshake"): the client
engine, driven with the published records, reports exactly the RFC's messages and
key-schedule steps, in the RFC's order, with the published secrets when asked for them."""

from __future__ import annotations

import json

import pytest
from certs import make_pki
from conftest import VECTORS
from engine_support import deterministic_provider

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.engine.messages import Certificate
from tlskit.engine.trace import HandshakeMessage, KeyScheduleStep
from tlskit.trace import TraceLog

VECTOR = json.loads((VECTORS / "rfc8448" / "simple-1rtt.json").read_text())
V = {name: bytes.fromhex(entry["hex"]) for name, entry in VECTOR["values"].items()}

#: The client's steps in RFC 8448 section 3, in the RFC's order (its headings, abridged):
#: "{client} construct a ClientHello" / "send handshake record", "receive handshake record"
#: (ServerHello), "extract secret early", "derive secret for handshake tls13 derived",
#: "extract secret handshake", "derive secret tls13 c hs traffic", "... s hs traffic",
#: "derive secret for master tls13 derived", "extract secret master", "receive handshake
#: record" (EncryptedExtensions, Certificate, CertificateVerify, Finished), "calculate
#: finished tls13 finished" (the server's, to check it), "derive secret tls13 c ap traffic",
#: "... s ap traffic", "... exp master", "calculate finished tls13 finished" (the client's),
#: "construct a Finished" / "send handshake record", "derive secret tls13 res master".
RFC_CLIENT_STEPS = [
    ("message", "sent", "client_hello"),
    ("message", "received", "server_hello"),
    ("extract", "early_secret"),
    ("derive", "derived_for_handshake"),
    ("extract", "handshake_secret"),
    ("derive", "client_handshake_traffic_secret"),
    ("derive", "server_handshake_traffic_secret"),
    ("derive", "derived_for_master"),
    ("extract", "master_secret"),
    ("message", "received", "encrypted_extensions"),
    ("message", "received", "certificate"),
    ("message", "received", "certificate_verify"),
    ("message", "received", "finished"),
    ("derive", "server_finished_key"),
    ("derive", "client_application_traffic_secret_0"),
    ("derive", "server_application_traffic_secret_0"),
    ("derive", "exporter_master_secret"),
    ("derive", "client_finished_key"),
    ("message", "sent", "finished"),
    ("derive", "resumption_master_secret"),
]

#: secret name in the trace -> the RFC's published value
PUBLISHED = {
    "early_secret": "early_secret",
    "handshake_secret": "handshake_secret",
    "client_handshake_traffic_secret": "client_handshake_traffic_secret",
    "server_handshake_traffic_secret": "server_handshake_traffic_secret",
    "master_secret": "master_secret",
    "client_application_traffic_secret_0": "client_application_traffic_secret",
    "server_application_traffic_secret_0": "server_application_traffic_secret",
}


def _steps(log):
    out = []
    for record in log.records:
        if isinstance(record, HandshakeMessage):
            out.append(("message", record.direction, record.name))
        elif isinstance(record, KeyScheduleStep):
            out.append((record.operation, record.secret))
    return out


@pytest.mark.parametrize("secrets", [False, True])
def test_client_trace_lists_the_rfc_messages_and_key_schedule_in_order(secrets):
    provider = deterministic_provider("cryptography", V["client_x25519_private"], V["client_hello"][6:38])
    rfc_certificate = Certificate.decode(V["certificate"][4:]).entries[0].cert_data
    log = TraceLog()

    def accept_rfc_certificate(chain, server_name):
        assert list(chain) == [rfc_certificate]  # expired long ago: pinned instead of validated

    config = ClientConfig(provider=provider, verifier=accept_rfc_certificate, groups=["x25519"], trace=log, trace_secrets=secrets)
    client = ClientConnection(config, server_name="server", _client_hello_override=V["client_hello"])
    assert client.data_to_send() == V["client_hello_record"]
    client.receive_data(V["server_hello_record"] + V["server_flight_record"])
    assert client.data_to_send() == V["client_finished_record"]
    assert _steps(log) == RFC_CLIENT_STEPS

    messages = {r.name: r for r in log.records if isinstance(r, HandshakeMessage)}
    hello = messages["client_hello"].fields
    assert hello["random"] == V["client_hello"][6:38].hex()
    assert hello["cipher_suites"] == ["TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"]
    by_name = {e["name"]: e.get("value") for e in hello["extensions"]}
    assert by_name["server_name"] == "server"
    assert by_name["key_share"] == [{"group": "x25519", "size": 32}]
    assert messages["certificate_verify"].fields["signature_scheme"] == "rsa_pss_rsae_sha256"
    assert messages["certificate"].fields["certificates"][0]["key_type"] == "RSA-1024"
    assert messages["certificate"].fields["certificates"][0]["subject"] == "CN=rsa"
    values = {r.secret: r.value for r in log.records if isinstance(r, KeyScheduleStep)}
    if secrets:
        for name, vector in PUBLISHED.items():
            assert values[name] == V[vector].hex(), name
    else:
        assert set(values.values()) == {None}


def test_server_trace_reports_the_rfc_server_hello_and_schedule(tmp_path):
    pki = make_pki(tmp_path, leaf_key_type="rsa-2048")
    provider = deterministic_provider("cryptography", V["server_x25519_private"], V["server_hello"][6:38])
    log = TraceLog()
    config = ServerConfig(
        provider=provider, certfile=pki.chain_file, keyfile=pki.key_file, groups=["x25519"], trace=log, trace_secrets=True
    )
    server = ServerConnection(config)
    server.receive_data(V["client_hello_record"])
    assert server.data_to_send().startswith(V["server_hello_record"])
    steps = _steps(log)
    # RFC 8448 section 3, server side: receive ClientHello, construct ServerHello, the schedule
    # up to the master secret, then EncryptedExtensions, Certificate, CertificateVerify,
    # "calculate finished", Finished, then c ap / s ap traffic and exp master.
    assert steps == [
        ("message", "received", "client_hello"),
        ("message", "sent", "server_hello"),
        ("extract", "early_secret"),
        ("derive", "derived_for_handshake"),
        ("extract", "handshake_secret"),
        ("derive", "client_handshake_traffic_secret"),
        ("derive", "server_handshake_traffic_secret"),
        ("derive", "derived_for_master"),
        ("extract", "master_secret"),
        ("message", "sent", "encrypted_extensions"),
        ("message", "sent", "certificate"),
        ("message", "sent", "certificate_verify"),
        ("derive", "server_finished_key"),
        ("message", "sent", "finished"),
        ("derive", "client_application_traffic_secret_0"),
        ("derive", "server_application_traffic_secret_0"),
        ("derive", "exporter_master_secret"),
    ]
    values = {r.secret: r.value for r in log.records if isinstance(r, KeyScheduleStep)}
    for name in ("early_secret", "handshake_secret", "master_secret", "server_handshake_traffic_secret"):
        assert values[name] == V[PUBLISHED[name]].hex()
