"""The fuzz harness cannot rot: every target of fuzz/targets.py runs here on its committed
seeds plus a few hundred deterministic mutations, without atheris, and nothing but the
typed errors may escape (the targets swallow those; anything else fails the test).

The coverage-guided campaign itself is ``scripts/fuzz.py TARGET`` (atheris; docs/fuzzing.md).
"""

from __future__ import annotations

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzz.mutate import mutations  # noqa: E402
from fuzz.targets import TARGETS, setup  # noqa: E402

CORPUS = ROOT / "fuzz" / "corpus"
#: mutations per target: enough to cross every decoder's error paths, small enough for CI
MUTATIONS = 300


def seeds(target: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / target).iterdir())]


def test_every_target_has_seeds() -> None:
    assert set(TARGETS) == {"server_engine", "client_engine", "record_layer", "certificates", "csr", "extensions"}
    for target in TARGETS:
        found = seeds(target)
        assert found, target
        assert sum(map(len, found)) < 20_000  # the committed corpora stay small


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_survives_seeds_and_mutations(target: str) -> None:
    run = TARGETS[target]
    count = 0
    for data in mutations(seeds(target), MUTATIONS, seed=len(target)):
        run(data)
        count += 1
    assert count == len(seeds(target)) + MUTATIONS


def test_the_seeds_reach_deep() -> None:
    """The unmutated seeds drive the real code paths, not just the first length check:
    the recorded server flight completes a client handshake once re-encrypted, and the
    server answers the recorded ClientHello with a ServerHello."""
    from tlskit.engine.client import ClientConnection
    from tlskit.engine.server import ServerConnection

    s = setup()
    committed = (CORPUS / "client_engine" / "flight-plaintext").read_bytes()[1:]
    client = ClientConnection(s.client_config, "localhost")
    client.data_to_send()
    client.receive_data(s.server_hello + s.encrypt(committed, "SERVER_HANDSHAKE_TRAFFIC_SECRET"))
    assert client.handshake_complete  # certificate verified, CertificateVerify and Finished checked
    server = ServerConnection(s.server_config)
    server.receive_data((CORPUS / "server_engine" / "tlskit-fixed-hello").read_bytes())
    assert server.data_to_send()[:1] == b"\x16"  # a ServerHello record


def test_a_crashing_target_would_be_caught() -> None:
    """The harness lets only typed errors through: a non-TLSError from the engine fails."""
    from fuzz import targets

    def broken(data: bytes) -> None:
        targets.extensions(data)
        if data[:1] == b"\x00":
            raise IndexError("the kind of bug the fuzzer looks for")

    with pytest.raises(IndexError):
        for data in mutations(seeds("extensions"), 10):
            broken(data)


def test_regression_csr_with_an_invalid_version_is_a_ca_error() -> None:
    """Found by the atheris campaign (docs/fuzzing.md): a DER CSR whose version is not v1
    made cryptography raise x509.InvalidVersion, which is no ValueError, out of parse_csr."""
    from tlskit.ca.csr import parse_csr
    from tlskit.ca.errors import CAError

    data = (CORPUS / "csr" / "regression-invalid-version.der").read_bytes()
    with pytest.raises(CAError, match="not a readable"):
        parse_csr(data)
