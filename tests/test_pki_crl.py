"""Revocation through caller-supplied CRLs (``verify_chain(..., crls=[...])``)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

import pki_factory as f
from pki_factory import make_crl
from tlskit.errors import AlertDescription
from tlskit.pki import InvalidCRL, Revoked, verify_chain

NOW = f.NOW
DAY = datetime.timedelta(days=1)


CHAIN = f.chain(1, tag=" crl")
ICA = CHAIN.intermediates[0]


def verify(crls):
    return verify_chain(CHAIN.leaf.cert, CHAIN.untrusted, [CHAIN.root.cert], at=NOW, server_name="example.com", crls=crls)


def test_revoked_leaf_in_every_form():
    crl = make_crl(ICA, [CHAIN.leaf.cert.serial_number, 12345])
    for form in (crl, crl.public_bytes(Encoding.DER), crl.public_bytes(Encoding.PEM)):
        with pytest.raises(Revoked) as info:
            verify([form])
        assert info.value.alert == AlertDescription.certificate_revoked
        assert info.value.certificate == CHAIN.leaf.cert


def test_revoked_intermediate():
    crl = make_crl(CHAIN.root, [ICA.cert.serial_number])
    with pytest.raises(Revoked, match="Test Intermediate"):
        verify([make_crl(ICA, [777]), crl])


def test_not_revoked_and_other_issuers_crl_ignored():
    other = f.chain(1, tag=" crl-other")
    assert verify([make_crl(ICA, [999])]).leaf == CHAIN.leaf.cert
    # Same serial revoked by somebody else: irrelevant.
    assert verify([make_crl(other.intermediates[0], [CHAIN.leaf.cert.serial_number])]).leaf == CHAIN.leaf.cert
    assert verify([]).leaf == CHAIN.leaf.cert


@pytest.mark.parametrize(
    "crl_kwargs,message",
    [
        ({"number": None}, "cRLNumber"),
        ({"number_critical": True}, "cRLNumber"),
        ({"extra": [(x509.DeltaCRLIndicator(1), True)]}, "unsupported critical"),
    ],
)
def test_malformed_crl_from_the_issuer_fails_closed(crl_kwargs, message):
    with pytest.raises(InvalidCRL, match=message):
        verify([make_crl(ICA, [], **crl_kwargs)])


def test_crl_with_bad_signature_fails_closed():
    impostor = f.issue(ICA.cert.subject, CHAIN.root, ca=True, slot=33)  # same name, other key
    forged = make_crl(ICA, [CHAIN.leaf.cert.serial_number], signer=impostor, aki=False)
    with pytest.raises(InvalidCRL, match="signature"):
        verify([forged])


def test_issuer_without_crl_sign():
    root = f.issue("CRL Root", ca=True, slot=1)
    ica = f.issue("CRL ICA", root, ca=True, slot=2, key_usage={"key_cert_sign": True})
    leaf = f.issue("example.com", ica)
    with pytest.raises(InvalidCRL, match="cRLSign"):
        verify_chain(leaf.cert, [ica.cert], [root.cert], at=NOW, crls=[make_crl(ica, [])])


def test_revoked_intermediate_with_an_alternative_path():
    root_a = f.issue("CRL Root A", ca=True, slot=1)
    root_b = f.issue("CRL Root B", ca=True, slot=2)
    ica_key = f.key("p256", 34)
    via_a = f.issue("CRL ICA", root_a, ca=True, private_key=ica_key)
    via_b = f.issue("CRL ICA", root_b, ca=True, private_key=ica_key)
    leaf = f.issue("example.com", via_a)
    revoked_by_a = make_crl(root_a, [via_a.cert.serial_number])
    path = verify_chain(leaf.cert, [via_a.cert, via_b.cert], [root_a.cert, root_b.cert], at=NOW, crls=[revoked_by_a])
    assert path.certificates == [leaf.cert, via_b.cert, root_b.cert]
    with pytest.raises(Revoked):
        verify_chain(leaf.cert, [via_a.cert], [root_a.cert, root_b.cert], at=NOW, crls=[revoked_by_a])


def test_crl_signature_checks_count_against_the_work_limit():
    from tlskit.pki import PathBuildingExhausted
    from tlskit.pki.verify import MAX_SIGNATURE_CHECKS

    crls = [make_crl(ICA, number=n) for n in range(1, MAX_SIGNATURE_CHECKS + 2)]
    with pytest.raises(PathBuildingExhausted):
        verify(crls)
