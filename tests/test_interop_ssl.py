"""In-memory interop with Python's ssl module (OpenSSL) through MemoryBIO + SSLObject.

Both directions, for every provider and every group, cipher suite and certificate
signature scheme both sides support, plus HRR, mTLS, ALPN, KeyUpdate, close_notify,
session tickets, the negative certificate cases and a 16 MiB transfer each way.
"""

from __future__ import annotations

import ssl
import time

import pytest
from engine_support import KEY_TYPE_SCHEMES, leaf_der, pki_for

from tlskit import (
    ApplicationData,
    ClientConfig,
    ClientConnection,
    ConnectionClosed,
    KeyUpdated,
    NewSessionTicket,
    ServerConfig,
    ServerConnection,
    TLSError,
)
from tlskit.errors import AlertDescription
from tlskit.providers import get_provider

pytestmark = pytest.mark.interop

OPENSSL_GROUPS = ("x25519", "x448", "secp256r1", "secp384r1", "secp521r1")  # OpenSSL 3.0: no ML-KEM
PROVIDERS = ("cryptography", "pycryptodome", "pynacl")


def _matrix():
    cases = []
    for provider_name in PROVIDERS:
        provider = get_provider(provider_name)
        for group in OPENSSL_GROUPS:
            if group in provider.groups:
                cases.append((provider_name, "group", group))
        for suite in provider.cipher_suites:
            cases.append((provider_name, "suite", suite))
        for key_type, scheme in KEY_TYPE_SCHEMES.items():
            if scheme in provider.signature_schemes:
                cases.append((provider_name, "key", key_type))
    return cases


MATRIX = _matrix()


def _ids(case):
    return "-".join(case)


def base_key_type(provider_name: str) -> str:
    return "ed25519" if provider_name == "pynacl" else "ecdsa-p256"


def ssl_server_context(pki, *, client_ca=None, alpn=None, curve=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki.chain_file, pki.key_file)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if curve:
        ctx.set_ecdh_curve(curve)  # OpenSSL then offers only this group: forces HRR
    return ctx


def ssl_client_context(pki, *, cert=None, alpn=None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if cert is not None:
        ctx.load_cert_chain(cert.chain_file, cert.key_file)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class SSLPeer:
    """An SSLObject on two MemoryBIOs, wired to a tlskit connection."""

    def __init__(self, ctx: ssl.SSLContext, tls, *, server_side: bool, server_hostname=None) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=server_side, server_hostname=server_hostname)
        self.tls = tls
        self.handshake_done = False
        self.events: list = []

    def pump(self, rounds: int = 30) -> list:
        """Exchange bytes until both are idle (and both handshakes are done)."""
        events = []
        for _ in range(rounds):
            moved = False
            data = self.tls.data_to_send()
            if data:
                self.incoming.write(data)
                moved = True
            if not self.handshake_done:
                try:
                    self.obj.do_handshake()
                    self.handshake_done = True
                except ssl.SSLWantReadError:
                    pass
            data = self.outgoing.read()
            if data:
                events += self.tls.receive_data(data)
                moved = True
            if not moved and self.handshake_done and self.tls.handshake_complete:
                self.events += events
                return events
        raise AssertionError("no progress")

    def ssl_read_all(self, size: int) -> bytes:
        chunks, total = [], 0
        while total < size:
            chunk = self.obj.read(min(size - total, 1 << 20))
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)


def ssl_read_at_eof(obj: ssl.SSLObject) -> bool:
    """True if the SSLObject reports a clean close_notify (b"" or SSLZeroReturnError)."""
    try:
        return obj.read(10) == b""
    except ssl.SSLZeroReturnError:
        return True


def tlskit_client_to_ssl(pki, client_kwargs=None, server_ctx=None, server_name="localhost"):
    kwargs = {"cafile": pki.ca_file, **(client_kwargs or {})}
    client = ClientConnection(ClientConfig(**kwargs), server_name=server_name)
    return SSLPeer(server_ctx or ssl_server_context(pki), client, server_side=True)


def ssl_client_to_tlskit(pki, server_kwargs=None, client_ctx=None):
    kwargs = {"certfile": pki.chain_file, "keyfile": pki.key_file, **(server_kwargs or {})}
    server = ServerConnection(ServerConfig(**kwargs))
    return SSLPeer(client_ctx or ssl_client_context(pki), server, server_side=False, server_hostname="localhost")


def _case_kwargs(kind, value, provider_name):
    if kind == "group":
        return {"groups": [value]}, base_key_type(provider_name)
    if kind == "suite":
        return {"cipher_suites": [value]}, base_key_type(provider_name)
    return {}, value


def _assert_negotiated_as_asked(negotiated, kind, value):
    """The case's group, cipher suite or leaf key type is what the handshake agreed on."""
    if kind == "group":
        assert negotiated.group == value
    if kind == "suite":
        assert negotiated.cipher_suite == value
    if kind == "key":
        assert negotiated.signature_scheme == KEY_TYPE_SCHEMES[value]


@pytest.mark.parametrize("case", MATRIX, ids=_ids)
def test_tlskit_client_with_ssl_server(tmp_path, case):
    provider_name, kind, value = case
    extra, key_type = _case_kwargs(kind, value, provider_name)
    pki = pki_for(tmp_path, key_type)
    peer = tlskit_client_to_ssl(pki, {"provider": provider_name, **extra})
    peer.pump()
    negotiated = peer.tls.negotiated
    name, version, _ = peer.obj.cipher()
    assert version == "TLSv1.3" and name == negotiated.cipher_suite
    _assert_negotiated_as_asked(negotiated, kind, value)
    peer.tls.send(b"ping from tlskit")
    peer.pump()
    assert peer.obj.read(100) == b"ping from tlskit"
    peer.obj.write(b"pong from ssl")
    assert ApplicationData(b"pong from ssl") in peer.pump()


@pytest.mark.parametrize("case", MATRIX, ids=_ids)
def test_ssl_client_with_tlskit_server(tmp_path, case):
    provider_name, kind, value = case
    extra, key_type = _case_kwargs(kind, value, provider_name)
    pki = pki_for(tmp_path, key_type)
    peer = ssl_client_to_tlskit(pki, {"provider": provider_name, **extra})
    peer.pump()
    negotiated = peer.tls.negotiated
    assert peer.obj.cipher()[0] == negotiated.cipher_suite
    _assert_negotiated_as_asked(negotiated, kind, value)  # OpenSSL sends an x25519 share first: others need HRR
    peer.obj.write(b"ping from ssl")
    assert peer.pump() == [ApplicationData(b"ping from ssl")]
    peer.tls.send(b"pong from tlskit")
    peer.pump()
    assert peer.obj.read(100) == b"pong from tlskit"


@pytest.mark.parametrize("provider_name", ["cryptography", "pycryptodome"])
def test_hrr_tlskit_client_ssl_server(tmp_path, provider_name):
    pki = pki_for(tmp_path)
    ctx = ssl_server_context(pki, curve="secp384r1")
    peer = tlskit_client_to_ssl(
        pki,
        {"provider": provider_name, "groups": ["x25519", "secp384r1"], "key_share_groups": ["x25519"], "compatibility_mode": True},
        ctx,
    )
    first = peer.tls.data_to_send()
    peer.incoming.write(first)
    with pytest.raises(ssl.SSLWantReadError):
        peer.obj.do_handshake()
    hrr = peer.outgoing.read()
    assert hrr[11:43] == bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    peer.tls.receive_data(hrr)
    peer.pump()
    assert peer.tls.negotiated.group == "secp384r1"


@pytest.mark.parametrize("provider_name", ["cryptography", "pycryptodome"])  # PyNaCl has x25519 only
@pytest.mark.parametrize("group", ["secp256r1", "secp384r1", "x448"])
def test_hrr_ssl_client_tlskit_server(tmp_path, provider_name, group):
    pki = pki_for(tmp_path)
    # OpenSSL's client sends only an x25519 share; a server that accepts shares only for
    # another group must ask again with a HelloRetryRequest (with a cookie).
    peer = ssl_client_to_tlskit(pki, {"provider": provider_name, "key_share_groups": [group]})
    with pytest.raises(ssl.SSLWantReadError):
        peer.obj.do_handshake()
    peer.tls.receive_data(peer.outgoing.read())
    hrr = peer.tls.data_to_send()
    assert hrr[11:43] == bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    peer.incoming.write(hrr)
    peer.pump()
    assert peer.tls.negotiated.group == group
    peer.obj.write(b"after retry")
    assert peer.pump() == [ApplicationData(b"after retry")]


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_mtls_both_directions(tmp_path, provider_name):
    pki = pki_for(tmp_path, base_key_type(provider_name))
    client_pki = pki_for(tmp_path / "client", base_key_type(provider_name), name="client", usage="client")
    # tlskit client presents a certificate to an ssl server that requires one
    peer = tlskit_client_to_ssl(
        pki,
        {"provider": provider_name, "certfile": client_pki.chain_file, "keyfile": client_pki.key_file},
        ssl_server_context(pki, client_ca=client_pki.ca_file),
    )
    peer.pump()
    assert peer.obj.getpeercert(binary_form=True) == leaf_der(client_pki)
    # ssl client presents a certificate to a tlskit server that requires one
    peer = ssl_client_to_tlskit(
        pki,
        {"provider": provider_name, "client_cafile": client_pki.ca_file, "require_client_auth": True},
        ssl_client_context(pki, cert=client_pki),
    )
    peer.pump()
    assert peer.tls.negotiated.peer_certificates[0] == leaf_der(client_pki)
    # without a client certificate the tlskit server sends certificate_required
    peer = ssl_client_to_tlskit(
        pki, {"provider": provider_name, "client_cafile": client_pki.ca_file, "require_client_auth": True}
    )
    with pytest.raises(TLSError) as caught:
        peer.pump()
    assert caught.value.alert == AlertDescription.certificate_required
    peer.incoming.write(peer.tls.data_to_send())
    with pytest.raises(ssl.SSLError, match="(?i)certificate.required"):
        peer.obj.read(10)


def test_alpn_both_directions(tmp_path):
    pki = pki_for(tmp_path)
    peer = tlskit_client_to_ssl(pki, {"alpn_protocols": ["h2", "http/1.1"]}, ssl_server_context(pki, alpn=["http/1.1"]))
    peer.pump()
    assert peer.tls.negotiated.alpn == "http/1.1" == peer.obj.selected_alpn_protocol()
    peer = ssl_client_to_tlskit(pki, {"alpn_protocols": ["h2", "http/1.1"]}, ssl_client_context(pki, alpn=["http/1.1", "h2"]))
    peer.pump()
    assert peer.tls.negotiated.alpn == "h2" == peer.obj.selected_alpn_protocol()
    peer = ssl_client_to_tlskit(pki, {"alpn_protocols": ["h2"]}, ssl_client_context(pki, alpn=["spdy/3"]))
    with pytest.raises(TLSError) as caught:
        peer.pump()
    assert caught.value.alert == AlertDescription.no_application_protocol
    peer.incoming.write(peer.tls.data_to_send())
    with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
        peer.obj.do_handshake()


@pytest.mark.parametrize("direction", ["tlskit-client", "tlskit-server"])
def test_key_update_initiated_by_tlskit(tmp_path, direction):
    pki = pki_for(tmp_path)
    peer = tlskit_client_to_ssl(pki) if direction == "tlskit-client" else ssl_client_to_tlskit(pki)
    peer.pump()
    for round_number in range(3):
        peer.tls.update_keys(request_peer=True)
        peer.tls.send(f"after update {round_number}")
        peer.pump()
        assert peer.obj.read(100) == f"after update {round_number}".encode()
        peer.obj.write(b"ssl answers")  # OpenSSL sends its own KeyUpdate before this record
        events = peer.pump()
        assert events[-2:] == [KeyUpdated(), ApplicationData(b"ssl answers")]


def test_new_session_tickets_from_ssl_server(tmp_path):
    pki = pki_for(tmp_path)
    peer = tlskit_client_to_ssl(pki)
    events = peer.pump()
    tickets = [e for e in events if isinstance(e, NewSessionTicket)]
    assert len(tickets) == 2 and all(t.ticket for t in tickets)
    assert len(peer.tls.session_tickets) == 2


@pytest.mark.parametrize("direction", ["tlskit-client", "tlskit-server"])
def test_close_notify_both_ways(tmp_path, direction):
    pki = pki_for(tmp_path)
    peer = tlskit_client_to_ssl(pki) if direction == "tlskit-client" else ssl_client_to_tlskit(pki)
    peer.pump()
    # tlskit closes first; ssl sees a clean EOF and answers with its own close_notify
    peer.tls.close()
    peer.incoming.write(peer.tls.data_to_send())
    assert ssl_read_at_eof(peer.obj)
    peer.obj.unwrap()
    assert peer.tls.receive_data(peer.outgoing.read()) == [ConnectionClosed()]
    # ssl closes first
    peer = tlskit_client_to_ssl(pki) if direction == "tlskit-client" else ssl_client_to_tlskit(pki)
    peer.pump()
    with pytest.raises(ssl.SSLWantReadError):
        peer.obj.unwrap()
    assert ConnectionClosed() in peer.tls.receive_data(peer.outgoing.read())
    peer.tls.close()
    peer.incoming.write(peer.tls.data_to_send())
    peer.obj.unwrap()


@pytest.mark.parametrize(
    "server_name,ca,alert,ssl_reason",
    [
        ("wrong.example", "same", AlertDescription.bad_certificate, "alert.bad.certificate"),
        ("localhost", "other", AlertDescription.unknown_ca, "alert.unknown.ca"),
    ],
)
def test_tlskit_client_rejects_bad_server_certificate(tmp_path, server_name, ca, alert, ssl_reason):
    pki = pki_for(tmp_path)
    other = pki_for(tmp_path / "other", name="other")
    cafile = pki.ca_file if ca == "same" else other.ca_file
    peer = tlskit_client_to_ssl(pki, {"cafile": cafile}, server_name=server_name)
    with pytest.raises(TLSError) as caught:
        peer.pump()
    assert caught.value.alert == alert
    peer.incoming.write(peer.tls.data_to_send())
    with pytest.raises(ssl.SSLError, match=f"(?i){ssl_reason}"):
        peer.obj.do_handshake()


@pytest.mark.parametrize("direction", ["tlskit-client", "tlskit-server"])
def test_16_mib_each_way(tmp_path, direction, capsys):
    pki = pki_for(tmp_path)
    peer = tlskit_client_to_ssl(pki) if direction == "tlskit-client" else ssl_client_to_tlskit(pki)
    peer.pump()
    payload = bytes(range(256)) * 65536  # 16 MiB
    started = time.perf_counter()
    peer.tls.send(payload)
    peer.incoming.write(peer.tls.data_to_send())
    assert peer.ssl_read_all(len(payload)) == payload
    tlskit_to_ssl = time.perf_counter() - started
    started = time.perf_counter()
    view = memoryview(payload)
    for start in range(0, len(payload), 1 << 20):
        peer.obj.write(view[start : start + (1 << 20)])
    received = bytearray()
    while len(received) < len(payload):
        chunk = peer.outgoing.read(1 << 20)
        assert chunk
        peer.tls.receive_data(chunk)
        received += peer.tls.recv()
    assert received == payload
    ssl_to_tlskit = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n16 MiB {direction}: tlskit->ssl {16 / tlskit_to_ssl:.0f} MiB/s, ssl->tlskit {16 / ssl_to_tlskit:.0f} MiB/s")


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_hrr_from_ssl_server_when_tlskit_sends_no_key_share(tmp_path, provider_name):
    """An empty key_share list makes OpenSSL ask for its preferred group (PyNaCl's only HRR path)."""
    pki = pki_for(tmp_path, base_key_type(provider_name))
    peer = tlskit_client_to_ssl(pki, {"provider": provider_name, "key_share_groups": []})
    peer.incoming.write(peer.tls.data_to_send())
    with pytest.raises(ssl.SSLWantReadError):
        peer.obj.do_handshake()
    hrr = peer.outgoing.read()
    assert hrr[11:43] == bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    peer.tls.receive_data(hrr)
    peer.pump()
    assert peer.tls.negotiated.group == "x25519"


@pytest.mark.parametrize("provider_name", ["cryptography", "pycryptodome"])
@pytest.mark.parametrize("scheme", ["rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512"])
def test_rsa_pss_rsae_hashes_both_directions(tmp_path, provider_name, scheme):
    pki = pki_for(tmp_path, "rsa-2048")
    # tlskit client offering only this scheme for CertificateVerify (plus ECDSA for the CA's signatures)
    peer = tlskit_client_to_ssl(pki, {"provider": provider_name, "signature_schemes": [scheme, "ecdsa_secp256r1_sha256"]})
    peer.pump()
    assert peer.tls.negotiated.signature_scheme == scheme
    # tlskit server preferring this scheme
    peer = ssl_client_to_tlskit(pki, {"provider": provider_name, "signature_schemes": [scheme, "ecdsa_secp256r1_sha256"]})
    peer.pump()
    assert peer.tls.negotiated.signature_scheme == scheme
