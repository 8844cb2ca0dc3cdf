"""Resumed handshakes per second, in memory: tlskit (psk_dhe_ke and psk_ke) beside the
stdlib ``ssl`` module resuming a TLS 1.3 session, and tlskit's own full handshake.

Both stacks issue tickets as they do by default (two per handshake) on every resumed
handshake too, verify nothing (a resumed handshake sends no certificate) and reuse one
session for every measured handshake (the session is taken once, from a full handshake
before the clock starts).
"""

from __future__ import annotations

import ssl
from typing import Any, Callable

from tlskit.bench import stdlib_ssl, tlskit_side
from tlskit.bench.certs import SERVER_NAME, BenchPKI

_MAX_FLIGHTS = 16


def _stdlib_round(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, session: Any) -> stdlib_ssl.MemoryPair:
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(client_in, client_out, server_hostname=SERVER_NAME, session=session)
    server = server_ctx.wrap_bio(server_in, server_out, server_side=True)
    pair = stdlib_ssl.MemoryPair(client, server, client_in, client_out, server_in, server_out)
    client_done = server_done = False
    for _ in range(_MAX_FLIGHTS):
        if not client_done:
            client_done = _step(client)
        data = client_out.read()
        if data:
            server_in.write(data)
        if not server_done:
            server_done = _step(server)
        data = server_out.read()
        if data:
            if not pair.first_server_flight:
                pair.first_server_flight = data
            client_in.write(data)
        if client_done and server_done:
            # TLS 1.3 tickets come after the handshake: read them so the session is set
            try:
                client.read(1)
            except ssl.SSLWantReadError:
                pass
            return pair
    raise RuntimeError("stdlib ssl handshake did not finish")


def _step(obj: ssl.SSLObject) -> bool:
    try:
        obj.do_handshake()
        return True
    except ssl.SSLWantReadError:
        return False


def stdlib_resumed(pki: BenchPKI) -> tuple[Callable[[], object], dict]:
    """(one resumed stdlib handshake, what it negotiated)."""
    client_ctx = stdlib_ssl.client_context(pki)
    server_ctx = stdlib_ssl.server_context(pki)
    server_ctx.num_tickets = 2  # OpenSSL's default, which the handshake bench turns off
    first = _stdlib_round(client_ctx, server_ctx, None)
    session = first.client.session
    if session is None:
        raise RuntimeError("stdlib ssl got no session ticket")

    def once() -> stdlib_ssl.MemoryPair:
        return _stdlib_round(client_ctx, server_ctx, session)

    check = once()
    if not check.client.session_reused:
        raise RuntimeError("stdlib ssl did not resume")
    return once, {**stdlib_ssl.negotiated(check), "resumed": True}


def tlskit_resumed(pki: BenchPKI, params: tlskit_side.Params, mode: str) -> tuple[Callable[[], object], dict]:
    """(one resumed tlskit handshake with ``mode`` ("psk_dhe_ke" or "psk_ke"), what it negotiated)."""
    from tlskit import ClientConnection, ServerConnection

    configs = tlskit_side.make_configs(pki, params, resumption_mode=mode)
    first = tlskit_side.handshake(configs)
    session = first.client.session
    if session is None:
        raise RuntimeError("tlskit got no session ticket")
    client_config, server_config = configs.client, configs.server

    def once() -> tuple[Any, Any]:
        client = ClientConnection(client_config, server_name=SERVER_NAME, session=session)
        server = ServerConnection(server_config)
        for _ in range(_MAX_FLIGHTS):
            data = client.data_to_send()
            if data:
                server.receive_data(data)
            data = server.data_to_send()
            if data:
                client.receive_data(data)
            if client.handshake_complete and server.handshake_complete and not data:
                return client, server
        raise RuntimeError("tlskit resumed handshake did not finish")

    client, _ = once()
    negotiated = client.negotiated
    if not negotiated.resumed:
        raise RuntimeError(f"tlskit did not resume with {mode}")
    return once, {
        "version": negotiated.version,
        "cipher_suite": negotiated.cipher_suite,
        "group": negotiated.group or None,
        "resumed": True,
        "mode": mode,
    }
