"""The ACME server (tlskit.ca.acme) speaking RFC 8555 to a small JWS client written here.

The client signs with josepy (through tlskit.ca.acme.jws.JWS.sign_request) and talks
HTTPS to the real server on loopback; http-01 is answered by a tiny HTTP server in
this process. Hostile and incorrect requests must get the RFC 8555 section 6.7
problem documents; the protocol checks that need no network run against
:class:`AcmeService` in memory.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import ipaddress
import json
import shutil
import subprocess
import threading
import time

import josepy
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from tlskit.ca import CertificateAuthority
from tlskit.ca.acme import AcmeServer, AcmeService, AcmeStore
from tlskit.ca.acme.jws import JWS, JWKOKP, thumbprint
from tlskit.ca.acme.store import state_path
from tlskit.cli.main import app

OPENSSL = shutil.which("openssl")
ERR = "urn:ietf:params:acme:error:"
JOSE = {"Content-Type": "application/jose+json"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(alg: str) -> josepy.JWK:
    if alg == "ES256":
        return josepy.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    if alg == "RS256":
        return josepy.JWKRSA(key=rsa.generate_private_key(65537, 2048))
    return JWKOKP(key=ed25519.Ed25519PrivateKey.generate())


def rfc7638_thumbprint(jwk: josepy.JWK) -> str:
    """Computed here from the public JSON (RFC 7638 section 3), not by the server's code."""
    public = jwk.public_key().to_json()
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[public["kty"]]
    canonical = json.dumps({m: public[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


class Responder:
    """An http-01 responder: serves ``resources[token]`` at /.well-known/acme-challenge/<token>."""

    def __init__(self) -> None:
        self.resources: dict[str, bytes] = {}
        resources = self.resources

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                token = self.path.rsplit("/", 1)[-1]
                body = resources.get(token)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def session(root: str) -> requests.Session:
    http = requests.Session()
    # no proxies, and REQUESTS_CA_BUNDLE from the environment must not replace ``verify``
    http.trust_env = False
    http.verify = root
    return http


class Client:
    """Just enough of an ACME client to say both right and wrong things."""

    def __init__(self, server: AcmeServer, root: str, alg: str = "ES256", key: josepy.JWK | None = None) -> None:
        self.server = server
        self.alg = alg
        self.key = key or new_key(alg)
        self.kid: str | None = None
        self.http = session(root)
        self.directory = self.http.get(server.directory_url, timeout=10).json()

    def nonce(self) -> str:
        return self.http.head(self.directory["newNonce"], timeout=10).headers["Replay-Nonce"]

    def body(self, url, payload, *, jwk=False, nonce=None, sign_url=None, key=None, alg=None, kid=None) -> str:
        data = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return JWS.sign_request(
            data, key=key or self.key, alg=alg or self.alg, url=sign_url or url,
            nonce=nonce or self.nonce(), kid=None if jwk else (kid or self.kid),
        ).json_dumps()  # fmt: skip

    def post(self, url, payload=None, **kwargs) -> requests.Response:
        return self.http.post(url, data=self.body(url, payload, **kwargs), headers=JOSE, timeout=10)

    def register(self, **extra) -> requests.Response:
        payload = {"termsOfServiceAgreed": True, "contact": ["mailto:x@example.test"], **extra}
        response = self.post(self.directory["newAccount"], payload, jwk=True)
        assert response.status_code in (200, 201), response.text
        self.kid = response.headers["Location"]
        return response

    def order(self, *identifiers: tuple[str, str]) -> requests.Response:
        payload = {"identifiers": [{"type": t, "value": v} for t, v in identifiers]}
        return self.post(self.directory["newOrder"], payload)

    def poll(self, url: str, until: tuple[str, ...]) -> dict:
        for _ in range(200):  # bounded: validation has a 2 s timeout in these tests
            state = self.post(url).json()
            if state["status"] in until:
                return state
            time.sleep(0.05)
        raise AssertionError(f"{url} stayed {state['status']}")

    def key_authorization(self, token: str) -> str:
        return f"{token}.{rfc7638_thumbprint(self.key)}"


def csr_for(*names: tuple[str, str], key=None, common_name: str | None = None) -> tuple[bytes, object]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ipaddress.ip_address(v)) if t == "ip" else x509.DNSName(v) for t, v in names]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER), key


def problem(response: requests.Response, kind: str, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    doc = response.json()
    assert doc["type"] == ERR + kind, doc
    assert doc["status"] == status and doc["detail"]
    return doc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("acme")
    ca = CertificateAuthority.init(base / "ca")
    responder = Responder()
    server = AcmeServer(
        ca, "127.0.0.1", 0, validation_address="127.0.0.1", http01_port=responder.port,
        tls_alpn01_port=1, validation_timeout=2.0,
    ).start()  # fmt: skip
    try:
        yield ca, server, responder
    finally:
        server.close()
        responder.close()


@pytest.fixture
def client(env):
    ca, server, _ = env
    c = Client(server, str(ca.root_path))
    c.register()
    return c


def validate_all(client: Client, responder: Responder, order: dict, *, wrong: bool = False) -> None:
    for authz_url in order["authorizations"]:
        authz = client.post(authz_url).json()
        [chall] = [c for c in authz["challenges"] if c["type"] == "http-01"]
        answer = client.key_authorization(chall["token"]) + ("x" if wrong else "")
        responder.resources[chall["token"]] = answer.encode() + b"\n"
        response = client.post(chall["url"], {})
        assert response.status_code == 200, response.text
        assert response.json()["status"] in ("processing", "valid", "invalid")
        # RFC 8555 section 7.5.1: the challenge response links up to its authorization
        assert authz_url in response.headers["Link"]


def obtain(client: Client, responder: Responder, *identifiers: tuple[str, str]) -> tuple[dict, bytes, object]:
    response = client.order(*identifiers)
    assert response.status_code == 201, response.text
    order_url, order = response.headers["Location"], response.json()
    assert order["status"] == "pending"
    validate_all(client, responder, order)
    assert client.poll(order_url, ("ready", "invalid"))["status"] == "ready"
    der, key = csr_for(*identifiers)
    response = client.post(order["finalize"], {"csr": b64(der)})
    assert response.status_code == 200, response.text
    order = client.poll(order_url, ("valid", "invalid"))
    assert order["status"] == "valid"
    download = client.post(order["certificate"])
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pem-certificate-chain"
    return order, download.content, key


# -- directory, nonces, accounts -------------------------------------------------------------


def test_directory_and_nonces(env):
    ca, server, _ = env
    http = session(str(ca.root_path))
    directory = http.get(server.directory_url, timeout=10)
    assert directory.status_code == 200
    urls = directory.json()
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
        assert urls[name].startswith(server.directory_url.rsplit("/", 1)[0] + "/")
    head = http.head(urls["newNonce"], timeout=10)
    get = http.get(urls["newNonce"], timeout=10)
    # RFC 8555 section 7.2: 200 for HEAD, 204 for GET, no caching, base64url nonces never repeated
    assert (head.status_code, get.status_code) == (200, 204)
    assert head.headers["Cache-Control"] == "no-store"
    nonces = {head.headers["Replay-Nonce"], get.headers["Replay-Nonce"]}
    assert len(nonces) == 2 and all(len(n) >= 22 and set(n) <= set(b64(bytes(range(256)) * 3)) for n in nonces)
    assert 'rel="index"' in head.headers["Link"]
    # everything but the directory and newNonce is read with POST-as-GET (section 6.3)
    assert http.get(urls["newOrder"], timeout=10).status_code == 405


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_account_with_each_algorithm(env, alg):
    ca, server, _ = env
    c = Client(server, str(ca.root_path), alg)
    created = c.register()
    assert created.status_code == 201
    account = created.json()
    assert account["status"] == "valid" and account["contact"] == ["mailto:x@example.test"]
    # the same key again: the same account, 200 (section 7.3.1)
    again = c.post(c.directory["newAccount"], {"onlyReturnExisting": True}, jwk=True)
    assert again.status_code == 200 and again.headers["Location"] == c.kid
    read = c.post(c.kid)
    assert read.status_code == 200 and read.json()["status"] == "valid"
    assert c.post(account["orders"]).json() == {"orders": []}


def test_eddsa_keys_follow_rfc8037():
    # RFC 8037 appendix A.1/A.3/A.4: the Ed25519 key, its thumbprint, and a signature over it
    key = JWKOKP.from_json({
        "kty": "OKP", "crv": "Ed25519",
        "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    })  # fmt: skip
    assert thumbprint(key.public_key()) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    signing_input = b"eyJhbGciOiJFZERTQSJ9." + b64(b"Example of Ed25519 signing").encode()
    signature = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    assert b64(key.key.sign(signing_input)) == signature


def test_only_return_existing_for_an_unknown_key(env):
    ca, server, _ = env
    c = Client(server, str(ca.root_path))
    response = c.post(c.directory["newAccount"], {"onlyReturnExisting": True}, jwk=True)
    problem(response, "accountDoesNotExist", 400)


def test_contacts_are_checked(env):
    ca, server, _ = env
    c = Client(server, str(ca.root_path))
    problem(c.post(c.directory["newAccount"], {"contact": ["tel:+1555"]}, jwk=True), "unsupportedContact", 400)
    problem(c.post(c.directory["newAccount"], {"contact": ["mailto:a@b.test,c@d.test"]}, jwk=True), "invalidContact", 400)


# -- issuance ---------------------------------------------------------------------------------


def test_http01_issues_for_dns_and_ip_identifiers(env, tmp_path):
    ca, server, responder = env
    c = Client(server, str(ca.root_path), "EdDSA")
    c.register()
    order, chain, key = obtain(c, responder, ("dns", "www.example.test"), ("ip", "127.0.0.1"), ("ip", "::1"))
    certs = x509.load_pem_x509_certificates(chain)
    assert len(certs) == 2  # the leaf and the intermediate; the root is the client's trust anchor
    leaf = certs[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["www.example.test"]
    assert sorted(map(str, san.get_values_for_type(x509.IPAddress))) == ["127.0.0.1", "::1"]
    assert leaf.public_key() == key.public_key()
    # issued by the CA, into its index, and valid for it
    [record] = ca.find(leaf.serial_number)
    assert not record.revoked
    ca.verify(chain, host="127.0.0.1")
    if OPENSSL is not None:
        (tmp_path / "chain.pem").write_bytes(chain)
        (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        result = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(ca.root_path), "-untrusted", str(tmp_path / "chain.pem"),
             "-verify_ip", "::1", str(tmp_path / "leaf.pem")], capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    orders = c.post(c.post(c.kid).json()["orders"]).json()["orders"]
    assert len(orders) == 1


def test_failed_http01_makes_the_order_invalid(env, client):
    _, _, responder = env
    response = client.order(("dns", "wrong.test"))
    order_url, order = response.headers["Location"], response.json()
    validate_all(client, responder, order, wrong=True)
    assert client.poll(order_url, ("ready", "invalid"))["status"] == "invalid"
    authz = client.post(order["authorizations"][0]).json()
    assert authz["status"] == "invalid"
    [chall] = [c for c in authz["challenges"] if c["type"] == "http-01"]
    assert chall["status"] == "invalid" and chall["error"]["type"] == ERR + "incorrectResponse"
    # nobody listens for tls-alpn-01 on port 1: a connection problem
    response = client.order(("dns", "nobody.test"))
    authz_url = response.json()["authorizations"][0]
    [alpn] = [c for c in client.post(authz_url).json()["challenges"] if c["type"] == "tls-alpn-01"]
    client.post(alpn["url"], {})
    assert client.poll(authz_url, ("valid", "invalid"))["status"] == "invalid"
    [alpn] = [c for c in client.post(authz_url).json()["challenges"] if c["type"] == "tls-alpn-01"]
    assert alpn["error"]["type"] == ERR + "connection"


def test_finalize_checks_the_order_and_the_csr(env):
    ca, server, responder = env
    account_key = ec.generate_private_key(ec.SECP256R1())
    client = Client(server, str(ca.root_path), key=josepy.JWKEC(key=account_key))
    client.register()
    response = client.order(("dns", "final.test"))
    order_url, order = response.headers["Location"], response.json()
    der, _ = csr_for(("dns", "final.test"))
    problem(client.post(order["finalize"], {"csr": b64(der)}), "orderNotReady", 403)
    validate_all(client, responder, order)
    client.poll(order_url, ("ready",))
    extra, _ = csr_for(("dns", "final.test"), ("dns", "other.test"))
    problem(client.post(order["finalize"], {"csr": b64(extra)}), "badCSR", 400)
    wrong_cn, _ = csr_for(("dns", "final.test"), common_name="other.test")
    problem(client.post(order["finalize"], {"csr": b64(wrong_cn)}), "badCSR", 400)
    same_key, _ = csr_for(("dns", "final.test"), key=account_key)
    problem(client.post(order["finalize"], {"csr": b64(same_key)}), "badCSR", 400)
    problem(client.post(order["finalize"], {"csr": "not base64!"}), "malformed", 400)
    problem(client.post(order["finalize"], {"csr": b64(b"\x30\x03\x02\x01\x00")}), "badCSR", 400)
    # after all that the order is still ready and a proper CSR gets the certificate
    assert client.post(order_url).json()["status"] == "ready"
    assert client.post(order["finalize"], {"csr": b64(der)}).json()["status"] == "valid"
    # a finalized order cannot be finalized again
    problem(client.post(order["finalize"], {"csr": b64(der)}), "orderNotReady", 403)


def test_identifiers_are_checked(client):
    problem(client.order(("dns", "*.wild.test")), "rejectedIdentifier", 400)
    problem(client.order(("email", "a@b.test")), "unsupportedIdentifier", 400)
    problem(client.order(("ip", "::0:1")), "malformed", 400)  # RFC 8738: canonical text form only
    problem(client.order(("dns", "127.0.0.1")), "malformed", 400)
    problem(client.order(("dns", "bad_name.test")), "rejectedIdentifier", 400)
    problem(client.post(client.directory["newOrder"], {"identifiers": []}), "malformed", 400)
    problem(
        client.post(client.directory["newOrder"], {"identifiers": [{"type": "dns", "value": "a.test"}], "notAfter": "2030-01-01T00:00:00Z"}),
        "malformed", 400,
    )  # fmt: skip


# -- hostile and incorrect requests -----------------------------------------------------------------


def test_bad_nonce(client):
    url = client.directory["newOrder"]
    payload = {"identifiers": [{"type": "dns", "value": "n.test"}]}
    response = client.post(url, payload, nonce="bm90LWEtcmVhbC1ub25jZQ")
    problem(response, "badNonce", 400)
    # RFC 8555 section 6.5: the error carries a fresh nonce to retry with
    fresh = response.headers["Replay-Nonce"]
    assert client.post(url, payload, nonce=fresh).status_code == 201
    problem(client.post(url, payload, nonce=fresh), "badNonce", 400)  # a nonce is used once


def test_bad_signature(client):
    url = client.directory["newOrder"]
    body = json.loads(client.body(url, {"identifiers": [{"type": "dns", "value": "s.test"}]}))
    signature = bytearray(base64.urlsafe_b64decode(body["signature"] + "=="))
    signature[5] ^= 1
    body["signature"] = b64(bytes(signature))
    response = client.http.post(url, data=json.dumps(body), headers=JOSE, timeout=10)
    assert "signature" in problem(response, "malformed", 400)["detail"]
    # a payload swapped under a valid signature fails the same way
    body = json.loads(client.body(url, {"identifiers": [{"type": "dns", "value": "s.test"}]}))
    body["payload"] = b64(json.dumps({"identifiers": [{"type": "dns", "value": "evil.test"}]}).encode())
    problem(client.http.post(url, data=json.dumps(body), headers=JOSE, timeout=10), "malformed", 400)


def test_wrong_url_in_protected_header(client):
    response = client.post(client.directory["newOrder"], {"identifiers": [{"type": "dns", "value": "u.test"}]},
                           sign_url=client.directory["revokeCert"])  # fmt: skip
    problem(response, "unauthorized", 403)


def test_unknown_account(env, client):
    _, server, _ = env
    stranger = client.kid.rsplit("/", 1)[0] + "/no-such-account"
    response = client.post(client.directory["newOrder"], {"identifiers": [{"type": "dns", "value": "k.test"}]}, kid=stranger)
    problem(response, "accountDoesNotExist", 400)
    problem(client.post(client.directory["newOrder"], {}, kid="https://elsewhere.test/acct/1"), "accountDoesNotExist", 400)


def test_another_accounts_objects_are_off_limits(env, client):
    ca, server, responder = env
    order, chain, _ = obtain(client, responder, ("dns", "mine.test"))
    order_url = client.post(client.post(client.kid).json()["orders"]).json()["orders"][-1]
    intruder = Client(server, str(ca.root_path))
    intruder.register()
    problem(intruder.post(order_url), "unauthorized", 403)
    problem(intruder.post(order["authorizations"][0]), "unauthorized", 403)
    problem(intruder.post(order["certificate"]), "unauthorized", 403)
    der, _ = csr_for(("dns", "mine.test"))
    problem(intruder.post(order["finalize"], {"csr": b64(der)}), "unauthorized", 403)
    problem(intruder.post(client.kid), "unauthorized", 403)
    # and it may not revoke a certificate it neither obtained nor holds authorizations for
    leaf = x509.load_pem_x509_certificates(chain)[0]
    revoke = {"certificate": b64(leaf.public_bytes(serialization.Encoding.DER))}
    problem(intruder.post(intruder.directory["revokeCert"], revoke), "unauthorized", 403)
    assert not ca.find(leaf.serial_number)[0].revoked


def test_algorithms_and_content_type(client):
    url = client.directory["newOrder"]
    for alg in ("none", "HS256", "PS256"):
        protected = b64(json.dumps({"alg": alg, "kid": client.kid, "nonce": client.nonce(), "url": url}).encode())
        body = {"protected": protected, "payload": b64(b"{}"), "signature": b64(b"\x00" * 64)}
        doc = problem(client.http.post(url, data=json.dumps(body), headers=JOSE, timeout=10), "badSignatureAlgorithm", 400)
        assert "ES256" in doc["algorithms"] and "EdDSA" in doc["algorithms"]
    response = client.http.post(url, data=client.body(url, {}), headers={"Content-Type": "application/json"}, timeout=10)
    problem(response, "malformed", 415)
    # a key too weak for RS256
    weak = josepy.JWKRSA(key=rsa.generate_private_key(65537, 1024))
    problem(client.post(client.directory["newAccount"], {}, jwk=True, key=weak, alg="RS256"), "badPublicKey", 400)
    # an algorithm that does not fit the key (RS256 named over an EC key)
    url = client.directory["newAccount"]
    header = {"alg": "RS256", "jwk": client.key.public_key().to_json(), "nonce": client.nonce(), "url": url}
    body = {"protected": b64(json.dumps(header).encode()), "payload": b64(b"{}"), "signature": b64(b"\x01" * 256)}
    problem(client.http.post(url, data=json.dumps(body), headers=JOSE, timeout=10), "badSignatureAlgorithm", 400)


def test_jwk_and_kid_where_they_belong(client):
    problem(client.post(client.directory["newOrder"], {"identifiers": []}, jwk=True), "malformed", 400)
    problem(client.post(client.directory["newAccount"], {}), "malformed", 400)  # kid on newAccount


def test_account_deactivation(env):
    ca, server, _ = env
    c = Client(server, str(ca.root_path))
    c.register()
    problem(c.post(c.kid, {"status": "revoked"}), "malformed", 400)
    assert c.post(c.kid, {"status": "deactivated"}).json()["status"] == "deactivated"
    # section 7.3.6: 401 for every request of a deactivated account, newAccount included
    problem(c.order(("dns", "gone.test")), "unauthorized", 401)
    problem(c.post(c.directory["newAccount"], {"onlyReturnExisting": True}, jwk=True), "unauthorized", 401)


# -- key rollover and revocation ------------------------------------------------------------------


def key_change_body(client: Client, new_key: josepy.JWK, new_alg: str, old_key: josepy.JWK | None = None) -> dict:
    url = client.directory["keyChange"]
    inner_payload = {"account": client.kid, "oldKey": (old_key or client.key).public_key().to_json()}
    inner = JWS.sign_request(json.dumps(inner_payload).encode(), key=new_key, alg=new_alg, url=url, nonce=None)
    return inner.to_partial_json()


def test_key_rollover(env, client):
    ca, server, _ = env
    url = client.directory["keyChange"]
    old_key = client.key
    new = new_key("EdDSA")
    response = client.post(url, key_change_body(client, new, "EdDSA"))
    assert response.status_code == 200, response.text
    # the old key is no longer the account's (an ES256 signature cannot be the EdDSA key's)...
    problem(client.post(client.kid), "badSignatureAlgorithm", 400)
    problem(client.post(client.directory["newAccount"], {"onlyReturnExisting": True}, jwk=True), "accountDoesNotExist", 400)
    # ...the new one is
    client.key, client.alg = new, "EdDSA"
    assert client.post(client.kid).status_code == 200
    found = client.post(client.directory["newAccount"], {"onlyReturnExisting": True}, jwk=True)
    assert found.status_code == 200 and found.headers["Location"] == client.kid
    # oldKey must be the current key
    problem(client.post(url, key_change_body(client, new_key("ES256"), "ES256", old_key=old_key)), "malformed", 400)
    # a key that already has an account: 409 with that account's URL (section 7.3.5)
    other = Client(server, str(ca.root_path))
    other.register()
    response = client.post(url, key_change_body(client, other.key, "ES256"))
    problem(response, "malformed", 409)
    assert response.headers["Location"] == other.kid


def test_revocation(env, client):
    ca, server, responder = env
    _, chain, cert_key = obtain(client, responder, ("dns", "revoke-me.test"))
    leaf = x509.load_pem_x509_certificates(chain)[0]
    der = b64(leaf.public_bytes(serialization.Encoding.DER))
    url = client.directory["revokeCert"]
    problem(client.post(url, {"certificate": der, "reason": 7}), "badRevocationReason", 400)
    # by the certificate's own key, with the key embedded as jwk (section 7.6)
    jwk = josepy.JWKEC(key=cert_key)
    assert client.post(url, {"certificate": der, "reason": 1}, jwk=True, key=jwk).status_code == 200
    [record] = ca.find(leaf.serial_number)
    assert record.revoked and record.reason and "compromise" in record.reason.lower()
    problem(client.post(url, {"certificate": der}), "alreadyRevoked", 400)
    # another certificate, revoked by the account that obtained it
    _, chain2, _ = obtain(client, responder, ("dns", "revoke-me-too.test"))
    leaf2 = x509.load_pem_x509_certificates(chain2)[0]
    assert client.post(url, {"certificate": b64(leaf2.public_bytes(serialization.Encoding.DER))}).status_code == 200
    assert ca.find(leaf2.serial_number)[0].revoked
    # a key that is neither: refused
    stranger_cert = ca.issue("stranger.test", out_dir=env[0].directory / "stranger").certificate
    stranger_der = b64(stranger_cert.public_bytes(serialization.Encoding.DER))
    problem(client.post(url, {"certificate": stranger_der}, jwk=True, key=new_key("ES256")), "unauthorized", 403)


# -- in memory: body parsing, policy, persistence ----------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    ca = CertificateAuthority.init(tmp_path_factory.mktemp("acme-svc") / "ca", permit_dns=["corp.test"])
    svc = AcmeService(ca, "https://acme.test", store=AcmeStore(None))
    yield svc
    svc.close()


def call(service: AcmeService, path: str, body: bytes | str):
    data = body.encode() if isinstance(body, str) else body
    response = service.handle("POST", path, {"content-type": "application/jose+json"}, data)
    return response.status, json.loads(response.body or b"{}")


def signed(service: AcmeService, path: str, payload: bytes, key: josepy.JWK, **kwargs) -> dict:
    return JWS.sign_request(payload, key=key, alg="ES256", url=service.url(path), nonce=service.new_nonce(), **kwargs).to_partial_json()


def test_hostile_bodies_get_problem_documents(service):
    key = new_key("ES256")
    good = signed(service, "/acme/new-account", b"{}", key)
    protected = lambda obj: b64(json.dumps(obj).encode())  # noqa: E731
    nonce = service.new_nonce
    url = service.url("/acme/new-account")
    cases = [
        (b"not json", "malformed"),
        (b"[1, 2]", "malformed"),
        (b"\"a.b.c\"", "malformed"),
        (json.dumps({**good, "header": {"kid": "x"}}), "malformed"),  # unprotected header (section 6.2)
        (json.dumps({"payload": good["payload"], "signatures": [good]}), "malformed"),
        (json.dumps({**good, "protected": good["protected"] + "=="}), "malformed"),
        (json.dumps({**good, "payload": "%%%"}), "malformed"),
        (json.dumps({**good, "protected": b64(b"not json")}), "malformed"),
        (json.dumps({**good, "protected": protected({"alg": "ES256", "url": url})}), "malformed"),
        (json.dumps({**good, "protected": protected({"alg": "ES256", "jwk": {}, "url": url, "nonce": nonce()})}), "badPublicKey"),
        (json.dumps({**good, "protected": protected({"alg": "ES256", "jwk": {"kty": "oct", "k": "AAAA"}, "url": url, "nonce": nonce()})}), "badPublicKey"),
        (json.dumps({**good, "protected": protected({"alg": "ES256", "jwk": key.public_key().to_json(), "url": url})}), "badNonce"),
        (json.dumps({**good, "protected": protected({"alg": "ES256", "jwk": key.public_key().to_json(), "kid": "x", "url": url, "nonce": nonce()})}), "malformed"),
        (json.dumps({**good, "protected": protected({"alg": "ES256", "jwk": key.public_key().to_json(), "url": url, "nonce": nonce(), "crit": ["b64"]})}), "malformed"),
        (b"{" * 100_000, "malformed"),
        (b"x" * 70_000, "malformed"),
    ]
    for body, kind in cases:
        status, doc = call(service, "/acme/new-account", body)
        assert doc.get("type") == ERR + kind, (body[:80], doc)
        assert 400 <= status < 500
    # the untouched body still works (the nonce was not consumed by the broken ones)
    status, doc = call(service, "/acme/new-account", json.dumps(good))
    assert status == 201, doc
    assert service.handle("POST", "/nowhere", {"content-type": "application/jose+json"}, json.dumps(good).encode()).status == 404
    assert service.handle("PUT", "/directory", {}, b"").status == 405


def test_policy_of_the_ca_applies(service):
    key = new_key("ES256")
    status, _ = call(service, "/acme/new-account", json.dumps(signed(service, "/acme/new-account", b"{}", key)))
    assert status == 201
    kid = service.account_url(service.store.account_for_key(thumbprint(key.public_key())))
    for value, expected in (("www.corp.test", 201), ("www.example.test", 400)):
        payload = json.dumps({"identifiers": [{"type": "dns", "value": value}]}).encode()
        status, doc = call(service, "/acme/new-order", json.dumps(signed(service, "/acme/new-order", payload, key, kid=kid)))
        assert status == expected, doc
        if expected == 400:
            assert doc["type"] == ERR + "rejectedIdentifier" and "corp.test" in doc["detail"]


def test_state_survives_a_restart(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    key = new_key("EdDSA")
    first = AcmeService(ca, "https://acme.test", store=AcmeStore(state_path(ca.directory)))
    body = JWS.sign_request(b"{}", key=key, alg="EdDSA", url=first.url("/acme/new-account"), nonce=first.new_nonce())
    status, _ = call(first, "/acme/new-account", body.json_dumps())
    assert status == 201
    first.close()
    first.store.close()
    second = AcmeService(ca, "https://acme.test", store=AcmeStore(state_path(ca.directory)))
    payload = json.dumps({"onlyReturnExisting": True}).encode()
    body = JWS.sign_request(payload, key=key, alg="EdDSA", url=second.url("/acme/new-account"), nonce=second.new_nonce())
    response = second.handle("POST", "/acme/new-account", {"content-type": "application/jose+json"}, body.json_dumps().encode())
    assert response.status == 200 and response.header("Location", ) is not None
    second.close()
    second.store.close()


def test_cli_refuses_bad_options(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    result = CliRunner().invoke(app, ["ca", "acme", "--dir", str(ca.directory), "--port", "0", "--validation-address", "not-an-ip"])
    assert result.exit_code == 1 and "validation-address" in result.output
    result = CliRunner().invoke(app, ["ca", "acme", "--dir", str(tmp_path / "none"), "--port", "0"])
    assert result.exit_code == 1 and "no CA" in result.output


def test_a_validation_cut_short_runs_again_after_a_restart(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    responder = Responder()
    key = new_key("ES256")
    try:
        def start() -> AcmeService:
            return AcmeService(ca, "https://acme.test", store=AcmeStore(state_path(ca.directory)),
                               validation_address="127.0.0.1", http01_port=responder.port, validation_timeout=2.0)  # fmt: skip

        first = start()
        call(first, "/acme/new-account", json.dumps(signed(first, "/acme/new-account", b"{}", key)))
        account = first.store.account_for_key(thumbprint(key.public_key()))
        kid = first.account_url(account)
        payload = json.dumps({"identifiers": [{"type": "dns", "value": "resume.test"}]}).encode()
        status, order = call(first, "/acme/new-order", json.dumps(signed(first, "/acme/new-order", payload, key, kid=kid)))
        assert status == 201
        authz_id = order["authorizations"][0].rsplit("/", 1)[1]
        [(chall_id, chall)] = [(c, first.store.get("challenge", c)) for c in first.store.get("authz", authz_id)["challenges"]
                               if first.store.get("challenge", c)["type"] == "http-01"]  # fmt: skip
        responder.resources[chall["token"]] = f"{chall['token']}.{rfc7638_thumbprint(key)}".encode()
        # as if the server was killed while validating: the challenge says processing
        first.store.put("challenge", chall_id, {**chall, "status": "processing"}, account=account)
        first.close()
        first.store.close()
        second = start()
        try:
            for _ in range(200):  # bounded: one validation with a 2 s timeout
                if second.store.get("authz", authz_id)["status"] != "pending":
                    break
                time.sleep(0.05)
            assert second.store.get("authz", authz_id)["status"] == "valid"
        finally:
            second.close()
            second.store.close()
    finally:
        responder.close()


def test_http_transport_rules(env):
    import socket
    import ssl

    ca, server, _ = env
    context = ssl.create_default_context(cafile=str(ca.root_path))

    def exchange(raw: bytes) -> bytes:
        with socket.create_connection(server.address, timeout=10) as sock:
            with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                tls.sendall(raw)
                received = b""
                while True:
                    try:
                        chunk = tls.recv(65536)
                    except (ssl.SSLError, OSError):
                        break
                    if not chunk:
                        break
                    received += chunk
                return received

    # keep-alive: two requests, two answers, on one connection
    two = exchange(b"GET /directory HTTP/1.1\r\nHost: x\r\n\r\nHEAD /acme/new-nonce HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert two.count(b"HTTP/1.1 200") == 2 and b"Replay-Nonce" in two
    assert exchange(b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")
    big = b"x" * (70 * 1024)
    head = b"POST /acme/new-order HTTP/1.1\r\nHost: x\r\nContent-Type: application/jose+json\r\n"
    assert exchange(head + b"Content-Length: %d\r\n\r\n" % len(big) + big).startswith(b"HTTP/1.1 413")


def test_the_server_certificate_is_reused_and_replaced(tmp_path):
    ca = CertificateAuthority.init(tmp_path / "ca")
    with AcmeServer(ca, "127.0.0.1", 0, state="memory") as first:
        chain = first.certificate_chain
    with AcmeServer(ca, "127.0.0.1", 0, state="memory") as second:
        assert second.certificate_chain == chain
    [record] = ca.find("127.0.0.1")
    chain.unlink()  # damaged: the next start issues a new one and revokes the old as superseded
    with AcmeServer(ca, "127.0.0.1", 0, state="memory") as third:
        assert third.certificate_chain.exists()
    records = {r.serial: r for r in ca.find("127.0.0.1")}
    assert len(records) == 2 and records[record.serial].revoked
    assert sum(not r.revoked for r in records.values()) == 1


def _b64_text():
    from hypothesis import strategies as st

    return st.one_of(st.binary(max_size=64).map(b64), st.text(max_size=20))


def test_fuzzed_requests_never_fail_the_server(service):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=8,
    )
    headers = st.fixed_dictionaries(
        {},
        optional={
            "alg": st.sampled_from(["ES256", "RS256", "EdDSA", "none", "HS256"]) | json_values,
            "jwk": json_values | st.just({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
            "kid": st.just("https://acme.test/acme/acct/x") | json_values,
            "nonce": st.builds(lambda: service.new_nonce()) | json_values,
            "url": st.just("https://acme.test/acme/new-order") | json_values,
            "crit": json_values,
        },
    )
    bodies = st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda h, p, s: json.dumps({"protected": b64(json.dumps(h).encode()), "payload": p, "signature": s}).encode(),
            headers, _b64_text(), _b64_text(),
        ),
    )
    paths = st.sampled_from(["/acme/new-account", "/acme/new-order", "/acme/revoke-cert", "/acme/key-change",
                             "/acme/order/x", "/acme/acct/x/orders", "/acme/chall/x"])  # fmt: skip

    @settings(max_examples=150)
    @given(path=paths, body=bodies)
    def run(path, body):
        response = service.handle("POST", path, {"content-type": "application/jose+json"}, body)
        assert 400 <= response.status < 500, response.body
        assert json.loads(response.body)["type"].startswith(ERR)

    run()


def test_fuzzed_signed_payloads_get_problem_documents(service):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    key = new_key("ES256")
    call(service, "/acme/new-account", json.dumps(signed(service, "/acme/new-account", b"{}", key)))
    account = service.store.account_for_key(thumbprint(key.public_key()))
    kid = service.account_url(account)
    leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.binary(max_size=40).map(b64)
    json_values = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["type", "value", "kty"]), inner, max_size=3),
        max_leaves=8,
    )
    payloads = st.dictionaries(
        st.sampled_from(["identifiers", "csr", "certificate", "reason", "contact", "status", "onlyReturnExisting",
                         "account", "oldKey", "notAfter", "termsOfServiceAgreed"]),
        json_values, max_size=4,
    )  # fmt: skip
    paths = st.sampled_from(["/acme/new-order", "/acme/revoke-cert", "/acme/key-change", f"/acme/acct/{account}",
                             f"/acme/acct/{account}/orders"])  # fmt: skip

    @settings(max_examples=80)
    @given(path=paths, payload=payloads | st.just(None))
    def run(path, payload):
        data = b"" if payload is None else json.dumps(payload).encode()
        body = json.dumps(signed(service, path, data, key, kid=kid))
        response = service.handle("POST", path, {"content-type": "application/jose+json"}, body.encode())
        assert response.status < 500, response.body
        if response.status >= 400:
            assert json.loads(response.body)["type"].startswith(ERR)

    run()
