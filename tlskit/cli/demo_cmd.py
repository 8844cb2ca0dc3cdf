"""``tlskit demo``: tlskit end to end on loopback, with no setup.

Creates a throwaway CA, issues a server and a client certificate, and for every
available provider (and one provider composed from parts of several) starts a
tlskit server, performs an mTLS handshake with a tlskit client using that
provider on both sides, exchanges "Hello, world!" and reports what was
negotiated and how long the handshake took.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer

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


@dataclass
class DemoCertificates:
    ca_dir: Path
    root: Path
    server_chain: Path
    server_key: Path
    client_chain: Path
    client_key: Path


def make_certificates(directory: Path) -> DemoCertificates:
    """A CA in ``directory`` with a server (localhost) and a client certificate."""
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


def run_one(provider: Any, certs: DemoCertificates) -> DemoRow:
    """One mTLS handshake and echo, tlskit server and client both using ``provider``."""
    from tlskit.io import connect, serve

    row = DemoRow(provider.name)

    def echo(stream: Any) -> None:
        while data := stream.recv():
            stream.sendall(data)

    try:
        with serve(
            "127.0.0.1",
            0,
            certfile=str(certs.server_chain),
            keyfile=str(certs.server_key),
            client_cafile=str(certs.root),
            require_client_auth=True,
            provider=provider,
            handshake_timeout=TIMEOUT,
            timeout=TIMEOUT,
            keylog_from_env=False,
        ) as server:
            server.serve_in_background(echo, on_error=lambda address, exc: None)
            host, port = server.address
            client_options = dict(
                server_name="localhost",
                timeout=TIMEOUT,
                cafile=str(certs.root),
                certfile=str(certs.client_chain),
                keyfile=str(certs.client_key),
                provider=provider,
                keylog_from_env=False,
            )
            # A first connection warms up lazy imports and caches, so the
            # reported time is the handshake's and not Python's start-up.
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
    directory: Path, progress: Optional[Callable[[str], None]] = None
) -> tuple[DemoCertificates, list[DemoRow]]:
    """The whole demo in ``directory`` (which must not hold a CA yet)."""
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


@contextlib.contextmanager
def _ca_directory(keep: Optional[Path]) -> Iterator[Path]:
    if keep is not None:
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="tlskit-demo-") as temporary:
        yield Path(temporary) / "ca"


def demo(
    keep: Optional[Path] = typer.Option(
        None, "--keep", help="Create the CA in this (new or empty) directory and keep it; default: a temporary one."
    ),
) -> None:
    """Show tlskit working: a throwaway CA, then an mTLS handshake and "Hello, world!"
    over loopback with every crypto provider (and one composed provider)."""
    from tlskit.ca import CAError

    interactive = sys.stdout.isatty()
    with _ca_directory(keep) as directory:
        try:
            if interactive:
                certs, rows = _run_with_progress(directory)
            else:
                typer.echo(f"CA: {directory}{'' if keep else ' (temporary)'}, {KEY_TYPE} keys")
                certs, rows = run_demo(directory, progress=lambda name: typer.echo(f"handshake: {name}"))
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


def _run_with_progress(directory: Path) -> tuple[DemoCertificates, list[DemoRow]]:
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as progress:
        task = progress.add_task("creating a throwaway CA and certificates", total=None)

        def step(name: str) -> None:
            progress.update(task, description=f"handshake with {name}")

        return run_demo(directory, progress=step)
