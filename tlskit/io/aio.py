"""asyncio streams over TLS 1.3: ``open_connection`` and ``start_server``.

They mirror :func:`asyncio.open_connection` / :func:`asyncio.start_server` and
return the standard :class:`asyncio.StreamReader` / :class:`asyncio.StreamWriter`,
so code written for asyncio streams works unchanged::

    reader, writer = await tlskit.aio.open_connection("example.org", 443, cafile="ca.pem")
    writer.write(b"GET / HTTP/1.0\\r\\n\\r\\n")
    await writer.drain()
    reply = await reader.read()

How: a protocol (:class:`_TLSProtocol`) sits on the TCP transport and drives
the engine; the application's ``StreamReaderProtocol`` sees a plaintext
transport (:class:`TLSTransport`) on top of it, the way asyncio's own sslproto
works.

Back-pressure: ``writer.write`` encrypts at once and hands whole records to
the TCP transport; when its buffer passes the high-water mark the TCP transport
pauses us and we pause the application, so ``await writer.drain()`` waits.
Cancellation: because records are handed over whole and synchronously, a
cancelled ``drain()`` (or any cancelled task) can never leave half a record on
the wire; the bytes already written are either all sent or the connection is
torn down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import types
from typing import Any, Awaitable, Callable

from tlskit.errors import InternalError, TLSError
from tlskit.events import ConnectionClosed
from tlskit.io._common import (
    is_server_connection,
    peercert_dict,
    make_client_config,
    make_server_config,
    new_client_connection,
    new_server_connection,
)
from tlskit.io._sslcompat import HELLO_CAPTURE_LIMIT, TLSObject, cipher_tuple
from tlskit.io.errors import (
    HandshakeEOFError,
    TLSConnectionError,
    TLSTimeoutError,
    TruncatedConnectionError,
)

__all__ = ["TLSTransport", "open_connection", "start_server"]

logger = logging.getLogger("tlskit.io")

#: asyncio's default StreamReader limit
_DEFAULT_LIMIT = 2**16

#: server defaults, as for the blocking server (documented in the README)
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 512

#: bytes the TCP transport may read in one go (asyncio's own read size, 256 KiB)
_READ_SIZE = 256 * 1024


class _ReadBuffer(threading.local):
    """One read buffer per thread, shared by every connection of that thread's loop.

    The TCP transport calls ``get_buffer()``, reads into it and calls
    ``buffer_updated()`` at once, and the protocol copies the bytes out there, so
    the buffer is free again before the next connection reads. Without it each
    read allocates a fresh 256 KiB bytes object: an mmap/munmap pair and page
    faults per read, which showed as twice the kernel time of asyncio's own TLS
    (a buffered protocol too) in the servers benchmark; one buffer per
    connection instead would cost 256 KiB of memory for every idle connection.
    """

    def __init__(self) -> None:
        self.view = memoryview(bytearray(_READ_SIZE))


_read_buffer = _ReadBuffer()

ClientConnectedCallback = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None]


class _ConnectionLimit:
    """The connections of one server, bounded by ``max_connections``.

    A newcomer at the limit displaces the oldest connection still in its
    handshake (a half-open connection holds nothing worth keeping; a real client
    finishes in milliseconds). When every slot holds a handshaken connection the
    newcomer is refused at once (its socket is reset): asyncio has no public way
    to leave it in the listen backlog. Served connections are never displaced.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.live: dict[_TLSProtocol, None] = {}  # insertion order: oldest first

    def admit(self, protocol: "_TLSProtocol") -> bool:
        if len(self.live) >= self.maximum:
            oldest = next((p for p in self.live if not p._conn.handshake_complete), None)
            if oldest is None:
                return False
            self.live.pop(oldest, None)
            oldest._fail(TLSConnectionError("connection limit reached; dropped a pending handshake"))
            if oldest._raw is not None:
                oldest._raw.abort()
        self.live[protocol] = None
        return True


class _TLSProtocol(asyncio.BufferedProtocol):
    """Protocol on the TCP transport: feeds the engine, forwards plaintext to
    the application protocol once the handshake is complete."""

    # slots: a server holds one per connection (no per-instance dict; see the idle bench)
    __slots__ = (
        "_limit", "_server_hostname", "_hello", "_ssl_object", "_loop", "_conn", "_app", "_waiter",
        "_handshake_timeout", "_idle_timeout", "_last_activity", "_app_paused_reading", "_idle_buffer_seen",
        "_allow_truncation", "_raw", "_timer", "_app_connected", "_app_keeps_open", "_writing_paused",
        "_peer_closed", "_write_closed", "_closing", "_error", "transport", "__weakref__",
    )  # fmt: skip

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connection: Any,
        app_protocol: asyncio.BaseProtocol,
        *,
        handshake_waiter: asyncio.Future | None = None,
        handshake_timeout: float | None = None,
        idle_timeout: float | None = None,
        allow_truncation: bool = False,
        limit: _ConnectionLimit | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self._limit = limit
        self._server_hostname = server_hostname
        # a server keeps the client's first bytes (its ClientHello) for shared_ciphers():
        # a bytearray while they come in, exact-size bytes once the handshake is done
        self._hello: bytearray | bytes | None = bytearray() if is_server_connection(connection) else None
        self._ssl_object: TLSObject | None = None
        self._loop = loop
        self._conn = connection
        self._app = app_protocol
        self._waiter = handshake_waiter
        self._handshake_timeout = handshake_timeout
        self._idle_timeout = idle_timeout
        self._last_activity = 0.0  # loop.time() of the last bytes in, or out from the application
        self._app_paused_reading = False
        self._idle_buffer_seen = 0  # the TCP write buffer size at the last idle check
        self._allow_truncation = allow_truncation
        self._raw: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._app_connected = False
        self._app_keeps_open = False  # what the app's eof_received() answered
        self._writing_paused = False
        self._peer_closed = False
        self._write_closed = False
        self._closing = False
        self._error: TLSError | None = None
        self.transport = TLSTransport(self)

    # -- raw transport callbacks ---------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = transport  # type: ignore[assignment]
        if self._limit is not None and not self._limit.admit(self):
            logger.debug("connection limit reached; refused a new connection")
            self._error = TLSConnectionError("connection limit reached; refused")
            transport.abort()  # type: ignore[attr-defined]
            return
        if self._handshake_timeout is not None:
            self._timer = self._loop.call_later(self._handshake_timeout, self._handshake_timed_out)
        self._flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer.view

    def buffer_updated(self, nbytes: int) -> None:
        # copied out at once: the buffer is the next connection's (see _ReadBuffer)
        self.data_received(bytes(_read_buffer.view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self._error is not None or self._raw is None:
            return
        self._last_activity = self._loop.time()
        was_complete = self._conn.handshake_complete
        if self._hello is not None and not was_complete:
            self._hello += data[: HELLO_CAPTURE_LIMIT - len(self._hello)]  # type: ignore[operator]
        try:
            events = self._conn.receive_data(data)
        except TLSError as exc:
            self._flush()  # the alert the engine queued
            self._fail(exc)
            return
        except Exception as exc:  # an engine bug must not escape into the event loop
            logger.exception("engine failed on received data")
            self._fail(InternalError(f"internal error: {type(exc).__name__}"))
            return
        self._flush()
        if not was_complete and self._conn.handshake_complete:
            self._handshake_done()
        received = self._conn.recv()
        if received and self._app_connected:
            self._app.data_received(received)  # type: ignore[attr-defined]
        for event in events:
            if isinstance(event, ConnectionClosed):
                self._peer_closed = True
                if not self._conn.handshake_complete:
                    # RFC 8446 6.1: nothing follows close_notify, so this handshake can
                    # never complete: end it now rather than at the handshake deadline.
                    self._fail(HandshakeEOFError("peer sent close_notify during the handshake"))
                    return
                if self._app_connected:
                    self._app_keeps_open = bool(self._app.eof_received())  # type: ignore[attr-defined]
                    if not self._app_keeps_open:
                        self.transport.close()

    def eof_received(self) -> bool:
        if self._error is not None:
            return False
        if not self._conn.handshake_complete:
            self._fail(HandshakeEOFError("peer closed the connection during the handshake"))
            return False
        if self._peer_closed:
            return self._app_keeps_open and not self._closing
        if self._closing:
            return False  # we are closing anyway: nothing more was expected from the peer
        if self._allow_truncation:
            self._peer_closed = True
            self._app_keeps_open = bool(self._app.eof_received())  # type: ignore[attr-defined]
            return self._app_keeps_open
        self._fail(TruncatedConnectionError("peer closed the connection without close_notify"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._limit is not None:
            self._limit.live.pop(self, None)
        self._cancel_timer()
        error: Exception | None = self._error
        if error is None and exc is not None:
            error = TLSConnectionError(f"transport failed: {exc}")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error or HandshakeEOFError("connection closed during the handshake"))
        if self._app_connected:
            self._app_connected = False
            self._app.connection_lost(error)
        self._raw = None

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self._app_connected:
            self._app.pause_writing()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._last_activity = self._loop.time()  # the peer read what we had buffered
        if self._app_connected:
            self._app.resume_writing()

    # -- internals -----------------------------------------------------------

    def _flush(self) -> None:
        out = self._conn.data_to_send()
        if out and self._raw is not None and not self._raw.is_closing():
            self._raw.write(out)

    def _handshake_done(self) -> None:
        self._cancel_timer()
        if self._hello is not None:
            self._hello = bytes(self._hello)  # no more growth: drop the spare capacity
        if self._idle_timeout is not None:
            self._last_activity = self._loop.time()
            self._timer = self._loop.call_at(self._last_activity + self._idle_timeout / 4, self._idle_check)
        self._app_connected = True
        self._app.connection_made(self.transport)
        if self._writing_paused:
            self._app.pause_writing()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if not self._conn.handshake_complete:
            self._fail(TLSTimeoutError("TLS handshake timed out"))

    def _idle_check(self) -> None:
        """The idle timer, as the blocking server's socket timeout: the connection is
        ended once the application has been waiting on the peer (for data to read,
        or for the peer to read what it wrote) for ``idle_timeout`` seconds with
        nothing happening. A handler busy with something else is not waiting.

        asyncio does not say when a reader starts waiting, so this samples every
        quarter of the timeout: a connection is ended after between 1 and 1.5
        timeouts of waiting. One timer per connection, re-armed each time (cheaper
        than rescheduling a timer for every record).
        """
        self._timer = None
        if self._error is not None or self._raw is None or self._idle_timeout is None:
            return
        now = self._loop.time()
        interval = self._idle_timeout / 4
        buffered = self._raw.get_write_buffer_size()
        if (
            self._app_paused_reading  # the application is not reading: not the peer's fault
            or not self._app_waiting()
            or (buffered and buffered != self._idle_buffer_seen)  # the peer reads what we sent, if slowly
        ):
            self._last_activity = now
        self._idle_buffer_seen = buffered
        # the wait began at most one interval after the last activity seen
        if now - self._last_activity < self._idle_timeout + interval:
            self._timer = self._loop.call_at(now + interval, self._idle_check)
            return
        # Bytes still buffered mean the peer stopped reading: close() would wait for
        # them forever, so cut the connection; otherwise end it with close_notify
        # (a deliberate end, not a truncation).
        stalled = buffered > 0
        if not stalled:
            self._write_close_notify()
        self._fail(TLSTimeoutError(f"connection idle for {self._idle_timeout:g} s; closed"))
        if stalled and self._raw is not None:
            self._raw.abort()

    def _app_waiting(self) -> bool:
        """Whether the application is blocked on the peer: drain() waiting (writing
        paused), or its StreamReader waiting for data. asyncio has no public way to
        ask the latter, so this looks at StreamReaderProtocol's reader and its waiter;
        for any other application protocol the answer is yes (the connection's
        silence alone counts)."""
        if self._writing_paused:
            return True
        reader = getattr(self._app, "_stream_reader", None)
        if reader is None or not hasattr(reader, "_waiter"):
            return True
        return reader._waiter is not None

    def ssl_object(self) -> TLSObject:
        if self._ssl_object is None:
            reader = getattr(self._app, "_stream_reader", None)
            self._ssl_object = TLSObject(
                self._conn,
                server_side=self._hello is not None,
                server_hostname=self._server_hostname,
                config=getattr(self._conn, "_config", None),
                # read when asked: the capture becomes exact-size bytes when the handshake ends
                hello_bytes=lambda: None if self._hello is None else bytes(self._hello),
                pending=lambda: len(getattr(reader, "_buffer", b"")),
            )
        return self._ssl_object

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fail(self, exc: TLSError) -> None:
        """End the connection with ``exc``; queued bytes (an alert) still go out."""
        if self._error is None:
            self._error = exc
            logger.debug("TLS connection failed: %s: %s", type(exc).__name__, exc)
        self._cancel_timer()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if self._raw is not None:
            self._raw.close()

    def _write_plaintext(self, data: bytes) -> None:
        if self._closing or self._write_closed or self._error is not None or self._raw is None:
            return  # like asyncio transports, writes after close are dropped
        if not data:
            return
        try:
            self._conn.send(data)
        except TLSError as exc:
            self._fail(exc)
            return
        self._last_activity = self._loop.time()
        self._flush()

    def _write_close_notify(self) -> None:
        if self._write_closed or self._error is not None or self._raw is None:
            return
        self._write_closed = True
        if self._conn.handshake_complete:
            try:
                self._conn.close()
            except TLSError:
                return
            self._flush()


_NO_EXTRA: Any = types.MappingProxyType({})


class TLSTransport(asyncio.Transport):
    """The plaintext transport the application's protocol sees.

    Extra info beyond the TCP transport's, as asyncio's own TLS transport gives
    them: ``"ssl_object"`` (a :class:`~tlskit.io._sslcompat.TLSObject` with the
    ``ssl.SSLObject`` methods: ``cipher()``, ``version()``,
    ``selected_alpn_protocol()``, ``getpeercert()``, ``get_channel_binding()``,
    ``shared_ciphers()``, ``session_reused``...), ``"peercert"`` (dict like ssl's),
    ``"cipher"`` (``(name, version, secret_bits)``), ``"compression"`` (None); and
    tlskit's own: ``"negotiated"`` (the engine's Negotiated record),
    ``"peercert_der"``, ``"tls_connection"`` (the engine connection), ``"session"``
    and ``"session_reused"`` (resumption), ``"early_data"`` (server: the client's
    0-RTT data, replayable) and ``"early_data_accepted"`` (client).
    """

    __slots__ = ("_proto", "__weakref__")

    def __init__(self, protocol: _TLSProtocol) -> None:
        super().__init__(_NO_EXTRA)  # get_extra_info is ours: no dict per connection
        self._proto = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        conn = self._proto._conn
        if name == "sslcontext":
            # asyncio.StreamReaderProtocol changes its EOF handling when it sees
            # an ssl context; TLS half-close is handled here instead.
            return default
        if name == "tls_connection":
            return conn
        if name == "session":
            return getattr(conn, "session", None)
        if name == "session_reused":
            return bool(conn.handshake_complete and conn.negotiated.resumed)
        if name == "early_data":
            return getattr(conn, "early_data", b"")
        if name == "early_data_accepted":
            return getattr(conn, "early_data_accepted", None)
        if name == "ssl_object":
            return self._proto.ssl_object()
        if name == "compression":
            return None
        if name in ("negotiated", "peercert", "peercert_der", "cipher"):
            if not conn.handshake_complete:
                return default
            negotiated = conn.negotiated
            certificates = tuple(negotiated.peer_certificates or ())
            if name == "negotiated":
                return negotiated
            if name == "cipher":
                return cipher_tuple(conn)
            if not certificates:
                return default
            return certificates[0] if name == "peercert_der" else peercert_dict(certificates[0])
        raw = self._proto._raw
        return raw.get_extra_info(name, default) if raw is not None else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
        self._proto._write_plaintext(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """Send close_notify but keep receiving (TLS 1.3 half-close)."""
        self._proto._write_close_notify()

    def close(self) -> None:
        proto = self._proto
        if proto._closing:
            return
        proto._closing = True
        proto._write_close_notify()
        if proto._raw is not None:
            proto._raw.close()

    def abort(self) -> None:
        proto = self._proto
        proto._closing = True
        if proto._raw is not None:
            proto._raw.abort()

    def is_closing(self) -> bool:
        raw = self._proto._raw
        return self._proto._closing or raw is None or raw.is_closing()

    def pause_reading(self) -> None:
        self._proto._app_paused_reading = True
        if self._proto._raw is not None:
            self._proto._raw.pause_reading()

    def resume_reading(self) -> None:
        self._proto._app_paused_reading = False
        self._proto._last_activity = self._proto._loop.time()
        if self._proto._raw is not None:
            self._proto._raw.resume_reading()

    def is_reading(self) -> bool:
        raw = self._proto._raw
        return raw is not None and raw.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if self._proto._raw is not None:
            self._proto._raw.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        raw = self._proto._raw
        return raw.get_write_buffer_limits() if raw is not None else (0, 0)

    def get_write_buffer_size(self) -> int:
        raw = self._proto._raw
        return raw.get_write_buffer_size() if raw is not None else 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._proto._app = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._proto._app


async def open_connection(
    host: str | None = None,
    port: int | None = None,
    *,
    server_name: str | None = None,
    limit: int = _DEFAULT_LIMIT,
    handshake_timeout: float | None = 60.0,
    config: Any = None,
    allow_truncation: bool = False,
    keylog_from_env: bool = True,
    sock: Any = None,
    local_addr: Any = None,
    family: int = 0,
    session: Any = None,
    early_data: bytes | None = None,
    **client_config: Any,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect, complete the TLS 1.3 handshake, return ``(reader, writer)``.

    Keyword arguments other than the ones listed are ClientConfig fields
    (``cafile``, ``provider``, ``alpn_protocols``, ``certfile``/``keyfile``...).
    ``server_name`` defaults to ``host``. Raises a TLSError if the handshake fails.
    As with :func:`asyncio.open_connection`, give either ``host`` and ``port`` or
    a connected ``sock`` (then ``server_name`` for SNI and verification).
    Sessions are resumed from the config's cache (or ``session``), as with
    :func:`tlskit.connect`; ``writer.get_extra_info("session_reused")`` tells.
    """
    if sock is None and (host is None or port is None):
        # asyncio would try port 0 (a refused connection) or fail with its own wording
        raise ValueError("open_connection needs host and port, or sock")
    if sock is not None and (host is not None or port is not None):
        raise ValueError("give either host and port or sock, not both (server_name= names the server)")
    loop = asyncio.get_running_loop()
    cfg = make_client_config(config, keylog_from_env=keylog_from_env, **client_config)
    connection = new_client_connection(
        cfg, server_name if server_name is not None else host, port=port, session=session, early_data=early_data
    )
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    app_protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    waiter = loop.create_future()

    def factory() -> _TLSProtocol:
        return _TLSProtocol(
            loop,
            connection,
            app_protocol,
            handshake_waiter=waiter,
            handshake_timeout=handshake_timeout,
            allow_truncation=allow_truncation,
            server_hostname=server_name if server_name is not None else host,
        )

    try:
        if sock is not None:
            raw_transport, protocol = await loop.create_connection(factory, sock=sock)
        else:
            assert host is not None and port is not None  # checked above
            raw_transport, protocol = await loop.create_connection(
                factory, host, port, local_addr=local_addr, family=family
            )
    except OSError as exc:
        raise TLSConnectionError(f"connecting to {host}:{port} failed: {exc.strerror or exc}") from None
    try:
        await waiter
    except BaseException:
        raw_transport.abort()
        raise
    writer = asyncio.StreamWriter(protocol.transport, app_protocol, reader, loop)
    return reader, writer


async def start_server(
    client_connected_cb: ClientConnectedCallback,
    host: Any = None,
    port: int | None = None,
    *,
    limit: int = _DEFAULT_LIMIT,
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
    timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
    config: Any = None,
    allow_truncation: bool = False,
    keylog_from_env: bool = True,
    sock: Any = None,
    backlog: int = 100,
    reuse_address: bool | None = None,
    start_serving: bool = True,
    **server_config: Any,
) -> asyncio.Server:
    """Start a TLS 1.3 server; ``client_connected_cb(reader, writer)`` runs for
    each client once its handshake has completed.

    Returns the standard :class:`asyncio.Server`. Keyword arguments other than
    the ones listed are ServerConfig fields (``certfile``, ``keyfile``,
    ``provider``, ``client_cafile``, ``require_client_auth``...). Clients whose
    handshake fails or times out are dropped (logged on ``tlskit.io`` at debug
    level) without reaching the callback.

    Limits for servers facing hostile networks (see the README):
    ``handshake_timeout`` (default 10 s) bounds the whole handshake; a fatal
    alert, close_notify or EOF during the handshake ends the connection at once.
    ``max_connections`` (default 512; None: no limit) counts handshaking and
    served connections: at the limit a newcomer displaces the oldest connection
    still in its handshake, or, when every slot is served, is refused at once
    (reset), while the served connections carry on.

    ``timeout`` (seconds, default 60; None: no limit) is the per-connection idle
    timeout, as for the blocking :func:`tlskit.serve`: after the handshake, when
    the handler has been waiting on the peer for that long (a read with nothing
    arriving, or a drain() while the peer reads nothing) the connection is ended
    (close_notify, or an abort when the peer stopped reading) and the handler's
    pending read or drain raises :class:`~tlskit.io.TLSTimeoutError`. Time the
    handler spends on other work does not count. The wait is measured by
    sampling, so the end comes between 1 and 1.5 timeouts into it.
    """
    loop = asyncio.get_running_loop()
    cfg = make_server_config(config, keylog_from_env=keylog_from_env, **server_config)
    if max_connections is not None and max_connections < 1:
        raise ValueError("max_connections must be at least 1 (or None)")
    connection_limit = None if max_connections is None else _ConnectionLimit(max_connections)

    async def run_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            result = client_connected_cb(reader, writer)
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.exception("client_connected_cb failed; closing its connection")
            writer.close()

    def factory() -> _TLSProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        app_protocol = asyncio.StreamReaderProtocol(reader, run_handler, loop=loop)
        return _TLSProtocol(
            loop,
            new_server_connection(cfg),
            app_protocol,
            handshake_timeout=handshake_timeout,
            idle_timeout=timeout,
            allow_truncation=allow_truncation,
            limit=connection_limit,
        )

    return await loop.create_server(
        factory,
        host,
        port,
        sock=sock,
        backlog=backlog,
        reuse_address=reuse_address,
        start_serving=start_serving,
    )
