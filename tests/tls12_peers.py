"""Peers for the TLS 1.2 interop tests: ``openssl s_server -tls1_2 -rev`` serving many
connections, ``openssl s_client -tls1_2``, a stdlib ``ssl`` server thread limited to
TLS 1.2, and a tlskit server thread answering a fixed number of connections. Every
peer is bounded by timeouts and stops by itself or in its context manager."""

from __future__ import annotations

import contextlib
import re
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from io_peers import StdlibServer
from tlskit import ServerConfig, ServerConnection

OPENSSL = shutil.which("openssl")
TIMEOUT = 20.0

#: our IANA names -> OpenSSL's names of the TLS 1.2 suites
OPENSSL_NAMES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
ALL_OPENSSL_SUITES = ":".join(OPENSSL_NAMES.values())


class OpenSSLServer12:
    """``openssl s_server -tls1_2 -rev`` (each line answered reversed), serving
    connections until stopped; ``-keylogfile`` records its secrets."""

    def __init__(self, files: Any, keylog: Path, *extra: str) -> None:
        # -cert takes the leaf alone; the intermediate goes in -cert_chain
        intermediates = files.chain.with_suffix(".intermediates.pem")
        chain = files.chain.read_bytes()
        intermediates.write_bytes(chain[len(files.cert.read_bytes()) :])
        args = [
            OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-cipher", ALL_OPENSSL_SUITES,
            "-cert", str(files.cert), "-cert_chain", str(intermediates), "-key", str(files.key),
            "-rev", "-keylogfile", str(keylog), *extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.keylog = keylog
        self.output = b""
        deadline = time.monotonic() + TIMEOUT
        while b"ACCEPT" not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"openssl s_server did not start: {self.output!r}")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = self.proc.stdout.read1(65536)  # type: ignore[union-attr]
                if not chunk:
                    raise AssertionError(f"openssl s_server exited: {self.output!r}")
                self.output += chunk
        self.port = int(re.search(rb"ACCEPT 127\.0\.0\.1:(\d+)", self.output).group(1))  # type: ignore[union-attr]
        # drain its output in the background so it never blocks on a full pipe
        self._drain = threading.Thread(target=self._pump, daemon=True)
        self._drain.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            self.output += chunk

    def keylog_lines(self) -> set[str]:
        return {line for line in self.keylog.read_text().splitlines() if line and not line.startswith("#")}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT)
        self._drain.join(TIMEOUT)


def run_s_client(port: int, ca_file: Path, *extra: str, stdin: bytes = b"ping\n") -> subprocess.CompletedProcess:
    args = [
        OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
        "-verify_hostname", "localhost", "-CAfile", str(ca_file), "-verify_return_error",
        "-tls1_2", "-ign_eof", *extra,
    ]  # fmt: skip
    return subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT)


class StdlibServer12(StdlibServer):
    """io_peers' stdlib ssl server thread, recording per connection what a TLS 1.2 test asks:
    ``(version, cipher name, session_reused, handler result)``."""

    def _result(self, tls: ssl.SSLSocket) -> Any:
        return (tls.version(), tls.cipher()[0], tls.session_reused, self.handler(tls))


def echo(tls: ssl.SSLSocket) -> int:
    """Echo until the peer closes; return the byte count."""
    total = 0
    while data := tls.recv(1 << 20):
        total += len(data)
        tls.sendall(data)
    with contextlib.suppress(ssl.SSLError, OSError):
        tls.unwrap()
    return total


class TlskitServer:
    """A tlskit ServerConnection over sockets in a thread, answering ``connections``
    clients: each gets ``tlskit says: <data>`` for the first data it sends."""

    def __init__(self, config: ServerConfig, connections: int = 1, *, echo_all: bool = False) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.config = config
        self.connections = connections
        self.echo_all = echo_all
        self.conns: list[ServerConnection] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            for _ in range(self.connections):
                sock, _ = self.listener.accept()
                with sock:
                    sock.settimeout(TIMEOUT)
                    try:
                        self._one(sock)
                    except Exception as exc:  # recorded for the test
                        self.errors.append(exc)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.listener.close()

    def _one(self, sock: socket.socket) -> None:
        conn = ServerConnection(self.config)
        self.conns.append(conn)
        while True:
            data = sock.recv(1 << 20)
            if not data:
                return
            try:
                conn.receive_data(data)
            finally:
                out = conn.data_to_send()
                if out:
                    sock.sendall(out)
            received = conn.recv()
            if received and self.echo_all:
                conn.send(received)
                sock.sendall(conn.data_to_send())
            elif received:
                conn.send(b"tlskit says: " + received)
                conn.close()
                sock.sendall(conn.data_to_send())
                return
            if conn.closed:  # the client's close_notify: answer it
                with contextlib.suppress(Exception):
                    conn.close()
                    sock.sendall(conn.data_to_send())
                return

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


@contextlib.contextmanager
def files_of(cert: Any, directory: Path, stem: str) -> Iterator[Any]:
    yield cert.write_files(directory, stem)
