"""The shared test PKI (tests/certs.py) validates through verify_chain in every input form."""

from __future__ import annotations

import datetime

import pytest

from certs import cert_pem, make_pki
from tlskit.errors import AlertDescription, TLSError
from tlskit.pki import (
    CertificateError,
    Expired,
    NameMismatch,
    TrustStore,
    UnknownIssuer,
    VerifiedPath,
    load_certificates,
    verify_chain,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_verify_from_files(pki):
    chain = load_certificates(pki.chain_file)
    store = TrustStore.from_file(pki.ca_file)
    path = verify_chain(chain[0], chain[1:], store, server_name="localhost")
    assert isinstance(path, VerifiedPath)
    assert path.certificates == [pki.leaf, pki.intermediate, pki.root]


@pytest.mark.parametrize("name", ["localhost", "LOCALHOST.", "127.0.0.1", "::1", "[::1]", "0:0::1"])
def test_names(pki, name):
    verify_chain(cert_pem(pki.leaf), [cert_pem(pki.intermediate)], [cert_pem(pki.root)], server_name=name)


def test_wrong_name(pki):
    with pytest.raises(NameMismatch) as info:
        verify_chain(pki.leaf, [pki.intermediate], [pki.root], server_name="example.com")
    assert isinstance(info.value, TLSError) and info.value.alert == AlertDescription.bad_certificate
    assert "localhost" in str(info.value) and "serial=" in str(info.value)


def test_missing_intermediate(pki):
    with pytest.raises(UnknownIssuer) as info:
        verify_chain(pki.leaf, [], [pki.root])
    assert info.value.alert == AlertDescription.unknown_ca


def test_expired_at(pki):
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=400)
    with pytest.raises(Expired) as info:
        verify_chain(pki.leaf, [pki.intermediate], [pki.root], at=later)
    assert info.value.alert == AlertDescription.certificate_expired
    assert isinstance(info.value, CertificateError)


@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_providers(pki, provider):
    verify_chain(pki.leaf, [pki.intermediate], [pki.root], server_name="localhost", provider=provider)
