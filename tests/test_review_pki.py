"""Review findings in tlskit.pki."""

from __future__ import annotations

import pytest

import pki_factory as f
from tlskit.pki import NameMismatch, verify_chain
from tlskit.pki.names import dns_san_matches, is_valid_dns_name, parse_reference


@pytest.mark.parametrize("name", ["example.com\n", "com\n", "foo\n.example.com", "a.b\n.c"])
def test_a_trailing_newline_is_not_a_valid_dns_label(name):
    # re.match with "$" accepted "com\n": the reference "foo\n.example.com" matched "*.example.com".
    assert not is_valid_dns_name(name)
    assert parse_reference(name) is None


def test_a_presented_name_with_a_newline_never_matches():
    # (references are validated by parse_reference, which now refuses the newline)
    assert not dns_san_matches("example.com\n", "example.com\n")
    assert not dns_san_matches("*.example.com\n", "a.example.com\n")


def test_verify_chain_rejects_a_server_name_with_a_newline():
    chain = f.chain(1, tag=" review")
    with pytest.raises(NameMismatch, match="not a valid DNS name"):
        verify_chain(
            chain.leaf.der, [i.der for i in chain.intermediates], [chain.root.cert],
            server_name="example.com\n", at=f.NOW,
        )


def test_a_san_with_a_trailing_newline_cannot_slip_past_an_excluded_subtree():
    from tlskit.pki.names import InvalidName, dns_constraint_covers

    # Before: "evil.com\n" was a valid name not "within" evil.com, so an excluded subtree missed it.
    with pytest.raises(InvalidName):
        dns_constraint_covers("evil.com", "evil.com\n", excluded=True)


def test_unreadable_trust_directory_or_bundle_is_a_certificate_error(tmp_path, monkeypatch):
    from pathlib import Path

    from tlskit.pki import CertificateError, TrustStore

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # (running as root, permissions cannot be used to provoke it)
    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(CertificateError, match="cannot list"):
        TrustStore.from_directory(tmp_path)
    monkeypatch.undo()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"")
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(CertificateError, match="cannot read"):
        TrustStore._from_bundle_skipping_bad(str(bundle))
