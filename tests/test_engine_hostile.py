"""Hostile input: targeted malformed/out-of-order messages and hypothesis-mutated real transcripts.

Handshakes here are deterministic (fixed randoms, fixed x25519 keys, an Ed25519
certificate whose signatures are deterministic), so one recorded transcript can be
replayed against fresh connections, and a man in the middle who knows the handshake
secrets (from the key log) can decrypt, alter and re-encrypt the protected flights.
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401 (recorded: a shared fixture)
    client_with_flight,
    connected_pair,
    decrypt_records,
    deterministic_provider,
    encrypt_handshake,
    expect_alert,
    pki_for,
    pump,
    record,
    recorded,
    replayed_client_hello,
    sent_alert,
    split_messages,
    split_records,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tlskit.engine.buffer import vec16
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.extensions import is_dns_host_name
from tlskit.engine.messages import DOWNGRADE_TLS12, ClientHello, EncryptedExtensions, ServerHello
from tlskit.engine.record import ContentType
from tlskit.errors import AlertDescription as A
from tlskit.errors import AlertReceivedError, IllegalParameter

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# -- targeted: record layer ---------------------------------------------------


def test_replay_is_deterministic(recorded):
    client = recorded.client()
    assert client.data_to_send() == recorded.client_hello
    server = recorded.server()
    server.receive_data(recorded.client_hello)
    assert server.data_to_send() == recorded.server_hello + b"".join(recorded.server_encrypted)


def test_unknown_record_type(recorded):
    server = recorded.server()
    expect_alert(server, record(24, b"\x01\x00"), A.unexpected_message)
    assert sent_alert(server) == A.unexpected_message


def test_bad_record_version(recorded):
    server = recorded.server()
    expect_alert(server, b"\x16\x02\x00" + recorded.client_hello[3:], A.protocol_version)


def test_oversized_plaintext_record(recorded):
    expect_alert(recorded.server(), b"\x16\x03\x03\x40\x01" + bytes(0x4001), A.record_overflow)


def test_oversized_protected_record(recorded):
    client = recorded.client_after_server_hello()
    expect_alert(client, b"\x17\x03\x03\x41\x01" + bytes(0x4101), A.record_overflow)


def test_oversized_inner_plaintext(recorded):
    client = recorded.client_after_server_hello()
    secret = recorded.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]
    from tlskit.engine.keyschedule import TrafficKeys

    keys = TrafficKeys(recorded.suite, secret)
    inner = bytes(0x4000) + b"\x16" + b"\x00"  # 2^14 + 2 bytes of TLSInnerPlaintext
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    sealed = keys.aead.seal(keys.iv, header, inner)
    expect_alert(client, header + sealed, A.record_overflow)


def test_empty_and_malformed_records(recorded):
    expect_alert(recorded.server(), record(ContentType.handshake, b""), A.unexpected_message)
    expect_alert(recorded.server(), record(ContentType.alert, b"\x02\x28\x00"), A.decode_error)
    expect_alert(recorded.server(), record(ContentType.application_data, b"hello"), A.unexpected_message)


def test_tampered_protected_record(recorded):
    client = recorded.client_after_server_hello()
    flight = bytearray(b"".join(recorded.server_encrypted))
    flight[10] ^= 0x40
    expect_alert(client, bytes(flight), A.bad_record_mac)


def test_only_content_free_padding(recorded):
    client = recorded.client_after_server_hello()
    data = encrypt_handshake(b"", recorded.suite, recorded.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"], 0)
    if not data:  # an empty write produces no record: build an all-padding one by hand
        from tlskit.engine.keyschedule import TrafficKeys

        keys = TrafficKeys(recorded.suite, recorded.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"])
        header = b"\x17\x03\x03\x00\x14"
        data = header + keys.aead.seal(keys.iv, header, b"\x00\x00\x00\x00")
    expect_alert(client, data, A.unexpected_message)


def test_change_cipher_spec_rules(recorded):
    server = recorded.server()
    expect_alert(server, record(ContentType.change_cipher_spec, b"\x01"), A.unexpected_message)  # before ClientHello
    server = recorded.server_after_client_hello()
    assert server.receive_data(record(ContentType.change_cipher_spec, b"\x01")) == []  # compatibility CCS: dropped
    expect_alert(server, record(ContentType.change_cipher_spec, b"\x02"), A.unexpected_message)
    # after the handshake it is forbidden
    client = recorded.client()
    client.data_to_send()
    client.receive_data(recorded.server_hello + b"".join(recorded.server_encrypted))
    expect_alert(client, record(ContentType.change_cipher_spec, b"\x01"), A.unexpected_message)


# -- targeted: ClientHello --------------------------------------------------------


def test_truncated_and_overlong_lengths(recorded):
    body = recorded.client_hello[5:]
    truncated = bytearray(body)
    truncated[1:4] = (len(body) - 4 - 10).to_bytes(3, "big")  # claims 10 bytes fewer: extensions overrun
    expect_alert(recorded.server(), record(22, bytes(truncated[: len(body) - 10])), A.decode_error)
    overlong = bytearray(body)
    overlong += b"\x00\x00"  # two bytes of trailing garbage inside a message claiming them
    overlong[1:4] = (len(overlong) - 4).to_bytes(3, "big")
    expect_alert(recorded.server(), record(22, bytes(overlong)), A.decode_error)


def test_duplicate_extension_in_client_hello(recorded):
    data = replayed_client_hello(recorded, lambda h: h.extensions.insert(0, h.extensions[0]))
    expect_alert(recorded.server(), data, A.illegal_parameter)


def test_client_hello_version_checks(recorded):
    def old_legacy_version(hello):
        hello.legacy_version = 0x0300  # SSL 3.0 or less: protocol_version (RFC 8446 D.5)

    def no_tls13(hello):
        hello.extensions = [(t, b"\x02\x03\x03" if t == E.supported_versions else body) for t, body in hello.extensions]

    expect_alert(recorded.server(), replayed_client_hello(recorded, old_legacy_version), A.protocol_version)
    # without TLS 1.3 on offer, a TLS 1.3-only server refuses; at defaults it answers TLS 1.2
    expect_alert(recorded.server(min_version="TLSv1.3"), replayed_client_hello(recorded, no_tls13), A.protocol_version)


def test_client_hello_bad_compression_and_missing_extensions(recorded):
    def compression(hello):
        hello.legacy_compression_methods = b"\x01\x00"

    def without(ext_type):
        def mutate(hello):
            hello.extensions = [(t, b) for t, b in hello.extensions if t != ext_type]

        return mutate

    expect_alert(recorded.server(), replayed_client_hello(recorded, compression), A.illegal_parameter)
    expect_alert(recorded.server(), replayed_client_hello(recorded, without(E.signature_algorithms)), A.missing_extension)
    expect_alert(recorded.server(), replayed_client_hello(recorded, without(E.key_share)), A.missing_extension)


@pytest.mark.parametrize("provider_name", ["cryptography", "pycryptodome", "pynacl"])
@pytest.mark.parametrize(
    "share",
    [bytes(32), b"\x01" * 31, b"\x01" * 33, bytes([1]) + bytes(31)],
    ids=["all-zero", "short", "long", "low-order"],
)
def test_invalid_client_key_share(recorded, share, provider_name):
    def mutate(hello):
        hello.extensions = [
            (t, (len(share) + 4).to_bytes(2, "big") + b"\x00\x1d" + len(share).to_bytes(2, "big") + share if t == E.key_share else b)
            for t, b in hello.extensions
        ]

    server = ServerConnection(
        ServerConfig(provider=provider_name, certfile=recorded.pki.chain_file, keyfile=recorded.pki.key_file)
    )
    expect_alert(server, replayed_client_hello(recorded, mutate), A.illegal_parameter)


def test_no_common_cipher_suite_or_group(recorded):
    def suites(hello):
        hello.cipher_suites = [0x1305]

    expect_alert(recorded.server(), replayed_client_hello(recorded, suites), A.handshake_failure)


# -- targeted: wrong-state messages -------------------------------------------------


def test_wrong_state_messages(recorded):
    finished = b"\x14\x00\x00\x20" + bytes(32)
    expect_alert(recorded.server(), record(22, finished), A.unexpected_message)
    client = recorded.client()
    client.data_to_send()
    expect_alert(client, record(22, b"\x08\x00\x00\x02\x00\x00"), A.unexpected_message)  # EE before ServerHello
    # a second ClientHello after the handshake started
    server = recorded.server_after_client_hello()
    expect_alert(server, recorded.client_hello, A.unexpected_message)
    # application data under handshake keys (before Finished)
    server = recorded.server_after_client_hello()
    data = encrypt_handshake(b"too early", recorded.suite, recorded.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], ContentType.application_data)
    expect_alert(server, data, A.unexpected_message)


def test_server_hello_spanning_key_change(recorded):
    client = recorded.client()
    client.data_to_send()
    message = recorded.server_hello[5:] + b"\x08"  # first byte of the next message in the same record
    expect_alert(client, record(22, message), A.unexpected_message)


# -- targeted: ServerHello checks ----------------------------------------------------


def _server_hello(recorded) -> ServerHello:
    return ServerHello.decode(recorded.server_hello[9:])


def _client_with(recorded, hello: ServerHello, alert: A, **config) -> None:
    client = recorded.client(**config)
    client.data_to_send()
    expect_alert(client, record(22, hello.encode()), alert)


def test_server_hello_checks(recorded):
    hello = _server_hello(recorded)
    hello.cipher_suite = 0x1302 if hello.cipher_suite != 0x1302 else 0x1301
    client = recorded.client(cipher_suites=["TLS_AES_128_GCM_SHA256"])
    client.data_to_send()
    hello_other_suite = _server_hello(recorded)
    hello_other_suite.cipher_suite = 0x1302
    expect_alert(client, record(22, hello_other_suite.encode()), A.illegal_parameter)

    hello = _server_hello(recorded)
    hello.legacy_session_id_echo = b"\x01" * 32
    _client_with(recorded, hello, A.illegal_parameter)

    hello = _server_hello(recorded)
    hello.legacy_version = 0x0300  # SSL 3.0 or less: protocol_version (RFC 8446 D.5)
    _client_with(recorded, hello, A.protocol_version)

    hello = _server_hello(recorded)
    hello.extensions = [(t, b) for t, b in hello.extensions if t != E.supported_versions]
    # a TLS 1.2 answer: refused by a TLS 1.3-only client; a client at defaults (1.2 too)
    # refuses it for its TLS 1.3 cipher suite
    _client_with(recorded, hello, A.protocol_version, min_version="TLSv1.3")
    _client_with(recorded, hello, A.illegal_parameter)

    hello.random = hello.random[:24] + DOWNGRADE_TLS12
    _client_with(recorded, hello, A.illegal_parameter, min_version="TLSv1.3")
    _client_with(recorded, hello, A.illegal_parameter)

    hello = _server_hello(recorded)
    hello.extensions.append((E.application_layer_protocol_negotiation, b"\x00\x03\x02h2"))
    _client_with(recorded, hello, A.illegal_parameter)

    hello = _server_hello(recorded)
    hello.extensions = [(t, b"\x00\x1d\x00\x20" + bytes(32)) if t == E.key_share else (t, b) for t, b in hello.extensions]
    _client_with(recorded, hello, A.illegal_parameter)

    hello = _server_hello(recorded)
    hello.extensions = [(t, b"\x00\x17\x00\x41\x04" + bytes(64)) if t == E.key_share else (t, b) for t, b in hello.extensions]
    _client_with(recorded, hello, A.illegal_parameter)  # a share for a group we sent none for


def test_hello_retry_request_checks(recorded):
    from tlskit.engine.messages import HRR_RANDOM

    def hrr(extensions):
        return record(22, ServerHello(HRR_RANDOM, b"", 0x1301, extensions).encode())

    versions = (E.supported_versions, b"\x03\x04")
    client = recorded.client()
    client.data_to_send()
    expect_alert(client, hrr([versions, (E.key_share, b"\x00\x1d")]), A.illegal_parameter)  # already sent x25519
    client = recorded.client()
    client.data_to_send()
    expect_alert(client, hrr([versions]), A.illegal_parameter)  # would change nothing
    client = recorded.client()
    client.data_to_send()
    expect_alert(client, hrr([versions, (E.cookie, b"\x00\x02ab"), (E.server_name, b"")]), A.illegal_parameter)
    client = recorded.client()
    client.data_to_send()
    client.receive_data(hrr([versions, (E.cookie, b"\x00\x02ab")]))
    assert b"\x00\x2c\x00\x04\x00\x02ab" in client.data_to_send()  # the cookie is echoed
    expect_alert(client, hrr([versions, (E.cookie, b"\x00\x02cd")]), A.unexpected_message)  # a second HRR


# -- targeted: the server's encrypted flight (re-encrypted by a man in the middle) ---


def test_bad_finished(recorded):
    messages = split_messages(recorded.server_flight_plaintext())
    messages[-1] = messages[-1][:-1] + bytes([messages[-1][-1] ^ 1])
    client, _ = client_with_flight(recorded, messages, A.decrypt_error)
    assert not client.handshake_complete


def test_bad_signature(recorded):
    messages = split_messages(recorded.server_flight_plaintext())
    certificate_verify = bytearray(messages[2])
    certificate_verify[-5] ^= 0x10
    messages[2] = bytes(certificate_verify)
    client_with_flight(recorded, messages, A.decrypt_error)


def test_signature_scheme_not_offered(recorded):
    messages = split_messages(recorded.server_flight_plaintext())
    messages[2] = messages[2][:4] + b"\x04\x01" + messages[2][6:]  # rsa_pkcs1_sha256: never valid in CertificateVerify
    client_with_flight(recorded, messages, A.illegal_parameter)


def test_encrypted_extensions_rules(recorded):
    messages = split_messages(recorded.server_flight_plaintext())
    for extensions, alert in (
        ([(E.server_name, b""), (E.server_name, b"")], A.illegal_parameter),  # duplicate
        ([(E.key_share, b"\x00\x1d")], A.illegal_parameter),  # not allowed in EncryptedExtensions
        ([(E.application_layer_protocol_negotiation, b"\x00\x03\x02h2")], A.unsupported_extension),  # not offered
        ([(E.record_size_limit, b"\x00\x10")], A.illegal_parameter),  # below 64
    ):
        changed = [EncryptedExtensions(extensions).encode()] + messages[1:]
        client_with_flight(recorded, changed, alert)


def test_empty_server_certificate_and_reordered_flight(recorded):
    messages = split_messages(recorded.server_flight_plaintext())
    client_with_flight(recorded, [messages[0], b"\x0b\x00\x00\x04\x00\x00\x00\x00"] + messages[2:], A.decode_error)
    client_with_flight(recorded, [messages[0], messages[2], messages[1], messages[3]], A.unexpected_message)
    client_with_flight(recorded, [messages[0], messages[3]], A.unexpected_message)  # Finished without a certificate


def test_fatal_alert_from_peer(recorded):
    client = recorded.client()
    client.data_to_send()
    with pytest.raises(AlertReceivedError) as caught:
        client.receive_data(record(ContentType.alert, b"\x02\x28"))
    assert caught.value.alert == A.handshake_failure
    assert client.closed and client.data_to_send() == b""


def test_bad_client_finished(recorded):
    server = recorded.server_after_client_hello()
    plaintext = decrypt_records(split_records(recorded.client_flight), recorded.suite, recorded.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
    tampered = plaintext[:-1] + bytes([plaintext[-1] ^ 1])
    data = encrypt_handshake(tampered, recorded.suite, recorded.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
    expect_alert(server, data, A.decrypt_error)


# -- property-based: mutated real transcripts ----------------------------------------

MUTATION = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete", "truncate"]),
    st.integers(min_value=0, max_value=10**6),
    st.binary(min_size=1, max_size=4),
)


def mutate(data: bytes, operations) -> bytes:
    buf = bytearray(data)
    for operation, position, value in operations:
        if not buf:
            break
        at = position % len(buf)
        if operation == "flip":
            buf[at] ^= value[0] or 1
        elif operation == "set":
            buf[at : at + len(value)] = value
        elif operation == "insert":
            buf[at:at] = value
        elif operation == "delete":
            del buf[at : at + len(value)]
        else:
            del buf[at:]
    return bytes(buf)


def feed_expecting_only_tls_errors(connection, data: bytes, chunk: int) -> None:
    try:
        for start in range(0, max(len(data), 1), chunk):
            connection.receive_data(data[start : start + chunk])
    except TLSError as exc:
        # internal_error would mean a stray exception (IndexError, ValueError...) got wrapped
        assert exc.alert != A.internal_error, repr(exc.__cause__ or exc)
        assert connection.closed
        out = connection.data_to_send()
        # whatever was queued before the failure, the last record is the alert (protected or not)
        assert out == b"" or split_records(out)[-1][0] in (ContentType.alert, ContentType.application_data)


@SETTINGS
@given(operations=st.lists(MUTATION, min_size=1, max_size=4), chunk=st.integers(min_value=1, max_value=4096))
def test_server_survives_mutated_client_hello(recorded, operations, chunk):
    feed_expecting_only_tls_errors(recorded.server(), mutate(recorded.client_hello, operations), chunk)


@SETTINGS
@given(operations=st.lists(MUTATION, min_size=1, max_size=4), chunk=st.integers(min_value=1, max_value=4096))
def test_client_survives_mutated_server_bytes(recorded, operations, chunk):
    client = recorded.client()
    client.data_to_send()
    wire = recorded.server_hello + b"".join(recorded.server_encrypted)
    feed_expecting_only_tls_errors(client, mutate(wire, operations), chunk)


@SETTINGS
@given(operations=st.lists(MUTATION, min_size=1, max_size=4))
def test_client_survives_mutated_server_flight_plaintext(recorded, operations):
    client = recorded.client()
    client.data_to_send()
    plaintext = mutate(recorded.server_flight_plaintext(), operations)
    feed_expecting_only_tls_errors(client, recorded.reencrypted_server_flight(plaintext), 1 << 20)


@SETTINGS
@given(operations=st.lists(MUTATION, min_size=1, max_size=4))
def test_server_survives_mutated_client_flight_plaintext(recorded, operations):
    server = recorded.server_after_client_hello()
    secret = recorded.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"]
    plaintext = decrypt_records(split_records(recorded.client_flight), recorded.suite, secret)
    feed_expecting_only_tls_errors(server, encrypt_handshake(mutate(plaintext, operations), recorded.suite, secret), 1 << 20)


@SETTINGS
@given(cuts=st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=6), chunk=st.integers(min_value=1, max_value=300))
def test_any_record_fragmentation_completes(recorded, cuts, chunk):
    """Handshake messages split across records at arbitrary points, delivered in arbitrary chunks."""
    plaintext = recorded.server_flight_plaintext()
    secret = recorded.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"]
    from tlskit.engine.keyschedule import TrafficKeys
    from tlskit.engine.record import RecordLayer

    layer = RecordLayer()
    layer.set_write_keys(TrafficKeys(recorded.suite, secret))
    pos = 0
    for cut in cuts:
        if pos >= len(plaintext):
            break
        layer.write(ContentType.handshake, plaintext[pos : pos + cut])
        pos += cut
    if pos < len(plaintext):
        layer.write(ContentType.handshake, plaintext[pos:])
    wire = recorded.server_hello + layer.take_output()
    client = recorded.client()
    client.data_to_send()
    for start in range(0, len(wire), chunk):
        client.receive_data(wire[start : start + chunk])
    assert client.handshake_complete
    assert client.data_to_send() == recorded.client_flight


# -- targeted: after the handshake ----------------------------------------------------


def test_application_data_under_handshake_keys_to_client(recorded):
    client = recorded.client()
    client.data_to_send()
    data = encrypt_handshake(b"0.5-RTT?", recorded.suite, recorded.secrets["SERVER_HANDSHAKE_TRAFFIC_SECRET"], ContentType.application_data)
    expect_alert(client, recorded.server_hello + data, A.unexpected_message)


@pytest.mark.parametrize(
    "message,alert",
    [
        (b"\x18\x00\x00\x01\x02", A.illegal_parameter),  # KeyUpdate with an undefined request value
        (b"\x18\x00\x00\x02\x00\x00", A.decode_error),  # KeyUpdate with trailing bytes
        (b"\x0d\x00\x00\x0b\x00\x00\x08\x00\x0d\x00\x04\x00\x02\x04\x03", A.unexpected_message),  # post-handshake auth
        (b"\x04\x00\x00\x0f\x00\x09\x3a\x81\x00\x00\x00\x00\x00\x00\x02\x41\x41\x00\x00", A.illegal_parameter),  # ticket lifetime > 7 days
        (b"\x01\x00\x00\x00", A.unexpected_message),  # a ClientHello after the handshake
    ],
    ids=["keyupdate-value", "keyupdate-trailing", "certificate-request", "ticket-lifetime", "client-hello"],
)
def test_bad_post_handshake_messages_to_client(recorded, message, alert):
    client, server = connected_pair(recorded)
    data = encrypt_handshake(message, recorded.suite, recorded.secrets["SERVER_TRAFFIC_SECRET_0"])
    expect_alert(client, data, alert)
    out = client.data_to_send()
    assert out[:1] == b"\x17"  # the alert goes out protected


def test_new_session_ticket_from_client_is_unexpected(recorded):
    client, server = connected_pair(recorded)
    ticket = b"\x04\x00\x00\x0f\x00\x00\x0e\x10\x00\x00\x00\x00\x00\x00\x02\x41\x41\x00\x00"
    expect_alert(server, encrypt_handshake(ticket, recorded.suite, recorded.secrets["CLIENT_TRAFFIC_SECRET_0"]), A.unexpected_message)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("sni"))


# -- server_name: HostName must be a DNS host name (RFC 6066 3) ---------------------------


def _client_sending_server_name(pki, name: bytes, **config_options):
    """A client whose ClientHello carries ``name`` as host_name (fixed key share and random,
    so the rewritten hello still matches the client's state)."""
    config = ClientConfig(
        provider=deterministic_provider("cryptography", bytes(range(1, 33)), b"\xc1"), cafile=pki.ca_file, **config_options
    )
    return ClientConnection(config, server_name="localhost", _client_hello_override=_hello_with_server_name(config, name))


def _hello_with_server_name(config, name: bytes) -> bytes:
    raw = ClientConnection(config, server_name="localhost").data_to_send()
    hello = ClientHello.decode(raw[9:])
    body = vec16(b"\x00" + vec16(name))
    hello.extensions = [(t, body if t == E.server_name else b) for t, b in hello.extensions]
    return hello.encode()


@pytest.mark.parametrize(
    "name",
    [
        b"evil\x1b[31m.example",  # a terminal escape sequence
        b"a b.example",
        b"a..example",
        b".example",
        b"-lead.example",
        b"trail-.example",
        b"a/b.example",
        b"x" * 64 + b".example",  # label over 63
        (b"a" * 62 + b".") * 4 + b"abc",  # 254 characters
        b"1.2.3.999",  # all-numeric last label, not an IP literal
    ],
)
def test_server_refuses_a_server_name_that_is_not_a_dns_host_name(pki, name):
    # Before: accepted and exposed as negotiated.server_name (escape sequences included).
    client = _client_sending_server_name(pki, name)
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    with pytest.raises(IllegalParameter, match="not a DNS host name") as info:
        server.receive_data(client.data_to_send())
    assert info.value.alert == A.illegal_parameter
    assert server.data_to_send()[-2:] == bytes([2, A.illegal_parameter])
    assert server.closed


@pytest.mark.parametrize(
    "name",
    [b"localhost", b"xn--bcher-kva.example", b"_srv.x_y.example", b"a-b.c1", b"A.EXAMPLE", (b"a" * 63 + b".") * 3 + b"a" * 61],
)
def test_server_accepts_dns_host_names(pki, name):
    assert is_dns_host_name(name.decode())
    client = _client_sending_server_name(pki, name)
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    pump(client, server)
    assert server.handshake_complete and server.negotiated.server_name == name.decode()
