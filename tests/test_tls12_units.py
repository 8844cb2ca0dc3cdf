"""TLS 1.2 building blocks on their own: PRF, key derivation, record protection,
message codecs, the suite table and RSA PKCS#1 v1.5 signing (TLS 1.2 only)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings, strategies as st

from tlskit.engine.tls12 import messages as m12
from tlskit.engine.tls12.prf import (
    check_verify_data,
    extended_master_secret,
    key_block,
    p_hash,
    prf,
    verify_data,
)
from tlskit.engine.tls12.record import Tls12RecordLayer, protections
from tlskit.engine.tls12.suites import SUITE_TABLE, provider_suites
from tlskit.engine.record import RecordLayer
from tlskit.errors import BadRecordMac, DecodeError, DecryptError, IllegalParameter, RecordOverflow, TLSError, UnexpectedMessage
from tlskit.providers import available_providers, get_provider

PROVIDERS = available_providers()

# TLS 1.2 PRF vectors: secret, seed and label "test label" as circulated on the IETF TLS
# list; the outputs were checked against OpenSSL's TLS1-PRF KDF (`openssl kdf ... TLS1-PRF`).
PRF_SHA256 = (
    "9bbe436ba940f017b17652849a71db35",
    "a0ba9f936cda311827a6f796ffd5198c",
    "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af"
    "0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
    "87347b66",
)
PRF_SHA384 = (
    "b80b733d6ceefcdc71566ea48e5567df",
    "cd665cf6a8447dd6ff8b27555edb7465",
    "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0"
    "e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
    "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f",
)


@pytest.mark.parametrize(
    "provider,hash_name,vector",
    [
        (p, h, v)
        for p in PROVIDERS
        for h, v in (("sha256", PRF_SHA256), ("sha384", PRF_SHA384))
        if h in get_provider(p).hash_algorithms  # PyNaCl: libsodium has no SHA-384
    ],
)
def test_prf_matches_known_vectors(provider, hash_name, vector):
    p = get_provider(provider)
    secret, seed, expected = (bytes.fromhex(x) for x in vector)
    out = prf(p.hash(hash_name), secret, b"test label", seed, len(expected))
    assert out == expected
    # any prefix is the PRF at that length
    assert prf(p.hash(hash_name), secret, b"test label", seed, 13) == expected[:13]


def test_p_hash_zero_length_and_negative():
    h = get_provider("cryptography").hash("sha256")
    assert p_hash(h, b"k", b"s", 0) == b""
    with pytest.raises(ValueError):
        p_hash(h, b"k", b"s", -1)


def test_derivations_use_the_labels_of_rfc_5246_and_7627():
    h = get_provider("cryptography").hash("sha256")
    pms, session_hash = b"\x01" * 32, b"\x02" * 32
    ms = extended_master_secret(h, pms, session_hash)
    assert ms == prf(h, pms, b"extended master secret", session_hash, 48)
    cr, sr = b"c" * 32, b"s" * 32
    # key expansion seeds server_random first (RFC 5246 6.3)
    assert key_block(h, ms, sr, cr, 40) == prf(h, ms, b"key expansion", sr + cr, 40)
    vd = verify_data(h, ms, b"client finished", b"\x03" * 32)
    assert len(vd) == 12 and vd == prf(h, ms, b"client finished", b"\x03" * 32, 12)
    check_verify_data(vd, vd)
    with pytest.raises(DecryptError):
        check_verify_data(vd, bytes(12))


# -- suites and record protection ------------------------------------------------


def test_suite_table_is_ecdhe_aead_only():
    assert {s.code for s in SUITE_TABLE.values()} == {0xC02B, 0xC02C, 0xC02F, 0xC030, 0xCCA8, 0xCCA9}
    for s in SUITE_TABLE.values():
        assert s.name.startswith("TLS_ECDHE_") and ("GCM" in s.name or "CHACHA20_POLY1305" in s.name)


def test_provider_suites_follow_what_the_backend_has():
    assert list(provider_suites(get_provider("cryptography"))) == list(SUITE_TABLE)
    if "pynacl" in PROVIDERS:
        # libsodium: ChaCha20-Poly1305 with SHA-256 only (no SHA-384, AES-GCM needs AES-256 + SHA-384)
        assert set(provider_suites(get_provider("pynacl"))) == {
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        }


def _independent_seal(info, key, iv, seq, content_type, plaintext):
    """The record per RFC 5288 / RFC 7905, computed with pyca/cryptography directly."""
    aad = seq.to_bytes(8, "big") + bytes([content_type]) + b"\x03\x03" + len(plaintext).to_bytes(2, "big")
    if info.aead == "ChaCha20-Poly1305":
        nonce = (int.from_bytes(iv, "big") ^ seq).to_bytes(12, "big")
        body = ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)
    else:
        explicit = seq.to_bytes(8, "big")
        body = explicit + AESGCM(key).encrypt(iv + explicit, plaintext, aad)
    return bytes([content_type]) + b"\x03\x03" + len(body).to_bytes(2, "big") + body


@pytest.mark.parametrize("provider", PROVIDERS)
def test_record_protection_matches_the_rfc_construction(provider):
    suites = provider_suites(get_provider(provider))
    assert suites
    for suite in suites.values():
        length = suite.key_block_length
        block = bytes(range(length))
        client, server = protections(suite, block)
        k, iv = suite.aead.key_length, suite.info.fixed_iv_length
        client_key, client_iv = block[:k], block[2 * k : 2 * k + iv]
        for seq in range(3):
            record = client.seal(23, b"hello %d" % seq)
            assert record == _independent_seal(suite.info, client_key, client_iv, seq, 23, b"hello %d" % seq)
        # the peer (a server reading with the client's keys) opens them in order
        reader, _ = protections(suite, block)
        for seq in range(3):
            record = _independent_seal(suite.info, client_key, client_iv, seq, 23, b"x" * seq)
            assert reader.open(23, record[5:]) == b"x" * seq
        # a record replayed (wrong sequence number), retyped or altered does not open
        record = client.seal(22, b"finished")
        with pytest.raises(BadRecordMac):
            reader.open(23, record[5:])
        with pytest.raises(BadRecordMac):
            reader.open(22, b"\x00" * 10)


def _pair(suite_name="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"):
    suite = provider_suites(get_provider("cryptography"))[suite_name]
    block = bytes(suite.key_block_length)
    w = Tls12RecordLayer.take_over(RecordLayer())
    r = Tls12RecordLayer.take_over(RecordLayer())
    w.activate_write(protections(suite, block)[0])
    r.activate_read(protections(suite, block)[0])
    return w, r


@pytest.mark.parametrize(
    "suite_name", ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"]
)
def test_record_layer_fragments_and_reassembles(suite_name):
    w, r = _pair(suite_name)
    data = bytes(range(256)) * 200  # 51,200 bytes: four records
    w.write(23, data)
    w.write(21, b"\x01\x00")
    wire = w.take_output()
    got = []
    for i in range(0, len(wire), 1000):  # fed in arbitrary pieces
        r.feed(wire[i : i + 1000])
        while (rec := r.next_record()) is not None:
            got.append(rec)
    assert b"".join(p for t, p in got if t == 23) == data
    assert got[-1] == (21, b"\x01\x00")
    assert max(len(p) for t, p in got) == 2**14


def test_record_layer_rejects_hostile_records():
    w, r = _pair()
    # oversized ciphertext
    r.feed(b"\x17\x03\x03" + (2**14 + 2049).to_bytes(2, "big"))
    with pytest.raises(RecordOverflow):
        r.next_record()
    w, r = _pair()
    w.write(23, b"abc")
    wire = bytearray(w.take_output())
    wire[-1] ^= 1
    r.feed(bytes(wire))
    with pytest.raises(BadRecordMac):
        r.next_record()
    w, r = _pair()
    r.feed(b"\x17\x03\x03\x00\x05" + b"short")
    with pytest.raises(BadRecordMac):
        r.next_record()
    plain = Tls12RecordLayer.take_over(RecordLayer())
    plain.feed(b"\x17\x03\x03\x00\x01x")
    with pytest.raises(UnexpectedMessage):
        plain.next_record()  # application data before ChangeCipherSpec
    plain = Tls12RecordLayer.take_over(RecordLayer())
    plain.feed(b"\x16\x03\x03\x00\x00")
    with pytest.raises(UnexpectedMessage):
        plain.next_record()  # RFC 5246 6.2.1: no empty handshake fragments
    plain = Tls12RecordLayer.take_over(RecordLayer())
    plain.feed(b"\x63\x03\x03\x00\x01x")
    with pytest.raises(UnexpectedMessage):
        plain.next_record()


def test_change_cipher_spec_is_written_once_in_the_clear():
    w, _ = _pair()
    fresh = Tls12RecordLayer.take_over(RecordLayer())
    fresh.write_change_cipher_spec()
    assert fresh.take_output() == b"\x14\x03\x03\x00\x01\x01"
    with pytest.raises(TLSError):
        w.write_change_cipher_spec()


def test_take_over_keeps_buffered_input():
    layer = RecordLayer()
    layer.feed(b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00\x16\x03")
    assert layer.next_record() == (22, b"\x0e\x00\x00\x00")
    new = Tls12RecordLayer.take_over(layer)
    new.feed(b"\x03\x00\x01\x00")
    # a partial header was pending: it continues in the new layer
    assert new.next_record() == (22, b"\x00")
    assert new.next_record() is None


# -- message codecs ---------------------------------------------------------------

CODEC_SAMPLES = [
    (m12.ServerKeyExchange, m12.ServerKeyExchange(29, b"\x04" * 32, 0x0403, b"sig")),
    (m12.ClientKeyExchange, m12.ClientKeyExchange(b"\x05" * 65)),
    (m12.CertificateRequest12, m12.CertificateRequest12(b"\x01\x40", [0x0403, 0x0804], [b"0\x00"])),
    (m12.ServerHelloDone, m12.ServerHelloDone()),
    (m12.Certificate12, m12.Certificate12([b"cert-a", b"cert-b"])),
    (m12.CertificateVerify12, m12.CertificateVerify12(0x0401, b"\x00" * 256)),
    (m12.Finished12, m12.Finished12(b"\x07" * 12)),
    (m12.NewSessionTicket12, m12.NewSessionTicket12(7200, b"opaque-ticket")),
    (m12.HelloRequest, m12.HelloRequest()),
]


@pytest.mark.parametrize("cls,message", CODEC_SAMPLES, ids=[c.__name__ for c, _ in CODEC_SAMPLES])
def test_codecs_round_trip(cls, message):
    wire = message.encode()
    assert int.from_bytes(wire[1:4], "big") == len(wire) - 4
    assert cls.decode(wire[4:]) == message


@pytest.mark.parametrize("cls,message", CODEC_SAMPLES, ids=[c.__name__ for c, _ in CODEC_SAMPLES])
@settings(max_examples=40)
@given(data=st.data())
def test_codecs_refuse_mangled_bodies_with_typed_errors(cls, message, data):
    body = message.encode()[4:]
    cut = data.draw(st.integers(0, len(body)))
    extra = data.draw(st.binary(max_size=3))
    mangled = body[:cut] + extra
    try:
        cls.decode(mangled)
    except (DecodeError, IllegalParameter):
        pass  # typed, alert-carrying errors only


def test_ske_refuses_explicit_curves():
    body = m12.ServerKeyExchange(29, b"\x04" * 32, 0x0403, b"sig").encode()[4:]
    with pytest.raises(IllegalParameter):
        m12.ServerKeyExchange.decode(b"\x01" + body[1:])


def test_extension_helpers():
    assert m12.decode_renegotiation_info(m12.EMPTY_RENEGOTIATION_INFO) == b""
    with pytest.raises(DecodeError):
        m12.decode_renegotiation_info(b"\x05ab")
    assert m12.decode_ec_point_formats(m12.EC_POINT_FORMATS_UNCOMPRESSED) == b"\x00"
    with pytest.raises(IllegalParameter):
        m12.decode_ec_point_formats(b"\x01\x01")
    with pytest.raises(DecodeError):
        m12.check_empty_extension("extended_master_secret", b"\x00")


# -- RSA PKCS#1 v1.5 signing (TLS 1.2 only) -------------------------------------------


@pytest.fixture(scope="module")
def rsa_key_pem():
    key = rsa.generate_private_key(65537, 2048)
    return key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p in ("cryptography", "pycryptodome")])
@pytest.mark.parametrize("scheme,hash_cls", [("rsa_pkcs1_sha256", hashes.SHA256), ("rsa_pkcs1_sha384", hashes.SHA384), ("rsa_pkcs1_sha512", hashes.SHA512)])
def test_rsa_pkcs1_signing_is_tls12_only(provider, scheme, hash_cls, rsa_key_pem):
    key, pem = rsa_key_pem
    p = get_provider(provider)
    loaded = p.load_private_key(pem)
    # never offered for a TLS 1.3 CertificateVerify (RFC 8446 4.2.3) ...
    assert scheme not in loaded.schemes
    # ... but available for TLS 1.2
    assert scheme in loaded.legacy_schemes
    signature = loaded.sign(scheme, b"message")
    key.public_key().verify(signature, b"message", padding.PKCS1v15(), hash_cls())
    # and every provider that verifies rsa_pkcs1 accepts it
    for other in PROVIDERS:
        verifier = get_provider(other).signature_schemes.get(scheme)
        if verifier is not None:
            verifier.verify(loaded.public_key_der(), b"message", signature)


def test_non_rsa_keys_have_no_legacy_schemes():
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert get_provider("cryptography").load_private_key(pem).legacy_schemes == ()
