"""The console script's contract: every error is one `error: ...` line and a non-zero
exit (usage mistakes and internal errors included), warnings are one line, no traceback
(which could show secrets) reaches the user, and text taken from certificates is
escaped before it reaches the terminal."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli_support import run_main
from tlskit.cli import main as cli_main
from tlskit.cli.main import app


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "abc"],
        ["ca", "issue"],
        ["ca", "nosuch"],
        ["connect"],
        ["nosuch"],
        ["connect", "localhost:1", "--timeout", "soon"],
        ["ca", "init", "--days", "x"],
        ["serve", "--port", "1", "--cert", "c", "--key", "k", "--mode", "gopher"],
    ],
)
def test_usage_errors_are_one_line(argv, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "--help" in lines[0]


def test_no_arguments_still_shows_help(capsys):
    code, out, err = run_main([], capsys)
    assert code == 2 and "Usage" in out + err


def test_help_and_success_exit_zero(capsys):
    assert run_main(["--help"], capsys)[0] == 0
    assert run_main(["ca", "--help"], capsys)[0] == 0
    code, out, _ = run_main(["version"], capsys)
    assert code == 0 and out.strip()


def test_command_exit_codes_pass_through(capsys, tmp_path):
    code, _, err = run_main(["ca", "list", "--dir", str(tmp_path / "none")], capsys)
    assert code == 1 and err.startswith("error: no CA in")


def test_internal_error_is_one_line_without_traceback_or_locals(capsys, monkeypatch, tmp_path):
    from tlskit.cli import ca_cmd

    def broken(*args, **kwargs):
        passphrase = b"hunter2-do-not-print"  # noqa: F841 - a local a traceback would show
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(ca_cmd.CertificateAuthority, "load", broken)
    monkeypatch.delenv(cli_main.DEBUG_ENV, raising=False)
    code, out, err = run_main(["ca", "list", "--dir", str(tmp_path)], capsys)
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: internal error: RuntimeError: simulated bug (set {cli_main.DEBUG_ENV}=1 for the traceback)"
    ]
    assert "hunter2" not in out + err
    monkeypatch.setenv(cli_main.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError):
        cli_main.main(["ca", "list", "--dir", str(tmp_path)])


def test_typer_apps_never_show_locals():
    from tlskit.cli import ca_cmd

    assert cli_main.app.pretty_exceptions_show_locals is False
    assert ca_cmd.app.pretty_exceptions_show_locals is False


EVIL_CN = "evil\nverified: yes\x1b[31m\u202e"


@pytest.fixture(scope="module")
def evil_server_files(tmp_path_factory):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = tmp_path_factory.mktemp("evil")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, EVIL_CN)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "evil.crt", directory / "evil.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _assert_no_injected_lines(text: str) -> None:
    assert "\x1b" not in text and "\u202e" not in text
    assert not any(line.startswith("verified: yes") for line in text.splitlines())


def test_connect_report_escapes_certificate_text(evil_server_files):
    """A server picks its certificate's names: printed raw, a newline in the CN would forge
    a `verified: yes` line in `tlskit connect --insecure` output, and ESC drive the terminal."""
    from tlskit.io import serve

    cert_file, key_file = evil_server_files
    with serve(certfile=cert_file, keyfile=key_file, timeout=10.0) as server:
        server.serve_in_background(lambda stream: None)
        host, port = server.address
        result = CliRunner().invoke(app, ["connect", f"{host}:{port}", "--insecure", "--servername", "localhost"])
    assert result.exit_code == 3, result.output
    _assert_no_injected_lines(result.stdout)
    assert "verified: NO (--insecure)" in result.stdout
    assert "evil\\nverified: yes\\x1b[31m\\u202e" in result.stdout


def test_ca_show_escapes_certificate_text(evil_server_files, tmp_path):
    result = CliRunner().invoke(app, ["ca", "show", str(evil_server_files[0]), "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    _assert_no_injected_lines(result.stdout)
    assert "Subject:      CN=evil\\nverified: yes" in result.stdout


@pytest.mark.parametrize("args", [["--providers", "nope"], ["--key-types", "dsa"], ["--only", "nope"]])
def test_bench_errors_use_the_common_error_line(args, capsys):
    code, out, err = run_main(["bench", *args], capsys)
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and err.startswith("error: ")


def test_warnings_are_one_line(capsys, monkeypatch, tmp_path):
    import warnings

    from tlskit.cli import ca_cmd

    def warn_then_fail(*args, **kwargs):
        warnings.warn("something odd\nacross lines", RuntimeWarning)
        raise ca_cmd.CAError("stop")

    monkeypatch.setattr(ca_cmd.CertificateAuthority, "load", warn_then_fail)
    original = warnings.showwarning
    try:
        code, out, err = run_main(["ca", "list", "--dir", str(tmp_path)], capsys)
    finally:
        warnings.showwarning = original
    assert code == 1
    assert err.splitlines() == ["error: stop", "warning: something odd across lines"]


def _lazily_broken_certificates(count: int = 30) -> list[bytes]:
    """Mutated DER that cryptography loads but whose fields fail when read (it parses lazily)."""
    import random
    import warnings

    import pki_factory as f
    from cryptography import x509

    chain = f.chain(1, tag=" lazy")
    sources = [chain.leaf.der, chain.intermediates[0].der]
    rng = random.Random(7)
    found: list[bytes] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(200000):
            data = bytearray(rng.choice(sources))
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            try:
                cert = x509.load_der_x509_certificate(bytes(data))
            except Exception:
                continue
            try:
                cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), list(cert.extensions)
                cert.not_valid_before_utc, cert.not_valid_after_utc
            except Exception:
                found.append(bytes(data))
                if len(found) == count:
                    break
    assert found
    return found


def test_presenters_survive_certificates_whose_fields_fail_lazily():
    """With --insecure (or insecure=True) nothing validated the peer's certificate, and
    `ca show` takes any file: reading a field may raise ValueError/DuplicateExtension."""
    import warnings

    from cryptography import x509

    from tlskit.ca.inspect import describe
    from tlskit.cli.net_cmd import _certificate_fields
    from tlskit.io._common import peercert_dict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for der in _lazily_broken_certificates():
            text = describe(x509.load_der_x509_certificate(der))
            assert "unparsable" in text
            assert isinstance(peercert_dict(der), dict)
            assert _certificate_fields(der)["sha256"]
