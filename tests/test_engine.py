"""tlskit client <-> tlskit server in memory: every provider, group, suite and scheme, and the features."""

from __future__ import annotations

import pytest
from engine_support import KEY_TYPE_SCHEMES, event_types, leaf_der, pki_for, pump

from tlskit import (
    ApplicationData,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    HandshakeComplete,
    KeyUpdated,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.errors import AlertDescription, AlertReceivedError, UnsupportedAlgorithm
from tlskit.providers import get_provider

PROVIDERS = ["cryptography", "pycryptodome", "pynacl"]
FULL_PROVIDERS = ["cryptography", "pycryptodome"]


def connect(pki, client_kwargs=None, server_kwargs=None, server_name="localhost"):
    client_kwargs = dict(client_kwargs or {})
    server_kwargs = dict(server_kwargs or {})
    client_kwargs.setdefault("cafile", pki.ca_file)
    server_kwargs.setdefault("certfile", pki.chain_file)
    server_kwargs.setdefault("keyfile", pki.key_file)
    client = ClientConnection(ClientConfig(**client_kwargs), server_name=server_name)
    server = ServerConnection(ServerConfig(**server_kwargs))
    return client, server


@pytest.mark.parametrize("client_provider", PROVIDERS)
@pytest.mark.parametrize("server_provider", PROVIDERS)
def test_handshake_and_data_every_provider_pair(tmp_path, client_provider, server_provider):
    pki = pki_for(tmp_path, "ed25519")
    client, server = connect(pki, {"provider": client_provider}, {"provider": server_provider})
    client_events, server_events = pump(client, server)
    # two session tickets follow the handshake by default (RFC 8446 4.6.1)
    assert event_types(client_events) == ["HandshakeComplete", "NewSessionTicket", "NewSessionTicket"]
    assert event_types(server_events) == ["HandshakeComplete"]
    client.send(b"Hello, world!")
    server.send("Hello back")
    client_events, server_events = pump(client, server)
    assert server_events == [ApplicationData(b"Hello, world!")]
    assert client_events == [ApplicationData(b"Hello back")]
    assert server.recv() == b"Hello, world!" and server.recv() == b""
    assert client.recv() == b"Hello back"
    negotiated = client.negotiated
    assert negotiated.version == "TLSv1.3"
    assert negotiated.signature_scheme == "ed25519"
    assert negotiated.server_name == "localhost"
    assert negotiated.peer_certificates[0] == leaf_der(pki)
    assert server.negotiated.cipher_suite == negotiated.cipher_suite
    assert server.negotiated.group == negotiated.group


@pytest.mark.parametrize("group", list(get_provider("cryptography").groups))
@pytest.mark.parametrize("client_provider,server_provider", [("cryptography", "pycryptodome"), ("pycryptodome", "cryptography")])
def test_every_group_across_providers(tmp_path, group, client_provider, server_provider):
    pki = pki_for(tmp_path)
    client, server = connect(pki, {"provider": client_provider, "groups": [group]}, {"provider": server_provider})
    pump(client, server)
    assert client.negotiated.group == group == server.negotiated.group
    client.send(b"x")
    assert pump(client, server)[1] == [ApplicationData(b"x")]


@pytest.mark.parametrize("suite", list(get_provider("cryptography").cipher_suites))
@pytest.mark.parametrize("client_provider,server_provider", [("cryptography", "pycryptodome"), ("pycryptodome", "cryptography")])
def test_every_cipher_suite_across_providers(tmp_path, suite, client_provider, server_provider):
    pki = pki_for(tmp_path)
    client, server = connect(pki, {"provider": client_provider, "cipher_suites": [suite]}, {"provider": server_provider})
    pump(client, server)
    assert client.negotiated.cipher_suite == suite == server.negotiated.cipher_suite
    server.send(b"y" * 40000)
    assert client.receive_data(server.data_to_send())
    assert client.recv() == b"y" * 40000


@pytest.mark.parametrize("key_type", list(KEY_TYPE_SCHEMES))
@pytest.mark.parametrize("client_provider,server_provider", [("cryptography", "pycryptodome"), ("pycryptodome", "cryptography")])
def test_every_certificate_key_type(tmp_path, key_type, client_provider, server_provider):
    pki = pki_for(tmp_path, key_type)
    client, server = connect(pki, {"provider": client_provider}, {"provider": server_provider})
    pump(client, server)
    assert client.negotiated.signature_scheme == KEY_TYPE_SCHEMES[key_type]


@pytest.mark.parametrize("scheme", ["rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512"])
def test_rsa_pss_hashes(tmp_path, scheme):
    pki = pki_for(tmp_path, "rsa-2048")
    client, server = connect(pki, {"signature_schemes": [scheme, "ecdsa_secp256r1_sha256"]}, {"provider": "pycryptodome"})
    pump(client, server)
    assert client.negotiated.signature_scheme == scheme


def test_hybrid_post_quantum_group_across_all_pairs(tmp_path):
    pki = pki_for(tmp_path)
    for client_provider in FULL_PROVIDERS:
        for server_provider in FULL_PROVIDERS:
            client, server = connect(
                pki, {"provider": client_provider, "groups": ["X25519MLKEM768"]}, {"provider": server_provider}
            )
            pump(client, server)
            assert client.negotiated.group == "X25519MLKEM768"


def test_alpn_server_preference_and_mismatch(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki, {"alpn_protocols": ["http/1.1", "h2"]}, {"alpn_protocols": ["h2", "http/1.1"]})
    pump(client, server)
    assert client.negotiated.alpn == "h2" == server.negotiated.alpn
    client, server = connect(pki, {"alpn_protocols": ["spdy/1"]}, {"alpn_protocols": ["h2"]})
    with pytest.raises(TLSError) as caught:
        server.receive_data(client.data_to_send())
    assert caught.value.alert == AlertDescription.no_application_protocol
    with pytest.raises(AlertReceivedError) as received:
        client.receive_data(server.data_to_send())
    assert received.value.alert == AlertDescription.no_application_protocol
    # A client without ALPN gets no protocol from a server that has some.
    client, server = connect(pki, {}, {"alpn_protocols": ["h2"]})
    pump(client, server)
    assert client.negotiated.alpn is None


def test_sni_selects_certificate(tmp_path):
    pki_a = pki_for(tmp_path / "a", sans=("a.example",), subject="a.example", name="a")
    pki_b = pki_for(tmp_path / "b", "ed25519", sans=("b.example",), subject="b.example", name="b")
    server_config = ServerConfig(certificates=[(pki_a.chain_file, pki_a.key_file), (pki_b.chain_file, pki_b.key_file)])
    for host, pki in (("a.example", pki_a), ("b.example", pki_b)):
        client = ClientConnection(ClientConfig(cafile=pki.ca_file), server_name=host)
        server = ServerConnection(server_config)
        pump(client, server)
        assert server.negotiated.server_name == host
        assert client.negotiated.peer_certificates[0] == leaf_der(pki)
    # An unknown name gets the default (first) certificate, which the client then rejects.
    client = ClientConnection(ClientConfig(cafile=pki_a.ca_file), server_name="c.example")
    server = ServerConnection(server_config)
    server.receive_data(client.data_to_send())
    with pytest.raises(TLSError) as caught:
        client.receive_data(server.data_to_send())
    assert caught.value.alert == AlertDescription.bad_certificate


def test_sni_selection_matches_names_as_pki_verifies_them(tmp_path):
    """The server picks a certificate by SNI with tlskit.pki's RFC 6125 rules, so it never
    prefers one its clients would refuse: a wildcard matches exactly one left-most label and
    needs two labels after it (``*.example`` covers nothing); case does not matter."""
    default = pki_for(tmp_path / "d", sans=("default.example",), subject="default.example", name="d")
    tld = pki_for(tmp_path / "t", sans=("*.example",), subject="tld", name="t")
    wild = pki_for(tmp_path / "w", sans=("*.w.example",), subject="w", name="w")
    server_config = ServerConfig(
        certificates=[(p.chain_file, p.key_file) for p in (default, tld, wild)]
    )
    any_chain = {"cafile": None, "verifier": lambda chain, server_name: None}
    for host, chosen in (
        ("x.example", default),
        ("X.W.Example", wild),
        ("a.b.w.example", default),
        ("w.example", default),
    ):
        client = ClientConnection(ClientConfig(**any_chain), server_name=host)
        server = ServerConnection(server_config)
        pump(client, server)
        assert client.negotiated.peer_certificates[0] == leaf_der(chosen), host


def test_wrong_name_and_unknown_ca_are_rejected_with_alerts(tmp_path):
    pki = pki_for(tmp_path)
    other = pki_for(tmp_path / "other", name="other")
    for client_kwargs, name, alert in (
        ({"cafile": pki.ca_file}, "wrong.example", AlertDescription.bad_certificate),
        ({"cafile": other.ca_file}, "localhost", AlertDescription.unknown_ca),
    ):
        client, server = connect(pki, client_kwargs, server_name=name)
        server.receive_data(client.data_to_send())
        with pytest.raises(TLSError) as caught:
            client.receive_data(server.data_to_send())
        assert caught.value.alert == alert
        assert client.closed and not client.handshake_complete
        with pytest.raises(AlertReceivedError) as received:
            server.receive_data(client.data_to_send())
        assert received.value.alert == alert


@pytest.mark.parametrize("client_provider,server_provider", [("cryptography", "pycryptodome"), ("pycryptodome", "cryptography"), ("pynacl", "pynacl")])
def test_mutual_tls_required(tmp_path, client_provider, server_provider):
    key_type = "ed25519" if "pynacl" in (client_provider, server_provider) else "ecdsa-p384"
    pki = pki_for(tmp_path, key_type)
    client, server = connect(
        pki,
        {"provider": client_provider, "certfile": pki.chain_file, "keyfile": pki.key_file},
        {"provider": server_provider, "client_cafile": pki.ca_file, "require_client_auth": True},
    )
    pump(client, server)
    assert server.negotiated.peer_certificates[0] == client.negotiated.peer_certificates[0]
    assert len(server.negotiated.peer_certificates) == 2


def test_mutual_tls_missing_or_untrusted_client_certificate(tmp_path):
    pki = pki_for(tmp_path)
    other = pki_for(tmp_path / "o", name="other")
    # required, none sent -> certificate_required
    client, server = connect(pki, {}, {"client_cafile": pki.ca_file, "require_client_auth": True})
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    with pytest.raises(TLSError) as caught:
        server.receive_data(client.data_to_send())
    assert caught.value.alert == AlertDescription.certificate_required
    # optional, none sent -> fine, no peer certificates
    client, server = connect(pki, {}, {"client_cafile": pki.ca_file})
    pump(client, server)
    assert server.negotiated.peer_certificates == ()
    # client certificate from an unknown CA -> unknown_ca
    client, server = connect(
        pki, {"certfile": other.chain_file, "keyfile": other.key_file}, {"client_cafile": pki.ca_file}
    )
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    with pytest.raises(TLSError) as caught:
        server.receive_data(client.data_to_send())
    assert caught.value.alert == AlertDescription.unknown_ca


def test_hello_retry_request_with_cookie(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(
        pki,
        {"groups": ["x25519", "secp384r1"], "key_share_groups": ["x25519"], "compatibility_mode": True},
        {"key_share_groups": ["secp384r1"], "provider": "pycryptodome"},
    )
    first = client.data_to_send()
    server.receive_data(first)
    hrr = server.data_to_send()
    assert hrr[0] == 22 and b"\x00\x2c" in hrr  # a cookie extension in the HelloRetryRequest
    assert b"\x14\x03\x03\x00\x01\x01" in hrr  # compatibility-mode CCS after it
    client.receive_data(hrr)
    second = client.data_to_send()
    assert second.startswith(b"\x14\x03\x03\x00\x01\x01")  # client CCS before its second flight
    server.receive_data(second)
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    assert client.handshake_complete and server.handshake_complete
    assert client.negotiated.group == "secp384r1"


def test_hello_retry_request_when_client_sends_no_share(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki, {"key_share_groups": []}, {"hrr_cookie": False})
    pump(client, server)
    assert client.negotiated.group == "X25519MLKEM768"  # the server's first preference (post-quantum by default)


def test_key_update_both_directions(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki)
    pump(client, server)
    for initiator, responder in ((client, server), (server, client)):
        initiator.update_keys(request_peer=True)
        initiator.send(b"after update")
        events = responder.receive_data(initiator.data_to_send())
        assert events == [KeyUpdated(), ApplicationData(b"after update")]
        responder.send(b"reply")
        assert initiator.receive_data(responder.data_to_send()) == [KeyUpdated(), ApplicationData(b"reply")]
    client.update_keys(request_peer=False)
    client.send(b"z")
    assert server.receive_data(client.data_to_send()) == [KeyUpdated(), ApplicationData(b"z")]
    assert server.data_to_send() == b""


def test_close_notify_both_ways(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki)
    pump(client, server)
    client.send(b"last words")
    client.close()
    assert client.closed
    with pytest.raises(TLSError):
        client.send(b"too late")
    events = server.receive_data(client.data_to_send())
    assert events == [ApplicationData(b"last words"), ConnectionClosed()]
    assert server.closed
    server.send(b"half-closed reply")  # TLS 1.3 allows a half-closed connection
    server.close()
    assert client.receive_data(server.data_to_send()) == [ApplicationData(b"half-closed reply"), ConnectionClosed()]


def test_user_canceled_during_handshake(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki)
    server.receive_data(client.data_to_send())
    client.receive_data(b"")
    client.cancel()
    # user_canceled, then close_notify: the handshake can no longer complete, so it ends at
    # once with an error (no alert goes back); see test_engine_limits.py
    with pytest.raises(AlertReceivedError) as caught:
        server.receive_data(client.data_to_send())
    assert caught.value.alert == AlertDescription.close_notify
    assert server.closed and not server.handshake_complete


def test_exporters_and_keylog(tmp_path):
    pki = pki_for(tmp_path)
    logged = []
    keylog = tmp_path / "keys.log"
    client, server = connect(
        pki,
        {"keylog_file": keylog, "keylog_callback": lambda label, random, secret: logged.append((label, random, secret))},
    )
    pump(client, server)
    assert client.export_keying_material("EXPERIMENTAL test", b"ctx", 42) == server.export_keying_material(
        b"EXPERIMENTAL test", b"ctx", 42
    )
    assert client.export_keying_material("a", b"", 32) != client.export_keying_material("b", b"", 32)
    labels = [entry[0] for entry in logged]
    assert labels == [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ]
    lines = keylog.read_text().splitlines()
    assert len(lines) == 5
    label, random_hex, secret_hex = lines[0].split()
    assert label == "CLIENT_HANDSHAKE_TRAFFIC_SECRET" and len(random_hex) == 64 and len(secret_hex) == 64


def _record_lengths(data: bytes) -> list[tuple[int, int]]:
    records, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        records.append((data[pos], length))
        pos += 5 + length
    return records


def test_record_size_limit_and_padding(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki, {"record_size_limit": 1000, "pad_to": 256}, {"record_size_limit": 2000})
    pump(client, server)
    server.send(b"s" * 5000)
    wire = server.data_to_send()
    lengths = [length for _, length in _record_lengths(wire)]
    assert max(lengths) <= 1000 + 16  # inner plaintext limit 1000 plus the AEAD tag
    client.receive_data(wire)
    assert client.recv() == b"s" * 5000
    client.send(b"c" * 5000)
    wire = client.data_to_send()
    lengths = [length for _, length in _record_lengths(wire)]
    assert all((length - 16) % 256 == 0 or length - 16 == 2000 for length in lengths), lengths
    assert max(lengths) <= 2000 + 16
    server.receive_data(wire)
    assert server.recv() == b"c" * 5000


def test_ocsp_stapling(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki, {"request_ocsp": True}, {"ocsp_response": b"\x30\x03\x0a\x01\x00"})
    pump(client, server)
    assert client.negotiated.ocsp_response == b"\x30\x03\x0a\x01\x00"
    client, server = connect(pki, {}, {"ocsp_response": b"\x30\x03\x0a\x01\x00"})
    pump(client, server)
    assert client.negotiated.ocsp_response is None


def test_send_before_handshake_is_queued_and_recv_modes(tmp_path):
    pki = pki_for(tmp_path)
    client = ClientConnection(ClientConfig(cafile=pki.ca_file), server_name="localhost", buffer_received=False)
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    client.send(b"early")
    server.send(b"also early")
    client_events, server_events = pump(client, server)
    assert server_events == [HandshakeComplete(), ApplicationData(b"early")]
    assert event_types(client_events) == ["HandshakeComplete", "NewSessionTicket", "NewSessionTicket", "ApplicationData"]
    assert client_events[-1] == ApplicationData(b"also early")
    assert client.recv() == b""  # buffer_received=False: events only
    assert server.recv() == b"early"


def test_large_transfer_each_way(tmp_path):
    pki = pki_for(tmp_path)
    client, server = connect(pki)
    pump(client, server)
    payload = bytes(range(256)) * 4096 * 16  # 16 MiB
    client.send(payload)
    wire = client.data_to_send()
    server.receive_data(wire)
    assert server.recv() == payload
    server.send(payload)
    wire = server.data_to_send()
    # deliver in odd-sized chunks so records straddle receive_data calls
    step = 1_000_003
    received = []
    for start in range(0, len(wire), step):
        client.receive_data(wire[start : start + step])
        received.append(client.recv())
    assert b"".join(received) == payload


def test_config_rejects_unknown_or_unsupported_algorithms(tmp_path):
    with pytest.raises(UnsupportedAlgorithm):
        ClientConfig(groups=["x25519", "brainpoolP256r1"], insecure=True)
    with pytest.raises(UnsupportedAlgorithm):
        ClientConfig(provider="pynacl", cipher_suites=["TLS_AES_128_GCM_SHA256"], insecure=True)
    with pytest.raises(UnsupportedAlgorithm):
        ClientConfig(provider="pynacl", signature_schemes=["ecdsa_secp256r1_sha256"], insecure=True)
    with pytest.raises(TLSError):
        ServerConfig(provider="cryptography")  # no certificate


def test_custom_verifier_hook(tmp_path):
    pki = pki_for(tmp_path)
    seen = []

    def verifier(chain, server_name):
        seen.append((len(chain), server_name))
        if server_name != "localhost":
            raise TLSError("not the host I wanted", AlertDescription.access_denied)

    client, server = connect(pki, {"verifier": verifier, "cafile": None})
    pump(client, server)
    assert seen == [(2, "localhost")]
    client, server = connect(pki, {"verifier": verifier, "cafile": None}, server_name="other")
    server.receive_data(client.data_to_send())
    with pytest.raises(TLSError) as caught:
        client.receive_data(server.data_to_send())
    assert caught.value.alert == AlertDescription.access_denied


def test_automatic_key_update_before_aead_limits(tmp_path, monkeypatch):
    from tlskit.engine import connection as connection_module

    monkeypatch.setattr(connection_module, "KEY_UPDATE_AFTER_RECORDS", 3)
    pki = pki_for(tmp_path)
    client, server = connect(pki)
    pump(client, server)
    events = []
    for index in range(5):
        client.send(b"%d" % index)
        events += server.receive_data(client.data_to_send())
    assert event_types(events).count("KeyUpdated") >= 1
    assert b"".join(e.data for e in events if isinstance(e, ApplicationData)) == b"01234"


def test_encrypted_client_key_and_password_not_in_repr(tmp_path):
    from cryptography.hazmat.primitives import serialization

    pki = pki_for(tmp_path)
    encrypted = pki.leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret-pw"),
    )
    key_file = tmp_path / "encrypted-key.pem"
    key_file.write_bytes(encrypted)
    config = ClientConfig(cafile=pki.ca_file, certfile=pki.chain_file, keyfile=key_file, key_password="s3cret-pw")
    assert "s3cret-pw" not in repr(config)
    client = ClientConnection(config, server_name="localhost")
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=pki.ca_file, require_client_auth=True))
    pump(client, server)
    assert server.negotiated.peer_certificates[0] == leaf_der(pki)


@pytest.mark.filterwarnings("ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning")
def test_trust_sources_insecure_and_default_roots(tmp_path):
    pki = pki_for(tmp_path)
    # cadata instead of a file
    client, server = connect(pki, {"cafile": None, "cadata": pki.ca_file.read_bytes()})
    pump(client, server)
    assert client.handshake_complete
    # no trust anchors given: the system roots are used, which do not know the test CA
    config = ClientConfig()
    assert config.use_system_roots
    client, server = connect(pki, {"cafile": None})
    server.receive_data(client.data_to_send())
    with pytest.raises(TLSError) as caught:
        client.receive_data(server.data_to_send())
    assert caught.value.alert == AlertDescription.unknown_ca
    # the explicit opt-out skips chain validation but still checks the server's signature
    client, server = connect(pki, {"cafile": None, "insecure": True}, server_name="not-the-name")
    pump(client, server)
    assert client.handshake_complete and not ClientConfig(insecure=True).use_system_roots


def test_client_needs_a_server_name_to_verify(tmp_path):
    pki = pki_for(tmp_path)
    with pytest.raises(TLSError, match="server_name"):
        ClientConnection(ClientConfig(cafile=pki.ca_file))
    # with a custom verifier or the explicit opt-out the name is optional
    ClientConnection(ClientConfig(insecure=True))
    ClientConnection(ClientConfig(verifier=lambda chain, name: None))


def test_sni_is_sent_as_a_label_without_trailing_dot(tmp_path):
    pki = pki_for(tmp_path)
    for name, sent in (("bücher.example", "xn--bcher-kva.example"), ("localhost.", "localhost")):
        client, server = connect(pki, {"cafile": None, "verifier": lambda chain, server_name: None}, server_name=name)
        pump(client, server)
        assert server.negotiated.server_name == sent
    # an IP address is never sent as SNI (RFC 6066 section 3)
    client, server = connect(pki, server_name="127.0.0.1")
    pump(client, server)
    assert server.negotiated.server_name is None and client.negotiated.server_name == "127.0.0.1"


def test_sequence_numbers_never_wrap(tmp_path):
    from tlskit.engine.keyschedule import TrafficKeys
    from tlskit.engine.record import ContentType, RecordLayer

    suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
    layer = RecordLayer()
    layer.set_write_keys(TrafficKeys(suite, bytes(32)))
    layer._write.seq = 2**64 - 2
    layer.write(ContentType.application_data, b"last record under this key")
    with pytest.raises(TLSError):
        layer.write(ContentType.application_data, b"one too many")  # RFC 8446 5.3: never wrap
    # a connection never gets there: it rekeys long before
    pki = pki_for(tmp_path)
    client, server = connect(pki)
    pump(client, server)
    client._record._write.seq = server._record._read.seq = 2**64 - 2
    client.send(b"still fine")
    assert server.receive_data(b"") == []
    assert event_types(server.receive_data(client.data_to_send())) == ["KeyUpdated", "ApplicationData"]
