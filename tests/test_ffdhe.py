"""RFC 7919 FFDHE groups in TLS 1.3: constants, peer checks, padding, providers, engine
(including HelloRetryRequest) and interop with `openssl s_server/s_client` and stdlib ssl.

ffdhe2048 is tested broadly; the bigger groups once each (pure-Python pow() on 8192-bit
numbers takes a noticeable fraction of a second).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from certs import make_pki
from engine_support import pump
from tlskit import ClientConfig, ClientConnection, ServerConfig, ServerConnection
from tlskit.errors import IllegalParameter
from tlskit.io.stream import TLSStream, connect
from tlskit.providers import get_provider
from tlskit.providers.ffdhe import EXPONENT_BITS, FFDHE_GROUPS, GENERATOR, PRIMES, PowFFDHEGroup
from tlskit.providers.names import GROUPS

OPENSSL = shutil.which("openssl")
TIMEOUT = 20.0
BACKENDS = ["cryptography", "pycryptodome"]
RFC7919_X = {"ffdhe2048": 560316, "ffdhe3072": 2625351, "ffdhe4096": 5736041, "ffdhe6144": 15705020, "ffdhe8192": 10965728}


def _e_scaled(bits: int) -> int:
    """floor(2^bits * e), from the series sum 1/n! in integer arithmetic (64 guard bits)."""
    one = 1 << (bits + 64)
    total, term, n = 0, one, 0
    while term:
        total += term
        n += 1
        term //= n
    return total >> 64


def _probably_prime(n: int, bases=(2, 3, 5, 7, 11, 13)) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


# -- the constants ---------------------------------------------------------------------


@pytest.mark.parametrize("name", FFDHE_GROUPS)
def test_primes_match_the_rfc7919_formula(name):
    """RFC 7919 appendix A: p = 2^b - 2^(b-64) + {[2^(b-130) e] + X} * 2^64 - 1, g = 2."""
    b = int(name[5:])
    expected = 2**b - 2 ** (b - 64) + (_e_scaled(b - 130) + RFC7919_X[name]) * 2**64 - 1
    assert PRIMES[name] == expected
    assert PRIMES[name].bit_length() == b and GENERATOR == 2
    assert GROUPS[name] == 0x0100 + FFDHE_GROUPS.index(name)  # RFC 7919 section 8 code points
    assert EXPONENT_BITS[name] == {2048: 225, 3072: 275, 4096: 325, 6144: 375, 8192: 400}[b]


def test_ffdhe2048_is_a_safe_prime():
    p = PRIMES["ffdhe2048"]
    assert _probably_prime(p) and _probably_prime((p - 1) // 2)
    assert pow(GENERATOR, (p - 1) // 2, p) == 1  # g generates the prime-order subgroup q


# -- peer checks and padding -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_shares_are_illegal_parameter(backend):
    group = get_provider(backend).groups["ffdhe2048"]
    p = PRIMES["ffdhe2048"]
    exchange = group.start()
    for y in (0, 1, p - 1, p, p + 1, 2**2048 - 1):
        share = y.to_bytes(256, "big")
        with pytest.raises(IllegalParameter, match="1 < Y < p-1"):
            group.encapsulate(share)
        with pytest.raises(IllegalParameter, match="1 < Y < p-1"):
            exchange.complete(share)
    good = exchange.share
    for bad in (good[1:], b"\x00" + good, good + b"\x00", b""):  # share length = group size
        with pytest.raises(IllegalParameter, match="length"):
            group.encapsulate(bad)
    share, secret = group.encapsulate((2).to_bytes(256, "big"))  # smallest legal Y
    assert len(share) == len(secret) == 256


def _private_with_short_public(p: int, start: int) -> int:
    """An exponent x >= start with g^x < 2^(bits-8): its share starts with a zero byte."""
    x, y = start, pow(GENERATOR, start, p)
    for _ in range(100_000):
        if y < 1 << (p.bit_length() - 8):
            return x
        x, y = x + 1, (y * GENERATOR) % p
    raise AssertionError("no short share found")


def test_known_answer_with_leading_zero_bytes_is_left_padded():
    """RFC 8446 4.2.8.1 and 7.4.1: shares and Z keep their leading zeros (the size of p).
    Constructed vector: private exponents chosen so that both a share and Z start with 0x00;
    checked against a direct pow() computation and across both backends."""
    p = PRIMES["ffdhe2048"]
    a = _private_with_short_public(p, 1 << 224)
    share_a = pow(GENERATOR, a, p).to_bytes(256, "big")
    assert share_a[0] == 0
    big_a = pow(GENERATOR, a, p)
    b = 1 << 224
    big_b = pow(GENERATOR, b, p)
    z_int = pow(big_b, a, p)
    for _ in range(100_000):  # Z(b+1) = Z(b) * g^a
        if z_int < 1 << 2040:
            break
        b, big_b, z_int = b + 1, (big_b * GENERATOR) % p, (z_int * big_a) % p
    else:
        raise AssertionError("no short secret found")
    z = z_int.to_bytes(256, "big")
    assert z[0] == 0 and z == pow(big_b, a, p).to_bytes(256, "big")
    share_b = big_b.to_bytes(256, "big")
    for backend in BACKENDS:
        group = get_provider(backend).groups["ffdhe2048"]
        state_a = group.state_from_private_bytes(a.to_bytes(29, "big"))
        assert group.complete(state_a, share_b) == z, backend
        state_b = group.state_from_private_bytes(b.to_bytes(29, "big"))
        assert group.complete(state_b, share_a) == z, backend


@pytest.mark.parametrize("name", FFDHE_GROUPS)
def test_backends_agree(name):
    """OpenSSL's DH (cryptography) and Python's pow() (pycryptodome) interoperate."""
    openssl_group = get_provider("cryptography").groups[name]
    pow_group = get_provider("pycryptodome").groups[name]
    assert isinstance(pow_group, PowFFDHEGroup)
    size = PRIMES[name].bit_length() // 8
    for client, server in ((openssl_group, pow_group), (pow_group, openssl_group)):
        exchange = client.start()
        share, secret = server.encapsulate(exchange.share)
        assert len(exchange.share) == len(share) == len(secret) == size
        assert exchange.complete(share) == secret


def test_pow_exponents_have_the_rfc_length():
    group = PowFFDHEGroup("ffdhe2048")
    exchange = group.start()
    assert exchange._state.bit_length() == EXPONENT_BITS["ffdhe2048"]
    assert "ffdhe2048" in repr(exchange) and str(exchange._state) not in repr(exchange)


# -- engine ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("ffdhe-pki"))


def test_offered_after_the_elliptic_curve_groups_never_in_the_default_share():
    for backend in BACKENDS:
        config = ClientConfig(provider=backend, insecure=True)
        groups = config.resolved_groups
        assert groups[-5:] == FFDHE_GROUPS
        assert all(not g.startswith("ffdhe") for g in groups[:-5])
        assert not any(g.startswith("ffdhe") for g in config.resolved_key_share_groups)
    # pynacl has no FFDHE
    assert not any(g.startswith("ffdhe") for g in ClientConfig(provider="pynacl", insecure=True).resolved_groups)


def _handshake(pki, client_kwargs, server_kwargs):
    client = ClientConnection(ClientConfig(cafile=pki.ca_file, **client_kwargs), server_name="localhost")
    server = ServerConnection(ServerConfig(certfile=pki.chain_file, keyfile=pki.key_file, **server_kwargs))
    pump(client, server)
    assert client.handshake_complete and server.handshake_complete
    return client, server


@pytest.mark.parametrize("client_backend", BACKENDS)
@pytest.mark.parametrize("server_backend", BACKENDS)
def test_engine_handshake_ffdhe2048(pki, client_backend, server_backend):
    client, server = _handshake(pki, {"provider": client_backend, "groups": ["ffdhe2048"]},
                                {"provider": server_backend})
    assert client.negotiated.group == server.negotiated.group == "ffdhe2048"


@pytest.mark.parametrize("backend", BACKENDS)
def test_engine_hello_retry_from_x25519_to_ffdhe2048(pki, backend):
    # the client's first key shares are X25519MLKEM768 and x25519 (post-quantum by default,
    # test_pq_default.py), never an FFDHE group: ffdhe2048 can only come from an HRR
    assert ClientConfig(provider=backend, insecure=True).resolved_key_share_groups == ("X25519MLKEM768", "x25519")
    client, server = _handshake(pki, {"provider": backend}, {"provider": backend, "groups": ["ffdhe2048"]})
    assert client.negotiated.group == server.negotiated.group == "ffdhe2048"


@pytest.mark.parametrize("name", FFDHE_GROUPS[1:])
def test_engine_bigger_groups_once(pki, name):
    # the pure-Python side is the server here once, for the largest group only
    server_backend = "pycryptodome" if name == "ffdhe8192" else "cryptography"
    client, _ = _handshake(pki, {"groups": [name]}, {"provider": server_backend})
    assert client.negotiated.group == name


# -- interop ----------------------------------------------------------------------------


class _TlskitServer:
    """One tlskit server connection on a loopback socket, in a thread."""

    def __init__(self, config: ServerConfig) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.config = config
        self.error: BaseException | None = None
        self.group: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            conn.settimeout(TIMEOUT)
            with TLSStream(conn, ServerConnection(self.config)) as stream:
                stream.do_handshake()
                self.group = stream.connection.negotiated.group
                data = stream.recv(100)
                stream.sendall(b"tlskit says: " + data)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.listener.close()

    def join(self) -> None:
        self.thread.join(TIMEOUT)


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


@needs_openssl
@pytest.mark.interop
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("client_groups", ["ffdhe2048", "x25519:ffdhe2048"], ids=["direct", "hrr"])
def test_openssl_s_client_with_tlskit_server(pki, backend, client_groups):
    server = _TlskitServer(ServerConfig(provider=backend, certfile=pki.chain_file, keyfile=pki.key_file,
                                        groups=["ffdhe2048"]))
    args = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
            "-CAfile", str(pki.ca_file), "-verify_return_error", "-tls1_3", "-groups", client_groups, "-ign_eof"]
    result = subprocess.run(args, input=b"ping\n", capture_output=True, timeout=TIMEOUT)
    server.join()
    out = result.stdout.decode(errors="replace")
    assert server.error is None, server.error
    assert result.returncode == 0, out + result.stderr.decode(errors="replace")
    assert "tlskit says: ping" in out and "Server Temp Key: DH, 2048 bits" in out, out
    assert server.group == "ffdhe2048"


@needs_openssl
@pytest.mark.interop
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("groups", [["ffdhe2048"], None], ids=["direct", "hrr"])
def test_tlskit_client_with_openssl_s_server(pki, backend, groups):
    args = [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-naccept", "1", "-groups", "ffdhe2048",
            "-cert", str(pki.leaf_file), "-cert_chain", str(pki.intermediate_file), "-key", str(pki.key_file)]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for _ in range(50):
            line = proc.stdout.readline()
            if line.startswith("ACCEPT"):
                port = int(line.strip().rsplit(":", 1)[1])
                break
        assert port is not None, "s_server did not start"
        kwargs = {"groups": groups} if groups else {}  # None: defaults, first share x25519 -> HRR
        with connect("127.0.0.1", port, server_name="localhost", timeout=TIMEOUT, cafile=pki.ca_file,
                     provider=backend, keylog_from_env=False, **kwargs) as stream:
            assert stream.connection.negotiated.group == "ffdhe2048"
            stream.sendall(b"hello\n")
    finally:
        proc.kill()
        proc.communicate(timeout=TIMEOUT)


def _stdlib_server_context(pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(str(pki.chain_file), str(pki.key_file))
    context.set_ecdh_curve("ffdhe2048")  # OpenSSL 3: sets the group list, FFDHE included
    return context


@pytest.mark.interop
@pytest.mark.parametrize("backend", BACKENDS)
def test_tlskit_client_with_stdlib_ssl_server_via_hrr(pki, backend):
    context = _stdlib_server_context(pki)
    result: dict = {}

    def serve(listener):
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with context.wrap_socket(conn, server_side=True) as tls:
                result["data"] = tls.recv(10)
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:
            result["error"] = exc

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        thread = threading.Thread(target=serve, args=(listener,), daemon=True)
        thread.start()
        with connect("127.0.0.1", listener.getsockname()[1], server_name="localhost", timeout=TIMEOUT,
                     cafile=pki.ca_file, provider=backend, keylog_from_env=False) as stream:
            assert stream.connection.negotiated.group == "ffdhe2048"
            stream.sendall(b"ping")
            assert stream.recv(10) == b"ok"
        thread.join(TIMEOUT)
    assert result.get("data") == b"ping", result


@pytest.mark.interop
@pytest.mark.parametrize("backend", BACKENDS)
def test_stdlib_ssl_client_with_tlskit_server(pki, backend):
    server = _TlskitServer(ServerConfig(provider=backend, certfile=pki.chain_file, keyfile=pki.key_file))
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_ecdh_curve("ffdhe2048")  # the client offers (and shares) only ffdhe2048
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ping")
            assert tls.recv(100) == b"tlskit says: ping"
    server.join()
    assert server.error is None, server.error
    assert server.group == "ffdhe2048"
