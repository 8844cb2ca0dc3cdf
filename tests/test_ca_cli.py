"""``tlskit ca ...`` end to end through the typer app (stdin is not a TTY here)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography import x509
from typer.testing import CliRunner

from tlskit.cli.main import app


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.delenv("TLSKIT_CA_PASSPHRASE", raising=False)
    monkeypatch.delenv("TLSKIT_P12_PASSWORD", raising=False)
    monkeypatch.setenv("TLSKIT_CA_DIR", str(tmp_path / "default-ca"))
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, ok: bool = True):
        result = runner.invoke(app, ["ca", *args], env=env)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr)
        else:
            assert result.exit_code != 0, result.stdout
            # One clear line, no traceback.
            lines = result.stderr.strip().splitlines()
            assert lines and lines[-1].startswith("error: ") and "Traceback" not in result.stderr
        return result

    return invoke


@pytest.fixture
def ca_dir(run, tmp_path):
    directory = tmp_path / "ca"
    run("init", "--dir", str(directory))
    return directory


def test_init_warns_unencrypted_and_refuses_second_time(run, tmp_path):
    first = run("init", "--dir", str(tmp_path / "ca"), "--name", "Example Root CA")
    assert "stored unencrypted" in first.stderr
    assert "created CA 'Example Root CA'" in first.stdout
    again = run("init", "--dir", str(tmp_path / "ca"), ok=False)
    assert "already exists" in again.stderr


def test_init_uses_tlskit_ca_dir(run, tmp_path):
    run("init")
    assert (tmp_path / "default-ca" / "root.crt").is_file()
    assert "BEGIN CERTIFICATE" in run("root").stdout


def test_issue_list_show_revoke_crl_verify(run, ca_dir, tmp_path):
    d = ("--dir", str(ca_dir))
    out = tmp_path / "out"
    issued = run("issue", "localhost", *d, "--san", "localhost", "--san", "127.0.0.1", "--san", "::1", "--out", str(out))
    assert str(out / "localhost.key") in issued.stdout
    assert stat.S_IMODE(os.stat(out / "localhost.key").st_mode) == 0o600
    run("issue", "alice@example.test", *d, "--client", "--out", str(out))

    listing = run("list", *d).stdout.splitlines()
    assert listing[0].split("\t") == ["SERIAL", "NAME", "SUBJECT", "SANS", "NOT AFTER", "STATUS"]
    rows = [line.split("\t") for line in listing[1:]]
    assert [row[1] for row in rows] == ["localhost", "alice@example.test"]
    assert rows[0][2] == "CN=localhost"
    assert rows[0][3] == "DNS:localhost,IP:127.0.0.1,IP:::1" and rows[0][5] == "valid"

    shown = run("show", "localhost", *d).stdout
    assert "Subject:      CN=localhost" in shown and "serverAuth" in shown
    assert "CN=tlskit Intermediate CA" in run("show", str(out / "localhost.chain.pem")).stdout

    ok = run("verify", str(out / "localhost.chain.pem"), *d, "--host", "::1")
    assert ": OK (CN=localhost <- CN=tlskit Intermediate CA <- CN=tlskit Root CA)" in ok.stdout
    wrong_host = run("verify", str(out / "localhost.crt"), *d, "--host", "example.com", ok=False)
    assert "error:" in wrong_host.stderr

    serial = rows[1][0]
    revoked = run("revoke", serial, *d, "--reason", "keyCompromise")
    assert f"serial {serial}" in revoked.stdout
    crl_file = tmp_path / "ca.crl"
    run("crl", *d, "--out", str(crl_file))
    crl = x509.load_pem_x509_crl(crl_file.read_bytes())
    assert [f"{entry.serial_number:x}" for entry in crl] == [serial]
    rejected = run("verify", str(out / "alice@example.test.crt"), *d, "--crl", str(crl_file), ok=False)
    assert rejected.stderr.startswith(f"error: {out / 'alice@example.test.crt'}: rejected: revoked")
    # Before: without --crl the CA's own revocation was ignored; the index is consulted now.
    own = run("verify", str(out / "alice@example.test.crt"), *d, ok=False)
    assert "rejected: revoked by this CA" in own.stderr and "key-compromise" in own.stderr

    data = json.loads(run("list", *d, "--json").stdout)
    assert [r["status"] for r in data] == ["valid", "revoked"] and data[1]["reason"] == "key_compromise"


def test_crl_to_stdout(run, ca_dir):
    assert run("crl", "--dir", str(ca_dir)).stdout.startswith("-----BEGIN X509 CRL-----")


def test_bad_input_is_one_line_error(run, ca_dir, tmp_path):
    d = ("--dir", str(ca_dir))
    assert "unknown key type" in run("issue", "a.test", *d, "--key-type", "rsa-1024", ok=False).stderr
    assert "bad IP address" in run("issue", "a.test", *d, "--san", "IP:1.2.3", ok=False).stderr
    assert "choose one of --server" in run("issue", "a.test", *d, "--server", "--client", ok=False).stderr
    assert "not found" in run("sign", str(tmp_path / "missing.csr"), *d, ok=False).stderr
    (tmp_path / "junk.csr").write_bytes(b"\x00\x01junk")
    assert "not a readable" in run("sign", str(tmp_path / "junk.csr"), *d, ok=False).stderr
    assert "no CA in" in run("list", "--dir", str(tmp_path / "none"), ok=False).stderr
    assert "needs a password" in run("export", "a.test", *d, "--p12", str(tmp_path / "x.p12"), ok=False).stderr
    assert list((ca_dir / "issued").iterdir()) == []


def test_passphrase_file_and_environment(run, tmp_path):
    secret = tmp_path / "pass.txt"
    secret.write_text("s3cret passphrase\n")
    directory = str(tmp_path / "ca")
    init = run("init", "--dir", directory, "--passphrase-file", str(secret))
    assert "unencrypted" not in init.stderr
    # No TTY and no passphrase: refuse instead of prompting.
    refused = run("issue", "a.test", "--dir", directory, ok=False)
    assert "TLSKIT_CA_PASSPHRASE" in refused.stderr
    wrong = run("issue", "a.test", "--dir", directory, env={"TLSKIT_CA_PASSPHRASE": "nope"}, ok=False)
    assert "wrong passphrase" in wrong.stderr
    run("issue", "a.test", "--dir", directory, "--passphrase-file", str(secret))
    run("issue", "b.test", "--dir", directory, env={"TLSKIT_CA_PASSPHRASE": "s3cret passphrase"})
    assert len(run("list", "--dir", directory).stdout.splitlines()) == 3


def test_loose_key_permissions_warn(run, ca_dir):
    os.chmod(ca_dir / "intermediate.key", 0o640)
    result = run("list", "--dir", str(ca_dir))
    assert "warning: private key" in result.stderr and "0640" in result.stderr


def test_export_renew_root_check(run, ca_dir, tmp_path):
    d = ("--dir", str(ca_dir))
    run("issue", "web.test", *d)
    pw = tmp_path / "pw"
    pw.write_text("pkcs12 pass")
    run("export", "web.test", *d, "--p12", str(tmp_path / "web.p12"), "--password-file", str(pw))
    assert (tmp_path / "web.p12").stat().st_size > 0
    renewed = run("renew", "web.test", *d, "--days", "10")
    assert "renewed web.test" in renewed.stdout
    run("root", *d, "--out", str(tmp_path / "root.pem"))
    assert (tmp_path / "root.pem").read_bytes() == (ca_dir / "root.crt").read_bytes()
    assert "already exists" in run("root", *d, "--out", str(tmp_path / "root.pem"), ok=False).stderr
    assert "consistent (2 certificates)" in run("check", *d).stdout


def test_sign_csr_to_stdout(run, ca_dir, tmp_path):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr.test")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("csr.test")]), False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "req.pem"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    result = run("sign", str(path), "--dir", str(ca_dir), "--both")
    certs = x509.load_pem_x509_certificates(result.stdout.encode())
    assert len(certs) == 2 and certs[0].public_key() == key.public_key()
    assert "signed csr.test" in result.stderr


@pytest.mark.parametrize(
    "command", ["init", "issue", "sign", "revoke", "crl", "list", "show", "verify", "export", "renew", "root", "check"]
)
def test_every_command_documents_dir(command):
    result = CliRunner().invoke(app, ["ca", command, "--help"])
    assert result.exit_code == 0, result.stderr
    assert "--dir" in result.stdout
