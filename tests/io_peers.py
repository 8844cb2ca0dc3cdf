"""Independent TLS peers for the io and CLI tests: a stdlib ``ssl`` server in a
thread, ``openssl s_server`` / ``s_client`` processes, and a ``tlskit serve``
subprocess. Every peer is bounded by timeouts and torn down by its context manager.

Also the module-scoped PKI fixtures these tests share (``pki``, ``ed_pki``,
``client_pki``): a test module imports the ones it uses from here.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from certs import make_pki

OPENSSL = shutil.which("openssl")
TIMEOUT = 20.0


def make_ed25519_pki(directory: Path) -> Any:
    """Ed25519 throughout: the one signature algorithm every provider (PyNaCl too) has."""
    return make_pki(directory, leaf_key_type="ed25519", ca_key_type="ed25519", name="ed")


def make_client_pki(directory: Path) -> Any:
    """A separate PKI for client certificates: leaf "alice" (clientAuth), Ed25519."""
    return make_pki(
        directory,
        leaf_key_type="ed25519",
        ca_key_type="ed25519",
        subject="alice",
        sans=("alice.example",),
        usage="client",
        name="client",
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: Any) -> Any:
    """The default test PKI (ECDSA P-256 leaf, root and intermediate)."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def ed_pki(tmp_path_factory: Any) -> Any:
    return make_ed25519_pki(tmp_path_factory.mktemp("edpki"))


@pytest.fixture(scope="module")
def client_pki(tmp_path_factory: Any) -> Any:
    return make_client_pki(tmp_path_factory.mktemp("client"))


def server_context(pki: Any, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(str(pki.chain_file), str(pki.key_file))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(str(client_ca))
    return context


def client_context(ca_file: Path, cert: Any = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert is not None:
        context.load_cert_chain(str(cert.chain_file), str(cert.key_file))
    return context


class StdlibServer:
    """A stdlib ssl server in a thread serving ``connections`` clients with ``handler(ssl_socket)``."""

    def __init__(
        self,
        context: ssl.SSLContext,
        handler: Callable[[ssl.SSLSocket], Any],
        connections: int = 1,
        *,
        suppress_ragged_eofs: bool = True,
    ):
        self.context = context
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.handler = handler
        self.connections = connections
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.results: list[Any] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for _ in range(self.connections):
            try:
                raw, _ = self.listener.accept()
            except OSError as exc:
                self.errors.append(exc)
                return
            raw.settimeout(TIMEOUT)
            try:
                with self.context.wrap_socket(
                    raw, server_side=True, suppress_ragged_eofs=self.suppress_ragged_eofs
                ) as tls:
                    self.results.append(self._result(tls))
            except Exception as exc:  # recorded for the test to assert on
                self.errors.append(exc)
            finally:
                raw.close()

    def _result(self, tls: ssl.SSLSocket) -> Any:
        """What one connection records in ``results``: the handler's return value."""
        return self.handler(tls)

    def __enter__(self) -> "StdlibServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.listener.close()
        self.thread.join(TIMEOUT)


def stdlib_echo(tls: ssl.SSLSocket) -> bytes:
    """Echo until the peer closes; return everything received."""
    received = b""
    while True:
        data = tls.recv(65536)
        if not data:
            break
        received += data
        tls.sendall(data)
    try:
        tls.unwrap()
    except (ssl.SSLError, OSError):
        pass
    return received


def stdlib_truncating(tls: ssl.SSLSocket) -> None:
    """Send b"partial", then (leaving StdlibServer's with-block) close the socket
    without close_notify: a truncated connection."""
    tls.sendall(b"partial")


def stdlib_reply_then_truncate(tls: ssl.SSLSocket) -> bytes:
    """Read until the client's close_notify, answer, then close the socket without
    close_notify (as some HTTP/1.0 servers do); return what was received. Reading
    everything first keeps the close an EOF: closing with unread bytes would be a reset."""
    received = b""
    while data := tls.recv(65536):
        received += data
    tls.sendall(b"reply to " + received)
    return received


@contextlib.contextmanager
def process(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen]:
    """A child process killed (and reaped) on exit, whatever happened."""
    proc = subprocess.Popen(args, **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=TIMEOUT)


def read_line_with(proc: subprocess.Popen, stream: Any, marker: str) -> str:
    """Read ``stream`` lines until one contains ``marker`` (bounded by a timeout)."""
    lines: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        for raw in iter(stream.readline, b"" if "b" in getattr(stream, "mode", "") else ""):
            line = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            lines.put(line)
            if marker in line:
                return
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no line containing {marker!r} within {TIMEOUT}s; saw {seen!r}") from None
        if not line:
            try:
                _, err = proc.communicate(timeout=TIMEOUT)
            except (subprocess.TimeoutExpired, ValueError):
                err = "?"
            raise AssertionError(
                f"stream ended before {marker!r}; saw {seen!r}; exit status {proc.poll()}; stderr {err!r}"
            )
        seen.append(line)
        if marker in line:
            return line


@contextlib.contextmanager
def openssl_server(pki: Any, *extra: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """``openssl s_server`` on an ephemeral loopback port; yields (process, port)."""
    assert OPENSSL is not None
    args = [
        OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-tls1_3",
        "-cert", str(pki.leaf_file), "-cert_chain", str(pki.intermediate_file), "-key", str(pki.key_file),
        "-naccept", "1", *extra,
    ]  # fmt: skip
    with process(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        line = read_line_with(proc, proc.stdout, "ACCEPT")
        port = int(line.strip().rsplit(":", 1)[1])
        yield proc, port


def tlskit_command() -> list[str]:
    return [sys.executable, "-m", "tlskit.cli.main"]


@contextlib.contextmanager
def tlskit_server(pki: Any, *extra: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, int]]:
    """``tlskit serve --port 0`` as a subprocess; yields (process, port). Its log
    lines are on ``process.stdout`` (text)."""
    args = tlskit_command() + [
        "serve", "--port", "0", "--cert", str(pki.chain_file), "--key", str(pki.key_file), *extra,
    ]  # fmt: skip
    child_env = dict(os.environ)
    child_env.pop("SSLKEYLOGFILE", None)  # only a test that asks for a key log gets one
    child_env.update(env or {})
    with process(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env) as proc:
        line = read_line_with(proc, proc.stdout, "listening on")
        port = int(line.split()[2].rsplit(":", 1)[1])
        yield proc, port
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
