"""Each path-validation rule of tlskit.pki, positive and negative, on generated PKIs."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

import pki_factory as f
from tlskit.errors import AlertDescription
from tlskit.pki import (
    BadCertificateSignature,
    CertificateError,
    Expired,
    MalformedCertificate,
    NameConstraintViolation,
    NameMismatch,
    NotAuthorizedForUsage,
    NotYetValid,
    PathBuildingExhausted,
    PathLenExceeded,
    TrustStore,
    UnknownIssuer,
    UnsupportedCertificateAlgorithm,
    UnsupportedCriticalExtension,
    verify_chain,
)

NOW = f.NOW
DAY = datetime.timedelta(days=1)


def verify(c: f.Chain, **kwargs):
    kwargs.setdefault("at", NOW)
    kwargs.setdefault("server_name", "example.com")
    return verify_chain(c.leaf.cert, c.untrusted, [c.root.cert], **kwargs)


# -- signatures and algorithms ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["p256", "p384", "p521", "ed25519", "ed448", "rsa2048"])
def test_key_types_validate(kind):
    c = f.chain(2, key_kind=kind, tag=kind)
    path = verify(c)
    assert path.certificates == c.path
    assert path.leaf == c.leaf.cert and path.anchor == c.root.cert and len(path.intermediates) == 2


@pytest.mark.parametrize("hash_alg", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_ecdsa_hash_not_bound_to_curve(hash_alg):
    root = f.issue("Root H", ca=True)
    leaf = f.issue("example.com", root, hash_alg=hash_alg)
    verify_chain(leaf.cert, [], [root.cert], server_name="example.com", at=NOW)


@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_rsa_pss_certificates(provider):
    root = f.issue("Root PSS", ca=True, key_kind="rsa2048", slot=1)
    leaf = f.issue("example.com", root, rsa_padding=f.PSS_SHA256)
    verify_chain(leaf.cert, [], [root.cert], server_name="example.com", at=NOW, provider=provider)


def test_rsa_pss_wrong_salt_length_rejected():
    root = f.issue("Root PSS", ca=True, key_kind="rsa2048", slot=1)
    bad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
    leaf = f.issue("example.com", root, rsa_padding=bad)
    with pytest.raises(UnsupportedCertificateAlgorithm, match="salt"):
        verify_chain(leaf.cert, [], [root.cert], at=NOW)


def test_sha1_signature_rejected():
    # cryptography refuses to sign with SHA-1, so relabel a sha256WithRSAEncryption
    # certificate as sha1WithRSAEncryption (same OID length, inner and outer): the
    # algorithm policy must refuse it before any signature check.
    root = f.issue("Root SHA1", ca=True, key_kind="rsa2048", slot=1)
    leaf = f.issue("example.com", root)
    sha256_rsa = bytes.fromhex("2a864886f70d01010b")
    assert leaf.der.count(sha256_rsa) == 2
    relabelled = leaf.der.replace(sha256_rsa, bytes.fromhex("2a864886f70d010105"))
    # RFC 8446 4.4.2.4 RECOMMENDS bad_certificate for SHA-1 (it MUSTs it for MD5).
    with pytest.raises(UnsupportedCertificateAlgorithm, match="SHA-1") as info:
        verify_chain(relabelled, [], [root.cert], at=NOW)
    assert info.value.alert == AlertDescription.bad_certificate


def test_inner_and_outer_signature_algorithms_must_match():
    root = f.issue("Root SHA", ca=True, key_kind="rsa2048", slot=1)
    leaf = f.issue("example.com", root)
    sha256_rsa = bytes.fromhex("2a864886f70d01010b")
    first = leaf.der.index(sha256_rsa)
    mixed = leaf.der[:first] + bytes.fromhex("2a864886f70d01010c") + leaf.der[first + len(sha256_rsa):]
    with pytest.raises(MalformedCertificate, match="4.1.1.2"):
        verify_chain(mixed, [], [root.cert], at=NOW)


def test_tampered_signature():
    c = f.chain(1)
    der = bytearray(c.leaf.der)
    der[-5] ^= 0x01
    with pytest.raises(BadCertificateSignature):
        verify_chain(bytes(der), c.untrusted, [c.root.cert], at=NOW)


def test_provider_without_scheme():
    c = f.chain(1)
    with pytest.raises(UnsupportedCertificateAlgorithm, match="pynacl"):
        verify(c, provider="pynacl")
    ed = f.chain(1, key_kind="ed25519", tag="ed")
    verify(ed, provider="pynacl")


@pytest.mark.parametrize("kind", ["rsa1024", "p192"])
def test_weak_keys_rejected(kind):
    root = f.issue("Root weak", ca=True)
    leaf = f.issue("example.com", root, key_kind=kind, slot=3)
    with pytest.raises(UnsupportedCertificateAlgorithm):
        verify_chain(leaf.cert, [], [root.cert], at=NOW)


# -- path building ---------------------------------------------------------------------


def test_out_of_order_and_extra_certificates():
    c = f.chain(3)
    other = f.chain(1, tag="other")
    mess = [other.leaf.cert, c.untrusted[2], other.root.cert, c.untrusted[0], c.untrusted[1], other.untrusted[0]]
    path = verify_chain(c.leaf.cert, mess, [c.root.cert, other.root.cert], server_name="example.com", at=NOW)
    assert path.certificates == c.path


def test_intermediate_in_store_ends_the_path():
    c = f.chain(2)
    path = verify_chain(c.leaf.cert, [], [c.intermediates[-1].cert], server_name="example.com", at=NOW)
    assert path.certificates == [c.leaf.cert, c.intermediates[-1].cert]


def test_backtracks_past_expired_cross_sign():
    root = f.issue("Root New", ca=True, slot=1)
    old_root = f.issue("Root Old", ca=True, slot=2)
    ica_key = f.key("p256", 3)
    expired = f.issue("ICA", old_root, ca=True, private_key=ica_key, not_after=NOW - DAY)
    good = f.issue("ICA", root, ca=True, private_key=ica_key)
    leaf = f.issue("example.com", good)
    path = verify_chain(leaf.cert, [expired.cert, good.cert], TrustStore([old_root.cert, root.cert]), at=NOW)
    assert path.certificates == [leaf.cert, good.cert, root.cert]
    with pytest.raises(Expired):
        verify_chain(leaf.cert, [expired.cert], [old_root.cert], at=NOW)


def test_aki_picks_the_right_rekeyed_issuer():
    root = f.issue("Root", ca=True, slot=1)
    old = f.issue("ICA", root, ca=True, slot=4)
    new = f.issue("ICA", root, ca=True, slot=5)
    leaf = f.issue("example.com", new)
    path = verify_chain(leaf.cert, [old.cert, new.cert], [root.cert], at=NOW)
    assert path.intermediates == [new.cert]


def test_unknown_issuer_and_self_signed_leaf():
    c = f.chain(1)
    with pytest.raises(UnknownIssuer) as info:
        verify_chain(c.leaf.cert, [], [c.root.cert], at=NOW)
    assert info.value.alert == AlertDescription.unknown_ca
    selfsigned = f.issue("example.com", None)
    with pytest.raises(UnknownIssuer, match="self-signed"):
        verify_chain(selfsigned.cert, [], [c.root.cert], at=NOW)
    # Pinned: the self-signed leaf itself is the trust anchor.
    path = verify_chain(selfsigned.cert, [], [selfsigned.cert], server_name="example.com", at=NOW)
    assert path.certificates == [selfsigned.cert]


def test_max_depth():
    c = f.chain(2)
    verify(c, max_depth=2)
    with pytest.raises(PathLenExceeded):
        verify(c, max_depth=1)
    with pytest.raises(PathLenExceeded):
        verify(f.chain(1, tag="d"), max_depth=0)


def test_work_budget_on_many_bad_candidates():
    root = f.issue("Root", ca=True, slot=1)
    real = f.issue("ICA", root, ca=True, slot=7)
    leaf = f.issue("example.com", real)
    # 150 valid-looking CAs with the leaf's issuer name and the SKI its AKI names, none
    # holding the signing key: each costs a signature check.
    claimed = x509.SubjectKeyIdentifier(leaf.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier)
    fakes = [
        f.issue("ICA", root, ca=True, slot=8 + (i % 3), serial=1000 + i, ski=False, extra=[(claimed, False)]).cert
        for i in range(150)
    ]
    with pytest.raises(PathBuildingExhausted) as info:
        verify_chain(leaf.cert, fakes, [root.cert], at=NOW)
    assert "signature checks" in str(info.value)
    assert info.value.alert == AlertDescription.unknown_ca
    # The real issuer listed first is found at once.
    verify_chain(leaf.cert, [real.cert] + fakes, [root.cert], at=NOW)


def test_cycle_terminates():
    a_key, b_key = f.key("p256", 11), f.key("p256", 12)
    a_self = f.issue("CA A", None, ca=True, private_key=a_key)
    b_self = f.issue("CA B", None, ca=True, private_key=b_key)
    a_by_b = f.issue("CA A", b_self, ca=True, private_key=a_key)
    b_by_a = f.issue("CA B", a_self, ca=True, private_key=b_key)
    leaf = f.issue("example.com", a_self)
    unrelated = f.issue("Elsewhere", ca=True, slot=13)
    with pytest.raises(UnknownIssuer):
        verify_chain(leaf.cert, [a_by_b.cert, b_by_a.cert], [unrelated.cert], at=NOW)


# -- validity --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["leaf", "intermediate", "root"])
def test_expired(who):
    kwargs = {"not_after": NOW - DAY}
    c = f.chain(1, root_kwargs=kwargs if who == "root" else None,
                intermediate_kwargs=kwargs if who == "intermediate" else None,
                leaf_kwargs=kwargs if who == "leaf" else None, tag=who)
    with pytest.raises(Expired):
        verify(c)
    verify(c, at=NOW - 2 * DAY)


def test_not_yet_valid_and_boundaries():
    c = f.chain(1, leaf_kwargs={"not_before": NOW + DAY, "not_after": NOW + 2 * DAY})
    with pytest.raises(NotYetValid) as info:
        verify(c)
    assert info.value.alert == AlertDescription.certificate_expired
    verify(c, at=NOW + DAY)  # notBefore is inclusive
    verify(c, at=NOW + 2 * DAY + datetime.timedelta(microseconds=999_999))  # second granularity
    with pytest.raises(Expired):
        verify(c, at=NOW + 2 * DAY + datetime.timedelta(seconds=1))


def test_naive_datetime_refused():
    with pytest.raises(ValueError):
        verify(f.chain(1), at=datetime.datetime(2026, 1, 1))


# -- basicConstraints / pathLen / keyUsage ---------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bc": None},
        {"bc": x509.BasicConstraints(ca=False, path_length=None)},
        {"bc_critical": False},
        {"key_usage": {"digital_signature": True}},
    ],
    ids=["no-bc", "ca-false", "bc-noncritical", "no-keycertsign"],
)
def test_intermediate_must_be_a_ca(kwargs):
    c = f.chain(1, intermediate_kwargs=kwargs)
    with pytest.raises(NotAuthorizedForUsage):
        verify(c)


def test_key_usage_required_on_intermediates_not_anchors():
    with pytest.raises(NotAuthorizedForUsage, match="keyUsage"):
        verify(f.chain(1, intermediate_kwargs={"key_usage": None}))
    verify(f.chain(1, root_kwargs={"key_usage": None}, tag="root-no-ku"))


def test_path_length():
    verify(f.chain(2, root_kwargs={"path_length": 2}, tag="pl2"))
    verify(f.chain(1, root_kwargs={"path_length": 1}, intermediate_kwargs={"path_length": 0}, tag="pl10"))
    with pytest.raises(PathLenExceeded):
        verify(f.chain(2, root_kwargs={"path_length": 1}, tag="pl1"))
    with pytest.raises(PathLenExceeded):
        verify(f.chain(3, intermediate_kwargs={"path_length": 1}, tag="pl-ica"))


def test_self_issued_intermediate_not_counted_for_path_length():
    root = f.issue("Root SI", ca=True, path_length=1, slot=1)
    old = f.issue("ICA SI", root, ca=True, slot=2)
    rollover = f.issue("ICA SI", old, ca=True, slot=3)  # same name, new key: self-issued
    leaf = f.issue("example.com", rollover)
    verify_chain(leaf.cert, [rollover.cert, old.cert], [root.cert], at=NOW)


@pytest.mark.parametrize(
    "key_usage,error",
    [
        ({"digital_signature": True, "key_encipherment": True}, None),
        ({"key_encipherment": True}, NotAuthorizedForUsage),
        ({"digital_signature": True, "key_cert_sign": True}, NotAuthorizedForUsage),
        (None, None),
    ],
)
def test_leaf_key_usage(key_usage, error):
    c = f.chain(1, leaf_kwargs={"key_usage": key_usage})
    if error is None:
        verify(c)
    else:
        with pytest.raises(error):
            verify(c)


def test_ca_certificate_as_leaf_rejected():
    c = f.chain(1, leaf_kwargs={"ca": True})
    with pytest.raises(NotAuthorizedForUsage, match="CA certificate"):
        verify(c)


# -- extendedKeyUsage ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "eku,usage,ok",
    [
        ([f.SERVER], "server", True),
        ([f.SERVER], "client", False),
        ([f.CLIENT], "client", True),
        ([f.CLIENT], "server", False),
        (None, "server", True),
        (None, "client", True),
        ([f.ANY_EKU], "server", False),
        ([f.SERVER, f.ANY_EKU], "server", True),
    ],
)
def test_leaf_eku(eku, usage, ok):
    c = f.chain(1, leaf_kwargs={"eku": eku})
    if ok:
        verify(c, usage=usage)
    else:
        with pytest.raises(NotAuthorizedForUsage, match="extendedKeyUsage"):
            verify(c, usage=usage)


@pytest.mark.parametrize("eku,ok", [([f.SERVER], True), ([f.ANY_EKU], True), ([f.CLIENT], False)])
def test_intermediate_eku_constrains(eku, ok):
    c = f.chain(1, intermediate_kwargs={"eku": eku})
    if ok:
        verify(c)
    else:
        with pytest.raises(NotAuthorizedForUsage):
            verify(c)


# -- extensions ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["leaf", "intermediate", "root"])
def test_unknown_critical_extension(who):
    ext = {"extra": [f.unknown_extension(critical=True)]}
    c = f.chain(1, root_kwargs=ext if who == "root" else None,
                intermediate_kwargs=ext if who == "intermediate" else None,
                leaf_kwargs=ext if who == "leaf" else None, tag=who)
    with pytest.raises(UnsupportedCriticalExtension) as info:
        verify(c)
    assert info.value.alert == AlertDescription.unsupported_certificate
    ok = {"extra": [f.unknown_extension(critical=False)]}
    verify(f.chain(1, root_kwargs=ok, intermediate_kwargs=ok, leaf_kwargs=ok, tag=who + "ok"))


def test_missing_ski_and_aki():
    with pytest.raises(MalformedCertificate, match="subjectKeyIdentifier"):
        verify(f.chain(1, intermediate_kwargs={"ski": False}))
    with pytest.raises(MalformedCertificate, match="authorityKeyIdentifier"):
        verify(f.chain(1, leaf_kwargs={"aki": False}))


def test_server_leaf_needs_san():
    c = f.chain(1, leaf_kwargs={"sans": None})
    with pytest.raises(MalformedCertificate, match="subjectAltName"):
        verify(c, server_name=None)
    verify(c, server_name=None, usage="client")


def test_negative_serial_rejected_in_leaf():
    import warnings

    root = f.issue("Root Serial", ca=True, slot=1)
    leaf = f.issue("example.com", root, serial=0x7F << 152)
    der = bytearray(leaf.der)
    at = der.index(bytes([0x02, 20, 0x7F]))  # the serial INTEGER: make it negative
    der[at + 2] = 0xFF
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MalformedCertificate, match="serial"):
            verify_chain(bytes(der), [], [root.cert], at=NOW)


# -- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sans,reference,ok",
    [
        (["example.com"], "EXAMPLE.com", True),
        (["Example.COM"], "example.com.", True),
        (["*.example.com"], "foo.example.com", True),
        (["*.example.com"], "example.com", False),
        (["*.example.com"], "a.b.example.com", False),
        (["f*.example.com"], "foo.example.com", False),
        (["*.com"], "example.com", False),
        (["foo.*.com"], "foo.bar.com", False),
        (["xn--bcher-kva.example"], "bücher.example", True),
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["::1"], "0:0:0:0:0:0:0:1", True),
        (["2001:db8::1"], "[2001:DB8::1]", True),
        ([x509.DNSName("127.0.0.1")], "127.0.0.1", False),
        (["127.0.0.1"], "localhost", False),
        (["example.com"], "exa_mple.com", False),
        (["example.com"], "127.000.000.001", False),
    ],
)
def test_server_name_matching(sans, reference, ok):
    c = f.chain(1, leaf_kwargs={"sans": sans})
    if ok:
        verify(c, server_name=reference)
    else:
        with pytest.raises(NameMismatch):
            verify(c, server_name=reference)


def test_no_common_name_fallback():
    c = f.chain(1, leaf_name="example.com", leaf_kwargs={"sans": ["other.example"]})
    with pytest.raises(NameMismatch):
        verify(c, server_name="example.com")


# -- name constraints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "permitted,excluded,sans,ok",
    [
        (["example.com"], None, ["example.com"], True),
        (["example.com"], None, ["a.b.example.com"], True),
        (["example.com"], None, ["badexample.com"], False),
        (["example.com"], None, ["example.org"], False),
        (None, ["bad.example.com"], ["good.example.com"], True),
        (None, ["bad.example.com"], ["x.bad.example.com"], False),
        (None, ["bad.example.com"], ["*.example.com"], False),
        (["example.com"], None, ["*.example.com"], True),
        (["a.example.com"], None, ["*.example.com"], False),
        (["10.0.0.0/8"], None, ["10.1.2.3"], True),
        (["10.0.0.0/8"], None, ["11.1.2.3"], False),
        (None, ["10.0.0.0/8"], ["10.1.2.3"], False),
        (["2001:db8::/32"], None, ["2001:db8::5"], True),
        (["2001:db8::/32"], None, ["2001:db9::5"], False),
        (["10.0.0.0/8"], None, ["::ffff:10.0.0.1"], False),
        (["10.0.0.0/8"], None, ["example.com"], True),  # other name types are unconstrained
        (["example.com"], ["10.0.0.0/8"], ["example.com", "10.0.0.1"], False),
    ],
)
def test_dns_and_ip_name_constraints(permitted, excluded, sans, ok):
    c = f.chain(1, intermediate_kwargs={"permitted": permitted, "excluded": excluded}, leaf_kwargs={"sans": sans})
    if ok:
        verify(c, server_name=None)
    else:
        with pytest.raises(NameConstraintViolation) as info:
            verify(c, server_name=None)
        assert info.value.alert == AlertDescription.bad_certificate


@pytest.mark.parametrize(
    "subtree,email,ok",
    [
        ("user@example.com", "user@example.com", True),
        ("user@example.com", "other@example.com", False),
        ("@example.com", "anyone@EXAMPLE.com", True),
        ("@example.com", "anyone@sub.example.com", False),
        ("@.example.com", "anyone@sub.example.com", True),
        ("@.example.com", "anyone@example.com", False),
    ],
)
def test_email_name_constraints(subtree, email, ok):
    c = f.chain(1, intermediate_kwargs={"permitted": [subtree]}, leaf_kwargs={"sans": [email], "eku": [f.CLIENT]})
    if ok:
        verify(c, usage="client", server_name=None)
    else:
        with pytest.raises(NameConstraintViolation):
            verify(c, usage="client", server_name=None)


def test_directory_name_constraints():
    permitted = x509.DirectoryName(f.name(None, O="Good Org"))
    good = f.chain(1, intermediate_kwargs={"permitted": [permitted]},
                   leaf_kwargs={"sans": ["example.com"]}, leaf_name="example.com")
    with pytest.raises(NameConstraintViolation):
        verify(good)  # subject CN=example.com is not under O=Good Org
    root = f.issue("Root DN", ca=True, slot=1)
    ica = f.issue("ICA DN", root, ca=True, permitted=[permitted], slot=2)
    leaf = f.issue(f.name("example.com", O="Good Org"), ica, sans=["example.com"])
    verify_chain(leaf.cert, [ica.cert], [root.cert], at=NOW, server_name="example.com")


def test_constraints_apply_to_intermediates_and_cn_without_san():
    root = f.issue("Root NC", ca=True, permitted=["example.com"], slot=1)
    ica = f.issue("ICA NC", root, ca=True, sans=["ica.example.org"], slot=2)
    leaf = f.issue("example.com", ica)
    with pytest.raises(NameConstraintViolation, match="ica.example.org"):
        verify_chain(leaf.cert, [ica.cert], [root.cert], at=NOW)
    # A client leaf with no SAN: its host-like CN is checked against DNS constraints.
    ica2 = f.issue("ICA NC2", None, ca=True, permitted=["example.com"], slot=3)
    client = f.issue("host.example.org", ica2, sans=None, eku=[f.CLIENT])
    with pytest.raises(NameConstraintViolation):
        verify_chain(client.cert, [], [ica2.cert], usage="client", at=NOW)


def test_name_constraints_in_leaf_rejected():
    c = f.chain(1, leaf_kwargs={"permitted": ["example.com"]})
    with pytest.raises(MalformedCertificate, match="nameConstraints"):
        verify(c)


# -- error messages ---------------------------------------------------------------------


def test_errors_name_certificate_and_rule():
    c = f.chain(1, intermediate_kwargs={"not_after": NOW - DAY})
    with pytest.raises(CertificateError) as info:
        verify(c)
    text = str(info.value)
    assert "Test Intermediate 0" in text and "serial=0x" in text and "rule: validity" in text
    assert info.value.certificate == c.intermediates[0].cert


def test_provider_leaking_library_errors_still_gives_bad_signature():
    from tlskit.providers import get_provider
    from tlskit.providers.base import Provider, SignatureScheme

    class Leaky(SignatureScheme):
        name, code = "ecdsa_secp256r1_sha256", 0x0403

        def verify(self, public_key, message, signature, *, strict_curve=True):
            raise RuntimeError("library exploded")

    real = get_provider("cryptography")
    leaky = Provider("leaky", real.cipher_suites, real.groups, {"ecdsa_secp256r1_sha256": Leaky()}, None, None)
    with pytest.raises(BadCertificateSignature, match="RuntimeError"):
        verify(f.chain(1), provider=leaky)


def test_key_identifiers_are_hints_not_filters():
    # The root was re-issued with a different SKI method but the same key: the leaf's AKI
    # no longer matches any SKI, yet the signature does.
    root_key = f.key("p256", 51)
    reissued = f.issue("Root Reissued", None, ca=True, private_key=root_key, ski=False,
                       extra=[(x509.SubjectKeyIdentifier(b"\x01" * 20), False)])
    original = f.issue("Root Reissued", None, ca=True, private_key=root_key)
    leaf = f.issue("example.com", original)
    assert leaf.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier != b"\x01" * 20
    path = verify_chain(leaf.cert, [], [reissued.cert], at=NOW, server_name="example.com")
    assert path.anchor == reissued.cert


def test_pinned_self_signed_ca_style_leaf():
    # What `openssl req -x509` produces: self-signed, cA=TRUE, SAN, no EKU.
    pinned = f.issue("localhost", None, ca=True, sans=["localhost"], key_usage=None)
    path = verify_chain(pinned.cert, [], [pinned.cert], server_name="localhost", at=NOW)
    assert path.certificates == [pinned.cert]
    with pytest.raises(NameMismatch):
        verify_chain(pinned.cert, [], [pinned.cert], server_name="example.com", at=NOW)
    with pytest.raises(Expired):
        verify_chain(pinned.cert, [], [pinned.cert], at=NOW + 400 * DAY)
    client_only = f.issue("localhost", None, ca=True, sans=["localhost"], eku=[f.CLIENT], slot=52)
    with pytest.raises(NotAuthorizedForUsage):
        verify_chain(client_only.cert, [], [client_only.cert], at=NOW)
    # The same kind of certificate is not acceptable as a leaf when only its issuer is trusted.
    root = f.issue("Root P", ca=True, slot=53)
    ca_leaf = f.issue("localhost", root, ca=True, sans=["localhost"])
    with pytest.raises(NotAuthorizedForUsage, match="CA certificate"):
        verify_chain(ca_leaf.cert, [], [root.cert], at=NOW)


# -- RFC 8446 4.4.2.4: MD5-signed certificates abort with bad_certificate ----------------


def _relabelled(leaf, new_oid_hex: str) -> bytes:
    # cryptography will not sign with MD5: relabel sha256WithRSAEncryption (same OID
    # length, inner and outer) so the policy must decide before any signature check
    sha256_rsa = bytes.fromhex("2a864886f70d01010b")
    assert leaf.der.count(sha256_rsa) == 2
    return leaf.der.replace(sha256_rsa, bytes.fromhex(new_oid_hex))


def test_an_md5_signed_certificate_is_a_bad_certificate():
    from tlskit.pki import ForbiddenSignatureAlgorithm

    root = f.issue("Root MD5", ca=True, key_kind="rsa2048", slot=1)
    leaf = f.issue("example.com", root)
    # not unsupported_certificate: RFC 8446 4.4.2.4 says "MUST abort the handshake with a
    # bad_certificate alert".
    with pytest.raises(ForbiddenSignatureAlgorithm, match="md5WithRSAEncryption") as info:
        verify_chain(_relabelled(leaf, "2a864886f70d010104"), [], [root.cert], at=f.NOW)
    assert info.value.alert == AlertDescription.bad_certificate
    assert isinstance(info.value, UnsupportedCertificateAlgorithm)  # still an algorithm-policy refusal
    # SHA-1: the same refusal and alert, which 4.4.2.4 RECOMMENDS (docs/pki.md)
    with pytest.raises(ForbiddenSignatureAlgorithm, match="SHA-1") as info:
        verify_chain(_relabelled(leaf, "2a864886f70d010105"), [], [root.cert], at=f.NOW)
    assert info.value.alert == AlertDescription.bad_certificate


def test_rsassa_pss_with_an_md5_hash_is_a_bad_certificate():
    from tlskit._der import AlgorithmIdentifier
    from tlskit.pki import ForbiddenSignatureAlgorithm
    from tlskit.pki.algorithms import scheme_for

    def tlv(tag: int, content: bytes) -> bytes:
        assert len(content) < 128
        return bytes([tag, len(content)]) + content

    md5 = tlv(0x30, bytes.fromhex("06082a864886f70d0205") + b"\x05\x00")  # AlgorithmIdentifier md5, NULL
    mgf1_md5 = tlv(0x30, bytes.fromhex("06092a864886f70d010108") + md5)
    params = tlv(0x30, tlv(0xA0, md5) + tlv(0xA1, mgf1_md5) + tlv(0xA2, bytes.fromhex("020110")))
    algorithm = AlgorithmIdentifier("1.2.840.113549.1.1.10", params, tlv(0x30, bytes.fromhex("06092a864886f70d01010a") + params))
    with pytest.raises(ForbiddenSignatureAlgorithm, match="MD5") as info:
        scheme_for(algorithm, "1.2.840.113549.1.1.1")
    assert info.value.alert == AlertDescription.bad_certificate
