"""The ACME server on the wire: HTTPS through tlskit's own TLS server, HTTP/1.1 through h11.

:class:`AcmeServer` opens (or creates) the ACME state of a CA, gives itself a
server certificate from that CA, listens with :class:`tlskit.io.TLSServer` (one
thread per connection) and feeds each HTTP request, parsed by h11, to
:class:`tlskit.ca.acme.service.AcmeService`.

Layering: ``tlskit.ca`` never imports this package; ``tlskit.ca.acme`` is a service
built on the CA *and* on ``tlskit.io``, so it sits beside the CLI, above both.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import pathlib
from typing import Any

import h11
from cryptography.exceptions import InvalidSignature

from tlskit.ca.acme.jws import MAX_BODY
from tlskit.ca.acme.service import AcmeService, Response
from tlskit.ca.acme.store import STATE_DIR, AcmeStore, state_path
from tlskit.ca.errors import CAError
from tlskit.io import TLSServer
from tlskit.io.stream import TLSStream

logger = logging.getLogger("tlskit.ca.acme")

#: requests served on one keep-alive connection before it is closed
MAX_REQUESTS_PER_CONNECTION = 1000
#: the server certificate is replaced when less than this much validity is left
RENEW_MARGIN = datetime.timedelta(days=7)
_READ_SIZE = 16384
_STATUS_REASONS = {
    200: b"OK", 201: b"Created", 204: b"No Content", 400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden",
    404: b"Not Found", 405: b"Method Not Allowed", 409: b"Conflict", 413: b"Payload Too Large",
    415: b"Unsupported Media Type", 429: b"Too Many Requests", 500: b"Internal Server Error",
}


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _san_for(host: str) -> str:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"DNS:{host}"
    return f"IP:{host}"


def server_certificate(ca: Any, host: str) -> tuple[pathlib.Path, pathlib.Path]:
    """(chain, key) paths of the ACME server's own certificate for ``host``, issued by ``ca``.

    A certificate issued before is reused while it is valid for more than a week, still
    chains to the CA's current issuer and is not revoked; otherwise a new one replaces it
    and the one it replaces is revoked as superseded (its files are overwritten).
    """
    out = ca.directory / STATE_DIR / "tls"
    mine = [
        r for r in ca.find(host)
        if not r.revoked and r.chain_path is not None and r.key_path is not None and r.chain_path.parent == out
    ]  # fmt: skip
    now = datetime.datetime.now(datetime.timezone.utc)
    for record in reversed(mine):
        if not record.chain_path.exists() or not record.key_path.exists():
            continue
        try:
            cert = record.certificate()
            cert.verify_directly_issued_by(ca.issuer_certificate)
        except (CAError, ValueError, TypeError, InvalidSignature):
            continue  # damaged, or from an issuer the CA no longer uses: replace it
        if cert.not_valid_after_utc - now > RENEW_MARGIN:
            return record.chain_path, record.key_path
    issued = ca.issue(host, sans=[_san_for(host)], out_dir=out, days=90, force=True)
    for record in mine:
        if record.serial_number != issued.serial:
            try:
                ca.revoke(record.serial_number, "superseded")
            except CAError as exc:  # already revoked by someone else: nothing to do
                logger.info("could not revoke the superseded ACME server certificate %s: %s", record.serial, exc)
    return issued.chain_path, issued.key_path


class AcmeServer:
    """An RFC 8555 server for the CA ``ca`` at ``https://host:port/directory``.

    ``port=0`` picks a free port (read :attr:`directory_url` after construction).
    ``state="disk"`` keeps ACME state in ``<CA>/acme/state.sqlite``; ``state="memory"``
    forgets it at exit (tests, throw-away CAs). Use :meth:`start` (background thread)
    or :meth:`serve_forever`, and :meth:`close` (or ``with``) to stop.
    """

    def __init__(
        self,
        ca: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        validation_address: str | None = None,
        http01_port: int = 80,
        tls_alpn01_port: int = 443,
        days: int = 90,
        state: str = "disk",
        validation_timeout: float = 5.0,
        provider: str | None = None,
    ) -> None:
        if state not in ("disk", "memory"):
            raise CAError(f"state must be 'disk' or 'memory', not {state!r}")
        for what, value in (("--http-01-port", http01_port), ("--tls-alpn-01-port", tls_alpn01_port)):
            if not 0 < value < 65536:
                raise CAError(f"{what} must be 1-65535")
        if validation_address is not None:
            try:
                ipaddress.ip_address(validation_address)
            except ValueError:
                raise CAError(f"--validation-address must be an IP address, not {validation_address!r}") from None
        self.ca = ca
        chain, key = server_certificate(ca, host)
        options: dict[str, Any] = {"certfile": str(chain), "keyfile": str(key), "alpn_protocols": ["http/1.1"]}
        if provider is not None:
            options["provider"] = provider
        # HTTP delimits its own messages (h11 notices a cut one), so a client closing without
        # close_notify, as HTTP clients commonly do, is not an error here
        self._tls = TLSServer(host, port, timeout=30.0, allow_truncation=True, **options)
        bound_port = self._tls.address[1]
        try:
            self.store = AcmeStore(state_path(ca.directory) if state == "disk" else None)
        except BaseException:
            self._tls.close()
            raise
        self.service = AcmeService(
            ca,
            f"https://{_url_host(host)}:{bound_port}",
            store=self.store,
            validation_address=validation_address,
            http01_port=http01_port,
            tls_alpn01_port=tls_alpn01_port,
            days=days,
            validation_timeout=validation_timeout,
        )
        self.certificate_chain = chain

    @property
    def address(self) -> tuple[str, int]:
        return self._tls.address

    @property
    def directory_url(self) -> str:
        return self.service.directory_url

    def start(self) -> "AcmeServer":
        self._tls.serve_in_background(self._handle_connection, on_error=self._on_error)
        return self

    def serve_forever(self) -> None:
        self._tls.serve_forever(self._handle_connection, on_error=self._on_error)

    def close(self) -> None:
        self._tls.close()
        self.service.close()
        self.store.close()

    def __enter__(self) -> "AcmeServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _on_error(address: Any, exc: BaseException) -> None:
        logger.info("ACME connection from %s ended: %s: %s", address, type(exc).__name__, exc)

    # -- HTTP/1.1 over one TLS stream -------------------------------------------------------

    def _handle_connection(self, stream: TLSStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
        for _ in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                request, body = self._read_request(conn, stream)
            except h11.RemoteProtocolError as exc:
                self._send_bare(conn, stream, exc.error_status_hint or 400)
                return
            except _BodyTooLarge:
                self._send_bare(conn, stream, 413)
                return
            if request is None:
                return
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.headers}
            method = request.method.decode("ascii", "replace")
            target = request.target.decode("ascii", "replace")
            response = self.service.handle(method, target, headers, body)
            self._send(conn, stream, response, head=method == "HEAD")
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    def _read_request(self, conn: h11.Connection, stream: TLSStream) -> tuple[h11.Request | None, bytes]:
        request = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = stream.recv(_READ_SIZE)
                conn.receive_data(data)
                if not data and conn.their_state is h11.IDLE:
                    return None, b""
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise _BodyTooLarge()
            elif isinstance(event, h11.EndOfMessage):
                return request, bytes(body)
            elif isinstance(event, (h11.ConnectionClosed,)) or event is h11.PAUSED:
                return None, b""

    def _send(self, conn: h11.Connection, stream: TLSStream, response: Response, *, head: bool = False) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"Server", b"tlskit-acme"))
        if response.status != 204:
            # for HEAD: the length GET would have (RFC 9110 section 9.3.2), with no body
            headers.append((b"Content-Length", str(len(response.body)).encode()))
        reason = _STATUS_REASONS.get(response.status, b"")
        out = conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
        if response.body and not head:
            out += conn.send(h11.Data(data=response.body))
        out += conn.send(h11.EndOfMessage())
        stream.sendall(out)

    def _send_bare(self, conn: h11.Connection, stream: TLSStream, status: int) -> None:
        """A minimal error for requests h11 could not parse, then close."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        try:
            body = b'{"type":"urn:ietf:params:acme:error:malformed","detail":"bad HTTP request","status":%d}' % status
            headers = [("Content-Type", "application/problem+json"), ("Connection", "close")]
            self._send(conn, stream, Response(status, headers, body))
        except h11.LocalProtocolError:
            pass


class _BodyTooLarge(Exception):
    pass
