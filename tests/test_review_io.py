"""Review findings in tlskit.io: timeouts are honoured against peers that trickle
bytes, and failures on error paths leave no socket or thread behind."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time

import pytest

from engine_support import other_key  # noqa: F401 (a shared fixture)
from io_peers import pki  # noqa: F401 (a shared fixture)
from tlskit.errors import TLSError
from tlskit.io import TLSTimeoutError, connect, serve

# A TLS handshake record header announcing 512 bytes, then the bytes one at a time.
_RECORD_PREFIX = b"\x16\x03\x01\x02\x00"
_TRICKLE_INTERVAL = 0.2


def _trickle(sock: socket.socket, stop: threading.Event) -> None:
    """Send a byte every _TRICKLE_INTERVAL: never idle long enough for a per-read timeout."""
    try:
        sock.sendall(_RECORD_PREFIX)
        while not stop.wait(_TRICKLE_INTERVAL):
            sock.sendall(b"\x00")
    except OSError:
        pass


def test_server_handshake_timeout_bounds_the_whole_handshake(pki):
    failed = threading.Event()
    errors: list[BaseException] = []

    def on_error(address, exc):
        errors.append(exc)
        failed.set()

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, handshake_timeout=1.0) as server:
        server.serve_in_background(lambda stream: None, on_error=on_error)
        stop = threading.Event()
        with socket.create_connection(server.address) as sock:
            trickler = threading.Thread(target=_trickle, args=(sock, stop), daemon=True)
            started = time.monotonic()
            trickler.start()
            try:
                # Before the fix each byte restarted the 1 s timeout: the handshake never ended.
                # (without the deadline the 512-byte record would take ~100 s to trickle in)
                assert failed.wait(30.0), "a trickling client kept the server handshake alive"
                elapsed = time.monotonic() - started
            finally:
                stop.set()
                trickler.join()
    assert isinstance(errors[0], TLSTimeoutError), errors
    assert elapsed < 15.0


def test_connect_timeout_bounds_the_whole_handshake():
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def server() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        _trickle(conn, stop)

    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(TLSTimeoutError):
            connect(*listener.getsockname(), server_name="localhost", timeout=1.0, keylog_from_env=False)
        assert time.monotonic() - started < 15.0  # per-read timeouts: ~100 s
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


# -- configuration mistakes are refused before any connection ------------------------


def test_serve_refuses_a_key_that_does_not_match_the_certificate(pki, other_key):
    # Before: the server started and every handshake failed at the client with decrypt_error.
    with pytest.raises(TLSError, match="does not match the certificate"):
        serve(certfile=pki.chain_file, keyfile=other_key)


def test_connect_refuses_a_client_key_that_does_not_match(pki, other_key):
    with pytest.raises(TLSError, match="does not match the certificate"):
        connect("127.0.0.1", 9, cafile=pki.ca_file, certfile=pki.chain_file, keyfile=other_key, timeout=1.0)


def test_serve_refuses_an_unusable_client_ca_file(pki, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate\n")
    # Before: accepted, and only the first client that sent a certificate found out.
    with pytest.raises(TLSError):
        serve(certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=junk)


def test_keylog_file_is_created_private_and_an_unwritable_one_is_refused(pki, tmp_path):
    keylog = tmp_path / "keys.log"
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=keylog):
        pass
    assert stat.S_IMODE(os.stat(keylog).st_mode) == 0o600
    # Before: every handshake ended in internal_error (FileNotFoundError inside the engine).
    with pytest.raises(TLSError, match="key log"):
        serve(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=tmp_path / "missing-dir" / "keys.log")


def test_cli_serve_config_errors_are_one_line_without_an_alert_name(pki, other_key, tmp_path):
    from typer.testing import CliRunner

    from tlskit.cli.main import app

    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"junk")
    base = ["serve", "--port", "0", "--cert", str(pki.chain_file)]
    for extra in (["--key", str(other_key)], ["--key", str(pki.key_file), "--client-ca", str(junk)],
                  ["--key", str(pki.key_file), "--keylog", str(tmp_path / "no" / "k.log")]):
        result = CliRunner().invoke(app, base + extra)
        assert result.exit_code == 1, (extra, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "(alert" not in lines[0], (extra, lines)


def test_server_survives_a_failed_thread_start(pki, monkeypatch):
    """Thread exhaustion drops the one client (socket closed, reported) instead of
    ending serve_forever and leaking the accepted socket."""
    import tlskit.io.server as server_module

    real_thread = threading.Thread
    failures = [1]

    class FlakyThread(real_thread):
        def start(self):
            if self.name.startswith("tlskit-conn-") and failures:
                failures.pop()
                raise RuntimeError("can't start new thread")
            super().start()

    monkeypatch.setattr(server_module.threading, "Thread", FlakyThread)
    reported = threading.Event()
    errors: list[BaseException] = []

    def on_error(address, exc):
        errors.append(exc)
        reported.set()

    def echo(stream):
        while data := stream.recv():
            stream.sendall(data)

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=10.0) as server:
        server.serve_in_background(echo, on_error=on_error)
        host, port = server.address
        with socket.create_connection((host, port)) as dropped:
            assert reported.wait(10.0)
            dropped.settimeout(10.0)
            assert dropped.recv(1) == b""  # the server closed it at once
        assert "connection thread" in str(errors[0])
        assert server.active_connections == 0
        with connect(host, port, server_name="localhost", cafile=pki.ca_file, timeout=10.0) as stream:
            stream.sendall(b"still serving")
            assert stream.recv() == b"still serving"


def test_a_read_timeout_after_the_handshake_leaves_the_stream_usable(pki):
    """Like ssl.SSLSocket: a recv() timeout consumed nothing, so the next recv() works.
    Before, the first timeout marked the stream failed for good."""

    def echo(stream):
        while data := stream.recv():
            stream.sendall(data)

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=10.0) as server:
        server.serve_in_background(echo)
        host, port = server.address
        with connect(host, port, server_name="localhost", cafile=pki.ca_file, timeout=10.0) as stream:
            stream.settimeout(0.1)
            with pytest.raises(TLSTimeoutError):
                stream.recv()
            stream.settimeout(10.0)
            stream.sendall(b"still alive")
            assert stream.recv() == b"still alive"


def test_server_construction_failure_closes_the_listener(pki, monkeypatch):
    import tlskit.io.server as server_module

    created: list[socket.socket] = []
    real_create_server = socket.create_server

    def tracking_create_server(*args, **kwargs):
        sock = real_create_server(*args, **kwargs)
        created.append(sock)
        return sock

    def no_socketpair(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(server_module.socket, "create_server", tracking_create_server)
    monkeypatch.setattr(server_module.socket, "socketpair", no_socketpair)
    with pytest.raises(TLSError, match="Too many open files"):
        serve(certfile=pki.chain_file, keyfile=pki.key_file)
    assert created and all(sock.fileno() == -1 for sock in created)


def test_a_stale_sslkeylogfile_warns_instead_of_breaking_connections(pki, tmp_path, monkeypatch):
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "gone" / "keys.log"))
    with pytest.warns(RuntimeWarning, match="SSLKEYLOGFILE"):
        server = serve(certfile=pki.chain_file, keyfile=pki.key_file)
    with server:
        assert server.config.keylog_file is None
    good = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(good))
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        assert server.config.keylog_file == str(good)
    assert stat.S_IMODE(os.stat(good).st_mode) == 0o600
