"""``tlskit ca serve-crl``: publish a CA's CRLs and certificates over plain HTTP.

The paths are the ones ``init --crl-url/--aia-url`` writes into certificates
(RFC 5280 4.2.1.13 cRLDistributionPoints and 4.2.2.1 caIssuers), DER as RFC 5280
section 4.2.1.13 and RFC 2585 want them, plus PEM bundles for people:

    /root.crl            the root's CRL (covers the intermediate)       application/pkix-crl
    /intermediate.crl    the intermediate's CRL (covers the leaves)     application/pkix-crl
    /root.crt            the root certificate                           application/pkix-cert
    /intermediate.crt    the intermediate certificate                   application/pkix-cert
    /crl.pem             every CRL, PEM, one after another              application/x-pem-file
    /ca.pem              root and intermediate, PEM                     application/x-pem-file

Files are read on every request, so a cron job running ``tlskit ca crl`` republishes
without a restart. CRLs are public (HTTP, not HTTPS, is the norm: they are signed, and a
TLS fetch of a CRL could itself need revocation checking). The stdlib's threading HTTP
server parses the requests; only GET and HEAD are answered.
"""

from __future__ import annotations

import http.server
import pathlib
import threading
from dataclasses import dataclass
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca.errors import CAError

PKIX_CRL = "application/pkix-crl"
PKIX_CERT = "application/pkix-cert"
PEM = "application/x-pem-file"


@dataclass(frozen=True)
class Publication:
    """Where a CA's public files are: the CRL files and the CA certificates."""

    root_cert: pathlib.Path
    intermediate_cert: pathlib.Path | None
    leaf_crl: pathlib.Path  # signed by the issuer of leaves
    root_crl: pathlib.Path | None  # signed by the root (None without an intermediate)

    def routes(self) -> dict[str, Callable[[], tuple[bytes, str]]]:
        routes: dict[str, Callable[[], tuple[bytes, str]]] = {
            "/root.crt": lambda: (_cert_der(self.root_cert), PKIX_CERT),
            "/crl.pem": lambda: (self._all_crls(), PEM),
            "/ca.pem": lambda: (self._ca_pem(), PEM),
        }
        if self.intermediate_cert is not None and self.root_crl is not None:
            inter, root_crl = self.intermediate_cert, self.root_crl
            routes["/intermediate.crt"] = lambda: (_cert_der(inter), PKIX_CERT)
            routes["/intermediate.crl"] = lambda: (_crl_der(self.leaf_crl), PKIX_CRL)
            routes["/root.crl"] = lambda: (_crl_der(root_crl), PKIX_CRL)
        else:
            routes["/root.crl"] = lambda: (_crl_der(self.leaf_crl), PKIX_CRL)
        return routes

    def _all_crls(self) -> bytes:
        data = _read(self.leaf_crl)
        if self.root_crl is not None:
            data += _read(self.root_crl)
        return data

    def _ca_pem(self) -> bytes:
        data = _read(self.root_cert)
        if self.intermediate_cert is not None:
            data += _read(self.intermediate_cert)
        return data


def _read(path: pathlib.Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"{path.name} is not published yet (run: tlskit ca crl)") from exc


def _crl_der(path: pathlib.Path) -> bytes:
    try:
        return x509.load_pem_x509_crl(_read(path)).public_bytes(serialization.Encoding.DER)
    except ValueError as exc:
        raise FileNotFoundError(f"{path.name} is damaged (run: tlskit ca crl)") from exc


def _cert_der(path: pathlib.Path) -> bytes:
    try:
        return x509.load_pem_x509_certificate(_read(path)).public_bytes(serialization.Encoding.DER)
    except ValueError as exc:
        raise FileNotFoundError(f"{path.name} is damaged (run: tlskit ca check)") from exc


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "tlskit-crl"
    sys_version = ""
    routes: dict[str, Callable[[], tuple[bytes, str]]] = {}
    log: Callable[[str], None] | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        route = self.routes.get(path)
        if route is None:
            self._send(404, b"not found: try /root.crl, /intermediate.crl, /root.crt, /crl.pem\n", "text/plain", body)
            return
        try:
            data, content_type = route()
        except FileNotFoundError as exc:
            self._send(503, f"{exc}\n".encode(), "text/plain", body)
            return
        self._send(200, data, content_type, body)

    def _send(self, status: int, data: bytes, content_type: str, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=300")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        if self.log is not None:
            self.log(f"{self.address_string()} {format % args}")


class CRLServer:
    """A running publication server; ``close()`` stops it. ``url`` is its base URL."""

    def __init__(
        self, publication: Publication, host: str = "127.0.0.1", port: int = 0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        handler = type("Handler", (_Handler,), {"routes": publication.routes(), "log": staticmethod(log) if log else None})
        try:
            server_class = _IPv6Server if ":" in host else http.server.ThreadingHTTPServer
            self._server = server_class((host, port), handler)
        except OSError as exc:
            raise CAError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> "CRLServer":
        self._thread = threading.Thread(target=self._server.serve_forever, name="tlskit-crl", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> "CRLServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _IPv6Server(http.server.ThreadingHTTPServer):
    import socket

    address_family = socket.AF_INET6
