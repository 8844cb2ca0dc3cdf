"""Blocking TLS servers: :func:`serve` and :class:`TLSServer`.

``server.accept()`` returns a handshaken :class:`TLSStream`; ``serve_forever``
runs a handler per connection in its own thread, so one slow or hostile client
never holds up the others, and any failure in a connection (handshake error,
truncation, a handler bug) is reported to ``on_error`` and ends only that
connection.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
from typing import Any, Callable

from tlskit.io._common import make_server_config, new_server_connection
from tlskit.io.errors import TLSConnectionError
from tlskit.io.stream import TLSStream, _transport_error

logger = logging.getLogger("tlskit.io")

#: the socket type, by a name the ``TLSServer.socket`` property does not shadow
#: in annotations inside the class
_Socket = socket.socket

#: seconds to pause accepting after accept() itself failed (EMFILE and the like)
_ACCEPT_BACKOFF = 0.1

Handler = Callable[[TLSStream], Any]
ErrorHandler = Callable[[Any, BaseException], Any]


def _log_error(address: Any, exc: BaseException) -> None:
    logger.info("connection from %s failed: %s: %s", address, type(exc).__name__, exc)


class TLSServer:
    """A listening TCP socket whose connections speak TLS 1.3 (see :func:`serve`)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: Any = None,
        backlog: int = 128,
        handshake_timeout: float | None = 30.0,
        timeout: float | None = None,
        max_connections: int = 1024,
        allow_truncation: bool = False,
        keylog_from_env: bool = True,
        **server_config: Any,
    ) -> None:
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
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._active: dict[threading.Thread, socket.socket] = {}
        self._background: threading.Thread | None = None
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
            sock.setblocking(True)
            sock.settimeout(self.handshake_timeout)
            stream = TLSStream(sock, new_server_connection(self.config), allow_truncation=self.allow_truncation)
            stream.do_handshake()
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        return stream

    # -- a thread per connection ----------------------------------------------

    def serve_forever(self, handler: Handler, *, on_error: ErrorHandler | None = None) -> None:
        """Accept clients until :meth:`shutdown`, each in its own thread.

        ``handler(stream)`` gets a handshaken stream, which is closed (with
        close_notify) when the handler returns. Exceptions from the handshake or
        the handler go to ``on_error(peer_address, exc)`` (default: logged on the
        ``tlskit.io`` logger) and never stop the server.
        """
        report = on_error if on_error is not None else _log_error
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping.is_set():
                ready = selector.select()
                if self._stopping.is_set():
                    break
                if not any(key.fileobj is self._listener for key, _ in ready):
                    continue
                try:
                    sock, address = self._listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                except OSError as exc:  # e.g. out of file descriptors: keep serving the others
                    _safe_report(report, None, exc)
                    # the listener stays readable; pause instead of spinning until a descriptor frees
                    self._stopping.wait(_ACCEPT_BACKOFF)
                    continue
                if self.active_connections >= self.max_connections:
                    # a flood of clients must not exhaust threads: drop the newcomer at once
                    sock.close()
                    _safe_report(report, address, TLSConnectionError("too many connections; dropped"))
                    continue
                worker = threading.Thread(
                    target=self._run_connection,
                    args=(sock, address, handler, report),
                    name=f"tlskit-conn-{address}",
                    daemon=True,
                )
                with self._lock:
                    self._active[worker] = sock
                try:
                    worker.start()
                except RuntimeError as exc:  # "can't start new thread": drop this client, keep serving
                    with self._lock:
                        self._active.pop(worker, None)
                    sock.close()
                    _safe_report(report, address, TLSConnectionError(f"cannot start a connection thread: {exc}"))

    def _run_connection(self, sock: _Socket, address: Any, handler: Handler, report: ErrorHandler) -> None:
        try:
            stream = self.wrap(sock)
        except Exception as exc:
            _safe_report(report, address, exc)
        else:
            try:
                with stream:
                    handler(stream)
            except Exception as exc:
                _safe_report(report, address, exc)
        finally:
            sock.close()
            with self._lock:
                self._active.pop(threading.current_thread(), None)

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
        with self._lock:
            return len(self._active)

    def shutdown(self) -> None:
        """Make serve_forever() return (connections already running carry on)."""
        self._stopping.set()
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass

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
            running = list(self._active.items())
        for _, sock in running:
            try:
                # shutdown(), unlike close(), wakes a thread blocked in recv()
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread, _ in running:
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

    Keyword arguments are TLSServer options (``handshake_timeout``, ``timeout``,
    ``backlog``, ``max_connections``, ``allow_truncation``, ``config``) and ServerConfig fields
    (``certfile``, ``keyfile``, ``provider``, ``client_cafile``,
    ``require_client_auth``, ``alpn_protocols``, ``keylog_file``, ...)::

        with tlskit.serve("127.0.0.1", 8443, certfile="chain.pem", keyfile="key.pem") as server:
            with server.accept() as stream:          # one client, or:
                stream.sendall(stream.recv(1024))
            server.serve_forever(handler)            # a thread per client
    """
    return TLSServer(host, port, **kwargs)
