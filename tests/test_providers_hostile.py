"""Hostile input never escapes a provider as anything but its typed error:
key shares -> IllegalParameter, public keys/signatures -> BadSignatureError,
private keys -> KeyLoadError, records -> BadRecordMac."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlskit.errors import BadRecordMac, BadSignatureError, IllegalParameter
from tlskit.providers import KeyLoadError, available_providers, get_provider

PROVIDERS = available_providers()
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, bytes of the right length, and the valid value with a flipped/cut byte."""
    n = len(valid)
    return st.one_of(
        st.binary(max_size=n + 8),
        st.binary(min_size=n, max_size=n),
        st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(
            lambda t: valid[: t[0]] + bytes([valid[t[0]] ^ t[1]]) + valid[t[0] + 1 :]
        ),
        st.integers(0, n - 1).map(lambda i: valid[:i]),
    )


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_hostile_key_shares(provider_name: str) -> None:
    provider = get_provider(provider_name)
    for group in provider.groups.values():
        exchange = group.start()
        client_share = exchange.share
        server_share, _ = group.encapsulate(client_share)

        @FUZZ
        @given(share=_mutations(client_share))
        def server_side(share: bytes) -> None:
            try:
                reply, secret = group.encapsulate(share)
            except IllegalParameter:
                return
            assert len(reply) == len(server_share) and secret

        @FUZZ
        @given(share=_mutations(server_share))
        def client_side(share: bytes) -> None:
            try:
                assert exchange.complete(share)
            except IllegalParameter:
                pass

        server_side()
        client_side()


def _spkis() -> dict[str, tuple[object, bytes]]:
    out = {}
    for name, key in (
        ("rsa_pss_rsae_sha256", rsa.generate_private_key(65537, 1024)),
        ("ecdsa_secp256r1_sha256", ec.generate_private_key(ec.SECP256R1())),
        ("ed25519", ed25519.Ed25519PrivateKey.generate()),
    ):
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        out[name] = (key, spki)
    return out


SPKIS = _spkis()


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_hostile_public_keys_and_signatures(provider_name: str) -> None:
    provider = get_provider(provider_name)
    for scheme_name, (_, spki) in SPKIS.items():
        if scheme_name not in provider.signature_schemes:
            continue
        scheme = provider.signature_scheme(scheme_name)

        @FUZZ
        @given(public=_mutations(spki), signature=st.binary(max_size=300))
        def check(public: bytes, signature: bytes) -> None:
            with pytest.raises(BadSignatureError):
                scheme.verify(public, b"message", signature, strict_curve=False)

        check()


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_hostile_private_keys(provider_name: str) -> None:
    provider = get_provider(provider_name)
    key, _ = SPKIS["ed25519"]
    der = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    @FUZZ
    @given(blob=_mutations(der))
    def check(blob: bytes) -> None:
        try:
            loaded = provider.load_private_key(blob)
        except KeyLoadError:
            return
        # a flipped bit inside the seed is still a valid key; it must then work
        assert loaded.schemes == ("ed25519",)

    check()


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_private_key_with_an_x448_oid_and_a_32_byte_key_is_a_key_load_error(provider_name: str) -> None:
    # Found by test_hostile_private_keys: cryptography's OpenSSL backend raised its
    # InternalError ("key setup failed") instead of ValueError.
    blob = bytes.fromhex("302e020100300506032b656f04220420") + bytes(32)
    with pytest.raises(KeyLoadError):
        get_provider(provider_name).load_private_key(blob)


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_hostile_records(provider_name: str) -> None:
    provider = get_provider(provider_name)
    for suite in provider.cipher_suites.values():
        aead = suite.aead.new(bytes(suite.aead.key_length))
        sealed = aead.seal(bytes(12), b"aad", b"record body")

        @FUZZ
        @given(record=_mutations(sealed), nonce=st.binary(max_size=30))
        def check(record: bytes, nonce: bytes) -> None:
            with pytest.raises(BadRecordMac):
                aead.open(nonce if nonce != bytes(12) else b"", b"aad", record)
            if record != sealed:
                with pytest.raises(BadRecordMac):
                    aead.open(bytes(12), b"aad", record)

        check()
