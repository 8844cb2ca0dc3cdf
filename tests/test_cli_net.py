"""`tlskit serve` and `tlskit connect` against OpenSSL (the openssl command line
and Python's ssl module), with each provider and with mTLS."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from certs import make_pki
from cli_support import run_main
from engine_support import other_key  # noqa: F401 (a shared fixture)
from io_peers import (  # noqa: F401 (pki, ed_pki, client_pki: shared fixtures)
    OPENSSL,
    TIMEOUT,
    StdlibServer,
    client_context,
    client_pki,
    ed_pki,
    openssl_server,
    pki,
    read_line_with,
    server_context,
    stdlib_echo,
    stdlib_reply_then_truncate,
    tlskit_server,
)
from tlskit.cli import net_cmd
from tlskit.cli.main import app
from tlskit.cli.net_cmd import parse_target
from tlskit.providers import available_providers

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
runner = CliRunner()


def s_client(port: int, ca_file, *extra: str, request: bytes = b"GET / HTTP/1.0\r\n\r\n") -> str:
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-CAfile", str(ca_file),
         "-verify_return_error", "-tls1_3", "-ign_eof", *extra],
        input=request, capture_output=True, timeout=TIMEOUT,
    )  # fmt: skip
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def connect_cli(*args: str, input: bytes | None = None):
    return runner.invoke(app, ["connect", *args], input=input)


# ---------------------------------------------------------------------------
# tlskit serve
# ---------------------------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("provider", available_providers())
def test_serve_http_answers_openssl_s_client(ed_pki, provider):
    with tlskit_server(ed_pki, "--provider", provider, "--mode", "http") as (proc, port):
        output = s_client(port, ed_pki.ca_file)
        assert "Verify return code: 0 (ok)" in output
        assert "HTTP/1.0 200 OK" in output
        assert "protocol: TLSv1.3" in output
        assert "signature_scheme: ed25519" in output
        log = read_line_with(proc, proc.stdout, "127.0.0.1:")
        assert "version=TLSv1.3" in log and "end=close_notify" in log


@needs_openssl
@pytest.mark.parametrize("provider", available_providers())
def test_serve_mtls_with_openssl_s_client(ed_pki, client_pki, provider):
    pki = ed_pki
    args = ("--mode", "http", "--client-ca", str(client_pki.ca_file), "--require-client-cert", "--provider", provider)
    with tlskit_server(pki, *args) as (proc, port):
        output = s_client(port, pki.ca_file, "-cert", str(client_pki.leaf_file), "-cert_chain",
                          str(client_pki.intermediate_file), "-key", str(client_pki.key_file))  # fmt: skip
        assert "client_certificate: CN=alice" in output
        log = read_line_with(proc, proc.stdout, "127.0.0.1:")
        assert "client_cert='CN=alice'" in log
        # without a certificate: refused, logged, and the server goes on
        output = s_client(port, pki.ca_file)
        assert "HTTP/1.0 200" not in output
        log = read_line_with(proc, proc.stdout, "127.0.0.1:")
        assert "handshake failed" in log and "certificate_required" in log
        output = s_client(port, pki.ca_file, "-cert", str(client_pki.leaf_file), "-cert_chain",
                          str(client_pki.intermediate_file), "-key", str(client_pki.key_file))  # fmt: skip
        assert "client_certificate: CN=alice" in output


@pytest.mark.parametrize("provider", available_providers())
def test_serve_mtls_with_stdlib_client(ed_pki, client_pki, provider):
    args = ("--client-ca", str(client_pki.ca_file), "--require-client-cert", "--provider", provider)
    with tlskit_server(ed_pki, *args) as (proc, port):
        context = client_context(ed_pki.ca_file, cert=client_pki)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"Hello, world!")
                assert tls.recv(100) == b"Hello, world!"
                tls.unwrap()
        log = read_line_with(proc, proc.stdout, "127.0.0.1:")
        assert "client_cert='CN=alice'" in log and "in=13 out=13 end=close_notify" in log


def test_serve_echo_with_stdlib_client_survives_misbehaviour_and_stops_on_ctrl_c(pki, client_pki):
    args = ("--client-ca", str(client_pki.ca_file))  # client certificates optional
    with tlskit_server(pki, *args) as (proc, port):
        # garbage instead of a handshake
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as garbage:
            garbage.sendall(b"\x16\x03\x01\x00\x05hello")
            garbage.recv(100)
        assert "handshake failed" in read_line_with(proc, proc.stdout, "127.0.0.1:")
        # two well-behaved stdlib clients at the same time, one with a certificate
        plain = client_context(pki.ca_file)
        with_cert = client_context(pki.ca_file, cert=client_pki)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw1, socket.create_connection(
            ("127.0.0.1", port), timeout=TIMEOUT
        ) as raw2:
            with plain.wrap_socket(raw1, server_hostname="localhost") as one, with_cert.wrap_socket(
                raw2, server_hostname="localhost"
            ) as two:
                one.sendall(b"one")
                two.sendall(b"two")
                assert two.recv(10) == b"two"
                assert one.recv(10) == b"one"
                one.unwrap()
                two.unwrap()
        logs = [read_line_with(proc, proc.stdout, "127.0.0.1:") for _ in range(2)]
        assert all("in=3 out=3 end=close_notify" in line for line in logs)
        assert any("client_cert='CN=alice'" in line for line in logs)
        assert any("client_cert='-'" in line for line in logs)

        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0
        assert "stopped" in out
        assert "Traceback" not in err


def test_serve_http_keep_alive_then_close(pki):
    with tlskit_server(pki, "--mode", "http", "--alpn", "http/1.1") as (proc, port):
        context = client_context(pki.ca_file)
        context.set_alpn_protocols(["http/1.1"])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls:
                files = tls.makefile("rb")
                tls.sendall(b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert files.readline() == b"HTTP/1.1 200 OK\r\n"
                headers = {}
                while (line := files.readline()) != b"\r\n":
                    name, _, value = line.decode().partition(":")
                    headers[name.lower()] = value.strip()
                body = files.read(int(headers["content-length"]))
                assert headers["connection"] == "keep-alive"
                assert b"alpn: http/1.1" in body and b"request: GET /a HTTP/1.1" in body
                # a request body is skipped, so the next request still parses
                tls.sendall(b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
                tls.sendall(b"GET /c HTTP/1.1\r\nConnection: close\r\n\r\n")
                rest = files.read()  # to the server's close_notify (a bare EOF would raise)
                assert rest.count(b"HTTP/1.1 200 OK\r\n") == 2
                assert b"request: POST /b" in rest and b"request: GET /c" in rest
                files.close()


def test_serve_reports_bad_key_as_one_line(tmp_path, pki):
    missing = tmp_path / "missing.pem"
    result = runner.invoke(app, ["serve", "--port", "0", "--cert", str(pki.chain_file), "--key", str(missing)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1


# ---------------------------------------------------------------------------
# tlskit connect
# ---------------------------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("provider", available_providers())
def test_connect_to_openssl_s_server_with_mtls(ed_pki, client_pki, provider):
    extra = ("-rev", "-Verify", "1", "-CAfile", str(client_pki.ca_file))
    with openssl_server(ed_pki, *extra) as (proc, port):
        result = connect_cli(
            f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(ed_pki.ca_file),
            "--provider", provider, "--cert", str(client_pki.chain_file), "--key", str(client_pki.key_file),
            "--send", "Hello, world!\n",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "version: TLSv1.3" in lines
    assert "verified: yes" in lines
    assert "signature_scheme: ed25519" in lines
    assert "chain.0.subject: CN=localhost" in lines
    assert "chain.2.subject: CN=ed Test Root" in lines  # the verified path ends at the anchor
    assert "!dlrow ,olleH" in lines  # s_server -rev reverses what it receives


def test_connect_to_stdlib_server_json(pki):
    with StdlibServer(server_context(pki), stdlib_echo) as peer:
        result = connect_cli(
            f"localhost:{peer.port}", "--cafile", str(pki.ca_file), "--json", "--groups", "secp256r1,x25519",
            "--ciphers", "TLS_CHACHA20_POLY1305_SHA256", "--send", "ping",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verified"] is True
    assert report["group"] == "secp256r1"
    assert report["cipher_suite"] == "TLS_CHACHA20_POLY1305_SHA256"
    assert report["server_name"] == "localhost"
    assert [c["subject"] for c in report["chain"]] == ["CN=localhost", "CN=pki Test Intermediate", "CN=pki Test Root"]
    assert report["reply"] == "ping"
    assert peer.results == [b"ping"]


def test_connect_sends_standard_input(pki):
    with StdlibServer(server_context(pki), stdlib_echo) as peer:
        result = connect_cli(f"127.0.0.1:{peer.port}", "--servername", "localhost", "--cafile", str(pki.ca_file),
                             input=b"from stdin\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "received: 11 bytes" in result.output
    assert result.output.endswith("from stdin\n")


def test_connect_allow_truncation_accepts_a_close_without_close_notify(pki):
    args = ("--servername", "localhost", "--cafile", str(pki.ca_file), "--send", "ping")
    with StdlibServer(server_context(pki), stdlib_reply_then_truncate, connections=2) as peer:
        # by default: what arrived is printed, then the truncation is an error
        result = connect_cli(f"127.0.0.1:{peer.port}", *args)
        assert result.exit_code == 1, result.output
        assert "reply to ping" in result.stdout
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "close_notify" in result.stderr
        # opted in: the EOF ends the reply
        result = connect_cli(f"127.0.0.1:{peer.port}", *args, "--allow-truncation", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["reply"] == "reply to ping" and "error" not in report
        peer.thread.join(TIMEOUT)
    assert peer.errors == [] and peer.results == [b"ping", b"ping"]


def test_connect_help_documents_allow_truncation():
    result = runner.invoke(app, ["connect", "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert result.exit_code == 0
    assert "--allow-truncation" in result.output and "close_notify" in result.output


@pytest.mark.parametrize("provider", available_providers())
def test_connect_mtls_to_stdlib_server(ed_pki, client_pki, provider):
    pki = ed_pki
    with StdlibServer(server_context(pki, client_ca=client_pki.ca_file), lambda tls: tls.getpeercert()) as peer:
        result = connect_cli(
            f"127.0.0.1:{peer.port}", "--servername", "localhost", "--cafile", str(pki.ca_file),
            "--cert", str(client_pki.chain_file), "--key", str(client_pki.key_file), "--send", "",
            "--provider", provider,
        )  # fmt: skip
        peer.thread.join(TIMEOUT)
    assert result.exit_code == 0, result.output
    assert peer.errors == []
    assert dict(peer.results[0]["subject"][0])["commonName"] == "alice"


def test_connect_refuses_unknown_ca_and_wrong_name(pki, tmp_path):
    other = make_pki(tmp_path, name="other")
    with StdlibServer(server_context(pki), stdlib_echo, connections=2) as peer:
        result = connect_cli(f"127.0.0.1:{peer.port}", "--servername", "localhost", "--cafile", str(other.ca_file))
        assert result.exit_code == 1
        assert result.output.startswith("error: ") and "unknown_ca" in result.output
        result = connect_cli(f"127.0.0.1:{peer.port}", "--servername", "example.org", "--cafile", str(pki.ca_file))
        assert result.exit_code == 1
        assert "example.org" in result.output


def test_connect_insecure_completes_but_does_not_exit_zero(pki, tmp_path):
    other = make_pki(tmp_path, name="other")
    with StdlibServer(server_context(pki), stdlib_echo) as peer:
        result = connect_cli(f"127.0.0.1:{peer.port}", "--cafile", str(other.ca_file), "--insecure", "--send", "x")
    assert result.exit_code == 3
    assert "verified: NO (--insecure)" in result.output
    assert "chain.0.subject: CN=localhost" in result.output


@pytest.mark.parametrize("target", ["localhost", "localhost:http", "[::1]8443", ":443", "host:70000"])
def test_connect_rejects_bad_targets(target):
    result = connect_cli(target)
    assert result.exit_code == 2
    assert result.output.startswith("error: bad ") or result.output.startswith("error: port")


def test_parse_target():
    assert parse_target("example.org:443") == ("example.org", 443)
    assert parse_target("[::1]:8443") == ("::1", 8443)
    assert parse_target("127.0.0.1:1") == ("127.0.0.1", 1)


class _FakeStream:
    """Just enough of a TLSStream for the http responder: canned input, captured output."""

    negotiated = SimpleNamespace(
        version="TLSv1.3", cipher_suite="TLS_AES_128_GCM_SHA256", group="x25519",
        signature_scheme="ed25519", alpn=None, server_name=None, peer_certificates=(),
    )  # fmt: skip

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent = b""

    def recv(self, size: int = 65536) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def sendall(self, data: bytes) -> None:
        self.sent += data


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200) | st.sampled_from([b"GET / HTTP/1.1\r\n", b"\r\n", b"Content-Length: 3\r\n",
                                                            b"Connection: close\r\n", b"HTTP/1.0\r\n\r\n"]), max_size=8))  # fmt: skip
def test_http_responder_handles_any_request_bytes(chunks):
    stream = _FakeStream([c for c in chunks if c])
    net_cmd._http(net_cmd._Counting(stream))  # must return, never raise
    assert stream.sent == b"" or stream.sent.startswith(b"HTTP/1.")


def test_cli_serve_config_errors_are_one_line_without_an_alert_name(pki, other_key, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"junk")
    base = ["serve", "--port", "0", "--cert", str(pki.chain_file)]
    for extra in (["--key", str(other_key)], ["--key", str(pki.key_file), "--client-ca", str(junk)],
                  ["--key", str(pki.key_file), "--keylog", str(tmp_path / "no" / "k.log")]):
        result = runner.invoke(app, base + extra)
        assert result.exit_code == 1, (extra, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "(alert" not in lines[0], (extra, lines)


def test_serve_and_connect_take_an_encrypted_key_password_from_a_file_or_env(monkeypatch, tmp_path, capsys):
    """An encrypted key needs a password, and the commands have ways to give one."""
    import tlskit.io
    from tlskit.errors import TLSError

    seen = {}

    def fake_serve(host, port, **options):
        seen.update(options)
        raise TLSError("stop here")

    monkeypatch.setattr(tlskit.io, "serve", fake_serve)
    password_file = tmp_path / "pw"
    password_file.write_bytes(b"s3cret\n")
    base = ["serve", "--port", "0", "--cert", "c.pem", "--key", "k.pem"]
    code, _, err = run_main(base + ["--key-password-file", str(password_file)], capsys)
    assert code == 1 and seen["key_password"] == b"s3cret" and "s3cret" not in err
    seen.clear()
    monkeypatch.setenv("TLSKIT_KEY_PASSWORD", "from-env")
    run_main(base, capsys)
    assert seen["key_password"] == b"from-env"
    monkeypatch.delenv("TLSKIT_KEY_PASSWORD")
    (tmp_path / "empty").write_bytes(b"\n")
    code, _, err = run_main(base + ["--key-password-file", str(tmp_path / "empty")], capsys)
    assert code == 1 and err.startswith("error: ") and "empty" in err
    code, _, err = run_main(["connect", "localhost:1", "--key-password-file", str(password_file)], capsys)
    assert code == 2 and "--cert" in err


def test_connect_cafile_may_be_a_directory(tmp_path):
    import shutil

    from tlskit.io import serve

    pki = make_pki(tmp_path / "pki")
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    shutil.copy(pki.ca_file, anchors / "root.pem")
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=10.0) as server:
        server.serve_in_background(lambda stream: None)
        host, port = server.address
        ok = runner.invoke(app, ["connect", f"{host}:{port}", "--servername", "localhost", "--cafile", str(anchors)])
        empty = tmp_path / "empty"
        empty.mkdir()
        refused = runner.invoke(app, ["connect", f"{host}:{port}", "--servername", "localhost", "--cafile", str(empty)])
    assert ok.exit_code == 0, ok.output
    assert "verified: yes" in ok.stdout
    assert refused.exit_code == 1 and "no certificate found" in refused.stderr
