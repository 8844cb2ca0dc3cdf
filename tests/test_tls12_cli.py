"""``tlskit connect`` / ``tlskit serve`` with TLS 1.2: ``--tls-version 1.2|1.3`` and the
reported version."""

from __future__ import annotations

import ssl
import subprocess

import pytest
from io_peers import OPENSSL, TIMEOUT, StdlibServer, pki, stdlib_echo, tlskit_server  # noqa: F401 (pki: fixture)
from typer.testing import CliRunner

from tlskit.cli.main import app

runner = CliRunner()
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


def _server_context(pki, maximum=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.chain_file), str(pki.key_file))
    if maximum is not None:
        context.maximum_version = maximum
    return context


def test_connect_reports_tls12_with_a_tls12_only_server(pki):
    with StdlibServer(_server_context(pki, ssl.TLSVersion.TLSv1_2), stdlib_echo) as peer:
        result = runner.invoke(app, ["connect", f"localhost:{peer.port}", "--cafile", str(pki.ca_file), "--send", "ping"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "version: TLSv1.2" in lines and "verified: yes" in lines
    assert any(line.startswith("cipher_suite: TLS_ECDHE_ECDSA_WITH_") for line in lines)
    assert peer.results == [b"ping"]


@pytest.mark.parametrize("version,expected", [("1.2", "TLSv1.2"), ("1.3", "TLSv1.3")])
def test_connect_tls_version_option(pki, version, expected):
    with StdlibServer(_server_context(pki), stdlib_echo) as peer:
        result = runner.invoke(
            app, ["connect", f"localhost:{peer.port}", "--cafile", str(pki.ca_file), "--tls-version", version, "--send", "x"]
        )
    assert result.exit_code == 0, result.output
    assert f"version: {expected}" in result.output.splitlines()


def test_connect_tls_version_1_3_refuses_a_tls12_server(pki):
    with StdlibServer(_server_context(pki, ssl.TLSVersion.TLSv1_2), stdlib_echo) as peer:
        result = runner.invoke(app, ["connect", f"localhost:{peer.port}", "--cafile", str(pki.ca_file), "--tls-version", "1.3"])
    assert result.exit_code == 1
    assert "protocol_version" in result.output


def test_tls_version_option_refuses_old_versions(pki):
    result = runner.invoke(app, ["connect", "localhost:1", "--cafile", str(pki.ca_file), "--tls-version", "1.1"])
    assert result.exit_code == 2 and "--tls-version" in result.output


def _s_client_tls12(port, ca_file):
    return subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-CAfile", str(ca_file),
         "-verify_return_error", "-tls1_2", "-ign_eof"],
        input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=TIMEOUT,
    )  # fmt: skip


@needs_openssl
def test_serve_answers_openssl_s_client_tls12(pki):
    with tlskit_server(pki, "--mode", "http") as (proc, port):
        result = _s_client_tls12(port, pki.ca_file)
    stdout = result.stdout.decode(errors="replace")
    assert result.returncode == 0, stdout + result.stderr.decode(errors="replace")
    assert "Protocol  : TLSv1.2" in stdout and "HTTP/1.0 200" in stdout and "TLSv1.2" in stdout.split("---")[-1]


@needs_openssl
def test_serve_tls_version_1_3_refuses_tls12_clients(pki):
    with tlskit_server(pki, "--mode", "http", "--tls-version", "1.3") as (proc, port):
        result = _s_client_tls12(port, pki.ca_file)
    assert result.returncode != 0
    assert b"protocol version" in result.stderr.lower() or b"protocol_version" in result.stderr.lower()


GNUTLS_SERV = __import__("shutil").which("gnutls-serv")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(GNUTLS_SERV is None, reason="gnutls-serv (gnutls-bin) not installed")
def test_connect_to_gnutls_serv_tls12_reads_the_reply_before_closing(tmp_path):
    """GnuTLS at TLS 1.2 only, echoing lines: TLS 1.2 has no half-close, so connect reads
    the reply before its close_notify (RFC 5246 7.2.1)."""
    import time

    from tlskit.ca import EphemeralCA

    ca = EphemeralCA()
    files = ca.issue_cert("localhost").write_files(tmp_path, "server")
    port = _free_port()
    args = [GNUTLS_SERV, "--port", str(port), "--x509certfile", str(files.chain), "--x509keyfile", str(files.key),
            "--priority", "NORMAL:-VERS-TLS1.3", "--echo"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TIMEOUT
        result = None
        while time.monotonic() < deadline:  # until it listens
            result = runner.invoke(app, ["connect", f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(files.root)], input=b"hello gnutls\n")
            if "Connection refused" not in result.output and "refused" not in result.output.lower():
                break
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
    assert result is not None and result.exit_code == 0, result.output if result else None
    lines = result.output.splitlines()
    assert "version: TLSv1.2" in lines and "received: 13 bytes" in lines and "hello gnutls" in lines


def test_connect_tls12_echo_server_that_waits_for_the_client_to_close(pki):
    with StdlibServer(_server_context(pki, ssl.TLSVersion.TLSv1_2), stdlib_echo) as peer:
        result = runner.invoke(app, ["connect", f"localhost:{peer.port}", "--cafile", str(pki.ca_file), "--send", "ping"])
    assert result.exit_code == 0, result.output
    assert "received: 4 bytes" in result.output.splitlines()
    assert peer.results == [b"ping"]
