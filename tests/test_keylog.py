"""Key log: the NSS key log tlskit writes decrypts a captured connection.

The decryption here is written from RFC 8446 with pyca/cryptography only
(HKDF-Expand-Label, per-record nonces, AES-128-GCM), independent of tlskit's
engine, so it checks the logged secrets rather than tlskit's own key schedule.
"""

from __future__ import annotations

import socket

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from io_peers import TIMEOUT, StdlibServer, pki, server_context, stdlib_echo  # noqa: F401 (pki: a shared fixture)
from tlskit import ClientConfig, ClientConnection
from tlskit.io import TLSStream, connect, keylog_file_from_environment, serve

MESSAGE = b"attack at dawn, via tlskit"


class RecordingSocket:
    """A socket that keeps a copy of every byte it carries."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.sent = bytearray()
        self.received = bytearray()

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        self.received += data
        return data

    def sendall(self, data: bytes) -> None:
        self.sent += data
        self._sock.sendall(data)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def hkdf_expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def parse_keylog(text: str) -> dict[tuple[str, str], bytes]:
    secrets = {}
    for line in text.splitlines():
        label, client_random, secret = line.split()
        secrets[(label, client_random)] = bytes.fromhex(secret)
    return secrets


def records(stream: bytes):
    offset = 0
    while offset + 5 <= len(stream):
        length = int.from_bytes(stream[offset + 3 : offset + 5], "big")
        yield stream[offset], stream[offset : offset + 5], stream[offset + 5 : offset + 5 + length]
        offset += 5 + length
    assert offset == len(stream), "capture ends inside a record"


def decrypt_direction(stream: bytes, handshake_secret: bytes, application_secret: bytes) -> dict[int, bytes]:
    """Decrypt every protected record of one direction; returns plaintext per inner content type."""
    keys = [(hkdf_expand_label(s, "key", 16), hkdf_expand_label(s, "iv", 12)) for s in (handshake_secret, application_secret)]
    epoch, sequence = 0, 0
    out: dict[int, bytes] = {}
    for content_type, header, body in records(stream):
        if content_type != 23:
            continue  # ClientHello/ServerHello and compatibility change_cipher_spec are in the clear
        while True:
            key, iv = keys[epoch]
            nonce = bytes(a ^ b for a, b in zip(iv, sequence.to_bytes(12, "big")))
            try:
                inner = AESGCM(key).decrypt(nonce, body, header)
                break
            except InvalidTag:
                assert epoch == 0, "a record decrypts with neither logged secret"
                epoch, sequence = 1, 0  # the handshake is over: application traffic secret
        sequence += 1
        inner = inner.rstrip(b"\x00")
        out[inner[-1]] = out.get(inner[-1], b"") + inner[:-1]
    assert epoch == 1
    return out


def test_logged_secrets_decrypt_a_captured_connection(tmp_path, pki):
    keylog = tmp_path / "keys.log"
    config = ClientConfig(cafile=pki.ca_file, keylog_file=keylog, cipher_suites=["TLS_AES_128_GCM_SHA256"])
    with StdlibServer(server_context(pki), stdlib_echo) as peer:
        recorder = RecordingSocket(socket.create_connection(("127.0.0.1", peer.port), timeout=TIMEOUT))
        with TLSStream(recorder, ClientConnection(config, server_name="localhost")) as stream:
            stream.do_handshake()
            stream.sendall(MESSAGE)
            echoed = b""
            while len(echoed) < len(MESSAGE):
                echoed += stream.recv()
            stream.close_write()
            assert stream.recv() == b""  # the server's close_notify, captured too
        peer.thread.join(TIMEOUT)
    assert echoed == MESSAGE
    sent, received = bytes(recorder.sent), bytes(recorder.received)
    assert MESSAGE not in sent and MESSAGE not in received

    client_random = sent[11:43].hex()  # record header (5) + handshake header (4) + legacy_version (2)
    secrets = parse_keylog(keylog.read_text())
    assert {label for label, random in secrets if random == client_random} >= {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    }
    client_to_server = decrypt_direction(
        sent,
        secrets[("CLIENT_HANDSHAKE_TRAFFIC_SECRET", client_random)],
        secrets[("CLIENT_TRAFFIC_SECRET_0", client_random)],
    )
    server_to_client = decrypt_direction(
        received,
        secrets[("SERVER_HANDSHAKE_TRAFFIC_SECRET", client_random)],
        secrets[("SERVER_TRAFFIC_SECRET_0", client_random)],
    )
    assert client_to_server[23] == MESSAGE
    assert server_to_client[23] == MESSAGE
    assert client_to_server[21] == b"\x01\x00"  # close_notify alert, decrypted
    assert server_to_client[22][:1] == b"\x08"  # the handshake starts with EncryptedExtensions


def test_client_and_server_log_the_same_secrets(tmp_path, pki):
    client_log, server_log = tmp_path / "client.log", tmp_path / "server.log"
    with serve(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=server_log) as server:
        server.serve_in_background(lambda stream: stream.sendall(stream.recv()))
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, keylog_file=client_log) as stream:
            stream.sendall(b"x")
            assert stream.recv() == b"x"
        server.close()
    client_lines = set(client_log.read_text().splitlines())
    assert len(client_lines) >= 4
    assert client_lines == set(server_log.read_text().splitlines())


def test_sslkeylogfile_is_honoured_only_when_set(tmp_path, pki, monkeypatch):
    env_log = tmp_path / "env.log"
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    assert keylog_file_from_environment() is None
    with serve(certfile=pki.chain_file, keyfile=pki.key_file) as server:
        server.serve_in_background(lambda stream: stream.recv())
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file):
            pass
        assert not env_log.exists()  # nothing is written unless asked

        monkeypatch.setenv("SSLKEYLOGFILE", str(env_log))
        assert keylog_file_from_environment() == str(env_log)
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file):
            pass
        lines = env_log.read_text().splitlines()
        assert {line.split()[0] for line in lines} >= {"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}

        opted_out = tmp_path / "opted-out.log"
        monkeypatch.setenv("SSLKEYLOGFILE", str(opted_out))
        with connect(*server.address, server_name="localhost", cafile=pki.ca_file, keylog_from_env=False):
            pass
        assert not opted_out.exists()
        server.close()


def test_empty_sslkeylogfile_means_unset():
    assert keylog_file_from_environment({"SSLKEYLOGFILE": "  "}) is None
    assert keylog_file_from_environment({"SSLKEYLOGFILE": "/tmp/k"}) == "/tmp/k"


def test_sslkeylogfile_config_is_built_once(tmp_path, pki, monkeypatch):
    # The key log path joins the other overrides: the server's key, chain and the
    # client's anchors are loaded and checked once, not again by a dataclasses.replace.
    from tlskit.engine import ServerConfig
    from tlskit.io._common import make_client_config, make_server_config

    env_log = tmp_path / "env.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(env_log))
    builds: list[str] = []
    original = ServerConfig.__post_init__

    def counting(self):
        builds.append(str(self.keylog_file))
        original(self)

    monkeypatch.setattr(ServerConfig, "__post_init__", counting)
    config = make_server_config(certfile=pki.chain_file, keyfile=pki.key_file)
    assert builds == [str(env_log)]
    assert make_server_config(config) is config  # already has a key log: nothing to rebuild
    assert builds == [str(env_log)]
    explicit = tmp_path / "explicit.log"
    assert make_client_config(cafile=pki.ca_file, keylog_file=str(explicit)).keylog_file == str(explicit)
    assert make_client_config(cafile=pki.ca_file, keylog_file=None).keylog_file == str(env_log)
    assert make_client_config(cafile=pki.ca_file, keylog_from_env=False).keylog_file is None
