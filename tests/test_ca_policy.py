"""The CA's policy: name constraints (DNS, IP ranges, email, URI) enforced when issuing and
written into the CA certificates, and PKCS#12 encodings (modern, legacy, unencrypted)."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from typer.testing import CliRunner

from ca_support import make_csr
from tlskit.ca import CAError, CertificateAuthority, NamePolicy
from tlskit.cli.main import app

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")


@pytest.fixture(scope="module")
def constrained(tmp_path_factory):
    policy = NamePolicy.build(
        permit_dns=["corp.test", ".svc.test"],
        exclude_dns=["secret.corp.test"],
        permit_ip=["10.0.0.0/8", "fd00::/8"],
        exclude_ip=["10.9.0.0/16"],
        permit_email=["corp.test", ".mail.test", "boss@other.test"],
        exclude_email=["ceo@corp.test"],
        permit_uri=[".corp.test"],
    )
    return CertificateAuthority.init(tmp_path_factory.mktemp("policy") / "ca", name_constraints=policy)


@pytest.mark.parametrize(
    "sans, profile",
    [
        (["corp.test"], "server"),
        (["a.b.corp.test", "*.b.corp.test"], "server"),
        (["api.svc.test", "*.svc.test"], "server"),
        (["IP:10.1.2.3", "IP:fd00::1"], "server"),
        (["email:bob@corp.test", "email:x@eu.mail.test", "email:boss@other.test"], "email"),
        (["URI:https://app.corp.test/path,with,commas"], "client"),
    ],
)
def test_names_inside_the_policy_are_issued(constrained, tmp_path, sans, profile):
    issued = constrained.issue("svc_label", sans=sans, profile=profile, out_dir=tmp_path)
    assert issued.certificate


@pytest.mark.parametrize(
    "san, message",
    [
        ("svc.test", "outside"),  # .svc.test: only names below it
        ("other.test", "outside"),
        ("secret.corp.test", "excluded"),
        ("x.secret.corp.test", "excluded"),
        ("*.corp.test", "excluded"),  # a wildcard that could stand for secret.corp.test
        ("IP:10.9.1.1", "excluded"),
        ("IP:192.168.1.1", "outside"),
        ("IP:fe80::1", "outside"),
        ("email:ceo@corp.test", "excluded"),
        ("email:x@sub.corp.test", "outside"),  # corp.test: that host only (RFC 5280)
        ("email:x@mail.test", "outside"),
        ("URI:https://corp.test/", "outside"),  # .corp.test: hosts below only
        ("URI:urn:uuid:1234", "outside"),  # no host cannot satisfy a URI constraint
    ],
)
def test_names_outside_the_policy_are_refused_at_issuance(constrained, tmp_path, san, message):
    with pytest.raises(CAError, match=message):
        constrained.issue("svc_label", sans=[san], profile="client", out_dir=tmp_path)
    with pytest.raises(CAError, match=message):
        constrained.sign_csr(make_csr(cn="svc_label", sans=()), sans=[san], profile="client")


def test_constraints_are_written_into_both_ca_certificates(constrained):
    for cert in (constrained.root_certificate, constrained.intermediate_certificate):
        ext = cert.extensions.get_extension_for_class(x509.NameConstraints)
        assert ext.critical
        permitted = ext.value.permitted_subtrees
        assert x509.DNSName("corp.test") in permitted and x509.DNSName("svc.test") in permitted
        assert x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")) in permitted
        assert x509.RFC822Name(".mail.test") in permitted
        assert x509.UniformResourceIdentifier(".corp.test") in permitted
        assert x509.DNSName("secret.corp.test") in ext.value.excluded_subtrees


@needs_openssl
def test_openssl_enforces_the_constraints_in_the_certificates(constrained, tmp_path):
    """A leaf the CA would refuse, forged with the intermediate key, fails `openssl verify`:
    the constraints live in the chain, not only in the CA's code."""
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key((constrained.directory / "intermediate.key").read_bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)

    def forge(name):
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(constrained.intermediate_certificate.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([name]), critical=True)
            .sign(key, hashes.SHA256())
        )
        path = tmp_path / "forged.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return subprocess.run(
            ["openssl", "verify", "-CAfile", str(constrained.root_path), "-untrusted",
             str(constrained.intermediate_path), str(path)],
            capture_output=True, text=True,
        )

    assert forge(x509.DNSName("ok.corp.test")).returncode == 0
    for name in (x509.DNSName("evil.test"), x509.DNSName("secret.corp.test"),
                 x509.IPAddress(ipaddress.ip_address("10.9.0.1")), x509.RFC822Name("ceo@corp.test"),
                 x509.UniformResourceIdentifier("https://evil.test/")):
        result = forge(name)
        assert result.returncode != 0 and "violation" in result.stdout + result.stderr, name


def test_tlskit_pki_accepts_issued_certificates_under_constraints(constrained, tmp_path):
    issued = constrained.issue("www.corp.test", sans=["IP:10.0.0.1"], out_dir=tmp_path)
    constrained.verify(issued.chain_path, host="10.0.0.1")


def test_leading_dot_is_not_silently_dropped(tmp_path):
    # Before: --permit-dns .corp.test became corp.test, permitting corp.test itself.
    ca = CertificateAuthority.init(tmp_path / "ca", permit_dns=[".corp.test"])
    ca.issue("a.corp.test")
    with pytest.raises(CAError, match="outside"):
        ca.issue("corp.test")
    assert CertificateAuthority.load(ca.directory).policy.permit_dns == (".corp.test",)
    with pytest.raises(CAError, match="excluded DNS subtree covers the domain"):
        NamePolicy.build(exclude_dns=[".corp.test"])
    result = CliRunner().invoke(app, ["ca", "init", "--dir", str(tmp_path / "cli"), "--permit-dns", ".corp.test"])
    assert result.exit_code == 0 and "only names below" in result.stdout


@pytest.mark.parametrize(
    "field, value", [("permit_dns", "not a domain"), ("permit_ip", "10.0.0.1/8"), ("permit_email", "a@@b"),
                     ("permit_uri", "https://x.test/"), ("permit_ip", "")]
)
def test_bad_constraints_are_refused(field, value):
    with pytest.raises(CAError):
        NamePolicy.build(**{field: [value]})


def test_cli_init_with_every_constraint_kind(tmp_path):
    directory = tmp_path / "ca"
    result = CliRunner().invoke(app, [
        "ca", "init", "--dir", str(directory), "--permit-dns", "corp.test", "--exclude-dns", "x.corp.test",
        "--permit-ip", "10.0.0.0/8", "--exclude-ip", "10.1.0.0/16", "--permit-email", "corp.test",
        "--exclude-email", "a@corp.test", "--permit-uri", ".corp.test", "--exclude-uri", "x.corp.test",
    ])
    assert result.exit_code == 0, result.stderr
    assert "permitted ip: 10.0.0.0/8" in result.stdout and "excluded uri: x.corp.test" in result.stdout
    bad = CliRunner().invoke(app, ["ca", "issue", "evil.test", "--dir", str(directory)])
    assert bad.exit_code == 1 and "outside this CA's permitted names" in bad.stderr


def test_old_format_config_keeps_its_constraints(tmp_path):
    import json

    ca = CertificateAuthority.init(tmp_path / "ca", permit_dns=["corp.test"])
    config = json.loads((ca.directory / "ca.json").read_text())
    for key in ("name_constraints", "crl_url", "aia_url"):
        config.pop(key)
    config["format"] = 1
    (ca.directory / "ca.json").write_text(json.dumps(config))
    reloaded = CertificateAuthority.load(ca.directory)
    assert reloaded.policy.permit_dns == ("corp.test",)
    with pytest.raises(CAError, match="outside"):
        reloaded.issue("evil.test")


# -- PKCS#12 -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def p12_ca(tmp_path_factory):
    ca = CertificateAuthority.init(tmp_path_factory.mktemp("p12") / "ca")
    ca.issue("p12.test")
    return ca


def test_pkcs12_without_password(p12_ca, tmp_path):
    path = p12_ca.export_p12("p12.test", tmp_path / "open.p12", None)
    key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), None)
    assert cert.subject.rfc4514_string() == "CN=p12.test" and extra == [p12_ca.intermediate_certificate]


@needs_openssl
@pytest.mark.parametrize("legacy", [False, True])
def test_pkcs12_encryption_as_openssl_reads_it(p12_ca, tmp_path, legacy):
    path = p12_ca.export_p12("p12.test", tmp_path / "x.p12", b"pw", legacy=legacy)
    info = subprocess.run(
        ["openssl", "pkcs12", "-info", "-noout", "-passin", "pass:pw", "-in", str(path)]
        + (["-legacy"] if legacy else []),
        capture_output=True, text=True,
    )
    text = info.stdout + info.stderr
    assert info.returncode == 0, text
    if legacy:
        assert "pbeWithSHA1And3-KeyTripleDES-CBC" in text and "MAC: sha1" in text
    else:
        assert "AES-256-CBC" in text and "pbeWithSHA1And3" not in text
    key, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), b"pw")
    assert cert.subject.rfc4514_string() == "CN=p12.test"


def test_cli_pkcs12_flags(p12_ca, tmp_path):
    runner = CliRunner()
    d = ("--dir", str(p12_ca.directory))
    result = runner.invoke(app, ["ca", "export", "p12.test", *d, "--p12", str(tmp_path / "n.p12"), "--no-password"])
    assert result.exit_code == 0 and "(unencrypted)" in result.stdout
    (tmp_path / "pw").write_text("pw\n")
    result = runner.invoke(app, ["ca", "export", "p12.test", *d, "--p12", str(tmp_path / "l.p12"), "--legacy",
                                 "--password-file", str(tmp_path / "pw")])
    assert result.exit_code == 0 and "legacy 3DES/SHA-1" in result.stdout
    result = runner.invoke(app, ["ca", "export", "p12.test", *d, "--p12", str(tmp_path / "x.p12"), "--legacy",
                                 "--no-password"])
    assert result.exit_code == 1 and "legacy PKCS#12 encryption needs a password" in result.stderr
    # without any password source, the message names --no-password
    result = runner.invoke(app, ["ca", "export", "p12.test", *d, "--p12", str(tmp_path / "y.p12")],
                           env={"TLSKIT_P12_PASSWORD": ""})
    assert result.exit_code == 1 and "--no-password" in result.stderr
