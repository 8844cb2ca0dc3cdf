"""``--trace``, ``--trace-format`` and ``--trace-diagram``, shared by connect, serve and demo.

The trace goes to standard error (so standard output stays the command's own output):
readable text, coloured when stderr is a terminal, or one JSON object per line
(``--trace-format json``, schema in tlskit/trace/schema.json). ``--trace-diagram F.svg``
(or ``.html``) draws the handshake as a ladder diagram; it records the trace even
without ``--trace``.
"""

from __future__ import annotations

import enum
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import typer


class TraceFormat(str, enum.Enum):
    text = "text"
    json = "json"


def trace_option() -> Any:
    return typer.Option(False, "--trace", help="Print every handshake step (messages, keys, alerts) to stderr as it happens.")


def trace_format_option() -> Any:
    return typer.Option(TraceFormat.text, "--trace-format", help="text: readable (coloured on a terminal); json: one JSON object per line.")


def trace_diagram_option() -> Any:
    return typer.Option(
        None, "--trace-diagram", metavar="FILE.svg|FILE.html", help="Draw the handshake as a ladder diagram (SVG, or an HTML page with every step)."
    )


class CliTrace:
    """The trace callable a command hands to its config, and the diagram writer."""

    def __init__(self, enabled: bool, fmt: TraceFormat, diagram: Optional[Path], *, title: str) -> None:
        from tlskit.trace import JsonLinesWriter, TextWriter, TraceLog

        if diagram is not None and diagram.suffix.lower() not in (".svg", ".html", ".htm"):
            raise typer.BadParameter("the diagram file must end in .svg or .html", param_hint="--trace-diagram")
        sinks: list[Any] = []
        if enabled:
            sinks.append(JsonLinesWriter(sys.stderr) if fmt is TraceFormat.json else TextWriter())
        self.diagram = diagram
        self.title = title
        # a server runs for long: keep enough for the last handshakes, not everything
        self.log = TraceLog(*sinks, keep=diagram is not None, max_entries=20000)
        self._lock = threading.Lock()  # a server's connections end in several threads

    def write_diagram(self, conn: Optional[int] = None, **labels: str) -> None:
        """Draw connection ``conn`` (default: the last one traced); an I/O error is reported, not raised."""
        if self.diagram is None or not self.log.entries:
            return
        from tlskit.trace import write_diagram

        try:
            with self._lock:
                write_diagram(self.diagram, list(self.log.entries), title=self.title, conn=conn, **labels)
        except OSError as exc:
            typer.echo(f"error: cannot write the diagram {self.diagram}: {exc.strerror or exc}", err=True)


    def write_diagram_at_exit(self, ctx: typer.Context, **labels: str) -> None:
        """Draw the diagram when the command ends, however it ends (the command's context
        is closed on success, on typer.Exit and on errors alike)."""
        if self.diagram is not None:
            ctx.call_on_close(lambda: self.write_diagram(**labels))


def cli_trace(enabled: bool, fmt: TraceFormat, diagram: Optional[Path], *, title: str) -> Optional[CliTrace]:
    """A CliTrace when either option asks for one, else None (no tracing at all)."""
    if not enabled and diagram is None:
        return None
    return CliTrace(enabled, fmt, diagram, title=title)
