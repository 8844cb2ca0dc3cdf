"""Resumption building blocks without a handshake: ticket sealing and key rotation,
ticket stores, the client Session and its cache, PSK binders, ticket ages and the
0-RTT anti-replay record (RFC 8446 4.2.9-4.2.11, 4.6.1, 8)."""

from __future__ import annotations

import pytest

from tlskit.engine import psk
from tlskit.engine.keyschedule import KeySchedule, Transcript
from tlskit.engine.session import Session, SessionCache
from tlskit.engine.tickets import InMemoryTicketStore, StatelessTicketStore, TicketKeyRing, TicketStore
from tlskit.errors import ConfigurationError, DecodeError, IllegalParameter
from tlskit.providers import available_providers, get_provider


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PROVIDERS = available_providers()


# -- ticket keys ------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sealed_ticket_round_trips_with_each_provider(provider):
    ring = TicketKeyRing(provider)
    sealed = ring.seal(b"state", b"aad")
    assert b"state" not in sealed
    assert ring.open(sealed, b"aad") == b"state"
    assert ring.open(sealed, b"other aad") is None


def test_tampered_ticket_does_not_open():
    ring = TicketKeyRing()
    sealed = bytearray(ring.seal(b"resumption state"))
    for position in (0, 20, len(sealed) - 1):  # key name, nonce, tag
        altered = bytearray(sealed)
        altered[position] ^= 1
        assert ring.open(bytes(altered)) is None
    assert ring.open(b"") is None
    assert ring.open(bytes(sealed[:30])) is None


def test_ticket_from_another_key_ring_does_not_open():
    assert TicketKeyRing().open(TicketKeyRing().seal(b"x")) is None


def test_key_rotation_encrypts_one_period_and_decrypts_one_more():
    clock = Clock()
    ring = TicketKeyRing(rotate_after=100, clock=clock)
    first = ring.seal(b"first")
    clock.now += 99
    assert ring.seal(b"x")[:16] == first[:16]  # same key within the period
    clock.now += 2  # 101 s: a new key seals, the old one still opens
    second = ring.seal(b"second")
    assert second[:16] != first[:16]
    assert ring.open(first) == b"first"
    clock.now += 100  # 201 s: the first key is gone, the second still opens
    assert ring.open(first) is None
    assert ring.open(second) == b"second"
    clock.now += 1000  # idle for long: nothing old opens any more
    assert ring.open(second) is None


def test_manual_rotation_keeps_the_previous_key_for_opening():
    ring = TicketKeyRing()
    old = ring.seal(b"old")
    ring.rotate()
    assert ring.seal(b"new")[:16] != old[:16]
    assert ring.open(old) == b"old"


def test_ticket_keys_never_in_reprs(monkeypatch):
    secrets: list[bytes] = []
    provider = get_provider("cryptography")
    real_random = provider.random_source

    def recording_random(n: int) -> bytes:
        value = real_random(n)
        secrets.append(value)
        return value

    monkeypatch.setattr(provider, "random_source", recording_random)
    ring = TicketKeyRing(provider)
    ring.seal(b"x")
    key = ring._current
    assert key is not None and secrets
    text = repr(ring) + repr(StatelessTicketStore(ring)) + repr(key) + str(vars(ring))
    for secret in secrets:
        if len(secret) == 32:  # the sealing key
            assert secret.hex() not in text and repr(secret) not in text
    assert key.name.hex() not in text  # not even the full key name


def test_bad_rotation_period_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        TicketKeyRing(rotate_after=0)


# -- stores -------------------------------------------------------------------------


def test_stateless_store_round_trip():
    store = StatelessTicketStore(TicketKeyRing())
    assert isinstance(store, TicketStore)
    ticket = store.issue(b"state")
    assert store.redeem(ticket) == b"state"
    assert store.redeem(ticket) == b"state"  # stateless: the server cannot tell a reuse
    assert store.redeem(ticket[:-1] + bytes([ticket[-1] ^ 1])) is None


def test_in_memory_store_single_use_bounded_and_expiring():
    clock = Clock()
    store = InMemoryTicketStore(capacity=2, lifetime=10, clock=clock)
    assert isinstance(store, TicketStore)
    a, b = store.issue(b"a"), store.issue(b"b")
    assert store.redeem(a) == b"a"
    assert store.redeem(a) is None  # RFC 8446 8.1: single use
    c = store.issue(b"c")
    store.issue(b"d")  # capacity 2: the oldest (b) is dropped
    assert store.redeem(b) is None
    clock.now += 11
    assert store.redeem(c) is None
    assert store.redeem(b"\x00" * 32) is None


def test_in_memory_store_reusable_when_told():
    store = InMemoryTicketStore(single_use=False)
    ticket = store.issue(b"s")
    assert store.redeem(ticket) == store.redeem(ticket) == b"s"


# -- client sessions -------------------------------------------------------------------


def _session(**changes) -> Session:
    fields = dict(
        version="TLSv1.3",
        cipher_suite="TLS_AES_128_GCM_SHA256",
        psk=b"\x11" * 32,
        ticket=b"ticket-bytes",
        age_add=0xFFFFFF00,
        lifetime=7200,
        received_at=1_700_000_000.0,
        max_early_data=16384,
        server_name="example.test",
        alpn="h2",
        peer_certificates=(b"cert-1", b"cert-2"),
    )
    fields.update(changes)
    return Session(**fields)


def test_session_round_trips_through_bytes():
    session = _session()
    assert Session.from_bytes(session.to_bytes()) == session
    bare = _session(server_name=None, alpn=None, peer_certificates=(), max_early_data=0)
    assert Session.from_bytes(bare.to_bytes()) == bare
    assert not bare.early_data_allowed and session.early_data_allowed


def test_session_repr_holds_no_secret():
    text = repr(_session())
    assert "\\x11" not in text and "ticket-bytes" not in text and "psk" not in text


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"TLSKIT-SESSION", b"TLSKIT-SESSION\x02", _session().to_bytes()[:-1], _session().to_bytes() + b"\x00"],
)
def test_damaged_session_bytes_are_refused_cleanly(data):
    with pytest.raises(ConfigurationError):
        Session.from_bytes(data)


def test_session_lifetime_over_seven_days_refused():
    with pytest.raises(ConfigurationError):
        _session(lifetime=604801)


def test_obfuscated_age_and_validity():
    session = _session()
    now = session.received_at + 1.5
    assert session.obfuscated_age(now) == (1500 + session.age_add) & 0xFFFFFFFF
    assert psk.ticket_age_ms(session.obfuscated_age(now), session.age_add) == 1500
    assert session.is_valid(now)
    assert not session.is_valid(session.received_at + 7200)


def test_session_cache_is_keyed_single_use_and_bounded():
    clock = Clock(1_700_000_000.0 + 10)
    cache = SessionCache(max_servers=2, per_server=2, clock=clock)
    one, two, three = (_session(ticket=bytes([i]) * 4) for i in (1, 2, 3))
    cache.put("a", 443, one)
    cache.put("a", 443, two)
    cache.put("a", 443, three)  # per_server=2: the oldest goes
    assert cache.take("a", 444) is None  # the port is part of the key
    assert cache.take("a", 443) == three  # newest first
    assert cache.take("a", 443) == two
    assert cache.take("a", 443) is None  # RFC 8446 C.4: each ticket once
    cache.put("a", 1, one)
    cache.put("b", 1, one)
    cache.put("c", 1, one)  # max_servers=2: the least recently used server goes
    assert cache.take("a", 1) is None
    assert cache.take("c", 1) == one
    assert len(cache) == 1


def test_session_cache_reuse_when_told_and_skips_expired():
    clock = Clock(1_700_000_000.0 + 10)
    cache = SessionCache(single_use=False, clock=clock)
    session = _session()
    cache.put("a", 1, session)
    assert cache.take("a", 1) == cache.take("a", 1) == session
    clock.now += 7200
    assert cache.take("a", 1) is None
    assert len(cache) == 0


# -- extension codecs -------------------------------------------------------------------


def test_psk_modes_and_early_data_codecs():
    assert psk.decode_psk_modes(psk.encode_psk_modes([psk.PSK_DHE_KE])) == [1]
    with pytest.raises(DecodeError):
        psk.decode_psk_modes(b"\x00")
    assert psk.decode_early_data_max(psk.encode_early_data_indication(16384)) == 16384
    assert psk.encode_early_data_indication() == b""
    with pytest.raises(DecodeError):
        psk.decode_early_data_empty(b"\x00")
    with pytest.raises(DecodeError):
        psk.decode_early_data_max(b"\x00\x00")
    assert psk.decode_selected_identity(psk.encode_selected_identity(3)) == 3


def test_offered_psks_codec_and_truncation():
    offered = psk.OfferedPsks([(b"ticket-one", 5), (b"t2", 7)], [b"\xaa" * 32, b"\xbb" * 48])
    body = offered.encode()
    decoded = psk.OfferedPsks.decode(body)
    assert decoded == offered
    hello = b"\x01\x00\x00\x10" + b"prefix" + body
    truncated = psk.truncate_client_hello(hello, offered.binders)
    assert hello.startswith(truncated)
    assert truncated.endswith(offered.encode_identities())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x00\x00\x00",  # empty lists
        psk.OfferedPsks([(b"abc", 1)], [b"\x01" * 32, b"\x02" * 32]).encode(),  # binder count
        psk.OfferedPsks([(b"abc", 1)], [b"\x01" * 31]).encode(),  # binder too short
        psk.OfferedPsks([(b"abc", 1)], [b"\x01" * 32]).encode() + b"\x00",
    ],
)
def test_malformed_offered_psks_are_typed_errors(body):
    with pytest.raises((DecodeError, IllegalParameter)):
        psk.OfferedPsks.decode(body)


# -- key schedule and binders ---------------------------------------------------------------


def test_psk_early_secret_matches_rfc8448_section4():
    # RFC 8448 section 4: {client} extract secret "early" from the resumption PSK
    suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
    ikm = bytes.fromhex("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3")
    expected = bytes.fromhex("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c")
    assert KeySchedule(suite, psk=ikm).early_secret == expected
    assert psk.early_secret(suite.hash, ikm) == expected


@pytest.mark.parametrize("provider", PROVIDERS)
def test_binder_verifies_and_rejects_changes(provider):
    hash_alg = get_provider(provider).hash("sha256")
    key = psk.binder_key(hash_alg, psk.early_secret(hash_alg, b"k" * 32))
    assert key != psk.binder_key(hash_alg, psk.early_secret(hash_alg, b"k" * 32), external=True)
    transcript_hash = hash_alg.digest(b"truncated hello")
    binder = psk.compute_binder(hash_alg, key, transcript_hash)
    assert len(binder) == hash_alg.digest_size
    assert psk.verify_binder(hash_alg, key, transcript_hash, binder)
    assert not psk.verify_binder(hash_alg, key, transcript_hash, binder[:-1] + bytes([binder[-1] ^ 1]))
    assert not psk.verify_binder(hash_alg, key, hash_alg.digest(b"other hello"), binder)
    other = psk.binder_key(hash_alg, psk.early_secret(hash_alg, b"j" * 32))
    assert not psk.verify_binder(hash_alg, other, transcript_hash, binder)


def test_transcript_digest_with_does_not_add():
    hash_alg = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"].hash
    transcript = Transcript()
    transcript.add(b"one")
    assert transcript.digest_with(hash_alg, b"two") == hash_alg.digest(b"onetwo")  # before start
    transcript.start(hash_alg)
    assert transcript.digest_with(hash_alg, b"two") == hash_alg.digest(b"onetwo")
    assert transcript.digest() == hash_alg.digest(b"one")


def test_ticket_psk_depends_on_the_nonce():
    hash_alg = get_provider("cryptography").cipher_suites["TLS_AES_256_GCM_SHA384"].hash
    a = psk.ticket_psk(hash_alg, b"r" * 48, b"\x00")
    assert len(a) == 48 and a != psk.ticket_psk(hash_alg, b"r" * 48, b"\x01")


def test_ticket_age_window():
    issued = 1000.0
    age_add = 0xFFFFFFF0
    obfuscated = (5000 + age_add) & 0xFFFFFFFF  # the client says 5 s
    assert psk.age_within_window(obfuscated, age_add, issued, issued + 5, window=1)
    assert psk.age_within_window(obfuscated, age_add, issued, issued + 5.9, window=1)
    assert not psk.age_within_window(obfuscated, age_add, issued, issued + 7, window=1)
    assert not psk.age_within_window(obfuscated, age_add, issued, issued + 3, window=1)


# -- server resumption state ------------------------------------------------------------------


def test_resumption_state_round_trip_and_garbage():
    state = psk.ResumptionState(0x1301, b"p" * 32, 1000.5, 7200, 12345, 1024, "host.test", b"h2", (b"c1",))
    assert psk.ResumptionState.decode(state.encode()) == state
    no_alpn = psk.ResumptionState(0x1302, b"p" * 48, 1000.0, 60, 1)
    assert psk.ResumptionState.decode(no_alpn.encode()) == no_alpn
    assert "pppp" not in repr(state)
    for junk in (b"", b"T13R", state.encode()[:-1], state.encode() + b"x", b"XXXX" + state.encode()[4:]):
        assert psk.ResumptionState.decode(junk) is None
    assert not state.expired(1000.5 + 7199) and state.expired(1000.5 + 7200)


# -- anti-replay -----------------------------------------------------------------------------


def test_anti_replay_first_use_only_until_expiry():
    clock = Clock(100.0)
    record = psk.AntiReplay(capacity=3, clock=clock)
    assert record.first_use(b"a", until=110)
    assert not record.first_use(b"a", until=110)
    assert record.first_use(b"b", until=200)
    clock.now = 111
    assert record.first_use(b"a", until=120)  # the first record of "a" expired
    assert not record.first_use(b"b", until=300)


def test_anti_replay_fails_closed_when_full():
    clock = Clock(0.0)
    record = psk.AntiReplay(capacity=2, clock=clock)
    assert record.first_use(b"a", 10) and record.first_use(b"b", 10)
    assert not record.first_use(b"c", 10)  # full: refuse rather than forget
    clock.now = 10
    assert record.first_use(b"c", 20)
    assert len(record) == 1


# -- resumption decisions (tlskit.engine.resumption) without a handshake ---------------------

from tlskit.ca import EphemeralCA  # noqa: E402
from tlskit.engine import resumption as R  # noqa: E402
from tlskit.engine.extensions import ExtensionType as E  # noqa: E402
from tlskit.engine.messages import ClientHello  # noqa: E402
from tlskit.engine.messages import NewSessionTicketMessage as NewSessionTicket  # noqa: E402


@pytest.fixture(scope="module")
def ca():
    return EphemeralCA()


def _issue(server_config, *, nonce=b"\x00", now=1_700_000_000.0, host="localhost", alpn=None, suite_name="TLS_AES_128_GCM_SHA256"):
    provider = server_config.resolved_provider
    suite = provider.cipher_suites[suite_name]
    rms = b"\x07" * suite.hash.digest_size
    raw = R.new_session_ticket(server_config, provider, suite, rms, nonce, now, host, alpn, ())
    message = NewSessionTicket.decode(raw[4:])
    return suite, rms, message


def test_ticket_to_session_to_server_selection(ca):
    server = ca.server_config(max_early_data_size=1000)
    client = ca.client_config()
    now = 1_700_000_000.0
    suite, rms, message = _issue(server, now=now)
    assert message.lifetime == 7200 and message.extensions == [(E.early_data, (1000).to_bytes(4, "big"))]
    session = R.session_from_ticket(message, suite, rms, now, "localhost", None, ())
    assert session is not None and session.max_early_data == 1000
    offer = R.client_psk_offer(client, client.resolved_provider, session, "localhost", b"early", now + 1)
    assert offer is not None and offer.early_data == b"early"
    from tlskit.engine.keyschedule import Transcript

    extensions = [(E.psk_key_exchange_modes, b"\x01\x01"), (E.early_data, b""), R.client_pre_shared_key_extension(offer)]
    hello = ClientHello(b"\x01" * 32, b"", [0x1301], extensions).encode()
    bound = R.bind_client_hello(hello, offer, Transcript())
    assert len(bound) == len(hello) and bound != hello
    parsed = dict(ClientHello.decode(bound[4:]).extensions)
    accepted = R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "localhost", None, 1, False, now + 1)
    assert accepted is not None and accepted.index == 0 and accepted.early_data and accepted.early_data_limit == 1000
    assert accepted.state.psk == session.psk
    # the same ClientHello again: resumable, but its early data is a replay (RFC 8446 8.1)
    again = R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "localhost", None, 1, False, now + 1)
    assert again is not None and not again.early_data
    # a wrong binder is fatal (4.2.11: MUST abort)
    broken = bound[:-1] + bytes([bound[-1] ^ 1])
    from tlskit.errors import DecryptError

    with pytest.raises(DecryptError):
        R.select_psk(server, server.resolved_provider, broken, dict(ClientHello.decode(broken[4:]).extensions), suite, Transcript(), "localhost", None, 1, False, now + 1)
    # another server name, another ALPN, another hash, expired, after a retry: no resumption / no 0-RTT
    assert R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "other", None, 1, False, now + 1) is None
    assert R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "localhost", b"h2", 1, False, now + 1) is None
    sha384 = server.resolved_provider.cipher_suites["TLS_AES_256_GCM_SHA384"]
    assert R.select_psk(server, server.resolved_provider, bound, parsed, sha384, Transcript(), "localhost", None, 1, False, now + 1) is None
    assert R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "localhost", None, 1, False, now + 7200) is None
    late = R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "localhost", None, 1, True, now + 1)
    assert late is not None and not late.early_data


def test_ticket_from_another_server_is_ignored(ca):
    server = ca.server_config()
    other = ca.server_config()  # its own ticket keys
    client = ca.client_config()
    now = 1_700_000_000.0
    suite, rms, message = _issue(other, now=now)
    session = R.session_from_ticket(message, suite, rms, now, "localhost", None, ())
    offer = R.client_psk_offer(client, client.resolved_provider, session, "localhost", b"", now)
    from tlskit.engine.keyschedule import Transcript

    hello = ClientHello(b"\x01" * 32, b"", [0x1301], [(E.psk_key_exchange_modes, b"\x01\x01"), R.client_pre_shared_key_extension(offer)]).encode()
    bound = R.bind_client_hello(hello, offer, Transcript())
    parsed = dict(ClientHello.decode(bound[4:]).extensions)
    assert R.select_psk(server, server.resolved_provider, bound, parsed, suite, Transcript(), "localhost", None, 1, False, now) is None


def test_client_offer_conditions(ca):
    client = ca.client_config(alpn_protocols=["h2"])
    now = 1_700_000_000.0
    session = _session(server_name="localhost", alpn="h2", received_at=now, max_early_data=10)
    provider = client.resolved_provider
    assert R.client_psk_offer(client, provider, session, "other.test", b"", now) is None  # 4.6.1: same SNI
    assert R.client_psk_offer(client, provider, session, "localhost", b"", now + 7200) is None  # expired
    offer = R.client_psk_offer(client, provider, session, "localhost", b"x" * 11, now)
    assert offer is not None and offer.early_data == b""  # over max_early_data: no 0-RTT
    assert R.client_psk_offer(client, provider, session, "localhost", b"x" * 10, now).early_data == b"x" * 10
    no_early = _session(server_name="localhost", alpn="h2", received_at=now, max_early_data=0)
    assert R.client_psk_offer(client, provider, no_early, "localhost", b"x", now).early_data == b""
    restricted = ca.client_config(cipher_suites=["TLS_AES_256_GCM_SHA384"])
    assert R.client_psk_offer(restricted, provider, session, "localhost", b"", now) is None
    assert "11" not in repr(offer)


def test_server_answer_checks():
    provider = get_provider("cryptography")
    suite = provider.cipher_suites["TLS_AES_128_GCM_SHA256"]
    session = _session(cipher_suite=suite.name)
    offer = R.client_psk_offer(
        __import__("tlskit").ClientConfig(insecure=True), provider, session, session.server_name, b"", session.received_at
    )
    assert offer is not None
    assert R.check_server_psk(offer, 0, suite, True)
    assert not R.check_server_psk(offer, None, suite, True)
    with pytest.raises(IllegalParameter):
        R.check_server_psk(offer, 1, suite, True)  # out of range
    with pytest.raises(IllegalParameter):
        R.check_server_psk(offer, 0, provider.cipher_suites["TLS_AES_256_GCM_SHA384"], True)  # other hash
    with pytest.raises(IllegalParameter):
        R.check_server_psk(offer, 0, suite, False)  # psk_ke, which we did not offer
    with pytest.raises(IllegalParameter):
        R.check_server_psk(None, None, suite, False)
    with pytest.raises(IllegalParameter):
        R.check_server_psk(None, 0, suite, True)


def test_lifetime_zero_ticket_is_not_kept():
    suite = get_provider("cryptography").cipher_suites["TLS_AES_128_GCM_SHA256"]
    message = NewSessionTicket(0, 1, b"\x00", b"t", [])
    assert R.session_from_ticket(message, suite, b"r" * 32, 0.0, None, None, ()) is None


def test_server_config_ticket_settings(ca):
    options = ca.server_options()
    from tlskit import ServerConfig

    for bad in ({"tickets": -1}, {"ticket_lifetime": 604801}, {"ticket_lifetime": 0}, {"psk_key_exchange_modes": ["psk_x"]}, {"psk_key_exchange_modes": []}, {"max_early_data_size": -1}):
        with pytest.raises(ConfigurationError):
            ServerConfig(**options, **bad)
    store = InMemoryTicketStore()
    assert ServerConfig(**options, ticket_store=store).resolved_ticket_store is store
    text = repr(ServerConfig(**options))
    assert "TicketStore" not in text and "AntiReplay" not in text
