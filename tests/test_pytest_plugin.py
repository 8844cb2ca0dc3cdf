"""The pytest plugin (tlskit/pytest_plugin.py): a pytest run of its own, in a fresh process,
uses the fixtures from a temporary test file, finding them through the pytest11 entry
point alone (no -p option, no conftest)."""

from __future__ import annotations

import socket
import sys
from importlib.metadata import entry_points

pytest_plugins = ["pytester"]

INNER_TESTS = r'''
import json
import pathlib
import socket
import sys
import ssl

import pytest

import tlskit
from tlskit.ca import EphemeralCA

SEEN = {}


def test_ca_issues_what_trustme_does(tlskit_ca):
    cert = tlskit_ca.issue_cert("example.org", "10.1.2.3", "me@example.org")
    assert cert.cert_chain_pems[0] == cert.cert_pem
    assert cert.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tlskit_ca.configure_trust(context)
    assert context.cert_store_stats()["x509_ca"] == 1
    SEEN["ca"] = tlskit_ca


def test_ca_is_one_per_session(tlskit_ca):
    assert SEEN["ca"] is tlskit_ca


def test_echo_server_and_tlskit_client(tlskit_server):
    server = tlskit_server()
    with server.connect() as stream:
        stream.sendall(b"hello")
        assert stream.recv() == b"hello"
        assert stream.negotiated.version == "TLSv1.3"
    pathlib.Path("port.json").write_text(json.dumps(server.port))


def test_stdlib_client_with_the_trust_helper(tlskit_server, tlskit_ssl_context):
    def greet(stream):
        stream.sendall(b"hi " + stream.recv())

    server = tlskit_server(greet)
    with socket.create_connection(server.address, timeout=10) as raw:
        with tlskit_ssl_context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ssl")
            assert tls.recv(16) == b"hi ssl"
            tls.unwrap()
    assert server.errors == []


def test_mutual_tls(tlskit_server):
    peers = []

    def who(stream):
        peers.append(stream.getpeercert()["subject"])
        stream.sendall(b"ok")

    server = tlskit_server(who, client_auth=True)
    with server.connect() as stream:
        assert stream.recv() == b"ok"
    with socket.create_connection(server.address, timeout=10) as raw:
        with server.ssl_context().wrap_socket(raw, server_hostname=server.host) as tls:
            assert tls.recv(2) == b"ok"
    assert peers == [((("commonName", "tlskit-test-client"),),)] * 2


def test_server_refuses_a_client_without_a_certificate(tlskit_server, tlskit_ca):
    server = tlskit_server(client_auth=True)
    with pytest.raises(tlskit.TLSError):
        with tlskit.connect(server.host, server.port, config=tlskit_ca.client_config(), timeout=10) as stream:
            stream.sendall(b"x")
            stream.recv()


def test_client_refuses_another_ca(tlskit_server):
    server = tlskit_server()
    with pytest.raises(tlskit.TLSError):
        tlskit.connect(server.host, server.port, cadata=EphemeralCA().root_pem, timeout=10)


def test_configs_take_overrides(tlskit_server):
    server = tlskit_server(lambda stream: stream.sendall(stream.negotiated.alpn.encode()), alpn_protocols=["x-test"])
    with server.connect(alpn_protocols=["x-test"]) as stream:
        assert stream.recv() == b"x-test"


def test_another_ca_and_provider_over_ipv6(tlskit_server):
    ed_ca = EphemeralCA(key_type="ed25519")  # PyNaCl signs and verifies Ed25519 only
    server = tlskit_server(ca=ed_ca, client_auth=True, host="::1", provider="pynacl")
    assert server.url == f"https://[::1]:{server.port}"
    with server.connect(provider="pynacl") as stream:
        stream.sendall(b"nacl")
        assert stream.recv() == b"nacl"
        assert stream.negotiated.signature_scheme == "ed25519"


def test_httpx_client_trusts_the_ca(tlskit_server, tlskit_httpx_client):
    def http(stream):
        request = b""
        while b"\r\n\r\n" not in request:
            request += stream.recv()
        body = request.split(b" ", 2)[1]
        stream.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))

    server = tlskit_server(http)
    response = tlskit_httpx_client().get(server.url + "/hello")
    assert response.status_code == 200 and response.text == "/hello"
'''


def test_plugin_is_registered_through_the_pytest11_entry_point():
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "tlskit"]
    assert [ep.value for ep in found] == ["tlskit.pytest_plugin"]


def test_fixtures_work_in_a_fresh_pytest_run(pytester):
    pytester.makepyfile(test_uses_tlskit=INNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", timeout=120)
    result.assert_outcomes(passed=10)
    # the servers of the inner run were stopped at teardown: nothing listens any more
    port = int((pytester.path / "port.json").read_text())
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_fixtures_are_listed(pytester):
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["tlskit_ca *session*", "tlskit_server*", "tlskit_ssl_context*", "tlskit_httpx_client*"])


def test_httpx_fixture_skips_without_httpx(pytester, monkeypatch):
    pytester.makepyfile(test_no_httpx="def test_it(tlskit_httpx_client):\n    raise AssertionError('not reached')\n")
    monkeypatch.setitem(sys.modules, "httpx", None)  # what "httpx is not installed" looks like to import
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*could not import 'httpx'*"])
