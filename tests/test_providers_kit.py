"""Third-party providers: the ``tlskit.providers`` entry-point group and the conformance
kit (``tlskit providers check``, ``tlskit.providers.testing``).

The proof installs a throwaway provider package into a temporary directory (a
``*.dist-info`` with ``entry_points.txt`` beside the module, put on PYTHONPATH of a
``tlskit`` subprocess -- no network, no venv needed) and checks that it is listed, works
as ``provider="its-name"``, passes ``tlskit providers check``; that a deliberately broken
provider fails it with a non-zero exit; that a broken entry point is reported, not fatal;
and that a built-in name cannot be shadowed.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import provider_example
import pytest

from tlskit.providers import available_providers, get_provider
from tlskit.providers.registry import UnknownProvider, third_party_providers
from tlskit.providers.testing import assert_conformant, run_conformance

EXAMPLE_SOURCE = pathlib.Path(provider_example.__file__).read_text()

ENTRY_POINTS = """\
[tlskit.providers]
audited = acme_tls_audit:build
audited-broken = acme_tls_audit:build_broken
missing-module = acme_tls_nowhere:build
not-a-provider = acme_tls_audit:NOT_A_PROVIDER
cryptography = acme_tls_audit:build_broken
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    """A directory holding an 'installed' distribution that declares tlskit providers."""
    root = tmp_path_factory.mktemp("site")
    package = root / "acme_tls_audit"
    package.mkdir()
    (package / "example.py").write_text(EXAMPLE_SOURCE)
    (package / "__init__.py").write_text(
        "from acme_tls_audit.example import AUDIT_LOG, audited, broken\n"
        "NOT_A_PROVIDER = 42\n"
        "def build():\n    return audited('pynacl', name='audited')\n"
        "def build_broken():\n    return broken('pynacl', name='audited-broken')\n"
    )
    dist = root / "acme_tls_audit-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tls-audit\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return root


def tlskit(site: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "tlskit.cli.main", *args], capture_output=True, text=True, env=env, timeout=240
    )


@pytest.fixture
def on_path(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in list(sys.modules):
        if name.startswith("acme_tls_audit"):
            del sys.modules[name]


def test_an_installed_package_appears_in_tlskit_providers(site) -> None:
    result = tlskit(site, "providers", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    audited = rows["audited"]
    assert audited["available"] is True and audited["entry_point"] == "acme_tls_audit:build"
    assert audited["groups"] == ["x25519"] and audited["signature_schemes"] == ["ed25519"]
    assert audited["versions"]["audited-example"] == "1.0"
    # broken entry points are reported with their error, and the others still work
    assert rows["missing-module"]["available"] is False
    assert "ModuleNotFoundError" in rows["missing-module"]["error"]
    assert rows["not-a-provider"]["available"] is False and "int is not" in rows["not-a-provider"]["error"]
    # the built-in wins the clash: "cryptography" is listed once, and it is the real one
    assert [r["name"] for r in json.loads(result.stdout)].count("cryptography") == 1
    assert "openssl" in rows["cryptography"]["versions"]
    plain = tlskit(site, "providers")
    assert plain.returncode == 0 and "audited (audited-example 1.0" in plain.stdout
    assert "missing-module: unavailable" in plain.stdout


def test_the_installed_provider_passes_the_check(site) -> None:
    result = tlskit(site, "providers", "check", "audited")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED:" in result.stdout and " 0 failed" in result.stdout
    for row in ("vectors     chacha20_poly1305", "peer input  signature ed25519", "handshake   audited as server vs cryptography"):
        assert f"PASS  {row}" in result.stdout


def test_a_broken_provider_fails_the_check(site) -> None:
    # by entry-point name and by MODULE:ATTR
    for spec in ("audited-broken", "acme_tls_audit:build_broken"):
        result = tlskit(site, "providers", "check", spec, "--json")
        assert result.returncode == 1, result.stdout + result.stderr
        report = json.loads(result.stdout)
        assert report["ok"] is False
        failed = {r["subject"] for r in report["results"] if r["status"] == "fail"}
        # the wrong tag: Wycheproof and the cross-check both see it
        assert {"chacha20_poly1305", "AEAD ChaCha20-Poly1305"} <= failed
        # the signer that signs the wrong bytes
        signature = next(r for r in report["results"] if r["subject"] == "signature ed25519")
        assert signature["status"] == "fail" and "does not verify with the reference" in signature["detail"]
        assert any(s.startswith("audited-broken as server vs") for s in failed)


def test_an_unloadable_provider_exits_2(site) -> None:
    for spec in ("no-such-provider", "acme_tls_nowhere:build", "acme_tls_audit:NOT_A_PROVIDER"):
        result = tlskit(site, "providers", "check", spec)
        assert result.returncode == 2, (spec, result.stdout, result.stderr)
        assert "error:" in result.stderr


def test_entry_point_provider_works_as_a_name_in_process(on_path) -> None:
    """provider="audited" in a ClientConfig/ServerConfig: a real handshake through it."""
    from tlskit.ca.ephemeral import EphemeralCA
    from tlskit.engine.client import ClientConnection
    from tlskit.engine.server import ServerConnection

    assert third_party_providers()["audited"] == "acme_tls_audit:build"
    assert "audited" in available_providers() and "missing-module" not in available_providers()
    with pytest.raises(UnknownProvider, match="missing-module.*ModuleNotFoundError"):
        get_provider("missing-module")
    assert get_provider("cryptography").versions.get("openssl")  # not the plug-in's clash
    log = sys.modules["acme_tls_audit"].AUDIT_LOG
    log.clear()
    ca = EphemeralCA(key_type="ed25519")
    client = ClientConnection(ca.client_config(provider="audited"), "localhost")
    server = ServerConnection(ca.server_config(provider="cryptography"))
    for _ in range(6):
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
    assert client.handshake_complete and client.negotiated.group == "x25519"
    client.send(b"hello")
    server.receive_data(client.data_to_send())
    assert server.recv() == b"hello"
    operations = {op for op, _ in log}
    assert {"key share", "complete", "verify", "seal", "open"} <= operations
    assert ("verify", "ed25519") in log


def test_assert_conformant_for_a_projects_own_suite() -> None:
    report = assert_conformant(provider_example.audited())
    assert report.ok and report.counts()["fail"] == 0
    with pytest.raises(AssertionError, match="FAIL  peer input  signature ed25519"):
        assert_conformant(provider_example.broken(), handshakes=False)


def test_kit_reports_untyped_errors_instead_of_crashing() -> None:
    """A group that leaks a library exception on a bad share is a failed row, not a crash."""
    from tlskit.providers.base import KeyExchangeGroup, Provider

    base = get_provider("pynacl")
    inner = base.group("x25519")

    class Leaky(KeyExchangeGroup):
        name, code = inner.name, inner.code

        def start(self):
            return inner.start()

        def encapsulate(self, peer_share):
            if len(peer_share) != 32:
                raise ValueError("library says no")  # BUG: should be IllegalParameter
            return inner.encapsulate(peer_share)

        def complete(self, state, peer_share):
            return inner.complete(state, peer_share)

    leaky = Provider(
        name="leaky",
        cipher_suites=base.cipher_suites,
        groups={"x25519": Leaky()},
        signature_schemes=base.signature_schemes,
        key_loader=base.key_loader,
        random_source=base.random_source,
    )
    report = run_conformance(leaky, handshakes=False)
    row = next(r for r in report.results if r.subject == "group x25519")
    assert row.status == "fail" and "raised ValueError, expected IllegalParameter" in row.detail
    assert not report.ok
