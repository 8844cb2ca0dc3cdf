"""The engine's performance shortcuts keep every check they shortcut.

Each cache or fast path added for speed (issue 7) is tested here against the
behaviour it must preserve: what is cached is a function of its key only, and
everything that depends on time, names or the connection is checked again.
"""

from __future__ import annotations

import datetime

import pytest
from engine_support import pki_for, pump

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.engine import verify as engine_verify
from tlskit.pki import Expired, NameMismatch


def _handshake(client_config, server_config, server_name="localhost"):
    client = ClientConnection(client_config, server_name=server_name)
    server = ServerConnection(server_config)
    pump(client, server)
    return client, server


def test_peer_certificates_are_parsed_once_per_config_but_checked_every_time(tmp_path):
    pki = pki_for(tmp_path)
    now = [datetime.datetime.now(datetime.timezone.utc)]
    client_config = ClientConfig(cafile=str(pki.ca_file), clock=lambda: now[0])
    server_config = ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file))

    client, _ = _handshake(client_config, server_config)
    assert client.handshake_complete
    cache = client_config._peer_cert_cache  # type: ignore[attr-defined]
    assert len(cache) == 2
    cached = dict(cache)

    client, _ = _handshake(client_config, server_config)
    assert client.handshake_complete
    assert all(cache[der] is info for der, info in cached.items())  # reused, not re-parsed

    # validity is checked per connection, against the config's clock
    now[0] = now[0] + datetime.timedelta(days=400)
    client = ClientConnection(client_config, server_name="localhost")
    server = ServerConnection(server_config)
    with pytest.raises(Expired):
        pump(client, server)

    # and so is the host name
    now[0] = datetime.datetime.now(datetime.timezone.utc)
    client = ClientConnection(client_config, server_name="other.example")
    server = ServerConnection(server_config)
    with pytest.raises(NameMismatch):
        pump(client, server)


def test_peer_certificate_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_verify, "PEER_CERT_CACHE_SIZE", 3)
    client_config = ClientConfig(cafile=str(pki_for(tmp_path / "a").ca_file))
    servers = [pki_for(tmp_path / str(i)) for i in range(3)]
    for pki in servers:
        server_config = ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file))
        client = ClientConnection(client_config, server_name="localhost")
        server = ServerConnection(server_config)
        try:
            pump(client, server)
        except Exception:  # whether another PKI's chain is trusted does not matter here
            pass
    assert len(client_config._peer_cert_cache) <= 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
def test_resumption_secret_is_derived_on_demand_and_agrees(tmp_path, suite):
    pki = pki_for(tmp_path)
    client, server = _handshake(
        ClientConfig(cafile=str(pki.ca_file), cipher_suites=[suite]),
        ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file), cipher_suites=[suite]),
    )
    secret = client._resumption_master_secret()
    assert secret == server._resumption_master_secret()
    assert len(secret) == (48 if suite.endswith("SHA384") else 32)


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"])
@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_key_schedule_constants_match_a_fresh_computation(provider, suite):
    from tlskit.engine.keyschedule import KeySchedule, derive_secret
    from tlskit.providers import get_provider

    hash_alg = get_provider(provider).cipher_suites[suite].hash
    zeros = bytes(hash_alg.digest_size)
    early = hash_alg.hkdf_extract(zeros, zeros)
    for _ in range(2):  # computed, then cached
        schedule = KeySchedule(get_provider(provider).cipher_suites[suite])
        assert schedule.early_secret == early
        assert schedule.empty_hash == hash_alg.digest(b"")
        schedule.set_shared_secret(b"\x01" * hash_alg.digest_size)
        salt = derive_secret(hash_alg, early, b"derived", hash_alg.digest(b""))
        assert schedule.handshake_secret == hash_alg.hkdf_extract(salt, b"\x01" * hash_alg.digest_size)
