"""``tlskit demo``: tlskit end to end on loopback, with no setup.

Creates a throwaway CA in memory (or, with ``--keep DIR``, a CA on disk that the
user keeps), issues a server and a client certificate, and for every
available provider (and one provider composed from parts of several) starts a
tlskit server, performs an mTLS handshake with a tlskit client using that
provider on both sides, exchanges "Hello, world!" and reports what was
negotiated and how long the handshake took.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import typer

from tlskit.cli.trace_opts import TraceFormat, cli_trace, trace_diagram_option, trace_format_option, trace_option

MESSAGE = b"Hello, world!"
#: every provider can sign and verify Ed25519 (PyNaCl can do nothing else), so the
#: demo's certificates use it and every provider runs the same handshake
KEY_TYPE = "ed25519"
#: bounds every socket operation so a broken provider cannot hang the demo
TIMEOUT = 15.0


@dataclass
class DemoRow:
    provider: str
    group: str = "-"
    cipher_suite: str = "-"
    signature_scheme: str = "-"
    handshake_ms: float = 0.0
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


#: a file on disk (the kept CA) or PEM bytes in memory (the throwaway CA)
PathOrPEM = Union[Path, bytes]


@dataclass
class DemoCertificates:
    ca_dir: Optional[Path]  # None: the CA lived in memory only
    root: PathOrPEM
    server_chain: PathOrPEM
    server_key: PathOrPEM
    client_chain: PathOrPEM
    client_key: PathOrPEM


def make_certificates(directory: Optional[Path] = None) -> DemoCertificates:
    """A server (localhost) and a client certificate from a CA in memory, or, given a
    ``directory``, from a CA created there to be kept."""
    if directory is None:
        from tlskit.ca import EphemeralCA

        throwaway = EphemeralCA(key_type=KEY_TYPE, name="tlskit demo Root CA", days=1)
        server_cert = throwaway.issue_cert("localhost", "127.0.0.1")
        client_cert = throwaway.issue_cert("demo-client", client=True)
        return DemoCertificates(
            None, throwaway.root_pem, server_cert.chain_pem, server_cert.key_pem, client_cert.chain_pem, client_cert.key_pem
        )
    from tlskit.ca import CertificateAuthority

    ca = CertificateAuthority.init(directory, name="tlskit demo Root CA", key_type=KEY_TYPE, days=30)
    server = ca.issue("localhost", sans=["localhost", "127.0.0.1"], profile="server", key_type=KEY_TYPE, days=1)
    client = ca.issue("demo-client", profile="client", key_type=KEY_TYPE, days=1)
    assert server.chain_path and server.key_path and client.chain_path and client.key_path
    return DemoCertificates(
        directory, ca.root_path, server.chain_path, server.key_path, client.chain_path, client.key_path
    )


def demo_providers() -> list[Any]:
    """Every available backend, plus one provider composed from parts of several."""
    from tlskit.providers import available_providers, compose, get_provider

    names = available_providers()
    providers: list[Any] = [get_provider(name) for name in names]
    if len(names) >= 2:
        # key exchange and signatures from one backend, AEAD from another, hash from a third
        providers.append(compose(kx=names[-1], aead=names[0], hash=names[1 % len(names)], signatures=names[-1]))
    return providers


def _source(value: PathOrPEM) -> Union[str, bytes]:
    """What a config's certfile/keyfile takes: a path name, or the PEM itself."""
    return value if isinstance(value, bytes) else str(value)


def _trust(value: PathOrPEM, prefix: str = "") -> dict[str, Any]:
    """``cafile`` for a file, ``cadata`` for PEM in memory (``client_`` ones on a server)."""
    if isinstance(value, bytes):
        return {f"{prefix}cadata": value}
    return {f"{prefix}cafile": str(value)}


def run_one(provider: Any, certs: DemoCertificates, trace: Optional[Callable[[Any], None]] = None) -> DemoRow:
    """One mTLS handshake and echo, tlskit server and client both using ``provider``.

    With ``trace`` both ends trace into it and the warm-up connection is left out (the
    trace shows one handshake; its time then includes the first-use costs)."""
    from tlskit.io import connect, serve

    row = DemoRow(provider.name)

    def echo(stream: Any) -> None:
        while data := stream.recv():
            stream.sendall(data)

    try:
        with serve(
            "127.0.0.1",
            0,
            certfile=_source(certs.server_chain),
            keyfile=_source(certs.server_key),
            **_trust(certs.root, "client_"),
            require_client_auth=True,
            provider=provider,
            handshake_timeout=TIMEOUT,
            timeout=TIMEOUT,
            keylog_from_env=False,
            trace=trace,
        ) as server:
            server.serve_in_background(echo, on_error=lambda address, exc: None)
            host, port = server.address
            client_options = dict(
                server_name="localhost",
                timeout=TIMEOUT,
                **_trust(certs.root),
                certfile=_source(certs.client_chain),
                keyfile=_source(certs.client_key),
                provider=provider,
                keylog_from_env=False,
                trace=trace,
            )
            # A first connection warms up lazy imports and caches, so the
            # reported time is the handshake's and not Python's start-up.
            if trace is None:
                with connect(host, port, **client_options) as warm_up:
                    _echo_once(warm_up)
            started = time.perf_counter()
            with connect(host, port, **client_options) as stream:
                row.handshake_ms = (time.perf_counter() - started) * 1000
                negotiated = stream.negotiated
                row.group = negotiated.group
                row.cipher_suite = negotiated.cipher_suite
                row.signature_scheme = negotiated.signature_scheme or "-"
                reply = _echo_once(stream)
                if reply != MESSAGE:
                    row.error = f"echo mismatch: {reply!r}"
    except Exception as exc:  # one provider failing must not hide the others' results
        row.error = f"{type(exc).__name__}: {exc}"
    return row


def _echo_once(stream: Any) -> bytes:
    stream.sendall(MESSAGE)
    reply = b""
    while len(reply) < len(MESSAGE):
        chunk = stream.recv()
        if not chunk:
            break
        reply += chunk
    return reply


def run_demo(
    directory: Optional[Path] = None, progress: Optional[Callable[[str], None]] = None
) -> tuple[DemoCertificates, list[DemoRow]]:
    """The whole demo, with a CA in memory or (given ``directory``, which must not hold a
    CA yet) on disk."""
    certs = make_certificates(directory)
    rows = []
    for provider in demo_providers():
        if progress is not None:
            progress(provider.name)
        rows.append(run_one(provider, certs))
    return certs, rows


#: a failed row says FAILED in the handshake column (and its error on stderr)
_COLUMNS = ("provider", "group", "suite", "signature", "handshake")


def _cells(row: DemoRow) -> tuple[str, ...]:
    return (
        row.provider,
        row.group,
        row.cipher_suite,
        row.signature_scheme,
        f"{row.handshake_ms:.1f} ms" if row.ok else "FAILED",
    )


def _print_plain_table(rows: list[DemoRow]) -> None:
    table = [_COLUMNS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


def _print_rich_table(rows: list[DemoRow]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="mTLS over loopback, tlskit server and client on the same provider",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,  # one space between columns: the table fits 80 columns
    )
    for column in _COLUMNS:
        # algorithm names are never cut; a composed provider's name breaks at its commas
        table.add_column(
            column,
            justify="right" if column == "handshake" else "left",
            no_wrap=column != "provider",
            min_width=18 if column == "provider" else None,
        )
    for row in rows:
        cells = list(_cells(row))
        cells[0] = cells[0].replace(",", ",\n")
        if not row.ok:
            cells[-1] = "[red]FAILED[/red]"
        table.add_row(*cells)
    Console().print(table)


def demo(
    keep: Optional[Path] = typer.Option(
        None, "--keep", help="Create the CA in this (new or empty) directory and keep it; default: a throwaway CA in memory."
    ),
    trace: bool = trace_option(),
    trace_format: TraceFormat = trace_format_option(),
    trace_diagram: Optional[Path] = trace_diagram_option(),
) -> None:
    """Show tlskit working: a throwaway CA, then an mTLS handshake and "Hello, world!"
    over loopback with every crypto provider (and one composed provider).

    --trace / --trace-diagram: after the table, one more handshake (the first provider)
    traced on both ends, client and server."""
    from tlskit.ca import CAError

    interactive = sys.stdout.isatty()
    try:
        if interactive:
            certs, rows = _run_with_progress(keep)
        else:
            typer.echo(f"CA: {keep if keep is not None else 'in memory (throwaway)'}, {KEY_TYPE} keys (fine for tlskit, OpenSSL and Python; browsers reject Ed25519)")
            certs, rows = run_demo(keep, progress=lambda name: typer.echo(f"handshake: {name}"))
    except CAError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if interactive:
        _print_rich_table(rows)
    else:
        _print_plain_table(rows)
    for row in rows:
        if not row.ok:
            typer.echo(f"error: {row.provider}: {row.error}", err=True)
    if keep is not None:
        typer.echo(f"kept the CA in {keep}; trust {certs.root} to use its certificates")
    if not all(row.ok for row in rows):
        raise typer.Exit(1)
    typer.echo(f'{len(rows)} providers: mTLS handshake and "Hello, world!" echoed over loopback')
    tracing = cli_trace(trace, trace_format, trace_diagram, title="tlskit demo: an mTLS handshake")
    if tracing is not None:
        provider = demo_providers()[0]
        traced = run_one(provider, certs, trace=tracing.log)
        tracing.write_diagram(client_label="tlskit client", server_label="tlskit server")
        if not traced.ok:
            typer.echo(f"error: traced handshake ({provider.name}): {traced.error}", err=True)
            raise typer.Exit(1)
        if trace_diagram is not None:
            typer.echo(f"diagram of the {provider.name} handshake: {trace_diagram}")


def _run_with_progress(directory: Optional[Path]) -> tuple[DemoCertificates, list[DemoRow]]:
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as progress:
        task = progress.add_task("creating a throwaway CA and certificates", total=None)

        def step(name: str) -> None:
            progress.update(task, description=f"handshake with {name}")

        return run_demo(directory, progress=step)
