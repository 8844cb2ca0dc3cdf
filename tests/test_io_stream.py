"""Blocking sockets: tlskit.connect / tlskit.serve / TLSStream, against tlskit
itself and against Python's ssl module (OpenSSL)."""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
import threading
import time

import pytest

from engine_support import other_key  # noqa: F401 (a shared fixture)
from io_peers import (  # noqa: F401 (pki, ed_pki, client_pki: shared fixtures)
    TIMEOUT,
    StdlibServer,
    client_context,
    client_pki,
    ed_pki,
    pki,
    server_context,
    stdlib_truncating,
)
from tlskit.errors import AlertDescription, ConnectionClosedError, TLSError
from tlskit.io import (
    TLSStream,
    TLSTimeoutError,
    TruncatedConnectionError,
    connect,
    serve,
)
from tlskit.providers import available_providers


def echo(stream: TLSStream) -> None:
    while data := stream.recv():
        stream.sendall(data)


class Errors(list):
    def __call__(self, address, exc):
        self.append(exc)


def recv_exactly(stream: TLSStream, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = stream.recv(count - len(data))
        assert chunk, f"stream ended after {len(data)} of {count} bytes"
        data += chunk
    return data


@pytest.mark.parametrize("provider", available_providers())
def test_connect_serve_echo_with_each_provider(ed_pki, provider):
    errors = Errors()
    payload = bytes(range(256)) * 800  # 200 KiB: many records each way
    with serve(certfile=ed_pki.chain_file, keyfile=ed_pki.key_file, provider=provider, timeout=TIMEOUT) as server:
        server.serve_in_background(echo, on_error=errors)
        host, port = server.address
        with connect(host, port, server_name="localhost", cafile=ed_pki.ca_file, provider=provider, timeout=TIMEOUT) as stream:
            stream.sendall(payload)
            assert recv_exactly(stream, len(payload)) == payload
            negotiated = stream.negotiated
            assert negotiated.version == "TLSv1.3"
            assert negotiated.signature_scheme == "ed25519"
            assert stream.version() == "TLSv1.3"
            assert stream.cipher()[:2] == (negotiated.cipher_suite, negotiated.version)
            assert stream.getpeercert()["subject"] == ((("commonName", "localhost"),),)
            assert ("DNS", "localhost") in stream.getpeercert()["subjectAltName"]
            assert stream.getpeercert(binary_form=True) == negotiated.peer_certificates[0]
    assert errors == []


def test_stream_send_accepts_str_and_memoryview(pki):
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(echo)
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            assert stream.send("héllo") == len("héllo".encode())
            stream.sendall(memoryview(b"--world"))
            assert recv_exactly(stream, 13) == "héllo--world".encode()
            assert stream.recv(0) == b""


def test_key_updates_both_ways_keep_the_stream_working(pki):
    def handler(stream):
        assert recv_exactly(stream, 6) == b"before"
        stream.update_keys(request_peer=False)
        echo(stream)

    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(handler)
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.sendall(b"before")
            stream.update_keys()  # the server must answer with its own KeyUpdate
            for word in (b"after", b"still after"):
                stream.sendall(word)
                assert recv_exactly(stream, len(word)) == word


def _send_and_receive_at_once(stream: TLSStream, payload: bytes) -> bytes:
    """Write ``payload`` from a second thread while this one reads as much back."""
    writer = threading.Thread(target=stream.sendall, args=(payload,))
    writer.start()
    received = recv_exactly(stream, len(payload))
    writer.join(TIMEOUT)
    assert not writer.is_alive()
    return received


def test_full_duplex_bulk_transfer_does_not_deadlock(pki):
    """Both peers write far more than the socket buffers hold while reading in
    another thread: a writer blocked on the socket must not stop the reader."""
    payload = bytes(range(256)) * (32 * 1024)  # 8 MiB each way
    results = []
    handler_done = threading.Event()

    def handler(stream):
        try:
            results.append(_send_and_receive_at_once(stream, payload[::-1]))
        finally:
            handler_done.set()

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=TIMEOUT) as server:
        server.serve_in_background(handler)
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            assert _send_and_receive_at_once(stream, payload) == payload[::-1]
            # The client may finish first: its last bytes can still be in flight to a
            # loaded server. Closing the server before the handler has read them all
            # would cut the connection under it.
            assert handler_done.wait(TIMEOUT)
        server.close()
    assert results == [payload]


def test_makefile_binary_and_text(pki):
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(echo)
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            binary = stream.makefile("rwb")
            binary.write(b"first line\nsecond line\n")
            binary.flush()
            assert binary.readline() == b"first line\n"
            assert binary.readline() == b"second line\n"
            text = stream.makefile("rw", encoding="utf-8", newline="\n")
            text.write("ünïcode\n")
            text.flush()
            assert text.readline() == "ünïcode\n"
            text.close()
            binary.close()
            # closing the files leaves the stream usable
            stream.sendall(b"!")
            assert stream.recv(1) == b"!"


def test_accept_returns_a_handshaken_stream(pki):
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, handshake_timeout=TIMEOUT) as server:
        replies = []

        def client():
            with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
                stream.sendall(b"ping")
                replies.append(stream.recv())

        thread = threading.Thread(target=client)
        thread.start()
        with server.accept() as stream:
            assert stream.handshake_complete
            assert stream.recv() == b"ping"
            stream.sendall(b"pong")
            assert stream.recv() == b""  # the client's close_notify
            assert stream.peer_closed
        thread.join(TIMEOUT)
    assert replies == [b"pong"]


def test_mtls_server_sees_client_certificate(pki, client_pki):
    seen = []

    def handler(stream):
        seen.append(stream.getpeercert())
        echo(stream)

    with serve(
        certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=client_pki.ca_file, require_client_auth=True
    ) as server:
        server.serve_in_background(handler)
        with connect(
            *server.address,
            server_name="localhost",
            cafile=pki.ca_file,
            certfile=client_pki.chain_file,
            keyfile=client_pki.key_file,
            timeout=TIMEOUT,
        ) as stream:
            stream.sendall(b"hi")
            assert stream.recv() == b"hi"
    assert seen[0]["subject"] == ((("commonName", "alice"),),)


def test_mtls_client_without_certificate_is_refused(pki, client_pki):
    errors = Errors()
    with serve(
        certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=client_pki.ca_file, require_client_auth=True
    ) as server:
        server.serve_in_background(echo, on_error=errors)
        with pytest.raises(TLSError) as failure:
            # TLS 1.3: the client finishes first and learns of the refusal on its next read
            with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
                stream.sendall(b"hi")
                stream.recv()
        assert failure.value.alert == AlertDescription.certificate_required
    assert [e.alert for e in errors] == [AlertDescription.certificate_required]


def test_wrong_trust_anchor_fails_with_typed_error_and_alert(pki, ed_pki):
    errors = Errors()
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(echo, on_error=errors)
        with pytest.raises(TLSError) as failure:
            connect(*server.address, server_name="localhost", cafile=ed_pki.ca_file, timeout=TIMEOUT)
        assert failure.value.alert == AlertDescription.unknown_ca
        server.close()  # waits for the connection thread, so its error is recorded
    assert len(errors) == 1 and isinstance(errors[0], TLSError)
    assert errors[0].alert == AlertDescription.unknown_ca


def test_stdlib_ssl_client_against_tlskit_server_with_mtls(pki, client_pki):
    with serve(
        certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=client_pki.ca_file, require_client_auth=True
    ) as server:
        server.serve_in_background(echo)
        context = client_context(pki.ca_file, cert=client_pki)
        with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == "TLSv1.3"
                tls.sendall(b"x" * 100_000)
                received = b""
                while len(received) < 100_000:
                    received += tls.recv(65536)
                assert received == b"x" * 100_000


def test_close_sends_close_notify_to_stdlib_server(pki):
    def handler(tls):
        # with suppress_ragged_eofs=False a missing close_notify would raise SSLEOFError
        data = b""
        while chunk := tls.recv(1024):
            data += chunk
        return data

    context = server_context(pki)
    with StdlibServer(context, handler, suppress_ragged_eofs=False) as peer:
        with connect("127.0.0.1", peer.port, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.sendall(b"bye")
    assert peer.errors == []
    assert peer.results == [b"bye"]


def test_truncation_is_an_error_unless_allowed(pki):
    context = server_context(pki)
    with StdlibServer(context, stdlib_truncating, connections=2) as peer:
        with connect("127.0.0.1", peer.port, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            assert recv_exactly(stream, 7) == b"partial"
            with pytest.raises(TruncatedConnectionError):
                stream.recv()
            with pytest.raises(TLSError):  # the stream stays failed
                stream.recv()
        with connect(
            "127.0.0.1", peer.port, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT, allow_truncation=True
        ) as stream:
            assert recv_exactly(stream, 7) == b"partial"
            assert stream.recv() == b""


def test_read_timeout_raises_timeout_error(pki):
    release = threading.Event()

    def handler(tls):
        release.wait(TIMEOUT)  # handshake done, then silence

    with StdlibServer(server_context(pki), handler) as peer:
        with connect("127.0.0.1", peer.port, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.settimeout(0.05)
            assert stream.gettimeout() == 0.05
            with pytest.raises(TLSTimeoutError) as failure:
                stream.recv()
            assert isinstance(failure.value, TimeoutError)
        release.set()


def _rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_server_survives_misbehaving_clients(pki):
    errors = Errors()
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=TIMEOUT) as server:
        server.serve_in_background(echo, on_error=errors)
        address = server.address

        # a client that connects and says nothing holds only its own thread
        silent = socket.create_connection(address, timeout=TIMEOUT)
        # garbage instead of a ClientHello
        with socket.create_connection(address, timeout=TIMEOUT) as garbage:
            garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")
            alert = garbage.recv(100)
            assert alert[:1] == b"\x15"  # an alert record comes back
        # half a ClientHello, then a reset
        half = socket.create_connection(address, timeout=TIMEOUT)
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        _rst_close(half)
        # a completed handshake, then a reset mid-stream
        context = client_context(pki.ca_file)
        raw = socket.create_connection(address, timeout=TIMEOUT)
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"abc")
        assert tls.recv(3) == b"abc"
        _rst_close(tls)

        # meanwhile a well-behaved client is served normally
        with connect(*address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.sendall(b"still serving")
            assert recv_exactly(stream, 13) == b"still serving"
        silent.close()
        server.close()
    assert len(errors) >= 3
    assert all(isinstance(e, TLSError) for e in errors), errors


def test_connections_over_the_limit_wait_in_the_backlog(pki):
    """At the limit with every slot served, a newcomer is not dropped: it waits in
    the listen backlog and is served as soon as a slot frees."""
    errors = Errors()
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, max_connections=1) as server:
        server.serve_in_background(echo, on_error=errors)
        second: dict = {}

        def late_client() -> None:
            try:
                with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
                    stream.sendall(b"2")
                    second["reply"] = stream.recv()
            except Exception as exc:  # reported through the dict, asserted below
                second["error"] = exc

        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as first:
            first.sendall(b"1")
            assert first.recv() == b"1"
            waiter = threading.Thread(target=late_client)
            waiter.start()
            first.sendall(b"1")  # the first client is still served while the second waits
            assert first.recv() == b"1"
            assert server.active_connections == 1 and server.pending_handshakes == 0
        waiter.join(TIMEOUT)
        assert not waiter.is_alive()
        assert second == {"reply": b"2"}
        server.close()
    assert errors == []


def test_close_joins_connection_threads(pki):
    # compare thread sets, not counts: a thread an earlier test left ending in this
    # worker may finish meanwhile, which would change a count without this test's fault
    before = set(threading.enumerate())
    started = threading.Event()

    def handler(stream):
        started.set()
        echo(stream)  # blocks in recv until close() cuts the connection

    server = serve(certfile=pki.chain_file, keyfile=pki.key_file)
    server.serve_in_background(handler, on_error=Errors())
    stream = connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT)
    assert started.wait(TIMEOUT)
    assert server.active_connections == 1
    server.close()
    stream.close()
    assert server.active_connections == 0
    assert set(threading.enumerate()) - before == set()


def _wait_for(condition, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_connection_thread_serves_the_next_connection_then_ends(pki, monkeypatch):
    """A handler thread that finished waits for the next handshaken connection (no new
    thread per connection), ends when none comes within the linger time, and close()
    joins the threads that are idle as well as the busy ones."""
    import tlskit.io.server as server_module

    before = set(threading.enumerate())
    served_by: list[threading.Thread] = []

    def handler(stream):
        served_by.append(threading.current_thread())
        echo(stream)

    def one_connection(server, payload: bytes) -> None:
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.sendall(payload)
            assert stream.recv() == payload
        assert _wait_for(lambda: server.active_connections == 0 and server._idle_workers == 1)

    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(handler, on_error=Errors())
        one_connection(server, b"first")
        one_connection(server, b"second")
        assert len(served_by) == 2 and served_by[0] is served_by[1]
        assert served_by[0].is_alive()  # idle, waiting for a third connection
    assert not served_by[0].is_alive()  # close() ended and joined the idle thread
    assert set(threading.enumerate()) - before == set()

    monkeypatch.setattr(server_module, "_WORKER_LINGER", 0.05)
    served_by.clear()
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(handler, on_error=Errors())
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.sendall(b"x")
            assert stream.recv() == b"x"
        assert _wait_for(lambda: not served_by[0].is_alive())  # nobody came: the thread ended by itself
        assert server._idle_workers == 0
        one_connection(server, b"after")  # a new thread serves the next one
        assert len(served_by) == 2 and served_by[1] is not served_by[0]


def test_reads_of_any_size_return_every_byte_in_order(pki):
    """The stream's read buffer in each of its states (the engine's bytes handed over
    whole, a rest after a short read, bytes accumulated by wait_for_session): recv
    and recv_into of mixed sizes give back exactly what the peer sent."""
    chunks = [bytes([i]) * size for i, size in enumerate((5, 40_000, 1, 17_000, 300), start=1)]
    payload = b"".join(chunks)

    def handler(stream):
        for chunk in chunks:
            stream.sendall(chunk)
            time.sleep(0.02)  # separate reads on the client, so they accumulate
        stream.recv(1)

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, tickets=0) as server:
        server.serve_in_background(handler, on_error=Errors())
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            got = stream.recv(3)  # a rest is left behind
            assert stream.wait_for_session(timeout=0.3) is None  # no tickets: reads (and keeps) what comes
            sizes = iter([1, 7, 100, 5000, 65536] * 100)
            buffer = bytearray(65536)
            while len(got) < len(payload):
                size = next(sizes)
                if size % 2:
                    count = stream.recv_into(buffer, size)
                    assert 0 < count <= size
                    got += buffer[:count]
                else:
                    data = stream.recv(size)
                    assert 0 < len(data) <= size
                    got += data
            assert got == payload and stream.pending() == 0
            stream.sendall(b"k")


def test_served_streams_idle_timeout_reads_and_writes(pki):
    """The served stream's idle timeout (kept by the kernel where it can be, the socket
    left blocking): gettimeout() tells it, a read that waits longer raises
    TLSTimeoutError and leaves the stream usable, settimeout() replaces it, and a write
    the peer never drains times out too."""
    outcome: dict = {}
    go_on = threading.Event()

    def handler(stream):
        outcome["timeout"] = stream.gettimeout()
        outcome["python_timeout"] = stream.socket.gettimeout()  # None: the kernel keeps it, no poll per call
        with pytest.raises(TLSTimeoutError):
            stream.recv()  # the client says nothing for longer than the timeout
        go_on.set()
        outcome["after"] = stream.recv()  # still usable: the client's bytes arrive
        stream.settimeout(TIMEOUT)
        outcome["replaced"] = stream.gettimeout()
        stream.settimeout(0.3)
        with pytest.raises(TLSTimeoutError):
            for _ in range(10_000):  # the client never reads: the buffers fill up
                stream.sendall(bytes(65536))
        outcome["write"] = "timed out"

    errors = Errors()
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=0.3) as server:
        server.serve_in_background(handler, on_error=errors)
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            assert go_on.wait(TIMEOUT)
            stream.sendall(b"late")
            assert _wait_for(lambda: "write" in outcome)
    kernel = sys.platform.startswith("linux")
    assert outcome == {"timeout": 0.3, "python_timeout": None if kernel else 0.3, "after": b"late", "replaced": TIMEOUT,
                       "write": "timed out"}  # fmt: skip


def test_served_and_connected_sockets_have_nagle_off(pki):
    """Whole records only, so Nagle's algorithm could only delay them: a small record
    written while the session tickets are unacknowledged would wait for the client's
    delayed ACK (tens of milliseconds per exchange)."""
    seen = []

    def handler(stream):
        seen.append(stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        echo(stream)

    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(handler, on_error=Errors())
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as stream:
            stream.sendall(b"x")
            assert stream.recv() == b"x"
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, handshake_timeout=TIMEOUT) as server:
        thread = threading.Thread(
            target=lambda: connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT).close()
        )
        thread.start()
        with server.accept() as stream:
            seen.append(stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        thread.join(TIMEOUT)
        acceptor = threading.Thread(target=lambda: server.accept().close())
        acceptor.start()
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT) as client:
            seen.append(client.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        acceptor.join(TIMEOUT)
    assert len(seen) == 3 and all(seen)


def test_stream_is_not_usable_after_close(pki):
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(echo)
        stream = connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT)
        stream.close()
        stream.close()  # idempotent
        assert stream.closed
        with pytest.raises(TLSError):
            stream.sendall(b"late")
        with pytest.raises(TLSError):
            stream.recv()


def test_close_from_another_thread_wakes_a_blocked_reader(pki):
    outcome = []
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, tickets=0) as server:
        server.serve_in_background(echo)
        stream = connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT)
        entered = threading.Event()

        def reader():
            entered.set()
            try:
                outcome.append(stream.recv())
            except TLSError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        assert entered.wait(TIMEOUT)
        stream.close()
        thread.join(TIMEOUT)
    assert not thread.is_alive()
    # not a read timeout: close() itself ended the blocked read
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosedError), outcome


def test_a_local_close_wins_over_the_peers_close_notify_already_received(pki):
    """close() sends our close_notify and the peer may answer with its own before close()
    has finished; a recv() racing with close() must report the local close, never the
    peer's clean end (b""). Made deterministic here: the peer's close_notify is read
    first, then close() begins (the race the threaded test above can lose)."""

    def close_at_once(stream: TLSStream) -> None:
        stream.close()

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, tickets=0) as server:
        server.serve_in_background(close_at_once)
        stream = connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT)
        assert stream.recv() == b""  # the peer's close_notify
        stream._closing = True  # close() has begun (its close_notify is on its way)
        with pytest.raises(ConnectionClosedError):
            stream.recv()
        stream.close()
        with pytest.raises(ConnectionClosedError):
            stream.recv()


def test_connection_refused_is_a_tls_error():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(TLSError) as failure:
        connect("127.0.0.1", port, timeout=TIMEOUT, insecure=True)
    assert isinstance(failure.value, ConnectionError)


# -- deadlines against trickling peers; failures leave no socket or thread behind ------


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
                # A per-read timeout would restart with each byte: the 512-byte record would
                # take ~100 s to trickle in. The deadline bounds the whole handshake.
                assert failed.wait(30.0), "a trickling client kept the server handshake alive"
                elapsed = time.monotonic() - started
            finally:
                stop.set()
                trickler.join()
    assert isinstance(errors[0], TLSTimeoutError), errors
    assert elapsed < 15.0


def test_a_stale_deadline_never_applies_to_the_next_user_of_its_descriptor(pki):
    """The handshake deadlines are a heap whose entries for finished handshakes are
    dropped lazily; a descriptor reused by a newer handshake must not inherit the old
    entry's earlier deadline."""
    import heapq

    from tlskit.io.server import _Handshake

    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        first_sock, other = socket.socketpair()
        with first_sock, other:
            first = _Handshake(first_sock, None, None, 100.0, 1.0)
            server._handshakes[first.fd] = first
            heapq.heappush(server._deadlines, (first.deadline, 0, first.fd))
            del server._handshakes[first.fd]  # completed; its entry stays behind
            second = _Handshake(other, None, None, 100.5, 1.0)
            second.fd = first.fd  # the same descriptor number, reused
            server._handshakes[second.fd] = second
            heapq.heappush(server._deadlines, (second.deadline, 1, second.fd))
            assert server._next_deadline() == (101.5, second)  # not 101.0
            assert server._deadlines == [(101.5, 1, first.fd)]
            del server._handshakes[second.fd]
            assert server._next_deadline() is None and server._deadlines == []


def test_handshake_deadlines_after_completed_handshakes(pki):
    """Completed handshakes leave stale deadline entries; a silent client that comes
    later is timed out at its own deadline, and no entry is left once nothing is pending."""
    timeout = 1.0
    dropped: list[tuple[float, BaseException]] = []
    gone = threading.Event()

    def on_error(address, exc):
        dropped.append((time.monotonic(), exc))
        gone.set()

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, handshake_timeout=timeout) as server:
        server.serve_in_background(lambda stream: None, on_error=on_error)
        for _ in range(3):  # completed handshakes leave stale entries behind
            with connect(*server.address, server_name="localhost", cafile=pki.ca_file, timeout=TIMEOUT):
                pass
        assert _wait_for(lambda: server.active_connections == 0)
        time.sleep(timeout / 2)  # the stale entries fall due while the silent client waits
        with socket.create_connection(server.address) as silent:
            connected = time.monotonic()
            assert gone.wait(TIMEOUT), "the silent client was never timed out"
            assert silent.recv(1) == b""  # the server closed it
        assert isinstance(dropped[0][1], TLSTimeoutError) and len(dropped) == 1
        assert dropped[0][0] - connected >= timeout * 0.9  # its own deadline, not a stale one
        server.shutdown()  # the loop's thread owns the heap: look once it has stopped
        assert _wait_for(lambda: not server._loop_running.is_set())
        assert server._next_deadline() is None and server._deadlines == []


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
    # not a server whose every handshake fails at the client with decrypt_error
    with pytest.raises(TLSError, match="does not match the certificate"):
        serve(certfile=pki.chain_file, keyfile=other_key)


def test_connect_refuses_a_client_key_that_does_not_match(pki, other_key):
    with pytest.raises(TLSError, match="does not match the certificate"):
        connect("127.0.0.1", 9, cafile=pki.ca_file, certfile=pki.chain_file, keyfile=other_key, timeout=1.0)


def test_serve_refuses_an_unusable_client_ca_file(pki, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate\n")
    # refused at once, not found out by the first client that sends a certificate
    with pytest.raises(TLSError):
        serve(certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=junk)


def test_keylog_file_is_created_private_and_an_unwritable_one_is_refused(pki, tmp_path):
    keylog = tmp_path / "keys.log"
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=keylog):
        pass
    assert stat.S_IMODE(os.stat(keylog).st_mode) == 0o600
    # refused at once, not an internal_error in every handshake
    with pytest.raises(TLSError, match="key log"):
        serve(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=tmp_path / "missing-dir" / "keys.log")


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

    with serve(certfile=pki.chain_file, keyfile=pki.key_file, timeout=10.0) as server:
        server.serve_in_background(echo, on_error=on_error)
        host, port = server.address
        # handlers start once the handshake is done (the handshake needs no thread)
        with connect(host, port, server_name="localhost", cafile=pki.ca_file, timeout=10.0) as dropped:
            assert reported.wait(10.0)
            with pytest.raises(TruncatedConnectionError):  # the server closed it at once
                dropped.recv(1)
        assert "connection thread" in str(errors[0])
        assert server.active_connections == 0
        with connect(host, port, server_name="localhost", cafile=pki.ca_file, timeout=10.0) as stream:
            stream.sendall(b"still serving")
            assert stream.recv() == b"still serving"


def test_a_read_timeout_after_the_handshake_leaves_the_stream_usable(pki):
    """Like ssl.SSLSocket: a recv() timeout consumed nothing, so the next recv() works
    (the stream is not marked failed for good)."""

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
