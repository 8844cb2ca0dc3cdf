"""Hostile and broken input: every failure is a one-line CAError (or a pki CertificateError),
never a stray ValueError/IndexError/sqlite3 traceback, and never a partial file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ca_support import damaged_ca
from tlskit.ca import CAError, CertificateAuthority
from tlskit.ca.csr import parse_csr
from tlskit.ca.profiles import file_stem, parse_san
from tlskit.cli.main import app
from tlskit.errors import TLSError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def shared_ca(tmp_path_factory):
    ca = CertificateAuthority.init(tmp_path_factory.mktemp("hostile") / "ca")
    ca.issue("existing.test")
    return ca


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text


@FAST
@given(st.text(max_size=80))
def test_parse_san_accepts_or_raises_caerror(text):
    try:
        name = parse_san(text)
    except CAError as exc:
        _one_line(exc)
    else:
        # Whatever is accepted must be encodable in a certificate.
        from cryptography import x509

        x509.SubjectAlternativeName([name]).public_bytes()


@pytest.mark.parametrize(
    "text",
    ["a.te\nst", "evil\x00.test", "IP:fe80::1%eth0", "email:a@b\x00", "URI:http://x\x01", "*.com", "a..b", "-a.test",
     "x" * 64 + ".test", "DNS:*.*.test", "ü.test"],
)
def test_parse_san_edge_cases(text):
    if text == "ü.test":
        assert parse_san(text).value == "xn--tda.test"
        return
    with pytest.raises(CAError):
        parse_san(text)


@pytest.mark.parametrize("name", ["a\n", "../x", "/etc/passwd", ".hidden", "a/b", "a..b", "", "x" * 200, "nul\x00"])
def test_file_stem_rejects_paths(name):
    with pytest.raises(CAError):
        file_stem(name)


@FAST
@given(st.binary(max_size=400))
def test_parse_csr_garbage(data):
    with pytest.raises(CAError) as info:
        parse_csr(data)
    _one_line(info.value)


@FAST
@given(st.text(max_size=60))
def test_issue_with_arbitrary_names_and_sans(shared_ca, tmp_path_factory, text):
    out = tmp_path_factory.mktemp("arbitrary")
    try:
        shared_ca.issue(text, sans=[text] if text.strip() else None, profile="client", out_dir=out)
    except CAError as exc:
        _one_line(exc)
        assert list(out.iterdir()) == []


@FAST
@given(st.text(max_size=60))
def test_revoke_lookup_with_arbitrary_text(shared_ca, text):
    if text.strip() == "existing.test":
        return
    try:
        shared_ca.revoke(text + "\x00" if text.strip() else text)
    except CAError as exc:
        _one_line(exc)


@pytest.mark.parametrize(
    "victim, content",
    [
        ("root.crt", b"not a certificate"),
        ("intermediate.crt", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ("intermediate.key", b"garbage"),
        ("intermediate.key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        ("index.sqlite", b"SQLite format 3\x00" + b"\xff" * 200),
        ("index.sqlite", b""),
        ("ca.json", b'{"name": 1}'),
        ("ca.json", b"\xff\xfe"),
    ],
)
def test_damaged_ca_files_give_one_line_errors(tmp_path, victim, content):
    ca = CertificateAuthority.init(tmp_path / "ca")
    ca.issue("before.test")
    (ca.directory / victim).write_bytes(content)
    operations = [
        lambda c: c.issue("after.test"),
        lambda c: c.list(),
        lambda c: c.crl(),
        lambda c: c.revoke("before.test"),
        lambda c: c.verify(ca.directory / "issued" / "before.test.crt"),
    ]
    failures = 0
    for operation in operations:
        try:
            operation(CertificateAuthority.load(ca.directory))
        except TLSError as exc:  # CAError or a pki CertificateError
            _one_line(exc)
            failures += 1
    assert failures >= 1


def test_wrong_key_for_ca_certificate_is_detected(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    other = CertificateAuthority.init(tmp_path / "other")
    (ca.directory / "intermediate.key").write_bytes((other.directory / "intermediate.key").read_bytes())
    with pytest.raises(CAError, match="does not match the CA certificate"):
        CertificateAuthority.load(ca.directory).issue("x.test")


def test_out_dir_that_is_a_file(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CAError, match="output directory"):
        ca.issue("x.test", out_dir=tmp_path / "file")


def test_passphrase_never_written_or_echoed(tmp_path):
    secret = b"very-secret-passphrase-123"
    ca = CertificateAuthority.init(tmp_path / "ca", passphrase=secret)
    ca.issue("x.test")
    for path in ca.directory.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
    with pytest.raises(CAError) as info:
        CertificateAuthority.load(ca.directory, passphrase=b"wrong-" + secret).issue("y.test")
    assert secret.decode() not in str(info.value)


def test_csr_with_control_characters_in_common_name(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    ca = CertificateAuthority.init(tmp_path / "ca")

    def csr(key, cn):
        return (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )

    with pytest.raises(CAError, match="printable"):
        ca.sign_csr(csr(ec.generate_private_key(ec.SECP256R1()), "evil\nname"), profile="client")
    with pytest.raises(CAError, match="too small"):
        ca.sign_csr(csr(rsa.generate_private_key(65537, 1024), "small.test"), profile="client")
    assert ca.list() == []


def test_index_from_a_newer_tlskit_is_refused(tmp_path):
    import sqlite3

    ca = CertificateAuthority.init(tmp_path / "ca")
    with sqlite3.connect(ca.directory / "index.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(CAError, match="newer tlskit"):
        CertificateAuthority.load(ca.directory)


def test_verify_checks_a_der_certificate_not_the_pem_text_it_carries(shared_ca, tmp_path):
    # Before: any input containing "-----BEGIN" was read as PEM, so a self-made DER
    # certificate carrying an issued certificate's PEM in an extension "verified".
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ObjectIdentifier

    from tlskit.pki import CertificateError

    carried = shared_ca.issue("carried.test").cert_path.read_bytes()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=carrier.test")
    now = datetime.datetime.now(datetime.timezone.utc)
    carrier = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), carried), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "carrier.der"
    path.write_bytes(carrier.public_bytes(serialization.Encoding.DER))
    with pytest.raises(CertificateError):
        shared_ca.verify(path)
    shared_ca.verify(carried)  # the carried certificate itself is fine


@pytest.mark.parametrize("content", [b"", b"\x30\x03\x02\x01", b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"])
def test_verify_with_unreadable_certificate_or_crl_is_a_caerror(shared_ca, tmp_path, content):
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    with pytest.raises(CAError) as info:
        shared_ca.verify(bad)
    _one_line(info.value)
    good = shared_ca.issue("crl-victim.test", out_dir=tmp_path).cert_path
    with pytest.raises(CAError) as info:
        shared_ca.verify(good, crl=bad)
    _one_line(info.value)


def test_der_csr_is_not_searched_for_pem(tmp_path):
    # A DER CSR is that request, even when an extension carries another request's PEM.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    def request(common_name, extra=None):
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        )
        if extra is not None:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.2"), extra), critical=False
            )
        return builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())

    inner = request("inner.test").public_bytes(serialization.Encoding.PEM)
    outer = request("outer.test", inner)
    assert parse_csr(outer.public_bytes(serialization.Encoding.DER)).common_name == "outer.test"
    assert parse_csr(outer.public_bytes(serialization.Encoding.PEM)).common_name == "outer.test"
    assert parse_csr(inner).common_name == "inner.test"


# -- a damaged index row, hostile or hand-edited: one-line CAError, `ca check` reports it --

DAMAGE = [
    "UPDATE certificates SET not_after = 'garbage'",
    "UPDATE certificates SET sans = '{['",
    "UPDATE certificates SET sans = '[1, 2]'",
    "UPDATE certificates SET sans = '\"DNS:x\"'",
    "UPDATE certificates SET subject = x'00'",  # TEXT columns hold blobs as they are
    "UPDATE certificates SET cert_pem = x'ff00'",
    "UPDATE certificates SET status = 'revoked', revoked_at = 'zz'",
    "UPDATE certificates SET key_path = x'2f'",
    "UPDATE certificates SET status = 'revoked', revoked_at = '2026-01-01T00:00:00Z', reason = 'bogus'",
    "UPDATE certificates SET serial = 'not-hex'",
]


@pytest.mark.parametrize("statement", DAMAGE)
def test_damaged_index_row_is_a_caerror(tmp_path, statement):
    ca = damaged_ca(tmp_path, statement)
    with pytest.raises(CAError) as info:
        ca.list()
    assert "damaged" in str(info.value) and "\n" not in str(info.value)
    for operation in (lambda: ca.find("victim.test"), lambda: ca.crl(), lambda: ca.renew("victim.test")):
        try:
            operation()
        except CAError:
            pass
    problems = ca.check()
    assert problems and any("damaged" in p for p in problems)


@pytest.mark.parametrize("statement", DAMAGE)
def test_cli_reports_damaged_index_in_one_line(tmp_path, statement):
    ca = damaged_ca(tmp_path, statement)
    runner = CliRunner()
    for args in (["list"], ["show", "victim.test"], ["crl"], ["renew", "victim.test"], ["revoke", "victim.test"],
                 ["check"]):
        result = runner.invoke(app, ["ca", *args, "--dir", str(ca.directory)])
        # Commands that do not read the damaged row may succeed; none may show a traceback.
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        if result.exit_code == 0:
            continue
        error_lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(error_lines) == 1, (args, result.stderr)
    for args in (["list"], ["check"]):
        assert runner.invoke(app, ["ca", *args, "--dir", str(ca.directory)]).exit_code == 1


def test_renew_with_unreadable_stored_certificate_is_a_caerror(tmp_path):
    ca = damaged_ca(tmp_path, "UPDATE certificates SET cert_pem = 'not a certificate'")
    with pytest.raises(CAError, match="no readable certificate"):
        ca.renew("victim.test")
    assert any("does not parse" in p for p in ca.check())


def test_renew_with_damaged_profile_or_key_type_is_a_caerror(tmp_path):
    ca = damaged_ca(tmp_path, "UPDATE certificates SET profile = 'root'")
    with pytest.raises(CAError, match="profile"):
        ca.renew("victim.test")


def test_export_with_unreadable_stored_certificate_is_a_caerror(tmp_path):
    ca = damaged_ca(tmp_path, "UPDATE certificates SET cert_pem = 'not a certificate'")
    with pytest.raises(CAError, match="no readable certificate"):
        ca.export_p12("victim.test", tmp_path / "v.p12", b"pw")


def test_version_1_index_is_upgraded_when_opened(tmp_path):
    """An index written before `superseded_by` existed (schema 1) is migrated in place."""
    import sqlite3

    ca = CertificateAuthority.init(tmp_path / "ca")
    first = ca.issue("old.test")
    with sqlite3.connect(ca.directory / "index.sqlite") as conn:
        conn.execute("ALTER TABLE certificates DROP COLUMN superseded_by")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    reopened = CertificateAuthority.load(ca.directory)
    assert reopened.find("old.test")[0].status == "valid"
    renewed = reopened.renew("old.test")
    assert reopened.find(first.serial_hex)[0].superseded_by == renewed.serial_hex
    with sqlite3.connect(ca.directory / "index.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
