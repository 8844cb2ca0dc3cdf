"""The revocation story end to end: a CRL per issuing level (the root's covers the
intermediate), revocation of the intermediate, one `crl --out` file that serves
`openssl verify -crl_check_all` and Python's VERIFY_CRL_CHECK_CHAIN, CRL Distribution
Point and AIA URLs in issued certificates, and `serve-crl` publishing them over HTTP."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import urllib.request

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from typer.testing import CliRunner

from tlskit.ca import CAError, CertificateAuthority
from tlskit.ca.crlserver import CRLServer
from tlskit.cli.main import app
from tlskit.pki import CertificateError

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority.init(tmp_path / "ca")


def _crls(pem: bytes) -> list[x509.CertificateRevocationList]:
    blocks = [b"-----BEGIN X509 CRL-----" + part for part in pem.split(b"-----BEGIN X509 CRL-----")[1:]]
    return [x509.load_pem_x509_crl(block) for block in blocks]


def _openssl_verify(ca, leaf, crl_file, *extra):
    return subprocess.run(
        ["openssl", "verify", "-crl_check_all", "-CRLfile", str(crl_file), "-CAfile", str(ca.root_path),
         "-untrusted", str(ca.intermediate_path), *extra, str(leaf)],
        capture_output=True, text=True,
    )


def test_crl_has_one_crl_per_issuing_level(ca, tmp_path):
    out = tmp_path / "all.crl"
    pem = ca.crl(out=out)
    assert out.read_bytes() == pem
    leaves, root = _crls(pem)
    assert leaves.issuer == ca.intermediate_certificate.subject
    assert root.issuer == ca.root_certificate.subject
    assert leaves.is_signature_valid(ca.intermediate_certificate.public_key())
    assert root.is_signature_valid(ca.root_certificate.public_key())
    # a root-only CA has one level
    single = CertificateAuthority.init(tmp_path / "single", intermediate=False)
    assert len(_crls(single.crl())) == 1


@needs_openssl
def test_openssl_crl_check_all_with_one_file(ca, tmp_path):
    issued = ca.issue("svc.test")
    crl_file = tmp_path / "all.crl"
    ca.crl(out=crl_file)
    ok = _openssl_verify(ca, issued.cert_path, crl_file)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ca.revoke("svc.test", reason="key-compromise")
    ca.crl(out=crl_file)
    revoked = _openssl_verify(ca, issued.cert_path, crl_file)
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr


@needs_openssl
def test_revoking_the_intermediate_puts_it_on_the_roots_crl(ca, tmp_path):
    issued = ca.issue("svc.test")
    inter = ca.revoke_intermediate(reason="ca-compromise")
    with pytest.raises(CAError, match="already revoked"):
        ca.revoke_intermediate()
    crl_file = tmp_path / "all.crl"
    _, root_crl = _crls(ca.crl(out=crl_file))
    entry = root_crl.get_revoked_certificate_by_serial_number(inter.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.ca_compromise
    result = _openssl_verify(ca, issued.cert_path, crl_file)
    assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr
    # tlskit.pki honours the root's CRL for the intermediate too
    from tlskit.ca.verify import load_crls
    from tlskit.pki import verify_chain

    with pytest.raises(CertificateError, match="revoked"):
        verify_chain(issued.certificate, [inter], ca.trust_store(), crls=load_crls(crl_file))
    # the CA's own verify knows it without a CRL, and the CA issues nothing more
    with pytest.raises(CertificateError, match="intermediate was revoked"):
        ca.verify(issued.chain_path)
    with pytest.raises(CAError, match="intermediate was revoked"):
        ca.issue("more.test")


def _ssl_server(chain, key, connections):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve():
        for _ in range(connections):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def _python_client(ca, crl_file, port):
    context = ssl.create_default_context(cafile=str(ca.root_path))
    context.load_verify_locations(cafile=str(crl_file))  # the PEM CRLs of every level
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_CHAIN
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="svc.test") as tls:
            tls.sendall(b"x")


def test_python_ssl_crl_check_chain(ca, tmp_path):
    issued = ca.issue("svc.test")
    crl_file = tmp_path / "all.crl"
    ca.crl(out=crl_file)
    listener, thread = _ssl_server(issued.chain_path, issued.key_path, 2)
    try:
        port = listener.getsockname()[1]
        _python_client(ca, crl_file, port)  # both levels have a CRL: accepted
        ca.revoke_intermediate()
        ca.crl(out=crl_file)
        with pytest.raises(ssl.SSLCertVerificationError, match="revoked"):
            _python_client(ca, crl_file, port)
    finally:
        listener.close()
        thread.join(timeout=10)


def test_python_ssl_rejects_a_revoked_leaf(ca, tmp_path):
    issued = ca.issue("svc.test")
    ca.revoke("svc.test")
    crl_file = tmp_path / "all.crl"
    ca.crl(out=crl_file)
    listener, thread = _ssl_server(issued.chain_path, issued.key_path, 1)
    try:
        with pytest.raises(ssl.SSLCertVerificationError, match="revoked"):
            _python_client(ca, crl_file, listener.getsockname()[1])
    finally:
        listener.close()
        thread.join(timeout=10)


def test_crl_and_aia_urls_in_issued_certificates(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", crl_url="http://127.0.0.1:8080/", aia_url="http://127.0.0.1:8080")
    leaf = ca.issue("svc.test").certificate
    points = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for p in points for n in p.full_name] == ["http://127.0.0.1:8080/intermediate.crl"]
    aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, "http://127.0.0.1:8080/intermediate.crt")
    ]
    inter = ca.intermediate_certificate
    points = inter.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for p in points for n in p.full_name] == ["http://127.0.0.1:8080/root.crl"]
    assert CertificateAuthority.load(ca.directory).config.crl_url == "http://127.0.0.1:8080"
    with pytest.raises(CAError, match="bad CRL URL"):
        CertificateAuthority.init(tmp_path / "bad", crl_url="ftp://x")
    plain = CertificateAuthority.init(tmp_path / "plain").issue("p.test").certificate
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.CRLDistributionPoints)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_crl_publishes_what_the_certificates_point_at(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    ca = CertificateAuthority.init(tmp_path / "ca", crl_url=base, aia_url=base)
    ca.revoke(ca.issue("gone.test").serial_hex)
    ca.crl()
    with CRLServer(ca.publication(), "127.0.0.1", port) as server:
        assert server.url == base
        def get(path):
            with urllib.request.urlopen(base + path, timeout=10) as response:
                return response.headers["Content-Type"], response.read()
        kind, der = get("/intermediate.crl")
        assert kind == "application/pkix-crl"
        assert len(list(x509.load_der_x509_crl(der))) == 1
        kind, der = get("/root.crl")
        assert x509.load_der_x509_crl(der).issuer == ca.root_certificate.subject
        kind, der = get("/intermediate.crt")
        assert kind == "application/pkix-cert" and x509.load_der_x509_certificate(der) == ca.intermediate_certificate
        assert get("/root.crt")[1] == x509.load_pem_x509_certificate(ca.root_pem()).public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER
        )
        assert get("/crl.pem")[1].count(b"BEGIN X509 CRL") == 2
        with pytest.raises(urllib.error.HTTPError) as info:
            get("/secret.key")
        assert info.value.code == 404


@needs_openssl
def test_openssl_downloads_crls_from_the_distribution_points(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    ca = CertificateAuthority.init(tmp_path / "ca", crl_url=base)
    issued = ca.issue("svc.test")
    ca.crl()
    command = ["openssl", "verify", "-crl_check_all", "-crl_download", "-CAfile", str(ca.root_path),
               "-untrusted", str(ca.intermediate_path), str(issued.cert_path)]
    with CRLServer(ca.publication(), "127.0.0.1", port):
        ok = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        ca.revoke("svc.test")
        ca.crl()  # republished: the server reads the files on every request
        revoked = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert revoked.returncode != 0 and "certificate revoked" in revoked.stdout + revoked.stderr


def test_cli_revoke_intermediate_and_crl_levels(tmp_path):
    directory = tmp_path / "ca"
    runner = CliRunner()
    assert runner.invoke(app, ["ca", "init", "--dir", str(directory)]).exit_code == 0
    result = runner.invoke(app, ["ca", "revoke", "--intermediate", "--reason", "superseded", "--dir", str(directory)])
    assert result.exit_code == 0 and "revoked the intermediate" in result.stdout
    out = tmp_path / "all.crl"
    assert runner.invoke(app, ["ca", "crl", "--out", str(out), "--dir", str(directory)]).exit_code == 0
    assert out.read_bytes().count(b"BEGIN X509 CRL") == 2
    verdict = runner.invoke(app, ["ca", "verify", str(directory / "intermediate.crt"), "--dir", str(directory)])
    assert verdict.exit_code == 1 and "revoked" in verdict.stderr


def test_cli_serve_crl_signs_first_crls_and_serves(tmp_path):
    import os
    import signal
    import sys

    directory = tmp_path / "ca"
    CertificateAuthority.init(directory)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from tlskit.cli.main import main; main()", "ca", "serve-crl", "--dir", str(directory), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stderr.readline()
        assert "serving CRLs" in line, line
        url = line.split(" at ")[1].split("/ ")[0]
        with urllib.request.urlopen(url + "/root.crl", timeout=10) as response:
            assert x509.load_der_x509_crl(response.read()).issuer == CertificateAuthority.load(directory).root_certificate.subject
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.communicate(timeout=30)
    assert (directory / "crl.pem").exists() and (directory / "root.crl.pem").exists()
