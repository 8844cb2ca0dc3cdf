"""ssl.SSLSocket / SSLObject parity of tlskit streams (issue 14 item 5), checked
against the answers of stdlib ``ssl`` (and of ``openssl s_server`` for the RFC 9266
channel binding, which Python's ssl cannot export) on the same connection."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography import x509

from io_peers import TIMEOUT, StdlibServer, process, read_line_with
from tlskit.ca import EphemeralCA
from tlskit.engine import ServerConfig
from tlskit.errors import NoApplicationProtocol
from tlskit.io import aio, connect, serve

OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def ca():
    return EphemeralCA(intermediate=False)


@pytest.fixture(scope="module")
def files(ca, tmp_path_factory):
    directory = tmp_path_factory.mktemp("parity")
    return ca.issue_cert("localhost", "127.0.0.1").write_files(directory)


def ssl_server_context(ca, *, tls12: bool = False, alpn=None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def ssl_client_context(ca, alpn=None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def answers(tls) -> dict:
    """What an ssl socket says of its connection (run on the stdlib side)."""
    return {
        "cipher": tls.cipher(),
        "version": tls.version(),
        "alpn": tls.selected_alpn_protocol(),
        "cert_der": tls.getpeercert(binary_form=True) if tls.server_side else None,
        "own_der": None,
    }


@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
def test_blocking_client_answers_as_the_stdlib_server_does(ca, files, tls12):
    context = ssl_server_context(ca, tls12=tls12, alpn=["h2", "http/1.1"])

    def handler(tls):
        facts = answers(tls)
        tls.sendall(b"x")
        tls.recv(1)
        return facts

    with StdlibServer(context, handler) as server:
        with connect(
            "127.0.0.1", server.port, server_name="localhost", cafile=str(files.root),
            alpn_protocols=["http/1.1"], timeout=TIMEOUT,
        ) as stream:  # fmt: skip
            assert stream.recv(1) == b"x"
            mine = {
                "cipher": stream.cipher(),
                "version": stream.version(),
                "alpn": stream.selected_alpn_protocol(),
            }
            der = stream.getpeercert(binary_form=True)
            assert stream.server_hostname == "localhost"
            assert stream.server_side is False
            assert stream.session_reused is False
            assert stream.shared_ciphers() is None  # as OpenSSL: a server-side answer
            assert stream.compression() is None
            assert len(stream.get_channel_binding("tls-exporter")) == 32
            with pytest.raises(ValueError):
                stream.get_channel_binding("tls-unique")
            stream.sendall(b"y")
        server.thread.join(TIMEOUT)
    assert server.errors == []
    theirs = server.results[0]
    assert mine["cipher"] == theirs["cipher"]  # (name, version, bits), OpenSSL names on TLS 1.2
    assert mine["version"] == theirs["version"] == ("TLSv1.2" if tls12 else "TLSv1.3")
    assert mine["alpn"] == theirs["alpn"] == "http/1.1"
    assert x509.load_der_x509_certificate(der).subject.rfc4514_string() == "CN=localhost"


def test_blocking_server_answers_as_the_stdlib_client_does(ca, files):
    results: dict = {}

    def handler(stream):
        results.update(
            cipher=stream.cipher(),
            version=stream.version(),
            alpn=stream.selected_alpn_protocol(),
            shared=stream.shared_ciphers(),
            hostname=stream.server_hostname,
            side=stream.server_side,
            binding=stream.get_channel_binding(),
        )
        stream.sendall(stream.recv(1))

    client_context = ssl_client_context(ca, alpn=["http/1.1"])
    with serve(certfile=str(files.chain), keyfile=str(files.key), alpn_protocols=["http/1.1"]) as server:
        server.serve_in_background(handler)
        with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
            with client_context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"z")
                assert tls.recv(1) == b"z"
                theirs = answers(tls)
                offered = client_context.get_ciphers()
        server.close()
    assert results["cipher"] == theirs["cipher"]
    assert results["version"] == theirs["version"]
    assert results["alpn"] == theirs["alpn"] == "http/1.1"
    assert results["side"] is True and results["hostname"] is None
    assert len(results["binding"]) == 32
    # the suites both sides have, from ssl's own list of what its client offers
    offered_names = {c["name"] for c in offered}
    shared = results["shared"]
    assert shared and all(name in offered_names for name, _, _ in shared)
    assert theirs["cipher"] in shared
    tls13_offered = {c["name"] for c in offered if c["protocol"] == "TLSv1.3"}
    assert {name for name, version, _ in shared if version == "TLSv1.3"} == tls13_offered & {
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"
    }  # fmt: skip


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
def test_tls_exporter_channel_binding_equals_openssls(ca, files):
    """RFC 9266: both ends compute the same 32 bytes; openssl s_server prints its own."""
    args = [OPENSSL, "s_server", "-accept", "0", "-naccept", "1", "-cert", str(files.chain), "-key", str(files.key),
            "-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"]  # fmt: skip
    with process(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        port = int(read_line_with(proc, proc.stdout, "ACCEPT").split(":")[-1])
        with connect("127.0.0.1", port, server_name="localhost", cafile=str(files.root), timeout=TIMEOUT) as stream:
            binding = stream.get_channel_binding("tls-exporter")
            stream.sendall(b"hello\n")
            line = read_line_with(proc, proc.stdout, "Keying material:")
    theirs = bytes.fromhex(re.search(r"Keying material:\s*([0-9A-Fa-f]+)", line).group(1))
    assert binding == theirs and len(binding) == 32


def test_unwrap_returns_the_plain_socket_after_close_notify_both_ways(ca, files):
    context = ssl_server_context(ca)

    def handler(tls):
        assert tls.recv(5) == b"hello"
        plain = tls.unwrap()  # waits for our close_notify, answers with its own
        plain.sendall(b"plaintext now")
        return plain.recv(5)

    with StdlibServer(context, handler) as server:
        stream = connect("127.0.0.1", server.port, server_name="localhost", cafile=str(files.root), timeout=TIMEOUT)
        stream.sendall(b"hello")
        plain = stream.unwrap()
        assert stream.closed
        try:
            assert isinstance(plain, socket.socket)
            received = b""
            while len(received) < len(b"plaintext now"):
                chunk = plain.recv(100)
                assert chunk
                received += chunk
            assert received == b"plaintext now"
            plain.sendall(b"bye!!")
        finally:
            plain.close()
        server.thread.join(TIMEOUT)
    assert server.errors == []
    assert server.results == [b"bye!!"]


def test_asyncio_ssl_object_answers_as_the_stdlib_server_does(ca, files):
    context = ssl_server_context(ca, alpn=["http/1.1"])

    def handler(tls):
        facts = answers(tls)
        tls.sendall(b"x")
        tls.recv(1)
        return facts

    async def main(port):
        reader, writer = await aio.open_connection(
            "127.0.0.1", port, server_name="localhost", cafile=str(files.root), alpn_protocols=["http/1.1"]
        )
        assert await reader.readexactly(1) == b"x"
        obj = writer.get_extra_info("ssl_object")
        mine = {
            "cipher": obj.cipher(),
            "version": obj.version(),
            "alpn": obj.selected_alpn_protocol(),
            "extra_cipher": writer.get_extra_info("cipher"),
            "hostname": obj.server_hostname,
            "side": obj.server_side,
            "der": obj.getpeercert(True),
            "dict": obj.getpeercert(),
            "binding": obj.get_channel_binding("tls-exporter"),
            "reused": obj.session_reused,
        }
        writer.write(b"y")
        writer.close()
        return mine

    with StdlibServer(context, handler) as server:
        mine = asyncio.run(main(server.port))
        server.thread.join(TIMEOUT)
    assert server.errors == []
    theirs = server.results[0]
    assert mine["cipher"] == mine["extra_cipher"] == theirs["cipher"]
    assert mine["version"] == theirs["version"]
    assert mine["alpn"] == theirs["alpn"] == "http/1.1"
    assert mine["hostname"] == "localhost" and mine["side"] is False and mine["reused"] is False
    assert mine["dict"]["subjectAltName"][0] == ("DNS", "localhost")
    assert isinstance(mine["der"], bytes) and len(mine["binding"]) == 32


def test_asyncio_server_ssl_object_and_shared_ciphers(ca, files):
    async def main():
        results: dict = {}
        done = asyncio.Event()

        async def handler(reader, writer):
            obj = writer.get_extra_info("ssl_object")
            results.update(cipher=obj.cipher(), shared=obj.shared_ciphers(), side=obj.server_side)
            writer.write(await reader.readexactly(1))
            await writer.drain()
            writer.close()
            done.set()

        server = await aio.start_server(handler, "127.0.0.1", 0, certfile=str(files.chain), keyfile=str(files.key))
        port = server.sockets[0].getsockname()[1]
        context = ssl_client_context(ca)
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
        writer.write(b"q")
        assert await reader.readexactly(1) == b"q"
        theirs = writer.get_extra_info("ssl_object").cipher()
        await asyncio.wait_for(done.wait(), TIMEOUT)
        writer.close()
        server.close()
        await server.wait_closed()
        return results, theirs, context.get_ciphers()

    results, theirs, offered = asyncio.run(main())
    assert results["cipher"] == theirs and results["side"] is True
    assert theirs in results["shared"]
    assert {n for n, _, _ in results["shared"]} <= {c["name"] for c in offered}


def test_sni_callback_selects_the_certificate_and_alpn_callback_the_protocol(ca, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ca.issue_cert("a.example").write_files(tmp_path / "a")
    b = ca.issue_cert("b.example").write_files(tmp_path / "b")
    seen: list = []
    # the config the callback returns governs the rest of the handshake (here: its ALPN)
    b_config = ServerConfig(certfile=str(b.chain), keyfile=str(b.key), alpn_protocols=["first"])

    def by_name(name):
        seen.append(name)
        return b_config if name == "b.example" else None

    def pick(offered):
        return "second" if "second" in offered else None

    with serve(
        certfile=str(a.chain), keyfile=str(a.key), sni_callback=by_name, alpn_callback=pick
    ) as server:
        server.serve_in_background(lambda stream: stream.sendall(stream.recv(1)))
        context = ssl_client_context(ca, alpn=["first", "second"])
        names = {}
        for host in ("a.example", "b.example"):
            with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
                with context.wrap_socket(raw, server_hostname=host) as tls:  # ssl verifies the name
                    tls.sendall(b"1")
                    assert tls.recv(1) == b"1"
                    names[host] = (tls.getpeercert()["subjectAltName"], tls.selected_alpn_protocol())
        # the callback may also choose no protocol at all (no ALPN extension in the reply)
        with connect(*server.address, server_name="a.example", cafile=str(a.root), alpn_protocols=["first"],
                     timeout=TIMEOUT) as stream:  # fmt: skip
            assert stream.selected_alpn_protocol() is None
            assert stream.getpeercert()["subjectAltName"] == (("DNS", "a.example"),)
        server.close()
    assert names["a.example"] == ((("DNS", "a.example"),), "second")
    assert names["b.example"] == ((("DNS", "b.example"),), "first")
    assert seen[:2] == ["a.example", "b.example"]


def test_alpn_callback_choice_not_offered_is_no_application_protocol(ca, files):
    from tlskit.engine import ClientConfig, ClientConnection, ServerConnection

    server = ServerConnection(
        ServerConfig(certfile=str(files.chain), keyfile=str(files.key), alpn_callback=lambda offered: "h3")
    )
    client = ClientConnection(ClientConfig(cafile=str(files.root), alpn_protocols=["h2"]), server_name="localhost")
    with pytest.raises(NoApplicationProtocol):
        server.receive_data(client.data_to_send())


def test_cli_serve_selects_among_several_certificates_by_sni(ca, tmp_path):
    from io_peers import tlskit_server

    pairs = {}
    for name in ("a.example", "b.example"):
        (tmp_path / name).mkdir()
        pairs[name] = ca.issue_cert(name).write_files(tmp_path / name)
    first = type("Files", (), {"chain_file": pairs["a.example"].chain, "key_file": pairs["a.example"].key})
    extra = ("--cert", str(pairs["b.example"].chain), "--key", str(pairs["b.example"].key))
    context = ssl_client_context(ca)
    with tlskit_server(first, *extra) as (proc, port):
        seen = {}
        for host in ("a.example", "b.example", "other.example"):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                check = ssl_client_context(ca)
                check.check_hostname = False  # other.example gets the default certificate
                with (context if host != "other.example" else check).wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(b"1")
                    assert tls.recv(1) == b"1"
                    seen[host] = tls.getpeercert()["subjectAltName"]
    assert seen == {
        "a.example": (("DNS", "a.example"),),
        "b.example": (("DNS", "b.example"),),
        "other.example": (("DNS", "a.example"),),
    }


def test_cli_serve_refuses_unpaired_cert_and_key(ca, files):
    from typer.testing import CliRunner

    from tlskit.cli.main import app

    result = CliRunner().invoke(
        app, ["serve", "--port", "0", "--cert", str(files.chain), "--key", str(files.key), "--cert", str(files.chain)]
    )
    assert result.exit_code == 2
    assert "--cert and --key go in pairs" in result.output


def test_sni_and_alpn_callbacks_also_run_for_tls12_clients(ca, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a = ca.issue_cert("a.example").write_files(tmp_path / "a")
    b = ca.issue_cert("b.example").write_files(tmp_path / "b")
    b_config = ServerConfig(certfile=str(b.chain), keyfile=str(b.key), alpn_callback=lambda offered: offered[-1])
    with serve(
        certfile=str(a.chain), keyfile=str(a.key), sni_callback=lambda name: b_config if name == "b.example" else None
    ) as server:
        server.serve_in_background(lambda stream: stream.sendall(stream.recv(1)))
        context = ssl_client_context(ca, alpn=["x", "y"])
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname="b.example") as tls:
                tls.sendall(b"1")
                assert tls.recv(1) == b"1"
                facts = (tls.version(), tls.getpeercert()["subjectAltName"], tls.selected_alpn_protocol())
        server.close()
    assert facts == ("TLSv1.2", (("DNS", "b.example"),), "y")


def test_session_reused_agrees_with_the_stdlib_server(ca, files):
    """A second connection with the same config resumes (RFC 8446 2.2); both ends say so."""
    from tlskit.engine import ClientConfig

    context = ssl_server_context(ca)

    def handler(tls):
        tls.sendall(b"x")  # the tickets go out with the first flight after the handshake
        tls.recv(1)
        return tls.session_reused

    config = ClientConfig(cafile=str(files.root))
    mine = []
    with StdlibServer(context, handler, connections=2) as server:
        for _ in range(2):
            with connect("127.0.0.1", server.port, server_name="localhost", config=config, timeout=TIMEOUT) as stream:
                assert stream.recv(1) == b"x"
                stream.wait_for_session()
                mine.append((stream.session_reused, stream.ssl_object.session_reused, stream.session is not None))
                stream.sendall(b"y")
        server.thread.join(TIMEOUT)
    assert server.errors == []
    assert server.results == [False, True]
    assert mine == [(False, False, True), (True, True, True)]
