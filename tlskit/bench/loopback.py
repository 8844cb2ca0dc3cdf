"""Loopback TCP: client in this process, server in a child process.

The in-memory figures run both peers on one core; over TCP each peer gets its
own process (and, on a 2-core machine, its own core), and the kernel's socket
path is included. The protocol on each connection is the same for both stacks:
the client sends an 8-byte big-endian length N, then N bytes; the server reads
them all and answers one byte. N = 0 makes a handshake measurement
(connect + full handshake + a 1-byte round trip + close); a large N makes a bulk
measurement on an already established connection.

Run as ``python -m tlskit.bench.loopback --impl ssl|tlskit ...`` to get a server;
it prints its port on the first line of stdout and serves until terminated.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Callable, Protocol

from tlskit.bench import stdlib_ssl, tlskit_side
from tlskit.bench.certs import SERVER_NAME, BenchPKI, load_pki
from tlskit.bench.harness import rate_for

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.engine.connection import Connection

_READ_SIZE = 1 << 17
_ACK = b"k"


class Stream(Protocol):
    def sendall(self, data: bytes) -> None: ...
    def recv(self, size: int) -> bytes: ...
    def close(self) -> None: ...


class TlskitStream:
    """A tlskit connection pumped over a blocking socket.

    The benchmark pumps the engine itself instead of using ``tlskit.io`` so the
    figure is the engine's cost plus the minimum socket work, the same work the
    stdlib's C socket wrapper does.
    """

    def __init__(self, sock: socket.socket, connection: Connection) -> None:
        self.sock = sock
        self.connection = connection

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            self.sock.sendall(data)

    def _pull(self) -> bool:
        data = self.sock.recv(_READ_SIZE)
        if not data:
            return False
        self.connection.receive_data(data)
        self._flush()
        return True

    def handshake(self) -> None:
        self._flush()
        while not self.connection.handshake_complete:
            if not self._pull():
                raise ConnectionError("peer closed during the handshake")

    def sendall(self, data: bytes) -> None:
        self.connection.send(data)
        self._flush()

    def recv(self, size: int = _READ_SIZE) -> bytes:
        # ``size`` is advisory: the engine hands over all decrypted data at once.
        while True:
            data = self.connection.recv()
            if data:
                return data
            if not self._pull():
                return b""

    def close(self) -> None:
        self.sock.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    # Handshake flights are small writes; Nagle would add delayed-ACK stalls to both stacks.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def open_ssl(port: int, context: ssl.SSLContext) -> Stream:
    return context.wrap_socket(_connect(port), server_hostname=SERVER_NAME)


def open_tlskit(port: int, configs: tlskit_side.Configs) -> Stream:
    from tlskit import ClientConnection

    stream = TlskitStream(_connect(port), ClientConnection(configs.client, server_name=SERVER_NAME))
    stream.handshake()
    return stream


def _recv_exactly(stream: Stream, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        data = stream.recv(_READ_SIZE)
        if not data:
            raise ConnectionError("peer closed early")
        buf += data
    return bytes(buf)


def exchange(stream: Stream, total: int, chunk: bytes) -> None:
    """Run the protocol once: announce ``total``, send it in ``chunk`` writes, await the ack."""
    stream.sendall(total.to_bytes(8, "big"))
    for _ in range(total // len(chunk)):
        stream.sendall(chunk)
    if _recv_exactly(stream, 1) != _ACK:
        raise ConnectionError("bad acknowledgement from the loopback server")


class ChildServer:
    """A server child process started on entry, which prints its port on its first line, and
    terminated on exit. Its stdin is a pipe the child watches: if this process dies, it follows."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.process: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> "ChildServer":
        self.process = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.strip().isdigit():
            self.__exit__()
            raise RuntimeError(f"server did not start: {' '.join(self.args)}")
        self.port = int(line)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            for stream in (self.process.stdin, self.process.stdout):
                if stream:
                    stream.close()


def child_server_cli(
    argv: list[str] | None,
    description: str | None,
    impls: tuple[str, ...],
    serve: Callable[[str, BenchPKI, str, str, str], None],
    drive: Callable[..., dict],
) -> None:
    """The command line of a concurrency benchmark module (servers, idle): ``serve --impl
    ...`` runs one server in this process, ``drive JOB.json`` runs a measurement and
    writes its result where the job says."""
    import json

    parser = argparse.ArgumentParser(description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--impl", choices=impls, required=True)
    serve_parser.add_argument("--pki-dir", type=pathlib.Path, required=True)
    serve_parser.add_argument("--key-type", required=True)
    serve_parser.add_argument("--provider", required=True)
    serve_parser.add_argument("--suite", required=True)
    serve_parser.add_argument("--group", required=True)
    drive_parser = commands.add_parser("drive")
    drive_parser.add_argument("job", type=pathlib.Path)
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            serve(args.impl, load_pki(args.pki_dir, args.key_type), args.provider, args.suite, args.group)
        except KeyboardInterrupt:
            pass
        return
    job = json.loads(args.job.read_text())
    verbose = job.get("verbose", False)
    result = drive(job, progress=(lambda message: print(message, file=sys.stderr, flush=True)) if verbose else (lambda m: None))
    pathlib.Path(job["output"]).write_text(json.dumps(result, indent=1))


class LoopbackServer(ChildServer):
    """The loopback benchmark's server child process."""

    def __init__(self, impl: str, pki: BenchPKI, params: tlskit_side.Params | None) -> None:
        args = [
            sys.executable, "-m", "tlskit.bench.loopback",
            "--impl", impl, "--pki-dir", str(pki.ca_file.parent), "--key-type", pki.key_type,
        ]  # fmt: skip
        if params is not None:
            args += ["--provider", params.provider, "--suite", params.suite, "--group", params.group]
        super().__init__(args)


# --- the server process ------------------------------------------------------


def _serve_connection(stream: Stream) -> None:
    pending = b""  # received but not yet consumed; never the whole bulk payload
    while True:
        while len(pending) < 8:
            data = stream.recv(_READ_SIZE)
            if not data:
                return
            pending += data
        remaining = int.from_bytes(pending[:8], "big")
        pending = pending[8:]
        if len(pending) >= remaining:
            pending = pending[remaining:]
        else:
            remaining -= len(pending)
            pending = b""
            while remaining:
                data = stream.recv(_READ_SIZE)
                if not data:
                    return
                if len(data) > remaining:
                    pending = data[remaining:]
                    remaining = 0
                else:
                    remaining -= len(data)
        stream.sendall(_ACK)


def _exit_when_parent_goes() -> None:
    """End this server once the parent's end of our stdin closes (it exited or was killed)."""
    sys.stdin.read()
    os._exit(0)


def serve(impl: str, pki: BenchPKI, params: tlskit_side.Params | None) -> None:
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    if impl == "ssl":
        context = stdlib_ssl.server_context(pki)
    else:
        assert params is not None
        configs = tlskit_side.make_configs(pki, params)
        from tlskit import ServerConnection
    while True:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if impl == "ssl":
                stream: Stream = context.wrap_socket(sock, server_side=True)
            else:
                stream = TlskitStream(sock, ServerConnection(configs.server))
                stream.handshake()
            _serve_connection(stream)
        except Exception:  # noqa: BLE001 - OSError, SSLError, TLSError, ConnectionError alike
            # A client that hangs up abruptly ends its connection, not the server.
            pass
        finally:
            sock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=["ssl", "tlskit"], required=True)
    parser.add_argument("--pki-dir", type=pathlib.Path, required=True)
    parser.add_argument("--key-type", required=True)
    parser.add_argument("--provider")
    parser.add_argument("--suite")
    parser.add_argument("--group")
    args = parser.parse_args(argv)
    params = tlskit_side.Params(args.provider, args.suite, args.group) if args.impl == "tlskit" else None
    try:
        serve(args.impl, load_pki(args.pki_dir, args.key_type), params)
    except KeyboardInterrupt:
        pass


def handshake_rate(port: int, open_stream: Callable[[int], Stream], *, min_time: float) -> float:
    """Sequential connections per second: connect, handshake, 1-byte round trip, close."""
    def once() -> None:
        stream = open_stream(port)
        exchange(stream, 0, b"x")
        stream.close()

    return rate_for(once, min_time=min_time)


def bulk_rate(port: int, open_stream: Callable[[int], Stream], *, total: int, chunk: bytes) -> float:
    """Bytes per second through one established connection (handshake not timed)."""
    stream = open_stream(port)
    try:
        start = time.perf_counter()
        exchange(stream, total, chunk)
        return total / (time.perf_counter() - start)
    finally:
        stream.close()


if __name__ == "__main__":
    main()
