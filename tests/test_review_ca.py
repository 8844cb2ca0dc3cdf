"""Review findings in tlskit.ca and `tlskit ca`: a damaged index row, hostile or
hand-edited, gives a one-line CAError (and `ca check` reports it), never a traceback."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from tlskit.ca import CAError, CertificateAuthority
from tlskit.cli.main import app

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


def _damaged_ca(tmp_path, statement):
    ca = CertificateAuthority.init(tmp_path / "ca")
    ca.issue("victim.test")
    with sqlite3.connect(ca.directory / "index.sqlite") as conn:
        conn.execute(statement)
    return ca


@pytest.mark.parametrize("statement", DAMAGE)
def test_damaged_index_row_is_a_caerror(tmp_path, statement):
    ca = _damaged_ca(tmp_path, statement)
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
    ca = _damaged_ca(tmp_path, statement)
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
    ca = _damaged_ca(tmp_path, "UPDATE certificates SET cert_pem = 'not a certificate'")
    with pytest.raises(CAError, match="no readable certificate"):
        ca.renew("victim.test")
    assert any("does not parse" in p for p in ca.check())


def test_renew_with_damaged_profile_or_key_type_is_a_caerror(tmp_path):
    ca = _damaged_ca(tmp_path, "UPDATE certificates SET profile = 'root'")
    with pytest.raises(CAError, match="profile"):
        ca.renew("victim.test")


def test_crl_out_never_clobbers_a_file_that_is_not_a_crl(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    issued = ca.issue("victim.test")
    key_before = issued.key_path.read_bytes()
    # Before: crl(out=...) replaced any file, e.g. a private key given by mistake.
    with pytest.raises(CAError, match="not a CRL"):
        ca.crl(out=issued.key_path)
    assert issued.key_path.read_bytes() == key_before
    out = tmp_path / "ca.crl"
    first = ca.crl(out=out)
    second = ca.crl(out=out)  # republishing over an older CRL is the normal case
    assert out.read_bytes() == second != first
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    ca.crl(out=other, force=True)
    assert other.read_bytes().startswith(b"-----BEGIN X509 CRL-----")


def test_cli_crl_out_refuses_without_force(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    runner = CliRunner()
    result = runner.invoke(app, ["ca", "crl", "--dir", str(ca.directory), "--out", str(other)])
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and other.read_text() == "keep me"
    result = runner.invoke(app, ["ca", "crl", "--dir", str(ca.directory), "--out", str(other), "--force"])
    assert result.exit_code == 0


def test_export_with_unreadable_stored_certificate_is_a_caerror(tmp_path):
    ca = _damaged_ca(tmp_path, "UPDATE certificates SET cert_pem = 'not a certificate'")
    with pytest.raises(CAError, match="no readable certificate"):
        ca.export_p12("victim.test", tmp_path / "v.p12", b"pw")


def test_copied_ca_renews_its_own_files_not_the_originals(tmp_path):
    import shutil

    original = CertificateAuthority.init(tmp_path / "ca")
    issued = original.issue("victim.test")
    before = issued.cert_path.read_bytes()
    shutil.copytree(original.directory, tmp_path / "copy")
    copy = CertificateAuthority.load(tmp_path / "copy")
    record = copy.find("victim.test")[-1]
    assert record.cert_path == tmp_path / "copy" / "issued" / "victim.test.crt"
    # Before: the index held absolute paths, so the copy rewrote the original's files.
    renewed = copy.renew("victim.test")
    assert issued.cert_path.read_bytes() == before
    assert renewed.cert_path == tmp_path / "copy" / "issued" / "victim.test.crt"
    assert renewed.cert_path.read_bytes() != before
    assert copy.check() == [] and original.check() == []
    # the refusal to reuse a recorded file name still holds with relative storage
    with pytest.raises(CAError, match="already"):
        copy.issue("victim.test")


def test_files_outside_the_ca_directory_keep_absolute_paths(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    issued = ca.issue("outside.test", out_dir=tmp_path / "elsewhere")
    assert ca.find("outside.test")[-1].key_path == issued.key_path == tmp_path / "elsewhere" / "outside.test.key"
    for suffix in (".key", ".crt", ".chain.pem"):
        (tmp_path / "elsewhere" / f"outside.test{suffix}").unlink()
    with pytest.raises(CAError, match="belongs to an issued certificate"):
        ca.issue("outside.test", out_dir=tmp_path / "elsewhere")


@pytest.mark.parametrize("name", ["root", "intermediate"])
def test_force_never_replaces_the_cas_own_files(tmp_path, name):
    ca = CertificateAuthority.init(tmp_path / "ca")
    own = {p: p.read_bytes() for p in ca.directory.iterdir() if p.is_file() and p.name != "index.sqlite"}
    # Before: `tlskit ca issue root --out <CA dir> --force` replaced root.key and root.crt.
    with pytest.raises(CAError, match="CA's own files"):
        ca.issue(name, sans=["x.test"], out_dir=ca.directory, force=True)
    with pytest.raises(CAError, match="CA's own files"):
        ca.crl(out=ca.directory / "root.key", force=True)
    with pytest.raises(CAError, match="CA's own files"):
        ca.issue("ok.test")
        ca.export_p12("ok.test", ca.directory / "index.sqlite", b"pw", force=True)
    assert {p: p.read_bytes() for p in own} == own
    assert ca.check() == []
    ca.crl(out=ca.crl_path)  # the CA's own CRL file is where crl() writes anyway


def _csr(tmp_path, name="web.example"):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def test_sign_out_into_a_missing_directory_delivers_the_certificate(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    out = tmp_path / "new" / "dir" / "web.crt"
    # Before: signed and recorded, then "cannot write": a certificate nobody received,
    # and the recorded path blocked the retry.
    issued = ca.sign_csr(_csr(tmp_path), out=out)
    assert out.is_file() and issued.chain_path.is_file()
    assert ca.check() == []


def test_sign_out_naming_a_directory_is_refused_before_signing(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    (tmp_path / "d").mkdir()
    with pytest.raises(CAError, match="is a directory"):
        ca.sign_csr(_csr(tmp_path), out=tmp_path / "d", force=True)
    assert ca.list() == []


def test_crl_out_into_a_missing_directory_is_refused_before_a_crl_number_is_used(tmp_path):
    from cryptography import x509

    ca = CertificateAuthority.init(tmp_path / "ca")
    with pytest.raises(CAError, match="does not exist"):
        ca.crl(out=tmp_path / "missing" / "ca.crl")
    assert not ca.crl_path.exists()
    crl = x509.load_pem_x509_crl(ca.crl())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1


def test_trust_store_from_the_ca_validates_its_certificates(tmp_path):
    from tlskit.pki import verify_chain

    ca = CertificateAuthority.init(tmp_path / "ca")
    issued = ca.issue("svc.test")
    store = ca.trust_store()
    assert len(store) == 1
    path = verify_chain(issued.certificate, [ca.intermediate_certificate], store, server_name="svc.test")
    assert path.certificates[-1] == ca.root_certificate


@pytest.mark.parametrize("field", ["intermediate", "encrypted"])
def test_config_flags_must_be_json_booleans(tmp_path, field):
    import json

    ca = CertificateAuthority.init(tmp_path / "ca")
    config = json.loads((ca.directory / "ca.json").read_text())
    config[field] = "false"  # bool("false") is True
    (ca.directory / "ca.json").write_text(json.dumps(config))
    with pytest.raises(CAError, match="damaged"):
        CertificateAuthority.load(ca.directory)
