"""certbot, the reference ACME client, against ``tlskit ca acme`` (all on loopback).

One end-to-end run (certbot takes seconds per command): obtain a certificate for a
DNS name and an IP address with http-01 in certbot's standalone mode, renew with ``--force-renewal``, revoke; every certificate
verifies with ``openssl verify`` against the CA's root, and the revoked one is in
the CA's index and CRL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
from cryptography import x509

from io_peers import process, read_line_with, tlskit_command
from tlskit.ca import CertificateAuthority

OPENSSL = shutil.which("openssl")
CERTBOT_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def certbot(*args: str, env: dict[str, str], dirs: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "import sys; from certbot.main import main; sys.exit(main())"]
    result = subprocess.run(
        [*command, *args, *dirs, "--non-interactive"], env=env, capture_output=True, text=True, timeout=CERTBOT_TIMEOUT
    )
    assert result.returncode == 0, f"certbot {args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def openssl_verify(root: str, cert: str, chain: str, *extra: str) -> subprocess.CompletedProcess:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "verify", "-CAfile", root, "-untrusted", chain, *extra, cert], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def acme_cli_server(tmp_path_factory):
    """``tlskit ca acme`` as a subprocess, validating http-01 on 127.0.0.1:<http port>."""
    base = tmp_path_factory.mktemp("acme-certbot")
    ca = CertificateAuthority.init(base / "ca")
    http_port = free_port()
    args = tlskit_command() + [
        "ca", "acme", "--dir", str(ca.directory), "--host", "127.0.0.1", "--port", "0",
        "--validation-address", "127.0.0.1", "--http-01-port", str(http_port),
    ]  # fmt: skip
    with process(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        line = read_line_with(proc, proc.stdout, "ACME directory:")
        yield ca, line.split()[-1], http_port, base
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.interop
@pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
def test_certbot_obtains_renews_and_revokes(acme_cli_server):
    ca, directory, http_port, base = acme_cli_server
    assert directory.startswith("https://127.0.0.1:") and directory.endswith("/directory")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=str(ca.root_path))
    dirs = [
        "--config-dir", str(base / "config"), "--work-dir", str(base / "work"), "--logs-dir", str(base / "logs"),
        "--server", directory,
    ]  # fmt: skip
    standalone = ["--standalone", "--http-01-port", str(http_port), "--http-01-address", "127.0.0.1"]
    root = str(ca.root_path)
    live = base / "config" / "live" / "some.test"

    # a DNS name and an IP address (RFC 8738), each validated by http-01
    certbot("certonly", *standalone, "--agree-tos", "--no-eff-email", "-m", "x@example.test", "-d", "some.test",
            "--ip-address", "127.0.0.1", "--cert-name", "some.test", env=env, dirs=dirs)  # fmt: skip
    first = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    san = first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["some.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    result = openssl_verify(root, str(live / "cert.pem"), str(live / "chain.pem"), "-purpose", "sslserver",
                            "-verify_ip", "127.0.0.1")  # fmt: skip
    assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr
    # issued through the CA: its index records it
    [record] = ca.find(first.serial_number)
    assert record.name == "some.test" and not record.revoked

    # --no-random-sleep-on-renew: outside a terminal certbot would first wait up to minutes
    certbot("renew", "--force-renewal", "--no-random-sleep-on-renew", *standalone, env=env, dirs=dirs)
    second = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    assert second.serial_number != first.serial_number
    result = openssl_verify(root, str(live / "cert.pem"), str(live / "chain.pem"))
    assert result.returncode == 0 and ": OK" in result.stdout, result.stdout + result.stderr

    certbot("revoke", "--cert-path", str(live / "cert.pem"), "--no-delete-after-revoke", env=env, dirs=dirs)
    [revoked] = ca.find(second.serial_number)
    assert revoked.revoked
    [still_valid] = ca.find(first.serial_number)
    assert not still_valid.revoked
    # the revocation reaches relying parties through the CA's CRL
    crl_file = base / "crl.pem"
    crl_file.write_bytes(ca.crl())
    result = openssl_verify(root, str(live / "cert.pem"), str(live / "chain.pem"), "-crl_check", "-CRLfile", str(crl_file))
    assert result.returncode != 0 and "certificate revoked" in (result.stdout + result.stderr)
