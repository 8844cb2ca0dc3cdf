"""tlskit.ca.EphemeralCA: in-memory chains that OpenSSL (ssl module and command line),
tlskit.pki and tlskit's engine all accept; trustme-shaped accessors; temporary files."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import ssl
import stat
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

import tlskit
from tlskit.ca import KEY_TYPES, CAError, EphemeralCA
from tlskit.pki import verify_chain

OPENSSL = shutil.which("openssl")
TIMEOUT = 10.0
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")


@pytest.fixture(scope="module")
def ca() -> EphemeralCA:
    return EphemeralCA()


@pytest.fixture(scope="module")
def server_cert(ca):
    return ca.issue_cert("localhost", "127.0.0.1", "::1")


# -- what is issued -------------------------------------------------------------------


def test_issued_material_is_pem_bytes_in_memory(ca, server_cert):
    for blob in (server_cert.key_pem, server_cert.cert_pem, server_cert.chain_pem, ca.root_pem, ca.intermediate_pem):
        assert isinstance(blob, bytes)
    assert server_cert.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert server_cert.chain_pem == server_cert.cert_pem + ca.intermediate_pem
    assert server_cert.cert_chain_pems == [server_cert.cert_pem, ca.intermediate_pem]
    # trustme's names for the same things
    assert server_cert.private_key_pem == server_cert.key_pem
    assert server_cert.private_key_and_cert_chain_pem == server_cert.key_pem + server_cert.chain_pem
    assert ca.cert_pem == ca.root_pem
    assert ca.cert_pem.bytes() == bytes(ca.root_pem) and type(ca.cert_pem.bytes()) is bytes
    assert ca.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_repr_never_shows_a_private_key(ca, server_cert):
    for text in (repr(server_cert.key_pem), str(server_cert.key_pem), repr(ca.private_key_pem),
                 repr(server_cert.private_key_and_cert_chain_pem), repr(server_cert), repr(ca)):
        assert "PRIVATE" not in text and "MI" not in text


def test_default_shape_root_intermediate_leaf(ca, server_cert):
    root, (inter,) = ca.root_certificate, ca.intermediates
    leaf = server_cert.certificate
    assert root.issuer == root.subject and inter.issuer == root.subject and leaf.issuer == inter.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert inter.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # two CAs never share a subject name (issuers are looked up by name)
    assert EphemeralCA(intermediate=False).root_certificate.subject != root.subject


def test_ip_email_dns_and_uri_identities(ca):
    cert = ca.issue_cert("example.com", "*.example.com", "10.0.0.1", "2001:db8::1", "alice@example.com",
                         "URI:spiffe://example.com/alice", profile="both")
    sans = cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["example.com", "*.example.com"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("2001:db8::1")]
    assert sans.get_values_for_type(x509.RFC822Name) == ["alice@example.com"]
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.com/alice"]


def test_international_domain_name_becomes_an_a_label(ca):
    cert = ca.issue_cert("café.example")
    sans = cert.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["xn--caf-dma.example"]


def test_client_certificates(ca):
    plain = ca.issue_cert(client=True)
    eku = plain.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    alice = ca.issue_cert("alice@example.com", client=True)
    assert alice.certificate.subject.rfc4514_string() == "CN=alice@example.com"


@pytest.mark.parametrize(
    "names, options, message",
    [
        ((), {}, "needs at least one name"),
        (("bad name!",), {}, "bad DNS name"),
        (("fe80::1%eth0",), {}, "zone"),
        (("not@an@email",), {}, "bad email"),
        (("localhost",), {"profile": "everything"}, "unknown profile"),
        (("localhost",), {"key_type": "dsa-1024"}, "unknown key type"),
        (("localhost",), {"days": 0}, "validity"),
    ],
)
def test_bad_requests_are_ca_errors(ca, names, options, message):
    with pytest.raises(CAError, match=message):
        ca.issue_cert(*names, **options)


def test_a_name_must_be_a_string(ca):
    with pytest.raises(CAError, match="str"):
        ca.issue_cert(b"localhost")  # type: ignore[arg-type]


def test_bad_ca_options_are_ca_errors():
    with pytest.raises(CAError, match="unknown key type"):
        EphemeralCA(key_type="rsa-512")
    with pytest.raises(CAError, match="validity"):
        EphemeralCA(days=-1)
    with pytest.raises(CAError, match="timezone-aware"):
        EphemeralCA(now=datetime.datetime(2026, 6, 1))
    with pytest.raises(CAError, match="common name"):
        EphemeralCA(name="x" * 65)
    with pytest.raises(CAError, match="unsupported key algorithm"):
        EphemeralCA().issue_cert("localhost", key="not a key")  # type: ignore[arg-type]


def test_existing_key_is_certified(ca, server_cert):
    again = ca.issue_cert("other.example", key=server_cert.private_key)
    assert again.key_pem == server_cert.key_pem
    assert again.certificate.public_key() == server_cert.certificate.public_key()


def test_validity_is_bounded_by_the_issuer_and_follows_now():
    moment = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.timezone.utc)
    fixed = EphemeralCA(days=10, now=moment)
    leaf = fixed.issue_cert("localhost", days=365).certificate
    assert leaf.not_valid_after_utc == fixed.intermediates[0].not_valid_after_utc
    assert leaf.not_valid_before_utc < moment < leaf.not_valid_after_utc <= moment + datetime.timedelta(days=10)


def test_without_intermediate_the_root_issues(ca):
    flat = EphemeralCA(intermediate=False)
    cert = flat.issue_cert("localhost")
    assert flat.intermediate_pem is None and cert.chain_pem == cert.cert_pem
    assert cert.certificate.issuer == flat.root_certificate.subject


# -- temporary files ------------------------------------------------------------------


def test_tempfiles_exist_inside_the_block_and_are_removed_after(server_cert, ca):
    with server_cert.tempfiles() as paths:
        assert paths.key.read_bytes() == server_cert.key_pem
        assert paths.chain.read_bytes() == server_cert.chain_pem
        assert paths.cert.read_bytes() == server_cert.cert_pem
        assert paths.root.read_bytes() == ca.root_pem
        assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.key.parent.stat().st_mode) == 0o700
        directory = paths.key.parent
    assert not directory.exists()


def test_tempfiles_are_removed_when_the_block_raises(server_cert):
    with pytest.raises(RuntimeError):
        with server_cert.tempfiles() as paths:
            raise RuntimeError("boom")
    assert not paths.key.exists() and not paths.key.parent.exists()


def test_blob_tempfile_and_write_to_path(server_cert, tmp_path):
    with server_cert.key_pem.tempfile(dir=tmp_path) as name:
        assert open(name, "rb").read() == server_cert.key_pem
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    assert not os.path.exists(name)
    target = tmp_path / "chain.pem"
    server_cert.cert_pem.write_to_path(target)
    server_cert.cert_chain_pems[1].write_to_path(target, append=True)
    assert target.read_bytes() == server_cert.chain_pem
    key_target = tmp_path / "key.pem"
    server_cert.key_pem.write_to_path(key_target)
    assert stat.S_IMODE(key_target.stat().st_mode) == 0o600


def test_write_files_never_overwrites_without_asking(server_cert, tmp_path):
    paths = server_cert.write_files(tmp_path, "srv")
    assert paths.chain.read_bytes() == server_cert.chain_pem
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    with pytest.raises(CAError, match="already exists"):
        server_cert.write_files(tmp_path, "srv")
    server_cert.write_files(tmp_path, "srv", overwrite=True)
    with pytest.raises(CAError, match="file name"):
        server_cert.write_files(tmp_path, "../escape")
    assert not (tmp_path.parent / "escape.key").exists()


# -- acceptance by other verifiers -----------------------------------------------------


@needs_openssl
@pytest.mark.interop
@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"])
def test_openssl_verify_accepts_the_chain(key_type, tmp_path):
    assert key_type in KEY_TYPES
    ca = EphemeralCA(key_type=key_type)
    cert = ca.issue_cert("localhost", "127.0.0.1", "bob@example.com", profile="both")
    with cert.tempfiles(dir=tmp_path) as paths:
        inter = tmp_path / "inter.pem"
        inter.write_bytes(ca.intermediate_pem)
        base = [OPENSSL, "verify", "-CAfile", str(paths.root), "-untrusted", str(inter)]
        checks = [
            ["-purpose", "sslserver", "-verify_hostname", "localhost"],
            ["-purpose", "sslclient", "-verify_ip", "127.0.0.1"],
            ["-verify_email", "bob@example.com"],
        ]
        for extra in checks:
            done = subprocess.run(base + extra + [str(paths.cert)], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stdout + done.stderr
            assert ": OK" in done.stdout
        # and a name the certificate does not hold is refused
        done = subprocess.run(base + ["-verify_hostname", "other.example", str(paths.cert)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode != 0


def test_tlskit_pki_accepts_the_chain(ca, server_cert):
    leaf, *intermediates = server_cert.chain_der
    path = verify_chain(leaf, intermediates, ca.trust_store(), server_name="127.0.0.1")
    assert path.certificates == [server_cert.certificate, *ca.intermediates, ca.root_certificate]
    alice = ca.issue_cert("alice@example.com", client=True)
    path = verify_chain(alice.certificate, ca.intermediates, ca.trust_store(), usage="client")
    assert path.leaf == alice.certificate


def _ssl_handshake_in_memory(client_ctx, server_ctx, server_hostname):
    """Two stdlib SSLObjects on MemoryBIOs, pumped until both finish; returns them."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, obj in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return client, server
    raise AssertionError("the stdlib handshake did not finish")


@pytest.mark.interop
@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1", "::1"])
def test_stdlib_ssl_to_stdlib_ssl(ca, server_cert, server_hostname):
    client_ctx = ca.client_ssl_context()
    client, server = _ssl_handshake_in_memory(client_ctx, ca.server_ssl_context(server_cert), server_hostname)
    assert client.version() == "TLSv1.3"
    assert client.getpeercert()["subject"] == ((("commonName", "localhost"),),)


@pytest.mark.interop
def test_stdlib_mtls_with_an_email_client_certificate(ca, server_cert):
    alice = ca.issue_cert("alice@example.com", client=True)
    client_ctx = ca.client_ssl_context(alice)
    server_ctx = ca.server_ssl_context(server_cert, client_auth=True)
    client, server = _ssl_handshake_in_memory(client_ctx, server_ctx, "localhost")
    peer = server.getpeercert()
    assert peer["subjectAltName"] == (("email", "alice@example.com"),)


@pytest.mark.interop
def test_stdlib_refuses_a_name_the_certificate_lacks(ca, server_cert):
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _ssl_handshake_in_memory(ca.client_ssl_context(), ca.server_ssl_context(server_cert), "other.example")


@pytest.mark.interop
def test_stdlib_refuses_another_ca(server_cert):
    with pytest.raises(ssl.SSLCertVerificationError):
        _ssl_handshake_in_memory(EphemeralCA().client_ssl_context(), server_cert.ca.server_ssl_context(server_cert), "localhost")


def _echo(stream) -> None:
    while data := stream.recv():
        stream.sendall(data)


@pytest.mark.interop
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_stdlib_client_to_tlskit_server_with_mtls(ca, server_cert, host):
    alice = ca.issue_cert("alice@example.com", client=True)
    config = ca.server_config(server_cert, client_auth=True)
    errors: list[BaseException] = []
    with tlskit.serve("127.0.0.1", 0, config=config, handshake_timeout=TIMEOUT, timeout=TIMEOUT, keylog_from_env=False) as server:
        server.serve_in_background(_echo, on_error=lambda address, exc: errors.append(exc))
        port = server.address[1]
        context = ca.client_ssl_context(alice)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(b"ping")
                assert tls.recv(16) == b"ping"
                assert tls.version() == "TLSv1.3"
                tls.unwrap()  # close_notify, so the server sees a clean end
    assert errors == []


@pytest.mark.interop
def test_tlskit_client_to_stdlib_server_with_mtls(ca, server_cert):
    alice = ca.issue_cert("alice@example.com", client=True)
    server_ctx = ca.server_ssl_context(server_cert, client_auth=True)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    seen: dict[str, object] = {}

    def serve_one() -> None:
        try:
            sock, _ = listener.accept()
            with server_ctx.wrap_socket(sock, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
                tls.sendall(tls.recv(16))
        except Exception as exc:  # reported through seen, checked below
            seen["error"] = exc

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    try:
        config = ca.client_config(alice)
        with tlskit.connect("127.0.0.1", listener.getsockname()[1], config=config, server_name="localhost",
                            timeout=TIMEOUT, keylog_from_env=False) as stream:
            stream.sendall(b"pong")
            assert stream.recv() == b"pong"
    finally:
        thread.join(TIMEOUT)
        listener.close()
    assert "error" not in seen, seen
    assert seen["peer"]["subjectAltName"] == (("email", "alice@example.com"),)


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519"])
def test_tlskit_to_tlskit_in_memory(key_type):
    from tlskit import ClientConnection, ServerConnection

    ca = EphemeralCA(key_type=key_type)
    server = ServerConnection(ca.server_config(client_auth=True))
    client = ClientConnection(ca.client_config(ca.issue_cert(client=True)), server_name="::1")
    for _ in range(10):
        moved = False
        for source, sink in ((client, server), (server, client)):
            data = source.data_to_send()
            if data:
                sink.receive_data(data)
                moved = True
        if not moved:
            break
    assert client.handshake_complete and server.handshake_complete


def test_overrides_pass_through_to_configs(ca, server_cert):
    config = ca.server_config(server_cert, alpn_protocols=["h2"], provider="pycryptodome")
    assert config.resolved_alpn == (b"h2",) and config.resolved_provider.name == "pycryptodome"
    client = ca.client_config(cadata=None, insecure=True)
    assert client.insecure


def test_intermediate_is_named_after_the_root():
    assert EphemeralCA(name="Example Root CA").intermediates[0].subject.rfc4514_string() == "CN=Example Intermediate CA"
    assert EphemeralCA(name="lab").intermediates[0].subject.rfc4514_string() == "CN=lab Intermediate"
    long_name = "R" * 64
    assert len(EphemeralCA(name=long_name).intermediates[0].subject.rfc4514_string()) == len("CN=") + 64
