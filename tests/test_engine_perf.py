"""The engine's performance shortcuts keep every check they shortcut.

Each cache or fast path added for speed (issue 7) is tested here against the
behaviour it must preserve: what is cached is a function of its key only, and
everything that depends on time, names or the connection is checked again.
"""

from __future__ import annotations

import datetime

import pytest
from engine_support import pki_for, pump

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.engine import verify as engine_verify
from tlskit.pki import Expired, NameMismatch


def _handshake(client_config, server_config, server_name="localhost"):
    client = ClientConnection(client_config, server_name=server_name)
    server = ServerConnection(server_config)
    pump(client, server)
    return client, server


def test_peer_certificates_are_parsed_once_per_config_but_checked_every_time(tmp_path):
    pki = pki_for(tmp_path)
    now = [datetime.datetime.now(datetime.timezone.utc)]
    client_config = ClientConfig(cafile=str(pki.ca_file), clock=lambda: now[0])
    server_config = ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file))

    client, _ = _handshake(client_config, server_config)
    assert client.handshake_complete
    cache = client_config._peer_cert_cache  # type: ignore[attr-defined]
    assert len(cache) == 2
    cached = dict(cache)

    client, _ = _handshake(client_config, server_config)
    assert client.handshake_complete
    assert all(cache[der] is info for der, info in cached.items())  # reused, not re-parsed

    # validity is checked per connection, against the config's clock
    now[0] = now[0] + datetime.timedelta(days=400)
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    with pytest.raises(Expired):
        pump(client, server)

    # and so is the host name
    now[0] = datetime.datetime.now(datetime.timezone.utc)
    client = ClientConnection(client_config, server_name="other.example")
    server = ServerConnection(server_config)
    with pytest.raises(NameMismatch):
        pump(client, server)


def test_peer_certificate_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_verify, "PEER_CERT_CACHE_SIZE", 3)
    client_config = ClientConfig(cafile=str(pki_for(tmp_path / "a").ca_file))
    servers = [pki_for(tmp_path / str(i)) for i in range(3)]
    for pki in servers:
        server_config = ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file))
        client = ClientConnection(client_config, server_name="localhost")
        server = ServerConnection(server_config)
        try:
            pump(client, server)
        except Exception:  # whether another PKI's chain is trusted does not matter here
            pass
    assert len(client_config._peer_cert_cache) <= 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
def test_resumption_secret_is_derived_on_demand_and_agrees(tmp_path, suite):
    pki = pki_for(tmp_path)
    client, server = _handshake(
        ClientConfig(cafile=str(pki.ca_file), cipher_suites=[suite]),
        ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file), cipher_suites=[suite]),
    )
    secret = client._resumption_master_secret()
    assert secret == server._resumption_master_secret()
    assert len(secret) == (48 if suite.endswith("SHA384") else 32)


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_key_schedule_constants_match_a_fresh_computation(provider, suite):
    from tlskit.engine.keyschedule import KeySchedule, derive_secret
    from tlskit.providers import get_provider

    hash_alg = get_provider(provider).cipher_suites[suite].hash
    zeros = bytes(hash_alg.digest_size)
    early = hash_alg.hkdf_extract(zeros, zeros)
    for _ in range(2):  # computed, then cached
        schedule = KeySchedule(get_provider(provider).cipher_suites[suite])
        assert schedule.early_secret == early
        assert schedule.empty_hash == hash_alg.digest(b"")
        schedule.set_shared_secret(b"\x01" * hash_alg.digest_size)
        salt = derive_secret(hash_alg, early, b"derived", hash_alg.digest(b""))
        assert schedule.handshake_secret == hash_alg.hkdf_extract(salt, b"\x01" * hash_alg.digest_size)


class _ReferenceReader:
    """The straightforward reader the engine's inlined one must match (copying sub-readers)."""

    def __init__(self, data):
        self.data, self.pos = bytes(data), 0

    def pull_bytes(self, n):
        from tlskit.errors import DecodeError

        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("message truncated")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def pull_uint(self, size):
        return int.from_bytes(self.pull_bytes(size), "big")

    def pull_vector(self, size, minimum=0, maximum=None):
        from tlskit.errors import DecodeError

        length = self.pull_uint(size)
        if length < minimum or (maximum is not None and length > maximum):
            raise DecodeError(f"vector length {length} out of range")
        return self.pull_bytes(length)


def test_reader_matches_a_reference_on_random_input():
    import random

    from tlskit.engine.buffer import Reader, pull_u16_list
    from tlskit.errors import DecodeError

    def outcome(call):
        try:
            return call()
        except DecodeError:
            return DecodeError

    def reference_list(slow, minimum):
        body = slow.pull_vector(2, minimum)
        if len(body) % 2:
            raise DecodeError("odd length")
        return [int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2)]

    rng = random.Random(7)
    for _ in range(5000):
        data = bytes(rng.choice((0, 1, 2, 3, rng.randrange(256))) for _ in range(rng.randrange(12)))
        fast, slow = Reader(data), _ReferenceReader(data)
        for _ in range(6):
            op = rng.choice(("u8", "u16", "u24", "vec", "sub", "list", "bytes"))
            size, minimum, maximum, n = rng.choice((1, 2, 3)), rng.choice((0, 1, 2)), rng.choice((None, 3)), rng.randrange(-1, 4)
            if op in ("u8", "u16", "u24"):
                width = {"u8": 1, "u16": 2, "u24": 3}[op]
                expected = outcome(lambda: slow.pull_uint(width))
                got = outcome(getattr(fast, "pull_" + op))
            elif op == "vec":
                expected = outcome(lambda: slow.pull_vector(size, minimum, maximum))
                got = outcome(lambda: fast.pull_vector(size, minimum, maximum))
            elif op == "sub":
                expected = outcome(lambda: slow.pull_vector(size, minimum))
                got = outcome(lambda: fast.pull_reader(size, minimum).pull_rest())
            elif op == "list":
                expected = outcome(lambda: reference_list(slow, minimum))
                got = outcome(lambda: pull_u16_list(fast, 2, minimum))
            else:
                expected = outcome(lambda: slow.pull_bytes(n))
                got = outcome(lambda: fast.pull_bytes(n))
            assert got == expected, (data, op)
            if expected is DecodeError:
                break
            assert fast.remaining == len(data) - slow.pos
            assert fast.eof() == (slow.pos >= len(data))


def _pair(tmp_path, **server_kwargs):
    pki = pki_for(tmp_path)
    return _handshake(
        ClientConfig(cafile=str(pki.ca_file)),
        ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file), **server_kwargs),
    )


@pytest.mark.parametrize("seed", range(4))
def test_record_input_in_arbitrary_pieces_and_buffer_types(tmp_path, seed):
    """Bytes are read in place when nothing is pending and accumulated otherwise:
    any split of the stream, fed as bytes, bytearray or memoryview, gives the same data."""
    import random

    rng = random.Random(seed)
    client, server = _pair(tmp_path)
    messages = [bytes(rng.randrange(256) for _ in range(rng.choice((1, 100, 3000)))) for _ in range(12)]
    messages.append(bytes(range(256)) * 64)  # one full 16 KiB record
    messages.append(b"x" * 40000)  # several records from one write
    for message in messages:
        client.send(message if rng.random() < 0.5 else memoryview(message))
    stream = client.data_to_send()
    pos = 0
    while pos < len(stream):
        size = rng.choice((1, 2, 5, 6, 17, 1000, 16406, 16500, 40000))
        piece = stream[pos : pos + size]
        pos += size
        kind = rng.choice((bytes, bytearray, memoryview))
        server.receive_data(kind(piece))
    assert server.recv() == b"".join(messages)
    assert server._record.buffered_input == 0


def test_bulk_write_fast_path_and_general_path_agree(tmp_path):
    client, server = _pair(tmp_path)
    data = bytes(range(256)) * 64
    client.send(data)  # bytes: sealed inline
    fast = client.data_to_send()
    client.send(bytearray(data))  # bytearray: the general framing loop
    general = client.data_to_send()
    assert len(fast) == len(general) == 5 + len(data) + 17
    assert fast[:5] == general[:5]
    server.receive_data(fast + general)
    assert server.recv() == data + data
    # padding (pad_to) always takes the general path, and is still accepted
    client._record.pad_to = 1000
    client.send(b"abc")
    padded = client.data_to_send()
    assert len(padded) == 5 + 1000 + 16
    server.receive_data(padded)
    assert server.recv() == b"abc"


def _records(wire: bytes) -> list[tuple[int, int]]:
    out, pos = [], 0
    while pos < len(wire):
        length = int.from_bytes(wire[pos + 3 : pos + 5], "big")
        out.append((wire[pos], length))
        pos += 5 + length
    assert pos == len(wire)
    return out


def test_protected_handshake_flight_is_coalesced_within_the_record_limit(tmp_path):
    pki = pki_for(tmp_path)
    for limit, expected_records in ((None, 1), (256, None)):
        client = ClientConnection(
            ClientConfig(cafile=str(pki.ca_file), record_size_limit=limit), server_name="localhost"
        )
        server = ServerConnection(ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file)))
        server.receive_data(client.data_to_send())
        wire = server.data_to_send()
        flight = _records(wire)
        assert flight[0][0] == 22  # ServerHello in the clear
        protected = [length for content_type, length in flight[1:] if content_type == 23]
        if expected_records is not None:
            assert len(protected) == expected_records  # EncryptedExtensions .. Finished in one record
        else:
            assert len(protected) > 1 and max(protected) <= 256 + 16
        client.receive_data(wire)
        pump(client, server)
        assert client.handshake_complete and server.handshake_complete


def test_key_update_is_framed_before_later_data(tmp_path):
    client, server = _pair(tmp_path)
    client.send(b"before")
    client.update_keys(request_peer=True)
    client.send(b"after")
    events = server.receive_data(client.data_to_send())
    assert [type(e).__name__ for e in events] == ["ApplicationData", "KeyUpdated", "ApplicationData"]
    assert server.recv() == b"beforeafter"
    server.send(b"reply")
    client.receive_data(server.data_to_send())
    assert client.recv() == b"reply"


def test_exporter_secret_is_derived_on_demand_and_matches_the_key_log(tmp_path):
    pki = pki_for(tmp_path)
    logged: list[tuple[str, bytes]] = []
    client, server = _handshake(
        ClientConfig(cafile=str(pki.ca_file), keylog_callback=lambda label, _random, secret: logged.append((label, secret))),
        ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file)),
    )
    assert not server._app.exporter_derived  # nobody asked yet
    assert client.export_keying_material("EXPERIMENTAL x", b"ctx", 20) == server.export_keying_material("EXPERIMENTAL x", b"ctx", 20)
    assert client.export_keying_material("EXPERIMENTAL y") != client.export_keying_material("EXPERIMENTAL x")
    assert dict(logged)["EXPORTER_SECRET"] == client._app.exporter_master_secret == server._app.exporter_master_secret


def test_server_certificate_message_is_reused_per_identity_and_staple(tmp_path):
    pki = pki_for(tmp_path)
    server_config = ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file), ocsp_response=b"\x30\x03\x0a\x01\x00")
    for request_ocsp in (False, True, False, True):
        client, _ = _handshake(ClientConfig(cafile=str(pki.ca_file), request_ocsp=request_ocsp), server_config)
        assert client.negotiated.ocsp_response == (b"\x30\x03\x0a\x01\x00" if request_ocsp else None)
    assert len(server_config._certificate_messages) == 2  # type: ignore[attr-defined]


def test_record_layer_write_frames_at_once_and_queue_handshake_coalesces():
    from tlskit.engine.keyschedule import TrafficKeys
    from tlskit.engine.record import ContentType, RecordLayer
    from tlskit.providers import get_provider

    suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
    layer = RecordLayer()
    layer.set_write_keys(TrafficKeys(suite, bytes(32)))
    for piece in (b"\x08\x00\x00\x02", b"\x00\x00"):
        layer.write(ContentType.handshake, piece)  # one record each: callers may split on purpose
    assert [length for _, length in _records(layer.take_output())] == [4 + 17, 2 + 17]
    layer.queue_handshake(b"\x08\x00\x00\x02\x00\x00")
    layer.queue_handshake(b"\x14\x00\x00\x01\x00")
    layer.write(ContentType.application_data, b"later")  # the queued flight goes first
    assert [length for _, length in _records(layer.take_output())] == [11 + 17, 5 + 17]


def test_large_peer_certificates_are_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_verify, "PEER_CERT_CACHE_MAX_DER", 10)
    pki = pki_for(tmp_path)
    client_config = ClientConfig(cafile=str(pki.ca_file))
    client, _ = _handshake(client_config, ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file)))
    assert client.handshake_complete
    assert client_config._peer_cert_cache == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_cached_public_keys_still_check_every_signature(provider):
    from tlskit.errors import BadSignatureError
    from tlskit.providers import get_provider

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p = get_provider(provider)
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signature = key.sign(b"message", ec.ECDSA(hashes.SHA256()))
    scheme = p.signature_schemes["ecdsa_secp256r1_sha256"]
    for _ in range(2):  # parsed, then from the cache
        scheme.verify(spki, b"message", signature)
        with pytest.raises(BadSignatureError):
            scheme.verify(spki, b"messagf", signature)
    with pytest.raises(BadSignatureError):
        scheme.verify(spki[:-1] + bytes([spki[-1] ^ 1]), b"message", signature)


def test_exporter_labels_of_any_bytes_type(tmp_path):
    client, server = _pair(tmp_path)
    expected = client.export_keying_material(b"EXPERIMENTAL label", b"", 16)
    assert server.export_keying_material(bytearray(b"EXPERIMENTAL label"), b"", 16) == expected
    assert server.export_keying_material("EXPERIMENTAL label", b"", 16) == expected


# -- issue 17: key-schedule and extension shortcuts ---------------------------------------


@pytest.mark.parametrize("provider_name", ["cryptography", "pycryptodome", "pynacl"])
def test_expander_and_keyed_hmac_are_the_unbound_functions(provider_name):
    """HashAlgorithm.expander and keyed_hmac key the HMAC once; every expansion, however many and in
    whatever order, must equal a fresh hkdf_expand (RFC 5869), also past one block."""
    from tlskit.providers import get_provider  # all three backends are dependencies

    for hash_alg in get_provider(provider_name).hash_algorithms.values():
        prk_a, prk_b = bytes(range(hash_alg.digest_size)), bytes(reversed(range(hash_alg.digest_size)))
        expand_a, expand_b = hash_alg.expander(prk_a), hash_alg.expander(prk_b)
        for info, length in [(b"one", 16), (b"two", 12), (b"one", hash_alg.digest_size), (b"long", 3 * hash_alg.digest_size + 5)]:
            assert expand_a(info, length) == hash_alg.hkdf_expand(prk_a, info, length)
            assert expand_b(info, length) == hash_alg.hkdf_expand(prk_b, info, length)
        assert expand_a(b"x", 16) != expand_b(b"x", 16)
        mac_a, mac_b = hash_alg.keyed_hmac(prk_a), hash_alg.keyed_hmac(prk_b)
        for data in (b"", b"first", b"second" * 40, b"first"):
            assert mac_a(data) == hash_alg.hmac(prk_a, data)
            assert mac_b(data) == hash_alg.hmac(prk_b, data)


def test_key_schedule_matches_rfc8448_after_the_expander_change():
    """The handshake and master secrets expand through one keyed HMAC each: the derived
    secrets must still be RFC 8448's (simple 1-RTT handshake, section 3)."""
    from tlskit.engine.keyschedule import KeySchedule
    from tlskit.providers import get_provider

    suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
    schedule = KeySchedule(suite)
    schedule.set_shared_secret(bytes.fromhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d"))
    hello_hash = bytes.fromhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
    client, server = schedule.handshake_traffic_secrets(hello_hash)
    assert client.hex() == "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
    assert server.hex() == "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
    finished_hash = bytes.fromhex("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13")
    client_ap, server_ap = schedule.traffic_secrets_0(finished_hash)
    assert client_ap.hex() == "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
    assert server_ap.hex() == "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"
    assert schedule.exporter_master_secret(finished_hash).hex() == "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50"


def test_memoised_host_name_codecs_answer_per_input_and_never_cache_a_refusal():
    from tlskit.engine import extensions as ext
    from tlskit.errors import TLSError

    for _ in range(2):  # the second round is answered from the memo
        assert ext.sni_host_name("example.com.") == b"example.com"
        assert ext.sni_host_name("b\u00fccher.example") == b"xn--bcher-kva.example"
        with pytest.raises(TLSError):
            ext.sni_host_name("bad name.example")
        assert ext.decode_server_name(ext.encode_server_name(b"a.example")) == "a.example"
        assert ext.decode_server_name(ext.encode_server_name(b"b.example")) == "b.example"
        assert ext.decode_server_name(ext.encode_server_name(b"192.0.2.1")) is None
        with pytest.raises(TLSError):
            ext.decode_server_name(ext.encode_server_name(b"bad\x01name"))


def test_extension_view_index_follows_every_change_to_the_list():
    from tlskit.engine.buffer import Reader
    from tlskit.engine.extensions import ClientHelloExtensions, decode_extensions, encode_extensions

    view = decode_extensions(Reader(encode_extensions([(0, b"\x00\x01"), (43, b"\x02\x03\x04")])), ClientHelloExtensions)
    assert view.body(43) == b"\x02\x03\x04" and 0 in view and 10 not in view
    view.append((10, b"\x00\x02\x00\x1d"))
    assert view.supported_groups == [0x1D]
    del view[0]
    assert 0 not in view and view.body(0) is None
    view[0] = (43, b"\x02\x03\x03")
    assert view.body(43) == b"\x02\x03\x03"
    view.clear()
    assert 43 not in view and view.types() == set()


def test_tls12_suite_table_is_kept_per_provider_and_follows_replaced_tables():
    import dataclasses

    from tlskit.engine.tls12.suites import provider_suites
    from tlskit.providers import get_provider

    provider = dataclasses.replace(get_provider("cryptography"))
    first = provider_suites(provider)
    assert "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in first
    first.clear()  # the caller's copy: the kept table is untouched
    assert provider_suites(provider).keys() == provider_suites(get_provider("cryptography")).keys()
    provider.aead_algorithms = {k: v for k, v in provider.aead_algorithms.items() if k != "AES-128-GCM"}
    assert "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" not in provider_suites(provider)
    assert "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" in provider_suites(provider)


def test_an_idle_connection_keeps_at_most_8_kb_of_python_heap_per_side(tmp_path):
    """Issue 17 item 5, as `tlskit bench --only memory` measures it (tracemalloc, an
    ECDSA P-256 chain, cryptography provider): an established, idle connection holds
    at most 8 KB of Python objects on each side. Memory, not time: the count is the same
    on a loaded machine. It caught the key schedule keeping its keyed HMACs per connection."""
    from tlskit.bench import certs, memory, tlskit_side

    pki = certs.make_pki(tmp_path, "ecdsa-p256")
    configs = tlskit_side.make_configs(pki, tlskit_side.Params("cryptography", "TLS_AES_128_GCM_SHA256", "x25519"))

    def drop_server(pair):
        pair.server = None

    figures = memory.idle_pair_bytes(lambda: tlskit_side.handshake(configs), drop_server, 16)
    assert 0 < figures["client_bytes"] <= 8192, figures
    assert 0 < figures["server_bytes"] <= 8192, figures


def test_server_name_memo_never_keeps_a_large_body():
    """A peer can send a 64 KiB server_name list (other name types beside the host name);
    such a body is decoded as usual but not kept, so the memo stays at most 1,024 small
    entries whatever peers send."""
    from tlskit.engine import extensions as ext
    from tlskit.engine.buffer import u8, vec16

    host_entry = u8(0) + vec16(b"big.example")
    padded = vec16(host_entry + u8(7) + vec16(b"x" * 60000))  # a second, unknown name type
    before = ext._decode_server_name_memoised.cache_info().currsize
    assert ext.decode_server_name(padded) == "big.example"
    assert ext._decode_server_name_memoised.cache_info().currsize == before
    small = ext.encode_server_name(b"small.example")
    assert ext.decode_server_name(small) == "small.example"
    assert ext._decode_server_name_memoised.cache_info().currsize <= max(before + 1, 1)
