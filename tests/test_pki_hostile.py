"""Hostile input: garbage, truncated and bit-flipped certificates give CertificateError
subclasses (TLSErrors with an alert), never a stray ValueError/IndexError."""

from __future__ import annotations

import base64
import os
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pki_factory as f
from tlskit.errors import TLSError
from tlskit.pki import CertificateError, MalformedCertificate, TrustStore, load_certificates, load_crls, verify_chain

NOW = f.NOW
CHAIN = f.chain(1, tag=" hostile")
LEAF_DER = CHAIN.leaf.der
ICA_DER = CHAIN.intermediates[0].der
# PKI_FUZZ_EXAMPLES=5000 for a longer local run; CI keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("PKI_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _verify(leaf, intermediates=(), trust=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cryptography warns about odd serials it still parses
        return verify_chain(leaf, list(intermediates), trust or [CHAIN.root.cert], server_name="example.com", at=NOW)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b"\x00" * 10,
        b"\x30\x82\xff\xff",
        b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n",  # no END line
        "-----BEGIN CERTIFICATE-----\nÄÖÜ\n-----END CERTIFICATE-----\n".encode("latin-1"),
    ],
)
def test_garbage_is_malformed(data):
    with pytest.raises(MalformedCertificate) as info:
        load_certificates(data)
    assert isinstance(info.value, TLSError)
    with pytest.raises(CertificateError):
        _verify(data)
    with pytest.raises(CertificateError):
        TrustStore.from_pem(data)


def test_every_truncation_of_a_certificate():
    for length in range(len(LEAF_DER)):
        with pytest.raises(CertificateError):
            _verify(LEAF_DER[:length], [ICA_DER])


def test_truncated_intermediates_are_ignored_not_fatal():
    # An unparsable extra certificate in the peer's chain cannot be an issuer; the valid
    # path still validates (the peer may send junk).
    with pytest.raises(CertificateError):
        _verify(LEAF_DER, [ICA_DER[:50]])
    bundle = CHAIN.intermediates[0].pem + b"junk between blocks\n"
    assert _verify(LEAF_DER, load_certificates(bundle)).certificates[1] == CHAIN.intermediates[0].cert


@FUZZ
@given(st.data())
def test_bit_flips_in_leaf(data):
    position = data.draw(st.integers(0, len(LEAF_DER) - 1))
    mask = data.draw(st.integers(1, 255))
    mutated = bytearray(LEAF_DER)
    mutated[position] ^= mask
    try:
        path = _verify(bytes(mutated), [ICA_DER])
    except CertificateError:
        return
    # Flips inside the signature's DER integer padding etc. could in theory still verify;
    # then the certificate must still be the same logical certificate.
    assert path.leaf.tbs_certificate_bytes == CHAIN.leaf.cert.tbs_certificate_bytes


@FUZZ
@given(st.data())
def test_bit_flips_in_intermediate(data):
    position = data.draw(st.integers(0, len(ICA_DER) - 1))
    mutated = bytearray(ICA_DER)
    mutated[position] ^= data.draw(st.integers(1, 255))
    try:
        _verify(LEAF_DER, [bytes(mutated)])
    except CertificateError:
        return
    raise AssertionError("a modified intermediate validated")


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes(blob):
    with pytest.raises(CertificateError):
        _verify(blob)


@FUZZ
@given(st.binary(min_size=1, max_size=300))
def test_random_pem_bodies(blob):
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(blob) + b"-----END CERTIFICATE-----\n"
    with pytest.raises(CertificateError):
        load_certificates(pem)


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"])
def test_garbage_crls(data):
    with pytest.raises(CertificateError):
        load_crls([data])
    with pytest.raises(CertificateError):
        verify_chain(LEAF_DER, [ICA_DER], [CHAIN.root.cert], at=NOW, crls=[data])


def test_der_carrying_pem_text_is_parsed_as_der():
    # A peer's DER certificate with another (valid) certificate's PEM inside an extension:
    # pki must validate the certificate the peer sent, never the embedded one.
    from cryptography import x509

    victim_pem = CHAIN.leaf.pem
    smuggler = f.issue(
        "example.com",
        None,
        slot=45,
        extra=[(x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55738.7"), b"\x04\x82" + len(victim_pem).to_bytes(2, "big") + victim_pem), False)],
    )
    assert victim_pem in smuggler.der
    assert load_certificates(smuggler.der) == [smuggler.cert]
    with pytest.raises(CertificateError):
        _verify(smuggler.der, [ICA_DER])


def test_pem_scanning_is_linear_in_unterminated_begin_lines():
    """A regex with a lazy body and a back-reference rescanned the rest of the input
    for each BEGIN line lacking its END: 224 KB of them took ~40 s. Hostile PEM reaches
    this parser through verify_chain(PEM bytes), `tlskit ca verify/show` and cafiles.

    Counted, not timed: the bytes the END searches scan, summed over the whole input,
    stay within twice its length (a rescan per BEGIN line would be ~40,000 times it)."""
    from tlskit.pki import loading

    class CountingBytes(bytes):
        scanned = 0

        def find(self, sub, start=0, end=None):  # type: ignore[override]
            found = bytes.find(self, sub, start, len(self) if end is None else end)
            CountingBytes.scanned += (len(self) if found < 0 else found + len(sub)) - start
            return found

    for line in (b"-----BEGIN CERTIFICATE-----\n", b"-----BEGIN X509 CRL-----\n", b"-----BEGIN A-----\n"):
        data = CountingBytes(line * 40000)  # ~1 MB
        CountingBytes.scanned = 0
        assert loading.pem_blocks(data, {b"CERTIFICATE", b"X509 CRL"}, "test") == []  # no block ends
        assert CountingBytes.scanned <= 2 * len(data)
        with pytest.raises(CertificateError):
            load_certificates(bytes(data))
