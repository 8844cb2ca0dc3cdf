"""Review findings in tlskit.io: timeouts are honoured against peers that trickle
bytes, and failures on error paths leave no socket or thread behind."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from certs import make_pki
from tlskit.io import TLSTimeoutError, connect, serve

# A TLS handshake record header announcing 512 bytes, then the bytes one at a time.
_RECORD_PREFIX = b"\x16\x03\x01\x02\x00"
_TRICKLE_INTERVAL = 0.2


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


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
                assert failed.wait(6.0), "a trickling client kept the server handshake alive"
                elapsed = time.monotonic() - started
            finally:
                stop.set()
                trickler.join()
    assert isinstance(errors[0], TLSTimeoutError), errors
    assert elapsed < 4.0


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
        assert time.monotonic() - started < 4.0
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
