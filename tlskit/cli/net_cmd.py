"""``tlskit serve`` and ``tlskit connect``: a TLS 1.3 / TLS 1.2 test server and client,
thin layers over :mod:`tlskit.io`.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional

import typer

from tlskit.ca.inspect import printable  # escapes peer-chosen text before it is printed
from tlskit.cli.trace_opts import TraceFormat, cli_trace, trace_diagram_option, trace_format_option, trace_option
from tlskit.errors import AlertDescription, AlertReceivedError, TLSError

#: environment variable holding the password of an encrypted --key
KEY_PASSWORD_ENV = "TLSKIT_KEY_PASSWORD"
#: how long a client may take to finish its handshake before the server drops it
HANDSHAKE_TIMEOUT = 10.0
#: a served connection idle for this long is closed, so stalled clients cannot pin threads forever
IDLE_TIMEOUT = 300.0
#: connections at once (handshaking and served), as the library's default
MAX_CONNECTIONS = 512
#: the largest HTTP request head `serve --mode http` accepts
MAX_REQUEST_HEAD = 16 * 1024
#: the largest request body `serve --mode http` reads (and discards)
MAX_REQUEST_BODY = 1024 * 1024
#: max_early_data_size of `serve --early-data` (OpenSSL's default too)
SERVE_MAX_EARLY_DATA = 16384
#: how long `connect --sess-out/--reconnect` waits for the server's ticket without --send
TICKET_WAIT = 2.0


class Mode(str, enum.Enum):
    echo = "echo"
    http = "http"


def _names(value: Optional[str]) -> Optional[list[str]]:
    """A comma-separated option as a list (None when not given)."""
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _version_options(value: Optional[str]) -> dict[str, str]:
    """min_version/max_version for ``--tls-version 1.2|1.3`` (nothing when not given)."""
    if value is None:
        return {}
    versions = {"1.2": "TLSv1.2", "1.3": "TLSv1.3", "TLSv1.2": "TLSv1.2", "TLSv1.3": "TLSv1.3"}
    if value not in versions:
        raise _fail(f"--tls-version must be 1.2 or 1.3, not {value!r}", 2)
    return {"min_version": versions[value], "max_version": versions[value]}


def _fail(message: str, code: int = 1) -> "typer.Exit":
    typer.echo(f"error: {printable(' '.join(message.split()))}", err=True)
    return typer.Exit(code)


def _describe_error(exc: BaseException) -> str:
    """One line naming the error and, for TLS errors, the alert."""
    text = str(exc) or type(exc).__name__
    alert = getattr(exc, "alert", None)
    # Transport failures (resets, timeouts, EOF) are TLSErrors too, but no alert was
    # involved; internal_error is what configuration mistakes carry: neither helps.
    if (
        isinstance(exc, TLSError)
        and not isinstance(exc, OSError)
        and isinstance(alert, AlertDescription)
        and alert != AlertDescription.internal_error
        and not isinstance(exc, AlertReceivedError)  # its message already names the alert
    ):
        return f"{text} (alert {alert.name})"
    return text


def _key_password(path: Optional[Path]) -> Optional[bytes]:
    """The private key's password: from a file (never the command line, where other
    users can read it) or the environment; None when neither is given."""
    if path is not None:
        from tlskit.ca import CAError
        from tlskit.cli.ca_cmd import _read_secret_file

        try:
            return _read_secret_file(path, "key password")  # the rules of `ca`'s secret files
        except CAError as exc:
            raise _fail(str(exc)) from None
    value = os.environ.get(KEY_PASSWORD_ENV)
    return value.encode("utf-8") if value else None


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc) or type(exc).__name__).split())


def _subject(der: bytes) -> str:
    from cryptography import x509

    try:
        return printable(x509.load_der_x509_certificate(der).subject.rfc4514_string()) or "<empty subject>"
    except ValueError:
        return "<unparsable certificate>"


def _peer(address: Any) -> str:
    if not address:
        return "-"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------
# serve
# ---------------------------------------------------------------------------


class _Log:
    """One line per event on stdout, whole lines even with many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            typer.echo(printable(line))
            sys.stdout.flush()


def _connection_fields(stream: Any) -> str:
    n = stream.negotiated
    client = _subject(n.peer_certificates[0]) if n.peer_certificates else "-"
    return printable(
        f"version={n.version} suite={n.cipher_suite} group={n.group} "
        f"sig={n.signature_scheme or '-'} alpn={n.alpn or '-'} sni={n.server_name or '-'} client_cert={client!r}"
        f" resumed={'yes' if n.resumed else 'no'} early={len(getattr(stream, 'early_data', b''))}"
    )


class _Counting:
    """Wraps a stream to count application bytes in and out for the log line."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.received = 0
        self.sent = 0

    def recv(self, size: int = 65536) -> bytes:
        data = self.stream.recv(size)
        self.received += len(data)
        return data

    def sendall(self, data: bytes) -> None:
        self.stream.sendall(data)
        self.sent += len(data)


def _echo(conn: _Counting) -> None:
    early = conn.stream.early_data
    if early:  # 0-RTT data (only with --early-data): echoed first, as it came first
        conn.received += len(early)
        conn.sendall(early)
    while True:
        data = conn.recv()
        if not data:
            return
        conn.sendall(data)


def _read_request_head(conn: _Counting, buffer: bytearray) -> Optional[bytes]:
    """The next request head (up to the blank line), None at a clean end of stream."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            return head
        if len(buffer) > MAX_REQUEST_HEAD:
            raise ValueError("request head too large")
        data = conn.recv()
        if not data:
            if buffer.strip():
                raise ValueError("connection closed in the middle of a request")
            return None
        buffer += data


def _http_page(stream: Any, request_line: str) -> bytes:
    n = stream.negotiated
    lines = [
        "tlskit test server",
        "",
        f"protocol: {n.version}",
        f"cipher_suite: {n.cipher_suite}",
        f"group: {n.group}",
        f"signature_scheme: {n.signature_scheme or '-'}",
        f"alpn: {n.alpn or '-'}",
        f"server_name: {n.server_name or '-'}",
        f"client_certificate: {_subject(n.peer_certificates[0]) if n.peer_certificates else '-'}",
        f"request: {request_line}",
    ]
    return ("\n".join(lines) + "\n").encode()


def _http(conn: _Counting) -> None:
    """Answer each request with a page describing the connection; keep-alive for
    HTTP/1.1 unless the client says Connection: close (like ``openssl s_server -www``)."""
    buffer = bytearray()
    while True:
        try:
            head = _read_request_head(conn, buffer)
        except ValueError as exc:
            _http_respond(conn, "HTTP/1.1", 400, "Bad Request", f"{exc}\n".encode(), close=True)
            return
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            _http_respond(conn, "HTTP/1.1", 400, "Bad Request", b"malformed request line\n", close=True)
            return
        version = parts[2] if parts[2] in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
        connection_header = headers.get("connection", "")
        close = (version == "HTTP/1.0" and connection_header != "keep-alive") or connection_header == "close"
        try:
            _discard_request_body(conn, buffer, headers)
        except ValueError as exc:
            _http_respond(conn, version, 400, "Bad Request", f"{exc}\n".encode(), close=True)
            return
        _http_respond(conn, version, 200, "OK", _http_page(conn.stream, lines[0]), close=close)
        if close:
            return


def _discard_request_body(conn: _Counting, buffer: bytearray, headers: dict[str, str]) -> None:
    """Skip a Content-Length body so the next request on the connection parses."""
    if "transfer-encoding" in headers:
        raise ValueError("chunked request bodies are not supported")
    length_text = headers.get("content-length", "0")
    if not (length_text.isascii() and length_text.isdigit()) or int(length_text) > MAX_REQUEST_BODY:
        raise ValueError("bad or too large Content-Length")
    remaining = int(length_text)
    while len(buffer) < remaining:
        data = conn.recv()
        if not data:
            raise ValueError("connection closed in the middle of a request body")
        buffer += data
    del buffer[:remaining]


def _http_respond(conn: _Counting, version: str, status: int, reason: str, body: bytes, *, close: bool) -> None:
    head = (
        f"{version} {status} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n"
        "Server: tlskit\r\n\r\n"
    )
    conn.sendall(head.encode() + body)


def serve(
    port: int = typer.Option(
        ..., "--port", "-p", min=0, max=65535, help="TCP port to listen on (0 picks a free port and prints it)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    cert: List[Path] = typer.Option(
        ...,
        "--cert",
        help="Certificate chain (PEM, leaf first). Repeat --cert/--key for several certificates, chosen by SNI (the first is the default).",
    ),
    key: List[Path] = typer.Option(..., "--key", help="Private key of the leaf certificate (PEM); one per --cert, in order."),
    provider: str = typer.Option("cryptography", "--provider", help="Crypto provider (see `tlskit providers`)."),
    groups: Optional[str] = typer.Option(None, "--groups", help="Key-exchange groups, comma-separated, preferred first."),
    ciphers: Optional[str] = typer.Option(None, "--ciphers", help="Cipher suites (TLS 1.3 and TLS 1.2 names), comma-separated."),
    alpn: Optional[str] = typer.Option(None, "--alpn", help="ALPN protocols to accept, comma-separated."),
    client_ca: Optional[Path] = typer.Option(None, "--client-ca", help="Ask clients for a certificate issued under this CA (PEM)."),
    require_client_cert: bool = typer.Option(False, "--require-client-cert", help="With --client-ca: reject clients without a certificate."),
    mode: Mode = typer.Option(Mode.echo, "--mode", help="echo: send bytes back until the peer closes; http: answer with a page describing the connection."),
    keylog: Optional[Path] = typer.Option(None, "--keylog", help="Append TLS secrets to this NSS key log file (SSLKEYLOGFILE is also honoured)."),
    key_password_file: Optional[Path] = typer.Option(
        None, "--key-password-file", help=f"File holding the password of an encrypted --key (or set {KEY_PASSWORD_ENV})."
    ),
    tls_version: Optional[str] = typer.Option(
        None, "--tls-version", help="Speak only this TLS version: 1.2 or 1.3 (default: either, TLS 1.3 preferred)."
    ),
    handshake_timeout: float = typer.Option(
        HANDSHAKE_TIMEOUT, "--handshake-timeout", min=0.001, help="Seconds a client has to complete its handshake."
    ),
    idle_timeout: float = typer.Option(
        IDLE_TIMEOUT, "--idle-timeout", min=0.001, help="Seconds a handshaken connection may stay silent before it is closed."
    ),
    max_connections: int = typer.Option(
        MAX_CONNECTIONS,
        "--max-connections",
        min=1,
        help="Connections at once (handshaking and served); beyond it the oldest pending handshake is dropped, or newcomers wait.",
    ),
    trace: bool = trace_option(),
    trace_format: TraceFormat = trace_format_option(),
    trace_diagram: Optional[Path] = trace_diagram_option(),
    tickets: int = typer.Option(2, "--tickets", min=0, max=32, help="Session tickets sent after each handshake (0: no resumption)."),
    early_data: bool = typer.Option(
        False, "--early-data", help=f"Accept 0-RTT data (up to {SERVE_MAX_EARLY_DATA} bytes, once per ticket); it is replayable."
    ),
) -> None:
    """Run a TLS 1.3 / 1.2 server for testing clients: one log line per connection, Ctrl-C stops it.

    With --trace every handshake step goes to stderr; --trace-diagram rewrites the diagram
    after each connection (it shows the latest)."""
    from tlskit.io import serve as open_server

    if require_client_cert and client_ca is None:
        raise _fail("--require-client-cert needs --client-ca")
    if len(cert) != len(key):
        raise _fail(f"--cert and --key go in pairs ({len(cert)} --cert, {len(key)} --key)", 2)
    options: dict[str, Any] = dict(
        certfile=str(cert[0]),
        keyfile=str(key[0]),
        # the others are chosen by SNI against each leaf's names (the first is the default)
        certificates=[(str(c), str(k)) for c, k in zip(cert[1:], key[1:])],
        provider=provider,
        groups=_names(groups),
        cipher_suites=_names(ciphers),
        alpn_protocols=_names(alpn) or (),
        require_client_auth=require_client_cert,
        **_version_options(tls_version),
        tickets=tickets,
        max_early_data_size=SERVE_MAX_EARLY_DATA if early_data else 0,
    )
    if client_ca is not None:
        options["client_cafile"] = str(client_ca)
    if keylog is not None:
        options["keylog_file"] = str(keylog)
    password = _key_password(key_password_file)
    if password is not None:
        options["key_password"] = password
    tracing = cli_trace(trace, trace_format, trace_diagram, title=f"tlskit serve on port {port}")
    if tracing is not None:
        options["trace"] = tracing.log
    try:
        server = open_server(
            host,
            port,
            handshake_timeout=handshake_timeout,
            timeout=idle_timeout,
            max_connections=max_connections,
            **options,
        )
    except (TLSError, OSError, ValueError) as exc:
        # no peer yet: an alert name would only mislead
        raise _fail(_one_line(exc)) from None

    log = _Log()
    respond = _http if mode is Mode.http else _echo

    def handler(stream: Any) -> None:
        peer = _peer(_safe_peername(stream))
        conn = _Counting(stream)
        fields = _connection_fields(stream)
        try:
            respond(conn)
        except Exception as exc:
            log(f"{peer} {fields} in={conn.received} out={conn.sent} error={_describe_error(exc)!r}")
            return
        finally:
            if tracing is not None:
                tracing.write_diagram(server_label="tlskit serve")
        log(f"{peer} {fields} in={conn.received} out={conn.sent} end=close_notify")

    def on_error(address: Any, exc: BaseException) -> None:
        log(f"{_peer(address)} handshake failed: {_describe_error(exc)}")
        if tracing is not None:
            tracing.write_diagram(server_label="tlskit serve")

    bound_host, bound_port = server.address
    log(f"listening on {_peer((bound_host, bound_port))} (provider {provider}, mode {mode.value}); Ctrl-C stops")
    # SIGTERM stops as cleanly as Ctrl-C
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.serve_forever(handler, on_error=on_error)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close(join_timeout=2.0)
    log("stopped")


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _safe_peername(stream: Any) -> Any:
    try:
        return stream.getpeername()
    except OSError:
        return None


# ---------------------------------------------------------------------------
# connect
# ---------------------------------------------------------------------------


def parse_target(target: str) -> tuple[str, int]:
    """``host:port`` or ``[v6addr]:port``."""
    if target.startswith("["):
        host, sep, rest = target[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bad address {target!r} (expected [IPv6]:PORT)")
        port_text = rest[1:]
    else:
        host, sep, port_text = target.rpartition(":")
        if not sep or not host:
            raise ValueError(f"bad address {target!r} (expected HOST:PORT)")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad port in {target!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {target!r}")
    return host, port


def _certificate_fields(der: bytes) -> dict[str, Any]:
    from cryptography import x509

    fields: dict[str, Any] = {}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        cert = None
    if cert is not None:
        # cryptography parses fields lazily: with --insecure nothing validated them,
        # so each may still fail on a hostile server's certificate
        readers = {
            "subject": lambda: cert.subject.rfc4514_string(),
            "issuer": lambda: cert.issuer.rfc4514_string(),
            "serial": lambda: f"{cert.serial_number:x}",
            "not_before": lambda: cert.not_valid_before_utc.isoformat(),
            "not_after": lambda: cert.not_valid_after_utc.isoformat(),
        }
        for field, read in readers.items():
            try:
                fields[field] = read()
            except Exception:
                fields[field] = "<unparsable>"
    fields["sha256"] = hashlib.sha256(der).hexdigest()
    return fields


def connection_report(stream: Any, target: str, chain: Optional[list[bytes]]) -> dict[str, Any]:
    """What `tlskit connect` prints: negotiated parameters and the certificate chain.

    ``chain`` is the verified path (leaf to trust anchor, DER); None when
    verification was switched off, in which case the certificates the server
    sent are shown instead.
    """
    n = stream.negotiated
    return {
        "connected": target,
        "version": n.version,
        "cipher_suite": n.cipher_suite,
        "group": n.group,
        "signature_scheme": n.signature_scheme,
        "alpn": n.alpn,
        "server_name": n.server_name,
        "resumed": bool(n.resumed),
        "verified": chain is not None,
        "chain": [_certificate_fields(der) for der in (chain if chain is not None else n.peer_certificates)],
    }


def _print_report(report: dict[str, Any]) -> None:
    for name, value in report.items():
        if name == "chain":
            for index, cert in enumerate(value):
                for field, text in cert.items():
                    typer.echo(f"chain.{index}.{field}: {printable(str(text))}")
        elif name == "verified":
            typer.echo(f"verified: {'yes' if value else 'NO (--insecure)'}")
        elif isinstance(value, bool):
            typer.echo(f"{name}: {'yes' if value else 'no'}")
        else:
            typer.echo(f"{name}: {'-' if value is None else printable(str(value))}")


def _print_reply(report: dict[str, Any], data: Optional[bytes], reply: bytes, error: Optional[BaseException], json_output: bool) -> None:
    if json_output:
        report["sent"] = len(data or b"")
        report["reply"] = reply.decode("utf-8", errors="replace")
        if error is not None:
            report["error"] = _describe_error(error)
        typer.echo(json.dumps(report, indent=2))
    elif data:
        typer.echo(f"sent: {len(data)} bytes")
        typer.echo(f"received: {len(reply)} bytes")
        sys.stdout.flush()
        sys.stdout.buffer.write(reply)
        if reply and not reply.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()


def _load_session(path: Path) -> Any:
    from tlskit.engine.session import Session

    try:
        return Session.from_bytes(path.read_bytes())
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror or exc}", 2) from None
    except TLSError as exc:
        raise _fail(f"{path}: {exc}", 2) from None


def _save_session(session: Any, path: Path) -> None:
    """Write the session 0600, atomically (it holds a resumption key)."""
    if session is None:
        raise _fail(f"the server sent no session ticket: nothing written to {path}")
    from tlskit.ca.files import atomic_write

    try:
        atomic_write(path, session.to_bytes(), private=True, overwrite=True)
    except Exception as exc:  # OSError or the CA's file errors: one line either way
        raise _fail(f"cannot write {path}: {_one_line(exc)}") from None


def _path_capturing_verifier(cafile: Optional[Path], provider: str, paths: list[list[bytes]]) -> Any:
    """A verifier doing tlskit.pki's standard validation (as the engine's default
    one does) that also keeps the validated path, leaf to anchor, for the report."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from tlskit import pki

    if cafile is None:
        trust = pki.TrustStore.system()
    elif cafile.is_dir():  # a CA directory (*.pem, *.crt, c_rehash links), as openssl -CApath
        trust = pki.TrustStore.from_directory(cafile)
        if not len(trust):
            raise pki.MalformedCertificate(f"{cafile}: no certificate found in the directory")
    else:
        trust = pki.TrustStore.from_file(cafile)

    def verifier(chain: Any, server_name: Optional[str]) -> None:
        path = pki.verify_chain(
            chain[0], list(chain[1:]), trust, server_name=server_name, usage="server", provider=provider
        )
        paths.append([cert.public_bytes(Encoding.DER) for cert in path.certificates])

    return verifier


#: TLS 1.2 replies end when the server closes, or after this long without more data
TLS12_REPLY_QUIET = 1.0


def _read_reply_without_half_close(stream: Any) -> bytes:
    """TLS 1.2 has no half-close: a close_notify ends the connection and the peer may drop
    what it has not sent yet (RFC 5246 7.2.1). So the reply is read before closing: until
    the server closes, or once something arrived, until it has been quiet for a moment."""
    from tlskit.io.errors import TLSTimeoutError

    reply = b""
    while True:
        try:
            chunk = stream.recv()
        except TLSTimeoutError:
            if reply:
                return reply
            raise
        if not chunk:
            return reply
        reply += chunk
        stream.settimeout(min(TLS12_REPLY_QUIET, stream.gettimeout() or TLS12_REPLY_QUIET))


def connect(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="HOST:PORT", help="Server address, e.g. localhost:8443 or [::1]:8443."),
    cafile: Optional[Path] = typer.Option(None, "--cafile", help="Trust anchors (PEM file or a directory of them); default: the system roots (certifi if installed)."),
    servername: Optional[str] = typer.Option(None, "--servername", help="Name to send as SNI and to verify (default: HOST)."),
    provider: str = typer.Option("cryptography", "--provider", help="Crypto provider (see `tlskit providers`)."),
    groups: Optional[str] = typer.Option(None, "--groups", help="Key-exchange groups, comma-separated, preferred first."),
    ciphers: Optional[str] = typer.Option(None, "--ciphers", help="Cipher suites (TLS 1.3 and TLS 1.2 names), comma-separated."),
    alpn: Optional[str] = typer.Option(None, "--alpn", help="ALPN protocols to offer, comma-separated."),
    cert: Optional[Path] = typer.Option(None, "--cert", help="Client certificate chain (PEM) for mTLS."),
    key: Optional[Path] = typer.Option(None, "--key", help="Client private key (PEM)."),
    send: Optional[str] = typer.Option(None, "--send", help="Text to send after the handshake (default: standard input when it is not a terminal)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object instead of key: value lines."),
    insecure: bool = typer.Option(False, "--insecure", help="Do not verify the server's certificate (exit status 3 even on success)."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds allowed for connecting, the handshake and each read."),
    allow_truncation: bool = typer.Option(
        False,
        "--allow-truncation",
        help="Accept a server that closes without close_notify (as many HTTP/1.0 servers do) as the end of its reply; "
        "by default that is an error (exit 1), since an attacker can cut a connection short.",
    ),
    keylog: Optional[Path] = typer.Option(None, "--keylog", help="Append TLS secrets to this NSS key log file (SSLKEYLOGFILE is also honoured)."),
    key_password_file: Optional[Path] = typer.Option(
        None, "--key-password-file", help=f"File holding the password of an encrypted --key (or set {KEY_PASSWORD_ENV})."
    ),
    tls_version: Optional[str] = typer.Option(
        None, "--tls-version", help="Speak only this TLS version: 1.2 or 1.3 (default: either, TLS 1.3 preferred)."
    ),
    trace: bool = trace_option(),
    trace_format: TraceFormat = trace_format_option(),
    trace_diagram: Optional[Path] = trace_diagram_option(),
    reconnect: bool = typer.Option(False, "--reconnect", help="Connect a second time, resuming the first connection's session (the report says resumed: yes)."),
    sess_out: Optional[Path] = typer.Option(None, "--sess-out", help="Save the session (a ticket and its key: keep it private) to this file."),
    sess_in: Optional[Path] = typer.Option(None, "--sess-in", help="Resume the session saved in this file (by --sess-out)."),
    early_data_file: Optional[Path] = typer.Option(
        None, "--early-data", help="Send this file as 0-RTT data when resuming (--sess-in or --reconnect); resent normally if the server rejects it."
    ),
) -> None:
    """Handshake with a TLS server, print what was negotiated and the server's
    certificates, send data and print the reply.

    Exit status: 0 after a verified, completed handshake; 1 on any failure;
    3 when the handshake completed without verification (--insecure).
    """
    from tlskit.io import connect as open_connection

    try:
        host, port = parse_target(target)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    if (cert is None) != (key is None):
        raise _fail("--cert and --key go together", 2)
    if key_password_file is not None and cert is None:
        raise _fail("--key-password-file goes with --cert and --key", 2)
    password = _key_password(key_password_file) if cert is not None else None
    data: Optional[bytes] = None
    if send is not None:
        data = send.encode()
    elif not sys.stdin.isatty():
        data = sys.stdin.buffer.read()
    options: dict[str, Any] = dict(
        provider=provider,
        groups=_names(groups),
        cipher_suites=_names(ciphers),
        alpn_protocols=_names(alpn) or (),
        insecure=insecure,
        **_version_options(tls_version),
    )
    verified_paths: list[list[bytes]] = []
    try:
        if not insecure:
            options["verifier"] = _path_capturing_verifier(cafile, provider, verified_paths)
    except (TLSError, OSError, ValueError) as exc:
        raise _fail(_one_line(exc)) from None
    if cert is not None:
        options["certfile"] = str(cert)
        options["keyfile"] = str(key)
    if keylog is not None:
        options["keylog_file"] = str(keylog)
    if password is not None:
        options["key_password"] = password
    tracing = cli_trace(trace, trace_format, trace_diagram, title=f"tlskit connect {target}")
    if tracing is not None:
        options["trace"] = tracing.log
        # drawn when the command ends, a failed handshake included: the diagram shows the alert
        tracing.write_diagram_at_exit(ctx, client_label="tlskit connect", server_label=target)
    session = None
    early: Optional[bytes] = None
    if sess_in is not None:
        session = _load_session(sess_in)
    if early_data_file is not None:
        if sess_in is None and not reconnect:
            raise _fail("--early-data needs a session to resume: --sess-in or --reconnect", 2)
        try:
            early = early_data_file.read_bytes()
        except OSError as exc:
            raise _fail(f"cannot read {early_data_file}: {exc.strerror or exc}", 2) from None
    try:
        from tlskit import ClientConfig

        config = ClientConfig(**options)  # one config, so --reconnect resumes from its session cache
    except (TLSError, OSError, ValueError) as exc:
        raise _fail(_one_line(exc)) from None

    rounds = 2 if reconnect else 1
    error: Optional[BaseException] = None
    for round_index in range(rounds):
        last = round_index == rounds - 1
        # 0-RTT goes with the resumed connection: the --sess-in one, or the second of --reconnect
        send_early = early if (session is not None or round_index == 1) else None
        try:
            stream = open_connection(
                host,
                port,
                server_name=servername or host,
                timeout=timeout,
                allow_truncation=allow_truncation,
                config=config,
                session=session,
                early_data=send_early,
            )
        except (TLSError, OSError, ValueError) as exc:
            raise _fail(_describe_error(exc)) from None
        session = None
        chain = None if insecure else (verified_paths[-1] if verified_paths else None)
        if stream.session_reused and not insecure:
            chain = None  # nothing was verified on this connection: show what the session holds
        report = connection_report(stream, _peer((host, port)), chain)
        if stream.session_reused and not insecure:
            report["verified"] = True  # the certificate was verified when the session was made
        if send_early is not None:
            report["early_data"] = {True: "accepted", False: "rejected", None: "not sent"}[stream.early_data_accepted]
        payload = data
        if send_early is not None and not stream.early_data_accepted:
            payload = send_early + (data or b"")  # RFC 8446 4.2.10: the application resends rejected 0-RTT data
        reply = b""
        with stream:
            if not json_output:
                if rounds > 1:
                    typer.echo(f"connection: {round_index + 1}")
                _print_report(report)
                sys.stdout.flush()
            try:
                if payload:
                    stream.sendall(payload)
                if (sess_out is not None and last) or not last:
                    stream.wait_for_session(timeout=TICKET_WAIT)  # servers send tickets after the handshake
                if payload and stream.negotiated.version == "TLSv1.2":
                    reply = _read_reply_without_half_close(stream)
                elif payload:
                    # half-close: the server sees the end of our data, we read its reply to the end
                    stream.close_write()
                    while chunk := stream.recv():
                        reply += chunk
            except (TLSError, OSError) as exc:
                error = exc
            if last and sess_out is not None:
                _save_session(stream.session, sess_out)
        _print_reply(report, payload, reply, error, json_output)
        if error is not None:
            break
    if error is not None:
        raise _fail(_describe_error(error))
    if insecure:
        typer.echo("warning: the server's certificate was not verified (--insecure)", err=True)
        raise typer.Exit(3)
