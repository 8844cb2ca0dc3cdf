"""Blocking TLS servers: :func:`serve` and :class:`TLSServer`.

``server.accept()`` returns a handshaken :class:`TLSStream`; ``serve_forever``
is built to face hostile networks:

* **Accept and handshake phase without threads.** One selector loop accepts
  clients and drives their handshakes over non-blocking sockets; a client that
  connects and says nothing (or trickles bytes) costs a socket, not a thread.
* **Handshake timeout** (``handshake_timeout``, default 10 s) bounds the whole
  handshake, so a slowloris client cannot hold its slot longer than that.
* **Prompt teardown**: a fatal alert, a close_notify or an EOF during the
  handshake ends the socket at once instead of waiting for the deadline.
* **Connection limit** (``max_connections``, default 512) counts handshaking and
  served connections together. At the limit a newcomer first displaces the
  oldest connection still in its handshake (a half-open connection holds no
  state worth keeping, and a real client finishes its handshake in
  milliseconds); when every slot is a served connection the server stops
  accepting and newcomers wait in the kernel's listen backlog until a slot frees.
  Connections already served are never dropped for a newcomer.
* **Idle timeout** (``timeout``, default 60 s) after the handshake: a handler
  read or write that waits longer on the peer raises
  :class:`~tlskit.io.TLSTimeoutError`, and the connection is closed when the
  handler returns. Handlers run in one thread per *handshaken* connection, so
  threads are bounded by ``max_connections`` and freed by the idle timeout.
  A thread whose handler returned waits a few seconds for the next connection
  (starting a thread costs the selector loop a wait for the new thread's first
  breath, under the GIL, for every connection), then ends.

Any failure in a connection (handshake error, truncation, a handler bug) is
reported to ``on_error`` and ends only that connection.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import selectors
import socket
import threading
import time
from typing import Any, Callable

from tlskit.errors import InternalError, TLSError
from tlskit.events import ConnectionClosed
from tlskit.io._common import READ_SIZE, make_server_config, new_server_connection
from tlskit.io._sslcompat import HELLO_CAPTURE_LIMIT
from tlskit.io.errors import HandshakeEOFError, TLSConnectionError, TLSTimeoutError
from tlskit.io.stream import TLSStream, _transport_error, set_nodelay

logger = logging.getLogger("tlskit.io")

#: the socket type, by a name the ``TLSServer.socket`` property does not shadow
#: in annotations inside the class
_Socket = socket.socket

#: seconds to pause accepting after accept() itself failed (EMFILE and the like)
_ACCEPT_BACKOFF = 0.1
#: clients accepted per wake-up of the loop, so one busy listener cannot starve handshakes
_ACCEPT_BATCH = 32
#: seconds a connection thread whose handler returned waits for another connection before ending
_WORKER_LINGER = 5.0

#: default limits (documented in the README, "Servers on hostile networks")
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_MAX_CONNECTIONS = 512

Handler = Callable[[TLSStream], Any]
ErrorHandler = Callable[[Any, BaseException], Any]


def _log_error(address: Any, exc: BaseException) -> None:
    logger.info("connection from %s failed: %s: %s", address, type(exc).__name__, exc)


class _Handshake:
    """A connection in its handshake phase, driven by the selector loop."""

    __slots__ = ("sock", "fd", "address", "conn", "started", "deadline", "out", "peer_closed", "hello")

    def __init__(self, sock: _Socket, address: Any, conn: Any, now: float, timeout: float | None) -> None:
        self.sock = sock
        self.fd = sock.fileno()  # its key in TLSServer._handshakes (fileno() is -1 once closed)
        self.address = address
        self.conn = conn
        self.started = now
        self.deadline = None if timeout is None else now + timeout
        self.out = bytearray()
        self.peer_closed = False  # close_notify arrived with the client's last flight
        self.hello = bytearray()  # the client's first bytes, for shared_ciphers()


class TLSServer:
    """A listening TCP socket whose connections speak TLS 1.3 (see :func:`serve`)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: Any = None,
        backlog: int = 128,
        handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        allow_truncation: bool = False,
        keylog_from_env: bool = True,
        **server_config: Any,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.max_connections = max_connections
        self.config = make_server_config(config, keylog_from_env=keylog_from_env, **server_config)
        self.handshake_timeout = handshake_timeout
        self.timeout = timeout
        self.allow_truncation = allow_truncation
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._listener = socket.create_server((host, port), family=family, backlog=backlog)
        except OverflowError:
            raise TLSConnectionError(f"cannot listen on {host}:{port}: port must be 0-65535") from None
        except OSError as exc:
            raise _transport_error(exc, f"listening on {host}:{port}") from None
        # Non-blocking, so that a client that resets between select() and
        # accept() cannot leave the accept loop stuck in accept().
        self._listener.setblocking(False)
        try:
            self._wake_reader, self._wake_writer = socket.socketpair()
        except OSError as exc:  # out of descriptors: do not leak the listener
            self._listener.close()
            raise _transport_error(exc, f"listening on {host}:{port}") from None
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        # sockets handed to a handler (queued for a thread or being served), and the
        # connection threads: idle ones wait on _jobs for the next handshaken connection
        self._serving: dict[socket.socket, None] = {}
        self._workers: set[threading.Thread] = set()
        self._idle_workers = 0  # workers waiting on _jobs and not yet promised a job
        self._jobs: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        self._workers_closed = False
        self._handshakes: dict[int, _Handshake] = {}  # by file descriptor; only the loop's thread touches it
        # (deadline, order, fd) of the pending handshakes, earliest first; entries of handshakes
        # already finished or dropped are discarded when they reach the top (loop thread only)
        self._deadlines: list[tuple[float, int, int]] = []
        self._deadline_order = itertools.count()
        self._background: threading.Thread | None = None
        self._loop_running = threading.Event()
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; port 0 asked for an ephemeral one."""
        host, port = self._listener.getsockname()[:2]
        return host, port

    @property
    def socket(self) -> _Socket:
        return self._listener

    def fileno(self) -> int:
        return self._listener.fileno()

    # -- one connection at a time ---------------------------------------------

    def accept(self) -> TLSStream:
        """Wait for a client and complete the handshake with it.

        Raises the TLSError of a failed handshake (the client is dropped; call
        accept() again for the next one).
        """
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while True:
                selector.select()
                try:
                    sock, _ = self._listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                return self.wrap(sock)

    def wrap(self, sock: _Socket) -> TLSStream:
        """Run the server handshake on an accepted socket (closed on failure)."""
        try:
            set_nodelay(sock)
            sock.setblocking(True)
            sock.settimeout(self.handshake_timeout)
            stream = TLSStream(sock, new_server_connection(self.config), allow_truncation=self.allow_truncation)
            stream.do_handshake()
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        return stream

    # -- the selector loop ------------------------------------------------------

    def serve_forever(self, handler: Handler, *, on_error: ErrorHandler | None = None) -> None:
        """Accept clients until :meth:`shutdown`; see the module docstring for the limits.

        ``handler(stream)`` gets a handshaken stream in a thread of its own; the
        stream is closed (with close_notify) when the handler returns. Exceptions
        from the handshake or the handler go to ``on_error(peer_address, exc)``
        (default: logged on the ``tlskit.io`` logger) and never stop the server.
        """
        report = on_error if on_error is not None else _log_error
        self._loop_running.set()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self._wake_reader, selectors.EVENT_READ)
                listening = False
                try:
                    while not self._stopping.is_set():
                        # At the limit with nobody to displace, leave newcomers in the backlog.
                        want_listen = self._slots_used() < self.max_connections or bool(self._handshakes)
                        if want_listen != listening:
                            if want_listen:
                                selector.register(self._listener, selectors.EVENT_READ)
                            else:
                                selector.unregister(self._listener)
                            listening = want_listen
                        ready = selector.select(self._next_wakeup())
                        if self._stopping.is_set():
                            break
                        for key, events in ready:
                            if key.fileobj is self._listener:
                                self._accept_batch(selector, report)
                            elif key.fileobj is self._wake_reader:
                                self._drain_wakeups()
                            else:
                                pending = self._handshakes.get(key.fd)
                                if pending is not None:
                                    self._progress(selector, pending, events, handler, report)
                        self._expire(selector, report)
                finally:
                    # Bytes that already arrived (an alert that ends a handshake) are still
                    # read and reported; then the handshakes still pending are dropped.
                    if self._handshakes:
                        for key, events in selector.select(0):
                            pending = self._handshakes.get(key.fd)
                            if pending is not None:
                                self._progress(selector, pending, events, handler, report)
                    for pending in list(self._handshakes.values()):
                        self._drop(selector, pending)
        finally:
            self._loop_running.clear()

    def _slots_used(self) -> int:
        with self._lock:
            return len(self._serving) + len(self._handshakes)

    def _next_deadline(self) -> tuple[float, _Handshake] | None:
        """The earliest deadline of a handshake still pending (a heap, not a scan of every
        pending handshake on every turn of the loop: 1,000 clients meant 1,000 of them)."""
        heap = self._deadlines
        while heap:
            deadline, _, fd = heap[0]
            pending = self._handshakes.get(fd)
            if pending is not None and pending.deadline == deadline:
                return deadline, pending
            heapq.heappop(heap)  # finished or dropped meanwhile (its descriptor may serve another by now)
        return None

    def _next_wakeup(self) -> float | None:
        earliest = self._next_deadline()
        if earliest is None:
            return None
        return max(0.0, earliest[0] - time.monotonic())

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except OSError:
            pass

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"x")
        except OSError:  # buffer full: the loop is waking up anyway
            pass

    def _accept_batch(self, selector: selectors.BaseSelector, report: ErrorHandler) -> None:
        for _ in range(_ACCEPT_BATCH):
            full = self._slots_used() >= self.max_connections
            if full and not self._handshakes:
                return  # every slot is a served connection: the rest wait in the backlog
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # e.g. out of file descriptors: keep serving the others
                _safe_report(report, None, exc)
                # the listener stays readable; pause instead of spinning until a descriptor frees
                self._stopping.wait(_ACCEPT_BACKOFF)
                return
            if full:
                # a newcomer at the limit displaces the oldest handshake still pending
                # (see the module docstring); served connections are never displaced
                oldest = min(self._handshakes.values(), key=lambda p: p.started)
                self._drop(selector, oldest)
                _safe_report(
                    report, oldest.address, TLSConnectionError("connection limit reached; dropped a pending handshake")
                )
            try:
                sock.setblocking(False)
                set_nodelay(sock)
                pending = _Handshake(
                    sock, address, new_server_connection(self.config), time.monotonic(), self.handshake_timeout
                )
                with self._lock:
                    self._handshakes[pending.fd] = pending
                if pending.deadline is not None:
                    heapq.heappush(self._deadlines, (pending.deadline, next(self._deadline_order), pending.fd))
                selector.register(sock, selectors.EVENT_READ)
            except Exception as exc:  # an engine or selector failure ends this client only
                with self._lock:
                    self._handshakes.pop(sock.fileno(), None)
                sock.close()
                _safe_report(report, address, exc)

    def _progress(
        self,
        selector: selectors.BaseSelector,
        pending: _Handshake,
        events: int,
        handler: Handler,
        report: ErrorHandler,
    ) -> None:
        """Read, feed the engine and write for one handshaking connection."""
        try:
            if events & selectors.EVENT_READ:
                try:
                    data = pending.sock.recv(READ_SIZE)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError as exc:
                    raise _transport_error(exc, "reading the handshake") from None
                if data is not None:
                    if not data:
                        raise HandshakeEOFError("peer closed the connection during the handshake")
                    pending.hello += data[: HELLO_CAPTURE_LIMIT - len(pending.hello)]
                    try:
                        engine_events = pending.conn.receive_data(data)
                    except TLSError:
                        pending.out += pending.conn.data_to_send()  # the alert, best effort
                        self._send_some(pending)
                        raise
                    except Exception as exc:  # an engine bug must not stop the server
                        logger.exception("engine failed on received data")
                        raise InternalError(f"internal error: {type(exc).__name__}") from None
                    closed = any(isinstance(event, ConnectionClosed) for event in engine_events)
                    pending.peer_closed = pending.peer_closed or closed
                    if closed and not pending.conn.handshake_complete:
                        # RFC 8446 6.1: after close_notify the peer sends nothing more;
                        # the handshake can never complete, so do not wait for the deadline.
                        raise HandshakeEOFError("peer sent close_notify during the handshake")
            pending.out += pending.conn.data_to_send()
            self._send_some(pending)
        except Exception as exc:
            self._drop(selector, pending)
            _safe_report(report, pending.address, exc)
            return
        if pending.out:
            selector.modify(pending.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            return
        selector.modify(pending.sock, selectors.EVENT_READ)
        if pending.conn.handshake_complete:
            self._start_handler(selector, pending, handler, report)

    def _send_some(self, pending: _Handshake) -> None:
        while pending.out:
            try:
                sent = pending.sock.send(pending.out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                raise _transport_error(exc, "writing the handshake") from None
            del pending.out[:sent]

    def _expire(self, selector: selectors.BaseSelector, report: ErrorHandler) -> None:
        now = time.monotonic()
        while (earliest := self._next_deadline()) is not None and now >= earliest[0]:
            pending = earliest[1]
            heapq.heappop(self._deadlines)
            self._drop(selector, pending)
            _safe_report(report, pending.address, TLSTimeoutError("timed out during the handshake"))

    def _drop(self, selector: selectors.BaseSelector, pending: _Handshake) -> None:
        with self._lock:
            if self._handshakes.get(pending.fd) is pending:
                del self._handshakes[pending.fd]
        try:
            selector.unregister(pending.sock)
        except (KeyError, ValueError):
            pass
        pending.sock.close()

    def _start_handler(
        self, selector: selectors.BaseSelector, pending: _Handshake, handler: Handler, report: ErrorHandler
    ) -> None:
        if self._stopping.is_set():  # completed while the server stops: nobody will serve it
            self._drop(selector, pending)
            return
        selector.unregister(pending.sock)
        sock = pending.sock
        try:
            stream = TLSStream._handshaken(
                sock,
                pending.conn,
                peer_closed=pending.peer_closed,
                allow_truncation=self.allow_truncation,
                hello=bytes(pending.hello),
            )
            stream._use_kernel_timeout(self.timeout)  # the idle timeout, without a poll per call
        except Exception as exc:
            with self._lock:
                self._handshakes.pop(pending.fd, None)
            sock.close()
            _safe_report(report, pending.address, exc)
            return
        job = (stream, pending.address, handler, report)
        with self._lock:
            self._handshakes.pop(pending.fd, None)
            self._serving[sock] = None
            if self._idle_workers:  # a thread is waiting: no new thread to start
                self._idle_workers -= 1
                self._jobs.put(job)
                return
        worker = threading.Thread(
            target=self._worker, args=(job,), name=f"tlskit-conn-{pending.address}", daemon=True
        )
        with self._lock:
            self._workers.add(worker)
        try:
            worker.start()
        except RuntimeError as exc:  # "can't start new thread": drop this client, keep serving
            with self._lock:
                self._serving.pop(sock, None)
                self._workers.discard(worker)
            sock.close()
            _safe_report(report, pending.address, TLSConnectionError(f"cannot start a connection thread: {exc}"))

    def _worker(self, job: tuple | None) -> None:
        """A connection thread: serve ``job``, then the connections handed to it while idle."""
        me = threading.current_thread()
        try:
            while job is not None:
                me.name = f"tlskit-conn-{job[1]}"
                self._run_handler(*job)
                job = self._next_job()
        finally:
            with self._lock:
                self._workers.discard(me)

    def _next_job(self) -> tuple | None:
        """Wait up to _WORKER_LINGER for another connection; None: end the thread."""
        with self._lock:
            if self._workers_closed:
                return None
            self._idle_workers += 1
        try:
            return self._jobs.get(timeout=_WORKER_LINGER)
        except queue.Empty:
            with self._lock:
                try:
                    # _start_handler counted on us just as we gave up: take the job
                    return self._jobs.get_nowait()
                except queue.Empty:
                    self._idle_workers -= 1
                    return None

    def _run_handler(self, stream: TLSStream, address: Any, handler: Handler, report: ErrorHandler) -> None:
        try:
            with stream:
                handler(stream)
        except Exception as exc:
            _safe_report(report, address, exc)
        finally:
            stream.socket.close()
            with self._lock:
                self._serving.pop(stream.socket, None)
            self._wake()  # a slot is free: the loop may listen again

    def serve_in_background(self, handler: Handler, *, on_error: ErrorHandler | None = None) -> threading.Thread:
        """Run :meth:`serve_forever` in a daemon thread; :meth:`close` stops and joins it."""
        thread = threading.Thread(
            target=self.serve_forever, args=(handler,), kwargs={"on_error": on_error}, name="tlskit-server", daemon=True
        )
        self._background = thread
        thread.start()
        return thread

    @property
    def active_connections(self) -> int:
        """Connections being served by a handler (handshake complete)."""
        with self._lock:
            return len(self._serving)

    @property
    def pending_handshakes(self) -> int:
        """Connections accepted whose handshake has not completed yet."""
        with self._lock:
            return len(self._handshakes)

    def shutdown(self) -> None:
        """Make serve_forever() return (connections already served carry on;
        handshakes still pending are dropped)."""
        self._stopping.set()
        self._wake()

    def close(self, *, join_timeout: float = 5.0) -> None:
        """Stop accepting, cut the connections still running and wait for their threads."""
        if self._closed:
            return
        self._closed = True
        self.shutdown()
        if self._background is not None and self._background is not threading.current_thread():
            self._background.join(join_timeout)
        self._listener.close()
        with self._lock:
            serving = list(self._serving)
            workers = list(self._workers)
            self._workers_closed = True
            for _ in range(self._idle_workers):
                self._jobs.put(None)  # an idle thread's signal to end
            self._idle_workers = 0
        for sock in serving:
            try:
                # shutdown(), unlike close(), wakes a thread blocked in recv()
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in workers:
            if thread is not threading.current_thread():
                thread.join(join_timeout)
        self._wake_reader.close()
        self._wake_writer.close()

    def __enter__(self) -> "TLSServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TLSServer {self.address[0]}:{self.address[1]}>"


def _safe_report(report: ErrorHandler, address: Any, exc: BaseException) -> None:
    try:
        report(address, exc)
    except Exception:  # a broken error callback must not kill the server
        logger.exception("on_error callback failed")


def serve(host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> TLSServer:
    """Listen on ``host:port`` for TLS 1.3 clients.

    Keyword arguments are TLSServer options (``handshake_timeout`` (default 10 s),
    ``timeout`` (the idle timeout after the handshake, default 60 s; None: none),
    ``max_connections`` (default 512), ``backlog``, ``allow_truncation``, ``config``)
    and ServerConfig fields (``certfile``, ``keyfile``, ``provider``,
    ``client_cafile``, ``require_client_auth``, ``alpn_protocols``, ``keylog_file``, ...)::

        with tlskit.serve("127.0.0.1", 8443, certfile="chain.pem", keyfile="key.pem") as server:
            with server.accept() as stream:          # one client, or:
                stream.sendall(stream.recv(1024))
            server.serve_forever(handler)            # a thread per handshaken client
    """
    return TLSServer(host, port, **kwargs)
