"""Proof that tlskit-issued certificates work with the tlskit engine itself: a tlskit client
against a stdlib ``ssl`` server using a tlskit-issued chain (with and without mTLS), and a
tlskit server with a tlskit-issued chain against a stdlib ``ssl`` client (mTLS the other way)."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from cryptography.hazmat.primitives import serialization

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.ca import KEY_TYPES, CertificateAuthority

pytestmark = pytest.mark.interop

CA_KEY_TYPE = {"rsa-3072": "rsa-2048", "rsa-4096": "rsa-2048"}
# RSA-4096 keys are slow to generate and test_ca_interop already proves them; for the
# engine an RSA-4096 signature is the same code path as RSA-3072.
ENGINE_KEY_TYPES = tuple(k for k in KEY_TYPES if k != "rsa-4096")


@pytest.fixture(scope="module")
def pkis(tmp_path_factory):
    """One CA per key type with a server leaf of that type and an Ed25519 client leaf."""
    result = {}
    for key_type in ENGINE_KEY_TYPES:
        directory = tmp_path_factory.mktemp(f"engine-{key_type}")
        ca = CertificateAuthority.init(directory / "ca", key_type=CA_KEY_TYPE.get(key_type, key_type))
        server = ca.issue("localhost", sans=["localhost", "127.0.0.1"], key_type=key_type, out_dir=directory)
        client = ca.issue("client.test", profile="client", key_type="ed25519", out_dir=directory)
        result[key_type] = (ca, server, client)
    return result


def _der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pump(conn, sock: socket.socket) -> None:
    out = conn.data_to_send()
    if out:
        sock.sendall(out)


def _tlskit_exchange(conn, sock: socket.socket, payload: bytes, *, client: bool) -> bytes:
    """Drive a sans-IO connection over a socket: handshake, then one echo round."""
    _pump(conn, sock)
    received = b""
    if client:
        while not conn.handshake_complete:
            data = sock.recv(65536)
            if not data:
                raise EOFError("peer closed during the handshake")
            conn.receive_data(data)
            _pump(conn, sock)
        conn.send(payload)
        _pump(conn, sock)
        while len(received) < len(b"echo:" + payload):
            data = sock.recv(65536)
            if not data:
                break
            conn.receive_data(data)
            _pump(conn, sock)
            received += conn.recv()
        return received
    while not received:
        data = sock.recv(65536)
        if not data:
            raise EOFError("peer closed before sending data")
        conn.receive_data(data)
        _pump(conn, sock)
        received += conn.recv()
    conn.send(b"echo:" + received)
    _pump(conn, sock)
    return received


def _ssl_server(ctx: ssl.SSLContext, seen: dict):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(20)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
                tls.sendall(b"echo:" + tls.recv(100))
        except Exception as exc:
            seen["error"] = exc
        finally:
            listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def _providers_for(key_type: str) -> list[str]:
    # PyNaCl only does Ed25519 signatures, so it can only check an all-Ed25519 chain.
    return ["cryptography", "pycryptodome"] + (["pynacl"] if key_type == "ed25519" else [])


@pytest.mark.parametrize("key_type", ENGINE_KEY_TYPES)
def test_tlskit_client_accepts_ssl_server_with_issued_chain(pkis, key_type):
    ca, server, client = pkis[key_type]
    for provider in _providers_for(key_type):
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(str(server.chain_path), str(server.key_path))
        seen: dict = {}
        port, thread = _ssl_server(server_ctx, seen)
        conn = ClientConnection(ClientConfig(cafile=str(ca.root_path), provider=provider), server_name="localhost")
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            reply = _tlskit_exchange(conn, sock, b"hello", client=True)
        thread.join(20)
        assert "error" not in seen, (provider, seen.get("error"))
        assert reply == b"echo:hello", provider
        assert conn.negotiated.peer_certificates[0] == _der(server.certificate)


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519", "rsa-2048"])
def test_tlskit_client_mtls_with_issued_client_certificate(pkis, key_type):
    ca, server, client = pkis[key_type]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(server.chain_path), str(server.key_path))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(ca.root_path))
    seen: dict = {}
    port, thread = _ssl_server(server_ctx, seen)
    config = ClientConfig(
        cafile=str(ca.root_path), certfile=str(client.chain_path), keyfile=str(client.key_path)
    )
    conn = ClientConnection(config, server_name="localhost")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        reply = _tlskit_exchange(conn, sock, b"mtls", client=True)
    thread.join(20)
    assert "error" not in seen, seen.get("error")
    assert reply == b"echo:mtls"
    assert dict(x[0] for x in seen["peer"]["subject"]) == {"commonName": "client.test"}


def test_tlskit_client_rejects_chain_from_another_ca(pkis):
    ca, server, _ = pkis["ecdsa-p256"]
    other, _, _ = pkis["ed25519"]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(server.chain_path), str(server.key_path))
    seen: dict = {}
    port, thread = _ssl_server(server_ctx, seen)
    conn = ClientConnection(ClientConfig(cafile=str(other.root_path)), server_name="localhost")
    from tlskit.errors import TLSError

    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        with pytest.raises(TLSError):
            _tlskit_exchange(conn, sock, b"x", client=True)
        _pump(conn, sock)  # the alert goes out so the ssl server ends too
    thread.join(20)


@pytest.mark.parametrize("key_type", ["ecdsa-p384", "ed25519", "rsa-2048"])
def test_ssl_client_mtls_against_tlskit_server_with_issued_chain(pkis, key_type):
    ca, server, client = pkis[key_type]
    config = ServerConfig(
        certfile=str(server.chain_path),
        keyfile=str(server.key_path),
        client_cafile=str(ca.root_path),
        require_client_auth=True,
    )
    client_ctx = ssl.create_default_context(cafile=str(ca.root_path))
    client_ctx.load_cert_chain(str(client.chain_path), str(client.key_path))
    seen: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(20)
        port = listener.getsockname()[1]

        def run_client() -> None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
                    with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                        tls.sendall(b"from-ssl")
                        seen["reply"] = tls.recv(100)
            except Exception as exc:
                seen["error"] = exc

        thread = threading.Thread(target=run_client, daemon=True)
        thread.start()
        sock, _ = listener.accept()
        sock.settimeout(20)
        with sock:
            conn = ServerConnection(config)
            received = _tlskit_exchange(conn, sock, b"", client=False)
            thread.join(20)
    assert "error" not in seen, seen.get("error")
    assert received == b"from-ssl" and seen["reply"] == b"echo:from-ssl"
    assert conn.negotiated.peer_certificates[0] == _der(client.certificate)
