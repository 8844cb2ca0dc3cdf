"""Traces against OpenSSL: ``openssl s_server`` / ``s_client`` as the peer, with a
HelloRetryRequest, mTLS, KeyUpdate in both directions and an alert from each side; and
the ``--trace`` options of ``tlskit connect``, ``serve`` and ``demo``."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from typer.testing import CliRunner

from io_peers import OPENSSL, TIMEOUT, client_pki, openssl_server, pki, tlskit_server  # noqa: F401 (fixtures)
from tlskit import TLSError
from tlskit.cli.main import app
from tlskit.engine.trace import Alert, Check, HandshakeMessage, HelloRetry, KeysInUse
from tlskit.io import connect
from tlskit.trace import TraceLog, schema

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
VALIDATOR = jsonschema.Draft202012Validator(schema())
runner = CliRunner()


def messages(log):
    return [(r.direction, r.name) for r in log.records if isinstance(r, HandshakeMessage)]


def s_client(port, pki, *extra, stdin=b"ping\n"):
    args = [
        OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-CAfile", str(pki.ca_file),
        "-tls1_3", "-ign_eof", *extra,
    ]  # fmt: skip
    return subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT)


@needs_openssl
def test_client_trace_against_s_server_with_hrr_mtls_and_key_updates(pki, client_pki):
    log = TraceLog()
    extra = ("-groups", "secp384r1", "-Verify", "1", "-CAfile", str(client_pki.ca_file), "-rev")
    with openssl_server(pki, *extra) as (proc, port):
        with connect(
            "127.0.0.1", port, server_name="localhost", cafile=pki.ca_file, groups=["x25519", "secp384r1"],
            certfile=client_pki.chain_file, keyfile=client_pki.key_file, trace=log, timeout=TIMEOUT,
        ) as stream:  # fmt: skip
            stream.connection.update_keys(request_peer=True)  # OpenSSL must answer with its own KeyUpdate
            stream.sendall(b"hello\n")
            reply = b""
            while b"\n" not in reply:
                reply += stream.recv()
    assert reply == b"olleh\n"
    sent_and_received = messages(log)
    assert sent_and_received[:9] == [
        ("sent", "client_hello"), ("received", "hello_retry_request"), ("sent", "client_hello"),
        ("received", "server_hello"), ("received", "encrypted_extensions"), ("received", "certificate_request"),
        ("received", "certificate"), ("received", "certificate_verify"), ("received", "finished"),
    ]  # fmt: skip
    assert sent_and_received[9:12] == [("sent", "certificate"), ("sent", "certificate_verify"), ("sent", "finished")]
    assert ("sent", "key_update") in sent_and_received and ("received", "key_update") in sent_and_received
    tickets = [r for r in log.records if isinstance(r, HandshakeMessage) and r.name == "new_session_ticket"]
    assert tickets and all(t.fields["lifetime"] > 0 and t.fields["ticket_length"] > 0 for t in tickets)  # OpenSSL sends two
    (retry,) = [r for r in log.records if isinstance(r, HelloRetry)]
    assert retry.group == "secp384r1"
    ours = next(r for r in log.records if isinstance(r, HandshakeMessage) and r.name == "certificate" and r.direction == "sent")
    assert ours.fields["certificates"][0]["subject"] == "CN=alice"
    epochs = [(k.direction, k.epoch) for k in log.records if isinstance(k, KeysInUse)]
    assert ("write", "application_1") in epochs and ("read", "application_1") in epochs
    for entry in log.entries:
        VALIDATOR.validate(entry.to_dict())


@needs_openssl
def test_client_trace_ends_with_the_alert_openssl_sent(pki):
    log = TraceLog()
    with openssl_server(pki, "-ciphersuites", "TLS_AES_256_GCM_SHA384") as (proc, port):
        with pytest.raises(TLSError):
            connect(
                "127.0.0.1", port, server_name="localhost", cafile=pki.ca_file,
                cipher_suites=["TLS_CHACHA20_POLY1305_SHA256"], trace=log, timeout=TIMEOUT,
            )  # fmt: skip
    assert messages(log) == [("sent", "client_hello")]
    alert = log.records[-1] if isinstance(log.records[-1], Alert) else [r for r in log.records if isinstance(r, Alert)][-1]
    assert (alert.direction, alert.level, alert.description) == ("received", "fatal", "handshake_failure")


@needs_openssl
def test_client_trace_ends_with_its_own_alert_and_why(tmp_path, pki):
    from engine_support import pki_for

    stranger = pki_for(tmp_path, name="stranger")
    log = TraceLog()
    with openssl_server(pki) as (proc, port):
        with pytest.raises(TLSError):
            connect("127.0.0.1", port, server_name="localhost", cafile=stranger.ca_file, trace=log, timeout=TIMEOUT)
    failed = [r for r in log.records if isinstance(r, Check) and not r.ok]
    assert [c.what for c in failed] == ["certificate_chain"]
    alerts = [r for r in log.records if isinstance(r, Alert)]
    assert alerts[-1].direction == "sent" and alerts[-1].level == "fatal" and alerts[-1].reason
    assert log.records.index(failed[0]) < log.records.index(alerts[-1])


@needs_openssl
def test_server_trace_against_s_client_with_hrr_and_mtls(pki, client_pki, tmp_path):
    """``tlskit serve --trace --trace-format json`` with OpenSSL's s_client: HRR (the server
    takes only secp256r1) and a client certificate."""
    diagram = tmp_path / "serve.svg"
    with tlskit_server(
        pki, "--groups", "secp256r1", "--client-ca", str(client_pki.ca_file), "--require-client-cert", "--mode", "http",
        "--trace", "--trace-format", "json", "--trace-diagram", str(diagram),
    ) as (proc, port):  # fmt: skip
        result = s_client(
            port, pki, "-cert", str(client_pki.leaf_file), "-cert_chain", str(client_pki.intermediate_file),
            "-key", str(client_pki.key_file), "-groups", "X25519:P-256", stdin=b"GET / HTTP/1.0\r\n\r\n",
        )  # fmt: skip
        assert b"client_certificate: CN=alice" in result.stdout, result.stdout + result.stderr
        proc.send_signal(2)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    for line in lines:
        VALIDATOR.validate(line)
    names = [(r["direction"], r["name"]) for r in lines if r["kind"] == "message"]
    assert names[:4] == [("received", "client_hello"), ("sent", "hello_retry_request"), ("received", "client_hello"), ("sent", "server_hello")]
    assert ("received", "certificate") in names and ("received", "certificate_verify") in names
    (retry,) = [r for r in lines if r["kind"] == "hello_retry"]
    assert "x25519" in retry["reason"] and retry["group"] == "secp256r1"
    client_cert = next(r for r in lines if r["kind"] == "message" and r["name"] == "certificate" and r["direction"] == "received")
    assert client_cert["fields"]["certificates"][0]["subject"] == "CN=alice"
    assert {r["conn"] for r in lines} == {1}
    texts = ["".join(t.itertext()) for t in ET.parse(diagram).getroot().iter("{http://www.w3.org/2000/svg}text")]
    assert any(t.startswith("HelloRetryRequest") for t in texts)


@needs_openssl
def test_server_traces_its_alert_to_s_client(pki):
    with tlskit_server(pki, "--ciphers", "TLS_AES_256_GCM_SHA384", "--mode", "http", "--trace") as (proc, port):
        s_client(port, pki, "-ciphersuites", "TLS_AES_128_GCM_SHA256")
        proc.send_signal(2)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    assert "<- ClientHello" in stderr
    assert "alert sent: fatal handshake_failure (no cipher suite in common)" in stderr
    assert "\x1b[" not in stderr  # piped: plain text


@needs_openssl
def test_connect_cli_trace_text_json_and_diagram(pki, tmp_path):
    diagram = tmp_path / "connect.html"
    with openssl_server(pki, "-rev") as (proc, port):
        result = runner.invoke(
            app, ["connect", f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(pki.ca_file),
                  "--send", "abc", "--trace", "--trace-diagram", str(diagram)],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    for expected in ("-> ClientHello", "<- ServerHello", "<- Certificate", "verified certificate_chain", "negotiated: TLSv1.3"):
        assert expected in result.stderr, expected
    page = diagram.read_text()
    assert "<svg" in page and "EncryptedExtensions" in page and "CertificateVerify" in page
    with openssl_server(pki) as (proc, port):
        result = runner.invoke(
            app, ["connect", f"127.0.0.1:{port}", "--servername", "localhost", "--cafile", str(pki.ca_file),
                  "--trace", "--trace-format", "json"],
            input=b"",
        )  # fmt: skip
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records and all(VALIDATOR.is_valid(r) for r in records)
    assert [r["name"] for r in records if r["kind"] == "message"][:2] == ["client_hello", "server_hello"]


def test_demo_trace_draws_both_ends(tmp_path):
    diagram = tmp_path / "demo.svg"
    result = runner.invoke(app, ["demo", "--trace-diagram", str(diagram)])
    assert result.exit_code == 0, result.output
    root = ET.parse(diagram).getroot()
    arrows = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "message"]
    senders = [g.get("data-sender") for g in arrows]
    assert senders[:2] == ["client", "server"] and "client" in senders[2:]
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    titles = [t.split("  (")[0] for t in texts if "  (" in t and "B)" in t]
    assert titles[:10] == [
        "ClientHello", "ServerHello", "EncryptedExtensions", "CertificateRequest", "Certificate",
        "CertificateVerify", "Finished", "Certificate", "CertificateVerify", "Finished",
    ]  # fmt: skip


@needs_openssl
def test_server_traces_a_key_update_from_s_client(pki):
    """s_client's "K" command sends KeyUpdate(update_requested): the server traces it, the
    new read keys, and its own KeyUpdate in answer (RFC 8446 4.6.3)."""
    with tlskit_server(pki, "--trace", "--trace-format", "json") as (proc, port):
        args = [
            OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-CAfile", str(pki.ca_file), "-tls1_3",
        ]  # fmt: skip
        subprocess.run(args, input=b"K\nping\n", capture_output=True, timeout=TIMEOUT)
        proc.send_signal(2)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    updates = [(r["direction"], r["fields"]["request_update"]) for r in lines if r["kind"] == "message" and r["name"] == "key_update"]
    assert updates == [("received", "update_requested"), ("sent", "update_not_requested")]
    keys = [(r["direction"], r["epoch"]) for r in lines if r["kind"] == "keys"]
    assert ("read", "application_1") in keys and ("write", "application_1") in keys
