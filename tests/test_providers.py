"""Behaviour of every provider through the public interface: round trips,
peer-input validation, key loading, the registry and compose()."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from cryptography.hazmat.primitives import hashes

from tlskit.errors import (
    BadRecordMac,
    TLSError,
    BadSignatureError,
    IllegalParameter,
    ProviderError,
    UnsupportedAlgorithm,
)
from tlskit.providers import (
    KeyExchange,
    KeyLoadError,
    Provider,
    UnknownProvider,
    available_providers,
    compose,
    get_provider,
)

PROVIDERS = available_providers()
COMPOSED = [
    "kx=pynacl,aead=pycryptodome,hash=cryptography,sig=cryptography",
    "kx=pycryptodome,aead=pynacl,hash=pynacl,sig=pycryptodome",
]
ALL = PROVIDERS + [n for n in COMPOSED if all(p.split("=")[1] in PROVIDERS for p in n.split(","))]


@pytest.fixture(params=ALL)
def provider(request: pytest.FixtureRequest) -> Provider:
    return get_provider(request.param)


def test_cryptography_is_always_available() -> None:
    assert "cryptography" in PROVIDERS
    p = get_provider("cryptography")
    assert p.name == "cryptography"
    assert list(p.cipher_suites) == [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    ]
    assert set(p.groups) == {
        "x25519", "x448", "secp256r1", "secp384r1", "secp521r1", "X25519MLKEM768", "SecP256r1MLKEM768",
        "ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192",
    }
    assert "rsa_pkcs1_sha1" not in p.signature_schemes
    assert "ecdsa_sha1" not in p.signature_schemes
    assert p.versions["cryptography"]


def test_get_provider_is_cached_and_accepts_instances() -> None:
    p = get_provider("cryptography")
    assert get_provider("cryptography") is p
    assert get_provider(p) is p


def test_unknown_provider() -> None:
    with pytest.raises(UnknownProvider, match="nope"):
        get_provider("nope")
    with pytest.raises(UnknownProvider):
        get_provider("kx=cryptography,bogus=pynacl")
    assert issubclass(UnknownProvider, ProviderError)


def test_lookup_helpers_name_provider_and_algorithm(provider: Provider) -> None:
    with pytest.raises(UnsupportedAlgorithm) as info:
        provider.group("brainpoolP256r1")
    assert provider.name in str(info.value) and "brainpoolP256r1" in str(info.value)
    assert info.value.provider == provider.name and info.value.kind == "group"
    with pytest.raises(UnsupportedAlgorithm):
        provider.cipher_suite("TLS_AES_128_CCM_SHA256")
    with pytest.raises(UnsupportedAlgorithm):
        provider.signature_scheme("rsa_pkcs1_sha1")
    for name in provider.groups:
        assert provider.group(name).name == name


# -- hashes -------------------------------------------------------------------


def test_hash_is_incremental_and_forkable(provider: Provider) -> None:
    import hashlib

    for suite in provider.cipher_suites.values():
        h = suite.hash
        ref = hashlib.new(h.name)
        obj = h.new(b"client hello")
        ref.update(b"client hello")
        fork = obj.copy()
        assert obj.digest() == ref.digest()
        obj.update(b" server hello")
        assert obj.digest() == hashlib.new(h.name, b"client hello server hello").digest()
        assert fork.digest() == ref.digest()  # the fork did not see the update
        assert h.digest(b"abc") == hashlib.new(h.name, b"abc").digest()
        assert h.digest_size == ref.digest_size


def test_hkdf_rfc5869_case1(provider: Provider) -> None:
    sha256 = provider.hash("sha256")
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    prk = sha256.hkdf_extract(salt, ikm)
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    okm = sha256.hkdf_expand(prk, info, 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    with pytest.raises(ValueError):
        sha256.hkdf_expand(prk, info, 255 * 32 + 1)


# -- AEAD ---------------------------------------------------------------------


def test_aead_round_trip_and_failures(provider: Provider) -> None:
    for suite in provider.cipher_suites.values():
        alg = suite.aead
        aead = alg.new(bytes(range(alg.key_length)))
        nonce = bytes(12)
        sealed = aead.seal(nonce, b"hdr", b"hello")
        assert len(sealed) == 5 + 16
        assert aead.open(nonce, b"hdr", sealed) == b"hello"
        tampered = bytearray(sealed)
        tampered[-1] ^= 1
        for bad in (
            (nonce, b"hdr", bytes(tampered)),
            (nonce, b"hdX", sealed),
            (b"\x01" + nonce[1:], b"hdr", sealed),
            (nonce[:8], b"hdr", sealed),  # PyCryptodome would switch algorithm on 8 bytes
            (nonce + bytes(12), b"hdr", sealed),  # ... and on 24 (XChaCha)
            (nonce, b"hdr", sealed[:15]),
            (nonce, b"hdr", b""),
        ):
            with pytest.raises(BadRecordMac):
                aead.open(*bad)
        with pytest.raises(TLSError):  # TLSError: a typed misuse error
            aead.seal(nonce[:8], b"", b"x")
        with pytest.raises(TLSError):
            alg.new(bytes(alg.key_length - 1))


# -- key exchange -------------------------------------------------------------


def test_groups_round_trip(provider: Provider) -> None:
    for group in provider.groups.values():
        exchange = group.start()
        assert exchange.group is group
        server_share, server_secret = group.encapsulate(exchange.share)
        client_secret = exchange.complete(server_share)
        assert client_secret == server_secret
        assert len(client_secret) >= 32


SHARE_LENGTHS = {
    "x25519": (32, 32),
    "x448": (56, 56),
    "secp256r1": (65, 65),
    "secp384r1": (97, 97),
    "secp521r1": (133, 133),
    "X25519MLKEM768": (1216, 1120),
    "SecP256r1MLKEM768": (1249, 1153),
    **{f"ffdhe{bits}": (bits // 8, bits // 8) for bits in (2048, 3072, 4096, 6144, 8192)},
}


def test_groups_reject_bad_shares(provider: Provider) -> None:
    for name, group in provider.groups.items():
        client_len, server_len = SHARE_LENGTHS[name]
        exchange = group.start()
        client_share = exchange.share
        assert len(client_share) == client_len
        server_share, _ = group.encapsulate(client_share)
        assert len(server_share) == server_len
        for bad in (b"", client_share[:-1], client_share + b"\x00", bytes(client_len)):
            with pytest.raises(IllegalParameter):
                group.encapsulate(bad)
        for bad in (b"", server_share[:-1], server_share + b"\x00"):
            with pytest.raises(IllegalParameter):
                exchange.complete(bad)


def test_ecdh_rejects_compressed_and_off_curve_points(provider: Provider) -> None:
    for name in ("secp256r1", "secp384r1", "secp521r1"):
        if name not in provider.groups:
            continue
        group = provider.groups[name]
        share = group.start().share
        coord = (len(share) - 1) // 2
        compressed = bytes([2 + (share[-1] & 1)]) + share[1 : 1 + coord]
        off_curve = share[:-1] + bytes([share[-1] ^ 1])
        hybrid_prefix = b"\x04" + share[1:]  # valid for comparison
        group.encapsulate(hybrid_prefix)
        for bad in (compressed, compressed + bytes(coord), off_curve, b"\x04" + bytes(2 * coord)):
            with pytest.raises(IllegalParameter):
                group.encapsulate(bad)


# -- signatures ---------------------------------------------------------------


def _pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def keys() -> dict[str, object]:
    return {
        "rsa": rsa.generate_private_key(65537, 2048),
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "p521": ec.generate_private_key(ec.SECP521R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
    }


EXPECTED_SCHEMES = {
    "rsa": ("rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512"),
    "p256": ("ecdsa_secp256r1_sha256",),
    "p384": ("ecdsa_secp384r1_sha384",),
    "p521": ("ecdsa_secp521r1_sha512",),
    "ed25519": ("ed25519",),
    "ed448": ("ed448",),
}


def test_sign_and_verify_every_key_type(provider: Provider, keys: dict[str, object]) -> None:
    for kind, key in keys.items():
        if not all(s in provider.signature_schemes for s in EXPECTED_SCHEMES[kind]):
            with pytest.raises((KeyLoadError, UnsupportedAlgorithm)):
                provider.load_private_key(_pem(key))
            continue
        signer = provider.load_private_key(_pem(key))
        assert signer.schemes == EXPECTED_SCHEMES[kind]
        assert not any(s.startswith("rsa_pkcs1") for s in signer.schemes)
        spki = key.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert signer.public_key_der() == spki
        for scheme in signer.schemes:
            sig = signer.sign(scheme, b"transcript")
            provider.signature_scheme(scheme).verify(spki, b"transcript", sig)
            with pytest.raises(BadSignatureError):
                provider.signature_scheme(scheme).verify(spki, b"transcripT", sig)
            with pytest.raises(BadSignatureError):
                provider.signature_scheme(scheme).verify(spki[:-1], b"transcript", sig)
        # rsa_pkcs1_* only as TLS 1.2 legacy_schemes, and only for an rsaEncryption key
        if signer.legacy_schemes:
            assert kind.startswith("rsa") and signer.legacy_schemes == ("rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512")
            provider.signature_scheme("rsa_pkcs1_sha256").verify(spki, b"x", signer.sign("rsa_pkcs1_sha256", b"x"))
        else:
            with pytest.raises(UnsupportedAlgorithm):
                signer.sign("rsa_pkcs1_sha256", b"x")


def test_every_backend_key_shares_one_base(provider: Provider, keys: dict[str, object]) -> None:
    """One private-key base for every backend: the scheme check (naming the backend)
    and a repr that never shows key material are written once."""
    from tlskit.providers._common import BackendPrivateKey

    signer = provider.load_private_key(_pem(keys["ed25519"]))
    assert isinstance(signer, BackendPrivateKey)
    assert repr(signer) == f"<{type(signer).__name__} schemes=('ed25519',)>"
    with pytest.raises(UnsupportedAlgorithm, match=f"{signer.provider_name}.*ecdsa_secp256r1_sha256"):
        signer.sign("ecdsa_secp256r1_sha256", b"x")


def _with_ecdsa() -> list[str]:
    return [n for n in ALL if "ecdsa_secp384r1_sha384" in get_provider(n).signature_schemes]


@pytest.mark.parametrize("provider_name", _with_ecdsa())
def test_ecdsa_strict_curve(provider_name: str, keys: dict[str, object]) -> None:
    provider = get_provider(provider_name)
    key = keys["p256"]
    spki = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sig = key.sign(b"tbs", ec.ECDSA(hashes.SHA384()))  # type: ignore[attr-defined]
    scheme = provider.signature_scheme("ecdsa_secp384r1_sha384")
    with pytest.raises(BadSignatureError):
        scheme.verify(spki, b"tbs", sig)  # TLS 1.3: scheme bound to P-384
    scheme.verify(spki, b"tbs", sig, strict_curve=False)  # X.509: any curve


def test_wrong_key_type_is_bad_signature(provider: Provider, keys: dict[str, object]) -> None:
    ed_spki = keys["ed25519"].public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for name, scheme in provider.signature_schemes.items():
        if name == "ed25519":
            continue
        with pytest.raises(BadSignatureError):
            scheme.verify(ed_spki, b"m", bytes(64), strict_curve=False)
        with pytest.raises(BadSignatureError):
            scheme.verify(b"\x30\x03garbage", b"m", bytes(64))


@pytest.mark.parametrize("provider_name", _with_ecdsa())
def test_key_loading_formats(provider_name: str, keys: dict[str, object]) -> None:
    provider = get_provider(provider_name)
    key = keys["p256"]
    E, F = serialization.Encoding, serialization.PrivateFormat
    blobs = [
        key.private_bytes(E.PEM, F.PKCS8, serialization.NoEncryption()),  # type: ignore[attr-defined]
        key.private_bytes(E.DER, F.PKCS8, serialization.NoEncryption()),  # type: ignore[attr-defined]
        key.private_bytes(E.PEM, F.TraditionalOpenSSL, serialization.NoEncryption()),  # type: ignore[attr-defined]
        key.private_bytes(E.DER, F.TraditionalOpenSSL, serialization.NoEncryption()),  # type: ignore[attr-defined]
    ]
    for blob in blobs:
        assert provider.load_private_key(blob).schemes == ("ecdsa_secp256r1_sha256",)
    enc = key.private_bytes(E.PEM, F.PKCS8, serialization.BestAvailableEncryption(b"s3cret"))  # type: ignore[attr-defined]
    assert provider.load_private_key(enc, b"s3cret").schemes == ("ecdsa_secp256r1_sha256",)
    for password in (None, b"wrong"):
        with pytest.raises(KeyLoadError):
            provider.load_private_key(enc, password)
    with pytest.raises(KeyLoadError):
        provider.load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError):
        provider.load_private_key(b"\x30\x03\x02\x01\x00")


def test_random(provider: Provider) -> None:
    a, b = provider.random(32), provider.random(32)
    assert len(a) == 32 and a != b


# -- compose ------------------------------------------------------------------


def test_compose_name_and_parts() -> None:
    p = compose(kx="cryptography", aead="cryptography")
    assert p.name == "kx=cryptography,aead=cryptography,hash=cryptography,sig=cryptography"
    assert p.parts == {"kx": "cryptography", "aead": "cryptography", "hash": "cryptography", "sig": "cryptography"}
    assert list(p.cipher_suites) == list(get_provider("cryptography").cipher_suites)
    assert get_provider(p.name).name == p.name
    named = compose(name="mine")
    assert named.name == "mine"


def test_provider_built_from_suites_alone_offers_their_aeads_and_hashes() -> None:
    base = get_provider("cryptography")
    suite = base.cipher_suites["TLS_AES_128_GCM_SHA256"]
    bare = Provider(
        name="bare",
        cipher_suites={suite.name: suite},
        groups=base.groups,
        signature_schemes=base.signature_schemes,
        key_loader=base.key_loader,
        random_source=base.random_source,
    )
    assert dict(bare.aead_algorithms) == {"AES-128-GCM": suite.aead}
    assert dict(bare.hash_algorithms) == {"sha256": suite.hash}
    assert bare.aead("AES-128-GCM") is suite.aead and bare.hash("sha256") is suite.hash
    with pytest.raises(UnsupportedAlgorithm):
        bare.aead("AES-256-GCM")
    composed = compose(aead=bare, hash=bare)
    assert list(composed.cipher_suites) == ["TLS_AES_128_GCM_SHA256"]


# -- interoperability between backends -----------------------------------------


def _pairs(group: str) -> list[tuple[str, str]]:
    have = [n for n in PROVIDERS if group in get_provider(n).groups]
    return [(a, b) for a in have for b in have if a != b]


@pytest.mark.parametrize("group", list(SHARE_LENGTHS))
def test_groups_interoperate_across_backends(group: str) -> None:
    pairs = _pairs(group)
    assert pairs or group not in get_provider("cryptography").groups or len(PROVIDERS) == 1
    for client_name, server_name in pairs:
        client = get_provider(client_name).group(group)
        server = get_provider(server_name).group(group)
        exchange = client.start()
        server_share, server_secret = server.encapsulate(exchange.share)
        assert (len(exchange.share), len(server_share)) == SHARE_LENGTHS[group]
        assert exchange.complete(server_share) == server_secret


def test_x25519mlkem768_layout_and_hostile_halves() -> None:
    """draft-ietf-tls-ecdhe-mlkem: ek||x25519 (1216), ct||x25519 (1120), secret mlkem||x25519."""
    for client_name, server_name in _pairs("X25519MLKEM768"):
        client = get_provider(client_name).group("X25519MLKEM768")
        server = get_provider(server_name).group("X25519MLKEM768")
        # the hybrid exchange built from its two halves, to look at the X25519 one alone
        mlkem_half, x25519_half = client.first.start(), client.second.start()
        assert x25519_half.group is get_provider(client_name).group("x25519")
        exchange = KeyExchange(client, mlkem_half.share + x25519_half.share, (mlkem_half, x25519_half))
        share = exchange.share
        assert len(client.start().share) == len(share) == 1216
        server_share, secret = server.encapsulate(share)
        assert len(server_share) == 1120 and len(secret) == 64
        # the X25519 half of the secret is the plain X25519 exchange of the last 32 bytes
        assert x25519_half.complete(server_share[1088:]) == secret[32:]
        assert exchange.complete(server_share) == secret
        # an all-zero X25519 half (low-order point) and an invalid ML-KEM key are rejected
        for bad in (share[:1184] + bytes(32), b"\xff" * 1184 + share[1184:], share[:1215]):
            with pytest.raises(IllegalParameter):
                server.encapsulate(bad)
        for bad in (server_share[:1088] + bytes(32), server_share[:1119], server_share + b"\x00"):
            with pytest.raises(IllegalParameter):
                exchange.complete(bad)


# -- RSASSA-PSS keys, passwords, cross-backend signatures ------------------------

from tlskit._der import encode as der_encode, encode_oid  # noqa: E402
from tlskit._oids import RSASSA_PSS  # noqa: E402

_SHA256_PSS_PARAMS = bytes.fromhex(
    # RSASSA-PSS-params: hashAlgorithm sha256, maskGenAlgorithm mgf1(sha256), saltLength 32
    "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d0609608648016503040201"
    "0500a203020120"
)


def _pss_pkcs8(key: rsa.RSAPrivateKey, params: bytes = b"") -> bytes:
    """An RSASSA-PSS PKCS#8 key (what `openssl genpkey -algorithm RSA-PSS` writes)."""
    inner = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    alg = der_encode(0x30, der_encode(0x06, encode_oid(RSASSA_PSS)) + params)
    return der_encode(0x30, b"\x02\x01\x00" + alg + der_encode(0x04, inner))


def _with_pss() -> list[str]:
    return [n for n in ALL if "rsa_pss_pss_sha256" in get_provider(n).signature_schemes]


@pytest.mark.parametrize("provider_name", _with_pss())
def test_rsassa_pss_keys(provider_name: str, keys: dict[str, object]) -> None:
    provider = get_provider(provider_name)
    free = provider.load_private_key(_pss_pkcs8(keys["rsa"]))  # type: ignore[arg-type]
    assert free.schemes == ("rsa_pss_pss_sha256", "rsa_pss_pss_sha384", "rsa_pss_pss_sha512")
    restricted = provider.load_private_key(_pss_pkcs8(keys["rsa"], _SHA256_PSS_PARAMS))  # type: ignore[arg-type]
    assert restricted.schemes == ("rsa_pss_pss_sha256",)
    assert _SHA256_PSS_PARAMS in restricted.public_key_der()  # the SPKI keeps the key's parameters
    for verifier_name in _with_pss():
        verifier = get_provider(verifier_name)
        for signer in (free, restricted):
            sig = signer.sign("rsa_pss_pss_sha256", b"cv")
            verifier.signature_scheme("rsa_pss_pss_sha256").verify(signer.public_key_der(), b"cv", sig)
            # a PSS key is not an rsaEncryption key, and vice versa
            with pytest.raises(BadSignatureError):
                verifier.signature_scheme("rsa_pss_rsae_sha256").verify(signer.public_key_der(), b"cv", sig)
        sig384 = free.sign("rsa_pss_pss_sha384", b"cv")
        spki_restricted = restricted.public_key_der()
        with pytest.raises(BadSignatureError):  # the key's parameters forbid SHA-384
            verifier.signature_scheme("rsa_pss_pss_sha384").verify(spki_restricted, b"cv", sig384)
    sha1_only = der_encode(0x30, b"")  # empty params: hashAlgorithm defaults to SHA-1
    with pytest.raises(KeyLoadError):
        provider.load_private_key(_pss_pkcs8(keys["rsa"], sha1_only))  # type: ignore[arg-type]


def test_password_rules_are_the_same_everywhere(provider: Provider, keys: dict[str, object]) -> None:
    key = keys["ed25519"]
    E, F = serialization.Encoding, serialization.PrivateFormat
    plain = key.private_bytes(E.PEM, F.PKCS8, serialization.NoEncryption())  # type: ignore[attr-defined]
    with pytest.raises(KeyLoadError, match="not encrypted"):
        provider.load_private_key(plain, b"pw")
    for encoding in (E.PEM, E.DER):
        enc = key.private_bytes(encoding, F.PKCS8, serialization.BestAvailableEncryption(b"pw"))  # type: ignore[attr-defined]
        with pytest.raises(KeyLoadError):
            provider.load_private_key(enc)
        if "ed25519" in provider.signature_schemes and not provider.parts.get("sig", provider.name) == "pynacl":
            assert provider.load_private_key(enc, b"pw").schemes == ("ed25519",)


def test_pynacl_loads_only_plain_ed25519(keys: dict[str, object]) -> None:
    if "pynacl" not in PROVIDERS:
        assert "pynacl" not in available_providers()
        return
    nacl = get_provider("pynacl")
    E, F = serialization.Encoding, serialization.PrivateFormat
    key = keys["ed25519"]
    der = key.private_bytes(E.DER, F.PKCS8, serialization.NoEncryption())  # type: ignore[attr-defined]
    signer = nacl.load_private_key(der)
    sig = signer.sign("ed25519", b"msg")
    key.public_key().verify(sig, b"msg")  # type: ignore[attr-defined]
    enc = key.private_bytes(E.PEM, F.PKCS8, serialization.BestAvailableEncryption(b"pw"))  # type: ignore[attr-defined]
    with pytest.raises(KeyLoadError, match="encrypted"):
        nacl.load_private_key(enc, b"pw")
    for other in ("rsa", "p256", "ed448"):
        with pytest.raises(KeyLoadError):
            nacl.load_private_key(_pem(keys[other]))
    with pytest.raises(KeyLoadError):
        nacl.load_private_key(der[:-1])
    with pytest.raises(KeyLoadError):
        nacl.load_private_key(der + b"\x00")


def test_signatures_verify_across_backends(keys: dict[str, object]) -> None:
    checked = 0
    for signer_name in PROVIDERS:
        signer_provider = get_provider(signer_name)
        for kind, key in keys.items():
            try:
                signer = signer_provider.load_private_key(_pem(key))
            except KeyLoadError:
                continue
            for scheme in signer.schemes:
                sig = signer.sign(scheme, b"hello")
                for verifier_name in PROVIDERS:
                    verifier = get_provider(verifier_name)
                    if scheme in verifier.signature_schemes:
                        verifier.signature_scheme(scheme).verify(signer.public_key_der(), b"hello", sig)
                        checked += 1
    assert checked >= len(PROVIDERS) * 2


def test_compose_uses_libsodium_aes_when_the_cpu_has_it() -> None:
    if "pynacl" not in PROVIDERS:
        assert "pynacl" not in available_providers()
        return
    nacl = get_provider("pynacl")
    p = compose(aead="pynacl", hash="cryptography")
    assert "TLS_CHACHA20_POLY1305_SHA256" in p.cipher_suites
    assert "TLS_AES_128_GCM_SHA256" not in p.cipher_suites  # libsodium has no AES-128-GCM
    if "AES-256-GCM" in nacl.aead_algorithms:
        suite = p.cipher_suite("TLS_AES_256_GCM_SHA384")
        assert suite.aead is nacl.aead("AES-256-GCM")
        assert suite.hash is get_provider("cryptography").hash("sha384")
    else:
        assert "TLS_AES_256_GCM_SHA384" not in p.cipher_suites
    # pynacl alone never offers a SHA-384 suite: libsodium has no SHA-384
    assert list(nacl.cipher_suites) == ["TLS_CHACHA20_POLY1305_SHA256"]
    with pytest.raises(UnsupportedAlgorithm, match="sha384"):
        nacl.hash("sha384")
    mixed = compose(kx="pynacl", aead="pycryptodome", hash="cryptography", signatures="cryptography")
    assert mixed.name == "kx=pynacl,aead=pycryptodome,hash=cryptography,sig=cryptography"
    assert list(mixed.groups) == ["x25519"]
    assert mixed.versions.keys() == {"pynacl", "pycryptodome", "cryptography", "openssl"}
    # composing a composed provider takes the matching part, not the whole name
    again = compose(kx=mixed, aead=mixed, hash="pynacl", signatures=mixed)
    assert again.name == "kx=pynacl,aead=pycryptodome,hash=pynacl,sig=cryptography"


def test_aeads_interoperate_across_backends() -> None:
    """A record sealed by one backend opens with every other backend's same AEAD."""
    by_name: dict[str, list[tuple[str, object]]] = {}
    for name in PROVIDERS:
        p = get_provider(name)
        for alg_name in p.aead_algorithms:
            by_name.setdefault(alg_name, []).append((name, p.aead(alg_name)))
    pairs = 0
    for alg_name, algs in by_name.items():
        key = bytes(range(algs[0][1].key_length))  # type: ignore[attr-defined]
        for _, sealer in algs:
            sealed = sealer.new(key).seal(b"\x07" * 12, b"aad", b"payload" * 100)  # type: ignore[attr-defined]
            for _, opener in algs:
                assert opener.new(key).open(b"\x07" * 12, b"aad", sealed) == b"payload" * 100  # type: ignore[attr-defined]
                pairs += 1
    assert pairs >= 3


def test_names_are_case_insensitive() -> None:
    assert get_provider("Cryptography") is not None
    assert get_provider("Cryptography").name == "cryptography"
    composed = get_provider("kx=Cryptography,aead=cryptography,hash=cryptography,sig=cryptography")
    assert composed.name == "kx=cryptography,aead=cryptography,hash=cryptography,sig=cryptography"


# -- backend quirks pinned (shared notes/provider-quirks.md) ---------------------


def test_rsa_pss_salt_length_must_equal_hash_length(keys: dict[str, object]) -> None:
    from cryptography.hazmat.primitives.asymmetric import padding

    key = keys["rsa"]
    spki = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    salt20 = key.sign(  # type: ignore[attr-defined]
        b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20), hashes.SHA256()
    )
    salt32 = key.sign(  # type: ignore[attr-defined]
        b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    for name in _with_ecdsa():  # the backends with RSA
        scheme = get_provider(name).signature_scheme("rsa_pss_rsae_sha256")
        scheme.verify(spki, b"m", salt32)
        with pytest.raises(BadSignatureError):  # PSS.AUTO would have accepted it
            scheme.verify(spki, b"m", salt20)


def test_ed25519_signature_length_is_pinned(provider: Provider, keys: dict[str, object]) -> None:
    """crypto_sign_open takes sig||msg: a 63-byte signature must not shift into the message."""
    key = keys["ed25519"]
    spki = key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sig = key.sign(b"message")  # type: ignore[attr-defined]
    scheme = provider.signature_scheme("ed25519")
    scheme.verify(spki, b"message", sig)
    for bad_sig, msg in ((sig[:63], sig[63:] + b"message"), (sig + b"\x00", b"message"), (b"", b"message")):
        with pytest.raises(BadSignatureError):
            scheme.verify(spki, msg, bad_sig)


def test_pycryptodome_chacha_never_switches_algorithm() -> None:
    """ChaCha20_Poly1305.new picks legacy/XChaCha from the nonce length; the provider must not."""
    if "pycryptodome" not in PROVIDERS:
        assert "pycryptodome" not in available_providers()
        return
    aead = get_provider("pycryptodome").aead("ChaCha20-Poly1305").new(bytes(32))
    for nonce in (bytes(8), bytes(24)):
        with pytest.raises(TLSError):
            aead.seal(nonce, b"", b"x")
        with pytest.raises(BadRecordMac):
            aead.open(nonce, b"", bytes(17))
