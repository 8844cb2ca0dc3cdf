"""`tlskit serve` issuing tickets and taking 0-RTT, `tlskit connect --reconnect/--sess-out/
--sess-in/--early-data`, against each other and against openssl s_client."""

from __future__ import annotations

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from io_peers import OPENSSL, pki, tlskit_server  # noqa: F401 (pki: shared fixture)
from tlskit.cli.main import app

runner = CliRunner()
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")


def connect_cli(port: int, pki, *args: str):
    return runner.invoke(app, ["connect", f"localhost:{port}", "--cafile", str(pki.ca_file), *args], input=b"")


def test_reconnect_reports_resumed_on_the_second_connection(pki):
    with tlskit_server(pki) as (proc, port):
        result = connect_cli(port, pki, "--reconnect", "--send", "hi")
    assert result.exit_code == 0, result.output
    assert result.output.count("resumed: no") == 1 and result.output.count("resumed: yes") == 1
    second = result.output.split("connection: 2")[1]
    assert "resumed: yes" in second and "signature_scheme: -" in second and "verified: yes" in second


def test_no_tickets_no_resumption(pki):
    with tlskit_server(pki, "--tickets", "0") as (proc, port):
        result = connect_cli(port, pki, "--reconnect", "--send", "hi")
    assert result.exit_code == 0, result.output
    assert "resumed: yes" not in result.output


def test_sess_out_then_sess_in_with_early_data(pki, tmp_path):
    session = tmp_path / "session.bin"
    early = tmp_path / "early.txt"
    early.write_bytes(b"zero-rtt ")
    with tlskit_server(pki, "--early-data") as (proc, port):
        first = connect_cli(port, pki, "--sess-out", str(session), "--json")
        assert first.exit_code == 0, first.output
        assert json.loads(first.output)["resumed"] is False
        assert stat.S_IMODE(os.stat(session).st_mode) == 0o600  # it holds a resumption key
        second = connect_cli(port, pki, "--sess-in", str(session), "--early-data", str(early), "--send", "and more", "--json")
        assert second.exit_code == 0, second.output
        report = json.loads(second.output)
        assert report["resumed"] is True and report["early_data"] == "accepted"
        assert report["reply"] == "zero-rtt and more"  # the server echoes early data first
        # the same session again: resumable, but its 0-RTT data is refused (first use only)
        # and resent by connect as ordinary data
        third = connect_cli(port, pki, "--sess-in", str(session), "--early-data", str(early), "--send", "again", "--json")
        report = json.loads(third.output)
        assert report["resumed"] is True and report["early_data"] == "rejected"
        assert report["reply"] == "zero-rtt again"


def test_bad_session_file_is_a_clean_error(pki, tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a session")
    result = runner.invoke(app, ["connect", "localhost:1", "--sess-in", str(bad)])
    assert result.exit_code == 2 and "not a tlskit session" in result.output
    result = runner.invoke(app, ["connect", "localhost:1", "--early-data", str(bad)])
    assert result.exit_code == 2 and "--early-data needs a session" in result.output


@needs_openssl
def test_openssl_s_client_resumes_with_tlskit_serve(pki, tmp_path):
    import subprocess

    session = tmp_path / "openssl-session.pem"
    base = [OPENSSL, "s_client", "-servername", "localhost", "-CAfile", str(pki.ca_file), "-tls1_3", "-ign_eof"]
    with tlskit_server(pki, "--mode", "http") as (proc, port):  # http: answers, then closes
        for flag in ("-sess_out", "-sess_in"):
            result = subprocess.run(
                [*base, "-connect", f"127.0.0.1:{port}", flag, str(session)],
                input=b"GET / HTTP/1.0\r\n\r\n",
                capture_output=True,
                timeout=20,
            )
            output = result.stdout.decode(errors="replace")
    assert "Reused, TLSv1.3" in output, output
