"""Servers under concurrency: tlskit's servers against the stdlib's, on loopback.

Four servers, each an echo service in its own child process:

* ``tlskit-aio``: :func:`tlskit.aio.start_server`;
* ``ssl-aio``: :func:`asyncio.start_server` with ``ssl=`` (OpenSSL through the stdlib);
* ``tlskit-blocking``: :func:`tlskit.serve` and ``serve_forever`` (a thread per connection);
* ``ssl-threads``: ``SSLContext.wrap_socket`` on accepted sockets, a thread per connection.

The clients are the same for every server: stdlib ``ssl`` clients on one asyncio
loop in the *driver* process (not the servers' process), so a difference in a
figure is a difference in the server. Two figures per concurrency level N:

* new connections/s: N client tasks each loop connect + full handshake + 1-byte
  echo + close; the handshake latency (connect() until the client's handshake is
  done) of every connection is kept, and p50/p99 reported;
* echo throughput: N established connections each loop 16 KiB out, 16 KiB back;
  MB/s counts the application bytes echoed (one direction).

Repetitions of the compared servers are interleaved (tlskit, ssl, ssl, tlskit...)
as in :mod:`tlskit.bench.harness`, and the ratio is the median of per-repetition
ratios. The driver runs with the worker's ``OPENSSL_CONF`` pin, so both servers
negotiate the same suite and group (TLS 1.3, AES-128-GCM, x25519), and no server
sends session tickets (the stdlib side's context has ``num_tickets = 0``).

Run ``python -m tlskit.bench.servers serve --impl ...`` for one server (it prints
its port and serves until its stdin closes), or ``... drive JOB.json`` for a run.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import socket
import ssl
import statistics
import sys
import threading
import time
from typing import Any

from tlskit.bench import stdlib_ssl
from tlskit.bench.certs import SERVER_NAME, BenchPKI, load_pki
from tlskit.bench.harness import paired_ratio
from tlskit.bench.loopback import ChildServer, child_server_cli

IMPLS = ("tlskit-aio", "ssl-aio", "tlskit-blocking", "ssl-threads")
#: which server each tlskit server is compared with
REFERENCE = {"tlskit-aio": "ssl-aio", "tlskit-blocking": "ssl-threads"}
DEFAULT_LEVELS = (1, 10, 100, 1000)
CHUNK = 16 * 1024
_BACKLOG = 4096
#: session tickets per handshake: none, as the stdlib servers' context (stdlib_ssl.server_context sets
#: num_tickets = 0), so every server does the same work per connection
_TICKETS = 0
#: no single wait of the driver may exceed this (a stuck server ends the run, not the machine)
_STEP_TIMEOUT = 120.0


# --- the server processes ----------------------------------------------------


def _exit_when_parent_goes() -> None:
    sys.stdin.read()
    os._exit(0)


async def _echo_async(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except Exception:  # noqa: BLE001 - a client that hangs up ends its connection only
        pass
    finally:
        writer.close()


def _echo_blocking(stream: Any) -> None:
    while True:
        data = stream.recv(1 << 16)
        if not data:
            return
        stream.sendall(data)


async def _serve_async(impl: str, pki: BenchPKI, provider: str, suite: str, group: str) -> None:
    if impl == "tlskit-aio":
        from tlskit import aio

        server = await aio.start_server(
            _echo_async, "127.0.0.1", 0, certfile=str(pki.chain_file), keyfile=str(pki.key_file),
            provider=provider, groups=[group], cipher_suites=[suite], backlog=_BACKLOG, keylog_from_env=False,
            # like-for-like with asyncio.start_server, which has no connection limit: the
            # default 512 refuses newcomers at once, so 1,000 clients got resets
            max_connections=2 * _BACKLOG, tickets=_TICKETS,
        )  # fmt: skip
    else:
        server = await asyncio.start_server(
            _echo_async, "127.0.0.1", 0, ssl=stdlib_ssl.server_context(pki), backlog=_BACKLOG
        )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def _serve_ssl_threads(pki: BenchPKI) -> None:
    context = stdlib_ssl.server_context(pki)
    listener = socket.create_server(("127.0.0.1", 0), backlog=_BACKLOG)
    print(listener.getsockname()[1], flush=True)

    def run(sock: socket.socket) -> None:
        try:
            with context.wrap_socket(sock, server_side=True) as stream:
                _echo_blocking(stream)
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()

    while True:
        sock, _ = listener.accept()
        threading.Thread(target=run, args=(sock,), daemon=True).start()


def _serve_tlskit_blocking(pki: BenchPKI, provider: str, suite: str, group: str) -> None:
    import tlskit

    server = tlskit.serve(
        "127.0.0.1", 0, certfile=str(pki.chain_file), keyfile=str(pki.key_file), provider=provider,
        groups=[group], cipher_suites=[suite], backlog=_BACKLOG, max_connections=2 * _BACKLOG,
        keylog_from_env=False, tickets=_TICKETS,
    )  # fmt: skip
    print(server.address[1], flush=True)
    server.serve_forever(_echo_blocking, on_error=lambda address, exc: None)


def serve(impl: str, pki: BenchPKI, provider: str, suite: str, group: str) -> None:
    threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
    if impl in ("tlskit-aio", "ssl-aio"):
        asyncio.run(_serve_async(impl, pki, provider, suite, group))
    elif impl == "ssl-threads":
        _serve_ssl_threads(pki)
    else:
        _serve_tlskit_blocking(pki, provider, suite, group)


class ServerProcess(ChildServer):
    """One server child process of the concurrency benchmark."""

    def __init__(self, impl: str, pki: BenchPKI, provider: str, suite: str, group: str) -> None:
        super().__init__([
            sys.executable, "-m", "tlskit.bench.servers", "serve", "--impl", impl,
            "--pki-dir", str(pki.ca_file.parent), "--key-type", pki.key_type,
            "--provider", provider, "--suite", suite, "--group", group,
        ])  # fmt: skip


# --- the clients -------------------------------------------------------------


async def _open(port: int, context: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=SERVER_NAME, ssl_handshake_timeout=_STEP_TIMEOUT
    )
    sock = writer.get_extra_info("socket")
    if sock is not None:  # small request/answer writes: no Nagle stalls, for any server
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 5.0)
    except (asyncio.TimeoutError, OSError, ssl.SSLError):
        pass


#: what a client meets when a server drops or resets it (counted as a failure, not fatal to the run)
_FAILURES = (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.TimeoutError)


async def connection_rate(
    port: int, context: ssl.SSLContext, concurrency: int, duration: float
) -> tuple[float, list[float], int]:
    """New connections/s with ``concurrency`` clients looping for ``duration`` s.

    Also returns the handshake latencies (s) and the number of failed connections
    (reset, refused or cut short: an overloaded server's answer, reported beside the rate).
    """
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration

    async def client() -> None:
        nonlocal failures
        while loop.time() < deadline:
            start = time.perf_counter()
            try:
                reader, writer = await _open(port, context)
            except _FAILURES:
                failures += 1
                continue
            try:
                handshake = time.perf_counter() - start
                writer.write(b"x")
                if await reader.readexactly(1) != b"x":
                    raise RuntimeError("the echo server answered the wrong byte")
                latencies.append(handshake)  # a connection counts once its echo came back
            except _FAILURES:
                failures += 1
            finally:
                await _close(writer)

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), duration + _STEP_TIMEOUT)
    return len(latencies) / (time.perf_counter() - start), latencies, failures


async def echo_rate(port: int, context: ssl.SSLContext, concurrency: int, duration: float) -> tuple[float, int]:
    """Bytes/s echoed through ``concurrency`` established connections for ``duration`` s (opening not timed).

    Also returns how many connections failed (to open, or while echoing).
    """
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    failures = 0
    try:
        # Opened in batches: a thousand simultaneous handshakes would measure the accept queue.
        for first in range(0, concurrency, 100):
            batch = min(100, concurrency - first)
            opened = await asyncio.wait_for(
                asyncio.gather(*(_open(port, context) for _ in range(batch)), return_exceptions=True), _STEP_TIMEOUT
            )
            for item in opened:
                if isinstance(item, BaseException):
                    if not isinstance(item, _FAILURES):
                        raise item
                    failures += 1
                else:
                    streams.append(item)
        chunk = b"e" * CHUNK
        total = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration

        async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal total, failures
            try:
                while loop.time() < deadline:
                    writer.write(chunk)
                    await reader.readexactly(CHUNK)
                    total += CHUNK
            except _FAILURES:
                failures += 1

        start = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(client(r, w) for r, w in streams)), duration + _STEP_TIMEOUT)
        return total / (time.perf_counter() - start), failures
    finally:
        await asyncio.gather(*(_close(w) for _, w in streams))


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _summary(values: list[float]) -> dict[str, Any]:
    return {"values": values, "median": statistics.median(values), "min": min(values), "max": max(values)}


async def _drive(job: dict, ports: dict[str, int], progress: Any) -> list[dict]:
    context = stdlib_ssl.client_context(load_pki(pathlib.Path(job["pki_dir"]), job["key_type"]))
    duration, reps = job["duration"], job["reps"]
    rows: list[dict] = []
    impls = [impl for impl in IMPLS if impl in ports]
    for level in job["levels"]:
        for metric in ("connections/s", "MB/s"):
            values: dict[str, list[float]] = {impl: [] for impl in impls}
            latencies: dict[str, list[float]] = {impl: [] for impl in impls}
            failures: dict[str, int] = {impl: 0 for impl in impls}
            for rep in range(reps):
                order = impls if rep % 2 == 0 else list(reversed(impls))
                for impl in order:
                    progress(f"servers: {impl} {metric} at {level} clients, repetition {rep + 1}/{reps}")
                    if metric == "connections/s":
                        rate, lat, failed = await connection_rate(ports[impl], context, level, duration)
                        values[impl].append(rate)
                        latencies[impl] += lat
                    else:
                        rate, failed = await echo_rate(ports[impl], context, level, duration)
                        values[impl].append(rate / 1e6)
                    failures[impl] += failed
            for impl in impls:
                row: dict[str, Any] = {"impl": impl, "metric": metric, "concurrency": level,
                                       "failures": failures[impl], **_summary(values[impl])}  # fmt: skip
                reference = REFERENCE.get(impl)
                if reference in values:
                    paired = paired_ratio(values[impl], values[reference])
                    if paired is not None:
                        row["reference"] = reference
                        row["ratio"], row["ratio_min"], row["ratio_max"] = paired
                if latencies[impl]:
                    row["handshake_ms_p50"] = _percentile(latencies[impl], 0.50) * 1e3
                    row["handshake_ms_p99"] = _percentile(latencies[impl], 0.99) * 1e3
                    row["connections"] = len(latencies[impl])
                rows.append(row)
    return rows


def drive(job: dict, progress: Any = lambda message: None) -> dict:
    """Start the servers of ``job``, run every measurement, stop them; the result rows."""
    pki = load_pki(pathlib.Path(job["pki_dir"]), job["key_type"])
    impls = job.get("impls") or list(IMPLS)
    servers = [ServerProcess(impl, pki, job["provider"], job["suite"], job["group"]) for impl in impls]
    try:
        ports = {impl: server.__enter__().port for impl, server in zip(impls, servers)}
        rows = asyncio.run(_drive(job, ports, progress))
    finally:
        for server in servers:
            server.__exit__()
    return {"rows": rows, "duration": job["duration"], "reps": job["reps"], "levels": job["levels"],
            "provider": job["provider"], "key_type": job["key_type"], "suite": job["suite"], "group": job["group"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    child_server_cli(argv, __doc__, IMPLS, serve, drive)

if __name__ == "__main__":
    main()
