"""Resumption and 0-RTT interop with the ``openssl`` command line and the stdlib ``ssl``
module, both directions, every provider that has the primitives."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from typing import Any, Iterator

import pytest

import tlskit
from tlskit.ca import EphemeralCA
from tlskit.io.server import TLSServer

OPENSSL = shutil.which("openssl")
TIMEOUT = 20.0
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")
pytestmark = pytest.mark.interop

#: (provider, CA key type): pynacl signs Ed25519 only
CASES = [("cryptography", "ecdsa-p256"), ("pycryptodome", "ecdsa-p256"), ("pynacl", "ed25519")]


@pytest.fixture(scope="module")
def cas():
    return {kind: EphemeralCA(key_type=kind) for kind in ("ecdsa-p256", "ed25519")}


@pytest.fixture(scope="module")
def files(cas, tmp_path_factory):
    """Key, chain and root on disk per CA key type (for the openssl command line)."""
    out = {}
    for kind, ca in cas.items():
        cert = ca.issue_cert("localhost", "127.0.0.1")
        directory = tmp_path_factory.mktemp(kind)
        (directory / "intermediate.pem").write_bytes(ca.intermediate_pem)
        out[kind] = (cert, cert.write_files(directory))
    return out


def _one_exchange(stream: Any) -> None:
    """Read one chunk, echo it with what the client sent early (if any), close."""
    data = stream.recv(65536)
    early = getattr(stream, "early_data", b"")
    stream.sendall(b"early:" + early + b";data:" + data if early else data)
    stream.close()


@contextlib.contextmanager
def tlskit_server(ca: EphemeralCA, cert: Any, provider: str, **options: Any) -> Iterator[TLSServer]:
    server = TLSServer(config=ca.server_config(cert, provider=provider, **options), handshake_timeout=TIMEOUT, timeout=TIMEOUT)
    server.serve_in_background(_one_exchange, on_error=lambda address, exc: None)
    try:
        yield server
    finally:
        server.close()


def s_client(port: int, *args: str, data: bytes = b"hello\n") -> str:
    assert OPENSSL is not None
    completed = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-tls1_3", "-ign_eof", *args],
        input=data,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return completed.stdout.decode(errors="replace") + completed.stderr.decode(errors="replace")


@needs_openssl
@pytest.mark.parametrize("provider,kind", CASES)
def test_openssl_s_client_resumes_with_tlskit_server(provider, kind, cas, files, tmp_path):
    cert, paths = files[kind]
    session = tmp_path / "session.pem"
    with tlskit_server(cas[kind], cert, provider) as server:
        port = server.address[1]
        first = s_client(port, "-CAfile", str(paths.root), "-sess_out", str(session))
        assert "New, TLSv1.3" in first, first
        assert session.exists()
        second = s_client(port, "-CAfile", str(paths.root), "-sess_in", str(session))
        assert "Reused, TLSv1.3" in second, second
        assert "hello" in second


@needs_openssl
@pytest.mark.parametrize("provider,kind", CASES)
def test_openssl_s_client_early_data_accepted_by_tlskit(provider, kind, cas, files, tmp_path):
    cert, paths = files[kind]
    session = tmp_path / "session.pem"
    early = tmp_path / "early.txt"
    early.write_bytes(b"early bird\n")
    with tlskit_server(cas[kind], cert, provider, max_early_data_size=16384) as server:
        port = server.address[1]
        first = s_client(port, "-CAfile", str(paths.root), "-sess_out", str(session))
        assert "New, TLSv1.3" in first, first
        second = s_client(port, "-CAfile", str(paths.root), "-sess_in", str(session), "-early_data", str(early))
        assert "Reused, TLSv1.3" in second, second
        assert "Early data was accepted" in second, second
        assert "early:early bird\n;data:hello" in second, second


@needs_openssl
def test_openssl_s_client_early_data_rejected_when_off(cas, files, tmp_path):
    cert, paths = files["ecdsa-p256"]
    session = tmp_path / "session.pem"
    early = tmp_path / "early.txt"
    early.write_bytes(b"early bird\n")
    with tlskit_server(cas["ecdsa-p256"], cert, "cryptography") as server:
        port = server.address[1]
        s_client(port, "-CAfile", str(paths.root), "-sess_out", str(session))
        second = s_client(port, "-CAfile", str(paths.root), "-sess_in", str(session), "-early_data", str(early))
        # the ticket did not allow early data: OpenSSL does not even send it; still resumed
        assert "Reused, TLSv1.3" in second, second
        assert "Early data was accepted" not in second


@contextlib.contextmanager
def openssl_server(paths: Any, *extra: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """``openssl s_server`` for two connections (sv_body: what it receives goes to stdout)."""
    assert OPENSSL is not None
    args = [
        OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-naccept", "2",
        "-cert", str(paths.cert), "-cert_chain", str(paths.cert.parent / "intermediate.pem"), "-key", str(paths.key), *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        line = b""
        for _ in range(50):
            line = proc.stdout.readline()
            if b"ACCEPT" in line or not line:
                break
        port = int(line.strip().rsplit(b":", 1)[1])
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=TIMEOUT)


def _tlskit_round(config: Any, port: int, message: bytes, **kwargs: Any) -> Any:
    """Connect, send, wait until the server's tickets are in, close (half-close first and
    read to the end, so that nothing unread turns our close into a reset); the connection."""
    with tlskit.connect("127.0.0.1", port, server_name="localhost", config=config, timeout=TIMEOUT, keylog_from_env=False, **kwargs) as stream:
        stream.sendall(message)
        stream.wait_for_session(timeout=5.0)
        stream.close_write()
        while stream.recv():
            pass
        return stream


@needs_openssl
@pytest.mark.parametrize("provider,kind", CASES)
def test_tlskit_client_resumes_with_openssl_s_server(provider, kind, cas, files):
    cert, paths = files[kind]
    config = cas[kind].client_config(provider=provider)
    with openssl_server(paths) as (proc, port):
        first = _tlskit_round(config, port, b"first\n")
        assert not first.session_reused and first.session is not None
        second = _tlskit_round(config, port, b"second\n")
        assert second.session_reused and second.negotiated.resumed
        out, _ = proc.communicate(timeout=TIMEOUT)
    text = out.decode(errors="replace")
    assert "first" in text and "second" in text


@needs_openssl
@pytest.mark.parametrize("provider,kind", CASES)
def test_tlskit_client_early_data_accepted_by_openssl_s_server(provider, kind, cas, files):
    cert, paths = files[kind]
    config = cas[kind].client_config(provider=provider)
    with openssl_server(paths, "-early_data") as (proc, port):
        _tlskit_round(config, port, b"first\n")
        session = config.session_cache.take("localhost", port)
        assert session is not None and session.max_early_data > 0
        second = _tlskit_round(config, port, b"late\n", session=session, early_data=b"zero rtt\n")
        assert second.session_reused and second.early_data_accepted is True
        out, _ = proc.communicate(timeout=TIMEOUT)
    text = out.decode(errors="replace")
    # (s_server writes the data itself unbuffered, its header lines buffered: order varies)
    assert "Early data received:" in text and "End of early data" in text and "zero rtt" in text, text
    assert "Early data was rejected" not in text
    assert "late" in text


# -- stdlib ssl -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider,kind", CASES)
def test_stdlib_client_resumes_with_tlskit_server(provider, kind, cas, files):
    cert, _ = files[kind]
    context = cas[kind].client_ssl_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with tlskit_server(cas[kind], cert, provider) as server:
        port = server.address[1]
        sessions = []
        for round_ in range(2):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                kwargs = {"session": sessions[-1]} if sessions else {}
                with context.wrap_socket(raw, server_hostname="localhost", **kwargs) as tls:
                    tls.sendall(b"ping")
                    assert tls.recv(100) == b"ping"
                    assert tls.session_reused is bool(round_)
                    sessions.append(tls.session)
        assert sessions[0] is not None


@pytest.mark.parametrize("provider,kind", CASES)
def test_tlskit_client_resumes_with_stdlib_server(provider, kind, cas, files):
    cert, _ = files[kind]
    context = cas[kind].server_ssl_context(cert)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    config = cas[kind].client_config(provider=provider)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    port = listener.getsockname()[1]
    reused: list[bool] = []

    def run() -> None:
        for _ in range(2):
            raw, _ = listener.accept()
            raw.settimeout(TIMEOUT)
            with context.wrap_socket(raw, server_side=True) as tls:
                data = tls.recv(100)
                tls.sendall(data)
                reused.append(tls.session_reused)
                with contextlib.suppress(ssl.SSLError, OSError):
                    tls.recv(100)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        results = []
        for _ in range(2):
            with tlskit.connect("127.0.0.1", port, server_name="localhost", config=config, timeout=TIMEOUT, keylog_from_env=False) as stream:
                stream.sendall(b"ping")
                assert stream.recv(100) == b"ping"
                stream.wait_for_session(timeout=5.0)
                results.append(stream.session_reused)
        thread.join(TIMEOUT)
    finally:
        listener.close()
    assert results == [False, True]
    assert reused == [False, True]


# -- post-handshake client authentication with the stdlib ssl module ------------------------


def test_stdlib_client_answers_tlskit_post_handshake_request(cas, files):
    ca = cas["ecdsa-p256"]
    cert, _ = files["ecdsa-p256"]
    client_cert = ca.issue_cert(client=True)
    context = ca.client_ssl_context(client_cert)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.post_handshake_auth = True
    seen: list[tuple[bytes, ...]] = []

    def handler(stream: Any) -> None:
        assert stream.recv(100) == b"hello"
        stream.request_client_certificate()
        stream.sendall(b"who are you?")
        assert stream.recv(100) == b"bye"  # reading processes the client's answer first
        seen.append(stream.peer_certificates)
        stream.close()

    config = ca.server_config(cert, client_cadata=ca.root_pem, post_handshake_client_auth=True)
    server = TLSServer(config=config, handshake_timeout=TIMEOUT, timeout=TIMEOUT)
    server.serve_in_background(handler, on_error=lambda address, exc: seen.append(exc))
    try:
        with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"hello")
                assert tls.recv(100) == b"who are you?"
                tls.sendall(b"bye")
                tls.recv(100)
    finally:
        server.close()
    assert seen and seen[0] and seen[0][0] == client_cert.chain_der[0], seen


def test_tlskit_client_answers_stdlib_post_handshake_request(cas, files):
    ca = cas["ecdsa-p256"]
    cert, _ = files["ecdsa-p256"]
    client_cert = ca.issue_cert(client=True)
    context = ca.server_ssl_context(cert)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_OPTIONAL
    ca.configure_trust(context)
    context.post_handshake_auth = True
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    got: list[Any] = []

    def run() -> None:
        raw, _ = listener.accept()
        raw.settimeout(TIMEOUT)
        with context.wrap_socket(raw, server_side=True) as tls:
            assert tls.getpeercert() is None  # nothing asked during the handshake
            tls.verify_client_post_handshake()
            tls.sendall(b"prove it")
            got.append(tls.recv(100))
            got.append(tls.getpeercert(binary_form=True))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        config = ca.client_config(client_cert)
        with tlskit.connect("127.0.0.1", listener.getsockname()[1], server_name="localhost", config=config, timeout=TIMEOUT, keylog_from_env=False) as stream:
            assert stream.recv(100) == b"prove it"
            stream.sendall(b"here")
            thread.join(TIMEOUT)
    finally:
        listener.close()
    assert got[0] == b"here" and got[1] == client_cert.chain_der[0]
