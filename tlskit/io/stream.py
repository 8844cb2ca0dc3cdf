"""Blocking TLS over a socket: :class:`TLSStream` and :func:`connect`.

A TLSStream drives a sans-IO engine connection (``tlskit.ClientConnection`` or
``ServerConnection``) over a connected socket. It looks like a small
``ssl.SSLSocket``: ``send``/``sendall``/``recv``/``recv_into``/``makefile``/
``close``, timeouts, ``getpeercert`` and a context manager.

Threading: one thread may read while another writes (full duplex). Engine calls
are serialised by one lock; the bytes a call produced are written to the socket
after that lock is released, under a write lock taken before it is released, so
records reach the wire in sequence-number order while a writer blocked on a
full socket buffer never stops a reader from decrypting (which would deadlock
two peers that both write more than the buffers hold).
"""

from __future__ import annotations

import io
import socket
import struct
import sys
import threading
import time
from typing import Any, Callable, TypeVar

from tlskit.errors import ConnectionClosedError, TLSError
from tlskit.events import ConnectionClosed
from tlskit.io._common import (
    READ_SIZE,
    is_server_connection,
    peercert_dict,
    make_client_config,
    new_client_connection,
)
from tlskit.io._sslcompat import HELLO_CAPTURE_LIMIT, TLSObject
from tlskit.io.errors import (
    HandshakeEOFError,
    TLSConnectionError,
    TLSTimeoutError,
    TruncatedConnectionError,
)

#: plaintext handed to the engine per call, so a huge sendall() does not build
#: all of its records in memory at once
_SEND_CHUNK = 256 * 1024

_T = TypeVar("_T")


#: whether a stream may keep its socket blocking and leave the timeout to the kernel
#: (SO_RCVTIMEO/SO_SNDTIMEO take a struct timeval of two C longs on Linux)
_KERNEL_TIMEOUTS = sys.platform.startswith("linux") and hasattr(socket, "SO_RCVTIMEO")
_UNSET: Any = object()


def _timeval(timeout: float | None) -> bytes:
    """A struct timeval; zero means no timeout, so a positive one is at least 1 us."""
    if timeout is None:
        return struct.pack("@ll", 0, 0)
    seconds, fraction = divmod(timeout, 1)
    return struct.pack("@ll", int(seconds), max(int(fraction * 1_000_000), 0 if seconds else 1))


def _transport_error(exc: OSError, doing: str) -> TLSError:
    # BlockingIOError: a kernel timeout (SO_RCVTIMEO/SO_SNDTIMEO) on a blocking socket,
    # or nothing ready on a non-blocking one -- a timeout either way
    if isinstance(exc, (TimeoutError, BlockingIOError)):
        return TLSTimeoutError(f"timed out while {doing}")
    return TLSConnectionError(f"transport failed while {doing}: {exc.strerror or exc}")


class TLSStream:
    """A TLS 1.3 connection over a connected socket.

    ``sock`` may be any object with ``recv``, ``sendall``, ``close``,
    ``settimeout`` and ``gettimeout`` (a ``socket.socket`` normally).
    ``connection`` is a tlskit engine connection that has not started yet.
    Use :func:`connect` or :func:`tlskit.serve` rather than building one by hand.

    ``allow_truncation``: by default an EOF from the peer without close_notify
    raises :class:`TruncatedConnectionError` (it may be a truncation attack);
    with True it reads as a normal end of stream, as for HTTP/1.0 servers that
    just close the socket.
    """

    def __init__(
        self, sock: Any, connection: Any, *, allow_truncation: bool = False, server_hostname: str | None = None
    ) -> None:
        self._sock = sock
        self._conn = connection
        self.server_side = is_server_connection(connection)
        # a server keeps the client's first bytes (its ClientHello) for shared_ciphers()
        self._hello: bytearray | None = bytearray() if self.server_side else None
        self._info = TLSObject(
            connection,
            server_side=self.server_side,
            server_hostname=server_hostname,
            config=getattr(connection, "_config", None),
            hello_bytes=lambda: None if self._hello is None else bytes(self._hello),
            pending=self.pending,
        )
        self._allow_truncation = allow_truncation
        self._engine_lock = threading.Lock()  # every call into the engine
        self._write_lock = threading.Lock()  # socket writes, in the order the engine produced them
        self._send_lock = threading.Lock()  # one sendall() at a time, so calls do not interleave
        self._read_lock = threading.Lock()  # one reader at a time
        # decrypted, not yet read: the engine's bytes as they came (the usual case: one
        # recv() takes them whole, no copy), a bytearray once a partial read leaves a rest
        self._plaintext: bytes | bytearray = b""
        self._peer_closed = False  # close_notify received (or EOF accepted as such)
        self._write_closed = False  # our close_notify sent
        self._closed = False
        #: close() has begun: a concurrent recv() reports the local close, not the peer's answer
        self._closing = False
        self._error: TLSError | None = None
        self._kernel_timeout: Any = _UNSET  # see _use_kernel_timeout

    @classmethod
    def _handshaken(
        cls,
        sock: Any,
        connection: Any,
        *,
        peer_closed: bool = False,
        allow_truncation: bool = False,
        hello: bytes | None = None,
    ) -> "TLSStream":
        """A stream over a connection whose handshake was driven elsewhere (the
        server's selector loop): application data and a close_notify the engine
        already decrypted (they can share a flight with the client's Finished)
        are carried over."""
        stream = cls(sock, connection, allow_truncation=allow_truncation)
        stream._plaintext = connection.recv()
        stream._peer_closed = peer_closed
        if hello is not None and stream._hello is not None:
            stream._hello += hello
        return stream

    # -- handshake ---------------------------------------------------------

    def do_handshake(self) -> None:
        """Run the handshake to completion (connect() and serve() call this).

        The socket's timeout bounds the whole handshake, not each read: a peer
        trickling a byte now and then cannot keep a handshake (and, on a
        server, its thread) alive forever. The timeout is restored afterwards.
        """
        timeout = self._sock.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with self._read_lock:
                self._call_engine(lambda: None)  # a client's ClientHello
                while not self._conn.handshake_complete:
                    if deadline is not None:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise self._fail(TLSTimeoutError("timed out during the handshake"))
                        self._sock.settimeout(remaining)
                    self._read_and_process()
        finally:
            if deadline is not None:
                try:
                    self._sock.settimeout(timeout)
                except OSError:
                    pass

    @property
    def handshake_complete(self) -> bool:
        return bool(self._conn.handshake_complete)

    # -- reading -------------------------------------------------------------

    def recv(self, bufsize: int = READ_SIZE) -> bytes:
        """Up to ``bufsize`` bytes of application data; b"" once the peer closed."""
        if bufsize < 0:
            raise ValueError("negative buffer size")
        if bufsize == 0:
            return b""
        with self._read_lock:
            if not self._fill_locked():
                return b""
            buf = self._plaintext
            if bufsize >= len(buf):
                self._plaintext = b""
                return buf if type(buf) is bytes else bytes(buf)
            with memoryview(buf) as view:
                data = bytes(view[:bufsize])
                rest = None if type(buf) is bytearray else bytearray(view[bufsize:])
            if rest is None:
                del buf[:bufsize]  # a bytearray drops its head without moving the rest
            else:
                self._plaintext = rest
            return data

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        nbytes = nbytes or len(view)
        if nbytes == 0:
            return 0
        with self._read_lock:
            if not self._fill_locked():
                return 0
            buf = self._plaintext
            count = min(nbytes, len(buf))
            with memoryview(buf) as source:
                view[:count] = source[:count]
                rest = None if count == len(buf) or type(buf) is bytearray else bytearray(source[count:])
            if count == len(buf):
                self._plaintext = b""
            elif rest is None:
                del buf[:count]  # type: ignore[union-attr]
            else:
                self._plaintext = rest
            return count

    def pending(self) -> int:
        """Decrypted bytes available without reading from the socket."""
        return len(self._plaintext)

    def _fill_locked(self) -> bool:
        """Make plaintext available; False at a clean end of stream."""
        while not self._plaintext:
            # A local close() wins over what the peer sent meanwhile: close() sends our
            # close_notify first, and the peer's answering close_notify may reach a reader
            # blocked in another thread before close() has marked the stream closed.
            if self._closed or self._closing:
                raise ConnectionClosedError("stream is closed")
            if self._peer_closed:
                return False
            self._read_and_process()
        return True

    def _read_and_process(self, record: bytes | None = None) -> None:
        if self._error is not None:
            raise ConnectionClosedError(f"connection already failed: {self._error}")
        try:
            data = self._sock.recv(READ_SIZE) if record is None else record
        except OSError as exc:
            if self._closed:
                raise ConnectionClosedError("stream is closed") from None
            error = _transport_error(exc, "reading")
            if isinstance(exc, (TimeoutError, BlockingIOError)) and self._conn.handshake_complete:
                # Nothing was consumed (the engine keeps any partial record), so the
                # stream stays usable and a later recv() carries on, as with ssl.SSLSocket.
                raise error from None
            raise self._fail(error) from None
        if not data:
            if self._closed:  # close() from another thread woke us up
                raise ConnectionClosedError("stream is closed")
            self._handle_eof()
            return
        if self._hello is not None and not self._conn.handshake_complete:
            self._hello += data[: HELLO_CAPTURE_LIMIT - len(self._hello)]
        try:
            events, received = self._call_engine(lambda: (self._conn.receive_data(data), self._conn.recv()))
        except TLSError as exc:
            raise self._fail(exc) from None
        if received:
            if not self._plaintext:
                self._plaintext = received  # kept as it is: recv() hands it over whole
            elif type(self._plaintext) is bytes:
                # more arrives before a read (wait_for_session): accumulate in place from now on
                self._plaintext = bytearray(self._plaintext)
                self._plaintext += received
            else:
                self._plaintext += received
        for event in events:
            if isinstance(event, ConnectionClosed):
                self._peer_closed = True
                if not self._conn.handshake_complete:
                    # RFC 8446 6.1: nothing follows close_notify, so this handshake can
                    # never complete: end it now rather than at the handshake deadline.
                    raise self._fail(HandshakeEOFError("peer sent close_notify during the handshake"))

    def _handle_eof(self) -> None:
        if not self._conn.handshake_complete:
            raise self._fail(HandshakeEOFError("peer closed the connection during the handshake"))
        if self._allow_truncation:
            self._peer_closed = True
            return
        raise self._fail(TruncatedConnectionError("peer closed the connection without close_notify"))

    def _fail(self, exc: TLSError) -> TLSError:
        if self._error is None:
            self._error = exc
        return exc

    # -- writing -------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview | str) -> int:
        """Send all of ``data`` (a TLS record is all or nothing); returns its length."""
        if isinstance(data, str):
            data = data.encode()
        self.sendall(data)
        return memoryview(data).nbytes

    def sendall(self, data: bytes | bytearray | memoryview | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        if type(data) is bytes and len(data) <= _SEND_CHUNK:
            # the usual call: the engine takes the bytes as they are (no view, no copy)
            chunk = data
            with self._send_lock:
                self._call_engine(lambda: self._send_chunk_locked(chunk))
            return
        view = memoryview(data).cast("B")
        with self._send_lock:
            for start in range(0, max(len(view), 1), _SEND_CHUNK):
                chunk = bytes(view[start : start + _SEND_CHUNK])
                self._call_engine(lambda: self._send_chunk_locked(chunk))

    def _send_chunk_locked(self, chunk: bytes) -> None:
        self._check_writable_locked()
        if chunk:
            self._conn.send(chunk)

    write = sendall

    def _check_writable_locked(self) -> None:
        if self._closed:
            raise ConnectionClosedError("stream is closed")
        if self._write_closed:
            raise ConnectionClosedError("close_notify already sent")
        if self._error is not None:
            raise ConnectionClosedError(f"connection already failed: {self._error}")
        if not self._conn.handshake_complete:
            raise ConnectionClosedError("handshake has not completed")

    def _call_engine(self, operation: Callable[[], _T], *, best_effort: bool = False) -> _T:
        """Run ``operation`` on the engine, then write the bytes it produced.

        The write lock is taken before the engine lock is released, so output
        keeps the engine's order; the socket write itself happens outside the
        engine lock. If ``operation`` raises, whatever the engine queued (its
        alert) is still sent, best effort, before the exception propagates.
        """
        with self._engine_lock:
            try:
                result = operation()
            except BaseException:
                failing_output = self._conn.data_to_send()
                if failing_output:
                    with self._write_lock:
                        self._write(failing_output, best_effort=True)
                raise
            out = self._conn.data_to_send()
            if out:
                self._write_lock.acquire()
        if out:
            try:
                self._write(out, best_effort)
            finally:
                self._write_lock.release()
        return result

    def _write(self, out: bytes, best_effort: bool) -> None:
        try:
            self._sock.sendall(out)
        except OSError as exc:
            if best_effort:
                return
            # part of a record may be on the wire: the stream cannot continue
            raise self._fail(_transport_error(exc, "writing")) from None

    def update_keys(self, request_peer: bool = True) -> None:
        """Send a KeyUpdate (and ask the peer to update too unless request_peer=False)."""

        def operation() -> None:
            self._check_writable_locked()
            self._conn.update_keys(request_peer)

        self._call_engine(operation)

    def close_write(self) -> None:
        """Send close_notify but keep reading (a TLS 1.3 half-close)."""

        def operation() -> None:
            if self._write_closed or self._closed or self._error is not None:
                return
            self._write_closed = True
            if self._conn.handshake_complete:
                self._conn.close()

        try:
            self._call_engine(operation, best_effort=True)
        except TLSError:
            pass  # closing: nothing more to report

    def close(self) -> None:
        """Send close_notify (if the handshake completed) and close the socket."""
        if self._closed:
            return
        self._closing = True  # before close_notify goes out (see _fill_locked)
        try:
            self.close_write()
        finally:
            self._closed = True
            try:
                # unlike close(), shutdown() wakes a thread blocked in recv() on this socket
                self._sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
            self._sock.close()

    def __enter__(self) -> "TLSStream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- socket-like odds and ends ----------------------------------------

    def settimeout(self, timeout: float | None) -> None:
        if self._kernel_timeout is not _UNSET:  # back to Python's own timeout handling
            self._kernel_timeout = _UNSET
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(None))
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(None))
            except OSError:
                pass
        self._sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        if self._kernel_timeout is not _UNSET:
            return self._kernel_timeout  # type: ignore[no-any-return]
        return self._sock.gettimeout()

    def _use_kernel_timeout(self, timeout: float | None) -> None:
        """Set ``timeout`` like :meth:`settimeout`, but on the socket itself (SO_RCVTIMEO,
        SO_SNDTIMEO) with the socket left blocking, where the platform allows.

        CPython polls before every recv() and send() on a socket that has a timeout:
        two system calls and two releases of the GIL where one would do. A blocking
        socket with kernel timeouts fails with EAGAIN instead once the time is up,
        which the stream reports as the same TLSTimeoutError. The server's handler
        streams use this for their idle timeout; settimeout() goes back to Python's.
        """
        sock = self._sock
        if (timeout is not None and timeout <= 0) or not _KERNEL_TIMEOUTS or not isinstance(sock, socket.socket):
            sock.settimeout(timeout)
            return
        try:
            timeval = _timeval(timeout)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            sock.settimeout(None)
        except (OSError, OverflowError, struct.error):  # e.g. a timeout beyond a C long
            sock.settimeout(timeout)
            return
        self._kernel_timeout = timeout

    def fileno(self) -> int:
        return self._sock.fileno()

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    def getsockname(self) -> Any:
        return self._sock.getsockname()

    @property
    def socket(self) -> Any:
        """The underlying socket (do not read from or write to it directly)."""
        return self._sock

    @property
    def connection(self) -> Any:
        """The engine connection (for exporters, key updates, ...)."""
        return self._conn

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def peer_closed(self) -> bool:
        """The peer sent close_notify: recv() returns b"" from now on."""
        return self._peer_closed

    # -- what was negotiated -------------------------------------------------

    @property
    def negotiated(self) -> Any:
        """The engine's Negotiated record (version, suite, group, scheme, ALPN, ...)."""
        return self._conn.negotiated

    @property
    def peer_certificates(self) -> tuple[bytes, ...]:
        """The peer's certificates (DER) as it sent them, leaf first."""
        return tuple(self._conn.negotiated.peer_certificates or ())

    def getpeercert(self, binary_form: bool = False) -> dict[str, Any] | bytes | None:
        """The peer's leaf certificate: a dict like ``ssl``'s, or DER with binary_form."""
        certificates = self.peer_certificates if self._conn.handshake_complete else ()
        if not certificates:
            return None
        return certificates[0] if binary_form else peercert_dict(certificates[0])

    # -- ssl.SSLSocket parity (issue 14 item 5) --------------------------------

    def version(self) -> str | None:
        """"TLSv1.3" or "TLSv1.2" (None before the handshake), as ``ssl``."""
        return self._info.version()

    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, protocol version, secret bits)`` as ``ssl.SSLSocket.cipher()``; the
        IANA name alone is ``stream.negotiated.cipher_suite``."""
        return self._info.cipher()

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """Server side: the server's suites the client offered (None on a client, as ``ssl``)."""
        return self._info.shared_ciphers()

    def selected_alpn_protocol(self) -> str | None:
        return self._info.selected_alpn_protocol()

    def compression(self) -> None:
        return None  # TLS 1.3 has none (RFC 8446 4.1.2)

    def get_channel_binding(self, cb_type: str = "tls-exporter") -> bytes | None:
        """RFC 9266 "tls-exporter" channel binding (32 bytes; None before the handshake)."""
        return self._info.get_channel_binding(cb_type)

    def export_keying_material(self, label: bytes | str, context: bytes | None = None, length: int = 32) -> bytes:
        """RFC 8446 7.5 (RFC 5705 on TLS 1.2) exporter."""
        return self._info.export_keying_material(label, context, length)

    @property
    def server_hostname(self) -> str | None:
        """The name a client connected to (None on the server side, as ``ssl``)."""
        return self._info.server_hostname

    # session and session_reused: see "resumption" below

    @property
    def ssl_object(self) -> TLSObject:
        """The connection described as an ``ssl.SSLObject`` (what asyncio libraries read)."""
        return self._info

    def unwrap(self) -> Any:
        """End TLS and return the plain socket, as ``ssl.SSLSocket.unwrap()``: send
        close_notify, read until the peer's close_notify (RFC 8446 6.1), and hand back
        the socket, still open, for plaintext use. Application data that arrives
        meanwhile is discarded. The stream is closed afterwards.

        From here on records are read one at a time (header, then exactly its
        length), so plaintext the peer sends right after its close_notify stays in
        the socket for the caller."""
        if self._closed:
            raise ConnectionClosedError("stream is closed")
        self.close_write()
        with self._read_lock:
            while not self._peer_closed:
                header = self._recv_exactly(5)
                self._read_and_process(header + self._recv_exactly(int.from_bytes(header[3:5], "big")))
            self._plaintext = b""
        self._closed = True
        return self._sock

    def _recv_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            try:
                chunk = self._sock.recv(count - len(data))
            except OSError as exc:
                raise self._fail(_transport_error(exc, "reading")) from None
            if not chunk:
                self._handle_eof()
                return data
            data += chunk
        return data

    # -- resumption ----------------------------------------------------------

    @property
    def session(self) -> Any:
        """Client: the newest resumable :class:`tlskit.engine.session.Session` this
        connection received (None until the server's first ticket arrives); pass it as
        ``connect(..., session=...)`` or save it with ``session.to_bytes()``."""
        return getattr(self._conn, "session", None)

    @property
    def session_reused(self) -> bool:
        """The handshake resumed a session (``ssl.SSLSocket.session_reused``)."""
        negotiated = self._conn.negotiated if self._conn.handshake_complete else None
        return bool(negotiated is not None and negotiated.resumed)

    @property
    def early_data_accepted(self) -> bool | None:
        """Client: whether the server took our 0-RTT data (None if none was offered)."""
        return getattr(self._conn, "early_data_accepted", None)

    @property
    def early_data(self) -> bytes:
        """Server: the client's 0-RTT data. REPLAYABLE: an attacker may deliver the same
        bytes again (RFC 8446 8); act on it only if doing so twice is harmless."""
        return getattr(self._conn, "early_data", b"")

    def request_client_certificate(self) -> None:
        """Server: ask the client for a certificate now (post-handshake authentication,
        RFC 8446 4.6.2); the answer is checked as the next reads process it, and then
        ``peer_certificates`` holds the client's chain."""
        self._call_engine(self._conn.request_client_certificate)

    def wait_for_session(self, timeout: float = 1.0) -> Any:
        """Client: read (keeping any application data for recv()) until the server's
        ticket arrived, the peer closed, or ``timeout`` seconds passed; the session or None.
        Servers send tickets after the handshake, so a client that wants to save one
        before it has read anything calls this."""
        deadline = time.monotonic() + timeout
        previous = self._sock.gettimeout()
        with self._read_lock:
            try:
                while self.session is None and not self._peer_closed and not self._closed and self._error is None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._sock.settimeout(remaining)
                    try:
                        self._read_and_process()
                    except TLSError:
                        if self._error is not None:
                            raise
                        break  # timed out: the stream stays usable
            finally:
                try:
                    self._sock.settimeout(previous)
                except OSError:
                    pass
        return self.session

    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """A file object over the stream, like ``socket.makefile``.

        Closing the file does not close the stream.
        """
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only 'r', 'w' and 'b' are allowed)")
        reading = "r" in mode
        writing = "w" in mode
        if not reading and not writing:
            reading = True
        binary = "b" in mode
        raw = _StreamIO(self, reading, writing)
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if not binary:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: io.BufferedIOBase
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        # typeshed wants a buffer with .name, which BufferedRWPair lacks; socket.makefile
        # wraps the same pair (text.name raises AttributeError there too).
        text = io.TextIOWrapper(buffer, encoding, errors, newline)  # type: ignore[type-var]
        text.mode = mode  # type: ignore[misc]
        return text

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._conn.handshake_complete else "handshaking")
        return f"<TLSStream {state}>"


class _StreamIO(io.RawIOBase):
    """Raw file interface used by TLSStream.makefile()."""

    def __init__(self, stream: TLSStream, reading: bool, writing: bool) -> None:
        super().__init__()
        self._stream = stream
        self._reading = reading
        self._writing = writing

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return self._writing

    def readinto(self, buffer: Any) -> int:
        return self._stream.recv_into(buffer)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._stream.sendall(view)
        return len(view)


def _open_socket(host: str, port: int, timeout: float | None, source_address: Any) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout, source_address=source_address)
    except OSError as exc:
        raise _transport_error(exc, f"connecting to {host}:{port}") from None
    set_nodelay(sock)
    return sock


def set_nodelay(sock: socket.socket) -> None:
    """Turn Nagle's algorithm off, as asyncio does for every TCP transport.

    The stream hands the socket whole TLS records, never dribbles, so Nagle can only
    delay them: a small record written while an earlier one is unacknowledged (a
    request right after the client's Finished, an answer right after the server's
    session tickets) would wait for the peer's delayed ACK, up to 40 ms.
    """
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not fatal: only latency


def connect(
    host: str,
    port: int,
    *,
    server_name: str | None = None,
    timeout: float | None = None,
    config: Any = None,
    allow_truncation: bool = False,
    keylog_from_env: bool = True,
    source_address: Any = None,
    session: Any = None,
    early_data: bytes | None = None,
    **client_config: Any,
) -> TLSStream:
    """Open a TCP connection to ``host:port`` and complete a TLS 1.3 handshake.

    ``server_name`` (default: ``host``) is sent as SNI and checked against the
    server's certificate. ``timeout`` applies to connecting, the handshake and
    every later read and write. Other keyword arguments are ClientConfig fields
    (``cafile``, ``provider``, ``groups``, ``alpn_protocols``, ``certfile``,
    ``keyfile``, ``keylog_file``, ...), applied on top of ``config`` if given.
    SSLKEYLOGFILE is honoured unless ``keylog_from_env=False`` (see tlskit.io.keylog).

    Resumption: a session from the config's session cache (keyed by server name and
    port) is offered when there is one, or ``session`` if given; ``early_data`` is sent
    as 0-RTT data when that session allows it (see ``stream.early_data_accepted``: if
    False, send it again). ``stream.session_reused`` says whether it resumed.

    Raises a TLSError (handshake, certificate or transport failure).
    """
    cfg = make_client_config(config, keylog_from_env=keylog_from_env, **client_config)
    connection = new_client_connection(
        cfg, server_name if server_name is not None else host, port=port, session=session, early_data=early_data
    )
    sock = _open_socket(host, port, timeout, source_address)
    stream = TLSStream(
        sock, connection, allow_truncation=allow_truncation, server_hostname=server_name if server_name is not None else host
    )
    try:
        stream.do_handshake()
    except BaseException:
        sock.close()
        raise
    return stream
