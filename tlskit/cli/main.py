"""The ``tlskit`` command: a thin typer layer over the library.

Each command group lives in its own module and registers itself here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tlskit",
    help="TLS 1.3 toolkit with pluggable crypto providers and a bundled mini-CA.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the tlskit version."""
    from tlskit import __version__

    typer.echo(__version__)


from tlskit.cli.bench_cmd import bench  # noqa: E402 - registration after the app exists

app.command("bench")(bench)


from tlskit.cli import ca_cmd  # noqa: E402 - registration after the app exists

app.add_typer(ca_cmd.app, name="ca")


from tlskit.cli.providers_cmd import providers  # noqa: E402 - registration after the app exists

app.command("providers")(providers)


from tlskit.cli import net_cmd  # noqa: E402 - registration after the app exists

app.command("serve")(net_cmd.serve)
app.command("connect")(net_cmd.connect)


from tlskit.cli.demo_cmd import demo  # noqa: E402 - registration after the app exists

app.command("demo")(demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
