"""`openssl verify` (OpenSSL 3, -x509_strict) agrees with verify_chain on generated chains
and on chains the tlskit CA issues (including CRL revocation)."""

from __future__ import annotations

import datetime
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import pki_factory as f
from tlskit.pki import CertificateError, verify_chain

OPENSSL = shutil.which("openssl")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed"),
]

NOW = f.NOW
DAY = datetime.timedelta(days=1)


def _pem(certs) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certs)


def openssl_verify(tmp_path, leaf, intermediates, anchors, *, name, usage="server", at=NOW, crls=()):
    (tmp_path / "leaf.pem").write_bytes(_pem([leaf]))
    (tmp_path / "ca.pem").write_bytes(_pem(anchors))
    args = [OPENSSL, "verify", "-x509_strict", "-CAfile", str(tmp_path / "ca.pem"),
            "-attime", str(int(at.timestamp())), "-purpose", "sslserver" if usage == "server" else "sslclient"]
    if intermediates:
        (tmp_path / "untrusted.pem").write_bytes(_pem(intermediates))
        args += ["-untrusted", str(tmp_path / "untrusted.pem")]
    if name is not None:
        args += ["-verify_ip" if ":" in name or name.replace(".", "").isdigit() else "-verify_hostname", name]
    if crls:
        (tmp_path / "crls.pem").write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in crls))
        args += ["-crl_check", "-CRLfile", str(tmp_path / "crls.pem")]
    args.append(str(tmp_path / "leaf.pem"))
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return result.returncode == 0, result.stdout + result.stderr


def tlskit_verify(leaf, intermediates, anchors, *, name, usage="server", at=NOW, crls=()):
    try:
        verify_chain(leaf, intermediates, anchors, server_name=name, usage=usage, at=at, crls=list(crls) or None)
        return True, ""
    except CertificateError as exc:
        return False, str(exc)


CASES = {
    "valid-p256": (dict(), {}),
    "valid-p384-depth2": (dict(depth=2, key_kind="p384"), {}),
    "valid-ed25519": (dict(key_kind="ed25519"), {}),
    "valid-rsa": (dict(key_kind="rsa2048"), {}),
    "valid-ip": (dict(leaf_kwargs={"sans": ["192.0.2.7"]}), {"name": "192.0.2.7"}),
    "valid-ipv6": (dict(leaf_kwargs={"sans": ["2001:db8::7"]}), {"name": "2001:db8::7"}),
    "valid-wildcard": (dict(leaf_kwargs={"sans": ["*.example.com"]}), {"name": "www.example.com"}),
    "wildcard-two-levels": (dict(leaf_kwargs={"sans": ["*.example.com"]}), {"name": "a.b.example.com"}),
    "valid-client": (dict(leaf_kwargs={"eku": [f.CLIENT]}), {"usage": "client", "name": None}),
    "wrong-name": (dict(), {"name": "other.example"}),
    "leaf-expired": (dict(leaf_kwargs={"not_after": NOW - DAY}), {}),
    "leaf-not-yet-valid": (dict(leaf_kwargs={"not_before": NOW + DAY}), {}),
    "ica-expired": (dict(intermediate_kwargs={"not_after": NOW - DAY}), {}),
    "root-expired": (dict(root_kwargs={"not_after": NOW - DAY}), {}),
    "ica-not-ca": (dict(intermediate_kwargs={"bc": x509.BasicConstraints(ca=False, path_length=None)}), {}),
    "ica-no-certsign": (dict(intermediate_kwargs={"key_usage": {"digital_signature": True}}), {}),
    "ica-pathlen-0-depth-2": (dict(depth=2, intermediate_kwargs={"path_length": 0}), {}),
    "root-pathlen-0-depth-2": (dict(depth=2, root_kwargs={"path_length": 0}), {}),
    "root-pathlen-1-depth-1": (dict(root_kwargs={"path_length": 1}), {}),
    "eku-client-for-server": (dict(leaf_kwargs={"eku": [f.CLIENT]}), {}),
    "eku-server-for-client": (dict(leaf_kwargs={"eku": [f.SERVER]}), {"usage": "client", "name": None}),
    "nc-permitted-ok": (dict(intermediate_kwargs={"permitted": ["example.com"]}), {}),
    "nc-permitted-other": (dict(intermediate_kwargs={"permitted": ["other.example"]}), {}),
    "nc-excluded": (dict(intermediate_kwargs={"excluded": ["example.com"]}), {}),
    "nc-ip-excluded": (dict(intermediate_kwargs={"excluded": ["192.0.2.0/24"]}, leaf_kwargs={"sans": ["192.0.2.7"]}),
                       {"name": "192.0.2.7"}),
    "leaf-unknown-critical": (dict(leaf_kwargs={"extra": [f.unknown_extension(True)]}), {}),
    "ica-unknown-critical": (dict(intermediate_kwargs={"extra": [f.unknown_extension(True)]}), {}),
    "missing-intermediate": (dict(), {"drop_intermediates": True}),
    "untrusted-root": (dict(), {"other_root": True}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_openssl_agrees(tmp_path, case):
    chain_kwargs, opts = dict(CASES[case][0]), dict(CASES[case][1])
    depth = chain_kwargs.pop("depth", 1)
    chain = f.chain(depth, tag=f" ossl {case}"[:30], **chain_kwargs)
    intermediates = [] if opts.pop("drop_intermediates", False) else chain.untrusted
    anchors = [f.issue("Unrelated Root", ca=True, slot=41).cert] if opts.pop("other_root", False) else [chain.root.cert]
    opts.setdefault("name", "example.com")
    ours, why_ours = tlskit_verify(chain.leaf.cert, intermediates, anchors, **opts)
    theirs, why_theirs = openssl_verify(tmp_path, chain.leaf.cert, intermediates, anchors, **opts)
    assert ours == theirs, f"tlskit={ours} ({why_ours}) openssl={theirs} ({why_theirs})"
    expected = case.startswith("valid") or case in {"nc-permitted-ok", "root-pathlen-1-depth-1"}
    assert ours == expected


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519"])
def test_ca_issued_chains_and_crl(tmp_path, key_type):
    from tlskit.ca import CertificateAuthority

    ca = CertificateAuthority.init(tmp_path / "ca", key_type=key_type)
    good = ca.issue("good.example", sans=["good.example", "127.0.0.1"], key_type=key_type, out_dir=tmp_path / "out")
    bad = ca.issue("bad.example", key_type=key_type, out_dir=tmp_path / "out")
    ca.revoke(bad.serial_hex)
    crl_bytes = ca.crl()
    crl = x509.load_pem_x509_crl(crl_bytes) if crl_bytes.startswith(b"-----") else x509.load_der_x509_crl(crl_bytes)
    root = ca.root_certificate
    inter = [ca.intermediate_certificate]
    now = datetime.datetime.now(datetime.timezone.utc)
    for name in ("good.example", "127.0.0.1"):
        assert tlskit_verify(good.certificate, inter, [root], name=name, at=now)[0]
        assert openssl_verify(tmp_path, good.certificate, inter, [root], name=name, at=now)[0]
    assert not tlskit_verify(good.certificate, inter, [root], name="bad.example", at=now)[0]
    assert not openssl_verify(tmp_path, good.certificate, inter, [root], name="bad.example", at=now)[0]
    # Revocation: the intermediate's CRL revokes "bad"; both verifiers agree on both leaves.
    for issued, expected in ((good, True), (bad, False)):
        ours = tlskit_verify(issued.certificate, inter, [root], name=None, at=now, crls=[crl])
        theirs = openssl_verify(tmp_path, issued.certificate, inter, [root], name=None, at=now, crls=[crl])
        assert ours[0] == theirs[0] == expected, (ours, theirs)


_PSS_EXTENSIONS = """
[v3_ca]
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
[v3_leaf]
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectAltName=DNS:example.com
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
extendedKeyUsage=serverAuth
"""


def test_rsassa_pss_key_root_uses_pss_pss_schemes(tmp_path):
    """An id-RSASSA-PSS root key (only OpenSSL makes those) maps to rsa_pss_pss_sha256."""
    from tlskit.providers import get_provider
    from tlskit.providers.base import Provider

    def run(*args):
        subprocess.run([OPENSSL, *args], cwd=tmp_path, check=True, capture_output=True, timeout=120)

    (tmp_path / "ext.cnf").write_text(_PSS_EXTENSIONS)
    run("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_pss_keygen_md:sha256",
        "-pkeyopt", "rsa_pss_keygen_mgf1_md:sha256", "-pkeyopt", "rsa_pss_keygen_saltlen:32", "-out", "root.key")
    run("req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=PSS Root", "-days", "30", "-config", "ext.cnf",
        "-extensions", "v3_ca", "-out", "root.pem")
    run("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "leaf.key")
    run("req", "-new", "-key", "leaf.key", "-subj", "/CN=example.com", "-out", "leaf.csr")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "7", "-days", "10",
        "-extfile", "ext.cnf", "-extensions", "v3_leaf", "-out", "leaf.pem")
    root = x509.load_pem_x509_certificate((tmp_path / "root.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate((tmp_path / "leaf.pem").read_bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    for name in ("cryptography", "pycryptodome"):
        real = get_provider(name)
        used: list[str] = []

        class Recording(dict):
            def get(self, scheme, default=None):
                used.append(scheme)
                return real.signature_schemes.get(scheme, default)

        recording = Provider(f"recording-{name}", real.cipher_suites, real.groups, Recording(real.signature_schemes),
                             real.key_loader, real.random_source)
        path = verify_chain(leaf, [], [root], server_name="example.com", at=now, provider=recording)
        assert path.anchor == root
        assert used == ["rsa_pss_pss_sha256"]
    assert openssl_verify(tmp_path, leaf, [], [root], name="example.com", at=now)[0]


def test_openssl_req_x509_self_signed_certificate_can_be_pinned(tmp_path):
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem",
         "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        cwd=tmp_path, check=True, capture_output=True, timeout=60,
    )
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca  # OpenSSL's default
    for name in ("localhost", "127.0.0.1"):
        assert tlskit_verify(cert, [], [cert], name=name, at=datetime.datetime.now(datetime.timezone.utc))[0]
    ok, why = tlskit_verify(cert, [], [], name="localhost", at=datetime.datetime.now(datetime.timezone.utc))
    assert not ok and "self-signed" in why
