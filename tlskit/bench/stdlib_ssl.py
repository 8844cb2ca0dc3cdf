"""The reference side: the stdlib ``ssl`` module (OpenSSL) driven in memory.

``ssl.SSLObject`` over ``ssl.MemoryBIO`` is the in-memory analogue of a tlskit
connection pair: no sockets, both peers in one process, bytes shuttled by hand.
The stdlib cannot choose TLS 1.3 cipher suites or groups from Python; the worker
process this runs in has an ``OPENSSL_CONF`` that pins them (see
:mod:`tlskit.bench.pinning`), and :func:`negotiated` reads back what was used.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from tlskit.bench.certs import SERVER_NAME, BenchPKI
from tlskit.bench.pinning import OPENSSL_TLS12_NAMES
from tlskit.bench.wire import server_hello_group

_IANA = {openssl: iana for iana, openssl in OPENSSL_TLS12_NAMES.items()}
#: a handshake between two in-memory peers never needs more flights than this
_MAX_FLIGHTS = 16


def _versions(ctx: ssl.SSLContext, suite: str | None) -> None:
    """TLS 1.3, or TLS 1.2 alone for a TLS 1.2 suite (what the worker's OPENSSL_CONF pins too)."""
    if suite in OPENSSL_TLS12_NAMES:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(OPENSSL_TLS12_NAMES[suite])
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3


def server_context(pki: BenchPKI, suite: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _versions(ctx, suite)
    ctx.load_cert_chain(str(pki.chain_file), str(pki.key_file))
    # "No resumption": OpenSSL would otherwise mint two tickets per handshake
    # (TLS 1.3), or one RFC 5077 ticket (TLS 1.2).
    ctx.num_tickets = 0
    ctx.options |= ssl.OP_NO_TICKET
    return ctx


def client_context(pki: BenchPKI, suite: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    _versions(ctx, suite)
    ctx.load_verify_locations(cafile=str(pki.ca_file))
    return ctx


@dataclass
class MemoryPair:
    client: ssl.SSLObject
    server: ssl.SSLObject
    client_in: ssl.MemoryBIO
    client_out: ssl.MemoryBIO
    server_in: ssl.MemoryBIO
    server_out: ssl.MemoryBIO
    first_server_flight: bytes = b""


def _step(obj: ssl.SSLObject) -> bool:
    try:
        obj.do_handshake()
        return True
    except ssl.SSLWantReadError:
        return False


def handshake(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext) -> MemoryPair:
    """One full handshake between two fresh in-memory peers."""
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    pair = MemoryPair(
        client=client_ctx.wrap_bio(client_in, client_out, server_hostname=SERVER_NAME),
        server=server_ctx.wrap_bio(server_in, server_out, server_side=True),
        client_in=client_in,
        client_out=client_out,
        server_in=server_in,
        server_out=server_out,
    )
    client_done = server_done = False
    for _ in range(_MAX_FLIGHTS):
        if not client_done:
            client_done = _step(pair.client)
        data = pair.client_out.read()
        if data:
            pair.server_in.write(data)
        if not server_done:
            server_done = _step(pair.server)
        data = pair.server_out.read()
        if data:
            if not pair.first_server_flight:
                pair.first_server_flight = data
            pair.client_in.write(data)
        if client_done and server_done:
            return pair
    raise RuntimeError("stdlib ssl handshake did not finish")


def bulk_transfer(pair: MemoryPair, total: int, chunk: bytes) -> None:
    """Send ``total`` bytes client -> server in ``len(chunk)`` writes; check all arrived."""
    received = 0
    client_write, client_out_read = pair.client.write, pair.client_out.read
    server_in_write, server_read = pair.server_in.write, pair.server.read
    for _ in range(total // len(chunk)):
        client_write(chunk)
        server_in_write(client_out_read())
        while True:
            try:
                received += len(server_read(1 << 17))
            except ssl.SSLWantReadError:
                break
    if received != total // len(chunk) * len(chunk):
        raise RuntimeError(f"stdlib ssl bulk transfer lost data: {received} of {total}")


def negotiated(pair: MemoryPair) -> dict[str, str | None]:
    """What the stdlib pair actually negotiated (the OPENSSL_CONF pin is checked against this)."""
    cipher = pair.client.cipher()
    return {
        "version": pair.client.version(),
        # TLS 1.2 suites come back under OpenSSL's names: report the IANA one
        "cipher_suite": _IANA.get(cipher[0], cipher[0]) if cipher else None,
        # Python 3.11 has no accessor for the group; the ServerHello says it in clear.
        "group": server_hello_group(pair.first_server_flight),
    }
