"""`tlskit ca install` / `uninstall`: the system store (curl trusts a `tlskit serve`
certificate after install and not after uninstall) and NSS databases (certutil lists the
root), reported per store, reversible, refusing what must not be a trust anchor.

Every test that installs removes what it installed in a finally/fixture teardown, so the
machine's trust store is left as it was whatever fails."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tlskit.ca import CAError, CertificateAuthority
from tlskit.ca import truststore
from tlskit.cli.main import app

needs_certutil = pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) not installed")


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    ca = CertificateAuthority.init(tmp_path_factory.mktemp("trust") / "ca", name="tlskit test trust Root CA")
    yield ca
    # whatever a test did, nothing of this CA stays in the system store
    if truststore._system_flavour() is not None:
        truststore.uninstall(ca.root_certificate, nss=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tlskit_server(ca, tmp_path):
    """`tlskit serve --mode http` on loopback with a certificate of ``ca`` for 127.0.0.1."""
    issued = ca.issue("127.0.0.1", out_dir=tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from tlskit.cli.main import main; main()", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--cert", str(issued.chain_path), "--key", str(issued.key_path), "--mode", "http"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        import select

        line = ""
        # bounded wait for the "listening on" line (stdout): never hang on a server that died
        for _ in range(60):
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                if "listening" in line or not line:
                    break
        assert "listening" in line, line
        yield f"https://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def _curl(url: str) -> subprocess.CompletedProcess[str]:
    # No --cacert: curl uses the system bundle update-ca-certificates builds.
    return subprocess.run(["curl", "-sS", "--max-time", "20", url], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(
    shutil.which("curl") is None or truststore._system_flavour() is None,
    reason="curl or update-ca-certificates/update-ca-trust not installed",
)
def test_system_install_makes_curl_trust_a_tlskit_server(ca, tlskit_server):
    before = _curl(tlskit_server)
    assert before.returncode == 60, before.stderr  # 60: peer certificate cannot be authenticated
    try:
        results = truststore.install(ca.root_certificate, nss=False)
        assert [r.action for r in results] == ["installed"], [r.line() for r in results]
        assert truststore.install(ca.root_certificate, nss=False)[0].action == "already installed"
        trusted = _curl(tlskit_server)
        assert trusted.returncode == 0, trusted.stderr
        assert trusted.stdout
    finally:
        removed = truststore.uninstall(ca.root_certificate, nss=False)
    assert [r.action for r in removed] == ["removed"], [r.line() for r in removed]
    after = _curl(tlskit_server)
    assert after.returncode == 60, after.stderr
    assert truststore.uninstall(ca.root_certificate, nss=False)[0].action == "not installed"


def _nss_list(directory) -> str:
    return subprocess.run(["certutil", "-L", "-d", f"sql:{directory}"], capture_output=True, text=True,
                          check=True).stdout


@needs_certutil
def test_nss_databases_of_the_user_and_firefox_profiles(ca, tmp_path, monkeypatch):
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    profile = home / ".mozilla" / "firefox" / "abcd1234.default-release"
    for directory in (nssdb, profile):
        directory.mkdir(parents=True)
        subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{directory}"], check=True,
                       capture_output=True)
    monkeypatch.setenv("HOME", str(home))
    nick = truststore.nickname(ca.root_certificate)
    try:
        results = truststore.install(ca.root_certificate, system=False)
        assert [(r.location, r.action) for r in results] == [(str(nssdb), "installed"), (str(profile), "installed")]
        for directory in (nssdb, profile):
            listing = _nss_list(directory)
            assert nick in listing and "C,," in listing.split(nick)[1].splitlines()[0]
    finally:
        removed = truststore.uninstall(ca.root_certificate, system=False)
    assert [r.action for r in removed] == ["removed", "removed"]
    for directory in (nssdb, profile):
        assert nick not in _nss_list(directory)


@needs_certutil
def test_cli_install_into_a_named_nss_database_needs_no_root(ca, tmp_path):
    nssdb = tmp_path / "db"  # created by install
    runner = CliRunner()
    d = ("--dir", str(ca.directory))
    try:
        result = runner.invoke(app, ["ca", "install", *d, "--no-system", "--nssdb", str(nssdb)])
        assert result.exit_code == 0, result.stderr
        assert f"NSS: installed ({nssdb})" in result.stdout
        assert truststore.nickname(ca.root_certificate) in _nss_list(nssdb)
    finally:
        result = runner.invoke(app, ["ca", "uninstall", *d, "--no-system", "--nssdb", str(nssdb)])
    assert result.exit_code == 0 and f"NSS: removed ({nssdb})" in result.stdout
    assert truststore.nickname(ca.root_certificate) not in _nss_list(nssdb)


def test_refuses_a_leaf_an_intermediate_or_a_non_ca(ca, tmp_path):
    leaf = ca.issue("leaf.test", out_dir=tmp_path).certificate
    with pytest.raises(CAError, match="not a CA certificate"):
        truststore.install(leaf, system=False, nss=False)
    with pytest.raises(CAError, match="intermediate"):
        truststore.install(ca.intermediate_certificate, system=False, nss=False)
    result = CliRunner().invoke(app, ["ca", "install", "--cert", str(tmp_path / "leaf.test.crt"), "--no-system",
                                      "--no-nss"])
    assert result.exit_code == 1 and "not a CA certificate" in result.stderr


def test_nothing_found_is_reported_not_hidden(ca, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    results = truststore.install(ca.root_certificate, system=False)
    assert [r.action for r in results] == ["skipped"] and "no NSS database" in results[0].detail
