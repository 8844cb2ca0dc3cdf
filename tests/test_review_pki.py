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


def test_pem_scanning_is_linear_in_unterminated_begin_lines():
    """A regex with a lazy body and a back-reference rescanned the rest of the input
    for each BEGIN line lacking its END: 224 KB of them took ~40 s. Hostile PEM reaches
    this parser through verify_chain(PEM bytes), `tlskit ca verify/show` and cafiles."""
    import time

    from tlskit.pki import CertificateError, load_certificates

    for line in (b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN X509 CRL-----\n", b"-----BEGIN A-----\n"):
        data = line * 40000  # ~1 MB
        started = time.perf_counter()
        with pytest.raises(CertificateError):
            load_certificates(data)
        assert time.perf_counter() - started < 5.0


def test_pem_scanning_still_finds_blocks_between_noise():
    from cryptography.hazmat.primitives.serialization import Encoding

    from tlskit.pki import load_certificates

    chain = f.chain(1, tag=" pem")
    leaf_pem = chain.leaf.cert.public_bytes(Encoding.PEM)
    noise = b"# comment\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    unterminated = b"-----BEGIN X509 CERTIFICATE-----\nno end\n-----BEGIN FOO-----\n"
    certs = load_certificates(noise + leaf_pem + b"trailing\n" + leaf_pem + unterminated)
    assert [c.serial_number for c in certs] == [chain.leaf.cert.serial_number] * 2


# -- RFC 8446 4.4.2.4: MD5-signed certificates abort with bad_certificate ----------------


def _relabelled(leaf, new_oid_hex: str) -> bytes:
    # cryptography will not sign with MD5: relabel sha256WithRSAEncryption (same OID
    # length, inner and outer) so the policy must decide before any signature check
    sha256_rsa = bytes.fromhex("2a864886f70d01010b")
    assert leaf.der.count(sha256_rsa) == 2
    return leaf.der.replace(sha256_rsa, bytes.fromhex(new_oid_hex))


def test_an_md5_signed_certificate_is_a_bad_certificate():
    from tlskit.errors import AlertDescription
    from tlskit.pki import ForbiddenSignatureAlgorithm, UnsupportedCertificateAlgorithm

    root = f.issue("Root MD5", ca=True, key_kind="rsa2048", slot=1)
    leaf = f.issue("example.com", root)
    # Before: UnsupportedCertificateAlgorithm with unsupported_certificate; RFC 8446 4.4.2.4 says
    # "MUST abort the handshake with a bad_certificate alert".
    with pytest.raises(ForbiddenSignatureAlgorithm, match="md5WithRSAEncryption") as info:
        verify_chain(_relabelled(leaf, "2a864886f70d010104"), [], [root.cert], at=f.NOW)
    assert info.value.alert == AlertDescription.bad_certificate
    assert isinstance(info.value, UnsupportedCertificateAlgorithm)  # still an algorithm-policy refusal
    # SHA-1: the same refusal and alert, which 4.4.2.4 RECOMMENDS (docs/pki.md)
    with pytest.raises(ForbiddenSignatureAlgorithm, match="SHA-1") as info:
        verify_chain(_relabelled(leaf, "2a864886f70d010105"), [], [root.cert], at=f.NOW)
    assert info.value.alert == AlertDescription.bad_certificate


def test_rsassa_pss_with_an_md5_hash_is_a_bad_certificate():
    from tlskit.errors import AlertDescription
    from tlskit.pki import ForbiddenSignatureAlgorithm
    from tlskit.pki.algorithms import scheme_for
    from tlskit._der import AlgorithmIdentifier

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
