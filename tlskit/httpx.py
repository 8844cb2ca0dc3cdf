"""httpx over tlskit: transports for ``httpx.Client`` and ``httpx.AsyncClient``
whose HTTPS connections are made by tlskit (issue 14 item 1)::

    import httpx, tlskit.httpx

    with httpx.Client(transport=tlskit.httpx.Transport(provider="pynacl", cafile="ca.pem")) as client:
        client.get("https://localhost:8443/")

    async with httpx.AsyncClient(transport=tlskit.httpx.AsyncTransport(cafile="ca.pem")) as client:
        await client.get("https://localhost:8443/")

How: httpcore (httpx's engine) takes a pluggable *network backend*; ours opens
the TCP connection and, when httpcore asks for TLS (``start_tls``), runs a
tlskit handshake on it instead of ``ssl``. Everything else is httpcore's:
connection pooling, keep-alive, HTTP/1.1 (h11) and HTTP/2 (``h2``, used when it
is installed, ``http2=True`` and the server picks ``h2`` by ALPN).

Keyword arguments are ClientConfig fields (``cafile``, ``provider``, ``certfile``
/``keyfile`` for mTLS, ``groups``, ``cipher_suites``, ...) or a ready ``config``.
Errors: a TLS failure becomes ``httpx.ConnectError`` (handshake) or
``httpx.ReadError``/``WriteError`` whose message names the alert, e.g.
``"TLS alert unknown_ca: ..."``, with the tlskit error as ``__cause__`` of the
httpcore error it wraps; tlskit timeouts become httpx's timeout exceptions.
The asynchronous transport runs on asyncio.

Requires the ``httpx`` extra (``pip install 'tlskit[httpx]'``).
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
from typing import Any, Iterator

import httpcore
import httpx

from tlskit.errors import TLSError
from tlskit.io import aio
from tlskit.io._common import READ_SIZE, make_client_config, new_client_connection
from tlskit.io.errors import TLSTimeoutError
from tlskit.io.stream import TLSStream

__all__ = ["AsyncTransport", "Transport"]


def _h2_installed() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True


def _describe(exc: TLSError) -> str:
    alert = getattr(exc, "alert", None)
    name = getattr(alert, "name", None)
    return f"TLS alert {name}: {exc}" if name else f"TLS error: {exc}"


@contextlib.contextmanager
def _mapped(timeout_error: type[Exception], other_error: type[Exception]) -> Iterator[None]:
    """tlskit and socket errors as the httpcore exceptions httpx maps to its own."""
    try:
        yield
    except TLSTimeoutError as exc:
        raise timeout_error(_describe(exc)) from exc
    except TLSError as exc:
        raise other_error(_describe(exc)) from exc
    except (socket.timeout, asyncio.TimeoutError) as exc:
        raise timeout_error(str(exc) or "timed out") from exc
    except OSError as exc:
        raise other_error(str(exc)) from exc


def _alpn(http2: bool) -> list[str]:
    # as httpcore offers them with ssl
    return ["http/1.1", "h2"] if http2 else ["http/1.1"]


def _socket_readable(sock: Any) -> bool:
    """What httpcore asks before reusing a kept-alive connection: readable now means
    the server closed it (or sent something unasked), so it must not be reused."""
    try:
        if sock is None or sock.fileno() < 0:
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


# -- blocking -------------------------------------------------------------------


class _SyncStream(httpcore.NetworkStream):
    """A TCP socket before TLS, then a tlskit TLSStream."""

    def __init__(self, sock: socket.socket, backend: "_SyncBackend") -> None:
        self._sock = sock
        self._backend = backend
        self._tls: TLSStream | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            if self._tls is not None:
                self._tls.settimeout(timeout)
                return self._tls.recv(max_bytes)
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            if self._tls is not None:
                self._tls.settimeout(timeout)
                self._tls.sendall(buffer)
            else:
                self._sock.settimeout(timeout)
                self._sock.sendall(buffer)

    def close(self) -> None:
        if self._tls is not None:
            self._tls.close()
        else:
            self._sock.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        # ssl_context is httpcore's: tlskit's config (trust, client certificate, ALPN) is used instead
        connection = new_client_connection(self._backend.config, server_hostname)
        stream = TLSStream(self._sock, connection, server_hostname=server_hostname)
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            try:
                self._sock.settimeout(timeout)
                stream.do_handshake()
            except BaseException:
                self._sock.close()
                raise
        self._tls = stream
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._tls.ssl_object if self._tls is not None else None
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            if self._tls is not None and self._tls.pending():
                return True
            return _socket_readable(self._sock)
        return None


class _SyncBackend(httpcore.NetworkBackend):
    def __init__(self, config: Any) -> None:
        self.config = config

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        source = None if local_address is None else (local_address, 0)
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            sock = socket.create_connection((host, port), timeout, source_address=source)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return _SyncStream(sock, self)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            try:
                sock.settimeout(timeout)
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
        return _SyncStream(sock, self)


def _pool_options(http2: bool | None, limits: httpx.Limits | None, retries: int) -> dict[str, Any]:
    use_h2 = _h2_installed() if http2 is None else http2
    if use_h2 and not _h2_installed():
        raise ImportError("http2=True needs the h2 package (pip install h2)")
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
    return dict(
        # httpcore sets ALPN on the context it is given; tlskit never uses it for TLS
        ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=use_h2,
        retries=retries,
    )


class Transport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` whose TLS is tlskit's (see the module docstring).

    ``http2``: None (default) offers ``h2`` by ALPN when the h2 package is installed;
    False never does. ``limits`` and ``retries`` as for ``httpx.HTTPTransport``.
    """

    def __init__(
        self,
        *,
        config: Any = None,
        http2: bool | None = None,
        limits: httpx.Limits | None = None,
        retries: int = 0,
        keylog_from_env: bool = True,
        **client_config: Any,
    ) -> None:
        options = _pool_options(http2, limits, retries)
        self.config = make_client_config(
            config, keylog_from_env=keylog_from_env, alpn_protocols=_alpn(options["http2"]), **client_config
        )
        # httpx.HTTPTransport's request handling and error mapping, over our pool
        self._pool = httpcore.ConnectionPool(network_backend=_SyncBackend(self.config), **options)


# -- asyncio --------------------------------------------------------------------


class _AsyncStream(httpcore.AsyncNetworkStream):
    """A connected socket before TLS, then tlskit's asyncio streams."""

    def __init__(self, sock: socket.socket, backend: "_AsyncBackend") -> None:
        self._sock = sock
        self._backend = backend
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            if self._reader is None:
                loop = asyncio.get_running_loop()
                return await asyncio.wait_for(loop.sock_recv(self._sock, min(max_bytes, READ_SIZE)), timeout)
            return await asyncio.wait_for(self._reader.read(max_bytes), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            if self._writer is None:
                loop = asyncio.get_running_loop()
                await asyncio.wait_for(loop.sock_sendall(self._sock, buffer), timeout)
                return
            self._writer.write(buffer)
            await asyncio.wait_for(self._writer.drain(), timeout)

    async def aclose(self) -> None:
        if self._writer is None:
            self._sock.close()
            return
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            try:
                self._reader, self._writer = await aio.open_connection(
                    sock=self._sock,
                    server_name=server_hostname,
                    handshake_timeout=timeout,
                    config=self._backend.config,
                    keylog_from_env=False,  # the transport's config already has it
                )
            except BaseException:
                self._sock.close()
                raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object") if self._writer is not None else None
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            if self._reader is not None and (self._reader.at_eof() or len(getattr(self._reader, "_buffer", b""))):
                return True
            return _socket_readable(self._sock)
        return None


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, config: Any) -> None:
        self.config = config

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
            last: Exception = OSError(f"cannot resolve {host}")
            for family, kind, proto, _, address in infos:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    for option in socket_options or ():
                        sock.setsockopt(*option)
                    if local_address is not None:
                        sock.bind((local_address, 0))
                    await asyncio.wait_for(loop.sock_connect(sock, address), timeout)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    return _AsyncStream(sock, self)
                except (OSError, asyncio.TimeoutError) as exc:
                    sock.close()
                    last = exc
            raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            try:
                sock.setblocking(False)
                await asyncio.wait_for(loop.sock_connect(sock, path), timeout)
            except BaseException:
                sock.close()
                raise
        return _AsyncStream(sock, self)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncTransport(httpx.AsyncHTTPTransport):
    """An ``httpx.AsyncHTTPTransport`` whose TLS is tlskit's (asyncio only); options as
    for :class:`Transport`."""

    def __init__(
        self,
        *,
        config: Any = None,
        http2: bool | None = None,
        limits: httpx.Limits | None = None,
        retries: int = 0,
        keylog_from_env: bool = True,
        **client_config: Any,
    ) -> None:
        options = _pool_options(http2, limits, retries)
        self.config = make_client_config(
            config, keylog_from_env=keylog_from_env, alpn_protocols=_alpn(options["http2"]), **client_config
        )
        self._pool = httpcore.AsyncConnectionPool(network_backend=_AsyncBackend(self.config), **options)
