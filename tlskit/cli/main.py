"""The ``tlskit`` command: a thin typer layer over the library.

Each command group lives in its own module and registers itself here.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn, Optional

import typer

app = typer.Typer(
    name="tlskit",
    help="TLS 1.3 toolkit with pluggable crypto providers and a bundled mini-CA.",
    no_args_is_help=True,
    add_completion=False,
    # Older typer releases (>=0.12 is allowed) show local variables in tracebacks by
    # default: passphrases and key bytes would reach the terminal.
    pretty_exceptions_show_locals=False,
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


from tlskit.cli.providers_cmd import app as providers_app  # noqa: E402 - registration after the app exists

app.add_typer(providers_app, name="providers")


from tlskit.cli import net_cmd  # noqa: E402 - registration after the app exists

app.command("serve")(net_cmd.serve)
app.command("connect")(net_cmd.connect)


from tlskit.cli.demo_cmd import demo  # noqa: E402 - registration after the app exists

app.command("demo")(demo)


#: set to get a full traceback instead of the one-line "internal error" report
DEBUG_ENV = "TLSKIT_DEBUG"


def _error(message: str, code: int) -> "NoReturn":
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Warnings as one ``warning: ...`` line, like the errors (not Python's file:line form)."""
    stream = file if file is not None else sys.stderr
    try:
        stream.write(f"warning: {' '.join(str(message).split())}\n")
    except (OSError, ValueError):
        pass


def main(argv: Optional[list[str]] = None) -> None:
    """The console script: every error is one ``error: ...`` line on stderr and a
    non-zero exit, usage mistakes included (typer would draw a multi-line box)."""
    import warnings

    warnings.showwarning = _show_warning
    try:
        result = app(args=argv, prog_name="tlskit", standalone_mode=False)
    except typer.Abort:
        _error("aborted", 1)
    except BrokenPipeError:
        # the reader went away (`tlskit ca list | head`): not worth a message
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        raise SystemExit(1) from None
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `tlskit` / `tlskit ca` alone: show the help
            exc.show()  # type: ignore[attr-defined]
            raise SystemExit(2) from None
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click usage errors
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f" (see: {ctx.command_path} --help)"
            _error(f"{exc.format_message()}{hint}", int(exc.exit_code))
        if os.environ.get(DEBUG_ENV):
            raise
        # A bug, not a user mistake: no traceback (it could show secrets), one line saying so.
        _error(f"internal error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)", 1)
    raise SystemExit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
