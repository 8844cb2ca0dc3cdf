"""Loading certificates, keys and trust stores: formats, bundles and clear errors."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import pki_factory as f
from tlskit.pki import (
    KeyLoadError,
    MalformedCertificate,
    TrustStore,
    load_certificates,
    load_private_key_bytes,
    verify_chain,
)
from tlskit.providers import get_provider

CHAIN = f.chain(2, tag=" loading")
CERTS = [c.cert for c in [CHAIN.leaf, *reversed(CHAIN.intermediates), CHAIN.root]]


def _bundle_with_noise() -> bytes:
    parts = [b"# a comment line\r\n", b"Subject: CN=whatever (openssl x509 -text noise)\n\n"]
    for cert in CERTS:
        parts.append(cert.public_bytes(serialization.Encoding.PEM).replace(b"\n", b"\r\n"))
        parts.append(b"\n   \n")
    parts.insert(2, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    return b"".join(parts)


def test_pem_bundle_with_comments_crlf_and_other_blocks(tmp_path):
    data = _bundle_with_noise()
    assert load_certificates(data) == CERTS
    path = tmp_path / "bundle.pem"
    path.write_bytes(data)
    assert load_certificates(path) == CERTS
    assert load_certificates(str(path)) == CERTS
    assert load_certificates(data.decode()) == CERTS  # PEM text


def test_der(tmp_path):
    der = CHAIN.leaf.der
    assert load_certificates(der) == [CHAIN.leaf.cert]
    path = tmp_path / "leaf.der"
    path.write_bytes(der)
    assert load_certificates(path) == [CHAIN.leaf.cert]


def test_missing_file_named_in_error(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(MalformedCertificate, match="nope.pem"):
        load_certificates(missing)


def test_bad_block_named(tmp_path):
    path = tmp_path / "bad.pem"
    good = CHAIN.root.pem
    path.write_bytes(good + b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n")
    with pytest.raises(MalformedCertificate, match=r"bad\.pem.*certificate 2"):
        load_certificates(path)


def test_verify_chain_accepts_every_input_form():
    at = f.NOW
    expected = CHAIN.path
    forms = [
        (CHAIN.leaf.cert, CHAIN.untrusted, [CHAIN.root.cert]),
        (CHAIN.leaf.pem, [c.pem for c in CHAIN.intermediates], [CHAIN.root.pem]),
        (CHAIN.leaf.der, [c.der for c in CHAIN.intermediates], [CHAIN.root.der]),
        (CHAIN.leaf.pem, b"".join(c.pem for c in CHAIN.intermediates), CHAIN.root.pem),
        (CHAIN.leaf.der, None, TrustStore([CHAIN.root.cert, *CHAIN.untrusted])),
    ]
    for leaf, intermediates, trust in forms:
        path = verify_chain(leaf, intermediates, trust, at=at, server_name="example.com")
        assert path.certificates[0] == expected[0]
        assert path.anchor in (CHAIN.root.cert, CHAIN.intermediates[-1].cert)


def test_trust_store_constructors(tmp_path):
    other = f.chain(1, tag=" other-store")
    (tmp_path / "a.pem").write_bytes(CHAIN.root.pem)
    (tmp_path / "b.crt").write_bytes(other.root.pem + CHAIN.root.pem)  # duplicate is ignored
    (tmp_path / "c.der").write_bytes(other.intermediates[0].der)
    (tmp_path / "README.txt").write_text("not a certificate")
    (tmp_path / "sub").mkdir()
    store = TrustStore.from_directory(tmp_path)
    assert len(store) == 3
    assert CHAIN.root.cert in store and other.root.cert in store
    assert store.certificates()[0] == CHAIN.root.cert
    assert len(TrustStore.from_file(tmp_path / "b.crt")) == 2
    assert len(TrustStore.from_pem(CHAIN.root.pem)) == 1
    empty = TrustStore.from_certificates([])
    assert len(empty) == 0
    empty.add(CHAIN.root.der)
    empty.add(CHAIN.root.pem)
    assert len(empty) == 1 and list(empty) == [CHAIN.root.cert]
    with pytest.raises(MalformedCertificate):
        TrustStore.from_directory(tmp_path / "a.pem")


def test_system_store_loads_platform_roots():
    store = TrustStore.system()
    assert len(store) > 10
    assert all(isinstance(c, x509.Certificate) for c in store)


# -- private keys ------------------------------------------------------------------------

KEY = f.key("p256", 30)
RSA_KEY = f.key("rsa2048", 1)


@pytest.mark.parametrize(
    "private_key,encoding,fmt",
    [
        (KEY, serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
        (KEY, serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
        (KEY, serialization.Encoding.DER, serialization.PrivateFormat.PKCS8),
        (RSA_KEY, serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL),
        (f.key("ed25519", 30), serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8),
    ],
)
def test_private_key_formats(tmp_path, private_key, encoding, fmt):
    path = tmp_path / "key"
    data = private_key.private_bytes(encoding, fmt, serialization.NoEncryption())
    path.write_bytes(data)
    assert load_private_key_bytes(path) == data
    signer = get_provider("cryptography").load_private_key(data)
    assert signer.schemes


@pytest.mark.parametrize("password", [b"s3cret", "s3cret"])
def test_encrypted_private_key(tmp_path, password):
    path = tmp_path / "enc.pem"
    path.write_bytes(
        KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret")
        )
    )
    assert load_private_key_bytes(path, password) == path.read_bytes()
    with pytest.raises(KeyLoadError, match=r"enc\.pem.*wrong password"):
        load_private_key_bytes(path, b"nope")
    with pytest.raises(KeyLoadError, match=r"enc\.pem.*encrypted and no password"):
        load_private_key_bytes(path)


def test_private_key_errors_name_the_file(tmp_path):
    plain = tmp_path / "plain.pem"
    plain.write_bytes(
        KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    with pytest.raises(KeyLoadError, match=r"plain\.pem.*not encrypted"):
        load_private_key_bytes(plain, b"pw")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(CHAIN.leaf.pem)
    with pytest.raises(KeyLoadError, match=r"junk\.pem.*not a supported private key") as info:
        load_private_key_bytes(junk)
    assert "BEGIN" not in str(info.value)
    with pytest.raises(KeyLoadError, match="missing.pem"):
        load_private_key_bytes(tmp_path / "missing.pem")


def test_naive_and_aware_times_accepted_only_when_aware():
    aware = datetime.datetime(2026, 6, 1, 14, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    verify_chain(CHAIN.leaf.cert, CHAIN.untrusted, [CHAIN.root.cert], at=aware)


def test_unreadable_trust_directory_or_bundle_is_a_certificate_error(tmp_path, monkeypatch):
    from pathlib import Path

    from tlskit.pki import CertificateError

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


def test_pem_scanning_still_finds_blocks_between_noise():
    chain = f.chain(1, tag=" pem")
    leaf_pem = chain.leaf.cert.public_bytes(serialization.Encoding.PEM)
    noise = b"# comment\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    unterminated = b"-----BEGIN X509 CERTIFICATE-----\nno end\n-----BEGIN FOO-----\n"
    certs = load_certificates(noise + leaf_pem + b"trailing\n" + leaf_pem + unterminated)
    assert [c.serial_number for c in certs] == [chain.leaf.cert.serial_number] * 2
