"""ClientConfig/ServerConfig ``crls=``: revocation checked in real handshakes, both ways.

A tlskit CA (tlskit.ca.CertificateAuthority) issues server and client certificates,
revokes one of each and publishes its CRLs; a peer presenting the revoked certificate
is rejected with the certificate_revoked alert (RFC 8446 6.2), by the engine in memory
and over loopback sockets against Python's ``ssl`` module.
"""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine_support import pump
from tlskit import ClientConfig, ClientConnection, ConfigurationError, ServerConfig, ServerConnection, TLSError
from tlskit.errors import AlertDescription as A
from tlskit.io.stream import TLSStream, connect
from tlskit.pki import load_crls

TIMEOUT = 20.0


class PKI:
    def __init__(self, base) -> None:
        from tlskit.ca import CertificateAuthority

        self.ca = CertificateAuthority.init(base / "ca", key_type="ecdsa-p256")
        out = base / "out"
        self.good_server = self.ca.issue("good.test", out_dir=out)
        self.bad_server = self.ca.issue("bad.test", out_dir=out)
        self.good_client = self.ca.issue("alice.client", profile="client", out_dir=out)
        self.bad_client = self.ca.issue("mallory.client", profile="client", out_dir=out)
        self.ca.revoke(self.bad_server.serial_hex)
        self.ca.revoke(self.bad_client.serial_hex)
        self.crl_pem = self.ca.crl()
        self.crl_path = base / "ca.crl.pem"
        self.crl_path.write_bytes(self.crl_pem)
        self.root = self.ca.root_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    return PKI(tmp_path_factory.mktemp("crl-handshake"))


def _client(pki: PKI, server_name: str, identity=None, **kwargs) -> ClientConnection:
    if identity is not None:
        kwargs.update(certfile=identity.chain_path, keyfile=identity.key_path)
    return ClientConnection(ClientConfig(cafile=pki.root, **kwargs), server_name=server_name)


def _server(pki: PKI, identity, **kwargs) -> ServerConnection:
    return ServerConnection(ServerConfig(certfile=identity.chain_path, keyfile=identity.key_path, **kwargs))


def _crl_forms(pki: PKI):
    """Every form crls= takes: a path (str and Path), PEM bytes, DER bytes, loaded objects."""
    loaded = load_crls([pki.crl_pem])
    assert len(loaded) == 2 and all(isinstance(c, x509.CertificateRevocationList) for c in loaded)
    return {
        "path-str": [str(pki.crl_path)],
        "path": pki.crl_path,
        "pem-bytes": [pki.crl_pem],
        "der-bytes": [c.public_bytes(Encoding.DER) for c in loaded],
        "objects": loaded,
    }


@pytest.mark.parametrize("form", ["path-str", "path", "pem-bytes", "der-bytes", "objects"])
def test_client_rejects_revoked_server(pki, form):
    crls = _crl_forms(pki)[form]
    client = _client(pki, "bad.test", crls=crls)
    server = _server(pki, pki.bad_server)
    with pytest.raises(TLSError) as caught:
        pump(client, server)
    assert caught.value.alert == A.certificate_revoked, caught.value
    assert "revoked" in str(caught.value)
    # the same server is accepted without CRLs, and a good one with them
    pump(good := _client(pki, "bad.test"), _server(pki, pki.bad_server))
    assert good.handshake_complete
    pump(good := _client(pki, "good.test", crls=crls), _server(pki, pki.good_server))
    assert good.handshake_complete


def test_server_rejects_revoked_client(pki):
    server_kwargs = dict(client_cafile=pki.root, require_client_auth=True, crls=[pki.crl_path])
    client = _client(pki, "good.test", identity=pki.bad_client)
    server = _server(pki, pki.good_server, **server_kwargs)
    with pytest.raises(TLSError) as caught:
        pump(client, server)
    assert caught.value.alert == A.certificate_revoked, caught.value
    client = _client(pki, "good.test", identity=pki.good_client)
    server = _server(pki, pki.good_server, **server_kwargs)
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete


def test_bad_crls_are_refused_when_the_config_is_built(pki, tmp_path):
    with pytest.raises(ConfigurationError, match="crls"):
        ClientConfig(cafile=pki.root, crls=[tmp_path / "missing.pem"])
    with pytest.raises(ConfigurationError, match="crls"):
        ServerConfig(certfile=pki.good_server.chain_path, keyfile=pki.good_server.key_path, crls=[b"not a crl"])
    with pytest.raises(ConfigurationError, match="crls"):
        ClientConfig(cafile=pki.root, crls=[42])


# -- over sockets, against Python's ssl module --------------------------------------------


def _serve_once(context: ssl.SSLContext, listener: socket.socket, result: dict) -> None:
    try:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(10)
        result["ok"] = True
    except (ssl.SSLError, OSError) as exc:
        result["error"] = exc


def test_tlskit_client_rejects_revoked_stdlib_server(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.bad_server.chain_path, pki.bad_server.key_path)
    result: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        thread = threading.Thread(target=_serve_once, args=(context, listener, result), daemon=True)
        thread.start()
        with pytest.raises(TLSError) as caught:
            connect("127.0.0.1", listener.getsockname()[1], server_name="bad.test", timeout=TIMEOUT,
                    cafile=pki.root, crls=[pki.crl_path], keylog_from_env=False)
        thread.join(TIMEOUT)
    assert caught.value.alert == A.certificate_revoked
    assert "CERTIFICATE_REVOKED" in str(result.get("error")).upper().replace(" ", "_"), result


def test_tlskit_server_rejects_revoked_stdlib_client(pki):
    config = ServerConfig(certfile=pki.good_server.chain_path, keyfile=pki.good_server.key_path,
                          client_cafile=pki.root, require_client_auth=True, crls=[pki.crl_path])
    context = ssl.create_default_context(cafile=str(pki.root))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(pki.bad_client.chain_path, pki.bad_client.key_path)
    errors: list[BaseException] = []

    def serve(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        stream = TLSStream(conn, ServerConnection(config))
        try:
            stream.do_handshake()
        except TLSError as exc:
            errors.append(exc)
        finally:
            stream.close()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        thread = threading.Thread(target=serve, args=(listener,), daemon=True)
        thread.start()
        with socket.create_connection(listener.getsockname(), timeout=TIMEOUT) as raw:
            with pytest.raises((ssl.SSLError, OSError)) as caught:
                with context.wrap_socket(raw, server_hostname="good.test") as tls:
                    # TLS 1.3: the client learns of the rejection on its first read
                    tls.sendall(b"hello")
                    tls.recv(10)
        thread.join(TIMEOUT)
    assert errors and errors[0].alert == A.certificate_revoked, errors
    assert "certificate revoked" in str(caught.value).lower(), caught.value



def test_tls12_handshakes_check_crls_too(pki):
    client = _client(pki, "bad.test", crls=[pki.crl_path], max_version="TLSv1.2")
    with pytest.raises(TLSError) as caught:
        pump(client, _server(pki, pki.bad_server))
    assert caught.value.alert == A.certificate_revoked, caught.value
    server_kwargs = dict(client_cafile=pki.root, require_client_auth=True, crls=pki.crl_pem, max_version="TLSv1.2")
    client = _client(pki, "good.test", identity=pki.bad_client)
    with pytest.raises(TLSError) as caught:
        pump(client, _server(pki, pki.good_server, **server_kwargs))
    assert caught.value.alert == A.certificate_revoked, caught.value
