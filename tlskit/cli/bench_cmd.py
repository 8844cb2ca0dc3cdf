"""``tlskit bench``: tlskit against the stdlib ssl module (a thin layer over tlskit.bench)."""

from __future__ import annotations

import json
import pathlib
from typing import Optional

import typer

_PARTS_HELP = "Comma-separated parts to run: handshake, bulk, tcp, floor, memory, resumption, servers, idle (default: all)."


def _split(value: Optional[str]) -> Optional[list[str]]:
    return [item.strip() for item in value.split(",") if item.strip()] if value else None


def bench(
    providers: Optional[str] = typer.Option(None, "--providers", help="Comma-separated providers (default: all available)."),
    reps: int = typer.Option(5, "--reps", min=1, help="Repetitions per figure; the median is reported."),
    min_time: float = typer.Option(0.5, "--min-time", min=0.001, help="Seconds per repetition of a rate."),
    bulk_mib: float = typer.Option(64.0, "--bulk-mib", min=0.016, help="MiB sent per bulk repetition (16 KiB writes)."),
    tcp_bulk_mib: Optional[float] = typer.Option(None, "--tcp-bulk-mib", help="MiB per loopback bulk repetition (default: --bulk-mib)."),
    key_types: Optional[str] = typer.Option(None, "--key-types", help="Comma-separated leaf types: ecdsa-p256, ed25519, rsa-2048."),
    server_levels: str = typer.Option(
        "1,10,100,1000", "--server-levels", help="Concurrent clients for the servers part, comma-separated."
    ),
    idle_connections: int = typer.Option(
        10_000, "--idle-connections", min=1, help="Idle connections each asyncio server holds in the idle part."
    ),
    only: Optional[str] = typer.Option(None, "--only", help=_PARTS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
    output: Optional[pathlib.Path] = typer.Option(None, "--output", help="Also write the JSON report to this file."),
    markdown: Optional[pathlib.Path] = typer.Option(None, "--markdown", help="Also write the tables as Markdown."),
    plot: Optional[pathlib.Path] = typer.Option(None, "--plot", help="Draw handshakes/s and MB/s to this PNG (needs the 'plot' extra)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the workers' progress."),
    profile: Optional[str] = typer.Option(
        None, "--profile", help="Instead of measuring, cProfile tlskit 'handshake' or 'bulk' (first of --providers)."
    ),
) -> None:
    """Measure tlskit against the stdlib ssl module: handshakes/s, MB/s, cost floor, memory."""
    from tlskit.bench import report as render
    from tlskit.bench import runner
    from tlskit.bench.certs import KEY_TYPES
    from tlskit.providers.registry import FASTEST, available_providers

    def fail(message: str) -> None:
        typer.echo(f"error: {message}", err=True)  # the same one-line form as every other command
        raise typer.Exit(2)

    chosen = _split(providers)
    available = available_providers() + [FASTEST]  # "fastest": not in the default set, on request
    for name in chosen or []:
        if name not in available:
            fail(f"unknown or unavailable provider {name!r} (available: {', '.join(available)})")
    parts = _split(only) or list(runner.ALL_PARTS)
    for part in parts:
        if part not in runner.ALL_PARTS:
            fail(f"unknown part {part!r} (choose from {', '.join(runner.ALL_PARTS)})")
    kinds = _split(key_types) or list(KEY_TYPES)
    for kind in kinds:
        if kind not in KEY_TYPES:
            fail(f"unknown key type {kind!r} (choose from {', '.join(KEY_TYPES)})")
    try:
        levels = [int(level) for level in _split(server_levels) or []]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        fail(f"--server-levels takes positive integers, not {server_levels!r}")
    if profile is not None:
        from tlskit.bench import profiling

        if profile not in ("handshake", "bulk"):
            fail(f"--profile takes handshake or bulk, not {profile!r}")
        typer.echo(profiling.profile(profile, provider=(chosen or ["cryptography"])[0], key_type=kinds[0]))
        return
    if plot is not None:
        try:
            import matplotlib  # noqa: F401 - checked before a long run, not after it
        except ImportError:
            fail("--plot needs matplotlib, which is not installed; install it with: pip install 'tlskit[plot]'")

    options = runner.Options(
        providers=chosen,
        reps=reps,
        min_time=min_time,
        bulk_mib=bulk_mib,
        tcp_bulk_mib=tcp_bulk_mib,
        key_types=kinds,
        parts=parts,
        server_levels=levels,
        idle_connections=idle_connections,
        verbose=verbose,
    )
    progress = (lambda message: typer.echo(message, err=True)) if not as_json or verbose else (lambda message: None)
    try:
        result = runner.run(options, progress=progress)
    except RuntimeError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, indent=1))
    else:
        render.print_report(result)
    if output is not None:
        render.write_json(result, output)
    if markdown is not None:
        markdown.write_text(render.to_markdown(result))
    if plot is not None:
        try:
            render.plot(result, plot)
        except render.PlotUnavailable as exc:
            fail(str(exc))
