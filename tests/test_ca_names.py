"""Which names a certificate gets: --san taken whole, NAME kept, CSR names, the S/MIME
profile for email names, IP vs DNS, linear de-duplication with a documented cap."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ca_support import make_csr
from tlskit.ca import CAError, CertificateAuthority
from tlskit.ca.profiles import MAX_SANS, parse_san, parse_sans


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CertificateAuthority.init(tmp_path_factory.mktemp("names") / "ca")


def _sans(cert: x509.Certificate) -> list[x509.GeneralName]:
    return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def test_san_with_a_comma_is_one_uri_not_two_names(ca, tmp_path):
    # Before: the CLI split "URI:https://x.test/a,b" into a URI and DNS:b.
    issued = ca.issue("svc.test", sans=["URI:https://x.test/a,b"], profile="client", out_dir=tmp_path)
    assert x509.UniformResourceIdentifier("https://x.test/a,b") in _sans(issued.certificate)
    assert x509.DNSName("b") not in _sans(issued.certificate)
    with pytest.raises(CAError, match="its own --san"):
        parse_san("a.test,b.test")


def test_cli_takes_each_san_whole(tmp_path):
    from typer.testing import CliRunner

    from tlskit.cli.main import app

    directory = tmp_path / "ca"
    CertificateAuthority.init(directory)
    runner = CliRunner()
    result = runner.invoke(
        app, ["ca", "issue", "svc.test", "--dir", str(directory), "--client", "--san", "URI:https://x.test/a,b"]
    )
    assert result.exit_code == 0, result.stderr
    assert "URI:https://x.test/a,b" in result.stdout and "DNS:b" not in result.stdout
    bad = runner.invoke(app, ["ca", "issue", "two.test", "--dir", str(directory), "--san", "a.test,b.test"])
    assert bad.exit_code == 1 and "its own --san" in bad.stderr


def test_dns_prefix_on_an_ip_address_is_refused():
    with pytest.raises(CAError, match="is an IP address, not a DNS name: use IP:127.0.0.1"):
        parse_san("DNS:127.0.0.1")
    assert parse_san("IP:127.0.0.1") == x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))


def test_issue_keeps_name_next_to_explicit_sans(ca, tmp_path):
    # Before: `issue localhost --san 127.0.0.1` gave a certificate without "localhost".
    issued = ca.issue("localhost", sans=["127.0.0.1"], out_dir=tmp_path)
    names = _sans(issued.certificate)
    assert names[0] == x509.DNSName("localhost")
    assert len(names) == 2
    assert issued.sans == ["DNS:localhost", "IP:127.0.0.1"]


def test_san_deduplication_is_linear_and_capped():
    values = [f"h{i}.test" for i in range(MAX_SANS)] + ["h0.test", "DNS:h1.test"]
    with pytest.raises(CAError, match=f"limit of {MAX_SANS}"):
        parse_sans(values)  # the input counts: duplicates are work too
    names = parse_sans(values[: MAX_SANS - 5] + ["h0.test", "H1.TEST"])
    assert len(names) == MAX_SANS - 5 and names[0] == x509.DNSName("h0.test")
    with pytest.raises(CAError, match="more than the limit"):
        parse_sans(f"n{i}.test" for i in range(20_000))


def test_csr_with_too_many_sans_is_refused_quickly(ca):
    csr = make_csr(cn="big.test", sans=[f"n{i}.test" for i in range(MAX_SANS + 1)])
    with pytest.raises(CAError, match=f"limit of {MAX_SANS}"):
        ca.sign_csr(csr)


def test_sign_cn_only_csr_uses_the_cn(ca, tmp_path):
    # Before: "needs --san", an option sign did not have.
    issued = ca.sign_csr(make_csr(cn="cn-only.test", sans=()), out=tmp_path / "cn.crt")
    assert _sans(issued.certificate) == [x509.DNSName("cn-only.test")]


def test_sign_san_option_replaces_the_csr_names(ca, tmp_path):
    issued = ca.sign_csr(make_csr(cn="label", sans=()), sans=["api.test", "IP:10.0.0.1"], out=tmp_path / "x.crt")
    assert [str(n.value) for n in _sans(issued.certificate)] == ["api.test", "10.0.0.1"]
    with pytest.raises(CAError, match="--san"):
        ca.sign_csr(make_csr(cn="not a host", sans=()))


def test_cli_sign_has_san(tmp_path):
    from typer.testing import CliRunner

    from tlskit.cli.main import app

    directory = tmp_path / "ca"
    CertificateAuthority.init(directory)
    csr = tmp_path / "r.csr"
    csr.write_bytes(make_csr(cn="label", sans=()))
    result = CliRunner().invoke(app, ["ca", "sign", str(csr), "--dir", str(directory), "--san", "api.test",
                                      "--out", str(tmp_path / "r.crt")])
    assert result.exit_code == 0, result.stderr
    assert "names: DNS:api.test" in result.stdout
    assert "key:   (held by the requester" in result.stdout


def test_email_name_gets_the_smime_profile(ca, tmp_path):
    # Before: a serverAuth certificate with only an email SAN.
    issued = ca.issue("bob@example.com", out_dir=tmp_path)
    eku = issued.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert _sans(issued.certificate) == [x509.RFC822Name("bob@example.com")]
    assert ca.find("bob@example.com")[-1].profile == "email"
    # an explicit profile still wins
    client = ca.issue("carol@example.com", profile="client", out_dir=tmp_path)
    eku = client.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(CAError, match="S/MIME"):
        ca.issue("label", profile="email", out_dir=tmp_path)


def test_openssl_accepts_the_smime_certificate_for_smime(ca, tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    issued = ca.issue("dora@example.com", out_dir=tmp_path)
    for purpose, ok in (("smimesign", True), ("sslserver", False)):
        result = subprocess.run(
            ["openssl", "verify", "-purpose", purpose, "-CAfile", str(ca.root_path), "-untrusted",
             str(ca.intermediate_path), str(issued.cert_path)],
            capture_output=True, text=True,
        )
        assert (result.returncode == 0) is ok, (purpose, result.stdout, result.stderr)


def test_sha1_csr_is_named_as_sha1(ca, tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    # cryptography refuses to sign with SHA-1, so openssl makes the request.
    subprocess.run(
        ["openssl", "req", "-new", "-sha1", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=sha1.test", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "r.csr")],
        check=True, capture_output=True,
    )
    # Before: "the CSR's self-signature does not verify".
    with pytest.raises(CAError, match="signed with SHA1, which is too weak"):
        ca.sign_csr((tmp_path / "r.csr").read_bytes())


def test_file_with_two_csrs_is_refused(ca):
    with pytest.raises(CAError, match="holds 2 certificate signing requests"):
        ca.sign_csr(make_csr(cn="a.test", sans=("a.test",)) + make_csr(cn="b.test", sans=("b.test",)))
