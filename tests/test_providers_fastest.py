"""provider="fastest": the selection logic with injected measurements (which backend wins
on this machine is never assumed), the ranking file and its process cache, the per-key
signer choice, the conformance kit, and handshakes with the stdlib ssl module and the
openssl command line for the default, a measured and a deliberately mixed composition."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from typer.testing import CliRunner

from certs import make_pki
from io_peers import OPENSSL, TIMEOUT, openssl_server, tlskit_server
from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.cli.main import app
from tlskit.errors import KeyLoadError
from tlskit.providers import fastest, get_provider
from tlskit.providers.fastest import MARGIN, build, choose, choose_one, primitives, save_ranking
from tlskit.providers.measure import measure
from tlskit.providers.registry import builtin_providers
from tlskit.providers.testing import assert_conformant

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
runner = CliRunner()

#: a composition spread over all three backends wherever one can give the primitive
MIXED_WINNERS = {
    "group:x25519": "pynacl",
    "group:secp256r1": "pycryptodome",
    "aead:AES-128-GCM": "pycryptodome",
    "aead:AES-256-GCM": "pynacl",
    "aead:ChaCha20-Poly1305": "pynacl",
    "hash:sha256": "pynacl",
    "hash:sha384": "pycryptodome",
    "verify:ed25519": "pynacl",
    "verify:ecdsa_secp256r1_sha256": "pycryptodome",
    "verify:rsa": "pycryptodome",
    "sign:ed25519": "pynacl",
    "sign:ecdsa_secp256r1_sha256": "pycryptodome",
}


def backends():
    return builtin_providers()


def save(measurements, key=None):
    return save_ranking(measurements, fastest.machine_key(backends()) if key is None else key)


def injected(winners: dict[str, str]) -> dict[str, dict[str, float]]:
    """Measurements in which ``winners`` are twice as fast as everyone else."""
    providers = backends()
    table = {}
    for primitive in primitives(providers):
        offering = [b for b, p in providers.items() if fastest.offers(p, primitive)]
        winner = winners.get(primitive)
        table[primitive] = {b: (1e-5 if b == winner else 2e-5) for b in offering}
    return table


@pytest.fixture(autouse=True)
def ranking_file(tmp_path, monkeypatch) -> Path:
    """Every test gets its own ranking file (never the user's cache)."""
    path = tmp_path / "rank.json"
    monkeypatch.setenv(fastest.RANKING_ENV, str(path))
    return path


@pytest.fixture(scope="module")
def ed_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("ed"), leaf_key_type="ed25519", ca_key_type="ed25519", name="ed")


@pytest.fixture(scope="module")
def p256_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("p256"), name="p256")


# ---------------------------------------------------------------------------
# Selection


def test_choose_one_takes_the_fastest_beyond_the_margin_and_the_preferred_within_it():
    assert choose_one({"cryptography": 10.0, "pynacl": 5.0}) == "pynacl"
    # within MARGIN: the preferred (first in DEFAULT_ORDER) keeps it, so noise does not flip choices
    assert choose_one({"cryptography": 10.0, "pynacl": 10.0 / (1 + MARGIN / 2)}) == "cryptography"
    assert choose_one({"cryptography": 10.0, "pynacl": 10.0 / (1 + 2 * MARGIN)}) == "pynacl"
    assert choose_one({"pycryptodome": 3.0, "pynacl": 2.0}) == "pynacl"
    assert choose_one({"pycryptodome": 3.0, "pynacl": 2.0}, order=("pynacl", "pycryptodome")) == "pynacl"
    # unusable figures are ignored, nothing usable is None
    assert choose_one({"cryptography": float("nan"), "pynacl": 0.0, "pycryptodome": 4.0}) == "pycryptodome"
    assert choose_one({"cryptography": -1.0}) is None
    assert choose_one({}) is None


def test_choose_only_lets_backends_that_offer_a_primitive_compete():
    providers = backends()
    measurements = {
        "group:x448": {"pynacl": 1e-9, "pycryptodome": 1e-3, "cryptography": 2e-3},  # pynacl has no x448
        "aead:AES-128-GCM": {"pynacl": 1e-9, "cryptography": 1e-3},  # nor AES-128-GCM
        "sign:ecdsa_secp256r1_sha256": {"nobody": 1e-9, "cryptography": 1e-3},  # an unknown backend
    }
    choices = choose(measurements, providers)
    assert choices["group:x448"] == "pycryptodome"
    assert choices["aead:AES-128-GCM"] == "cryptography"
    assert choices["sign:ecdsa_secp256r1_sha256"] == "cryptography"
    # nothing measured: the first backend of DEFAULT_ORDER that has it
    assert choices["group:x25519"] == "cryptography"
    assert set(choices) == set(primitives(providers))


def test_default_ranking_is_cryptography_for_everything_it_offers():
    choices = choose({}, backends())
    assert set(choices.values()) == {"cryptography"}
    provider = get_provider("fastest")
    assert provider.source.startswith("default (missing")
    assert set(provider.choices.values()) == {"cryptography"}
    reference = get_provider("cryptography")
    assert list(provider.groups) == list(reference.groups)  # table orders follow the reference
    assert list(provider.cipher_suites) == list(reference.cipher_suites)
    assert all(provider.groups[g] is reference.groups[g] for g in reference.groups)


def test_build_mixes_algorithm_objects_of_different_backends():
    providers = backends()
    nacl, dome, ref = providers["pynacl"], providers["pycryptodome"], providers["cryptography"]
    provider = build(choose(injected(MIXED_WINNERS), providers), providers)
    assert provider.name == "fastest"
    assert provider.groups["x25519"] is nacl.groups["x25519"]
    assert provider.groups["secp256r1"] is dome.groups["secp256r1"]
    assert provider.groups["x448"] is ref.groups["x448"]
    # every ffdhe group follows the one ffdhe entry
    assert all(provider.groups[g] is ref.groups[g] for g in provider.groups if g.startswith("ffdhe"))
    chacha = provider.cipher_suites["TLS_CHACHA20_POLY1305_SHA256"]
    assert chacha.aead is nacl.aead_algorithms["ChaCha20-Poly1305"] and chacha.hash is nacl.hash_algorithms["sha256"]
    # a suite pynacl cannot form alone: libsodium's AES-256-GCM with pycryptodome's SHA-384
    aes256 = provider.cipher_suites["TLS_AES_256_GCM_SHA384"]
    assert aes256.aead is nacl.aead_algorithms["AES-256-GCM"] and aes256.hash is dome.hash_algorithms["sha384"]
    assert provider.cipher_suites["TLS_AES_128_GCM_SHA256"].aead is dome.aead_algorithms["AES-128-GCM"]
    assert provider.signature_schemes["ed25519"] is nacl.signature_schemes["ed25519"]
    assert all(provider.signature_schemes[s] is dome.signature_schemes[s] for s in provider.signature_schemes if s.startswith("rsa_"))
    assert provider.signature_schemes["ed448"] is ref.signature_schemes["ed448"]
    for primitive, backend in MIXED_WINNERS.items():
        assert provider.choices[primitive] == backend, primitive
    assert {"cryptography", "pycryptodome", "pynacl"} <= set(provider.versions)


def test_build_falls_back_when_the_chosen_backend_lacks_the_primitive():
    providers = backends()
    provider = build({"group:x448": "pynacl", "aead:AES-128-GCM": "no-such-backend"}, providers)
    assert provider.groups["x448"] is providers["cryptography"].groups["x448"]
    assert provider.choices["group:x448"] == "cryptography"
    assert provider.choices["aead:AES-128-GCM"] == "cryptography"


# ---------------------------------------------------------------------------
# Private keys: one backend loads and signs


def _ed25519_pem(password: bytes | None = None) -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def test_key_loader_signs_with_the_ranked_backend_and_falls_back_to_the_reference(p256_pki):
    providers = backends()
    provider = build(choose(injected(MIXED_WINNERS), providers), providers)
    reference = providers["cryptography"]
    message = b"signed content" * 9

    key = provider.load_private_key(_ed25519_pem())
    assert key.provider_name == "pynacl"  # libsodium signs Ed25519 in this ranking
    reference.signature_schemes["ed25519"].verify(key.public_key_der(), message, key.sign("ed25519", message))

    # libsodium cannot decrypt PKCS#8: the reference's copy of the key signs instead
    key = provider.load_private_key(_ed25519_pem(b"secret"), b"secret")
    assert key.provider_name == "cryptography"
    reference.signature_schemes["ed25519"].verify(key.public_key_der(), message, key.sign("ed25519", message))

    key = provider.load_private_key(p256_pki.key_file.read_bytes())
    assert key.provider_name == "pycryptodome"
    scheme = "ecdsa_secp256r1_sha256"
    reference.signature_schemes[scheme].verify(key.public_key_der(), message, key.sign(scheme, message))

    with pytest.raises(KeyLoadError):
        provider.load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError):
        provider.load_private_key(_ed25519_pem(b"secret"), b"wrong")


def test_key_loader_refuses_a_ranked_copy_with_another_public_key():
    """A backend whose copy of the key does not match the reference's is not used to sign."""
    import dataclasses

    providers = backends()
    other = providers["pynacl"].load_private_key(_ed25519_pem())
    lying = dataclasses.replace(providers["pynacl"], key_loader=lambda data, password=None: other)
    providers = {**providers, "pynacl": lying}
    provider = build(choose(injected(MIXED_WINNERS), providers), providers)
    pem = _ed25519_pem()
    key = provider.load_private_key(pem)
    assert key.provider_name == "cryptography"
    assert key.public_key_der() == providers["cryptography"].load_private_key(pem).public_key_der()


# ---------------------------------------------------------------------------
# The ranking file and the process cache


def test_ranking_file_is_used_and_a_new_one_replaces_the_cached_provider(ranking_file):
    first = get_provider("fastest")
    assert get_provider("fastest") is first  # unchanged file: the same provider
    assert set(first.choices.values()) == {"cryptography"}

    save(injected({"group:x25519": "pynacl"}))
    second = get_provider("fastest")
    assert second is not first
    assert second.source.startswith("measured ")
    assert second.groups["x25519"] is get_provider("pynacl").groups["x25519"]
    assert get_provider("fastest") is second

    save(injected({"group:x25519": "pycryptodome", "verify:ed25519": "pynacl"}))
    third = get_provider("fastest")
    assert third.groups["x25519"] is get_provider("pycryptodome").groups["x25519"]
    assert third.choices["verify:ed25519"] == "pynacl"

    # composed names with a "fastest" part follow the file too (never cached by name)
    composed = "kx=fastest,aead=cryptography,hash=cryptography,sig=cryptography"
    assert get_provider(composed).groups["x25519"] is get_provider("pycryptodome").groups["x25519"]
    ranking_file.unlink()
    assert get_provider("fastest").choices["group:x25519"] == "cryptography"
    assert get_provider(composed).groups["x25519"] is get_provider("cryptography").groups["x25519"]


def test_a_ranking_from_another_machine_or_library_version_is_not_used(ranking_file):
    key = fastest.machine_key(backends())
    key["libraries"] = {**key["libraries"], "pynacl": "0.0.1"}
    save(injected({"group:x25519": "pynacl"}), key=key)
    provider = get_provider("fastest")
    assert "stale" in provider.source and "libraries" in provider.source
    assert provider.choices["group:x25519"] == "cryptography"

    save(injected({"group:x25519": "pynacl"}))  # this machine's key: used
    assert get_provider("fastest").choices["group:x25519"] == "pynacl"


@pytest.mark.parametrize("content", ["{not json", '{"format": 99}', '{"format": 1, "measurements": []}', "[]"])
def test_an_unreadable_ranking_falls_back_to_the_default(ranking_file, content):
    ranking_file.write_text(content)
    provider = get_provider("fastest")
    assert "unreadable" in provider.source
    assert set(provider.choices.values()) == {"cryptography"}


def test_save_ranking_is_atomic_and_leaves_no_temporary_file(ranking_file):
    path = save(injected({}))
    assert path == ranking_file
    assert [p.name for p in ranking_file.parent.iterdir()] == ["rank.json"]
    document = json.loads(ranking_file.read_text())
    assert document["format"] == fastest.FORMAT and document["key"] == fastest.machine_key(backends())


# ---------------------------------------------------------------------------
# Measuring (the code runs; what it finds is not asserted)


def test_measure_times_every_offered_primitive_of_every_backend():
    providers = backends()
    result = measure(providers, reps=1, min_time=0.0005, only=["group:x25519", "aead:ChaCha20-Poly1305", "hash:sha256", "verify:ed25519", "sign:ed25519"])
    assert result.errors == {}
    for primitive in ("group:x25519", "aead:ChaCha20-Poly1305", "hash:sha256", "verify:ed25519", "sign:ed25519"):
        offering = {b for b, p in providers.items() if fastest.offers(p, primitive)}
        assert set(result.measurements[primitive]) == offering
        assert all(t > 0 for t in result.measurements[primitive].values())


def test_cli_rank_measures_saves_and_shows(ranking_file):
    result = runner.invoke(app, ["providers", "rank", "--reps", "1", "--save", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["saved"] == str(ranking_file)
    assert set(document["choices"]) == set(primitives(backends()))
    assert set(document["measurements_s"]) == set(primitives(backends()))
    shown = runner.invoke(app, ["providers", "rank", "--show", "--json"])
    assert shown.exit_code == 0, shown.output
    current = json.loads(shown.output)
    assert current["source"].startswith("measured ")
    assert current["choices"] == document["choices"]  # what was measured is what is used
    text = runner.invoke(app, ["providers", "rank", "--show"])
    assert text.exit_code == 0 and 'provider "fastest": measured' in text.output
    refused = runner.invoke(app, ["providers", "rank", "--show", "--save"])
    assert refused.exit_code == 2


# ---------------------------------------------------------------------------
# End to end: conformance kit and interop


@pytest.fixture(scope="module")
def measured() -> dict[str, dict[str, float]]:
    """This machine's own measurements, taken once (short: what wins is not the point)."""
    return measure(reps=1, min_time=0.0005).measurements


@pytest.fixture(params=["default", "measured", "mixed"])
def composition(request, ranking_file, measured) -> str:
    """The ranking in use: none, this machine's own (whatever it finds), or MIXED_WINNERS."""
    if request.param == "measured":
        save(measured)
    elif request.param == "mixed":
        save(injected(MIXED_WINNERS))
    return request.param


def test_mixed_composition_passes_the_conformance_kit(ranking_file):
    save(injected(MIXED_WINNERS))
    report = assert_conformant("fastest")
    assert report.results


def test_cli_check_fastest(composition):
    result = runner.invoke(app, ["providers", "check", "fastest", "--no-vectors"])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output


class _SSLPeer:
    """A stdlib SSLObject on MemoryBIOs, pumped against a tlskit connection."""

    def __init__(self, context: ssl.SSLContext, tls, *, server_side: bool) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side,
                                    server_hostname=None if server_side else "localhost")  # fmt: skip
        self.tls = tls

    def handshake(self) -> None:
        done = False
        for _ in range(20):
            data = self.tls.data_to_send()
            if data:
                self.incoming.write(data)
            if not done:
                try:
                    self.obj.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    pass
            data = self.outgoing.read()
            if data:
                self.tls.receive_data(data)
            if done and self.tls.handshake_complete and not data:
                return
        raise AssertionError("handshake made no progress")

    def roundtrip(self) -> None:
        self.tls.send(b"from tlskit")
        self.incoming.write(self.tls.data_to_send())
        assert self.obj.read(100) == b"from tlskit"
        self.obj.write(b"from ssl")
        self.tls.receive_data(self.outgoing.read())
        assert self.tls.recv() == b"from ssl"


def _ssl_server(pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(pki.chain_file, pki.key_file)
    return context


def _ssl_client(pki) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context


@pytest.mark.interop
@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa-p256"])
@pytest.mark.parametrize("suite", ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
def test_handshakes_with_stdlib_ssl_both_directions(composition, ed_pki, p256_pki, key_type, suite):
    pki = ed_pki if key_type == "ed25519" else p256_pki
    provider = get_provider("fastest")
    client = ClientConnection(
        ClientConfig(cafile=pki.ca_file, provider="fastest", cipher_suites=[suite], groups=["x25519", "secp256r1"]),
        server_name="localhost",
    )
    peer = _SSLPeer(_ssl_server(pki), client, server_side=True)
    peer.handshake()
    peer.roundtrip()
    assert client.negotiated.cipher_suite == suite and client.negotiated.group == "x25519"

    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, provider="fastest", cipher_suites=[suite]))
    peer = _SSLPeer(_ssl_client(pki), server, server_side=False)
    peer.handshake()
    peer.roundtrip()
    assert peer.obj.cipher()[0] == suite
    assert server.negotiated.signature_scheme == ("ed25519" if key_type == "ed25519" else "ecdsa_secp256r1_sha256")
    if composition == "mixed":  # the parts really came from the backends the ranking names
        assert provider.groups["x25519"] is get_provider("pynacl").groups["x25519"]


@pytest.mark.interop
@needs_openssl
def test_tlskit_serve_and_connect_with_provider_fastest_against_openssl(ed_pki, ranking_file):
    """The CLI's --provider fastest, with the mixed ranking (a subprocess reads the same file)."""
    save(injected(MIXED_WINNERS))
    env = {fastest.RANKING_ENV: str(ranking_file)}
    with tlskit_server(ed_pki, "--provider", "fastest", "--mode", "echo", env=env) as (proc, port):
        result = subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-CAfile",
             str(ed_pki.ca_file), "-verify_return_error", "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            input=b"ping\n", capture_output=True, timeout=TIMEOUT,
        )  # fmt: skip
    output = result.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in output, output + result.stderr.decode(errors="replace")
    assert "TLS_CHACHA20_POLY1305_SHA256" in output

    with openssl_server(ed_pki, "-rev") as (proc, port):
        result = runner.invoke(app, [
            "connect", f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(ed_pki.ca_file),
            "--provider", "fastest", "--ciphers", "TLS_CHACHA20_POLY1305_SHA256", "--send", "Hello\n",
        ], env={**os.environ, **env})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "verified: yes" in result.output and "olleH" in result.output


def test_bench_measures_provider_fastest(ranking_file):
    save(injected(MIXED_WINNERS))  # the bench's worker processes read the same file
    result = runner.invoke(app, ["bench", "--json", "--only", "handshake", "--providers", "fastest",
                                 "--key-types", "ed25519", "--reps", "1", "--min-time", "0.01"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads(result.stdout)["results"] if r["label"] == "tlskit/fastest"]
    assert rows and all(r["median"] > 0 and r["negotiated"]["signature_scheme"] == "ed25519" for r in rows)


def test_default_ranking_path_follows_the_cache_directory(tmp_path, monkeypatch):
    """The platformdirs answer is remembered per environment: a changed XDG_CACHE_HOME is seen."""
    import platformdirs

    monkeypatch.delenv(fastest.RANKING_ENV)
    for name in ("a", "b"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / name))
        assert fastest.ranking_path() == Path(platformdirs.user_cache_dir("tlskit")) / "provider-rank.json"
    if tmp_path in fastest.ranking_path().parents:  # never write to a real user cache (macOS, Windows)
        save(injected({"group:x25519": "pynacl"}))  # written where provider="fastest" reads it
        assert fastest.ranking_path().is_file()
        assert get_provider("fastest").choices["group:x25519"] == "pynacl"


def test_cli_rank_save_to_an_unwritable_place_is_one_error_line(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(fastest.RANKING_ENV, str(blocker / "rank.json"))
    result = runner.invoke(app, ["providers", "rank", "--reps", "1", "--save"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot save the ranking") and result.stderr.count("\n") == 1
    assert blocker.read_text() == ""
