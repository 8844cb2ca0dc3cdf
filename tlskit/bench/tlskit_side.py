"""The measured side: tlskit connection pairs driven in memory.

Mirrors :mod:`tlskit.bench.stdlib_ssl` step for step (same certificates, same
suite, same group, host-name check on, no resumption) so that the two figures
differ only in the TLS stack. Configs are built once per measurement, as an
application would, and connections once per handshake. Resumed handshakes are
measured in :mod:`tlskit.bench.resumption`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tlskit.bench.certs import SERVER_NAME, BenchPKI

_MAX_FLIGHTS = 16


@dataclass(frozen=True)
class Params:
    """What one tlskit measurement pins: the provider and the negotiable algorithms."""

    provider: str
    suite: str
    group: str
    #: the client's opt-in CA-signature verdict cache (a separate bench line)
    verify_cache: bool = False


@dataclass
class Configs:
    client: Any
    server: Any


def make_configs(pki: BenchPKI, params: Params, resumption_mode: str | None = None) -> Configs:
    """Configs for full handshakes without tickets (as the stdlib side, ``num_tickets = 0``),
    or, with ``resumption_mode``, issuing tickets and resuming with that PSK mode."""
    # Imported here, not at module level: the engine is optional for the stdlib-only
    # parts of the benchmark (and for `tlskit bench --help`).
    from tlskit import ClientConfig, ServerConfig
    from tlskit.engine.session import SessionCache
    from tlskit.engine.tls12.suites import SUITE_TABLE

    # a TLS 1.2 suite: both ends at TLS 1.2 only, as the stdlib side
    versions = {"min_version": "TLSv1.2", "max_version": "TLSv1.2"} if params.suite in SUITE_TABLE else {}
    modes = (resumption_mode,) if resumption_mode else ("psk_dhe_ke",)
    client = ClientConfig(
        cafile=str(pki.ca_file),
        provider=params.provider,
        groups=[params.group],
        cipher_suites=[params.suite],
        **versions,
        session_cache=SessionCache() if resumption_mode else None,
        psk_key_exchange_modes=modes,
        verify_cache=params.verify_cache,
    )
    server = ServerConfig(
        certfile=str(pki.chain_file),
        keyfile=str(pki.key_file),
        provider=params.provider,
        groups=[params.group],
        cipher_suites=[params.suite],
        **versions,
        tickets=2 if resumption_mode else 0,
        psk_key_exchange_modes=modes,
    )
    return Configs(client, server)


@dataclass
class Pair:
    client: Any
    server: Any


def handshake(configs: Configs) -> Pair:
    """One full handshake between two fresh in-memory tlskit peers."""
    from tlskit import ClientConnection, ServerConnection

    client = ClientConnection(configs.client, server_name=SERVER_NAME)
    server = ServerConnection(configs.server)
    for _ in range(_MAX_FLIGHTS):
        data = client.data_to_send()
        if data:
            server.receive_data(data)
        data = server.data_to_send()
        if data:
            client.receive_data(data)
        if client.handshake_complete and server.handshake_complete:
            # Deliver whatever the server queued after its Finished (e.g. tickets),
            # so an idle or bulk pair starts from a quiet state.
            data = server.data_to_send()
            if data:
                client.receive_data(data)
            return Pair(client, server)
    raise RuntimeError("tlskit handshake did not finish")


def bulk_transfer(pair: Pair, total: int, chunk: bytes) -> None:
    """Send ``total`` bytes client -> server in ``len(chunk)`` writes; check all arrived."""
    received = 0
    send, pending = pair.client.send, pair.client.data_to_send
    receive, recv = pair.server.receive_data, pair.server.recv
    for _ in range(total // len(chunk)):
        send(chunk)
        receive(pending())
        received += len(recv())
    if received != total // len(chunk) * len(chunk):
        raise RuntimeError(f"tlskit bulk transfer lost data: {received} of {total}")


def negotiated(pair: Pair) -> dict[str, str | None]:
    n = pair.client.negotiated
    return {
        "version": str(getattr(n, "version", None)),
        "cipher_suite": getattr(n, "cipher_suite", None),
        "group": getattr(n, "group", None),
        "signature_scheme": getattr(n, "signature_scheme", None),
    }
