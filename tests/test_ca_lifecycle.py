"""A certificate's life after issuance: renewal supersedes, ambiguous names are refused,
verification consults the CA's own revocations, short validities and `renew --before`."""

from __future__ import annotations

import datetime
import warnings

import pytest
from cryptography import x509
from typer.testing import CliRunner

from tlskit.ca import CAError, CAWarning, CertificateAuthority
from tlskit.cli.main import app
from tlskit.pki import CertificateError


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority.init(tmp_path / "ca")


def _cli(*args):
    return CliRunner().invoke(app, ["ca", *args])


def test_renew_marks_the_old_certificate_superseded(ca):
    first = ca.issue("svc.test")
    second = ca.renew("svc.test")
    third = ca.renew("svc.test")
    records = {r.serial: r for r in ca.list()}
    # Before: three "valid" rows for one name.
    assert records[first.serial_hex].status == "superseded"
    assert records[first.serial_hex].superseded_by == second.serial_hex
    assert records[second.serial_hex].superseded_by == third.serial_hex
    assert [r.status for r in ca.list()].count("valid") == 1
    assert ca.resolve("svc.test").serial == third.serial_hex
    assert ca.check() == []
    listing = _cli("list", "--dir", str(ca.directory)).stdout
    assert listing.count("\tsuperseded") == 2


def test_ambiguous_names_are_refused_with_candidates(ca, tmp_path):
    a = ca.issue("twin.test", out_dir=tmp_path / "a")
    b = ca.issue("twin.test", out_dir=tmp_path / "b")
    for operation in (lambda: ca.renew("twin.test"), lambda: ca.export_p12("twin.test", tmp_path / "t.p12", b"pw")):
        with pytest.raises(CAError) as info:
            operation()
        message = str(info.value)
        assert "2 current certificates are named 'twin.test'" in message
        assert a.serial_hex in message and b.serial_hex in message and "Give the serial" in message
    shown = _cli("show", "twin.test", "--dir", str(ca.directory))
    assert shown.exit_code == 1 and a.serial_hex in shown.stderr
    # the serial picks one
    renewed = ca.renew(a.serial_hex)
    assert renewed.cert_path == a.cert_path
    assert a.serial_hex in _cli("show", a.serial_hex, "--dir", str(ca.directory)).stdout


def test_verify_consults_the_cas_own_revocations(ca):
    issued = ca.issue("rev.test")
    ca.verify(issued.chain_path, host="rev.test")
    ca.revoke("rev.test", reason="key-compromise")
    # Before: only a CRL passed with --crl made verify notice.
    with pytest.raises(CertificateError, match="revoked by this CA .*key-compromise"):
        ca.verify(issued.chain_path)


def test_renew_of_a_csr_signed_certificate_keeps_the_requesters_key(ca, tmp_path):
    from ca_support import make_csr

    ca.sign_csr(make_csr(cn="csr.test", sans=("csr.test",)), out=tmp_path / "csr.crt")
    result = _cli("renew", "csr.test", "--dir", str(ca.directory))
    assert result.exit_code == 0, result.stderr
    # Before: "key: None".
    assert "None" not in result.stdout and "held by the requester" in result.stdout


def test_issue_prints_names_and_expiry(ca):
    result = _cli("issue", "localhost", "--dir", str(ca.directory), "--san", "127.0.0.1", "--days", "10")
    assert result.exit_code == 0, result.stderr
    expiry = ca.resolve("localhost").not_after
    assert f"valid until {expiry:%Y-%m-%d %H:%M} UTC" in result.stdout
    assert "names: DNS:localhost, IP:127.0.0.1" in result.stdout


def test_validity_cut_at_the_ca_expiry_is_said(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", days=30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        issued = ca.issue("short.test", days=90)
    messages = [str(w.message) for w in caught if issubclass(w.category, CAWarning)]
    assert len(messages) == 1 and "validity cut to the CA's own expiry" in messages[0]
    assert issued.certificate.not_valid_after_utc <= ca.root_certificate.not_valid_after_utc
    result = _cli("issue", "cut.test", "--dir", str(ca.directory), "--days", "60")
    assert result.exit_code == 0 and "warning: validity cut" in result.stderr


def test_minutes_long_certificates(ca):
    issued = ca.issue("brief.test", duration="15m")
    cert = issued.certificate
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=14) < lifetime <= datetime.timedelta(minutes=15)
    with pytest.raises(CAError, match="days or as a duration"):
        ca.issue("both.test", days=1, duration="1h")
    for bad in ("0m", "15x", "", "1m1", "-5m", "200000d"):
        with pytest.raises(CAError):
            ca.issue("bad.test", duration=bad)
    renewed = ca.renew("brief.test")  # the same short lifetime again
    assert renewed.certificate.not_valid_after_utc - renewed.certificate.not_valid_before_utc < datetime.timedelta(
        minutes=21
    )
    result = _cli("issue", "cli-brief.test", "--dir", str(ca.directory), "--duration", "2h")
    assert result.exit_code == 0, result.stderr


def test_renew_before_renews_only_what_is_due(ca):
    due = ca.issue("due.test", duration="15m")
    fresh = ca.issue("fresh.test", days=90)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=12)
    assert [r.serial for r in ca.due_for_renewal(1 / 3, now=later)] == [due.serial_hex]
    results = ca.renew_due(1 / 3, now=later)
    assert [r.record.serial for r in results] == [due.serial_hex] and results[0].issued is not None
    assert ca.resolve("fresh.test").serial == fresh.serial_hex
    # Nothing is due right after issuance: exit 3 tells cron nothing changed.
    nothing = _cli("renew", "--before", "1/3", "--dir", str(ca.directory))
    assert nothing.exit_code == 3 and "nothing due" in nothing.stdout


def test_cli_renew_before_exit_codes(tmp_path):
    directory = tmp_path / "ca"
    ca = CertificateAuthority.init(directory)
    ca.issue("a.test", duration="1m")
    # 1 minute lifetime, 5 minutes of backdating: already inside the last third.
    result = _cli("renew", "--before", "90%", "--dir", str(directory))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("renewed a.test")
    bad = _cli("renew", "--before", "3/2", "--dir", str(directory))
    assert bad.exit_code == 1 and "between 0 and 1" in bad.stderr
    assert _cli("renew", "a.test", "--before", "1/3", "--dir", str(directory)).exit_code == 1


def test_renew_expired_certificate_is_allowed(ca, monkeypatch):
    issued = ca.issue("old.test", duration="1m")
    from tlskit.ca import authority

    real = authority._now
    monkeypatch.setattr(authority, "_now", lambda: real() + datetime.timedelta(minutes=3))
    assert ca.resolve("old.test").status_at(real() + datetime.timedelta(minutes=3)) == "expired"
    renewed = ca.renew("old.test")
    assert renewed.serial != issued.serial
    assert isinstance(renewed.certificate, x509.Certificate)


def test_renew_before_leaves_certificates_without_files_to_their_requester(ca):
    from ca_support import make_csr

    ca.sign_csr(make_csr(cn="stdout.test", sans=("stdout.test",)), duration="1m")  # chain went to the caller only
    ca.issue("files.test", duration="1m")
    assert [r.name for r in ca.due_for_renewal(0.9)] == ["files.test"]
