"""tlskit.pki.names: RFC 6125 matching and name-constraint subtrees, with hypothesis."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pki_factory as f
from tlskit.pki import NameMismatch, names, verify_chain

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
LABEL = st.one_of(
    st.text(_ALNUM, min_size=1, max_size=8),
    st.builds(lambda a, mid, b: a + mid + b, st.text(_ALNUM, min_size=1, max_size=3),
              st.text(_ALNUM + "-", min_size=0, max_size=4), st.text(_ALNUM, min_size=1, max_size=3)),
)
HOST = st.lists(LABEL, min_size=2, max_size=5).map(".".join).filter(lambda n: not n.rsplit(".", 1)[-1].isdigit())


@given(HOST)
def test_exact_match_is_case_insensitive(host):
    reference = names.parse_reference(host.upper() + ".")
    assert reference is not None and reference.dns == host
    assert names.dns_san_matches(host, reference.dns)
    assert names.dns_san_matches(host.upper(), reference.dns)


@given(LABEL, HOST, LABEL)
def test_wildcard_matches_exactly_one_label(label, base, extra):
    presented = "*." + base
    assert names.dns_san_matches(presented, f"{label}.{base}")
    assert not names.dns_san_matches(presented, base)
    assert not names.dns_san_matches(presented, f"{extra}.{label}.{base}")


@given(LABEL, LABEL)
def test_wildcard_needs_two_labels_after_it(label, tld):
    assert not names.dns_san_matches("*." + tld, f"{label}.{tld}")


@pytest.mark.parametrize("presented", ["f*.example.com", "*oo.example.com", "xn--*.example.com", "foo.*.com", "*", "**.example.com"])
def test_partial_and_misplaced_wildcards_never_match(presented):
    for reference in ("foo.example.com", "xn--abc.example.com", "foo.bar.com"):
        assert not names.dns_san_matches(presented, reference)


@given(HOST, HOST)
def test_dns_constraint_is_a_label_boundary_suffix(constraint, name):
    expected = name == constraint or name.endswith("." + constraint)
    assert names.dns_constraint_covers(constraint, name, excluded=False) is expected
    assert names.dns_constraint_covers(constraint, name, excluded=True) is expected


@given(LABEL, HOST)
def test_constraint_not_fooled_by_plain_suffix(prefix, base):
    # "badexample.com" is not under "example.com"
    assert not names.dns_constraint_covers(base, prefix + base, excluded=False)


@settings(max_examples=200)
@given(st.ip_addresses())
def test_ip_references_in_every_spelling(address):
    spellings = {str(address), address.exploded}
    if address.version == 6:
        spellings.add(f"[{address}]")
        spellings.add(address.exploded.upper())
    for text in spellings:
        reference = names.parse_reference(text)
        assert reference is not None and reference.ip == address and reference.dns is None


@pytest.mark.parametrize("text", ["192.168.001.001", "3232235777", "1.2.3", "exa mple.com", "a_b.example", "", "-a.example", "fe80::1%eth0"])
def test_unusable_references(text):
    assert names.parse_reference(text) is None


def test_ip_constraint_families_do_not_mix():
    v4 = ipaddress.ip_network("10.0.0.0/8")
    assert names.ip_constraint_covers(v4, ipaddress.ip_address("10.1.1.1"))
    assert not names.ip_constraint_covers(v4, ipaddress.ip_address("::ffff:10.1.1.1"))


@pytest.mark.parametrize(
    "constraint",
    ["*.example.com", ".example.com", "exa mple.com", "example..com"],
)
def test_invalid_dns_constraints_fail_closed(constraint):
    with pytest.raises(names.InvalidConstraint):
        names.dns_constraint_covers(constraint, "foo.example.com", excluded=False)


@pytest.mark.parametrize("mailbox", ["no-at-sign", "@example.com", "a@b@example.com", "user@exa mple.com"])
def test_invalid_mailboxes_fail_closed(mailbox):
    with pytest.raises(names.InvalidName):
        names.email_constraint_covers("example.com", mailbox)


# -- a name with a trailing newline is not a DNS name ------------------------------------


@pytest.mark.parametrize("name", ["example.com\n", "com\n", "foo\n.example.com", "a.b\n.c"])
def test_a_trailing_newline_is_not_a_valid_dns_label(name):
    # re.match with "$" accepted "com\n": the reference "foo\n.example.com" matched "*.example.com".
    assert not names.is_valid_dns_name(name)
    assert names.parse_reference(name) is None


def test_a_presented_name_with_a_newline_never_matches():
    # (references are validated by parse_reference, which now refuses the newline)
    assert not names.dns_san_matches("example.com\n", "example.com\n")
    assert not names.dns_san_matches("*.example.com\n", "a.example.com\n")


def test_verify_chain_rejects_a_server_name_with_a_newline():
    chain = f.chain(1, tag=" newline")
    with pytest.raises(NameMismatch, match="not a valid DNS name"):
        verify_chain(
            chain.leaf.der, [i.der for i in chain.intermediates], [chain.root.cert],
            server_name="example.com\n", at=f.NOW,
        )


def test_a_san_with_a_trailing_newline_cannot_slip_past_an_excluded_subtree():
    # "evil.com\n" must not pass as a valid name outside evil.com, which an excluded subtree would miss.
    with pytest.raises(names.InvalidName):
        names.dns_constraint_covers("evil.com", "evil.com\n", excluded=True)
