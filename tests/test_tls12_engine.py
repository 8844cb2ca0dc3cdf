"""TLS 1.2 in memory: every suite x certificate type x provider, version negotiation and
the downgrade sentinel, EMS and renegotiation_info, mTLS, ALPN, SNI, OCSP stapling,
renegotiation refused, the key log, resumption, and hostile input (out-of-order
messages, bad points, bad signatures, bad Finished, mutated transcripts)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import EphemeralCA
from tlskit.engine.messages import DOWNGRADE_TLS12, ClientHello, ServerHello
from tlskit.engine.tls12 import messages as m12
from tlskit.engine.tls12.suites import SUITE_TABLE, provider_suites
from tlskit.errors import AlertDescription, TLSError
from tlskit.events import AlertReceived, ApplicationData, ConnectionClosed, HandshakeComplete
from tlskit.providers import available_providers, get_provider
from engine_support import pump

PROVIDERS = available_providers()
TLS12_ONLY = dict(min_version="TLSv1.2", max_version="TLSv1.2")


@pytest.fixture(scope="module")
def ca():
    return EphemeralCA()


@pytest.fixture(scope="module")
def certs(ca):
    return {
        "ecdsa-p256": ca.issue_cert("localhost", "a.example"),
        "ecdsa-p384": ca.issue_cert("localhost", key_type="ecdsa-p384"),
        "rsa-2048": ca.issue_cert("localhost", "b.example", key_type="rsa-2048"),
        "ed25519": ca.issue_cert("localhost", key_type="ed25519"),
    }


@pytest.fixture(scope="module")
def ed_ca():
    """Ed25519 throughout: the only signatures PyNaCl verifies."""
    return EphemeralCA(key_type="ed25519")




def records(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        out.append((data[pos], data[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    return out


def handshake_messages(data: bytes) -> list[bytes]:
    """The plaintext handshake messages of a flight (records of type 22 before any CCS)."""
    buf = b""
    for content_type, payload in records(data):
        if content_type == 20:
            break
        if content_type == 22:
            buf += payload
    messages = []
    while buf:
        length = int.from_bytes(buf[1:4], "big")
        messages.append(buf[: 4 + length])
        buf = buf[4 + length :]
    return messages


def plain_records(*messages: bytes) -> bytes:
    return b"".join(b"\x16\x03\x03" + len(m).to_bytes(2, "big") + m for m in messages)


def make_pair(ca, cert, *, client=None, server=None, provider="cryptography", server_name="localhost"):
    server_config = ca.server_config(cert, provider=provider, **(server or {}))
    client_config = ca.client_config(provider=provider, **(client or {}))
    return ClientConnection(client_config, server_name=server_name), ServerConnection(server_config)


def exchange_data(client, server):
    client.send(b"ping" * 1000)
    events = server.receive_data(client.data_to_send())
    assert b"".join(e.data for e in events if isinstance(e, ApplicationData)) == b"ping" * 1000
    server.send(b"pong")
    events = client.receive_data(server.data_to_send())
    assert [e.data for e in events if isinstance(e, ApplicationData)] == [b"pong"]


# -- the matrix ------------------------------------------------------------------------

KEY_AUTH = {"ecdsa-p256": "ECDSA", "ecdsa-p384": "ECDSA", "ed25519": "ECDSA", "rsa-2048": "RSA"}


def _matrix():
    for provider in PROVIDERS:
        p = get_provider(provider)
        for key_type, auth in KEY_AUTH.items():
            scheme_ok = {"ecdsa-p256": "ecdsa_secp256r1_sha256", "ecdsa-p384": "ecdsa_secp384r1_sha384", "ed25519": "ed25519", "rsa-2048": "rsa_pss_rsae_sha256"}[key_type]
            if scheme_ok not in p.signature_schemes:
                continue
            for suite in provider_suites(p).values():
                if suite.info.auth == auth:
                    yield provider, key_type, suite.name


@pytest.mark.parametrize("provider,key_type,suite", list(_matrix()))
def test_every_suite_with_every_certificate_type_and_provider(ca, ed_ca, certs, provider, key_type, suite):
    cert = certs[key_type]
    if provider == "pynacl":  # its chain must be Ed25519 too
        ca, cert = ed_ca, ed_ca.issue_cert("localhost")
    client, server = make_pair(ca, cert, provider=provider, client=dict(cipher_suites=[suite], **TLS12_ONLY))
    client_events, server_events = pump(client, server)
    assert HandshakeComplete() in client_events and HandshakeComplete() in server_events
    for side in (client, server):
        assert side.negotiated.version == "TLSv1.2"
        assert side.negotiated.cipher_suite == suite
    assert client.negotiated.peer_certificates[0] == cert.chain_der[0]
    exchange_data(client, server)
    client.close()
    assert ConnectionClosed() in server.receive_data(client.data_to_send())


def test_rsa_pkcs1_server_signature_when_the_client_has_no_pss(ca, certs):
    client, server = make_pair(
        ca, certs["rsa-2048"], client=dict(signature_schemes=["rsa_pkcs1_sha256", "ecdsa_secp256r1_sha256"], **TLS12_ONLY)
    )
    pump(client, server)
    assert client.negotiated.signature_scheme == "rsa_pkcs1_sha256"


def test_a_tls13_client_never_accepts_rsa_pkcs1_in_certificate_verify(ca, certs):
    # RFC 8446 4.2.3: rsa_pkcs1 may be offered (for TLS 1.2) but never used in TLS 1.3
    client, server = make_pair(ca, certs["rsa-2048"], client=dict(signature_schemes=["rsa_pkcs1_sha256", "rsa_pss_rsae_sha256"]))
    pump(client, server)
    assert client.negotiated.version == "TLSv1.3"
    assert client.negotiated.signature_scheme == "rsa_pss_rsae_sha256"


@pytest.mark.parametrize("group", ["x25519", "x448", "secp256r1", "secp384r1", "secp521r1"])
def test_every_ecdhe_group(ca, certs, group):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=dict(groups=[group], **TLS12_ONLY))
    pump(client, server)
    assert client.negotiated.group == server.negotiated.group == group


# -- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "client_versions,server_versions,expected",
    [
        ({}, {}, "TLSv1.3"),
        (TLS12_ONLY, {}, "TLSv1.2"),
        ({}, TLS12_ONLY, "TLSv1.2"),
        (TLS12_ONLY, TLS12_ONLY, "TLSv1.2"),
        (dict(min_version="TLSv1.3"), {}, "TLSv1.3"),
        ({}, dict(min_version="TLSv1.3"), "TLSv1.3"),
    ],
)
def test_version_matrix(ca, certs, client_versions, server_versions, expected):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=client_versions, server=server_versions)
    pump(client, server)
    assert client.negotiated.version == server.negotiated.version == expected


def test_tls12_client_against_tls13_only_server_gets_protocol_version(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY, server=dict(min_version="TLSv1.3"))
    with pytest.raises(TLSError) as info:
        server.receive_data(client.data_to_send())
    assert info.value.alert == AlertDescription.protocol_version
    assert server.data_to_send()[-2:] == bytes([2, AlertDescription.protocol_version])


def test_tls13_only_client_refuses_a_tls12_server(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=dict(min_version="TLSv1.3"), server=TLS12_ONLY)
    hello = ClientHello.decode(client.data_to_send()[9:])
    # the 1.3-only client did not offer TLS 1.2 at all, so the 1.2-only server refuses
    assert not any(code in hello.cipher_suites for code in (s.code for s in SUITE_TABLE.values()))
    with pytest.raises(TLSError) as info:
        server.receive_data(hello.encode() and plain_records(hello.encode()))
    assert info.value.alert == AlertDescription.protocol_version


def _without_extension(hello_record: bytes, ext_type: int, *, keep_versions=None) -> bytes:
    hello = ClientHello.decode(hello_record[9:])
    extensions = []
    for t, body in hello.extensions:
        if t == ext_type:
            if keep_versions is None:
                continue
            body = bytes([2 * len(keep_versions)]) + b"".join(v.to_bytes(2, "big") for v in keep_versions)
        extensions.append((t, body))
    hello.extensions = extensions
    return plain_records(hello.encode())


def test_downgrade_sentinel_makes_the_client_abort(ca, certs):
    """An attacker strips TLS 1.3 from the ClientHello: our 1.3-capable server answers
    TLS 1.2 with the RFC 8446 4.1.3 sentinel, and our client aborts (illegal_parameter)."""
    client, server = make_pair(ca, certs["ecdsa-p256"])
    forged = _without_extension(client.data_to_send(), 43, keep_versions=[0x0303])
    server.receive_data(forged)
    flight = server.data_to_send()
    server_hello = ServerHello.decode(handshake_messages(flight)[0][4:])
    assert server_hello.random[-8:] == DOWNGRADE_TLS12
    with pytest.raises(TLSError) as info:
        client.receive_data(flight)
    assert info.value.alert == AlertDescription.illegal_parameter


def test_tls12_only_server_writes_no_sentinel(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], server=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    server_hello = ServerHello.decode(handshake_messages(server.data_to_send())[0][4:])
    assert server_hello.random[-8:] != DOWNGRADE_TLS12


@pytest.mark.parametrize("legacy_version", [0x0300, 0x0301, 0x0302])
def test_old_versions_are_refused_with_protocol_version(ca, certs, legacy_version):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    hello = ClientHello.decode(client.data_to_send()[9:])
    hello.legacy_version = legacy_version
    with pytest.raises(TLSError) as info:
        server.receive_data(plain_records(hello.encode()))
    assert info.value.alert == AlertDescription.protocol_version


def test_config_refuses_old_versions():
    from tlskit.errors import ConfigurationError

    for bad in ("TLSv1.1", "TLSv1", "SSLv3"):
        with pytest.raises(ConfigurationError):
            ClientConfig(insecure=True, min_version=bad)
    with pytest.raises(ConfigurationError):
        ClientConfig(insecure=True, min_version="TLSv1.3", max_version="TLSv1.2")


# -- EMS, renegotiation_info, renegotiation ----------------------------------------------------


def test_server_requires_extended_master_secret(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    with pytest.raises(TLSError) as info:
        server.receive_data(_without_extension(client.data_to_send(), 23))
    assert info.value.alert == AlertDescription.handshake_failure


def _server_flight_without(client, server, ext_type):
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    hello = ServerHello.decode(messages[0][4:])
    hello.extensions = [(t, b) for t, b in hello.extensions if t != ext_type]
    return plain_records(hello.encode(), *messages[1:])


@pytest.mark.parametrize("ext_type", [23, 0xFF01])
def test_client_requires_ems_and_renegotiation_info(ca, certs, ext_type):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    with pytest.raises(TLSError) as info:
        client.receive_data(_server_flight_without(client, server, ext_type))
    assert info.value.alert == AlertDescription.handshake_failure


def test_renegotiation_is_refused_with_a_warning_both_ways(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    pump(client, server)
    # server asks the client to renegotiate: the client answers no_renegotiation (warning)
    server._record.write(22, m12.HelloRequest().encode())
    assert client.receive_data(server.data_to_send()) == []
    events = server.receive_data(client.data_to_send())
    assert events == [AlertReceived(AlertDescription.no_renegotiation, 1)]
    # client tries to renegotiate: the server answers no_renegotiation, the connection goes on
    client._record.write(22, ClientHello(bytes(32), b"", [0xC02B], [(0xFF01, b"\x00")]).encode())
    assert server.receive_data(client.data_to_send()) == []
    assert client.receive_data(server.data_to_send()) == [AlertReceived(AlertDescription.no_renegotiation, 1)]
    exchange_data(client, server)


# -- features ----------------------------------------------------------------------------------


def test_mutual_tls(ca, certs):
    alice = ca.issue_cert("alice@example.com", client=True)
    client_config = ca.client_config(alice, **TLS12_ONLY)
    server_config = ca.server_config(certs["rsa-2048"], client_auth=True)
    client, server = ClientConnection(client_config, server_name="localhost"), ServerConnection(server_config)
    pump(client, server)
    assert server.negotiated.version == "TLSv1.2"
    assert server.negotiated.peer_certificates[0] == alice.chain_der[0]


def test_required_client_certificate_missing_is_handshake_failure(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY, server=dict(client_cadata=ca.root_pem, require_client_auth=True))
    with pytest.raises(TLSError) as info:
        pump(client, server)
    assert info.value.alert == AlertDescription.handshake_failure


def test_alpn_sni_and_certificate_selection(ca, certs):
    server_config = ServerConfig(
        certificates=[(certs["ecdsa-p256"].chain_pem, certs["ecdsa-p256"].key_pem), (certs["rsa-2048"].chain_pem, certs["rsa-2048"].key_pem)],
        alpn_protocols=["h2", "http/1.1"],
    )
    for name, expected in (("a.example", "ecdsa-p256"), ("b.example", "rsa-2048")):
        client = ClientConnection(ca.client_config(alpn_protocols=["http/1.1", "h2"], **TLS12_ONLY), server_name=name)
        server = ServerConnection(server_config)
        pump(client, server)
        assert client.negotiated.alpn == server.negotiated.alpn == "h2"
        assert server.negotiated.server_name == name
        assert client.negotiated.peer_certificates[0] == certs[expected].chain_der[0]


def test_ocsp_stapling(ca, certs):
    client, server = make_pair(
        ca, certs["ecdsa-p256"], client=dict(request_ocsp=True, **TLS12_ONLY), server=dict(ocsp_response=b"\x30\x03\x0a\x01\x00")
    )
    pump(client, server)
    assert client.negotiated.ocsp_response == b"\x30\x03\x0a\x01\x00"


def test_keylog_writes_client_random_lines(ca, certs):
    lines = []
    client, server = make_pair(
        ca, certs["ecdsa-p256"], client=dict(keylog_callback=lambda *entry: lines.append(entry), **TLS12_ONLY)
    )
    pump(client, server)
    assert [label for label, _, _ in lines] == ["CLIENT_RANDOM"]
    label, client_random, master = lines[0]
    assert client_random == client._client_random and len(master) == 48


def test_export_keying_material_agrees(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    pump(client, server)
    assert client.export_keying_material("EXPERIMENTAL test", b"ctx", 40) == server.export_keying_material("EXPERIMENTAL test", b"ctx", 40)


def test_large_transfer_both_ways(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    pump(client, server)
    blob = bytes(range(256)) * 4096  # 1 MiB (16 MiB runs in the interop tests)
    client.send(blob)
    server.receive_data(client.data_to_send())
    assert server.recv() == blob
    server.send(blob)
    client.receive_data(server.data_to_send())
    assert client.recv() == blob


# -- hostile input --------------------------------------------------------------------------------


def _alert_of(call) -> AlertDescription:
    with pytest.raises(TLSError) as info:
        call()
    return info.value.alert


def test_change_cipher_spec_before_key_exchange_is_unexpected(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    server.data_to_send()
    assert _alert_of(lambda: server.receive_data(b"\x14\x03\x03\x00\x01\x01")) == AlertDescription.unexpected_message


def test_finished_before_change_cipher_spec_is_unexpected(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    flight = client.data_to_send()
    # keep the ClientKeyExchange, drop the CCS, send a plaintext Finished
    cke = handshake_messages(flight)
    assert _alert_of(lambda: server.receive_data(plain_records(*cke, m12.Finished12(bytes(12)).encode()))) == AlertDescription.unexpected_message


def test_second_server_key_exchange_is_unexpected(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    ske = messages[2]
    assert ske[0] == 12
    flight = plain_records(*messages[:3], ske, *messages[3:])
    assert _alert_of(lambda: client.receive_data(flight)) == AlertDescription.unexpected_message


def test_bad_server_key_exchange_signature_is_decrypt_error(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    ske = m12.ServerKeyExchange.decode(messages[2][4:])
    ske.public = bytes([ske.public[0] ^ 1]) + ske.public[1:]  # the signature no longer covers it
    flight = plain_records(*messages[:2], ske.encode(), *messages[3:])
    assert _alert_of(lambda: client.receive_data(flight)) == AlertDescription.decrypt_error


@pytest.mark.parametrize("group", ["x25519", "secp256r1"])
def test_bad_client_point_is_illegal_parameter(ca, certs, group):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=dict(groups=[group], **TLS12_ONLY))
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    bad = bytes(32) if group == "x25519" else b"\x04" + bytes(64)  # low-order / not on the curve
    assert _alert_of(lambda: server.receive_data(plain_records(m12.ClientKeyExchange(bad).encode()))) == AlertDescription.illegal_parameter


def test_ske_for_a_group_not_offered_is_illegal_parameter(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=dict(groups=["x25519"], **TLS12_ONLY))
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    ske = m12.ServerKeyExchange.decode(messages[2][4:])
    ske.group = 23
    flight = plain_records(*messages[:2], ske.encode(), *messages[3:])
    assert _alert_of(lambda: client.receive_data(flight)) == AlertDescription.illegal_parameter


def test_bad_finished_is_decrypt_error(ca, certs, monkeypatch):
    from tlskit.engine.tls12 import client as client12

    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    real = client12.finished
    monkeypatch.setattr(client12, "finished", lambda *args: bytes(x ^ 0xFF for x in real(*args)))
    client.receive_data(server.data_to_send())
    assert _alert_of(lambda: server.receive_data(client.data_to_send())) == AlertDescription.decrypt_error


def test_application_data_before_finished_is_refused(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    assert _alert_of(lambda: server.receive_data(b"\x17\x03\x03\x00\x05hello")) == AlertDescription.unexpected_message


@pytest.fixture(scope="module")
def transcript(ca, certs):
    """A real TLS 1.2 exchange, flight by flight (with client authentication)."""
    alice = ca.issue_cert("alice@example.com", client=True)
    client = ClientConnection(ca.client_config(alice, **TLS12_ONLY), server_name="localhost")
    server = ServerConnection(ca.server_config(certs["ecdsa-p256"], client_auth=True))
    hello = client.data_to_send()
    server.receive_data(hello)
    server_flight = server.data_to_send()
    client.receive_data(server_flight)
    client_flight = client.data_to_send()
    return alice, hello, server_flight, client_flight


def _mutate(data: bytes, draw) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    pos = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
    if kind == "truncate":
        return data[:pos]
    if kind == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=4)) + data[pos:]
    return data[:pos] + data[pos + draw(st.integers(1, 8)) :]


@settings(max_examples=60)
@given(data=st.data())
def test_mutated_server_flight_gets_an_alert_never_a_crash(ca, certs, transcript, data):
    _, hello, server_flight, _ = transcript
    client = ClientConnection(ca.client_config(**TLS12_ONLY), server_name="localhost")
    mutated = _mutate(server_flight, data.draw)
    try:
        client.receive_data(mutated)
    except TLSError as exc:
        assert isinstance(exc.alert, AlertDescription) and exc.alert != AlertDescription.internal_error
        assert client.closed


@settings(max_examples=60)
@given(data=st.data())
def test_mutated_client_flight_gets_an_alert_never_a_crash(ca, certs, transcript, data):
    alice, hello, server_flight, client_flight = transcript
    # a fresh server given the same ClientHello, then a mutated client flight: the keys
    # differ from the recorded run, so most mutations end in decrypt/verify failures
    server = ServerConnection(ca.server_config(certs["ecdsa-p256"], client_auth=True))
    server.receive_data(hello)
    server.data_to_send()
    try:
        server.receive_data(_mutate(client_flight, data.draw))
    except TLSError as exc:
        assert isinstance(exc.alert, AlertDescription) and exc.alert != AlertDescription.internal_error


# -- resumption ------------------------------------------------------------------------------------


def test_resumption_by_ticket_in_memory(ca, certs):
    client_config = ca.client_config(**TLS12_ONLY)
    server_config = ca.server_config(certs["ecdsa-p256"])
    first = ClientConnection(client_config, server_name="localhost"), ServerConnection(server_config)
    pump(*first)
    assert not first[0].negotiated.resumed
    second = ClientConnection(client_config, server_name="localhost"), ServerConnection(server_config)
    hello = ClientHello.decode(second[0].data_to_send()[9:])
    assert len(dict(hello.extensions)[35]) > 32  # the RFC 5077 ticket from the first connection
    second[1].receive_data(plain_records(hello.encode()))
    flight = second[1].data_to_send()
    # abbreviated: ServerHello, NewSessionTicket, then ChangeCipherSpec and Finished at once
    assert [m[0] for m in handshake_messages(flight)] == [2, 4]
    second[0].receive_data(flight)
    pump(*second)
    for side in second:
        assert side.negotiated.resumed and side.negotiated.version == "TLSv1.2"
    assert second[0].negotiated.peer_certificates == first[0].negotiated.peer_certificates
    exchange_data(*second)


def test_resumption_refused_for_another_name_or_a_forged_ticket(ca, certs):
    client_config = ca.client_config(**TLS12_ONLY)
    server_config = ca.server_config(certs["ecdsa-p256"])
    pump(ClientConnection(client_config, server_name="localhost"), ServerConnection(server_config))
    # the session was made for "localhost": asking for "a.example" means a full handshake
    other = ClientConnection(client_config, server_name="a.example"), ServerConnection(server_config)
    pump(*other)
    assert not other[1].negotiated.resumed
    # a forged ticket is no error either: a full handshake
    client = ClientConnection(client_config, server_name="localhost")
    hello = ClientHello.decode(client.data_to_send()[9:])
    hello.extensions = [(t, bytes(len(b)) if t == 35 else b) for t, b in hello.extensions]
    server = ServerConnection(server_config)
    server.receive_data(plain_records(hello.encode()))
    assert [m[0] for m in handshake_messages(server.data_to_send())][:2] == [2, 11]  # ServerHello, Certificate


def test_client_refuses_change_cipher_spec_before_the_server_key_exchange(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    flight = plain_records(*messages[:2]) + b"\x14\x03\x03\x00\x01\x01"
    assert _alert_of(lambda: client.receive_data(flight)) == AlertDescription.unexpected_message


def test_client_refuses_a_plaintext_finished_instead_of_change_cipher_spec(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    client.data_to_send()
    assert _alert_of(lambda: client.receive_data(plain_records(m12.Finished12(bytes(12)).encode()))) == AlertDescription.unexpected_message


def _server_hello_variant(ca, certs, mutate):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    hello = ServerHello.decode(messages[0][4:])
    mutate(hello)
    return _alert_of(lambda: client.receive_data(plain_records(hello.encode(), *messages[1:])))


def test_tls12_server_hello_checks(ca, certs):
    def unoffered_extension(hello):
        hello.extensions.append((0x0F, b"\x01"))  # heartbeat: we never offer it

    def renegotiated_connection(hello):
        hello.extensions = [(t, b"\x0c" + bytes(12) if t == 0xFF01 else b) for t, b in hello.extensions]

    def unoffered_suite(hello):
        hello.cipher_suite = 0x009C  # TLS_RSA_WITH_AES_128_GCM_SHA256: RSA key transport, never offered

    def compression(hello):
        hello.legacy_compression_method = 1

    def tls11(hello):
        hello.legacy_version = 0x0302

    assert _server_hello_variant(ca, certs, unoffered_extension) == AlertDescription.unsupported_extension
    assert _server_hello_variant(ca, certs, renegotiated_connection) == AlertDescription.handshake_failure
    assert _server_hello_variant(ca, certs, unoffered_suite) == AlertDescription.illegal_parameter
    assert _server_hello_variant(ca, certs, compression) == AlertDescription.illegal_parameter
    assert _server_hello_variant(ca, certs, tls11) == AlertDescription.protocol_version


def test_server_refuses_fallback_scsv_when_it_could_do_better(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    hello = ClientHello.decode(client.data_to_send()[9:])
    hello.cipher_suites.append(0x5600)  # RFC 7507 TLS_FALLBACK_SCSV
    assert _alert_of(lambda: server.receive_data(plain_records(hello.encode()))) == AlertDescription.inappropriate_fallback


def test_client_without_renegotiation_info_extension_but_with_scsv_is_accepted(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    hello = ClientHello.decode(client.data_to_send()[9:])
    hello.extensions = [(t, b) for t, b in hello.extensions if t != 0xFF01]
    hello.cipher_suites.append(0x00FF)  # RFC 5746 3.3: the SCSV says the same
    server.receive_data(plain_records(hello.encode()))
    server_hello = ServerHello.decode(handshake_messages(server.data_to_send())[0][4:])
    assert dict(server_hello.extensions)[0xFF01] == b"\x00"


@pytest.mark.parametrize("group,bad", [("x25519", bytes(32)), ("secp256r1", b"\x04" + bytes(64)), ("secp384r1", b"\x02" + bytes(48))])
def test_bad_server_point_is_illegal_parameter_even_when_signed(ca, certs, group, bad, monkeypatch):
    """A server that signs a low-order, off-curve or compressed point: the signature
    verifies, the point does not (RFC 8422 5.11)."""
    client, server = make_pair(ca, certs["ecdsa-p256"], client=dict(groups=[group], **TLS12_ONLY))

    class BadShare:
        share = bad

    # only the server starts a key exchange (a TLS 1.2-only client sends no key shares)
    monkeypatch.setattr(server._provider.groups[group], "start", lambda: BadShare())
    server.receive_data(client.data_to_send())
    flight = server.data_to_send()
    assert m12.ServerKeyExchange.decode(handshake_messages(flight)[2][4:]).public == bad
    assert _alert_of(lambda: client.receive_data(flight)) == AlertDescription.illegal_parameter


def test_certificate_chosen_by_the_suites_the_client_offers(ca, certs):
    server_config = ServerConfig(
        certificates=[(certs["ecdsa-p256"].chain_pem, certs["ecdsa-p256"].key_pem), (certs["rsa-2048"].chain_pem, certs["rsa-2048"].key_pem)],
    )
    for suite, expected in (("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "rsa-2048"), ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ecdsa-p256")):
        client = ClientConnection(ca.client_config(cipher_suites=[suite], **TLS12_ONLY), server_name="localhost")
        server = ServerConnection(server_config)
        pump(client, server)
        assert client.negotiated.cipher_suite == suite
        assert client.negotiated.peer_certificates[0] == certs[expected].chain_der[0]


def _to_server_final_flight(ca, certs):
    client, server = make_pair(ca, certs["ecdsa-p256"], client=TLS12_ONLY)
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return client, server.data_to_send()  # [NewSessionTicket,] ChangeCipherSpec, Finished


@settings(max_examples=40)
@given(data=st.data())
def test_mutated_final_server_flight_gets_an_alert_never_a_crash(ca, certs, data):
    client, flight = _to_server_final_flight(ca, certs)
    mutated = _mutate(flight, data.draw)
    try:
        client.receive_data(mutated)
    except TLSError as exc:
        assert isinstance(exc.alert, AlertDescription) and exc.alert != AlertDescription.internal_error
    else:
        # no error: either complete (the mutation hit nothing authenticated, e.g. the
        # version byte of the plaintext ChangeCipherSpec record) or still waiting for bytes
        assert client.handshake_complete or client.state in ("WAIT_NST", "WAIT_CCS", "WAIT_FINISHED")


def test_client_certificate_of_a_type_the_server_did_not_ask_for_is_not_sent(ca, certs):
    alice = ca.issue_cert("alice@example.com", client=True, key_type="rsa-2048")
    client = ClientConnection(ca.client_config(alice, **TLS12_ONLY), server_name="localhost")
    server = ServerConnection(ca.server_config(certs["ecdsa-p256"], client_cadata=ca.root_pem))
    server.receive_data(client.data_to_send())
    messages = handshake_messages(server.data_to_send())
    request = m12.CertificateRequest12.decode(messages[3][4:])
    request.certificate_types = bytes([m12.ECDSA_SIGN])  # an RSA key does not fit
    client.receive_data(plain_records(*messages[:3], request.encode(), *messages[4:]))
    sent = handshake_messages(client.data_to_send())
    assert sent[0] == m12.Certificate12([]).encode()  # RFC 5246 7.4.6: an empty Certificate
    assert [m[0] for m in sent] == [11, 16]  # and no CertificateVerify
