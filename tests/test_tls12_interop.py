"""TLS 1.2 interop over loopback, both directions, with ``openssl s_server -tls1_2`` /
``s_client -tls1_2`` and with stdlib ``ssl`` limited to TLS 1.2: every suite x ECDSA and
RSA certificates x every provider that has the primitives (Ed25519 with PyNaCl), mTLS,
ALPN, the key log against OpenSSL's, and 16 MiB each way."""

from __future__ import annotations

import ssl

import pytest
from tls12_peers import (
    OPENSSL,
    OPENSSL_NAMES,
    OpenSSLServer12,
    StdlibServer12,
    TlskitServer,
    echo,
    run_s_client,
)

import tlskit
from tlskit.ca import EphemeralCA
from tlskit.engine.tls12.suites import provider_suites
from tlskit.providers import available_providers, get_provider

pytestmark = pytest.mark.interop
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")
TLS12_ONLY = dict(min_version="TLSv1.2", max_version="TLSv1.2")
PROVIDERS = available_providers()


@pytest.fixture(scope="module")
def ca():
    return EphemeralCA()


@pytest.fixture(scope="module")
def ed_ca():
    return EphemeralCA(key_type="ed25519")


@pytest.fixture(scope="module")
def certs(ca, ed_ca):
    return {
        "ECDSA": ca.issue_cert("localhost"),
        "RSA": ca.issue_cert("localhost", key_type="rsa-2048"),
        "Ed25519": ed_ca.issue_cert("localhost"),
    }


def cases():
    """(provider, certificate kind, suite): every suite x matching certificate x provider."""
    for provider in PROVIDERS:
        p = get_provider(provider)
        kinds = [k for k, scheme in (("ECDSA", "ecdsa_secp256r1_sha256"), ("RSA", "rsa_pss_rsae_sha256")) if scheme in p.signature_schemes]
        if "ed25519" in p.signature_schemes and provider == "pynacl":
            kinds.append("Ed25519")  # PyNaCl: Ed25519 only
        for kind in kinds:
            auth = "RSA" if kind == "RSA" else "ECDSA"
            for suite in provider_suites(p).values():
                if suite.info.auth == auth:
                    yield provider, kind, suite.name


CASES = list(cases())


def _ca_of(kind, ca, ed_ca):
    return ed_ca if kind == "Ed25519" else ca


# -- tlskit client -> openssl s_server -tls1_2 ------------------------------------------------------


@pytest.fixture(scope="module")
def openssl_servers(ca, ed_ca, certs, tmp_path_factory):
    if OPENSSL is None:
        pytest.skip("openssl binary not installed")
    servers = {}
    try:
        for kind, cert in certs.items():
            directory = tmp_path_factory.mktemp(f"s_server-{kind}")
            servers[kind] = OpenSSLServer12(cert.write_files(directory, "server"), directory / "keys.log")
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@needs_openssl
@pytest.mark.parametrize("provider,kind,suite", CASES)
def test_tlskit_client_with_openssl_s_server(openssl_servers, ca, ed_ca, provider, kind, suite):
    server = openssl_servers[kind]
    lines = []
    config = _ca_of(kind, ca, ed_ca).client_config(
        provider=provider, cipher_suites=[suite], keylog_callback=lambda *entry: lines.append(entry)
    )
    with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=20, keylog_from_env=False) as stream:
        stream.sendall(b"Hello, world!\n")
        received = b""
        while not received.endswith(b"\n"):
            received += stream.recv()
        assert received == b"!dlrow ,olleH\n"
        assert stream.negotiated.version == "TLSv1.2"  # the server speaks nothing newer
        assert stream.negotiated.cipher_suite == suite
    # our CLIENT_RANDOM line is the one OpenSSL logged for this connection
    ((label, client_random, master),) = lines
    assert f"{label} {client_random.hex()} {master.hex()}" in server.keylog_lines()


@needs_openssl
def test_tlskit_client_mtls_alpn_with_openssl_s_server(ca, certs, tmp_path):
    alice = ca.issue_cert("alice@example.com", client=True, key_type="rsa-2048")
    files = certs["ECDSA"].write_files(tmp_path, "server")
    server = OpenSSLServer12(
        files, tmp_path / "keys.log", "-Verify", "1", "-verify_return_error", "-CAfile", str(files.root), "-alpn", "h2"
    )
    try:
        config = ca.client_config(alice, alpn_protocols=["h2", "http/1.1"], groups=["secp384r1", "secp256r1"])  # OpenSSL wants the P-256 certificate's curve listed (RFC 4492 5.1)
        with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=20, keylog_from_env=False) as stream:
            stream.sendall(b"abc\n")
            received = b""
            while not received.endswith(b"\n"):
                received += stream.recv()
            assert received == b"cba\n"
            assert stream.negotiated.alpn == "h2"
            assert stream.negotiated.group == "secp384r1"
    finally:
        server.stop()
    assert b"Verification: OK" in server.output or b"verify return:1" in server.output


# -- openssl s_client -tls1_2 -> tlskit server ----------------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("provider,kind,suite", CASES)
def test_openssl_s_client_with_tlskit_server(ca, ed_ca, certs, tmp_path, provider, kind, suite):
    issuer = _ca_of(kind, ca, ed_ca)
    server = TlskitServer(issuer.server_config(certs[kind], provider=provider))
    root = tmp_path / "root.pem"
    root.write_bytes(issuer.root_pem)
    result = run_s_client(server.port, root, "-cipher", OPENSSL_NAMES[suite], "-keymatexport", "EXPERIMENTAL tlskit", "-keymatexportlen", "20")
    server.join()
    assert not server.errors, server.errors
    stdout = result.stdout.decode(errors="replace")
    assert result.returncode == 0, stdout + result.stderr.decode(errors="replace")
    assert "tlskit says: ping" in stdout and "Verify return code: 0 (ok)" in stdout
    assert "Protocol  : TLSv1.2" in stdout and f"Cipher    : {OPENSSL_NAMES[suite]}" in stdout
    assert "Extended master secret: yes" in stdout
    assert "Secure Renegotiation IS supported" in stdout
    conn = server.conns[0]
    assert conn.negotiated.version == "TLSv1.2" and conn.negotiated.cipher_suite == suite
    exported = bytes.fromhex(stdout.split("Keying material: ")[1].split()[0])
    # RFC 5705 without a context, as OpenSSL's -keymatexport asks for it
    assert exported == conn.export_keying_material(b"EXPERIMENTAL tlskit", None, 20)


@needs_openssl
def test_openssl_s_client_mtls_alpn_with_tlskit_server(ca, certs, tmp_path):
    alice = ca.issue_cert("alice@example.com", client=True)
    files = alice.write_files(tmp_path, "alice")
    server = TlskitServer(ca.server_config(certs["RSA"], client_auth=True, alpn_protocols=["h2"], groups=["secp521r1", "x25519"]))
    intermediates = tmp_path / "intermediates.pem"
    intermediates.write_bytes(ca.intermediate_pem)
    result = run_s_client(
        server.port, files.root, "-cert", str(files.cert), "-cert_chain", str(intermediates), "-key", str(files.key),
        "-alpn", "h2,http/1.1",
        "-groups", "secp521r1:x25519",
    )  # fmt: skip
    server.join()
    assert not server.errors, server.errors
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"tlskit says: ping" in result.stdout
    conn = server.conns[0]
    assert conn.negotiated.alpn == "h2" and conn.negotiated.group == "secp521r1"
    assert conn.negotiated.peer_certificates[0] == alice.chain_der[0]


# -- stdlib ssl (TLS 1.2 at most), both directions, every provider ----------------------------------


def _ssl_server_context(cert, *, client_ca=None, alpn=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(OPENSSL_NAMES.values()))
    cert.configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def _ssl_client_context(ca, suite=None, cert=None):
    context = ca.client_ssl_context(cert)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(OPENSSL_NAMES[suite] if suite else ":".join(OPENSSL_NAMES.values()))
    return context


@pytest.mark.parametrize("provider,kind,suite", CASES)
def test_tlskit_client_with_ssl_server(ca, ed_ca, certs, provider, kind, suite):
    server = StdlibServer12(_ssl_server_context(certs[kind]), echo)
    with server:
        config = _ca_of(kind, ca, ed_ca).client_config(provider=provider, cipher_suites=[suite])
        with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=20, keylog_from_env=False) as stream:
            stream.sendall(b"x" * 1000)
            received = b""
            while len(received) < 1000:
                received += stream.recv()
            assert stream.negotiated.version == "TLSv1.2" and stream.negotiated.cipher_suite == suite
    assert not server.errors, server.errors
    assert server.results[0][:2] == ("TLSv1.2", OPENSSL_NAMES[suite])


@pytest.mark.parametrize("provider,kind,suite", CASES)
def test_ssl_client_with_tlskit_server(ca, ed_ca, certs, provider, kind, suite):
    issuer = _ca_of(kind, ca, ed_ca)
    server = TlskitServer(issuer.server_config(certs[kind], provider=provider))
    context = _ssl_client_context(issuer, suite)
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2" and tls.cipher()[0] == OPENSSL_NAMES[suite]
            tls.sendall(b"ping")
            reply = b""
            while chunk := tls.recv(4096):
                reply += chunk
    server.join()
    assert not server.errors, server.errors
    assert reply == b"tlskit says: ping"
    assert server.conns[0].negotiated.version == "TLSv1.2"


def test_ssl_client_mtls_alpn_with_tlskit_server(ca, certs):
    alice = ca.issue_cert("alice@example.com", client=True, key_type="rsa-2048")
    server = TlskitServer(ca.server_config(certs["ECDSA"], client_auth=True, alpn_protocols=["h2", "http/1.1"]))
    context = _ssl_client_context(ca, cert=alice)
    context.set_alpn_protocols(["http/1.1"])
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            tls.sendall(b"ping")
            while tls.recv(4096):
                pass
    server.join()
    assert not server.errors, server.errors
    assert server.conns[0].negotiated.peer_certificates[0] == alice.chain_der[0]


def test_tlskit_client_mtls_with_ssl_server(ca, certs):
    alice = ca.issue_cert("alice@example.com", client=True)
    server = StdlibServer12(_ssl_server_context(certs["RSA"], client_ca=ca, alpn=["h2"]), lambda tls: tls.getpeercert(binary_form=True))
    with server:
        config = ca.client_config(alice, alpn_protocols=["h2"])
        with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=20, keylog_from_env=False) as stream:
            assert stream.negotiated.alpn == "h2"
    assert not server.errors, server.errors
    assert server.results[0][3] == alice.chain_der[0]


SIXTEEN_MIB = 16 * 1024 * 1024


def test_16_mib_each_way_with_ssl(ca, certs):
    server = StdlibServer12(_ssl_server_context(certs["ECDSA"]), echo)
    blob = bytes(range(256)) * (SIXTEEN_MIB // 256)
    with server:
        config = ca.client_config(cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], **TLS12_ONLY)
        with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=60, keylog_from_env=False) as stream:
            import threading

            sender = threading.Thread(target=stream.sendall, args=(blob,))
            sender.start()
            received = bytearray()
            while len(received) < len(blob):
                received += stream.recv(1 << 20)
            sender.join(60)
            assert bytes(received) == blob
    assert not server.errors, server.errors
    assert server.results[0][3] == SIXTEEN_MIB


def test_version_matrix_against_ssl(ca, certs):
    """A 1.2-only ssl server and tlskit at defaults meet at 1.2; a 1.3-capable pair at 1.3;
    a TLS 1.2 ssl client against a 1.3-only tlskit server gets protocol_version."""
    server = StdlibServer12(_ssl_server_context(certs["ECDSA"]), echo)
    with server:
        with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=ca.client_config(), timeout=20, keylog_from_env=False) as stream:
            assert stream.negotiated.version == "TLSv1.2"
    modern = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certs["ECDSA"].configure_cert(modern)
    server = StdlibServer12(modern, echo)
    with server:
        with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=ca.client_config(), timeout=20, keylog_from_env=False) as stream:
            assert stream.negotiated.version == "TLSv1.3"
    import socket

    only13 = TlskitServer(ca.server_config(certs["ECDSA"], min_version="TLSv1.3"))
    with socket.create_connection(("127.0.0.1", only13.port), timeout=20) as raw:
        with pytest.raises(ssl.SSLError, match="(?i)protocol.version|unsupported protocol"):
            _ssl_client_context(ca).wrap_socket(raw, server_hostname="localhost")
    only13.join()
    assert only13.errors and only13.errors[0].alert.name == "protocol_version"


# -- resumption: by session id and by RFC 5077 ticket, both directions ------------------------------


@pytest.mark.parametrize("by", ["ticket", "session id"])
def test_tlskit_client_resumes_with_ssl_server(ca, certs, by):
    context = _ssl_server_context(certs["ECDSA"])
    if by == "session id":
        context.options |= ssl.OP_NO_TICKET  # the server keeps sessions by id (its session cache)
    server = StdlibServer12(context, echo, connections=2)
    config = ca.client_config(**TLS12_ONLY)
    resumed = []
    with server:
        for _ in range(2):
            with tlskit.connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=20, keylog_from_env=False) as stream:
                stream.sendall(b"ping")
                received = b""
                while len(received) < 4:
                    received += stream.recv()
                resumed.append(stream.negotiated.resumed)
    assert not server.errors, server.errors
    assert resumed == [False, True]
    assert [r[2] for r in server.results] == [False, True]  # ssl's session_reused


@pytest.mark.parametrize("by", ["ticket", "session id"])
def test_ssl_client_resumes_with_tlskit_server(ca, certs, by):
    import socket

    server = TlskitServer(ca.server_config(certs["ECDSA"]), connections=2)
    context = _ssl_client_context(ca)
    if by == "session id":
        context.options |= ssl.OP_NO_TICKET  # no session_ticket extension: resumption by id
    session = None
    reused = []
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as raw:
            with context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                tls.sendall(b"ping")
                while tls.recv(4096):
                    pass
                reused.append(tls.session_reused)
                session = tls.session
                assert session.has_ticket == (by == "ticket")
    server.join()
    assert not server.errors, server.errors
    assert reused == [False, True]
    assert [c.negotiated.resumed for c in server.conns] == [False, True]


def test_asyncio_streams_speak_tls12_both_ways(ca, certs):
    """tlskit.aio over TLS 1.2: a TLS 1.2-only asyncio client and an asyncio server at defaults."""
    import asyncio

    from tlskit import aio

    async def main():
        async def handle(reader, writer):
            data = await reader.read(100)
            writer.write(data.upper())
            await writer.drain()
            writer.close()

        server = await aio.start_server(handle, "127.0.0.1", 0, config=ca.server_config(certs["RSA"]), keylog_from_env=False)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await aio.open_connection(
                "127.0.0.1", port, server_name="localhost", config=ca.client_config(**TLS12_ONLY), keylog_from_env=False
            )
            writer.write(b"ping")
            await writer.drain()
            reply = await reader.read(100)
            version = writer.get_extra_info("negotiated").version
            writer.close()
            return reply, version

    reply, version = asyncio.run(asyncio.wait_for(main(), 20))
    assert reply == b"PING"
    assert version == "TLSv1.2"
