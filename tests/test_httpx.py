"""httpx over tlskit (issue 14 item 1): tlskit.httpx.Transport / AsyncTransport
against `tlskit serve --mode http` and `openssl s_server -www` on loopback, sync and
async, with mTLS, each provider, pooling, errors and timeouts."""

from __future__ import annotations

import asyncio
import socket

import pytest

httpx = pytest.importorskip("httpx", reason="httpx (the tlskit[httpx] extra) is not installed")

import tlskit.httpx as tlshttpx  # noqa: E402
from io_peers import OPENSSL, TIMEOUT, openssl_server, tlskit_server  # noqa: E402
from tlskit.ca import EphemeralCA  # noqa: E402
from tlskit.providers import available_providers  # noqa: E402

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")


class _Files:
    """The attribute names io_peers' server helpers expect."""

    def __init__(self, written, ca):
        self.chain_file = written.chain
        self.key_file = written.key
        self.leaf_file = written.cert
        self.ca_file = written.root
        self.intermediate_file = written.chain  # openssl's -cert_chain (the leaf again is harmless)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = EphemeralCA(intermediate=False)
    return _Files(ca.issue_cert("localhost", "127.0.0.1").write_files(tmp_path_factory.mktemp("httpx")), ca)


@pytest.fixture(scope="module")
def ed_pki(tmp_path_factory):
    ca = EphemeralCA(intermediate=False, key_type="ed25519")
    return _Files(ca.issue_cert("localhost").write_files(tmp_path_factory.mktemp("httpx-ed")), ca)


@pytest.fixture(scope="module")
def client_files(tmp_path_factory):
    ca = EphemeralCA(intermediate=False)
    return ca.issue_cert("alice", client=True).write_files(tmp_path_factory.mktemp("httpx-client"))


@pytest.mark.parametrize("provider", available_providers())
def test_sync_client_against_tlskit_serve_with_each_provider_pools_connections(ed_pki, provider):
    with tlskit_server(ed_pki, "--mode", "http", "--alpn", "http/1.1", "--provider", provider) as (proc, port):
        transport = tlshttpx.Transport(provider=provider, cafile=str(ed_pki.ca_file), http2=False)
        with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
            first = client.get(f"https://localhost:{port}/one")
            second = client.get(f"https://localhost:{port}/two")
    assert first.status_code == second.status_code == 200
    assert "alpn: http/1.1" in first.text and "request: GET /one HTTP/1.1" in first.text
    assert "request: GET /two HTTP/1.1" in second.text
    # one pooled connection carried both requests
    assert first.extensions["network_stream"] is second.extensions["network_stream"]
    ssl_object = first.extensions["network_stream"].get_extra_info("ssl_object")
    assert ssl_object.selected_alpn_protocol() == "http/1.1" and ssl_object.version() == "TLSv1.3"


def test_async_client_against_tlskit_serve(pki):
    async def main(port):
        transport = tlshttpx.AsyncTransport(cafile=str(pki.ca_file))
        async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
            responses = await asyncio.gather(*(client.get(f"https://localhost:{port}/{i}") for i in range(3)))
            again = await client.get(f"https://localhost:{port}/again")
        return responses, again

    with tlskit_server(pki, "--mode", "http", "--alpn", "http/1.1") as (proc, port):
        responses, again = asyncio.run(main(port))
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all(f"request: GET /{i} HTTP/1.1" in r.text for i, r in enumerate(responses))
    assert again.status_code == 200 and "alpn: http/1.1" in again.text


@needs_openssl
def test_sync_and_async_against_openssl_s_server_www(pki):
    with openssl_server(pki, "-www") as (proc, port):
        with httpx.Client(transport=tlshttpx.Transport(cafile=str(pki.ca_file)), timeout=TIMEOUT) as client:
            response = client.get(f"https://localhost:{port}/")
    assert response.status_code == 200 and "Ciphers supported in s_server binary" in response.text

    async def main(port):
        async with httpx.AsyncClient(transport=tlshttpx.AsyncTransport(cafile=str(pki.ca_file)), timeout=TIMEOUT) as c:
            return await c.get(f"https://localhost:{port}/")

    with openssl_server(pki, "-www") as (proc, port):
        response = asyncio.run(main(port))
    assert response.status_code == 200 and "Ciphers supported in s_server binary" in response.text


@needs_openssl
def test_mtls_against_openssl_s_server_verify(pki, client_files):
    extra = ("-www", "-Verify", "1", "-CAfile", str(client_files.root))
    with openssl_server(pki, *extra) as (proc, port):
        transport = tlshttpx.Transport(
            cafile=str(pki.ca_file), certfile=str(client_files.chain), keyfile=str(client_files.key)
        )
        with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
            response = client.get(f"https://localhost:{port}/")
    assert response.status_code == 200

    async def main(port):
        transport = tlshttpx.AsyncTransport(
            cafile=str(pki.ca_file), certfile=str(client_files.chain), keyfile=str(client_files.key)
        )
        async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
            return await client.get(f"https://localhost:{port}/")

    with openssl_server(pki, *extra) as (proc, port):
        assert asyncio.run(main(port)).status_code == 200

    # without a client certificate the server's alert surfaces as an httpx error naming it
    with openssl_server(pki, *extra) as (proc, port):
        with httpx.Client(transport=tlshttpx.Transport(cafile=str(pki.ca_file)), timeout=TIMEOUT) as client:
            with pytest.raises(httpx.TransportError) as failure:
                client.get(f"https://localhost:{port}/")
    assert "certificate_required" in str(failure.value)


def test_untrusted_server_is_a_connect_error_naming_the_alert(pki, ed_pki):
    with tlskit_server(pki, "--mode", "http") as (proc, port):
        with httpx.Client(transport=tlshttpx.Transport(cafile=str(ed_pki.ca_file)), timeout=TIMEOUT) as client:
            with pytest.raises(httpx.ConnectError, match="unknown_ca"):
                client.get(f"https://localhost:{port}/")

        async def main():
            async with httpx.AsyncClient(transport=tlshttpx.AsyncTransport(cafile=str(ed_pki.ca_file))) as client:
                await client.get(f"https://localhost:{port}/")

        with pytest.raises(httpx.ConnectError, match="unknown_ca"):
            asyncio.run(main())


def test_a_silent_server_is_a_connect_timeout():
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts (backlog), never answers
        port = listener.getsockname()[1]
        timeout = httpx.Timeout(0.5)
        with httpx.Client(transport=tlshttpx.Transport(insecure=True), timeout=timeout) as client:
            with pytest.raises(httpx.ConnectTimeout):
                client.get(f"https://127.0.0.1:{port}/")

        async def main():
            async with httpx.AsyncClient(transport=tlshttpx.AsyncTransport(insecure=True), timeout=timeout) as client:
                await client.get(f"https://127.0.0.1:{port}/")

        with pytest.raises(httpx.ConnectTimeout):
            asyncio.run(main())


def test_plain_http_still_works_through_the_transport():
    """http:// URLs never call start_tls: the backend's plain socket is used."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        import threading

        def answer():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(1024)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

        thread = threading.Thread(target=answer)
        thread.start()
        with httpx.Client(transport=tlshttpx.Transport(insecure=True), timeout=TIMEOUT) as client:
            assert client.get(f"http://127.0.0.1:{port}/").text == "ok"
        thread.join(TIMEOUT)


def _h2_handler(stream) -> None:
    """A minimal HTTP/2 server on a tlskit stream (the h2 library): one page per request."""
    import h2.config
    import h2.connection
    import h2.events

    from tlskit.errors import TLSError

    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    stream.sendall(conn.data_to_send())
    try:
        while data := stream.recv(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    path = dict(event.headers)[b":path"].decode()
                    body = f"h2 {path} alpn={stream.selected_alpn_protocol()}".encode()
                    conn.send_headers(event.stream_id, [(":status", "200"), ("content-length", str(len(body)))])
                    conn.send_data(event.stream_id, body, end_stream=True)
            stream.sendall(conn.data_to_send())
    except TLSError:
        pass  # the client went away


def test_http2_when_h2_is_installed_and_the_server_picks_it(pki):
    pytest.importorskip("h2", reason="the h2 package (HTTP/2) is not installed")
    from tlskit.io import serve

    with serve(certfile=str(pki.chain_file), keyfile=str(pki.key_file), alpn_protocols=["h2", "http/1.1"]) as server:
        server.serve_in_background(_h2_handler)
        port = server.address[1]
        with httpx.Client(transport=tlshttpx.Transport(cafile=str(pki.ca_file)), timeout=TIMEOUT) as client:
            first = client.get(f"https://localhost:{port}/a")
            second = client.get(f"https://localhost:{port}/b")

        async def main():
            transport = tlshttpx.AsyncTransport(cafile=str(pki.ca_file))
            async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
                return await asyncio.gather(*(client.get(f"https://localhost:{port}/{i}") for i in range(3)))

        responses = asyncio.run(main())
        server.close()
    assert first.http_version == second.http_version == "HTTP/2"
    assert first.text == "h2 /a alpn=h2" and second.text == "h2 /b alpn=h2"
    assert [r.text for r in responses] == [f"h2 /{i} alpn=h2" for i in range(3)]
    assert all(r.http_version == "HTTP/2" for r in responses)
