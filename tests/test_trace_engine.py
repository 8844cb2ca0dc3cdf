"""The engine's trace: what a traced handshake reports (client and server, every provider),
that a failed handshake traces up to its alert, that no key material leaks, and that
tracing off costs no record at all."""

from __future__ import annotations

import gc

import jsonschema
import pytest
from engine_support import pki_for, pump

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tlskit.engine import trace as trace_module
from tlskit.engine import tracefields
from tlskit.engine.trace import RECORD_TYPES, Alert, Check, HandshakeMessage, KeyScheduleStep, KeysInUse, Negotiated, RecordBoundary, StateChange
from tlskit.providers import available_providers
from tlskit.trace import TraceLog, schema

VALIDATOR = jsonschema.Draft202012Validator(schema())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("trace-engine"), "ed25519")


@pytest.fixture(scope="module")
def client_pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("trace-client"), "ed25519", name="client", usage="client")


def traced_handshake(pki, provider="cryptography", client_options=None, server_options=None):
    client_log, server_log = TraceLog(), TraceLog()
    client = ClientConnection(
        ClientConfig(cafile=pki.ca_file, provider=provider, trace=client_log, **(client_options or {})), server_name="localhost"
    )
    server = ServerConnection(
        ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, provider=provider, trace=server_log, **(server_options or {}))
    )
    return client, server, client_log, server_log


def messages(log):
    return [(r.direction, r.name) for r in log.records if isinstance(r, HandshakeMessage)]


def kinds_of(log, kind):
    return [r for r in log.records if isinstance(r, kind)]


def test_record_model_is_frozen_and_generic():
    record = HandshakeMessage("client", "sent", 1, "client_hello", 10, False, {"legacy_version": "TLSv1.2"})
    with pytest.raises(AttributeError):
        record.name = "other"  # type: ignore[misc]
    assert record.to_dict()["kind"] == "message"


@pytest.mark.parametrize("provider", available_providers())
def test_a_full_handshake_traces_every_step_on_both_sides(pki, client_pki, provider):
    client, server, client_log, server_log = traced_handshake(
        pki,
        provider,
        client_options=dict(certfile=client_pki.chain_file, keyfile=client_pki.key_file, alpn_protocols=["h2"]),
        server_options=dict(client_cafile=client_pki.ca_file, require_client_auth=True, alpn_protocols=["h2"]),
    )
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    flight = [
        "client_hello", "server_hello", "encrypted_extensions", "certificate_request", "certificate",
        "certificate_verify", "finished", "certificate", "certificate_verify", "finished",
    ]  # fmt: skip
    expected_client = [("sent" if i == 0 or i >= 7 else "received", name) for i, name in enumerate(flight)]
    assert messages(client_log)[: len(flight)] == expected_client
    expected_server = [("received" if d == "sent" else "sent", n) for d, n in expected_client]
    assert messages(server_log)[: len(flight)] == expected_server

    # decoded fields: the server's certificate, the signature scheme, ALPN
    cert_message = next(r for r in client_log.records if isinstance(r, HandshakeMessage) and r.name == "certificate")
    assert cert_message.fields["certificates"][0]["subject"] == "CN=localhost"
    assert cert_message.protected
    cv = next(r for r in client_log.records if isinstance(r, HandshakeMessage) and r.name == "certificate_verify")
    assert cv.fields["signature_scheme"] == "ed25519"
    # verification outcomes, in order, all good
    assert [(c.what, c.ok) for c in kinds_of(client_log, Check)] == [
        ("certificate_chain", True), ("certificate_verify", True), ("finished", True),
    ]  # fmt: skip
    assert [(c.what, c.ok) for c in kinds_of(server_log, Check)] == [
        ("certificate_chain", True), ("certificate_verify", True), ("finished", True),
    ]  # fmt: skip
    # keys: handshake keys both ways, then application keys
    assert [(k.direction, k.epoch) for k in kinds_of(client_log, KeysInUse)] == [
        ("read", "handshake"), ("write", "handshake"), ("read", "application"), ("write", "application"),
    ]  # fmt: skip
    assert {(k.direction, k.epoch) for k in kinds_of(server_log, KeysInUse)} == {
        ("read", "handshake"), ("write", "handshake"), ("read", "application"), ("write", "application"),
    }  # fmt: skip
    # states, RFC 8446 Appendix A
    client_states = [s.new for s in kinds_of(client_log, StateChange)]
    assert client_states == ["WAIT_SH", "WAIT_EE", "WAIT_CERT_CR", "WAIT_CERT", "WAIT_CV", "WAIT_FINISHED", "CONNECTED"]
    server_states = [s.new for s in kinds_of(server_log, StateChange)]
    assert server_states[0] == "RECVD_CH" and server_states[-1] == "CONNECTED" and "WAIT_CERT" in server_states
    (negotiated,) = kinds_of(client_log, Negotiated)
    assert negotiated.alpn == "h2" and negotiated.version == "TLSv1.3"
    # record boundaries both ways, sizes add up to what went over the wire
    sent = [r for r in kinds_of(client_log, RecordBoundary) if r.direction == "sent"]
    assert sent[0].content_type == "handshake" and not sent[0].protected
    assert any(r.protected for r in sent)
    # every record validates against the published schema, and none carries a secret
    for log in (client_log, server_log):
        for entry in log.entries:
            VALIDATOR.validate(entry.to_dict())
        assert all(step.value is None for step in kinds_of(log, KeyScheduleStep))
    conns = {r.conn for r in client_log.records} | {r.conn for r in server_log.records}
    assert len(conns) == 2 and 0 not in conns


def test_secret_values_only_when_asked(pki):
    logged = {}
    client, server, client_log, _ = traced_handshake(
        pki, client_options=dict(trace_secrets=True, keylog_callback=lambda label, random, secret: logged.setdefault(label, secret))
    )
    pump(client, server)
    values = {step.secret: step.value for step in kinds_of(client_log, KeyScheduleStep)}
    assert values["client_handshake_traffic_secret"] == logged["CLIENT_HANDSHAKE_TRAFFIC_SECRET"].hex()
    assert values["server_application_traffic_secret_0"] == logged["SERVER_TRAFFIC_SECRET_0"].hex()


def test_key_update_and_close_are_traced(pki):
    client, server, client_log, server_log = traced_handshake(pki)
    pump(client, server)
    client.update_keys(request_peer=True)
    pump(client, server)
    client.close()
    pump(client, server)
    assert ("sent", "key_update") in messages(client_log) and ("received", "key_update") in messages(client_log)
    updates = [m for m in client_log.records if isinstance(m, HandshakeMessage) and m.name == "key_update"]
    assert [u.fields["request_update"] for u in updates] == ["update_requested", "update_not_requested"]
    epochs = [(k.direction, k.epoch) for k in kinds_of(client_log, KeysInUse)]
    assert epochs[-2:] == [("write", "application_1"), ("read", "application_1")]
    steps = [s.secret for s in kinds_of(client_log, KeyScheduleStep)]
    assert steps[-2:] == ["client_application_traffic_secret_1", "server_application_traffic_secret_1"]
    (alert,) = kinds_of(server_log, Alert)
    assert (alert.direction, alert.description, alert.level) == ("received", "close_notify", "warning")
    assert [(a.direction, a.description) for a in kinds_of(client_log, Alert)] == [("sent", "close_notify")]


def test_a_failed_handshake_traces_up_to_and_including_the_alert(tmp_path, pki):
    stranger = pki_for(tmp_path, "ed25519", name="stranger")  # a CA the client does not trust
    client_log, server_log = TraceLog(), TraceLog()
    client = ClientConnection(ClientConfig(cafile=stranger.ca_file, trace=client_log), server_name="localhost")
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, trace=server_log))
    with pytest.raises(TLSError):
        pump(client, server)
    records = client_log.records
    last_message = [r for r in records if isinstance(r, HandshakeMessage)][-1]
    assert last_message.name == "certificate" and last_message.direction == "received"
    check = next(r for r in records if isinstance(r, Check))
    assert (check.what, check.ok) == ("certificate_chain", False) and check.detail
    alert = records[-1] if isinstance(records[-1], Alert) else next(r for r in reversed(records) if isinstance(r, Alert))
    assert alert.direction == "sent" and alert.level == "fatal" and alert.reason
    assert records.index(check) < records.index(alert)
    with pytest.raises(TLSError):  # the alert reaches the server, which traces it too
        server.receive_data(client.data_to_send())
    server_alert = [r for r in server_log.records if isinstance(r, Alert)]
    assert [(a.direction, a.description) for a in server_alert] == [("received", alert.description)]


def test_hello_retry_request_says_why_on_both_sides(pki):
    client, server, client_log, server_log = traced_handshake(
        pki, client_options=dict(groups=["x25519", "secp256r1"]), server_options=dict(groups=["secp256r1"])
    )
    pump(client, server)
    assert messages(client_log)[:3] == [("sent", "client_hello"), ("received", "hello_retry_request"), ("sent", "client_hello")]
    (client_retry,) = [r for r in client_log.records if r.kind == "hello_retry"]
    (server_retry,) = [r for r in server_log.records if r.kind == "hello_retry"]
    assert client_retry.group == server_retry.group == "secp256r1"
    assert "x25519" in server_retry.reason and "secp256r1" in server_retry.reason


class _Counter:
    def __init__(self):
        self.records = 0
        self.decoded = 0


def test_tracing_off_allocates_no_trace_record(pki, monkeypatch):
    counter = _Counter()

    def counting(init):
        def wrapper(self, *args, **kwargs):
            counter.records += 1
            init(self, *args, **kwargs)

        return wrapper

    def counting_describe(raw, **options):
        counter.decoded += 1
        return ("x", {})

    for cls in RECORD_TYPES.values():  # every record class's own (dataclass) constructor
        monkeypatch.setattr(cls, "__init__", counting(cls.__init__))
    monkeypatch.setattr(tracefields, "describe_message", counting_describe)
    client = ClientConnection(ClientConfig(cafile=pki.ca_file), server_name="localhost")
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    pump(client, server)
    client.send(b"hello")
    client.update_keys()
    pump(client, server)
    client.close()
    pump(client, server)
    assert server.recv() == b"hello"
    assert (counter.records, counter.decoded) == (0, 0)
    assert client._tracer is None and server._tracer is None
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, trace_module._Record)]
    # the same exchange traced builds its records through the counted constructors
    client, server, client_log, server_log = traced_handshake(pki)
    pump(client, server)
    assert counter.records == len(client_log.records) + len(server_log.records) > 0
    assert counter.decoded == sum(isinstance(r, HandshakeMessage) for r in client_log.records + server_log.records)


def test_tls12_handshakes_trace_through_the_same_hooks(pki):
    client, server, client_log, server_log = traced_handshake(pki, client_options=dict(max_version="TLSv1.2"))
    pump(client, server)
    assert client.negotiated.version == "TLSv1.2"
    assert messages(client_log) == [
        ("sent", "client_hello"), ("received", "server_hello"), ("received", "certificate"),
        ("received", "server_key_exchange"), ("received", "server_hello_done"), ("sent", "client_key_exchange"),
        ("sent", "finished"), ("received", "new_session_ticket"), ("received", "change_cipher_spec"),
        ("received", "finished"),
    ]  # fmt: skip
    ticket = next(r for r in client_log.records if isinstance(r, HandshakeMessage) and r.name == "new_session_ticket")
    assert ticket.fields["ticket_length"] > 0 and "lifetime_hint" in ticket.fields
    assert [(d, "server_hello" if n == "server_hello" else n) for d, n in messages(server_log)][:2] == [
        ("received", "client_hello"), ("sent", "server_hello"),
    ]  # fmt: skip
    ske = next(r for r in client_log.records if isinstance(r, HandshakeMessage) and r.name == "server_key_exchange")
    assert ske.fields["group"] == "x25519" and ske.fields["signature_scheme"] == "ed25519"
    cert = next(r for r in client_log.records if isinstance(r, HandshakeMessage) and r.name == "certificate")
    assert cert.fields["certificates"][0]["subject"] == "CN=localhost"
    sent = [r for r in client_log.records if isinstance(r, RecordBoundary) and r.direction == "sent"]
    assert [(r.content_type, r.protected) for r in sent][-2:] == [("change_cipher_spec", False), ("handshake", True)]
    (negotiated,) = kinds_of(client_log, Negotiated)
    assert negotiated.version == "TLSv1.2"
    assert [(c.what, c.ok) for c in kinds_of(client_log, Check)] == [
        ("certificate_chain", True), ("server_key_exchange", True), ("finished", True),
    ]  # fmt: skip
    assert [(s.secret, s.label) for s in kinds_of(client_log, KeyScheduleStep)] == [("master_secret", "extended master secret")]
    for log in (client_log, server_log):
        for entry in log.entries:
            VALIDATOR.validate(entry.to_dict())


def test_a_connection_can_trace_on_its_own(pki):
    """A server's config is shared by its connections; each can still have its own log."""
    config = ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file)
    logs = [TraceLog(), TraceLog()]
    for log in logs:
        client = ClientConnection(ClientConfig(cafile=pki.ca_file), server_name="localhost")
        server = ServerConnection(config, trace=log)
        pump(client, server)
        assert client._tracer is None
    for log in logs:
        assert messages(log)[:2] == [("received", "client_hello"), ("sent", "server_hello")]
        assert len({r.conn for r in log.records}) == 1
    client_log = TraceLog()
    client = ClientConnection(ClientConfig(cafile=pki.ca_file), server_name="localhost", trace=client_log)
    pump(client, ServerConnection(config))
    assert messages(client_log)[0] == ("sent", "client_hello")
