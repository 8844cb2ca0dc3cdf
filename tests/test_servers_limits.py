"""Servers facing hostile networks (issue 16 item 12): more idle connections than
the limit -- half-open ones that never send a byte, and handshaken ones that then
say nothing -- must not lock a good client out, and once everything is closed
nothing may be left behind (threads, file descriptors).

The bounds here are functional, not speed assertions: the good client must be
served before a generous 10 s client timeout while the server's own timeouts are
set to 1-2 s; the defaults (10 s handshake, 60 s idle, 512 connections) are the
same mechanism with larger numbers.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time

import pytest

from tlskit.ca import EphemeralCA
from tlskit.errors import TLSError
from tlskit.io import TLSServer, connect, serve
from tlskit.io import aio
from tlskit.io.errors import TLSTimeoutError

#: the good client's own deadline: a functional bound, generous on a loaded machine
CLIENT_TIMEOUT = 10.0
LIMIT = 4


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    ca = EphemeralCA(intermediate=False)
    directory = tmp_path_factory.mktemp("limits")
    files = ca.issue_cert("localhost", "127.0.0.1").write_files(directory)
    return files


def _fds() -> set[str]:
    gc.collect()
    return set(os.listdir("/proc/self/fd"))


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def _wait_for(condition) -> None:
    deadline = time.monotonic() + CLIENT_TIMEOUT
    while not condition():  # bounded: fails after CLIENT_TIMEOUT
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _echo(stream) -> None:
    while True:
        data = stream.recv()
        if not data:
            return
        stream.sendall(data)


def _good_client(server: TLSServer, certs) -> bytes:
    with connect(*server.address, server_name="localhost", cafile=str(certs.root), timeout=CLIENT_TIMEOUT) as stream:
        stream.sendall(b"ping")
        return stream.recv()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="/proc/self/fd (Linux) is needed to count descriptors")
def test_blocking_server_serves_a_good_client_past_idle_floods(certs):
    threads_before, fds_before = _threads(), _fds()
    errors: list[BaseException] = []
    server = serve(
        certfile=str(certs.chain),
        keyfile=str(certs.key),
        max_connections=LIMIT,
        # long enough that the half-open connections are still pending when counted
        # below on a loaded machine; displacement, not this deadline, frees their slots
        handshake_timeout=30.0,
        timeout=1.0,
    )
    idle_clients: list = []
    try:
        server.serve_in_background(_echo, on_error=lambda address, exc: errors.append(exc))
        # 1. twice the limit of half-open connections (TCP only, never a byte): they
        #    cost no thread, and each newcomer displaces the oldest pending handshake
        half_open = [socket.create_connection(server.address) for _ in range(2 * LIMIT)]
        idle_clients += half_open
        assert _good_client(server, certs) == b"ping"
        # no thread per idle connection: once the good client's handler has returned,
        # only the accept loop runs besides the test's own threads
        _wait_for(lambda: {t.name for t in _threads() - threads_before} == {"tlskit-server"})
        assert 0 < server.pending_handshakes < LIMIT  # the half-open ones left after displacement
        # 2. every slot taken by handshaken clients that then say nothing, plus more
        #    half-open ones: the newcomer waits in the backlog until the idle timeout
        #    frees a slot, and is then served
        for _ in range(LIMIT):
            idle_clients.append(
                connect(*server.address, server_name="localhost", cafile=str(certs.root), timeout=CLIENT_TIMEOUT)
            )
        idle_clients += [socket.create_connection(server.address) for _ in range(LIMIT)]
        assert _good_client(server, certs) == b"ping"
        # the idle handshaken clients were ended by the server with close_notify
        for client in idle_clients[2 * LIMIT : 3 * LIMIT]:
            client.settimeout(CLIENT_TIMEOUT)
            assert client.recv() == b""
        assert any(isinstance(e, TLSTimeoutError) for e in errors)
    finally:
        for client in idle_clients:
            client.close()
        server.close()
    assert server.active_connections == 0 and server.pending_handshakes == 0
    assert _threads() - threads_before == set()
    assert _fds() - fds_before == set()


def test_blocking_server_ends_a_handshake_at_once_on_close_notify_or_alert(certs):
    """A close_notify or a fatal alert instead of the client's second flight ends the
    socket at once -- well before the (here 30 s) handshake deadline."""
    from tlskit.engine import ClientConfig, ClientConnection

    errors: list[BaseException] = []
    reported = threading.Event()

    def on_error(address, exc):
        errors.append(exc)
        reported.set()

    with serve(certfile=str(certs.chain), keyfile=str(certs.key), handshake_timeout=30.0) as server:
        server.serve_in_background(_echo, on_error=on_error)
        for ending in ("close", "abort"):
            reported.clear()
            client = ClientConnection(ClientConfig(cafile=str(certs.root)), server_name="localhost")
            with socket.create_connection(server.address, timeout=CLIENT_TIMEOUT) as sock:
                sock.sendall(client.data_to_send())
                # the plaintext alerts go before the server flight is processed
                if ending == "close":
                    sock.sendall(bytes([21, 3, 3, 0, 2, 1, 0]))  # close_notify (RFC 8446 6.1)
                else:
                    sock.sendall(bytes([21, 3, 3, 0, 2, 2, 40]))  # fatal handshake_failure
                deadline = time.monotonic() + CLIENT_TIMEOUT
                while time.monotonic() < deadline:  # bounded: the server must close first
                    try:
                        if not sock.recv(65536):
                            break
                    except ConnectionResetError:
                        break
                else:
                    pytest.fail("the server kept the connection open")
            assert reported.wait(CLIENT_TIMEOUT)
        server.close()
    assert len(errors) == 2
    assert all(isinstance(e, TLSError) and not isinstance(e, TLSTimeoutError) for e in errors), errors


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="/proc/self/fd (Linux) is needed to count descriptors")
def test_asyncio_server_serves_a_good_client_past_idle_floods(certs):
    threads_before, fds_before = _threads(), _fds()

    async def echo(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except TLSError:
            pass
        finally:
            writer.close()

    async def good_client(port):
        reader, writer = await aio.open_connection(
            "127.0.0.1", port, server_name="localhost", cafile=str(certs.root), handshake_timeout=CLIENT_TIMEOUT
        )
        writer.write(b"ping")
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(100), CLIENT_TIMEOUT)
        writer.close()
        return reply

    async def main():
        server = await aio.start_server(
            echo,
            "127.0.0.1",
            0,
            certfile=str(certs.chain),
            keyfile=str(certs.key),
            max_connections=LIMIT,
            handshake_timeout=2.0,
            timeout=1.0,
        )
        port = server.sockets[0].getsockname()[1]
        opened: list = []
        try:
            # 1. half-open flood, twice the limit: newcomers displace pending handshakes
            for _ in range(2 * LIMIT):
                opened.append((await asyncio.open_connection("127.0.0.1", port))[1])
            assert await asyncio.wait_for(good_client(port), CLIENT_TIMEOUT) == b"ping"
            # 2. every slot handshaken and idle: a newcomer is refused at once (not
            #    left hanging), the served ones carry on, and once the idle timeout
            #    has freed slots the good client is served
            for _ in range(LIMIT):
                _, writer = await aio.open_connection(
                    "127.0.0.1", port, server_name="localhost", cafile=str(certs.root)
                )
                opened.append(writer)
            with pytest.raises(TLSError):
                await asyncio.wait_for(good_client(port), CLIENT_TIMEOUT)
            served = None
            for _ in range(int(CLIENT_TIMEOUT / 0.25)):  # bounded retries
                try:
                    served = await asyncio.wait_for(good_client(port), CLIENT_TIMEOUT)
                    break
                except TLSError:
                    await asyncio.sleep(0.25)
            assert served == b"ping"
        finally:
            for writer in opened:
                writer.close()
            server.close()
            await server.wait_closed()
            await asyncio.sleep(0)

    asyncio.run(main())
    assert _threads() - threads_before == set()
    assert _fds() - fds_before == set()


def test_asyncio_server_ends_a_handshake_at_once_on_close_notify(certs):
    from tlskit.engine import ClientConfig, ClientConnection

    async def main():
        server = await aio.start_server(
            lambda r, w: None, "127.0.0.1", 0, certfile=str(certs.chain), keyfile=str(certs.key), handshake_timeout=30.0
        )
        port = server.sockets[0].getsockname()[1]
        try:
            client = ClientConnection(ClientConfig(cafile=str(certs.root)), server_name="localhost")
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(client.data_to_send() + bytes([21, 3, 3, 0, 2, 1, 0]))  # ClientHello, close_notify
            await writer.drain()
            # the server closes well before its 30 s handshake deadline
            received = b""
            while chunk := await asyncio.wait_for(reader.read(65536), CLIENT_TIMEOUT):
                received += chunk
            writer.close()
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def test_tlskit_serve_exposes_the_same_knobs(certs):
    """`tlskit serve --handshake-timeout --idle-timeout --max-connections`: a silent
    client is dropped at the handshake deadline, a handshaken idle one at the idle
    timeout, and past a half-open flood a good client is served."""
    from io_peers import TIMEOUT, read_line_with, tlskit_server

    files = type("Files", (), {"chain_file": certs.chain, "key_file": certs.key})
    knobs = ("--handshake-timeout", "1", "--idle-timeout", "1", "--max-connections", "2")
    with tlskit_server(files, *knobs) as (proc, port):
        flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        try:
            with connect("127.0.0.1", port, server_name="localhost", cafile=str(certs.root), timeout=TIMEOUT) as good:
                good.sendall(b"ping")
                assert good.recv() == b"ping"
            idle = connect("127.0.0.1", port, server_name="localhost", cafile=str(certs.root), timeout=TIMEOUT)
            with idle:
                assert idle.recv() == b""  # the server's close_notify after the idle timeout
            assert "handshake failed" in read_line_with(proc, proc.stdout, "127.0.0.1:")
        finally:
            for sock in flood:
                sock.close()
