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
