"""The CA library: init/load/issue/sign/revoke/renew/export and their input checks."""

from __future__ import annotations

import os
import stat
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlskit.ca import CAError, CAWarning, CertificateAuthority
from tlskit.errors import TLSError


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority.init(tmp_path / "ca")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_creates_root_and_intermediate_with_ca_profiles(ca):
    root = x509.load_pem_x509_certificate(ca.root_pem())
    inter = ca.intermediate_certificate
    assert root.subject.rfc4514_string() == "CN=tlskit Root CA"
    assert inter.subject.rfc4514_string() == "CN=tlskit Intermediate CA"
    root_bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    inter_bc = inter.extensions.get_extension_for_class(x509.BasicConstraints)
    assert root_bc.critical and root_bc.value.ca and root_bc.value.path_length == 1
    assert inter_bc.value.ca and inter_bc.value.path_length == 0
    ku = inter.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    aki = inter.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    inter.verify_directly_issued_by(root)
    for key_file in ("root.key", "intermediate.key"):
        assert _mode(ca.directory / key_file) == 0o600


def test_init_without_intermediate_issues_from_root(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", intermediate=False, key_type="ed25519")
    assert ca.intermediate_path is None
    issued = ca.issue("example.test")
    issued.certificate.verify_directly_issued_by(ca.root_certificate)
    bc = ca.root_certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.path_length == 0
    # The chain file is just the leaf when the root signs directly.
    assert issued.chain_path.read_bytes() == issued.cert_path.read_bytes()


def test_init_refuses_existing_ca_and_non_empty_directory(tmp_path):
    CertificateAuthority.init(tmp_path / "ca")
    with pytest.raises(CAError, match="already exists"):
        CertificateAuthority.init(tmp_path / "ca")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "file").write_text("x")
    with pytest.raises(CAError, match="not an empty directory"):
        CertificateAuthority.init(tmp_path / "other")
    assert (tmp_path / "other" / "file").read_text() == "x"


def test_init_into_existing_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    ca = CertificateAuthority.init(tmp_path / "empty")
    assert ca.root_path.is_file()
    # No staging directory is left next to it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_default_directory_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TLSKIT_CA_DIR", str(tmp_path / "envca"))
    ca = CertificateAuthority.init(tmp_path / "envca")
    assert CertificateAuthority.load().root_pem() == ca.root_pem()


def test_library_init_needs_a_directory(tmp_path, monkeypatch):
    # Before: init() with no directory created a persistent CA under the user's data directory.
    monkeypatch.setenv("TLSKIT_CA_DIR", str(tmp_path / "envca"))
    with pytest.raises(CAError, match="needs a directory"):
        CertificateAuthority.init(None)
    assert not (tmp_path / "envca").exists()


def test_cae_error_is_a_tls_error():
    assert issubclass(CAError, TLSError)


def test_issue_writes_key_cert_chain_with_server_profile(ca):
    issued = ca.issue("localhost", sans=["localhost", "127.0.0.1", "::1"])
    assert issued.key_path.name == "localhost.key" and _mode(issued.key_path) == 0o600
    cert = x509.load_pem_x509_certificate(issued.cert_path.read_bytes())
    assert cert == issued.certificate and cert.serial_number == issued.serial
    chain = x509.load_pem_x509_certificates(issued.chain_path.read_bytes())
    assert chain == [cert, ca.intermediate_certificate]
    assert cert.serial_number.bit_length() >= 128 - 8  # 159 random bits; top bits may be zero
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = serialization.load_pem_private_key(issued.key_path.read_bytes(), None)
    assert key.public_key() == cert.public_key()


def test_issue_defaults_san_to_host_like_name(ca):
    cert = ca.issue("api.example.test").certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.example.test"]
    ip = ca.issue("10.0.0.1").certificate
    san = ip.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v) for v in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]


def test_client_name_that_is_an_email_becomes_email_san(ca):
    cert = ca.issue("alice@example.test", profile="client").certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["alice@example.test"]


def test_client_profile_allows_no_san_and_email_uri(ca):
    cert = ca.issue("batch_job", profile="client").certificate
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    both = ca.issue(
        "svc", profile="both", sans=["email:svc@example.test", "spiffe://example.test/svc", "DNS:svc.test"]
    ).certificate
    san = both.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["svc@example.test"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.test/svc"]
    assert list(both.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sans=["bad_host!"]), "bad DNS name"),
        (dict(sans=["IP:300.1.1.1"]), "bad IP address"),
        (dict(sans=["email:no-at-sign"]), "bad email"),
        (dict(sans=["DNS:"]), "empty value"),
        (dict(key_type="dsa-1024"), "unknown key type"),
        (dict(profile="admin"), "unknown profile"),
        (dict(days=0), "between 1 and 36500"),
    ],
)
def test_issue_rejects_bad_input_without_partial_files(ca, tmp_path, kwargs, message):
    out = tmp_path / "out"
    with pytest.raises(CAError, match=message):
        ca.issue("web.test", out_dir=out, **kwargs)
    assert not out.exists() or list(out.iterdir()) == []
    assert ca.list() == []


def test_refusals_create_no_output_directory(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", passphrase=b"pw")
    locked = CertificateAuthority.load(ca.directory, passphrase=b"wrong")
    with pytest.raises(CAError, match="wrong passphrase"):
        locked.issue("a.test", out_dir=tmp_path / "out1")
    with pytest.raises(CAError, match="at least one subject alternative name"):
        ca.issue("no_san", out_dir=tmp_path / "out2")
    with pytest.raises(CAError, match="common name must be"):
        ca.issue("x" * 65 + ".test", profile="client", sans=["DNS:a.test"], out_dir=tmp_path / "out3")
    assert not any((tmp_path / f"out{i}").exists() for i in (1, 2, 3))


def test_issue_rejects_unusable_names(ca):
    with pytest.raises(CAError, match="file name"):
        ca.issue("../escape", profile="client")
    with pytest.raises(CAError, match="at least one subject alternative name"):
        ca.issue("not_a_host_name")


def test_wildcard_name_gets_safe_file_name(ca):
    issued = ca.issue("*.example.test")
    assert issued.cert_path.name == "wildcard.example.test.crt"
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["*.example.test"]


def test_issue_refuses_to_overwrite_without_force(ca, tmp_path):
    first = ca.issue("web.test", out_dir=tmp_path)
    before = first.key_path.read_bytes()
    with pytest.raises(CAError, match="already exists"):
        ca.issue("web.test", out_dir=tmp_path)
    assert first.key_path.read_bytes() == before
    second = ca.issue("web.test", out_dir=tmp_path, force=True)
    assert second.key_path.read_bytes() != before
    assert _mode(second.key_path) == 0o600
    assert len(ca.list()) == 2


def test_serials_unique_and_recorded(ca):
    serials = {ca.issue(f"h{i}.test").serial for i in range(10)}
    assert len(serials) == 10
    assert {r.serial_number for r in ca.list()} == serials


def test_list_records_fields(ca):
    issued = ca.issue("web.test", sans=["web.test", "127.0.0.1"], days=30)
    (record,) = ca.list()
    assert record.serial == format(issued.serial, "x")
    assert record.name == "web.test" and record.subject == "CN=web.test"
    assert record.sans == ("DNS:web.test", "IP:127.0.0.1")
    assert record.status == "valid" and record.profile == "server" and record.key_type == "ecdsa-p256"
    assert 29 <= (record.not_after - record.not_before).days <= 30
    assert record.cert_path == issued.cert_path


def test_passphrase_encrypts_ca_keys(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", passphrase=b"correct horse")
    pem = (ca.directory / "intermediate.key").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert b"correct horse" not in pem
    ca.issue("a.test")
    with pytest.raises(CAError, match="encrypted"):
        CertificateAuthority.load(tmp_path / "ca").issue("b.test")
    with pytest.raises(CAError, match="wrong passphrase"):
        CertificateAuthority.load(tmp_path / "ca", passphrase=b"wrong").issue("b.test")
    # Reading needs no passphrase.
    assert len(CertificateAuthority.load(tmp_path / "ca").list()) == 1
    CertificateAuthority.load(tmp_path / "ca", passphrase="correct horse").issue("b.test")


def test_load_warns_on_loose_key_permissions(ca):
    os.chmod(ca.directory / "root.key", 0o644)
    with pytest.warns(CAWarning, match="loose permissions 0644"):
        CertificateAuthority.load(ca.directory)


def test_load_without_ca_is_clear(tmp_path):
    with pytest.raises(CAError, match="no CA in"):
        CertificateAuthority.load(tmp_path / "nothing")


def test_damaged_config_is_clear(ca):
    (ca.directory / "ca.json").write_text("{not json")
    with pytest.raises(CAError, match="damaged"):
        CertificateAuthority.load(ca.directory)


def test_expired_ca_refuses_to_issue(ca, monkeypatch):
    import datetime

    from tlskit.ca import authority

    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=4000)
    monkeypatch.setattr(authority, "_now", lambda: future)
    with pytest.raises(CAError, match="expired"):
        ca.issue("late.test")


def test_leaf_never_outlives_the_ca(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", days=10)
    with pytest.warns(CAWarning, match="validity cut"):
        cert = ca.issue("a.test", days=90).certificate
    assert cert.not_valid_after_utc <= ca.intermediate_certificate.not_valid_after_utc


def test_name_constraints_added_and_enforced(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", permit_dns=["example.test"])
    nc = ca.intermediate_certificate.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical
    assert nc.value.permitted_subtrees == [x509.DNSName("example.test")]
    ca.issue("www.example.test")
    with pytest.raises(CAError, match="outside this CA's permitted"):
        ca.issue("evil.test")


def _csr(key, cn="csr.test", sans=("csr.test",), ca_true=False):
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), False)
    if ca_true:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_sign_csr_ignores_requested_extensions(ca, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    issued = ca.sign_csr(_csr(key, ca_true=True), out=tmp_path / "csr.crt")
    cert = issued.certificate
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.public_key() == key.public_key()
    assert issued.key_path is None
    assert (tmp_path / "csr.crt").read_bytes().count(b"BEGIN CERTIFICATE") == 1
    assert (tmp_path / "csr.chain.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert ca.list()[0].name == "csr.test"


def test_sign_csr_rejects_bad_signature_and_garbage(ca):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = _csr(key)
    der = x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER)
    tampered = der[:-3] + bytes([der[-3] ^ 1]) + der[-2:]
    with pytest.raises(CAError, match="self-signature|not a readable"):
        ca.sign_csr(tampered)
    with pytest.raises(CAError, match="not a readable"):
        ca.sign_csr(b"hello")
    with pytest.raises(CAError, match="not a readable"):
        ca.sign_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    assert ca.list() == []


def test_sign_csr_rejects_weak_keys(ca):
    key = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(CAError, match="unsupported elliptic curve"):
        ca.sign_csr(_csr(key))


def test_revoke_by_name_and_serial(ca):
    a = ca.issue("a.test")
    b = ca.issue("b.test")
    revoked = ca.revoke("a.test", reason="key-compromise")
    assert [r.serial_number for r in revoked] == [a.serial]
    assert revoked[0].status == "revoked" and revoked[0].reason == "key_compromise"
    ca.revoke(f"0x{b.serial:x}")
    assert {r.status for r in ca.list()} == {"revoked"}
    with pytest.raises(CAError, match="already revoked"):
        ca.revoke("a.test")
    with pytest.raises(CAError, match="no issued certificate"):
        ca.revoke("nobody")
    with pytest.raises(CAError, match="unknown revocation reason"):
        ca.revoke("a.test", reason="boredom")


def test_crl_lists_revoked_serials_and_increments_number(ca):
    a = ca.issue("a.test")
    ca.issue("b.test")
    ca.revoke("a.test", reason="superseded")
    crl = x509.load_pem_x509_crl(ca.crl(days=3))
    assert crl.is_signature_valid(ca.intermediate_certificate.public_key())
    assert [r.serial_number for r in crl] == [a.serial]
    entry = crl.get_revoked_certificate_by_serial_number(a.serial)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.superseded
    assert 2 <= (crl.next_update_utc - crl.last_update_utc).days <= 3
    first = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    again = x509.load_pem_x509_crl(ca.crl())
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == first + 1
    assert ca.crl_path.read_bytes() == again.public_bytes(serialization.Encoding.PEM)


def test_renew_keeps_key_and_files(ca):
    first = ca.issue("web.test", days=30)
    key_before = first.key_path.read_bytes()
    renewed = ca.renew("web.test")
    assert renewed.serial != first.serial
    assert renewed.key_path == first.key_path and first.key_path.read_bytes() == key_before
    assert renewed.certificate.public_key() == first.certificate.public_key()
    assert first.cert_path.read_bytes() == renewed.certificate.public_bytes(serialization.Encoding.PEM)
    assert [r.name for r in ca.list()] == ["web.test", "web.test"]
    rekeyed = ca.renew("web.test", rekey=True)
    assert first.key_path.read_bytes() != key_before
    assert rekeyed.certificate.public_key() != first.certificate.public_key()
    assert ca.check() == []


def test_renew_unknown_name(ca):
    with pytest.raises(CAError, match="no issued certificate has the name"):
        ca.renew("ghost.test")


def test_export_p12_round_trips(ca, tmp_path):
    issued = ca.issue("web.test")
    path = ca.export_p12("web.test", tmp_path / "web.p12", b"secret")
    assert _mode(path) == 0o600
    key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), b"secret")
    assert cert == issued.certificate and extra == [ca.intermediate_certificate]
    assert key.public_key() == issued.certificate.public_key()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(path.read_bytes(), b"wrong")
    with pytest.raises(CAError, match="non-empty password"):
        ca.export_p12("web.test", tmp_path / "x.p12", b"")
    with pytest.raises(CAError, match="already exists"):
        ca.export_p12("web.test", tmp_path / "web.p12", b"secret")


def test_check_detects_unindexed_published_certificate(ca, tmp_path):
    issued = ca.issue("web.test", out_dir=tmp_path)
    assert ca.check() == []
    # Pretend a certificate escaped without its index row.
    other = CertificateAuthority.init(tmp_path / "other").issue("web.test", out_dir=tmp_path / "o")
    issued.cert_path.write_bytes(other.cert_path.read_bytes())
    problems = ca.check()
    assert any("not in the index" in p for p in problems)
    assert any("does not match" in p for p in problems)


def test_no_warnings_for_a_fresh_ca(tmp_path):
    CertificateAuthority.init(tmp_path / "ca")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CertificateAuthority.load(tmp_path / "ca").issue("ok.test")


def test_names_with_rfc4514_special_characters(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca", name="Acme, Inc. Root CA")
    assert ca.name == "Acme, Inc. Root CA"
    inter_cn = ca.intermediate_certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert inter_cn == "Acme, Inc. Intermediate CA"
    ca.issue("web.test")
    renewed = ca.renew("web.test")
    assert renewed.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "web.test"


def test_sans_given_as_a_single_string(ca):
    cert = ca.issue("web.test", sans="DNS:web.test").certificate
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["web.test"]


def test_default_directory_falls_back_to_platformdirs(tmp_path, monkeypatch):
    import platformdirs

    from tlskit.ca import default_directory

    monkeypatch.delenv("TLSKIT_CA_DIR", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app: str(tmp_path / "data" / app))
    assert default_directory() == tmp_path / "data" / "tlskit" / "ca"


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



def test_ca_modules_import_no_cycle():
    """No module of tlskit.ca imports, even lazily or for type checking, one that imports it back
    (issue 10: check, export and verify used to reach into the authority)."""
    import ast
    import pathlib

    import tlskit.ca

    package = pathlib.Path(tlskit.ca.__file__).parent
    modules = {
        ".".join(("tlskit.ca", *path.relative_to(package).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in package.rglob("*.py")
    }
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from tlskit.ca import files`` imports the submodule; ``from tlskit.ca import
                # CAError`` runs the package's __init__ (which imports the authority).
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
