"""Idle connections held by an asyncio server: the server process's RSS per connection.

Issue 17 item 5 asks for "10,000 idle asyncio connections held within a stated RSS,
measured". Two echo-less servers, each alone in its own child process, one after
the other (memory does not drift with the machine's load as rates do):

* ``tlskit-aio``: :func:`tlskit.aio.start_server` (no connection limit, as asyncio's;
  the idle timeout at 600 s, so its per-connection timer is counted but nothing
  expires during the run);
* ``ssl-aio``: :func:`asyncio.start_server` with ``ssl=`` (OpenSSL through the stdlib).

Both run the same handler, which waits in ``reader.read()``: an idle connection as
a server holds it (handshake done, handler task suspended in a read). Both send no
session tickets, as everywhere in the benchmark.

The clients are the driver process: it opens N connections with the stdlib ``ssl``
module over raw non-blocking sockets (``SSLObject`` over ``MemoryBIO``), completes
each handshake, then drops the ``SSLObject`` and keeps only the socket. The server
holds an established, idle TLS connection while the client holds a bare socket, so
10,000 clients fit in one process. At the end the client sockets are reset (no
TIME_WAIT left behind).

Figures per server: its RSS after a warm-up (a few connections opened and closed,
so imports and lazily built state are not charged to the connections), its RSS
with the N connections held (counted by the server's handler, so only handshaken
connections count; a ``gc.collect()`` first), the growth per connection, and the
RSS once they are closed again. tracemalloc is not used here: it would slow
10,000 handshakes several-fold and sees nothing of OpenSSL's memory (see
:mod:`tlskit.bench.memory` for the per-connection Python heap).

File descriptors: every connection costs one in the server and one in the driver.
Both raise their soft ``RLIMIT_NOFILE`` to the hard limit; N is capped at the hard
limit less a margin, and the report says so. Time: opening stops at a deadline
(``deadline`` seconds per server); the figure is then per connection actually held,
and the row says how many.

``python -m tlskit.bench.idle serve --impl ...`` runs one server (it prints a JSON
line with its port, then answers ``status`` lines on stdin); ``... drive JOB.json``
runs the measurement.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import pathlib
import resource
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable

from tlskit.bench import stdlib_ssl
from tlskit.bench.certs import SERVER_NAME, BenchPKI, load_pki
from tlskit.bench.loopback import child_server_cli
from tlskit.bench.memory import _current_rss

IMPLS = ("tlskit-aio", "ssl-aio")
REFERENCE = {"tlskit-aio": "ssl-aio"}
DEFAULT_CONNECTIONS = 10_000
#: descriptors kept free for everything else a process opens (listener, pipes, files)
FD_MARGIN = 64
_BACKLOG = 4096
#: handshakes in flight at once: enough to keep the server busy, few enough for the backlog
_IN_FLIGHT = 64
#: connections opened and closed before the baseline RSS is read
_WARM_UP = 32
#: bound on any single wait of the driver (one handshake, one status answer, the settling)
_STEP_TIMEOUT = 60.0
#: the tlskit server's idle timeout during the run: long enough that nothing expires
_IDLE_TIMEOUT = 600.0


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return hard if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard


# --- the server process ------------------------------------------------------


def _answer_status(state: dict) -> None:
    """Answer each ``status`` line on stdin with the live count and the RSS; exit at EOF."""
    for line in sys.stdin:
        if line.strip() == "status":
            gc.collect()
            print(json.dumps({"live": state["live"], "rss": _current_rss()}), flush=True)
    os._exit(0)


async def _serve(impl: str, pki: BenchPKI, provider: str, suite: str, group: str, fd_limit: int) -> None:
    state = {"live": 0}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["live"] += 1
        try:
            await reader.read(1)  # idle until the client goes
        except Exception:  # noqa: BLE001 - the driver resets its sockets at the end
            pass
        finally:
            state["live"] -= 1
            writer.close()

    if impl == "tlskit-aio":
        from tlskit import aio

        server = await aio.start_server(
            handler, "127.0.0.1", 0, certfile=str(pki.chain_file), keyfile=str(pki.key_file), provider=provider,
            groups=[group], cipher_suites=[suite], backlog=_BACKLOG, keylog_from_env=False, tickets=0,
            max_connections=None, timeout=_IDLE_TIMEOUT,
        )  # fmt: skip
    else:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=stdlib_ssl.server_context(pki), backlog=_BACKLOG)
    threading.Thread(target=_answer_status, args=(state,), daemon=True).start()
    print(json.dumps({"port": server.sockets[0].getsockname()[1], "fd_limit": fd_limit}), flush=True)
    await server.serve_forever()


def serve(impl: str, pki: BenchPKI, provider: str, suite: str, group: str) -> None:
    fd_limit = raise_fd_limit()
    asyncio.run(_serve(impl, pki, provider, suite, group, fd_limit))


class IdleServer:
    """One server child: started, asked for its status, stopped (its stdin closed)."""

    def __init__(self, impl: str, pki: BenchPKI, provider: str, suite: str, group: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tlskit.bench.idle", "serve", "--impl", impl,
             "--pki-dir", str(pki.ca_file.parent), "--key-type", pki.key_type,
             "--provider", provider, "--suite", suite, "--group", group],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            hello = json.loads(self._line())
        except BaseException:
            self.stop()
            raise
        self.port: int = hello["port"]
        self.fd_limit: int = hello["fd_limit"]

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the idle server exited (status {self.process.poll()}) without answering")
        return line

    def status(self) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write("status\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def stop(self) -> None:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# --- the clients -------------------------------------------------------------


async def open_idle(port: int, context: ssl.SSLContext) -> socket.socket:
    """A TCP connection whose TLS handshake is complete; the client's TLS state is dropped."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname=SERVER_NAME)
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            flight = outgoing.read()
            if flight:
                await loop.sock_sendall(sock, flight)
            if done:
                return sock
            data = await loop.sock_recv(sock, 65536)
            if not data:
                raise ConnectionError("the server closed the connection during the handshake")
            incoming.write(data)
    except BaseException:
        sock.close()
        raise


def reset(sock: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0): no TIME_WAIT left on this side."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


_FAILURES = (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError)


async def open_many(port: int, context: ssl.SSLContext, count: int, seconds: float) -> tuple[list[socket.socket], int]:
    """Up to ``count`` idle connections, ``_IN_FLIGHT`` handshakes at a time, for at most ``seconds``;
    the sockets and the number of connections that failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    held: list[socket.socket] = []
    failures = 0
    started = 0

    async def opener() -> None:
        nonlocal failures, started
        while started < count and loop.time() < deadline:
            started += 1
            try:
                held.append(await asyncio.wait_for(open_idle(port, context), _STEP_TIMEOUT))
            except _FAILURES:
                failures += 1
                if failures > max(100, count // 10):
                    raise RuntimeError(f"{failures} connections to the idle server failed; giving up") from None

    await asyncio.gather(*(opener() for _ in range(min(_IN_FLIGHT, max(count, 1)))))
    return held, failures


def _wait_for_live(server: IdleServer, wanted: Callable[[int], bool]) -> dict:
    """Ask the server until its live count satisfies ``wanted`` (bounded); the last status."""
    limit = time.monotonic() + _STEP_TIMEOUT
    while True:
        status = server.status()
        if wanted(status["live"]) or time.monotonic() > limit:
            return status
        time.sleep(0.05)


def measure(impl: str, pki: BenchPKI, job: dict, driver_fd_limit: int, progress: Callable[[str], None]) -> dict:
    """One server's row: its RSS before, with ``job['connections']`` idle connections held, and after."""
    context = stdlib_ssl.client_context(pki)
    server = IdleServer(impl, pki, job["provider"], job["suite"], job["group"])
    held: list[socket.socket] = []
    try:
        requested = job["connections"]
        fd_limit = min(server.fd_limit, driver_fd_limit)
        count = max(1, min(requested, fd_limit - FD_MARGIN))

        async def warm_up() -> None:
            for sock in (await open_many(server.port, context, min(_WARM_UP, count), _STEP_TIMEOUT))[0]:
                reset(sock)

        asyncio.run(warm_up())
        before = _wait_for_live(server, lambda live: live == 0)
        progress(f"idle: opening {count} connections to {impl}")
        start = time.perf_counter()

        held, failures = asyncio.run(open_many(server.port, context, count, job["deadline"]))
        opening = time.perf_counter() - start
        during = _wait_for_live(server, lambda live: live >= len(held))
        for sock in held:
            reset(sock)
        closed = len(held)
        held = []
        after = _wait_for_live(server, lambda live: live == 0)
    finally:
        for sock in held:
            reset(sock)
        server.stop()
    row: dict[str, Any] = {
        "impl": impl,
        "requested": requested,
        "fd_limit": fd_limit,
        "connections": during["live"],
        "opened": closed,
        "failures": failures,
        "open_seconds": opening,
        "rss_before": before["rss"],
        "rss_held": during["rss"],
        "rss_after_close": after["rss"],
        "live_after_close": after["live"],
    }
    if count < requested:
        row["capped_by"] = f"RLIMIT_NOFILE hard limit {fd_limit}"
    elif closed < count:
        row["capped_by"] = f"the {job['deadline']:g} s deadline"
    if before["rss"] is not None and during["rss"] is not None and during["live"]:
        row["per_connection_bytes"] = (during["rss"] - before["rss"]) / during["live"]
    return row


def drive(job: dict, progress: Callable[[str], None] = lambda message: None) -> dict:
    """Measure every server of ``job`` one after the other; the result rows."""
    pki = load_pki(pathlib.Path(job["pki_dir"]), job["key_type"])
    driver_fd_limit = raise_fd_limit()
    rows = [measure(impl, pki, job, driver_fd_limit, progress) for impl in job.get("impls") or IMPLS]
    by_impl = {row["impl"]: row for row in rows}
    for row in rows:
        reference = by_impl.get(REFERENCE.get(row["impl"], ""))
        if reference is None:
            continue
        row["reference"] = reference["impl"]
        # a handful of connections may not grow the RSS by a page: no ratio then
        if row.get("per_connection_bytes", 0) > 0 and reference.get("per_connection_bytes", 0) > 0:
            row["ratio"] = row["per_connection_bytes"] / reference["per_connection_bytes"]
    return {"rows": rows, "connections": job["connections"], "deadline": job["deadline"], "provider": job["provider"],
            "key_type": job["key_type"], "suite": job["suite"], "group": job["group"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    child_server_cli(argv, __doc__, IMPLS, serve, drive)

if __name__ == "__main__":
    main()
