"""tls-alpn-01 (RFC 8737) and IP identifiers (RFC 8738) with the ``acme`` library as the client.

The ``acme`` library (certbot's protocol layer) no longer ships a TLS-ALPN responder,
so the validation certificate is served here with Python's ``ssl``: a self-signed
certificate naming only the identifier, with the critical acmeIdentifier extension
holding SHA-256 of the key authorization, offered only under ALPN ``acme-tls/1``.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading

import josepy
import pytest
from acme import challenges, client, crypto_util, messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlskit.ca import CertificateAuthority
from tlskit.ca.acme import AcmeProblem, AcmeServer
from tlskit.ca.acme.validation import ACME_IDENTIFIER_OID, Target, check_tls_alpn01_certificate

OPENSSL = shutil.which("openssl")
PEM = serialization.Encoding.PEM


def validation_certificate(identifier: str, key_authorization: str, *, critical: bool = True, extra_name: bool = False):
    """The RFC 8737 section 3 certificate for ``identifier`` (an IP or a DNS name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(identifier))]
    except ValueError:
        names = [x509.DNSName(identifier)]
    if extra_name:
        names.append(x509.DNSName("extra.test"))
    digest = hashlib.sha256(key_authorization.encode()).digest()
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme validation")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        # Authorization ::= OCTET STRING (SIZE (32)), DER: 04 20 <digest>
        .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest), critical=critical)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert, key


class AlpnResponder:
    """A TLS server answering ALPN acme-tls/1 with the validation certificate chosen by SNI."""

    def __init__(self, tmp_path, *, alpn: str = "acme-tls/1") -> None:
        self.tmp_path = tmp_path
        self.alpn = alpn
        self.contexts: dict[str, ssl.SSLContext] = {}
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.default = self._context(*validation_certificate("default.test", "x"))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _context(self, cert, key) -> ssl.SSLContext:
        n = len(list(self.tmp_path.iterdir()))
        cert_file, key_file = self.tmp_path / f"c{n}.pem", self.tmp_path / f"k{n}.pem"
        cert_file.write_bytes(cert.public_bytes(PEM))
        key_file.write_bytes(key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.set_alpn_protocols([self.alpn])
        context.sni_callback = self._pick
        return context

    def _pick(self, sslobj, server_name, _context):
        if server_name in self.contexts:
            sslobj.context = self.contexts[server_name]

    def add(self, sni: str, cert, key) -> None:
        self.contexts[sni] = self._context(cert, key)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            sock.settimeout(5)
            try:
                with self.default.wrap_socket(sock, server_side=True) as tls:
                    tls.recv(1)  # the validator closes once it has seen the certificate
            except (OSError, ssl.SSLError):
                pass
            finally:
                sock.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture(scope="module")
def alpn_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("acme-alpn")
    (base / "certs").mkdir()
    ca = CertificateAuthority.init(base / "ca")
    responder = AlpnResponder(base / "certs")
    server = AcmeServer(
        ca, "127.0.0.1", 0, validation_address="127.0.0.1", http01_port=1,
        tls_alpn01_port=responder.port, validation_timeout=2.0, state="memory",
    ).start()  # fmt: skip
    try:
        yield ca, server, responder
    finally:
        server.close()
        responder.close()


def acme_client(ca, server) -> client.ClientV2:
    key = josepy.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    # verify_ssl takes a CA file path (requests' verify); never the environment's bundle
    net = client.ClientNetwork(key, alg=josepy.ES256, verify_ssl=str(ca.root_path), user_agent="tlskit-tests")
    net.session.trust_env = False
    acme = client.ClientV2(client.ClientV2.get_directory(server.directory_url, net), net)
    regr = acme.new_account(messages.NewRegistration.from_data(email="x@example.test", terms_of_service_agreed=True))
    net.account = regr
    return acme


def answer_tls_alpn01(acme: client.ClientV2, responder: AlpnResponder, orderr, **cert_options) -> None:
    thumb = josepy.b64encode(acme.net.key.thumbprint(hash_function=hashes.SHA256)).decode()
    for authzr in orderr.authorizations:
        [challb] = [c for c in authzr.body.challenges if c.chall.to_partial_json().get("type") == "tls-alpn-01"]
        token = challb.chall.to_partial_json()["token"]
        identifier = authzr.body.identifier.value
        try:
            sni = ipaddress.ip_address(identifier).reverse_pointer  # RFC 8738 section 6
        except ValueError:
            sni = identifier
        responder.add(sni, *validation_certificate(identifier, f"{token}.{thumb}", **cert_options))
        # the challenge response is an empty object; any KeyAuthorizationChallengeResponse sends {}
        acme.answer_challenge(challb, challenges.HTTP01Response(key_authorization=""))


def test_tls_alpn01_issues_for_dns_and_ip_with_the_acme_library(alpn_env, tmp_path):
    ca, server, responder = alpn_env
    acme = acme_client(ca, server)
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    csr_pem = crypto_util.make_csr(key_pem, ["alpn.test"], ipaddrs=[ipaddress.ip_address("127.0.0.1")])
    orderr = acme.new_order(csr_pem)
    assert sorted((i.typ.name, i.value) for i in orderr.body.identifiers) == [("dns", "alpn.test"), ("ip", "127.0.0.1")]
    answer_tls_alpn01(acme, responder, orderr)
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
    finished = acme.poll_and_finalize(orderr, deadline)
    chain = finished.fullchain_pem.encode()
    leaf = x509.load_pem_x509_certificates(chain)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["alpn.test"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert ca.find(leaf.serial_number)
    if OPENSSL is not None:
        (tmp_path / "chain.pem").write_bytes(chain)
        result = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(ca.root_path), "-untrusted", str(tmp_path / "chain.pem"),
             "-verify_hostname", "alpn.test", str(tmp_path / "chain.pem")], capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    # and the acme library revokes it with the account key
    acme.revoke(leaf, 4)
    assert ca.find(leaf.serial_number)[0].revoked


def test_tls_alpn01_rejects_a_non_critical_extension(alpn_env):
    ca, server, responder = alpn_env
    acme = acme_client(ca, server)
    key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    orderr = acme.new_order(crypto_util.make_csr(key_pem, ["lax.test"]))
    answer_tls_alpn01(acme, responder, orderr, critical=False)
    authzr = orderr.authorizations[0]
    for _ in range(200):  # bounded poll; validation has a 2 s timeout
        authzr, _ = acme.poll(authzr)
        if authzr.body.status != messages.STATUS_PENDING:
            break
        threading.Event().wait(0.05)
    assert authzr.body.status == messages.STATUS_INVALID
    [challb] = [c for c in authzr.body.challenges if c.chall.to_partial_json().get("type") == "tls-alpn-01"]
    assert challb.error.typ == "urn:ietf:params:acme:error:unauthorized" and "critical" in challb.error.detail


def _target(identifier: str, kind: str = "dns") -> Target:
    return Target(kind, identifier, "tok", "tok.thumb", "127.0.0.1", 1)


@pytest.mark.parametrize(
    "cert_options, kind",
    [
        ({"extra_name": True}, "unauthorized"),  # exactly one name (RFC 8737 section 3)
        ({"critical": False}, "unauthorized"),
    ],
)
def test_validation_certificate_rules(cert_options, kind):
    cert, _ = validation_certificate("rules.test", "tok.thumb", **cert_options)
    with pytest.raises(AcmeProblem) as info:
        check_tls_alpn01_certificate(cert.public_bytes(serialization.Encoding.DER), _target("rules.test"))
    assert info.value.kind == kind


def test_validation_certificate_digest_and_identity():
    good, _ = validation_certificate("rules.test", "tok.thumb")
    check_tls_alpn01_certificate(good.public_bytes(serialization.Encoding.DER), _target("rules.test"))
    wrong_digest, _ = validation_certificate("rules.test", "tok.other")
    with pytest.raises(AcmeProblem) as info:
        check_tls_alpn01_certificate(wrong_digest.public_bytes(serialization.Encoding.DER), _target("rules.test"))
    assert info.value.kind == "incorrectResponse"
    with pytest.raises(AcmeProblem):
        check_tls_alpn01_certificate(good.public_bytes(serialization.Encoding.DER), _target("other.test"))
    ip_cert, _ = validation_certificate("::1", "tok.thumb")
    check_tls_alpn01_certificate(ip_cert.public_bytes(serialization.Encoding.DER), _target("::1", "ip"))
    with pytest.raises(AcmeProblem):
        check_tls_alpn01_certificate(b"\x30\x00", _target("rules.test"))


def test_tls_alpn01_needs_the_acme_alpn_protocol(tmp_path):
    from tlskit.ca.acme.validation import validate_tls_alpn01

    responder = AlpnResponder(tmp_path, alpn="http/1.1")
    try:
        cert, key = validation_certificate("h2.test", "tok.thumb")
        responder.add("h2.test", cert, key)
        with pytest.raises(AcmeProblem) as info:
            validate_tls_alpn01(Target("dns", "h2.test", "tok", "tok.thumb", "127.0.0.1", responder.port, 2.0))
        assert info.value.kind == "tls"
    finally:
        responder.close()
