"""tlskit._der, the one strict DER reader under providers, pki and engine: strict
X.690 DER only, and hostile bytes end in DERError (never IndexError, ValueError...)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlskit import _der, _oids

# RSASSA-PSS-params: sha256, mgf1(sha256), saltLength 32 (what OpenSSL writes)
PSS_SHA256 = bytes.fromhex(
    "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d0609608648016503040201"
    "0500a203020120"
)


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"\x30", "truncated"),
        (b"\x30\x80\x00\x00", "indefinite"),  # BER indefinite length
        (b"\x30\x81\x05" + bytes(5), "non-minimal"),  # long form for a short length
        (b"\x30\x82\x00\x85" + bytes(0x85), "non-minimal"),  # leading zero length octet
        (b"\x30\x85\x01\x00\x00\x00\x00", "oversized"),
        (b"\x1f\x01\x00", "high-tag"),
        (b"\x30\x05\x00", "past its container"),
        (b"\x05\x00\x00", "trailing"),
    ],
)
def test_non_der_is_refused(data, problem):
    with pytest.raises(_der.DERError, match=problem):
        _der.read_single(data, data[0])


@pytest.mark.parametrize("dotted", ["1.2.840.113549.1.1.10", "1.3.101.112", "2.16.840.1.101.3.4.2.1", "2.999.3"])
def test_oids_round_trip(dotted):
    assert _der.decode_oid(_der.encode_oid(dotted)) == dotted


def test_oid_and_integer_encodings_must_be_minimal():
    with pytest.raises(_der.DERError):
        _der.decode_oid(b"\x2b\x80\x01")  # an arc padded with 0x80
    with pytest.raises(_der.DERError):
        _der.decode_oid(b"\x2b\x81")  # ends inside an arc
    with pytest.raises(_der.DERError):
        _der.decode_integer(b"\x00\x01")
    with pytest.raises(_der.DERError):
        _der.decode_integer(b"\xff\x80")
    assert _der.decode_integer(b"\x00\x80") == 128
    assert _der.decode_integer(b"\xff") == -1


def test_pss_params_read_once_for_keys_and_signatures():
    params = _der.parse_pss_params(PSS_SHA256)
    assert params.hash_name == "sha256"
    assert params.mgf.oid == _oids.MGF1 and _oids.HASHES[params.mgf_hash.oid].name == "sha256"
    assert params.salt_length == 32 and params.trailer_field is None
    # every field DEFAULT: SHA-1 (RFC 4055 3.1)
    empty = _der.parse_pss_params(b"\x30\x00")
    assert empty.hash_name == "sha1" and empty.salt_length is None


@pytest.mark.parametrize(
    "params",
    [
        bytes.fromhex("3006a203020120"),  # outer length past the data
        bytes.fromhex("300aa2030201 20 a003 0201 01".replace(" ", "")),  # [2] before [0]
        bytes.fromhex("300aa203020120a203020120"),  # [2] twice
        bytes.fromhex("3005a4030201 01".replace(" ", "")),  # [4] does not exist
        bytes.fromhex("3008a2060201200201 00".replace(" ", "")),  # two values inside [2]
        bytes.fromhex("3005a203040120"),  # saltLength is not an INTEGER
    ],
)
def test_malformed_pss_params_are_der_errors(params):
    with pytest.raises(_der.DERError):
        _der.parse_pss_params(params)


def test_spki_and_pkcs8_structure():
    spki = _der.encode_spki(_der.algorithm_identifier(_oids.ED25519), bytes(32))
    parsed = _der.parse_spki(spki)
    assert parsed == _der.SubjectPublicKeyInfo(_oids.ED25519, None, bytes(32))
    assert parsed.curve is None
    ec = _der.encode_spki(
        _der.algorithm_identifier(_oids.EC_PUBLIC_KEY, _der.encode(_der.TAG_OID, _der.encode_oid("1.3.132.0.34"))),
        b"\x04" + bytes(96),
    )
    assert _der.parse_spki(ec).curve == "secp384r1"
    with pytest.raises(_der.DERError, match="unused bits"):
        _der.parse_spki(spki[:-35] + b"\x03\x21\x01" + bytes(32))
    key = _der.encode(
        _der.TAG_SEQUENCE,
        b"\x02\x01\x00" + _der.algorithm_identifier(_oids.ED25519) + _der.encode(_der.TAG_OCTET_STRING, b"\x04\x20" + bytes(32)),
    )
    info = _der.parse_pkcs8(key)
    assert (info.version, info.algorithm.oid) == (0, _oids.ED25519)
    assert not _der.is_encrypted_pkcs8(key)
    with pytest.raises(_der.DERError):
        _der.parse_pkcs8(key + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_hostile_bytes_only_ever_raise_der_error(data):
    for parse in (_der.parse_spki, _der.parse_pkcs8, _der.parse_pss_params, _der.parse_signed, _der.certificate_spki):
        try:
            parse(data)
        except _der.DERError:
            pass
    _der.is_encrypted_pkcs8(data)
