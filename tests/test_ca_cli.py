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


# -- messages a new user met (issue 15, item 10) -------------------------------------------

COMMANDS = ["init", "issue", "sign", "revoke", "crl", "list", "show", "verify", "export", "renew", "root", "check"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_bool_metavar_cut_text_or_undocumented_option(command):
    import typer

    from tlskit.cli import ca_cmd

    result = CliRunner().invoke(app, ["ca", command, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout.replace("--help", "")  # typer's own --help row aside
    assert "…" not in result.stdout
    group = typer.main.get_command(ca_cmd.app)
    for param in group.commands[command].params:  # type: ignore[attr-defined]
        if param.param_type_name == "option":
            assert param.help, f"{command} {param.opts} has no help text"


def test_reason_choices_are_listed_and_both_spellings_work(run, ca_dir):
    help_text = " ".join(run("revoke", "--help").stdout.split())
    assert "key-compromise" in help_text and "cessation-of-operation" in help_text
    d = ("--dir", str(ca_dir))
    run("issue", "a.test", *d)
    run("issue", "b.test", *d)
    assert "reason key-compromise" in run("revoke", "a.test", *d, "--reason", "key_compromise").stdout
    assert "reason key-compromise" in run("revoke", "b.test", *d, "--reason", "key-compromise").stdout
    run("issue", "c.test", *d)
    bad = run("revoke", "c.test", *d, "--reason", "oops", ok=False)
    assert "choose one of: unspecified, key-compromise" in bad.stderr


def test_counts_are_singular_and_plural(run, ca_dir):
    d = ("--dir", str(ca_dir))
    assert "(0 certificates)" in run("check", *d).stdout
    run("issue", "one.test", *d)
    assert "(1 certificate)" in run("check", *d).stdout


def test_show_of_a_pkcs12_file_says_what_it_is(run, ca_dir, tmp_path):
    d = ("--dir", str(ca_dir))
    run("issue", "p.test", *d)
    (tmp_path / "pw").write_text("secret\n")
    run("export", "p.test", *d, "--p12", str(tmp_path / "x.p12"), "--password-file", str(tmp_path / "pw"))
    shown = run("show", str(tmp_path / "x.p12"), *d, ok=False)
    # Before: a raw parser error.
    assert "is a PKCS#12 bundle, not a certificate" in shown.stderr and "openssl pkcs12" in shown.stderr
    key = run("show", str(ca_dir / "issued" / "p.test.key"), *d, ok=False)
    assert "is a private key, not a certificate" in key.stderr


def test_verify_of_the_ca_certificates_says_what_they_are(run, ca_dir):
    d = ("--dir", str(ca_dir))
    # Before: "server certificate has no subjectAltName".
    assert "this CA's root certificate" in run("verify", str(ca_dir / "root.crt"), *d).stdout
    assert "this CA's intermediate certificate" in run("verify", str(ca_dir / "intermediate.crt"), *d).stdout


def test_cryptography_warnings_become_one_line_about_the_certificate(run, ca_dir, tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
         "/CN=neg", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "neg.crt"), "-set_serial", "-5",
         "-days", "1"],
        check=True, capture_output=True,
    )
    shown = run("show", str(tmp_path / "neg.crt"), "--dir", str(ca_dir))
    warnings_ = [line for line in shown.stderr.splitlines() if line.startswith("warning:")]
    assert warnings_ == [
        "warning: the certificate breaks RFC 5280: parsed a serial number which wasn't positive (i.e., it was"
        " negative or zero), which is disallowed by RFC 5280."
    ]
    assert "CryptographyDeprecationWarning" not in shown.stderr and "future release" not in shown.stderr


def test_ed25519_is_documented_as_not_for_browsers():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    for doc in (root / "docs" / "ca.md", root / "README.md"):
        text = doc.read_text()
        assert "Ed25519" in text and "browsers" in text, doc
    help_text = " ".join(CliRunner().invoke(app, ["ca", "issue", "--help"]).stdout.replace("│", " ").split())
    assert "Ed25519: not accepted by browsers" in help_text
