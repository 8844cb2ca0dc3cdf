"""``tlskit providers [--json]``: what each crypto backend offers, and which
library version is behind it."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from tlskit.providers import Provider, backend_names, get_provider
from tlskit.providers.names import CERTIFICATE_ONLY_SCHEMES
from tlskit.providers.registry import UnknownProvider


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
    rows = []
    for name in backend_names():
        try:
            rows.append(describe(get_provider(name)))
        except UnknownProvider as exc:
            rows.append({"name": name, "available": False, "error": str(exc)})
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
