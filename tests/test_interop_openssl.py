"""Process interop over loopback with the ``openssl`` command line (s_server / s_client).

Both directions, every provider, ECDSA, RSA and Ed25519 certificates, mTLS, and a
cross-check of the NSS key log and an exporter against OpenSSL's own.
"""

from __future__ import annotations

import re
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest
from engine_support import pki_for

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection

OPENSSL = shutil.which("openssl")
pytestmark = [pytest.mark.interop, pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")]

TIMEOUT = 20.0
CASES = [
    ("cryptography", "ecdsa-p256"),
    ("cryptography", "rsa-2048"),
    ("cryptography", "ed25519"),
    ("pycryptodome", "ecdsa-p256"),
    ("pycryptodome", "rsa-2048"),
    ("pycryptodome", "ed25519"),
    ("pynacl", "ed25519"),  # PyNaCl signs and verifies Ed25519 only
]


def _ids(case):
    return "-".join(case)


class OpenSSLServer:
    """``openssl s_server -rev`` (answers each line reversed) on an ephemeral loopback port."""

    def __init__(self, pki, *extra: str) -> None:
        chain = ["-cert_chain", str(pki.intermediate_file)] if pki.intermediate_file else []
        args = [
            OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-tls1_3",
            "-cert", str(pki.leaf_file), *chain, "-key", str(pki.key_file), "-rev", *extra,
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.output = b""
        deadline = time.monotonic() + TIMEOUT
        while b"ACCEPT" not in self.output:
            self._read_some(deadline)
        self.port = int(re.search(rb"ACCEPT 127\.0\.0\.1:(\d+)", self.output).group(1))

    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"openssl s_server timed out: {self.output!r}")
        ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
        if ready:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                raise AssertionError(f"openssl s_server exited: {self.output!r}")
            self.output += chunk

    def finish(self) -> str:
        try:
            out, _ = self.proc.communicate(timeout=TIMEOUT)
            self.output += out
        finally:
            self.stop()
        return self.output.decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def servers():
    started: list[OpenSSLServer] = []
    yield started
    for server in started:
        server.stop()


def tlskit_client_exchange(conn: ClientConnection, port: int, message: bytes, expected: bytes) -> bytes:
    """Handshake over a socket, send ``message``, read until ``expected`` arrived, close."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(conn.data_to_send())
        received = b""
        sent = False
        while expected not in received:
            data = sock.recv(65536)
            if not data:
                break
            conn.receive_data(data)
            if conn.handshake_complete and not sent:
                conn.send(message)
                sent = True
            received += conn.recv()
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        conn.close()
        sock.sendall(conn.data_to_send())
    return received


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_tlskit_client_with_openssl_s_server(tmp_path, servers, case):
    provider_name, key_type = case
    pki = pki_for(tmp_path, key_type)
    keylog = tmp_path / "openssl-keys.log"
    server = OpenSSLServer(pki, "-keylogfile", str(keylog))
    servers.append(server)
    ours = []
    config = ClientConfig(
        provider=provider_name,
        cafile=pki.ca_file,
        keylog_callback=lambda label, random, secret: ours.append(f"{label} {random.hex()} {secret.hex()}"),
    )
    conn = ClientConnection(config, server_name="localhost")
    received = tlskit_client_exchange(conn, server.port, b"Hello, world!\n", b"\n")
    assert received == b"!dlrow ,olleH\n"
    output = server.finish()
    assert "Protocol version: TLSv1.3" in output
    assert f"Ciphersuite: {conn.negotiated.cipher_suite}" in output
    theirs = {line for line in keylog.read_text().splitlines() if not line.startswith("#")}
    assert set(ours) == theirs and len(ours) == 5


def test_tlskit_client_mtls_and_groups_with_openssl_s_server(tmp_path, servers):
    pki = pki_for(tmp_path)
    client_pki = pki_for(tmp_path / "client", "rsa-2048", name="client", usage="client")
    server = OpenSSLServer(pki, "-Verify", "1", "-verify_return_error", "-CAfile", str(client_pki.ca_file), "-groups", "secp384r1")
    servers.append(server)
    config = ClientConfig(
        cafile=pki.ca_file,
        certfile=client_pki.chain_file,
        keyfile=client_pki.key_file,
        groups=["x25519", "secp384r1"],
    )
    conn = ClientConnection(config, server_name="localhost")
    assert tlskit_client_exchange(conn, server.port, b"abc\n", b"\n") == b"cba\n"
    assert conn.negotiated.group == "secp384r1"  # reached through a HelloRetryRequest
    output = server.finish()
    assert "depth=1 CN = client Test Intermediate" in output
    assert "Signature type: RSA-PSS" in output and "Verification: OK" in output


class TlskitServerThread:
    """A tlskit server answering one connection on an ephemeral loopback port:
    replies ``tlskit says: <data>`` to the first data it gets, then closes."""

    def __init__(self, config: ServerConfig) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.config = config
        self.conn: ServerConnection | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
            with sock:
                sock.settimeout(TIMEOUT)
                conn = self.conn = ServerConnection(self.config)
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    try:
                        conn.receive_data(data)
                    finally:
                        out = conn.data_to_send()
                        if out:
                            sock.sendall(out)
                    received = conn.recv()
                    if received:
                        conn.send(b"tlskit says: " + received)
                        conn.close()
                        sock.sendall(conn.data_to_send())
                        break
        except BaseException as exc:  # reported by join()
            self.error = exc
        finally:
            self.listener.close()

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


def run_s_client(port: int, pki, *extra: str, stdin: bytes = b"ping\n") -> subprocess.CompletedProcess:
    args = [
        OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
        "-verify_hostname", "localhost", "-CAfile", str(pki.ca_file), "-verify_return_error",
        "-tls1_3", "-ign_eof", *extra,
    ]  # fmt: skip
    return subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_openssl_s_client_with_tlskit_server(tmp_path, case):
    provider_name, key_type = case
    pki = pki_for(tmp_path, key_type)
    server = TlskitServerThread(ServerConfig(provider=provider_name, certfile=pki.chain_file, keyfile=pki.key_file))
    result = run_s_client(server.port, pki, "-keymatexport", "EXPERIMENTAL tlskit", "-keymatexportlen", "20")
    server.join()
    assert server.error is None, server.error
    stdout = result.stdout.decode(errors="replace")
    assert result.returncode == 0, stdout + result.stderr.decode(errors="replace")
    assert "tlskit says: ping" in stdout
    assert "Verify return code: 0 (ok)" in stdout
    negotiated = server.conn.negotiated
    assert f"Cipher is {negotiated.cipher_suite}" in stdout
    match = re.search(r"Keying material: ([0-9A-F]+)", stdout)
    assert match, stdout
    assert bytes.fromhex(match.group(1)) == server.conn.export_keying_material(b"EXPERIMENTAL tlskit", b"", 20)


def test_openssl_s_client_mtls_with_tlskit_server(tmp_path):
    pki = pki_for(tmp_path, "rsa-2048")
    client_pki = pki_for(tmp_path / "client", "ed25519", name="client", usage="client")
    server = TlskitServerThread(
        ServerConfig(
            certfile=pki.chain_file,
            keyfile=pki.key_file,
            client_cafile=client_pki.ca_file,
            require_client_auth=True,
            alpn_protocols=["h2"],
        )
    )
    result = run_s_client(
        server.port, pki, "-cert", str(client_pki.leaf_file), "-cert_chain", str(client_pki.intermediate_file),
        "-key", str(client_pki.key_file), "-alpn", "h2,http/1.1",
        "-groups", "secp521r1:x25519",
    )  # fmt: skip
    server.join()
    assert server.error is None, server.error
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"tlskit says: ping" in result.stdout
    assert server.conn.negotiated.alpn == "h2"
    assert server.conn.negotiated.group == "secp521r1"
    assert len(server.conn.negotiated.peer_certificates) == 2


def test_openssl_s_client_rejects_tlskit_server_for_wrong_name(tmp_path):
    pki = pki_for(tmp_path, sans=("other.example",), subject="other.example")
    server = TlskitServerThread(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    result = run_s_client(server.port, pki)
    server.join()
    assert result.returncode != 0
    assert server.error is not None and getattr(server.error, "alert", None) == 42  # bad_certificate from OpenSSL


class RSAPSSPKI:
    """A P-256 root and an RSASSA-PSS (id-RSASSA-PSS key) leaf made by the openssl CLI:
    cryptography cannot generate such keys, and they exercise rsa_pss_pss_*."""

    def __init__(self, directory) -> None:
        def run(*args: str) -> None:
            subprocess.run([OPENSSL, *args], check=True, capture_output=True, cwd=directory, timeout=TIMEOUT)

        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key")
        run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=PSS Test Root", "-days", "30", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
        run("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "leaf.key")
        run("req", "-new", "-key", "leaf.key", "-subj", "/CN=localhost", "-out", "leaf.csr")
        (directory / "ext.cnf").write_text(
            "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
        )
        run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "10",
            "-extfile", "ext.cnf", "-out", "leaf.pem")  # fmt: skip
        self.ca_file = directory / "ca.pem"
        self.leaf_file = self.chain_file = directory / "leaf.pem"
        self.key_file = directory / "leaf.key"
        self.intermediate_file = None  # the root signs the leaf directly


@pytest.mark.parametrize("provider_name", ["cryptography", "pycryptodome"])
def test_rsa_pss_pss_certificates_both_directions(tmp_path, servers, provider_name):
    import ssl

    pki = RSAPSSPKI(tmp_path)
    # tlskit client -> openssl s_server
    server = OpenSSLServer(pki)
    servers.append(server)
    conn = ClientConnection(ClientConfig(provider=provider_name, cafile=pki.ca_file), server_name="localhost")
    assert tlskit_client_exchange(conn, server.port, b"pss\n", b"\n") == b"ssp\n"
    assert conn.negotiated.signature_scheme == "rsa_pss_pss_sha256"
    server.finish()
    # openssl s_client -> tlskit server
    tlskit_server = TlskitServerThread(ServerConfig(provider=provider_name, certfile=pki.chain_file, keyfile=pki.key_file))
    result = run_s_client(tlskit_server.port, pki)
    tlskit_server.join()
    assert tlskit_server.error is None, tlskit_server.error
    assert result.returncode == 0 and b"tlskit says: ping" in result.stdout
    assert tlskit_server.conn.negotiated.signature_scheme == "rsa_pss_pss_sha256"
    # and Python's ssl client in memory, as a third opinion
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    tls = ServerConnection(ServerConfig(provider=provider_name, certfile=pki.chain_file, keyfile=pki.key_file))
    for _ in range(5):
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            tls.receive_data(outgoing.read())
            incoming.write(tls.data_to_send())
    tls.receive_data(outgoing.read())
    assert tls.handshake_complete and obj.version() == "TLSv1.3"


def _ocsp_response_der(pki) -> bytes:
    """A real 'good' OCSP response for the leaf, signed by its issuer (cryptography's builder)."""
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    issuer_key = serialization.load_pem_private_key((pki.directory / "issuer-key.pem").read_bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=pki.leaf,
            issuer=pki.intermediate,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now,
            next_update=now + datetime.timedelta(days=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, pki.intermediate)
    )
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_ocsp_stapling_to_openssl_s_client(tmp_path):
    from certs import key_pem

    pki = pki_for(tmp_path)
    (pki.directory / "issuer-key.pem").write_bytes(key_pem(pki.intermediate_key))
    response = _ocsp_response_der(pki)
    server = TlskitServerThread(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, ocsp_response=response))
    result = run_s_client(server.port, pki, "-status")
    server.join()
    assert server.error is None, server.error
    stdout = result.stdout.decode(errors="replace")
    assert result.returncode == 0, stdout
    assert "OCSP Response Status: successful (0x0)" in stdout
    assert "Cert Status: good" in stdout


def test_ocsp_staple_from_openssl_s_server(tmp_path, servers):
    from certs import key_pem

    pki = pki_for(tmp_path)
    (pki.directory / "issuer-key.pem").write_bytes(key_pem(pki.intermediate_key))
    response = _ocsp_response_der(pki)
    (tmp_path / "ocsp.der").write_bytes(response)
    server = OpenSSLServer(pki, "-status_file", str(tmp_path / "ocsp.der"))
    servers.append(server)
    conn = ClientConnection(ClientConfig(cafile=pki.ca_file, request_ocsp=True), server_name="localhost")
    assert tlskit_client_exchange(conn, server.port, b"ocsp\n", b"\n") == b"psco\n"
    assert conn.negotiated.ocsp_response == response
    server.finish()
