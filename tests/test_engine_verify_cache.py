"""``verify_cache=True`` on a config (opt-in CA-signature verdicts, issue 17) in real
handshakes: only the CA signatures of a chain seen before are skipped; the
CertificateVerify signature, validity, the host name, the trust store, the chain
bytes and revocation are checked on every handshake with the cache warm.
"""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from engine_support import pki_for, pump

import pki_factory as f
from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection, TLSError
from tlskit.pki import Expired, NameMismatch, Revoked, UnknownIssuer
from tlskit.providers import get_provider


class _Counting:
    """A signature scheme that counts verifications and delegates to the real one."""

    def __init__(self, inner, calls):
        self._inner, self._calls = inner, calls
        self.name, self.code, self.info = inner.name, inner.code, getattr(inner, "info", None)

    def verify(self, *args, **kwargs):
        self._calls.append(args[1])  # the signed message
        return self._inner.verify(*args, **kwargs)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return pki_for(tmp_path_factory.mktemp("verify-cache"))


def _counting_provider(calls):
    base = get_provider("cryptography")
    return dataclasses.replace(base, signature_schemes={n: _Counting(s, calls) for n, s in base.signature_schemes.items()})


def _server(pki, **kwargs):
    # no tickets: every handshake is a full one, with the server's certificate
    return ServerConfig(certfile=str(pki.chain_file), keyfile=str(pki.key_file), tickets=0, **kwargs)


def _handshake(client_config, server_config, name="localhost"):
    client = ClientConnection(client_config, server_name=name)
    server = ServerConnection(server_config)
    pump(client, server)
    assert client.handshake_complete and not client.negotiated.resumed
    return client


def test_warm_cache_skips_ca_signatures_but_not_certificate_verify(pki):
    calls: list[bytes] = []
    client_config = ClientConfig(cafile=str(pki.ca_file), provider=_counting_provider(calls), verify_cache=True)
    server_config = _server(pki)
    _handshake(client_config, server_config)
    assert len(calls) == 3  # leaf and intermediate signatures, then CertificateVerify
    del calls[:]
    _handshake(client_config, server_config)
    assert len(calls) == 1  # CertificateVerify only: it signs this handshake's transcript
    assert calls[0].startswith(b"\x20" * 64 + b"TLS 1.3, server CertificateVerify\x00")

    # without the opt-in every handshake verifies all three
    plain = ClientConfig(cafile=str(pki.ca_file), provider=_counting_provider(calls))
    del calls[:]
    _handshake(plain, server_config)
    _handshake(plain, server_config)
    assert len(calls) == 6


def test_warm_cache_still_rejects_a_bad_certificate_verify(pki, monkeypatch):
    client_config = ClientConfig(cafile=str(pki.ca_file), verify_cache=True)
    server_config = _server(pki)
    _handshake(client_config, server_config)
    key = server_config.identities[0].key
    real_sign = key.sign
    monkeypatch.setattr(key, "sign", lambda scheme, content: real_sign(scheme, content + b"other transcript"))
    client = ClientConnection(client_config, server_name="localhost")
    with pytest.raises(TLSError, match="signature"):
        pump(client, ServerConnection(server_config))
    assert not client.handshake_complete


def test_warm_cache_still_checks_time_name_and_trust(pki, tmp_path):
    now = [datetime.datetime.now(datetime.timezone.utc)]
    client_config = ClientConfig(cafile=str(pki.ca_file), verify_cache=True, clock=lambda: now[0])
    server_config = _server(pki)
    _handshake(client_config, server_config)

    now[0] += datetime.timedelta(days=4000)
    with pytest.raises(Expired):
        _handshake(client_config, server_config)
    now[0] = datetime.datetime.now(datetime.timezone.utc)

    with pytest.raises(NameMismatch):
        _handshake(client_config, server_config, name="other.example")

    # another PKI's chain (same names, other keys) is not trusted by this config
    other = pki_for(tmp_path, name="other")
    with pytest.raises(UnknownIssuer):
        _handshake(client_config, _server(other))

    # nor is this chain by a config trusting the other PKI, whatever this one cached
    other_client = ClientConfig(cafile=str(other.ca_file), verify_cache=True)
    with pytest.raises(UnknownIssuer):
        _handshake(other_client, server_config)
    _handshake(client_config, server_config)  # and the cached chain is still fine


def _identity_files(directory, leaf: f.Issued, ica: f.Issued):
    from cryptography.hazmat.primitives import serialization

    directory.mkdir()
    chain, key = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(leaf.pem + ica.pem)
    key.write_bytes(leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(chain), str(key)


def test_warm_cache_still_checks_revocation(tmp_path):
    chain = f.chain(1, tag=" verify-cache crl")
    ica = chain.intermediates[0]
    revoked = f.issue("bad.example", ica, slot=21, eku=[f.SERVER])
    crl = tmp_path / "ica.crl.pem"
    from cryptography.hazmat.primitives.serialization import Encoding

    crl.write_bytes(f.make_crl(ica, [revoked.cert.serial_number]).public_bytes(Encoding.PEM))
    root = tmp_path / "root.pem"
    root.write_bytes(chain.root.pem)
    client_config = ClientConfig(cafile=str(root), crls=[str(crl)], verify_cache=True, clock=lambda: f.NOW)
    good_chain, good_key = _identity_files(tmp_path / "good", chain.leaf, ica)
    bad_chain, bad_key = _identity_files(tmp_path / "bad", revoked, ica)
    good = ServerConfig(certfile=good_chain, keyfile=good_key, tickets=0)
    bad = ServerConfig(certfile=bad_chain, keyfile=bad_key, tickets=0)
    _handshake(client_config, good, name="example.com")
    for _ in range(2):  # the intermediate's signature is cached by now: the leaf is still revoked
        with pytest.raises(Revoked):
            _handshake(client_config, bad, name="bad.example")
    _handshake(client_config, good, name="example.com")


def test_bench_reports_the_verdict_cache_as_its_own_line(tmp_path):
    from tlskit.bench import certs, runner, tlskit_side

    planner = runner.Planner(runner.Options(providers=["cryptography"], key_types=["ecdsa-p256"]), runner._provider_table(["cryptography"]))
    handshake = next(sc for sc in planner.jobs()[runner.AES128]["scenarios"] if sc["kind"] == "handshake")
    sides = {side["label"]: side for side in handshake["sides"]}
    plain, cached = sides["tlskit/cryptography"], sides["tlskit/cryptography + verdict cache"]
    assert not plain.get("verify_cache") and cached["verify_cache"] and cached["reference"] == "ssl"
    assert "raw_reference" not in cached  # no "% of floor": it skips public-key operations by design
    pki = certs.make_pki(tmp_path, "ecdsa-p256")
    params = tlskit_side.Params("cryptography", runner.AES128, "x25519", verify_cache=True)
    assert tlskit_side.make_configs(pki, params).client.verify_cache
    assert not tlskit_side.make_configs(pki, tlskit_side.Params("cryptography", runner.AES128, "x25519")).client.verify_cache


def test_spki_of_memo_is_per_exact_der_and_bounded(monkeypatch):
    from tlskit import _der
    from tlskit.engine import certs as engine_certs
    from tlskit.errors import DecodeError

    monkeypatch.setattr(engine_certs, "SPKI_CACHE_SIZE", 2)
    monkeypatch.setattr(engine_certs, "_spki_cache", {})
    leaves = [f.issue(f"host{n}.example", f.chain(1, tag=" spki").intermediates[0], slot=60 + n) for n in range(3)]
    for leaf in leaves * 2:
        assert engine_certs.spki_of(leaf.der) == _der.certificate_spki(leaf.der)
    assert len(engine_certs._spki_cache) == 2
    tampered = bytearray(leaves[0].der)
    tampered[1] ^= 0x01  # a broken outer length: never answered from the memo
    with pytest.raises(DecodeError):
        engine_certs.spki_of(bytes(tampered))


def test_tls12_warm_cache_still_verifies_the_server_key_exchange(pki):
    """TLS 1.2's ServerKeyExchange signature covers this handshake's randoms: like
    CertificateVerify it is verified on every handshake, cache or not."""
    calls: list[bytes] = []
    now = [datetime.datetime.now(datetime.timezone.utc)]
    versions = {"min_version": "TLSv1.2", "max_version": "TLSv1.2"}
    client_config = ClientConfig(
        cafile=str(pki.ca_file), provider=_counting_provider(calls), verify_cache=True, session_cache=None,
        clock=lambda: now[0], **versions,
    )  # no session cache: every handshake is a full one
    server_config = _server(pki, **versions)
    client = _handshake(client_config, server_config)
    assert client.negotiated.version == "TLSv1.2"
    assert len(calls) == 3
    del calls[:]
    _handshake(client_config, server_config)
    assert len(calls) == 1
    now[0] += datetime.timedelta(days=4000)
    with pytest.raises(Expired):
        _handshake(client_config, server_config)
