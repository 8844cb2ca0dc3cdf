"""asyncio streams: tlskit.aio.open_connection / start_server."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct

import pytest

from certs import make_pki
from io_peers import (  # noqa: F401 (pki: a shared fixture)
    TIMEOUT,
    StdlibServer,
    client_context,
    pki,
    server_context,
    stdlib_echo,
    stdlib_truncating,
)
from tlskit import aio
from tlskit.errors import AlertDescription, TLSError
from tlskit.io import TLSTimeoutError, TruncatedConnectionError


def run(coro):
    """Run a test coroutine with an overall bound, and check it left no task behind."""

    async def bounded():
        try:
            return await asyncio.wait_for(coro, TIMEOUT * 3)
        finally:
            for _ in range(5):  # let transports run their connection_lost callbacks
                await asyncio.sleep(0)
            leftover = asyncio.all_tasks() - {asyncio.current_task()}
            assert not leftover, f"tasks left behind: {leftover}"

    return asyncio.run(bounded())


def open_sockets() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, socket.socket) and o.fileno() != -1)


async def echo_handler(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


def run_leaving_no_socket(coro):
    """:func:`run`, also checking that no socket stayed open."""
    before = open_sockets()
    result = run(coro)
    assert open_sockets() <= before
    return result


async def echo_once(reader, writer, payload: bytes) -> None:
    """Send ``payload`` and close_notify (half-close), check the echo, close."""
    writer.write(payload)
    writer.write_eof()
    assert await reader.read() == payload
    writer.close()
    await writer.wait_closed()


def server_options(pki):
    return dict(certfile=pki.chain_file, keyfile=pki.key_file)


def client_options(pki):
    return dict(server_name="localhost", cafile=pki.ca_file)


def test_200_concurrent_connections_echo_64k_each(pki):
    async def main():
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, backlog=256, **server_options(pki))
        port = server.sockets[0].getsockname()[1]

        async def client(index):
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            payload = index.to_bytes(2, "big") * 32768  # 64 KiB, different per client
            writer.write(payload)
            await writer.drain()
            writer.write_eof()  # close_notify; we keep reading (TLS 1.3 half-close)
            echoed = await reader.read()
            writer.close()
            await writer.wait_closed()
            return echoed == payload

        results = await asyncio.gather(*(client(i) for i in range(200)))
        server.close()
        await server.wait_closed()
        return results

    results = run(main())
    assert len(results) == 200 and all(results)


def test_event_loops_in_two_threads_keep_their_bytes_apart(pki):
    """Connections share their thread's read buffer (one per thread, copied out at
    once): two loops in two threads echoing distinct bytes at the same time must
    never see each other's."""
    import threading

    outcomes: list = []

    async def main(marker: int):
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, **server_options(pki))
        port = server.sockets[0].getsockname()[1]

        async def client(index):
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            payload = bytes([marker, index]) * 65536  # 128 KiB: many reads per connection
            writer.write(payload)
            writer.write_eof()
            echoed = await reader.read()
            writer.close()
            await writer.wait_closed()
            return echoed == payload

        results = await asyncio.gather(*(client(i) for i in range(8)))
        server.close()
        await server.wait_closed()
        return results

    def in_thread(marker: int) -> None:
        try:
            outcomes.append(run(main(marker)))
        except BaseException as exc:  # reported below, on the test's thread
            outcomes.append(exc)

    threads = [threading.Thread(target=in_thread, args=(marker,)) for marker in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 3)
    assert outcomes == [[True] * 8, [True] * 8]


def test_stream_pair_api_and_extra_info(pki):
    async def main():
        async def handler(reader, writer):
            line = await reader.readline()
            writer.write(line.upper())
            peer = writer.get_extra_info("peername")
            writer.write(f"{peer[0]}\n".encode())
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await aio.start_server(handler, "127.0.0.1", 0, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await aio.open_connection("127.0.0.1", port, alpn_protocols=["h2"], **client_options(pki))
            negotiated = writer.get_extra_info("negotiated")
            assert negotiated.version == "TLSv1.3"
            assert writer.get_extra_info("peercert")["subject"] == ((("commonName", "localhost"),),)
            assert writer.get_extra_info("peercert_der") == negotiated.peer_certificates[0]
            assert writer.get_extra_info("cipher") == (negotiated.cipher_suite, negotiated.version, 128 if "128" in negotiated.cipher_suite else 256)
            assert writer.can_write_eof()
            writer.write(b"hello\n")
            assert await reader.readline() == b"HELLO\n"
            assert await reader.readline() == b"127.0.0.1\n"
            assert await reader.read() == b""  # the server's close_notify
            writer.close()
            await writer.wait_closed()

    run(main())


def test_aio_client_against_stdlib_server_and_truncation(pki):
    async def main():
        loop = asyncio.get_running_loop()
        with StdlibServer(server_context(pki), stdlib_echo) as peer:
            reader, writer = await aio.open_connection("127.0.0.1", peer.port, **client_options(pki))
            await echo_once(reader, writer, b"via stdlib ssl")
            await loop.run_in_executor(None, peer.thread.join, TIMEOUT)
        assert peer.errors == []

        with StdlibServer(server_context(pki), stdlib_truncating, connections=2) as peer:
            reader, writer = await aio.open_connection("127.0.0.1", peer.port, **client_options(pki))
            assert await reader.readexactly(7) == b"partial"
            with pytest.raises(TruncatedConnectionError):
                await reader.read()
            writer.close()
            reader, writer = await aio.open_connection(
                "127.0.0.1", peer.port, allow_truncation=True, **client_options(pki)
            )
            assert await reader.read() == b"partial"
            writer.close()
            await writer.wait_closed()

    run(main())


def test_stdlib_client_against_aio_server(pki):
    async def main():
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]

            def client():
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                    with client_context(pki.ca_file).wrap_socket(raw, server_hostname="localhost") as tls:
                        tls.sendall(b"from ssl")
                        return tls.recv(100)

            assert await asyncio.get_running_loop().run_in_executor(None, client) == b"from ssl"

    run(main())


def test_handshake_failure_raises_tls_error(tmp_path, pki):
    other = make_pki(tmp_path, name="other")

    async def main():
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            with pytest.raises(TLSError) as failure:
                await aio.open_connection("127.0.0.1", port, server_name="localhost", cafile=other.ca_file)
            assert failure.value.alert == AlertDescription.unknown_ca

    run_leaving_no_socket(main())


def test_cancelled_drain_never_splits_a_record(pki):
    """A drain() cancelled while the peer is not reading leaves whole records
    only: the peer later decrypts every byte, and the stream goes on working."""
    big = bytes(range(256)) * (16 * 4096)  # 16 MiB, far above the write buffer limit

    async def main():
        reading_allowed = asyncio.Event()
        received = asyncio.get_running_loop().create_future()

        async def handler(reader, writer):
            await reading_allowed.wait()
            data = await reader.read(-1)  # to close_notify; bad_record_mac would raise
            received.set_result(data)
            writer.close()

        server = await aio.start_server(handler, "127.0.0.1", 0, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            writer.write(big)
            assert writer.transport.get_write_buffer_size() > writer.transport.get_write_buffer_limits()[0]
            drain = asyncio.ensure_future(writer.drain())
            await asyncio.sleep(0)
            assert not drain.done()  # back-pressure: the peer is not reading
            drain.cancel()
            with pytest.raises(asyncio.CancelledError):
                await drain
            writer.write(b"after the cancel")
            reading_allowed.set()
            await writer.drain()
            writer.write_eof()
            data = await received
            assert data == big + b"after the cancel"
            writer.close()
            await writer.wait_closed()

    run(main())


def test_cancel_during_handshake_and_abrupt_resets_leak_nothing(pki):
    async def main():
        handler_results = []
        done = asyncio.Event()

        async def handler(reader, writer):
            try:
                await reader.read()
                handler_results.append("eof")
            except (TLSError, ConnectionError) as exc:
                handler_results.append(exc)
            finally:
                writer.close()
                done.set()

        # a TCP server that never answers: the client's handshake waits
        async def mute(reader, writer):
            await reader.read()
            writer.close()

        mute_server = await asyncio.start_server(mute, "127.0.0.1", 0)
        mute_port = mute_server.sockets[0].getsockname()[1]
        attempt = asyncio.ensure_future(aio.open_connection("127.0.0.1", mute_port, **client_options(pki)))
        await asyncio.sleep(0.01)
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        mute_server.close()
        await mute_server.wait_closed()

        server = await aio.start_server(handler, "127.0.0.1", 0, **server_options(pki))
        port = server.sockets[0].getsockname()[1]
        # reset in the middle of the handshake
        raw_reader, raw_writer = await asyncio.open_connection("127.0.0.1", port)
        raw_writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        raw_writer.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        raw_writer.transport.abort()
        # reset after the handshake, while the server handler is reading
        reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
        writer.write(b"some data")
        await writer.drain()
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        await done.wait()
        server.close()
        await server.wait_closed()
        return handler_results

    results = run_leaving_no_socket(main())
    assert len(results) == 1 and isinstance(results[0], TLSError), results


def test_server_drops_garbage_and_silent_clients_and_keeps_serving(pki):
    async def main():
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, handshake_timeout=0.5, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            garbage_reader, garbage_writer = await asyncio.open_connection("127.0.0.1", port)
            garbage_writer.write(b"\x16\x03\x01\x00\x05hello")
            reply = await garbage_reader.read()  # an alert record, then the server closes
            assert reply[:1] == b"\x15"
            garbage_writer.close()
            silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
            assert await silent_reader.read() == b""  # dropped when its handshake time ran out
            silent_writer.close()
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            await echo_once(reader, writer, b"still serving")

    run(main())


def test_idle_timeout_drops_a_silent_peer_after_the_handshake(pki):
    """start_server(timeout=...) is the blocking server's per-connection idle timeout:
    a peer that goes quiet after the handshake is ended (close_notify), the handler's
    read raises TLSTimeoutError, and nothing is left behind."""

    async def main():
        outcomes: list = []
        done = asyncio.Event()

        async def handler(reader, writer):
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
                outcomes.append("eof")
            except TLSTimeoutError as exc:
                outcomes.append(exc)
            finally:
                writer.close()
                done.set()

        server = await aio.start_server(handler, "127.0.0.1", 0, timeout=0.3, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            loop = asyncio.get_running_loop()
            # activity keeps a connection open well past the timeout ...
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            for _ in range(6):
                writer.write(b"ping")
                assert await reader.readexactly(4) == b"ping"
                last_activity = loop.time()
                await asyncio.sleep(0.1)
            # ... then silence ends it: a clean close_notify, so the client reads EOF
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
            assert 0.25 <= loop.time() - last_activity < TIMEOUT
            await done.wait()
            writer.close()
            await writer.wait_closed()
        return outcomes

    outcomes = run_leaving_no_socket(main())
    assert len(outcomes) == 1 and isinstance(outcomes[0], TLSTimeoutError), outcomes
    assert "idle" in str(outcomes[0])


def test_idle_timeout_spares_a_busy_handler(pki):
    """As with the blocking server's socket timeout, only time the handler spends
    waiting on the peer counts: a quiet client waiting for a slow answer is kept."""

    async def slow_answer(reader, writer):
        request = await reader.read(100)
        await asyncio.sleep(0.8)  # "work" for over twice the timeout, the client silent meanwhile
        writer.write(b"answer to " + request)
        await writer.drain()
        writer.close()

    async def main():
        server = await aio.start_server(slow_answer, "127.0.0.1", 0, timeout=0.3, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            writer.write(b"question")
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b"answer to question"
            writer.close()
            await writer.wait_closed()

    run_leaving_no_socket(main())


def test_idle_timeout_cuts_a_peer_that_stops_reading(pki):
    """A peer that stops reading while the handler writes (drain() blocks) counts as
    idle too; the connection is aborted, since closing it would wait for the peer."""

    async def main():
        failures: list = []
        done = asyncio.Event()

        async def flood(reader, writer):
            try:
                while True:
                    writer.write(b"x" * 65536)
                    await writer.drain()
            except (TLSError, ConnectionError) as exc:
                failures.append(exc)
            finally:
                writer.close()
                done.set()

        server = await aio.start_server(flood, "127.0.0.1", 0, timeout=0.3, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            # a small client buffer that is never read: the client stops reading from TCP
            reader, writer = await aio.open_connection("127.0.0.1", port, limit=1024, **client_options(pki))
            await asyncio.wait_for(done.wait(), TIMEOUT)
            writer.transport.abort()
        return failures

    failures = run_leaving_no_socket(main())
    assert len(failures) == 1 and isinstance(failures[0], TLSTimeoutError), failures


def test_no_idle_timeout_by_default(pki):
    async def main():
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await aio.open_connection("127.0.0.1", port, **client_options(pki))
            await asyncio.sleep(0.5)
            await echo_once(reader, writer, b"after a pause")

    run(main())


def test_open_connection_needs_host_and_port_or_sock(pki):
    async def main():
        # before: port None made asyncio try port 0 (a refused connection, reported as one)
        with pytest.raises(ValueError, match="host and port"):
            await aio.open_connection("127.0.0.1", **client_options(pki))
        with pytest.raises(ValueError, match="host and port"):
            await aio.open_connection(**client_options(pki))
        with socket.socket() as sock:
            with pytest.raises(ValueError, match="not both"):
                await aio.open_connection("127.0.0.1", 443, sock=sock, **client_options(pki))

    run(main())


def test_open_connection_over_a_connected_socket(pki):
    async def main():
        server = await aio.start_server(echo_handler, "127.0.0.1", 0, **server_options(pki))
        async with server:
            port = server.sockets[0].getsockname()[1]
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            sock.setblocking(False)
            reader, writer = await aio.open_connection(sock=sock, **client_options(pki))
            await echo_once(reader, writer, b"over sock")

    run(main())
