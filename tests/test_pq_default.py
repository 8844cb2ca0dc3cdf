"""Post-quantum by default (issue 14 item 4): X25519MLKEM768 first where the provider has it.

The client's first ClientHello carries key shares for X25519MLKEM768 and x25519 (as
browsers send), so a classical server answers with x25519 and no HelloRetryRequest; a
tlskit server takes the hybrid whenever the client sent its share.
"""

from __future__ import annotations

import socket
import ssl

import pytest
from engine_support import pki_for, pump
from io_peers import OPENSSL, openssl_server, server_context

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.engine.messages import ClientHello, ServerHello
from tlskit.engine.trace import HelloRetry
from tlskit.providers import available_providers
from tlskit.providers.names import GROUPS

PQ_PROVIDERS = [p for p in ("cryptography", "pycryptodome") if p in available_providers()]
ALL_PROVIDERS = available_providers()
TIMEOUT = 20


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("pq"))


@pytest.fixture(scope="module")
def ed_pki(tmp_path_factory):
    """Ed25519 throughout: the only signatures PyNaCl verifies."""
    return pki_for(tmp_path_factory.mktemp("pq-ed"), "ed25519")


def client_hello_shares(provider: str) -> tuple[list[int], list[int]]:
    """(supported_groups, key share groups) of a default client's first ClientHello."""
    client = ClientConnection(ClientConfig(provider=provider, insecure=True), server_name="localhost")
    data = client.data_to_send()
    assert data[0] == 22
    hello = ClientHello.decode(data[9 : 5 + int.from_bytes(data[3:5], "big")])
    shares = hello.extensions.key_share
    assert shares is not None
    return list(hello.extensions.supported_groups or []), [group for group, _ in shares]


@pytest.mark.parametrize("provider", PQ_PROVIDERS)
def test_default_client_hello_carries_hybrid_and_x25519_shares(provider):
    supported, shares = client_hello_shares(provider)
    assert shares == [GROUPS["X25519MLKEM768"], GROUPS["x25519"]]
    assert supported[:2] == shares  # shares in supported_groups order (RFC 8446 4.2.8)
    config = ClientConfig(provider=provider, insecure=True)
    assert config.resolved_groups[0] == "X25519MLKEM768"


def test_pynacl_keeps_x25519():
    if "pynacl" not in ALL_PROVIDERS:
        pytest.skip("pynacl is not installed")
    supported, shares = client_hello_shares("pynacl")
    assert shares == [GROUPS["x25519"]] and supported == [GROUPS["x25519"]]


def test_explicit_groups_are_kept(pki):
    config = ClientConfig(groups=["x25519", "X25519MLKEM768"], cafile=pki.ca_file)
    assert config.resolved_groups == ("x25519", "X25519MLKEM768")
    assert config.resolved_key_share_groups == ("x25519",)
    config = ClientConfig(groups=["secp256r1"], key_share_groups=["secp256r1"], cafile=pki.ca_file)
    assert config.resolved_key_share_groups == ("secp256r1",)


def traced_pair(pki, client_kwargs, server_kwargs):
    records: list = []
    client = ClientConnection(
        ClientConfig(cafile=pki.ca_file, trace=records.append, **client_kwargs), server_name="localhost"
    )
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, trace=records.append, **server_kwargs))
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    return client, server, [r for r in records if isinstance(r, HelloRetry)]


@pytest.mark.parametrize("client_provider", PQ_PROVIDERS)
@pytest.mark.parametrize("server_provider", PQ_PROVIDERS)
def test_tlskit_pair_negotiates_the_hybrid(pki, client_provider, server_provider):
    client, server, retries = traced_pair(pki, {"provider": client_provider}, {"provider": server_provider})
    assert client.negotiated.group == server.negotiated.group == "X25519MLKEM768"
    assert retries == []


@pytest.mark.parametrize("server_provider", PQ_PROVIDERS)
def test_server_prefers_the_hybrid_over_the_clients_order(pki, server_provider):
    # the client lists x25519 first but sends both shares: the server's preference decides
    client, server, retries = traced_pair(
        pki,
        {"groups": ["x25519", "X25519MLKEM768"], "key_share_groups": ["x25519", "X25519MLKEM768"]},
        {"provider": server_provider},
    )
    assert server.negotiated.group == "X25519MLKEM768" and retries == []


@pytest.mark.parametrize("client_provider", ALL_PROVIDERS)
def test_classical_client_gets_x25519_from_a_default_server(pki, ed_pki, client_provider):
    kwargs = {"provider": client_provider}
    if client_provider != "pynacl":
        kwargs["groups"] = ["x25519", "secp256r1"]
    client, server, retries = traced_pair(ed_pki if client_provider == "pynacl" else pki, kwargs, {})
    assert client.negotiated.group == server.negotiated.group == "x25519"
    assert retries == []


@pytest.mark.parametrize("provider", PQ_PROVIDERS)
def test_stdlib_ssl_server_gets_x25519_without_hello_retry(pki, provider):
    """Python's ssl (system OpenSSL, no ML-KEM) answers the default ClientHello directly."""
    context = server_context(pki)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    peer = context.wrap_bio(incoming, outgoing, server_side=True)
    client = ClientConnection(ClientConfig(provider=provider, cafile=pki.ca_file), server_name="localhost")
    first_server_flight = None
    for _ in range(10):
        incoming.write(client.data_to_send())
        try:
            peer.do_handshake()
        except ssl.SSLWantReadError:
            pass
        out = outgoing.read()
        if first_server_flight is None:
            first_server_flight = out
        if out:
            client.receive_data(out)
        if client.handshake_complete and not client.data_to_send():
            break
    assert client.handshake_complete
    # the first record the server sent is a real ServerHello, not a HelloRetryRequest
    assert first_server_flight and first_server_flight[0] == 22
    server_hello = ServerHello.decode(first_server_flight[9 : 5 + int.from_bytes(first_server_flight[3:5], "big")])
    assert not server_hello.is_hello_retry_request
    assert client.negotiated.group == "x25519"


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed")
@pytest.mark.parametrize("provider", PQ_PROVIDERS)
def test_openssl_s_server_gets_x25519_without_hello_retry(pki, provider):
    records: list = []
    config = ClientConfig(provider=provider, cafile=pki.ca_file, trace=records.append)
    client = ClientConnection(config, server_name="localhost")
    with openssl_server(pki) as (_, port):
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(client.data_to_send())
            while not client.handshake_complete:
                data = sock.recv(65536)
                if not data:
                    break
                client.receive_data(data)
                out = client.data_to_send()
                if out:
                    sock.sendall(out)
            client.close()
            sock.sendall(client.data_to_send())
    assert client.handshake_complete
    assert client.negotiated.group == "x25519"
    assert not [r for r in records if isinstance(r, HelloRetry)]
