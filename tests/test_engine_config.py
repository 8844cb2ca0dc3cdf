"""Configuration: every mistake in a ClientConfig/ServerConfig (or a connection's own
arguments) is a ConfigurationError raised when the config is built, naming what is wrong;
key log files; trust anchors, chains and keys loaded once, with the config."""

from __future__ import annotations

import os
import stat

import pytest
from engine_support import other_key, pki_for, pump  # noqa: F401 (other_key: a shared fixture)

from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.errors import ConfigurationError, TLSError


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def permissive_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _handshake(client_config, server_config, server_name="localhost"):
    client = ClientConnection(client_config, server_name=server_name)
    server = ServerConnection(server_config)
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    return client, server


# -- every configuration mistake is a ConfigurationError ---------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: ClientConfig(cafile=p.ca_file, groups=[]), "no group configured"),
        (lambda p: ClientConfig(cafile=p.ca_file, alpn_protocols=[b""]), "ALPN protocol names"),
        (lambda p: ClientConfig(cafile=p.ca_file, alpn_protocols=["x" * 256]), "ALPN protocol names"),
        (lambda p: ClientConfig(cafile=p.ca_file, record_size_limit=63), "record_size_limit"),
        (lambda p: ServerConfig(certfile=p.chain_file, keyfile=p.key_file, record_size_limit=2**14 + 2), "record_size_limit"),
        (lambda p: ClientConfig(cafile=p.ca_file, pad_to=-1), "pad_to"),
        (lambda p: ClientConfig(cafile=p.ca_file, groups=["x25519"], key_share_groups=["secp256r1"]), "subset of groups"),
        (lambda p: ClientConfig(cafile=p.ca_file, certfile=p.chain_file), "go together"),
        (lambda p: ServerConfig(keyfile=p.key_file), "go together"),
        (lambda p: ServerConfig(), "needs a certificate chain and key"),
        (lambda p: ServerConfig(certfile=p.chain_file, keyfile=p.key_file, groups=["x25519"], key_share_groups=["secp256r1"]), "no configured group"),
        (lambda p: ServerConfig(certfile=p.chain_file, keyfile=p.key_file, require_client_auth=True), "require_client_auth"),
        (lambda p: ClientConnection(ClientConfig(cafile=p.ca_file)), "server_name is needed"),
    ],
    ids=[
        "no-groups", "empty-alpn", "long-alpn", "small-record-limit", "large-record-limit", "pad-to",
        "client-key-share-groups", "client-cert-without-key", "server-key-without-cert", "server-without-identity",
        "server-key-share-groups", "client-auth-without-ca", "no-server-name",
    ],
)
def test_configuration_mistakes_raise_configuration_error(pki, make, message):
    with pytest.raises(ConfigurationError, match=message) as info:
        make(pki)
    assert isinstance(info.value, TLSError)  # still caught by "except TLSError"


# -- key log file ------------------------------------------------------------------------


def test_engine_creates_the_key_log_file_private(pki, tmp_path, permissive_umask):
    # Before: open(path, "a") created it 0644, traffic secrets readable by every user.
    keylog = tmp_path / "keys.log"
    client_config = ClientConfig(cafile=pki.ca_file, keylog_file=keylog)
    assert stat.S_IMODE(os.stat(keylog).st_mode) == 0o600  # created with the config
    os.unlink(keylog)  # and again if it disappears before a handshake writes to it
    _handshake(client_config, ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    assert stat.S_IMODE(os.stat(keylog).st_mode) == 0o600
    labels = [line.split()[0] for line in keylog.read_text().splitlines()]
    assert labels == [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ]


def test_engine_keeps_an_existing_key_log_files_mode(pki, tmp_path, permissive_umask):
    keylog = tmp_path / "shared.log"
    keylog.write_text("")
    os.chmod(keylog, 0o640)
    _handshake(ClientConfig(cafile=pki.ca_file), ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=keylog))
    assert stat.S_IMODE(os.stat(keylog).st_mode) == 0o640
    assert len(keylog.read_text().splitlines()) == 5


def test_engine_appends_each_batch_of_secrets_with_one_open(pki, tmp_path, monkeypatch):
    from tlskit.engine import keylog as engine_keylog

    keylog = tmp_path / "keys.log"
    client_config = ClientConfig(cafile=pki.ca_file, keylog_file=keylog)
    opened = []
    real_open = engine_keylog.open_keylog
    monkeypatch.setattr(engine_keylog, "open_keylog", lambda path: opened.append(path) or real_open(path))
    _handshake(client_config, ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))
    assert len(opened) == 2  # handshake secrets, then application + exporter secrets (was 5 opens)


@pytest.mark.parametrize("side", ["client", "server"])
def test_unwritable_key_log_is_refused_when_the_config_is_built(pki, tmp_path, side):
    # Before: accepted, then every handshake died with FileNotFoundError -> internal_error.
    missing = tmp_path / "no-such-dir" / "keys.log"
    with pytest.raises(ConfigurationError, match="cannot open the key log file .*no-such-dir"):
        if side == "client":
            ClientConfig(cafile=pki.ca_file, keylog_file=missing)
        else:
            ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, keylog_file=missing)


# -- private key / certificate mismatch --------------------------------------------------


@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_server_config_refuses_a_key_that_does_not_match_its_certificate(pki, other_key, provider):
    # Before: accepted; every handshake then failed at the client with decrypt_error.
    with pytest.raises(ConfigurationError, match="does not match the certificate") as info:
        ServerConfig(certfile=pki.chain_file, keyfile=other_key, provider=provider)
    assert str(other_key) in str(info.value) and str(pki.chain_file) in str(info.value)


def test_server_config_checks_every_certificate_pair(pki, other_key):
    with pytest.raises(ConfigurationError, match="given as bytes"):
        ServerConfig(
            certfile=pki.chain_file,
            keyfile=pki.key_file,
            certificates=[(pki.chain_file.read_bytes(), other_key.read_bytes())],
        )


def test_client_config_refuses_a_client_key_that_does_not_match(pki, other_key):
    with pytest.raises(ConfigurationError, match="does not match the certificate"):
        ClientConfig(cafile=pki.ca_file, certfile=pki.chain_file, keyfile=other_key)


@pytest.mark.parametrize("key_type", ["ecdsa-p384", "rsa-2048", "ed25519"])
@pytest.mark.parametrize("provider", ["cryptography", "pycryptodome"])
def test_matching_keys_are_accepted_whatever_the_provider_encoding(tmp_path, key_type, provider):
    # the check compares canonical encodings, so no provider's own SPKI form trips it
    matching = pki_for(tmp_path, key_type)
    config = ServerConfig(certfile=matching.chain_file, keyfile=matching.key_file, provider=provider)
    _handshake(ClientConfig(cafile=matching.ca_file, provider=provider), config)


# -- trust anchors are loaded when the config is built -----------------------------------


@pytest.fixture
def junk(tmp_path):
    path = tmp_path / "junk.pem"
    path.write_bytes(b"not a certificate\n")
    return path


def test_client_config_refuses_an_unusable_cafile(tmp_path, junk):
    # Before: accepted; the first server certificate to verify failed with bad_certificate.
    with pytest.raises(ConfigurationError, match=r"^cafile: .*junk\.pem"):
        ClientConfig(cafile=junk)
    with pytest.raises(ConfigurationError, match=r"^cafile: .*missing\.pem.*cannot read"):
        ClientConfig(cafile=tmp_path / "missing.pem")
    empty_bundle = tmp_path / "only-a-key.pem"
    empty_bundle.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError, match=r"^cafile: .*only-a-key\.pem"):
        ClientConfig(cafile=empty_bundle)
    with pytest.raises(ConfigurationError, match=r"^cadata: "):
        ClientConfig(cadata=b"junk")


def test_server_config_refuses_an_unusable_client_cafile(pki, junk):
    with pytest.raises(ConfigurationError, match=r"^client_cafile: .*junk\.pem"):
        ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=junk)
    with pytest.raises(ConfigurationError, match=r"^client_cadata: "):
        ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, client_cadata="junk")


def test_trust_anchors_are_parsed_once_when_the_config_is_built(pki, monkeypatch):
    from tlskit import pki as pki_module

    client_config = ClientConfig(cafile=pki.ca_file)
    server_config = ServerConfig(
        certfile=pki.chain_file, keyfile=pki.key_file, client_cafile=pki.ca_file, require_client_auth=True
    )
    client_mtls = ClientConfig(cafile=pki.ca_file, certfile=pki.chain_file, keyfile=pki.key_file)

    def no_more_loading(*args, **kwargs):
        raise AssertionError("trust anchors loaded during a handshake")

    monkeypatch.setattr(pki_module.TrustStore, "from_file", no_more_loading)
    monkeypatch.setattr(pki_module.TrustStore, "from_pem", no_more_loading)
    for _ in range(2):
        _handshake(client_mtls, server_config)
    _handshake(client_config, ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file))


# -- SNI: a client never sends a name that is not a DNS host name (RFC 6066 3) -----


@pytest.mark.parametrize("name", ["evil\x1b[31m.example", "a b.example", "a..example", "x" * 64 + ".example", "1.2.3.999"])
def test_client_refuses_to_send_a_server_name_that_is_not_a_dns_host_name(pki, name):
    # Before: sent as is in the ClientHello.
    with pytest.raises(ConfigurationError, match="not a DNS host name"):
        ClientConnection(ClientConfig(cafile=pki.ca_file), server_name=name)


@pytest.mark.parametrize("name", ["localhost.", "bücher.example", "_srv.example", "127.0.0.1", "::1"])
def test_client_still_accepts_host_names_and_ip_literals(pki, name):
    ClientConnection(ClientConfig(cafile=pki.ca_file), server_name=name)


# -- certificate chain files -------------------------------------------------------------


def test_chain_file_is_read_by_pkis_pem_reader_and_errors_name_the_file(pki, tmp_path):
    # other PEM blocks and text around the certificates are skipped (the key first, here)
    combined = tmp_path / "combined.pem"
    combined.write_bytes(b"comment\n" + pki.key_file.read_bytes() + pki.chain_file.read_bytes())
    _handshake(ClientConfig(cafile=pki.ca_file), ServerConfig(certfile=combined, keyfile=pki.key_file))
    no_cert = tmp_path / "key-only.pem"
    no_cert.write_bytes(pki.key_file.read_bytes())
    with pytest.raises(TLSError, match=f"{no_cert}: no certificate found"):
        ServerConfig(certfile=no_cert, keyfile=pki.key_file)
    damaged = tmp_path / "damaged.pem"
    damaged.write_bytes(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(TLSError, match=f"{damaged}: PEM block 1"):
        ServerConfig(certfile=damaged, keyfile=pki.key_file)


@pytest.mark.parametrize("missing", ["certfile", "keyfile"])
def test_missing_certificate_or_key_file_is_a_configuration_error(pki, tmp_path, missing):
    # Like an unreadable cafile: a ConfigurationError naming the file, not a bare OSError.
    files = {"certfile": pki.chain_file, "keyfile": pki.key_file, missing: tmp_path / "absent.pem"}
    with pytest.raises(ConfigurationError, match="absent.pem: cannot read file"):
        ServerConfig(**files)
    with pytest.raises(ConfigurationError, match="absent.pem: cannot read file"):
        ClientConfig(cafile=pki.ca_file, **files)
