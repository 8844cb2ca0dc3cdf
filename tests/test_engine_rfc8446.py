"""RFC 8446 conformance: one test per MUST the engine enforces that the older suites left open.

Every test cites the section it checks. Handshakes are replayed with the deterministic
fixture of test_engine_hostile (fixed randoms and keys), so a single field of a real
message can be changed and the answer observed.
"""

from __future__ import annotations

import pytest
from engine_support import (  # noqa: F401 (recorded: a shared fixture)
    CLIENT_KEY,
    Recorded,
    client_with_flight,
    connected_pair,
    deterministic_provider,
    encrypt_handshake,
    expect_alert,
    record,
    recorded,
    replayed_client_hello,
    split_messages,
)

from tlskit import ClientConfig, ClientConnection
from tlskit.engine.buffer import vec8, vec16
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.messages import ClientHello, ServerHello
from tlskit.engine.record import ContentType
from tlskit.errors import AlertDescription as A

#: A syntactically valid pre_shared_key body: one identity, one 32-byte binder.
PSK_BODY = vec16(vec16(b"ticket") + b"\x00\x00\x00\x00") + vec16(vec8(bytes(32)))


def server_hello_of(data: bytes) -> ServerHello:
    assert data[0] == ContentType.handshake and data[5] == 2, data[:6]
    length = int.from_bytes(data[6:9], "big")
    return ServerHello.decode(data[9 : 9 + length])


def _with_extension(ext_type: int, body: bytes, *, last: bool = False):
    def mutate(hello: ClientHello) -> None:
        if last:
            hello.extensions.append((ext_type, body))
        else:
            hello.extensions.insert(0, (ext_type, body))

    return mutate


# -- 4.2: a recognized extension in the wrong message ---------------------------------


def test_extension_not_allowed_in_client_hello(recorded):
    # RFC 8446 4.2: oid_filters is defined for CertificateRequest only; a recognized
    # extension in a message it is not specified for MUST be illegal_parameter.
    data = replayed_client_hello(recorded, _with_extension(E.oid_filters, b"\x00\x00"))
    expect_alert(recorded.server(), data, A.illegal_parameter)


# -- 4.2.9 / 4.2.11: PSK extensions at a server without PSK ------------------------------


def test_pre_shared_key_without_modes_is_refused(recorded):
    # RFC 8446 4.2.9: pre_shared_key without psk_key_exchange_modes -> the server MUST abort
    # (missing_extension, section 9.2), even a server that would ignore the PSK.
    def mutate(hello: ClientHello) -> None:
        hello.extensions = [(t, b) for t, b in hello.extensions if t != E.psk_key_exchange_modes]
        hello.extensions.append((E.pre_shared_key, PSK_BODY))

    expect_alert(recorded.server(), replayed_client_hello(recorded, mutate), A.missing_extension)


def test_pre_shared_key_not_last_is_refused(recorded):
    # RFC 8446 4.2.11: pre_shared_key MUST be the last extension, else illegal_parameter.
    data = replayed_client_hello(recorded, _with_extension(E.pre_shared_key, PSK_BODY))
    expect_alert(recorded.server(), data, A.illegal_parameter)


def test_server_without_psk_ignores_offered_psk(recorded):
    # RFC 8446 4.2.11: a server that does not select a PSK answers with a full handshake
    # and no pre_shared_key in its ServerHello.
    server = recorded.server()
    server.receive_data(replayed_client_hello(recorded, _with_extension(E.pre_shared_key, PSK_BODY, last=True)))
    hello = server_hello_of(server.data_to_send())
    assert not hello.is_hello_retry_request
    assert E.pre_shared_key not in dict(hello.extensions)


# -- 4.2.8: key_share entries against supported_groups -----------------------------------

P256_SHARE = b"\x04" + bytes(64)  # never used: the server picks x25519


def _two_shares(order: tuple[int, int]):
    def mutate(hello: ClientHello) -> None:
        extensions = dict(hello.extensions)
        x25519 = extensions[E.key_share][6:]  # vec16(list) + group + vec16(share) header
        shares = {0x001D: x25519, 0x0017: P256_SHARE}
        body = b"".join(g.to_bytes(2, "big") + vec16(shares[g]) for g in order)
        hello.extensions = [
            (t, vec16(b"\x00\x1d\x00\x17") if t == E.supported_groups else vec16(body) if t == E.key_share else b)
            for t, b in hello.extensions
        ]

    return mutate


def test_key_shares_out_of_supported_groups_order(recorded):
    # RFC 8446 4.2.8: each KeyShareEntry MUST appear in the same order as its group in
    # supported_groups; servers MAY check and abort with illegal_parameter.
    expect_alert(recorded.server(), replayed_client_hello(recorded, _two_shares((0x0017, 0x001D))), A.illegal_parameter)
    server = recorded.server()
    server.receive_data(replayed_client_hello(recorded, _two_shares((0x001D, 0x0017))))
    assert dict(server_hello_of(server.data_to_send()).extensions)[E.key_share][:2] == b"\x00\x1d"


# -- 4.1.2: the second ClientHello after a HelloRetryRequest ------------------------------


def _retry_pair(recorded: Recorded, **server_options):
    """(server that sent a HelloRetryRequest, the client's second ClientHello message).

    The client sends no key share at first (an empty list is permitted, 4.2.8), so the
    x25519-only server asks for one.
    """
    client = recorded.client(key_share_groups=[])
    server = recorded.server(**server_options)
    server.receive_data(client.data_to_send())
    retry = server.data_to_send()
    assert server_hello_of(retry).is_hello_retry_request
    client.receive_data(retry)
    out = client.data_to_send()
    while out[0] != ContentType.handshake:  # skip the compatibility change_cipher_spec
        out = out[5 + int.from_bytes(out[3:5], "big") :]
    return server, ClientHello.decode(out[9:])


def _second_hello(hello: ClientHello) -> bytes:
    return record(ContentType.handshake, hello.encode())


def test_unchanged_second_client_hello_completes(recorded):
    server, hello = _retry_pair(recorded)
    server.receive_data(_second_hello(hello))
    assert not server_hello_of(server.data_to_send()).is_hello_retry_request


def test_second_client_hello_may_change_padding(recorded):
    # RFC 8446 4.1.2: "Optionally adding, removing, or changing the length of the padding extension"
    server, hello = _retry_pair(recorded)
    hello.extensions.insert(len(hello.extensions) - 1, (E.padding, bytes(17)))
    server.receive_data(_second_hello(hello))
    assert not server_hello_of(server.data_to_send()).is_hello_retry_request


def _replace(ext_type: int, body: bytes | None):
    def mutate(hello: ClientHello) -> None:
        if body is None:
            hello.extensions = [(t, b) for t, b in hello.extensions if t != ext_type]
        elif ext_type in dict(hello.extensions):
            hello.extensions = [(t, body if t == ext_type else b) for t, b in hello.extensions]
        else:
            hello.extensions.insert(0, (ext_type, body))

    return mutate


def _set(attribute: str, value):
    return lambda hello: setattr(hello, attribute, value)


@pytest.mark.parametrize(
    "mutate",
    [
        _set("random", b"\x42" * 32),
        _set("cipher_suites", [0x1302, 0x1301, 0x1303]),
        _replace(E.signature_algorithms, vec16(b"\x08\x07")),  # ed25519 only: a different list
        _replace(E.server_name, None),  # removed
        _replace(E.application_layer_protocol_negotiation, vec16(vec8(b"h2"))),  # added
        _replace(E.early_data, b""),  # early data is not permitted after a HelloRetryRequest
        _replace(E.pre_shared_key, PSK_BODY),  # a PSK may be updated or dropped, not newly offered
    ],
    ids=["random", "cipher-suites", "signature-algorithms", "sni-removed", "alpn-added", "early-data", "psk-added"],
)
def test_second_client_hello_must_not_change(recorded, mutate):
    # RFC 8446 4.1.2: "the client MUST send the same ClientHello without modification,
    # except as follows" (key_share, early_data removed, cookie, pre_shared_key, padding).
    server, hello = _retry_pair(recorded)
    mutate(hello)
    if E.pre_shared_key in dict(hello.extensions):  # keep it last (4.2.11) to reach the check
        hello.extensions.sort(key=lambda item: item[0] == E.pre_shared_key)
    expect_alert(server, _second_hello(hello), A.illegal_parameter)


def test_second_client_hello_cookie_only_if_sent(recorded):
    # RFC 8446 4.1.2: a cookie is included "if one was provided in the HelloRetryRequest"
    server, hello = _retry_pair(recorded, hrr_cookie=False)
    assert E.cookie not in dict(hello.extensions)
    hello.extensions.insert(0, (E.cookie, vec16(b"made up")))
    expect_alert(server, _second_hello(hello), A.illegal_parameter)


# -- 4.2.10: a server that rejects early data skips it ----------------------------------

EARLY_DATA_LIMIT = 2**14  # what the engine skips at most (OpenSSL's default max_early_data)


def early_record(length: int, fill: int = 0xEE) -> bytes:
    """A protected record under keys the server does not have (0-RTT from a PSK it never issued)."""
    return b"\x17\x03\x03" + length.to_bytes(2, "big") + bytes([fill]) * length


def _early_data_hello(recorded: Recorded, *, shares: bool = True) -> ClientHello:
    hello = ClientHello.decode(recorded.client_hello[9:])
    if not shares:
        hello.extensions = [(t, vec16(b"") if t == E.key_share else b) for t, b in hello.extensions]
    hello.extensions += [(E.early_data, b""), (E.pre_shared_key, PSK_BODY)]
    return hello


def test_rejected_early_data_is_skipped_in_a_1rtt_handshake(recorded):
    # RFC 8446 4.2.10: a server ignoring early_data "skips past early data by attempting to
    # deprotect received records using the handshake traffic key, discarding records which
    # fail deprotection"; the first record that deprotects starts the client's flight.
    config = ClientConfig(provider=deterministic_provider("cryptography", CLIENT_KEY, b"\xc1"), cafile=recorded.pki.ca_file)
    hello = _early_data_hello(recorded).encode()  # sent as is; the key share is the fixed key's
    client = ClientConnection(config, server_name="localhost", _client_hello_override=hello)
    server = recorded.server()
    zero_rtt = early_record(200) + early_record(17) + record(ContentType.change_cipher_spec, b"\x01") + early_record(1000)
    server.receive_data(client.data_to_send() + zero_rtt)
    flight = server.data_to_send()
    assert E.early_data not in dict(server_hello_of(flight).extensions)
    client.receive_data(flight)
    assert client.handshake_complete
    client_flight = client.data_to_send()
    server.receive_data(early_record(40) + client_flight[:7])  # 0-RTT still arriving, then the flight
    server.receive_data(client_flight[7:])
    assert server.handshake_complete
    client.send(b"after")
    assert server.receive_data(client.data_to_send())[0].data == b"after"


def test_skipping_stops_after_the_first_good_record_and_at_the_limit(recorded):
    secrets: dict[str, bytes] = {}
    server = recorded.server(keylog_callback=lambda label, random, secret: secrets.__setitem__(label, secret))
    server.receive_data(record(ContentType.handshake, _early_data_hello(recorded).encode()) + early_record(100))
    good = encrypt_handshake(b"\x14\x00", recorded.suite, secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"])
    server.receive_data(good)  # a fragment of the client's Finished: its flight has started
    expect_alert(server, early_record(100), A.bad_record_mac)
    # Too much early data: once over the limit, a record that fails is bad_record_mac.
    server = recorded.server()
    server.receive_data(record(ContentType.handshake, _early_data_hello(recorded).encode()))
    for _ in range(EARLY_DATA_LIMIT // 4096):
        server.receive_data(early_record(4096 + 17))
    expect_alert(server, early_record(4096 + 17), A.bad_record_mac)


def test_no_skipping_without_early_data_offer(recorded):
    server = recorded.server_after_client_hello()
    expect_alert(server, early_record(200), A.bad_record_mac)


def test_rejected_early_data_is_skipped_after_hello_retry_request(recorded):
    # RFC 8446 4.2.10: after a HelloRetryRequest the server ignores early data by "skipping all
    # records with an external content type of application_data", up to its limit.
    server = recorded.server()
    first = _early_data_hello(recorded, shares=False)
    server.receive_data(record(ContentType.handshake, first.encode(), b"\x03\x01") + early_record(300))
    retry = server_hello_of(server.data_to_send())
    assert retry.is_hello_retry_request
    server.receive_data(early_record(500))
    second = ClientHello.decode(recorded.client_hello[9:])
    second.extensions = [(t, b) for t, b in second.extensions] + [(E.pre_shared_key, PSK_BODY)]
    cookie = dict(retry.extensions)[E.cookie]
    second.extensions.insert(0, (E.cookie, cookie))
    server.receive_data(record(ContentType.handshake, second.encode()))
    assert not server_hello_of(server.data_to_send()).is_hello_retry_request
    # over the limit, application data before keys is unexpected_message (4.6.1: SHOULD)
    server = recorded.server()
    server.receive_data(record(ContentType.handshake, first.encode(), b"\x03\x01"))
    for _ in range(EARLY_DATA_LIMIT // 4096):
        server.receive_data(early_record(4096 + 17))
    expect_alert(server, early_record(4096 + 17), A.unexpected_message)


def _key_share_groups_sent(client: ClientConnection) -> tuple[list[int], list[int]]:
    out = client.data_to_send()
    extensions = dict(ClientHello.decode(out[9:]).extensions)
    from tlskit.engine.extensions import decode_key_share_client, decode_u16_list

    return decode_u16_list(extensions[E.supported_groups]), [g for g, _ in decode_key_share_client(extensions[E.key_share])]


def test_client_key_shares_follow_supported_groups_order(tmp_path):
    # RFC 8446 4.2.8: client KeyShareEntry values MUST appear in supported_groups order,
    # whatever order key_share_groups was configured in.
    from engine_support import pki_for

    pki = pki_for(tmp_path)
    config = ClientConfig(cafile=pki.ca_file, groups=["x25519", "secp256r1", "secp384r1"], key_share_groups=["secp384r1", "x25519"])
    groups, shares = _key_share_groups_sent(ClientConnection(config, server_name="localhost"))
    assert groups == [0x001D, 0x0017, 0x0018] and shares == [0x001D, 0x0018]


# -- RFC 6066 section 3 (RFC 8446 9.2): server_name ---------------------------------------


def _client_with_server_name(recorded: Recorded, name: bytes) -> ClientConnection:
    hello = ClientHello.decode(recorded.client_hello[9:])
    body = vec16(b"\x00" + vec16(name))
    hello.extensions = [(t, body if t == E.server_name else b) for t, b in hello.extensions]
    config = ClientConfig(provider=deterministic_provider("cryptography", CLIENT_KEY, b"\xc1"), cafile=recorded.pki.ca_file)
    return ClientConnection(config, server_name="localhost", _client_hello_override=hello.encode())


@pytest.mark.parametrize("name", [b"127.0.0.1", b"::1", b"2001:db8::1"])
def test_server_ignores_ip_literal_server_name(recorded, name):
    # RFC 6066 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName". Such a
    # name is not a host name: the server ignores it (selects no certificate by it and does
    # not acknowledge it) rather than failing clients that send one anyway.
    from engine_support import pump

    client = _client_with_server_name(recorded, name)
    server = recorded.server()
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    assert server.negotiated.server_name is None


def test_client_sends_no_ip_literal_and_no_trailing_dot(tmp_path):
    from engine_support import pki_for

    pki = pki_for(tmp_path)
    config = ClientConfig(cafile=pki.ca_file)
    for name, expected in (("localhost.", b"localhost"), ("127.0.0.1.", None), ("127.0.0.1", None), ("::1", None)):
        hello = ClientHello.decode(ClientConnection(config, server_name=name).data_to_send()[9:])
        sni = dict(hello.extensions).get(E.server_name)
        assert (sni[5:] if sni else None) == expected, name


# -- 5.1: messages that may precede a key change end their record ------------------------


def test_client_hello_before_retry_must_end_its_record(recorded):
    # RFC 8446 5.1: "implementations MUST enforce that [ClientHello, EndOfEarlyData,
    # ServerHello, Finished, KeyUpdate] be aligned with a record boundary", also a first
    # ClientHello answered by a HelloRetryRequest (no key change follows it here).
    first = _early_data_hello(recorded, shares=False)
    first.extensions = first.extensions[:-2]
    message = first.encode()
    expect_alert(recorded.server(), record(ContentType.handshake, message + message[:4], b"\x03\x01"), A.unexpected_message)


def test_hello_retry_request_must_end_its_record(recorded):
    from tlskit.engine.messages import HRR_RANDOM

    client = recorded.client(key_share_groups=[])
    client.data_to_send()
    retry = ServerHello(HRR_RANDOM, b"", 0x1301, [(E.supported_versions, b"\x03\x04"), (E.key_share, b"\x00\x1d")]).encode()
    expect_alert(client, record(ContentType.handshake, retry + b"\x02\x00"), A.unexpected_message)


# -- 4.2.3 / 4.4.2.2: certificate chain signatures ----------------------------------------


@pytest.mark.parametrize(
    "leaf,signature_algorithms,cert_schemes,trusted",
    [
        ("ed25519", None, (0x0807,), "ed"),
        ("ed25519", None, (0x0403,), "ec"),
        ("ecdsa-p256", (0x0403,), None, "ec"),  # no signature_algorithms_cert: signature_algorithms applies
    ],
    ids=["cert-ed25519", "cert-ecdsa", "signature-algorithms"],
)
def test_server_prefers_a_chain_signed_with_advertised_algorithms(tmp_path, leaf, signature_algorithms, cert_schemes, trusted):
    # RFC 8446 4.4.2.2: "All certificates provided by the server MUST be signed by a signature
    # algorithm advertised by the client if it is able to provide such a chain", the algorithms
    # of signature_algorithms_cert when sent (4.2.3), else of signature_algorithms.
    from engine_support import pki_for, pump

    from tlskit import ServerConfig, ServerConnection

    def codes(values):
        return vec16(b"".join(c.to_bytes(2, "big") for c in values))

    pkis = {
        "ec": pki_for(tmp_path / "ec", leaf, ca_key_type="ecdsa-p256", name="ec"),
        "ed": pki_for(tmp_path / "ed", leaf, ca_key_type="ed25519", name="ed"),
    }
    config = ClientConfig(provider=deterministic_provider("cryptography", CLIENT_KEY, b"\xc1"), cafile=pkis[trusted].ca_file)
    hello = ClientHello.decode(ClientConnection(config, server_name="localhost").data_to_send()[9:])
    if signature_algorithms is not None:
        hello.extensions = [(t, codes(signature_algorithms) if t == E.signature_algorithms else b) for t, b in hello.extensions]
    if cert_schemes is not None:
        hello.extensions.insert(0, (E.signature_algorithms_cert, codes(cert_schemes)))
    client = ClientConnection(config, server_name="localhost", _client_hello_override=hello.encode())
    other = "ed" if trusted == "ec" else "ec"
    order = [pkis[other], pkis[trusted]]  # the untrusted chain first: it must be passed over
    server = ServerConnection(ServerConfig(certificates=[(p.chain_file, p.key_file) for p in order]))
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete


# -- 4.2.1 / D.5: legacy_version fields -------------------------------------------------


@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0304])
def test_server_ignores_client_legacy_version_when_supported_versions_present(recorded, version):
    # RFC 8446 4.2.1: with supported_versions present, "servers MUST NOT use the
    # ClientHello.legacy_version value for version negotiation" (only <= 0x0300 aborts, D.5).
    server = recorded.server()
    server.receive_data(replayed_client_hello(recorded, _set("legacy_version", version)))
    assert not server_hello_of(server.data_to_send()).is_hello_retry_request


@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0304])
def test_client_ignores_server_legacy_version_when_supported_versions_present(recorded, version):
    # RFC 8446 4.2.1: "If this extension is present, clients MUST ignore the
    # ServerHello.legacy_version value" (only <= 0x0300 aborts, D.5).
    hello = ServerHello.decode(recorded.server_hello[9:])
    hello.legacy_version = version
    client = recorded.client()
    client.data_to_send()
    client.receive_data(record(ContentType.handshake, hello.encode()))
    assert not client.closed


# -- verified rules without a test before this review -------------------------------------


def _client_hs(recorded: Recorded, plaintext: bytes, content_type: int = ContentType.handshake) -> bytes:
    return encrypt_handshake(plaintext, recorded.suite, recorded.secrets["CLIENT_HANDSHAKE_TRAFFIC_SECRET"], content_type)


def test_protected_change_cipher_spec_is_unexpected(recorded):
    # RFC 8446 5: a protected change_cipher_spec record MUST be unexpected_message
    server = recorded.server_after_client_hello()
    expect_alert(server, _client_hs(recorded, b"\x01", ContentType.change_cipher_spec), A.unexpected_message)


def test_change_cipher_spec_inside_a_fragmented_message_is_unexpected(recorded):
    # RFC 8446 5.1: no other record between the fragments of a handshake message
    messages = recorded.client_hello[5:]
    server = recorded.server()
    server.receive_data(record(ContentType.handshake, messages[:20], b"\x03\x01"))
    expect_alert(server, record(ContentType.change_cipher_spec, b"\x01"), A.unexpected_message)


def test_end_of_early_data_is_unexpected(recorded):
    # RFC 8446 4.5: no early data was accepted, so EndOfEarlyData has no place
    server = recorded.server_after_client_hello()
    expect_alert(server, _client_hs(recorded, b"\x05\x00\x00\x00"), A.unexpected_message)


def test_key_update_before_finished_is_unexpected(recorded):
    # RFC 8446 4.6.3: KeyUpdate before the peer's Finished -> unexpected_message
    server = recorded.server_after_client_hello()
    expect_alert(server, _client_hs(recorded, b"\x18\x00\x00\x01\x01"), A.unexpected_message)


def test_update_requested_is_answered_once_with_update_not_requested(recorded):
    # RFC 8446 4.6.3: answer update_requested with a KeyUpdate(update_not_requested)
    # before the next application data, under the old key, then switch

    from tlskit.events import KeyUpdated

    client, server = connected_pair(recorded)
    client.update_keys(request_peer=True)
    assert server.receive_data(client.data_to_send()) == [KeyUpdated()]
    server.send(b"data")
    assert [type(e).__name__ for e in client.receive_data(server.data_to_send())] == ["KeyUpdated", "ApplicationData"]
    assert client.data_to_send() == b""  # update_not_requested asks for nothing back


def test_hello_retry_request_group_outside_supported_groups(recorded):
    # RFC 8446 4.2.8: the HRR group must be one of the client's supported_groups
    from tlskit.engine.messages import HRR_RANDOM

    client = recorded.client()
    client.data_to_send()
    retry = ServerHello(HRR_RANDOM, b"", 0x1301, [(E.supported_versions, b"\x03\x04"), (E.key_share, b"\x00\x18")])
    expect_alert(client, record(ContentType.handshake, retry.encode()), A.illegal_parameter)


def test_server_hello_after_retry_must_keep_suite_and_group(recorded):
    # RFC 8446 4.1.4: ServerHello cipher suite == HelloRetryRequest's; 4.2.8: its key share
    # group == the one the HelloRetryRequest selected
    from tlskit.engine.messages import HRR_RANDOM

    real = ServerHello.decode(recorded.server_hello[9:])
    for suite, expected in ((0x1302, A.illegal_parameter), (real.cipher_suite, None)):
        client = recorded.client(key_share_groups=[])
        client.data_to_send()
        retry = ServerHello(HRR_RANDOM, b"", 0x1301, [(E.supported_versions, b"\x03\x04"), (E.key_share, b"\x00\x1d")])
        client.receive_data(record(ContentType.handshake, retry.encode()))
        hello = ServerHello(real.random, b"", suite, real.extensions)
        if expected is None:
            client.receive_data(record(ContentType.handshake, hello.encode()))
            assert not client.closed
        else:
            expect_alert(client, record(ContentType.handshake, hello.encode()), expected)


def test_unsolicited_certificate_entry_extension(recorded):
    # RFC 8446 4.4.2: server CertificateEntry extensions must answer ClientHello ones

    from tlskit.engine.messages import Certificate

    messages = split_messages(recorded.server_flight_plaintext())
    certificate = Certificate.decode(messages[1][4:])
    certificate.entries[0].extensions.append((E.status_request, b"\x01\x00\x00\x01\x00"))
    messages[1] = certificate.encode()
    client_with_flight(recorded, messages, A.unsupported_extension)


# -- 6: alert levels ----------------------------------------------------------------------


def test_alert_level_is_ignored(recorded):
    # RFC 8446 6: "the severity is implicit in the type of alert being sent, and the 'level'
    # field can safely be ignored"; error alerts are errors "regardless of the AlertLevel".
    from tlskit.errors import AlertReceivedError
    from tlskit.events import ConnectionClosed

    client = recorded.client()
    client.data_to_send()
    with pytest.raises(AlertReceivedError) as caught:
        client.receive_data(record(ContentType.alert, b"\x07\x28"))
    assert caught.value.alert == A.handshake_failure
    assert client.closed and client.data_to_send() == b""  # nothing is sent back to an error alert
    client = recorded.client()
    client.data_to_send()
    # a closure alert whatever its level: during the handshake it ends the handshake at once
    with pytest.raises(AlertReceivedError) as caught:
        client.receive_data(record(ContentType.alert, b"\x00\x00"))
    assert caught.value.alert == A.close_notify and client.data_to_send() == b""
    client, server = connected_pair(recorded)
    server._record.write(ContentType.alert, b"\x00\x00")
    assert client.receive_data(server.data_to_send()) == [ConnectionClosed()]


def test_several_update_requests_in_one_batch_get_one_answer(recorded):
    # RFC 8446 4.6.3: the mechanism "causes an implementation which receives multiple
    # KeyUpdates while it is silent to respond with a single update"

    from tlskit.events import KeyUpdated

    client, server = connected_pair(recorded)
    for _ in range(3):
        client.update_keys(request_peer=True)
    assert server.receive_data(client.data_to_send()) == [KeyUpdated()] * 3
    answer = server.data_to_send()
    assert len(answer) == 5 + 1 + 4 + 1 + 16  # one protected KeyUpdate record
    assert client.receive_data(answer) == [KeyUpdated()]
    server.send(b"x")
    assert client.receive_data(server.data_to_send())[0].data == b"x"
