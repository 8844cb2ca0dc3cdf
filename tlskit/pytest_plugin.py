"""pytest fixtures for testing TLS code with tlskit, registered through the ``pytest11``
entry point (``pip install tlskit`` is enough: pytest loads them in every project).

* ``tlskit_ca`` -- an :class:`tlskit.ca.EphemeralCA` for the session (root + intermediate,
  ECDSA P-256, in memory): ``issue_cert(*names)``, ``configure_trust(ssl_context)``,
  ``server_config()``/``client_config()``, ``client_ssl_context()``, ``trust_store()``.
* ``tlskit_server`` -- a factory: ``tlskit_server(handler)`` starts a tlskit server on
  loopback running ``handler(stream)`` for each connection (default: echo) and returns a
  :class:`RunningServer` (``host``, ``port``, ``address``, ``url``, ``client_config``,
  ``connect()``, ``ssl_context()``); every server is stopped when the test ends.
* ``tlskit_ssl_context`` -- a stdlib ``ssl`` client context that trusts ``tlskit_ca``.
* ``tlskit_httpx_client`` -- a factory for ``httpx.Client`` objects that trust ``tlskit_ca``
  (closed when the test ends; the test is skipped if httpx is not installed).

Nothing heavy is imported until a fixture is used: this module is loaded by every
pytest run in an environment where tlskit is installed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

import pytest

if TYPE_CHECKING:  # pragma: no cover
    import ssl

    from tlskit.ca import EphemeralCA, EphemeralCertificate
    from tlskit.engine.config import ClientConfig
    from tlskit.io import TLSServer, TLSStream

#: bounds every socket operation of the fixtures' servers and clients, so that a broken
#: test fails instead of hanging
TIMEOUT = 30.0

Handler = Callable[["TLSStream"], Any]


def echo(stream: "TLSStream") -> None:
    """The default handler: send back every byte received, until the client closes."""
    while data := stream.recv():
        stream.sendall(data)


class RunningServer:
    """A tlskit server on loopback started by the ``tlskit_server`` fixture."""

    def __init__(
        self,
        server: "TLSServer",
        ca: "EphemeralCA",
        cert: "EphemeralCertificate",
        client_cert: Optional["EphemeralCertificate"],
    ) -> None:
        self._server = server
        #: the CA that issued the server's (and the client's) certificate
        self.ca = ca
        #: the server's certificate (for localhost, 127.0.0.1 and ::1 unless one was given)
        self.cert = cert
        #: the client certificate the server accepts (with client_auth=True), else None
        self.client_cert = client_cert
        #: exceptions from handshakes and from the handler, as (peer address, exception)
        self.errors: list[tuple[Any, BaseException]] = []
        self._lock = threading.Lock()

    def _record(self, address: Any, exc: BaseException) -> None:
        with self._lock:
            self.errors.append((address, exc))

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def url(self) -> str:
        """``https://HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def server(self) -> "TLSServer":
        """The underlying :class:`tlskit.io.TLSServer`."""
        return self._server

    def client_config(self, **overrides: Any) -> "ClientConfig":
        """A ClientConfig that trusts the CA (and presents the client certificate when the
        server asks for one); keywords are ClientConfig fields."""
        return self.ca.client_config(self.client_cert, **overrides)

    def connect(self, **options: Any) -> "TLSStream":
        """A tlskit client stream to this server (``tlskit.connect`` keywords and ClientConfig
        fields apply); close it, or use it in a ``with`` block."""
        from tlskit.io import connect

        options.setdefault("timeout", TIMEOUT)
        config_fields = {k: options.pop(k) for k in list(options) if k not in _CONNECT_OPTIONS}
        return connect(self.host, self.port, config=self.client_config(**config_fields), **options)

    def ssl_context(self) -> "ssl.SSLContext":
        """A stdlib ``ssl`` client context for this server: trusts the CA, presents the client
        certificate when there is one. Connect with ``server_hostname`` = :attr:`host`."""
        return self.ca.client_ssl_context(self.client_cert)

    def close(self) -> None:
        self._server.close()

    def __repr__(self) -> str:
        return f"<tlskit test server {self.url}>"


_CONNECT_OPTIONS = frozenset({"server_name", "timeout", "allow_truncation", "keylog_from_env", "source_address"})
_SERVER_OPTIONS = frozenset({"backlog", "handshake_timeout", "timeout", "max_connections", "allow_truncation", "keylog_from_env"})


@pytest.fixture(scope="session")
def tlskit_ca() -> "EphemeralCA":
    """An in-memory CA (root + intermediate, ECDSA P-256) shared by the whole session."""
    from tlskit.ca import EphemeralCA

    return EphemeralCA()


@pytest.fixture
def tlskit_server(tlskit_ca: "EphemeralCA") -> Iterator[Callable[..., RunningServer]]:
    """Start tlskit servers on loopback: ``tlskit_server(handler=echo, *, ca=None, cert=None,
    client_auth=False, host="127.0.0.1", **options)``.

    ``handler(stream)`` runs in a thread for each connection. ``cert`` is the server's
    certificate (default: one for localhost, 127.0.0.1 and ::1 from ``ca``, which defaults
    to the issuer of ``cert``, else ``tlskit_ca``; pass e.g. ``EphemeralCA(key_type="ed25519")``
    for the pynacl provider);
    ``client_auth=True`` requires a client certificate from the CA (the returned server's
    ``client_config()``, ``connect()`` and ``ssl_context()`` present one). Other keywords
    are ServerConfig fields (``alpn_protocols``, ``provider``, ...) or TLSServer options
    (``handshake_timeout``, ``timeout``, ...). All servers stop when the test ends.
    """
    from tlskit.io import TLSServer

    started: list[RunningServer] = []

    def start(
        handler: Handler = echo,
        *,
        ca: Optional["EphemeralCA"] = None,
        cert: Optional["EphemeralCertificate"] = None,
        client_auth: bool = False,
        host: str = "127.0.0.1",
        **options: Any,
    ) -> RunningServer:
        ca = ca or (cert.ca if cert is not None else tlskit_ca)
        cert = cert or ca.issue_cert("localhost", "127.0.0.1", "::1")
        client_cert = ca.issue_cert("tlskit-test-client", client=True) if client_auth else None
        server_options = {k: options.pop(k) for k in list(options) if k in _SERVER_OPTIONS}
        server_options.setdefault("handshake_timeout", TIMEOUT)
        server_options.setdefault("timeout", TIMEOUT)
        config = ca.server_config(cert, client_auth=client_auth, **options)
        server = TLSServer(host, 0, config=config, **server_options)
        running = RunningServer(server, ca, cert, client_cert)
        started.append(running)
        server.serve_in_background(handler, on_error=running._record)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.close()


@pytest.fixture
def tlskit_ssl_context(tlskit_ca: "EphemeralCA") -> "ssl.SSLContext":
    """A stdlib ``ssl`` client context (PROTOCOL_TLS_CLIENT, hostname checks on) that trusts ``tlskit_ca``."""
    return tlskit_ca.client_ssl_context()


def httpx_client(ca: "EphemeralCA", cert: Optional["EphemeralCertificate"] = None, **options: Any) -> Any:
    """An ``httpx.Client`` that trusts ``ca`` (and presents ``cert`` as its client
    certificate); other keywords go to ``httpx.Client``. httpx takes TLS settings as a
    stdlib ``ssl`` context (``verify=``)."""
    import httpx

    options.setdefault("timeout", TIMEOUT)
    return httpx.Client(verify=ca.client_ssl_context(cert), **options)


@pytest.fixture
def tlskit_httpx_client(tlskit_ca: "EphemeralCA") -> Iterator[Callable[..., Any]]:
    """Make ``httpx.Client`` objects that trust ``tlskit_ca``: ``tlskit_httpx_client(cert=None,
    **httpx_options)``; closed when the test ends. Skips the test if httpx is not installed."""
    pytest.importorskip("httpx")
    clients: list[Any] = []

    def make(cert: Optional["EphemeralCertificate"] = None, **options: Any) -> Any:
        client = httpx_client(tlskit_ca, cert, **options)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()
