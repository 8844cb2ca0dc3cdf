"""Issue 16 path-validation findings, each checked on tlskit and, where the tools are
installed, confirmed against `openssl verify -x509_strict` and GnuTLS `certtool --verify`.

1. excluded directoryName subtrees compared after RFC 4518 preparation (case, spaces);
2. DNS constraints apply to a host-name-like CN when the SAN has no dNSName;
3. a critical TLS Feature (must-staple) extension is refused as unprocessed;
4. a critical subjectDirectoryAttributes extension is refused;
5. a presented dNSName with a trailing dot does not match.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

import pki_factory as f
from tlskit.pki import (
    CertificateError,
    MalformedCertificate,
    NameConstraintViolation,
    NameMismatch,
    UnsupportedCriticalExtension,
    verify_chain,
)
from tlskit.pki.names import directory_name_covers, prepare_string

OPENSSL = shutil.which("openssl")
CERTTOOL = shutil.which("certtool")

# The outside tools verify at the real current time (certtool has no --attime): the
# certificates here are valid around now.
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
WINDOW = dict(not_before=NOW - datetime.timedelta(days=1), not_after=NOW + datetime.timedelta(days=30))


def dn(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def build(leaf_subject, *, leaf_kwargs=None, ca_kwargs=None, tag=""):
    root = f.issue(f"Hardening Root{tag}", None, ca=True, slot=61, **WINDOW)
    inter = f.issue(f"Hardening CA{tag}", root, ca=True, slot=62, **WINDOW, **(ca_kwargs or {}))
    kwargs = {"eku": [f.SERVER, f.CLIENT], **WINDOW, **(leaf_kwargs or {})}
    leaf = f.issue(leaf_subject, inter, slot=63, **kwargs)
    return root, inter, leaf


def _pem(certs) -> bytes:
    return b"".join(c.cert.public_bytes(Encoding.PEM) for c in certs)


def tlskit_verdict(root, inter, leaf, name):
    try:
        verify_chain(leaf.cert, [inter.cert], [root.cert], server_name=name, usage="server" if name else "client", at=NOW)
        return True, ""
    except CertificateError as exc:
        return False, f"{type(exc).__name__}: {exc}"


def openssl_verdict(tmp_path, root, inter, leaf, name):
    (tmp_path / "root.pem").write_bytes(_pem([root]))
    (tmp_path / "inter.pem").write_bytes(_pem([inter]))
    (tmp_path / "leaf.pem").write_bytes(_pem([leaf]))
    args = [OPENSSL, "verify", "-x509_strict", "-CAfile", str(tmp_path / "root.pem"),
            "-untrusted", str(tmp_path / "inter.pem")]
    if name is not None:
        args += ["-verify_ip" if name[0].isdigit() else "-verify_hostname", name]
    result = subprocess.run(args + [str(tmp_path / "leaf.pem")], capture_output=True, text=True, timeout=60)
    return result.returncode == 0, result.stdout + result.stderr


def certtool_verdict(tmp_path, root, inter, leaf, name):
    (tmp_path / "root.pem").write_bytes(_pem([root]))
    (tmp_path / "chain.pem").write_bytes(_pem([leaf, inter]))
    args = [CERTTOOL, "--verify", "--load-ca-certificate", str(tmp_path / "root.pem"),
            "--infile", str(tmp_path / "chain.pem")]
    if name is not None:
        args.append(f"--verify-hostname={name}")
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return result.returncode == 0, result.stdout[-400:] + result.stderr[-400:]


def assert_all_agree(tmp_path, chain, name, expected, *, gnutls=True):
    """tlskit gives ``expected``; openssl and certtool (when installed) give the same.

    ``gnutls=False``: GnuTLS 3.7 does not evaluate directoryName constraints the RFC
    5280 way (it refuses every chain under an excluded one and lets a name outside a
    permitted one through), so it is not a reference for them."""
    ours, why = tlskit_verdict(*chain, name)
    assert ours == expected, why
    if OPENSSL is not None:
        theirs, why_theirs = openssl_verdict(tmp_path, *chain, name)
        assert theirs == expected, f"openssl: {why_theirs}"
    if CERTTOOL is not None and gnutls:
        theirs, why_theirs = certtool_verdict(tmp_path, *chain, name)
        assert theirs == expected, f"certtool: {why_theirs}"


# -- 1. directoryName constraints: RFC 4518 string preparation ------------------------

BLOCKED = dn((NameOID.ORGANIZATION_NAME, "Acme"), (NameOID.ORGANIZATIONAL_UNIT_NAME, "Blocked Unit"))


def _ou_leaf(ou: str) -> x509.Name:
    return dn((NameOID.ORGANIZATION_NAME, "Acme"), (NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
              (NameOID.COMMON_NAME, "example.com"))


@pytest.mark.parametrize("ou", ["Blocked Unit", "BLOCKED UNIT", "Blocked  Unit", " blocked unit ", "Blocked\u00a0Unit"])
def test_excluded_directory_name_variants_are_caught(tmp_path, ou):
    chain = build(_ou_leaf(ou), leaf_kwargs={"sans": ["example.com"]},
                  ca_kwargs={"excluded": [x509.DirectoryName(BLOCKED)]}, tag=" dn-excl")
    ours, why = tlskit_verdict(*chain, "example.com")
    assert not ours and "NameConstraintViolation" in why and "excluded" in why
    if ou.isascii():  # what the outside verifiers are known to fold (ASCII case and spaces)
        assert_all_agree(tmp_path, chain, "example.com", False)


def test_directory_name_outside_excluded_subtree_passes(tmp_path):
    chain = build(_ou_leaf("Open Unit"), leaf_kwargs={"sans": ["example.com"]},
                  ca_kwargs={"excluded": [x509.DirectoryName(BLOCKED)]}, tag=" dn-excl")
    assert_all_agree(tmp_path, chain, "example.com", True, gnutls=False)


def test_permitted_directory_name_compares_case_insensitively(tmp_path):
    permitted = dn((NameOID.ORGANIZATION_NAME, "Acme"))
    inside = build(dn((NameOID.ORGANIZATION_NAME, "ACME  "), (NameOID.COMMON_NAME, "example.com")),
                   leaf_kwargs={"sans": ["example.com"]}, ca_kwargs={"permitted": [x509.DirectoryName(permitted)]}, tag=" dn-perm")
    assert_all_agree(tmp_path, inside, "example.com", True, gnutls=False)
    outside = build(dn((NameOID.ORGANIZATION_NAME, "Acme Evil"), (NameOID.COMMON_NAME, "example.com")),
                    leaf_kwargs={"sans": ["example.com"]}, ca_kwargs={"permitted": [x509.DirectoryName(permitted)]}, tag=" dn-perm")
    assert_all_agree(tmp_path, outside, "example.com", False, gnutls=False)


def test_prepare_string_rfc4518():
    assert prepare_string("  Blocked \t  UNIT ") == "blocked unit"
    assert prepare_string("Stra\u00dfe") == prepare_string("STRASSE")  # full case folding
    assert prepare_string("\uff21\u00adBC") == "abc"  # NFKC, soft hyphen mapped to nothing
    assert prepare_string("   ") == ""
    assert prepare_string("Blocked Unit") != prepare_string("BlockedUnit")  # inner space is significant


# -- 2. DNS constraints on a host-name-like CN without a dNSName SAN --------------------


@pytest.mark.parametrize("sans", [["192.0.2.7"], ["192.0.2.7", "admin@other.test"]])
@pytest.mark.parametrize("constraint", [{"excluded": ["example.com"]}, {"permitted": ["other.test", "192.0.2.0/24"]}])
def test_cn_constrained_when_san_has_no_dns_name(tmp_path, sans, constraint):
    if "permitted" in constraint and len(sans) > 1:
        constraint = {"permitted": [*constraint["permitted"], "@other.test"]}
    chain = build("www.example.com", leaf_kwargs={"sans": sans}, ca_kwargs=constraint, tag=" cn")
    ours, why = tlskit_verdict(*chain, "192.0.2.7")
    assert not ours and "DNSName(www.example.com)" in why, why
    assert_all_agree(tmp_path, chain, "192.0.2.7", False)


def test_cn_ignored_when_san_has_a_dns_name(tmp_path):
    # The SAN's dNSName is what is constrained then; the CN is not a host name to check.
    chain = build("www.example.com", leaf_kwargs={"sans": ["ok.other.test", "192.0.2.7"]},
                  ca_kwargs={"permitted": ["other.test", "192.0.2.0/24"]}, tag=" cn")
    assert_all_agree(tmp_path, chain, "192.0.2.7", True)


def test_cn_that_is_not_a_host_name_is_not_constrained(tmp_path):
    chain = build("Example Web Server", leaf_kwargs={"sans": ["192.0.2.7"]},
                  ca_kwargs={"excluded": ["example.com"]}, tag=" cn")
    assert_all_agree(tmp_path, chain, "192.0.2.7", True)


# -- 3. critical TLS Feature (must-staple) ------------------------------------------------

MUST_STAPLE = x509.TLSFeature([x509.TLSFeatureType.status_request])


def test_critical_must_staple_is_refused():
    chain = build("example.com", leaf_kwargs={"extra": [(MUST_STAPLE, True)]}, tag=" staple")
    with pytest.raises(UnsupportedCriticalExtension, match="must-staple") as info:
        verify_chain(chain[2].cert, [chain[1].cert], [chain[0].cert], server_name="example.com", at=NOW)
    assert info.value.alert.name == "unsupported_certificate"


def test_noncritical_must_staple_is_accepted():
    chain = build("example.com", leaf_kwargs={"extra": [(MUST_STAPLE, False)]}, tag=" staple")
    verify_chain(chain[2].cert, [chain[1].cert], [chain[0].cert], server_name="example.com", at=NOW)


# -- 4. critical subjectDirectoryAttributes ---------------------------------------------

# SEQUENCE { Attribute { dateOfBirth (1.3.6.1.5.5.7.9.1), SET { GeneralizedTime } } }
_SDA_VALUE = bytes.fromhex("301f301d06082b06010505070901311118") + b"\x0f19700101120000Z"
SDA_OID = x509.ObjectIdentifier("2.5.29.9")


@pytest.mark.parametrize("where", ["leaf", "ca"])
def test_critical_subject_directory_attributes_rejected(tmp_path, where):
    extension = [(x509.UnrecognizedExtension(SDA_OID, _SDA_VALUE), True)]
    kwargs = {"leaf_kwargs": {"extra": extension}} if where == "leaf" else {"ca_kwargs": {"extra": extension}}
    chain = build("example.com", tag=" sda", **kwargs)
    with pytest.raises(MalformedCertificate, match="must not be critical"):
        verify_chain(chain[2].cert, [chain[1].cert], [chain[0].cert], server_name="example.com", at=NOW)
    assert_all_agree(tmp_path, chain, "example.com", False)


def test_noncritical_subject_directory_attributes_accepted(tmp_path):
    chain = build("example.com", leaf_kwargs={"extra": [(x509.UnrecognizedExtension(SDA_OID, _SDA_VALUE), False)]}, tag=" sda")
    assert_all_agree(tmp_path, chain, "example.com", True)


# -- 5. trailing dot in a presented dNSName ---------------------------------------------


def test_san_with_trailing_dot_does_not_match(tmp_path):
    chain = build("www.example.com", leaf_kwargs={"sans": ["www.example.com."]}, tag=" dot")
    with pytest.raises(NameMismatch):
        verify_chain(chain[2].cert, [chain[1].cert], [chain[0].cert], server_name="www.example.com", at=NOW)
    assert_all_agree(tmp_path, chain, "www.example.com", False)


def test_reference_trailing_dot_is_ignored():
    chain = build("www.example.com", leaf_kwargs={"sans": ["www.example.com"]}, tag=" dot")
    verify_chain(chain[2].cert, [chain[1].cert], [chain[0].cert], server_name="www.example.com.", at=NOW)
    with pytest.raises(NameMismatch):
        bad = build("www.example.com", leaf_kwargs={"sans": ["*.example.com."]}, tag=" dot")
        verify_chain(bad[2].cert, [bad[1].cert], [bad[0].cert], server_name="www.example.com", at=NOW)


def test_excluded_subtree_still_catches_trailing_dot_san():
    chain = build("www.example.com", leaf_kwargs={"sans": ["www.example.com."]}, ca_kwargs={"excluded": ["example.com"]}, tag=" dot")
    with pytest.raises(NameConstraintViolation):
        verify_chain(chain[2].cert, [chain[1].cert], [chain[0].cert], server_name=None, usage="client", at=NOW)


_WORDS = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=8),
                  min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(words=_WORDS, flips=st.lists(st.booleans(), min_size=40, max_size=40),
       gaps=st.lists(st.integers(1, 3), min_size=4, max_size=4), pad=st.tuples(st.integers(0, 2), st.integers(0, 2)))
def test_no_case_or_space_variant_escapes_an_excluded_directory_name(words, flips, gaps, pad):
    value = " ".join(words)
    variant = "".join(ch.swapcase() if flip else ch for ch, flip in zip(value, flips + [False] * len(value)))
    parts = variant.split(" ")
    variant = parts[0] + "".join(" " * gap + part for gap, part in zip(gaps, parts[1:]))
    variant = " " * pad[0] + variant + " " * pad[1]
    excluded = dn((NameOID.ORGANIZATION_NAME, "Acme"), (NameOID.ORGANIZATIONAL_UNIT_NAME, value))
    subject = dn((NameOID.ORGANIZATION_NAME, "ACME"), (NameOID.ORGANIZATIONAL_UNIT_NAME, variant),
                 (NameOID.COMMON_NAME, "example.com"))
    assert directory_name_covers(excluded, subject)
    other = dn((NameOID.ORGANIZATION_NAME, "Acme"), (NameOID.ORGANIZATIONAL_UNIT_NAME, value + "x"))
    assert not directory_name_covers(other, subject)
