"""The readable account of a handshake: one line per record, details under messages.

Coloured through rich on a terminal, plain text when the stream is not a terminal (piped
or redirected): rich decides from the stream, ``color`` forces it either way.
"""

from __future__ import annotations

from typing import IO, Any, Iterable, Mapping

from rich.console import Console
from rich.markup import escape

from tlskit.engine.trace import Check, HandshakeMessage, RecordBoundary
from tlskit.trace.log import TraceEntry
from tlskit.trace.summary import certificate_line, display_name, extension_lines, record_summary

#: rich style per record kind
_STYLES = {
    "message": "bold",
    "record": "dim",
    "key_schedule": "magenta",
    "keys": "bold magenta",
    "hello_retry": "bold yellow",
    "check": "green",
    "alert": "bold red",
    "state": "cyan",
    "negotiated": "bold green",
}


def entry_lines(entry: TraceEntry, *, details: bool = True, records: bool = True) -> list[tuple[str, str]]:
    """(style, text) lines for one entry: the summary line, then indented details."""
    record = entry.record
    if isinstance(record, RecordBoundary) and not records:
        return []
    conn = f"#{record.conn} " if record.conn else ""
    head = f"{entry.t * 1000:9.3f} ms  {conn}{record.side:<6}  "
    style = _STYLES.get(record.kind, "")
    if isinstance(record, Check) and not record.ok:
        style = "bold red"
    if isinstance(record, HandshakeMessage):
        style = "bold blue" if record.direction == "sent" else "bold"
        if record.name == "hello_retry_request":
            style = "bold yellow"
    lines = [(style, head + record_summary(record))]
    if details and isinstance(record, HandshakeMessage):
        pad = " " * (len(head) + 4)
        for key, value in _scalar_fields(record.fields):
            lines.append(("", f"{pad}{key}: {value}"))
        for cert in record.fields.get("certificates") or ():
            if isinstance(cert, Mapping):
                lines.append(("", f"{pad}certificate: {certificate_line(cert)}"))
        for line in extension_lines(record.fields):
            lines.append(("dim" if "[GREASE]" in line else "", f"{pad}{line}"))
    return lines


def _scalar_fields(fields: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for key, value in fields.items():
        if key in ("extensions", "certificates"):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        yield key, str(value)


class TextWriter:
    """A sink printing entries as they arrive (to stderr by default, so stdout stays the data).

    ``details=False`` prints only the summary lines; ``records=False`` leaves out the
    record boundaries.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        color: bool | None = None,
        details: bool = True,
        records: bool = True,
        width: int | None = None,
    ) -> None:
        self.console = Console(
            file=stream,
            stderr=stream is None,
            force_terminal=color,
            no_color=(color is False),
            highlight=False,
            soft_wrap=True,
            width=width,
        )
        self.details = details
        self.records = records

    def __call__(self, entry: TraceEntry) -> None:
        for style, text in entry_lines(entry, details=self.details, records=self.records):
            self.console.print(f"[{style}]{escape(text)}[/]" if style else escape(text))


def render_text(entries: Iterable[TraceEntry], *, details: bool = True, records: bool = True) -> str:
    """The plain-text account of a whole trace."""
    out = []
    for entry in entries:
        out.extend(text for _, text in entry_lines(entry, details=details, records=records))
    return "\n".join(out) + "\n"


__all__ = ["TextWriter", "entry_lines", "render_text"]
