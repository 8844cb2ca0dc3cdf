"""Proof that tlskit-issued certificates work outside tlskit: OpenSSL's verifier and CRL
parser, tlskit.pki, and real TLS handshakes between stdlib ``ssl`` peers over loopback."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from tlskit.ca import KEY_TYPES, CertificateAuthority
from tlskit.pki import Revoked, verify_chain

pytestmark = pytest.mark.interop

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")

# RSA-3072/4096 CA keys would add slow key generations for nothing new: the
# signature code path is RSA-2048's. Their leaves are still issued and tested.
CA_KEY_TYPE = {"rsa-3072": "rsa-2048", "rsa-4096": "rsa-2048"}


@pytest.fixture(scope="module", params=KEY_TYPES)
def pki(request, tmp_path_factory):
    key_type = request.param
    directory = tmp_path_factory.mktemp(f"ca-{key_type}")
    ca = CertificateAuthority.init(directory / "ca", key_type=CA_KEY_TYPE.get(key_type, key_type))
    server = ca.issue("localhost", sans=["localhost", "127.0.0.1"], key_type=key_type, out_dir=directory / "out")
    client = ca.issue("client.test", profile="client", key_type="ecdsa-p256", out_dir=directory / "out")
    return key_type, ca, server, client


def _server_context(issued, client_ca=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(str(issued.chain_path), str(issued.key_path))
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(client_ca))
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    return ctx


def _client_context(ca, client=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca.root_path))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    # Strict RFC 5280 checks: proves the profiles, not just OpenSSL's leniency.
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if client is not None:
        ctx.load_cert_chain(str(client.chain_path), str(client.key_path))
    return ctx


def _handshake(
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    server_name: str = "localhost",
    seen: dict[str, object] | None = None,
):
    """One echo exchange over 127.0.0.1; returns (reply, what the server saw)."""
    seen = {} if seen is None else seen
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(20)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                conn.settimeout(20)
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    seen["version"] = tls.version()
                    seen["peer"] = tls.getpeercert()
                    tls.sendall(b"echo:" + tls.recv(100))
            except Exception as exc:  # reported to the test through ``seen``
                seen["error"] = exc

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                    tls.sendall(b"hello")
                    reply = tls.recv(100)
        finally:
            thread.join(20)
    return reply, seen


@needs_openssl
def test_openssl_verifies_issued_chain(pki):
    _, ca, server, client = pki
    for issued, purpose in ((server, "sslserver"), (client, "sslclient")):
        result = subprocess.run(
            [OPENSSL, "verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(ca.root_path),
             "-untrusted", str(ca.intermediate_path), str(issued.cert_path)],
            capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(": OK")


@needs_openssl
def test_openssl_reads_the_key(pki):
    key_type, _, server, _ = pki
    result = subprocess.run([OPENSSL, "pkey", "-in", str(server.key_path), "-noout", "-text"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    expected = {
        "ed25519": "ED25519",
        "ecdsa-p256": "NIST CURVE: P-256",
        "ecdsa-p384": "NIST CURVE: P-384",
        "rsa-2048": "(2048 bit",
        "rsa-3072": "(3072 bit",
        "rsa-4096": "(4096 bit",
    }[key_type]
    assert expected in result.stdout


def test_tlskit_pki_validates_chain(pki):
    _, ca, server, client = pki
    path = verify_chain(server.certificate, [ca.intermediate_certificate], [ca.root_certificate], server_name="127.0.0.1")
    assert path.certificates == [server.certificate, ca.intermediate_certificate, ca.root_certificate]
    assert len(ca.verify(client.chain_path, usage="client")) == 3


def test_stdlib_ssl_handshake_with_issued_chain(pki):
    key_type, ca, server, _ = pki
    reply, seen = _handshake(_server_context(server), _client_context(ca))
    assert "error" not in seen, seen.get("error")
    assert reply == b"echo:hello" and seen["version"] == "TLSv1.3"


def test_stdlib_ssl_mutual_tls_with_issued_client_certificate(pki):
    _, ca, server, client = pki
    reply, seen = _handshake(_server_context(server, client_ca=ca.root_path), _client_context(ca, client))
    assert "error" not in seen, seen.get("error")
    assert reply == b"echo:hello"
    assert dict(x[0] for x in seen["peer"]["subject"]) == {"commonName": "client.test"}


def test_mtls_rejects_server_profile_as_client(tmp_path):
    # A --server certificate lacks clientAuth: OpenSSL must refuse it as a client certificate.
    ca = CertificateAuthority.init(tmp_path / "ca")
    server = ca.issue("localhost", out_dir=tmp_path)
    not_client = ca.issue("other.test", profile="server", out_dir=tmp_path)
    # TLS 1.3: the server checks the client certificate after the client finished, so the
    # client sees an alert or an EOF on its first read; the server says why.
    seen: dict[str, object] = {}
    with pytest.raises(OSError):
        _handshake(_server_context(server, client_ca=ca.root_path), _client_context(ca, not_client), seen=seen)
    assert "unsuitable certificate purpose" in str(seen.get("error"))


def test_ssl_client_rejects_other_ca_and_wrong_host(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    other = CertificateAuthority.init(tmp_path / "other")
    server = ca.issue("localhost", out_dir=tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(_server_context(server), _client_context(other))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(_server_context(server), _client_context(ca), server_name="example.com")


@needs_openssl
def test_crl_parses_with_openssl_and_revokes(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    keep = ca.issue("keep.test", out_dir=tmp_path)
    gone = ca.issue("gone.test", out_dir=tmp_path)
    ca.revoke("gone.test", reason="key-compromise")
    crl_file = tmp_path / "ca.crl"
    crl_file.write_bytes(ca.crl())
    text = subprocess.run(
        [OPENSSL, "crl", "-noout", "-text", "-in", str(crl_file)], capture_output=True, text=True, check=True
    ).stdout
    listed = [int(line.split(":", 1)[1], 16) for line in text.splitlines() if "Serial Number:" in line]
    assert listed == [gone.serial]
    assert "Key Compromise" in text and "Next Update" in text
    # OpenSSL's own CRL check agrees: revoked fails, the other passes.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca.root_pem() + ca.intermediates_pem())

    def openssl_verify(cert):
        return subprocess.run(
            [OPENSSL, "verify", "-crl_check", "-CAfile", str(bundle), "-CRLfile", str(crl_file), str(cert)],
            capture_output=True, text=True,
        )
    assert openssl_verify(keep.cert_path).returncode == 0
    revoked = openssl_verify(gone.cert_path)
    assert revoked.returncode != 0 and "revoked" in (revoked.stdout + revoked.stderr)
    # And tlskit's verifier rejects it given the CRL.
    with pytest.raises(Revoked):
        ca.verify(gone.cert_path, crl=crl_file)
    ca.verify(keep.cert_path, crl=crl_file)


@needs_openssl
def test_pkcs12_export_opens_with_openssl(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    ca.issue("web.test", out_dir=tmp_path)
    p12 = ca.export_p12("web.test", tmp_path / "web.p12", b"pw")
    result = subprocess.run(
        [OPENSSL, "pkcs12", "-in", str(p12), "-passin", "pass:pw", "-nokeys", "-info"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "subject=CN = web.test" in result.stdout and "subject=CN = tlskit Intermediate CA" in result.stdout


@needs_openssl
def test_openssl_csr_is_signed(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    key, csr = tmp_path / "k.pem", tmp_path / "r.csr"
    subprocess.run(
        [OPENSSL, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(csr), "-subj", "/CN=fromcsr.test",
         "-addext", "subjectAltName=DNS:fromcsr.test", "-addext", "basicConstraints=critical,CA:TRUE"],
        capture_output=True, check=True,
    )
    issued = ca.sign_csr(csr.read_bytes(), out=tmp_path / "fromcsr.crt")
    ok = subprocess.run(
        [OPENSSL, "verify", "-x509_strict", "-CAfile", str(ca.root_path), "-untrusted", str(ca.intermediate_path),
         str(issued.cert_path)], capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(issued.chain_path), str(key))
    reply, seen = _handshake(ctx, _client_context(ca), server_name="fromcsr.test")
    assert reply == b"echo:hello", seen
