"""``tlskit providers [--json]``: what each crypto provider offers (built-in backends and
third-party ones from the ``tlskit.providers`` entry-point group), and which library
version is behind it; ``tlskit providers check NAME|MODULE:ATTR``: the conformance kit
of :mod:`tlskit.providers.testing`, printed as a pass/fail table; ``tlskit providers rank``:
time every primitive of every built-in backend and show what ``provider="fastest"`` takes
from which (``--save`` makes it the ranking in use, ``--show`` only shows the one in use)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from tlskit.providers import Provider, backend_names, get_provider
from tlskit.providers.names import CERTIFICATE_ONLY_SCHEMES
from tlskit.providers.registry import UnknownProvider, third_party_providers

app = typer.Typer(help="Crypto providers: list them, or check one with the conformance kit.")


def describe(provider: Provider) -> dict[str, Any]:
    """A JSON-able summary of one provider."""
    suite_aeads = {s.aead.name for s in provider.cipher_suites.values()}
    return {
        "name": provider.name,
        "available": True,
        "versions": dict(provider.versions),
        "cipher_suites": list(provider.cipher_suites),
        "groups": list(provider.groups),
        "signature_schemes": list(provider.signature_schemes),
        "certificate_only_schemes": [s for s in provider.signature_schemes if s in CERTIFICATE_ONLY_SCHEMES],
        # AEADs usable through compose() although the backend cannot form a suite alone
        "extra_aeads": [a for a in provider.aead_algorithms if a not in suite_aeads],
    }


def collect() -> list[dict[str, Any]]:
    """The built-in backends, then each third-party entry point (a broken one is a row
    marked unavailable with its error, never a crash)."""
    rows = []
    third_party = third_party_providers()
    for name in list(backend_names()) + list(third_party):
        try:
            row = describe(get_provider(name))
        except UnknownProvider as exc:
            row = {"name": name, "available": False, "error": str(exc)}
        if name in third_party:
            row["entry_point"] = third_party[name]
            row["name"] = name  # the registered name, whatever the object calls itself
        rows.append(row)
    return rows


def _schemes_text(row: dict[str, Any], mark: str = " (cert only)") -> str:
    cert_only = set(row["certificate_only_schemes"])
    return ", ".join(f"{s}{mark}" if s in cert_only else s for s in row["signature_schemes"])


def _print_plain(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if not row["available"]:
            typer.echo(f"{row['name']}: unavailable ({row['error']})")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in row["versions"].items())
        typer.echo(f"{row['name']} ({versions})")
        typer.echo(f"  groups:            {', '.join(row['groups'])}")
        typer.echo(f"  cipher suites:     {', '.join(row['cipher_suites'])}")
        typer.echo(f"  signature schemes: {_schemes_text(row)}")
        if row["extra_aeads"]:
            typer.echo(f"  extra AEADs (for compose): {', '.join(row['extra_aeads'])}")


def _print_rich(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="tlskit crypto providers",
        caption="* certificate signatures only (never CertificateVerify)",
        show_lines=True,
    )
    for column in ("provider", "library", "groups", "cipher suites", "signature schemes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if not row["available"]:
            table.add_row(row["name"], "unavailable", row["error"], "", "")
            continue
        suites = "\n".join(row["cipher_suites"])
        if row["extra_aeads"]:
            suites += "\n[dim](+ " + ", ".join(row["extra_aeads"]) + " for compose)[/dim]"
        table.add_row(
            row["name"],
            "\n".join(f"{k} {v}" for k, v in row["versions"].items()),
            "\n".join(row["groups"]),
            suites,
            _schemes_text(row, mark="*").replace(", ", "\n"),
        )
    Console().print(table)


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show each crypto provider's groups, cipher suites and signature schemes."""
    if ctx.invoked_subcommand is None:
        providers(as_json=as_json)


@app.command("check")
def check(
    provider: str = typer.Argument(..., help="A provider name (built-in, composed or entry point) or MODULE:ATTR."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    vectors: bool = typer.Option(True, "--vectors/--no-vectors", help="Run the Wycheproof vectors."),
    handshakes: bool = typer.Option(True, "--handshakes/--no-handshakes", help="Run loopback handshakes against the built-ins."),
) -> None:
    """Run the conformance kit (Wycheproof vectors, peer-input validation, loopback
    handshakes) against a provider; exits 1 if any check fails, 2 if it cannot be loaded."""
    from tlskit.providers import testing

    try:
        loaded = testing.load(provider)
    except UnknownProvider as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = testing.Report(loaded.name)
    if vectors:
        report.results += testing.check_vectors(loaded)
    report.results += testing.check_peer_input(loaded)
    if handshakes:
        report.results += testing.check_handshakes(loaded)
    typer.echo(report.to_json() if as_json else report.table())
    if not report.ok:
        raise typer.Exit(1)


def _format_us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def _composition_lines(choices: dict[str, str]) -> list[str]:
    by_backend: dict[str, list[str]] = {}
    for primitive, backend in choices.items():
        by_backend.setdefault(backend, []).append(primitive)
    return [f"  {backend}: {', '.join(items)}" for backend, items in by_backend.items()]


@app.command("rank")
def rank(
    save: bool = typer.Option(False, "--save", help="Save the ranking: provider=\"fastest\" uses it from then on."),
    show: bool = typer.Option(False, "--show", help="Do not measure: show the composition in use and where it comes from."),
    reps: int = typer.Option(3, "--reps", min=1, max=50, help="Interleaved repetitions per primitive (median)."),
    as_json: bool = typer.Option(False, "--json", help="Print the measurements and choices as JSON."),
) -> None:
    """Measure each primitive of each built-in backend (about two seconds), print the ranking
    per primitive and the composition provider="fastest" would take from it."""
    from tlskit.providers import fastest
    from tlskit.providers.registry import builtin_providers

    if show and save:
        typer.echo("error: --show does not measure, so there is nothing to --save", err=True)
        raise typer.Exit(2)
    if show:
        current = fastest.fastest_provider(builtin_providers())
        if as_json:
            typer.echo(json.dumps({"source": current.source, "choices": dict(current.choices)}, indent=2))
            return
        typer.echo(f"provider \"fastest\": {current.source}")
        typer.echo("\n".join(_composition_lines(dict(current.choices))))
        return
    from tlskit.providers.measure import measure

    providers = builtin_providers()
    result = measure(providers, reps=reps)
    choices = fastest.choose(result.measurements, providers)
    saved = None
    if save:
        try:
            saved = str(fastest.save_ranking(result.measurements, fastest.machine_key(providers)))
        except OSError as exc:
            typer.echo(f"error: cannot save the ranking to {fastest.ranking_path()}: {exc.strerror or exc}", err=True)
            raise typer.Exit(1) from None
    if as_json:
        document = {"elapsed_s": result.elapsed, "reps": result.reps, "measurements_s": result.measurements,
                    "errors": result.errors, "choices": choices, "saved": saved}  # fmt: skip
        typer.echo(json.dumps(document, indent=2))
        return
    typer.echo(f"time per operation, fastest first (median of {result.reps} interleaved repetitions; {result.elapsed:.1f} s)")
    for primitive, times in result.measurements.items():
        ordered = sorted(times.items(), key=lambda item: item[1])
        best = ordered[0][1]
        cells = [f"{b} {_format_us(t)}" + (f" ({t / best:.2f}×)" if i else "") for i, (b, t) in enumerate(ordered)]
        note = "" if choices[primitive] == ordered[0][0] else f" (within {fastest.MARGIN:.0%} of the fastest: kept)"
        typer.echo(f"  {primitive:32} -> {choices[primitive]}{note}: {' | '.join(cells)}")
    for primitive, failures in result.errors.items():
        for backend, why in failures.items():
            typer.echo(f"  {primitive:32} {backend} not measured: {why}")
    typer.echo("composition (provider=\"fastest\"):")
    typer.echo("\n".join(_composition_lines(choices)))
    if saved:
        typer.echo(f"saved to {saved}: provider=\"fastest\" uses this ranking from now on")
    else:
        typer.echo(f"not saved (provider=\"fastest\" uses: {fastest.read_ranking(providers).source}); --save to use this one")


def providers(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show each crypto provider's groups, cipher suites and signature schemes."""
    rows = collect()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif sys.stdout.isatty():
        _print_rich(rows)
    else:
        _print_plain(rows)
