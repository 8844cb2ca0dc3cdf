"""The path-validation caches keep every check they shortcut (issue 17).

* Path plans (tlskit.pki.verify, kept in the TrustStore): a path found straight is
  replayed on the next call with the same exact inputs; validity, signatures,
  revocation and the host name are checked again on every replay, and whatever fails
  sends the call to the full search, which must answer exactly as a fresh store does.
* The opt-in SignatureCache (``signature_cache=`` / ``verify_cache=True``): remembers
  CA signatures that verified, keyed by their exact bytes and the provider.
* The prepared SAN index and the memoised reference-name parse answer exactly as the
  plain matcher.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import lzma
import pathlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

import pki_factory as f
from tlskit import _der, _oids
from tlskit.errors import BadSignatureError
from tlskit.pki import (
    BadCertificateSignature,
    CertificateError,
    Expired,
    NameMismatch,
    NotYetValid,
    Revoked,
    TrustStore,
    UnknownIssuer,
    load_certificates,
    names,
    verify_chain,
)
from tlskit.pki import algorithms
from tlskit.pki.cache import BoundedCache, SignatureCache
from tlskit.providers import get_provider
from pki_factory import make_crl

NOW = f.NOW
DAY = datetime.timedelta(days=1)
YEAR = datetime.timedelta(days=365)
CHAIN = f.chain(1, tag=" caches")


def outcome(*args, **kwargs) -> tuple[str, ...]:
    """('ok', path DER...) or (error type, message, rule): what a caller can observe."""
    try:
        path = verify_chain(*args, **kwargs)
    except CertificateError as exc:
        return (type(exc).__name__, str(exc), exc.rule or "")
    return ("ok", *(f.Issued(c, None).der for c in path.certificates))


@pytest.fixture
def count_signatures(monkeypatch):
    """Counts the certificate signatures actually computed by a provider."""
    calls: list[bytes] = []
    real = algorithms.verify_signature

    def counting(provider, scheme, spki, tbs, signature, subject, what="certificate"):
        calls.append(tbs)
        return real(provider, scheme, spki, tbs, signature, subject, what)

    monkeypatch.setattr(algorithms, "verify_signature", counting)
    return calls


def _verify(store, chain=CHAIN, **kwargs):
    kwargs.setdefault("at", NOW)
    kwargs.setdefault("server_name", "example.com")
    return verify_chain(chain.leaf.cert, chain.untrusted, store, **kwargs)


# -- path plans --------------------------------------------------------------------------


def test_a_straight_path_is_planned_and_replayed_with_every_signature(count_signatures):
    store = TrustStore([CHAIN.root.cert])
    first = _verify(store)
    assert len(store.plans) == 1
    assert len(count_signatures) == 2
    second = _verify(store)
    assert [c.public_bytes(Encoding.DER) for c in second.certificates] == [c.public_bytes(Encoding.DER) for c in first.certificates]
    assert len(count_signatures) == 4  # both links verified again on the replay


def test_replay_checks_validity_every_time():
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    assert len(store.plans) == 1
    for at, error in ((NOW + 2 * YEAR, Expired), (NOW - 2 * YEAR, NotYetValid)):
        with pytest.raises(error):
            _verify(store, at=at)
        # and exactly as a store that never saw the chain
        assert outcome(CHAIN.leaf.cert, CHAIN.untrusted, store, at=at, server_name="example.com") == outcome(
            CHAIN.leaf.cert, CHAIN.untrusted, TrustStore([CHAIN.root.cert]), at=at, server_name="example.com"
        )
    _verify(store)  # still fine at NOW


def test_replay_checks_an_expired_intermediate():
    chain = f.chain(1, tag=" plan-ica", intermediate_kwargs={"not_after": NOW + 10 * DAY})
    store = TrustStore([chain.root.cert])
    _verify(store, chain)
    assert len(store.plans) == 1
    with pytest.raises(Expired, match="Intermediate"):
        _verify(store, chain, at=NOW + 20 * DAY)


def test_replay_checks_the_host_name():
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    with pytest.raises(NameMismatch):
        _verify(store, server_name="other.example")
    with pytest.raises(NameMismatch):
        _verify(store, server_name="not a name")
    _verify(store, server_name="EXAMPLE.com.")


def test_replay_checks_revocation_when_crls_are_given():
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    assert len(store.plans) == 1
    revoked = make_crl(CHAIN.intermediates[0], [CHAIN.leaf.cert.serial_number])
    with pytest.raises(Revoked):
        _verify(store, crls=[revoked])
    _verify(store, crls=[make_crl(CHAIN.intermediates[0], [12345])])


def test_replay_verifies_signatures_with_the_provider_given(count_signatures):
    """A provider that now rejects the signature scheme makes the replay fail (and the
    full search report the bad signature): the plan holds no signature verdict."""
    base = get_provider("cryptography")
    schemes = dict(base.signature_schemes)
    provider = dataclasses.replace(base, signature_schemes=schemes)
    store = TrustStore([CHAIN.root.cert])
    _verify(store, provider=provider)
    assert len(store.plans) == 1

    class Rejecting:
        def verify(self, *args, **kwargs):
            raise BadSignatureError("no")

    schemes["ecdsa_secp256r1_sha256"] = Rejecting()
    with pytest.raises(BadCertificateSignature):
        _verify(store, provider=provider)


def test_plans_are_per_provider_usage_depth_and_chain():
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    _verify(store, provider=get_provider("pycryptodome"))
    _verify(store, usage="client", server_name=None)
    with pytest.raises(CertificateError):
        _verify(store, max_depth=0)
    assert len(store.plans) == 3


def test_a_changed_chain_does_not_use_the_plan():
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    # the same leaf with another intermediate (same name, another key): a different chain
    other_ica = f.issue("Test Intermediate 0 caches", CHAIN.root, ca=True, slot=33)
    forged = f.issue("example.com", other_ica, slot=20, eku=[f.SERVER, f.CLIENT])
    # the forged leaf under the real intermediate does not verify
    with pytest.raises(BadCertificateSignature):
        verify_chain(forged.cert, CHAIN.untrusted, store, at=NOW, server_name="example.com")
    # nor the real leaf under the other intermediate
    with pytest.raises(BadCertificateSignature):
        verify_chain(CHAIN.leaf.cert, [other_ica.cert], store, at=NOW, server_name="example.com")


def test_a_different_trust_store_does_not_trust_the_chain():
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    other = TrustStore([f.chain(1, tag=" elsewhere").root.cert])
    with pytest.raises(UnknownIssuer):
        _verify(other)


def test_adding_an_anchor_drops_the_plans():
    """With the intermediate added as an anchor the search stops there: a stale plan
    would still return the three-certificate path."""
    store = TrustStore([CHAIN.root.cert])
    assert len(_verify(store)) == 3
    store.add(CHAIN.intermediates[0].cert)
    assert len(store.plans) == 0
    assert len(_verify(store)) == 2


def test_a_path_found_by_backtracking_is_not_planned():
    """Two intermediates with the same name and key; the first offered is expired, so
    the search backtracks: not a plan (the first candidate could pass next time)."""
    root = f.issue("Test Root bt", None, ca=True, slot=41)
    ica_key = f.key("p256", 42)
    expired = f.issue("Test ICA bt", root, ca=True, private_key=ica_key, not_after=NOW - DAY, not_before=NOW - YEAR)
    good = f.issue("Test ICA bt", root, ca=True, private_key=ica_key)
    leaf = f.issue("example.com", good, slot=43, eku=[f.SERVER])
    store = TrustStore([root.cert])
    path = verify_chain(leaf.cert, [expired.cert, good.cert], store, at=NOW, server_name="example.com")
    assert path.certificates[1] == good.cert
    assert len(store.plans) == 0
    # at a time where the first one is valid, the search takes it, as before
    earlier = verify_chain(leaf.cert, [expired.cert, good.cert], store, at=NOW - 10 * DAY, server_name="example.com")
    assert earlier.certificates[1] == expired.cert


def test_plan_cache_is_bounded(monkeypatch):
    store = TrustStore([CHAIN.root.cert])
    store.plans = BoundedCache(2)
    for n in range(4):
        leaf = f.issue(f"host{n}.example", CHAIN.intermediates[0], slot=50 + n, eku=[f.SERVER])
        verify_chain(leaf.cert, CHAIN.untrusted, store, at=NOW, server_name=f"host{n}.example")
    assert len(store.plans) == 2


def test_large_chains_are_not_planned(monkeypatch):
    from tlskit.pki import verify as verify_module

    monkeypatch.setattr(verify_module, "PLAN_MAX_DER", 100)
    store = TrustStore([CHAIN.root.cert])
    _verify(store)
    assert len(store.plans) == 0


# -- x509-limbo: a warm store answers as a fresh one -------------------------------------

LIMBO = pathlib.Path(__file__).parent / "vectors" / "x509-limbo" / "limbo.json.xz"


def _limbo_inputs(case):
    leaf = load_certificates(case["peer_certificate"].encode())[0]
    intermediates = [x509.load_pem_x509_certificate(p.encode()) for p in case["untrusted_intermediates"]]
    anchors = [x509.load_pem_x509_certificate(p.encode()) for p in case["trusted_certs"]]
    usage = "client" if case["validation_kind"] == "CLIENT" else "server"
    name = case["expected_peer_name"]
    server_name = name["value"] if name and usage == "server" else None
    at = datetime.datetime.fromisoformat(case["validation_time"]) if case["validation_time"] else NOW
    kwargs = dict(usage=usage, max_depth=case["max_chain_depth"], crls=[c.encode() for c in case.get("crls") or ()])
    return leaf, intermediates, anchors, server_name, at, kwargs


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_limbo_warm_store_answers_as_a_fresh_one():
    with lzma.open(LIMBO) as fh:
        cases = [c for c in json.load(fh)["testcases"] if not c["id"].startswith("bettertls::")]
    replayed = 0
    for case in cases:
        try:
            leaf, intermediates, anchors, server_name, at, kwargs = _limbo_inputs(case)
        except Exception:
            continue  # inputs that do not load never reach verify_chain
        warm = TrustStore(anchors)
        first = outcome(leaf, intermediates, warm, server_name=server_name, at=at, **kwargs)
        replayed += bool(len(warm.plans))
        variants = [(server_name, at), (server_name, at + 20 * YEAR), (server_name, at - 20 * YEAR)]
        if server_name is not None:
            variants.append(("other.invalid", at))
        for name, when in variants:
            fresh = outcome(leaf, intermediates, TrustStore(anchors), server_name=name, at=when, **kwargs)
            assert outcome(leaf, intermediates, warm, server_name=name, at=when, **kwargs) == fresh, case["id"]
        assert outcome(leaf, intermediates, warm, server_name=server_name, at=at, **kwargs) == first, case["id"]
    assert replayed > 50  # the replays were exercised, not only the full search


# -- the opt-in signature cache -----------------------------------------------------------


def test_signature_cache_skips_only_the_signature_computation(count_signatures):
    cache = SignatureCache()
    store = TrustStore([CHAIN.root.cert])
    _verify(store, signature_cache=cache)
    assert len(count_signatures) == 2 and len(cache) == 2
    _verify(store, signature_cache=cache)
    _verify(TrustStore([CHAIN.root.cert]), signature_cache=cache)  # full search, cached verdicts
    assert len(count_signatures) == 2
    # and every other check still runs with the cache warm
    with pytest.raises(Expired):
        _verify(store, signature_cache=cache, at=NOW + 2 * YEAR)
    with pytest.raises(NameMismatch):
        _verify(store, signature_cache=cache, server_name="other.example")
    with pytest.raises(Revoked):
        _verify(store, signature_cache=cache, crls=[make_crl(CHAIN.intermediates[0], [CHAIN.leaf.cert.serial_number])])
    with pytest.raises(UnknownIssuer):
        _verify(TrustStore([f.chain(1, tag=" elsewhere").root.cert]), signature_cache=cache)


def test_signature_cache_never_vouches_for_other_bytes(count_signatures):
    cache = SignatureCache()
    store = TrustStore([CHAIN.root.cert])
    _verify(store, signature_cache=cache)
    # a leaf with the same TBS content but another signature value (re-signed: ECDSA is randomised)
    other_ica = f.issue("Test Intermediate 0 caches", CHAIN.root, ca=True, slot=33)
    forged = f.issue("example.com", other_ica, slot=20, eku=[f.SERVER, f.CLIENT])
    with pytest.raises(BadCertificateSignature):
        verify_chain(forged.cert, CHAIN.untrusted, store, at=NOW, server_name="example.com", signature_cache=cache)
    with pytest.raises(BadCertificateSignature):
        verify_chain(CHAIN.leaf.cert, [other_ica.cert], store, at=NOW, server_name="example.com", signature_cache=cache)
    # failures are not remembered: the second attempt computes again
    before = len(count_signatures)
    with pytest.raises(BadCertificateSignature):
        verify_chain(forged.cert, CHAIN.untrusted, store, at=NOW, server_name="example.com", signature_cache=cache)
    assert len(count_signatures) > before


def test_signature_cache_is_per_provider(count_signatures):
    cache = SignatureCache()
    _verify(TrustStore([CHAIN.root.cert]), signature_cache=cache)
    _verify(TrustStore([CHAIN.root.cert]), signature_cache=cache, provider=get_provider("pycryptodome"))
    assert len(count_signatures) == 4
    provider = dataclasses.replace(get_provider("cryptography"))
    provider.signature_schemes = dict(provider.signature_schemes)

    class Rejecting:
        def verify(self, *args, **kwargs):
            raise BadSignatureError("no")

    provider.signature_schemes["ecdsa_secp256r1_sha256"] = Rejecting()
    with pytest.raises(BadCertificateSignature):
        _verify(TrustStore([CHAIN.root.cert]), signature_cache=cache, provider=provider)


def test_signature_cache_is_bounded():
    cache = SignatureCache(size=3)
    provider = object()
    for n in range(10):
        cache.remember(provider, "s", b"k", bytes([n]), b"sig")
    assert len(cache) == 3
    assert cache.verified(provider, "s", b"k", bytes([9]), b"sig")
    assert not cache.verified(provider, "s", b"k", bytes([0]), b"sig")
    assert not cache.verified(object(), "s", b"k", bytes([9]), b"sig")
    assert not cache.verified(provider, "s", b"k", bytes([9]), b"sig2")
    cache.remember(provider, "s", b"k", bytearray(b"x"), b"sig")  # not immutable: not kept
    assert not cache.verified(provider, "s", b"k", b"x", b"sig")


def test_bounded_cache_evicts_oldest_first():
    cache: BoundedCache[int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # an update does not evict
    cache.put("c", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 4)
    with pytest.raises(ValueError):
        BoundedCache(0)


# -- names: prepared SANs and memoised references ---------------------------------------

_LABELS = st.sampled_from(["a", "b", "xn--bcher-kva", "ex-ample", "EXAMPLE", "com", "co", "*", "f*o", "1", "-a", ""])
_DNS = st.lists(_LABELS, min_size=1, max_size=4).map(".".join) | st.sampled_from(
    ["*.example.com", "example.com.", "*.com", "ex\u00e4mple.com", "a..b", "*.*.com", "www.example.com"]
)
_IPS = st.sampled_from(["127.0.0.1", "10.0.0.1", "::1", "2001:db8::1", "0.0.0.1"])


def _dns_name(value: str) -> x509.DNSName:
    # Parsed certificates may carry non-ASCII dNSNames, which the constructor refuses.
    return x509.DNSName(value) if value.isascii() else x509.DNSName._init_without_validation(value)


@settings(max_examples=300, deadline=None)
@given(
    sans=st.lists(st.one_of(_DNS.map(_dns_name), _IPS.map(lambda t: x509.IPAddress(ipaddress.ip_address(t)))), max_size=5),
    reference=st.one_of(_DNS, _IPS, st.sampled_from(["[::1]", "EXAMPLE.COM.", "a.example.com", "192.168.001.001"])),
)
def test_san_index_matches_exactly_as_match_reference(sans, reference):
    parsed = names.parse_reference(reference)
    if parsed is None:
        assert names.parse_reference_cached(reference) is None
        return
    assert names.index_matches(names.san_index(sans), parsed) == names.match_reference(sans, parsed)


def test_reference_names_are_immutable_and_memoised():
    first = names.parse_reference_cached("Example.COM")
    assert first is names.parse_reference_cached("Example.COM")
    assert (first.text, first.dns, first.ip) == ("Example.COM", "example.com", None)
    with pytest.raises(AttributeError):
        first.dns = "evil.example"
    with pytest.raises(AttributeError):
        del first.ip


# -- the SPKI curve lookup ---------------------------------------------------------------


def _curve_by_decoding(parameters: bytes | None) -> str | None:
    """The former reading: parse the OID TLV strictly and look its dotted form up."""
    if parameters is None:
        return None
    try:
        tlv = _der.read_single(parameters, _der.TAG_OID)
        return _oids.CURVES.get(_der.decode_oid(tlv.content(parameters)))
    except _der.DERError:
        return None


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.sampled_from([_der.encode(_der.TAG_OID, _der.encode_oid(oid)) for oid in _oids.CURVES]).flatmap(
            lambda good: st.sampled_from([good, good + b"\x00", good[:-1], good[:2] + b"\x80" + good[2:], b"\x06\x81" + good[1:]])
        ),
        st.binary(max_size=12),
    )
)
def test_spki_curve_is_the_strict_decoding(parameters):
    spki = _der.SubjectPublicKeyInfo(_oids.EC_PUBLIC_KEY, parameters, b"\x04")
    assert spki.curve == _curve_by_decoding(parameters)
    assert _der.SubjectPublicKeyInfo(_oids.EC_PUBLIC_KEY, bytearray(parameters), b"\x04").curve == spki.curve
