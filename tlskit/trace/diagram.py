"""The handshake as a ladder diagram (SVG, or an HTML page around it).

Client on the left, server on the right, one arrow per handshake message (and alert) in
time order, the message name above the arrow and its key fields under it, the time on
the left. A dashed line marks where encryption starts; a padlock on a column marks each
key change of that side; HelloRetryRequest is drawn in amber with its reason and alerts
in red. Each message is drawn once: when both sides were traced (``tlskit demo``) from
the sender's records, when only one side was traced from that side's records.

The SVG is self-contained (no scripts, no external fonts), so it renders the same in a
browser, an image viewer or a README.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from tlskit.engine.trace import Alert, Check, HandshakeMessage, HelloRetry, KeyScheduleStep, KeysInUse, Negotiated, StateChange
from tlskit.trace.log import TraceEntry
from tlskit.trace.summary import display_name, message_summary, record_summary

WIDTH = 1100
CLIENT_X = 330
SERVER_X = 770
MID_X = (CLIENT_X + SERVER_X) // 2
TOP = 96
#: characters of key-schedule text per line beside a column
_SCHEDULE_LINE = 46
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
COLORS = {
    "client": "#1f5fa8",
    "server": "#2f7d32",
    "hrr": "#c77700",
    "alert": "#c62828",
    "keys": "#7b1fa2",
    "schedule": "#8e5ea2",
    "state": "#607d8b",
    "time": "#555555",
}


@dataclass
class _Row:
    kind: str  # "arrow", "keys", "encryption", "schedule", "state", "note", "negotiated"
    t: float
    side: str
    title: str = ""
    detail: str = ""
    sender: str = ""
    color: str = ""
    protected: bool = False
    height: int = 0


def _arrow_sender(record: HandshakeMessage | Alert) -> str:
    if record.direction == "sent":
        return record.side
    return "server" if record.side == "client" else "client"


def _rows(entries: Sequence[TraceEntry]) -> list[_Row]:
    traced = {e.record.side for e in entries}
    rows: list[_Row] = []
    hrr_reason: str | None = None
    for e in entries:
        if isinstance(e.record, HelloRetry):
            hrr_reason = e.record.reason
    encryption_marked = False
    for e in entries:
        r = e.record
        if isinstance(r, (HandshakeMessage, Alert)):
            sender = _arrow_sender(r)
            # draw each message once: from the sender's record if the sender was traced
            if r.direction == "received" and sender in traced:
                continue
            if isinstance(r, HandshakeMessage):
                color = COLORS[sender]
                detail = message_summary(r.name, r.fields)
                title = display_name(r.name)
                if r.name == "hello_retry_request":
                    color = COLORS["hrr"]
                    if hrr_reason:
                        detail = f"{hrr_reason}; {detail}"
                rows.append(_Row("arrow", e.t, r.side, f"{title}  ({r.length} B)", detail, sender, color, r.protected, 52))
            else:
                title = f"Alert: {r.level} {r.description}"
                # closure alerts (RFC 8446 6.1) end a connection normally: grey, not red
                color = COLORS["state"] if r.description in ("close_notify", "user_canceled") else COLORS["alert"]
                rows.append(_Row("arrow", e.t, r.side, title, r.reason or "", sender, color, False, 52))
        elif isinstance(r, KeysInUse):
            if r.direction == "write" and not encryption_marked:
                encryption_marked = True
                rows.append(_Row("encryption", e.t, r.side, f"encrypted from here ({r.epoch} keys, {r.cipher_suite})", height=26))
            rows.append(_Row("keys", e.t, r.side, f"{r.direction}: {r.epoch} keys", color=COLORS["keys"], height=24))
        elif isinstance(r, KeyScheduleStep):
            # consecutive steps of one side share a row, wrapped to the column's width
            name = r.secret.replace("_secret", "").replace("_traffic", " traffic")
            if rows and rows[-1].kind == "schedule" and rows[-1].side == r.side:
                last = rows[-1]
                lines = last.detail.split("\n")
                if len(lines[-1]) + len(name) + 2 > _SCHEDULE_LINE:
                    last.detail += f",\n{name}"
                    last.height += 13
                else:
                    last.detail += f", {name}"
            else:
                rows.append(_Row("schedule", e.t, r.side, "key schedule:", name, color=COLORS["schedule"], height=30))
        elif isinstance(r, StateChange):
            rows.append(_Row("state", e.t, r.side, r.new, color=COLORS["state"], height=16))
        elif isinstance(r, Check) and not r.ok:
            rows.append(_Row("note", e.t, r.side, record_summary(r), color=COLORS["alert"], height=20))
        elif isinstance(r, Negotiated):
            rows.append(_Row("negotiated", e.t, r.side, f"{r.side}: {record_summary(r)}", height=24))
    return rows


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _lock(x: float, y: float, color: str) -> str:
    """A small padlock drawn with primitives (no emoji font needed)."""
    return (
        f'<g class="lock"><path d="M{x - 4:.1f} {y - 2:.1f} v-3 a4 4 0 0 1 8 0 v3" fill="none" stroke="{color}" stroke-width="1.6"/>'
        f'<rect x="{x - 6:.1f}" y="{y - 2:.1f}" width="12" height="9" rx="1.5" fill="{color}"/></g>'
    )


def one_connection(entries: Iterable[TraceEntry], conn: int | None = None) -> list[TraceEntry]:
    """The entries of one handshake: connection ``conn``, or by default the last connection
    traced on each side (a server's log holding many connections draws the latest; a
    log of both ends of one handshake, as ``tlskit demo`` makes, draws both)."""
    entries = list(entries)
    if conn is not None:
        return [e for e in entries if e.record.conn == conn]
    last = {e.record.side: e.record.conn for e in entries}
    return [e for e in entries if last[e.record.side] == e.record.conn]


def render_svg(
    entries: Iterable[TraceEntry],
    *,
    title: str = "TLS handshake",
    client_label: str = "Client",
    server_label: str = "Server",
    conn: int | None = None,
) -> str:
    """The ladder diagram of one connection of a trace (default: the last) as an SVG document."""
    entries = one_connection(entries, conn)
    rows = _rows(entries)
    height = TOP + sum(row.height for row in rows) + 40
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'font-family="{FONT}" font-size="13">',
        f"<title>{_esc(title)}</title>",
        "<defs>",
    ]
    for name, color in COLORS.items():
        out.append(
            f'<marker id="head-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
        )
    out.append("</defs>")
    out.append(f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>')
    out.append(f'<text x="{WIDTH // 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">{_esc(title)}</text>')
    for x, label, color in ((CLIENT_X, client_label, COLORS["client"]), (SERVER_X, server_label, COLORS["server"])):
        out.append(f'<rect x="{x - 70}" y="38" width="140" height="30" rx="6" fill="{color}"/>')
        out.append(f'<text x="{x}" y="58" text-anchor="middle" fill="#ffffff" font-weight="bold">{_esc(label)}</text>')
        out.append(f'<line x1="{x}" y1="68" x2="{x}" y2="{height - 20}" stroke="#9e9e9e" stroke-width="2"/>')
    out.append(f'<text x="12" y="58" fill="{COLORS["time"]}" font-size="11">time</text>')

    y = TOP
    for row in rows:
        if row.kind == "arrow":
            start, end = (CLIENT_X, SERVER_X) if row.sender == "client" else (SERVER_X, CLIENT_X)
            arrow_y = y + 26
            marker = {COLORS["hrr"]: "hrr", COLORS["alert"]: "alert", COLORS["server"]: "server", COLORS["state"]: "state"}.get(
                row.color, "client"
            )
            tip = end - 4 if end > start else end + 4
            dash = ' stroke-dasharray="7 4"' if row.title.startswith("Alert:") else ""
            out.append(f'<g class="message" data-sender="{row.sender}">')
            out.append(
                f'<line x1="{start}" y1="{arrow_y}" x2="{tip}" y2="{arrow_y}" stroke="{row.color}" stroke-width="2.2"{dash} marker-end="url(#head-{marker})"/>'
            )
            out.append(f'<text x="{MID_X}" y="{arrow_y - 7}" text-anchor="middle" font-weight="bold" fill="{row.color}">{_esc(row.title)}</text>')
            if row.detail:
                out.append(
                    f'<text x="{MID_X}" y="{arrow_y + 16}" text-anchor="middle" font-size="11" fill="#333333">{_esc(_clip(row.detail, 100))}</text>'
                )
            if row.protected:
                out.append(_lock(start + (14 if end > start else -14), arrow_y - 8, COLORS["keys"]))
            out.append(f'<text x="12" y="{arrow_y + 4}" font-family="{MONO}" font-size="11" fill="{COLORS["time"]}">{row.t * 1000:8.2f} ms</text>')
            out.append("</g>")
        elif row.kind == "encryption":
            line_y = y + 14
            out.append(f'<line x1="{CLIENT_X - 80}" y1="{line_y}" x2="{SERVER_X + 80}" y2="{line_y}" stroke="{COLORS["keys"]}" stroke-width="1.4" stroke-dasharray="4 4"/>')
            out.append(f'<text x="{MID_X}" y="{line_y - 4}" text-anchor="middle" font-size="11" font-style="italic" fill="{COLORS["keys"]}">{_esc(row.title)}</text>')
        elif row.kind == "keys":
            x = CLIENT_X if row.side == "client" else SERVER_X
            out.append(_lock(x, y + 12, COLORS["keys"]))
            anchor, tx = ("end", x - 12) if row.side == "client" else ("start", x + 12)
            out.append(f'<text x="{tx}" y="{y + 16}" text-anchor="{anchor}" font-size="11" fill="{COLORS["keys"]}">{_esc(row.title)}</text>')
        elif row.kind == "schedule":
            x = CLIENT_X if row.side == "client" else SERVER_X
            anchor, tx = ("end", x - 10) if row.side == "client" else ("start", x + 10)
            out.append(f'<text x="{tx}" y="{y + 12}" text-anchor="{anchor}" font-size="10" font-weight="bold" fill="{row.color}" class="schedule">{_esc(row.title)}</text>')
            for index, line in enumerate(row.detail.split("\n")):
                out.append(f'<text x="{tx}" y="{y + 25 + 13 * index}" text-anchor="{anchor}" font-size="10" fill="{row.color}" class="schedule">{_esc(line)}</text>')
        elif row.kind in ("state", "note"):
            x = CLIENT_X if row.side == "client" else SERVER_X
            anchor, tx = ("end", x - 10) if row.side == "client" else ("start", x + 10)
            text = f"{row.title} {row.detail}".strip() if row.kind != "state" else f"\u2192 {row.title}"
            size = 10 if row.kind != "note" else 11
            clipped = _clip(text, 48 if row.kind != "note" else 80)
            if row.kind == "note":
                anchor, tx = "middle", MID_X
            out.append(f'<text x="{tx}" y="{y + 12}" text-anchor="{anchor}" font-size="{size}" fill="{row.color}" class="{row.kind}">{_esc(clipped)}</text>')
        elif row.kind == "negotiated":
            out.append(f'<text x="{MID_X}" y="{y + 16}" text-anchor="middle" font-size="12" font-weight="bold" fill="#2e7d32">{_esc(_clip(row.title, 120))}</text>')
        y += row.height
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_html(
    entries: Iterable[TraceEntry],
    *,
    title: str = "TLS handshake",
    client_label: str = "Client",
    server_label: str = "Server",
    conn: int | None = None,
) -> str:
    """An HTML page: the diagram, then every record with its decoded fields."""
    from tlskit.trace.text import entry_lines

    entries = one_connection(entries, conn)
    svg = render_svg(entries, title=title, client_label=client_label, server_label=server_label)
    items = []
    for entry in entries:
        lines = entry_lines(entry, details=True, records=True)
        head = _esc(lines[0][1])
        if len(lines) > 1:
            body = _esc("\n".join(text.strip() for _, text in lines[1:]))
            items.append(f"<details><summary><code>{head}</code></summary><pre>{body}</pre></details>")
        else:
            items.append(f"<div><code>{head}</code></div>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_esc(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1060px}"
        "code,pre{font-size:12px}pre{background:#f6f6f6;padding:.5em;margin:.2em 0 .6em 2em}"
        "details summary{cursor:pointer}</style></head><body>"
        f"<h1>{_esc(title)}</h1>\n{svg}<h2>Every step</h2>\n" + "\n".join(items) + "\n</body></html>\n"
    )


def write_diagram(path: "str | os.PathLike[str]", entries: Iterable[TraceEntry], **options: Any) -> None:
    """Write the diagram to ``path``: HTML if it ends in .html/.htm, SVG otherwise
    (``options``: title, client_label, server_label, conn). Written to a temporary file
    then renamed, so a viewer never sees half a diagram."""
    entries = list(entries)
    lowered = os.fspath(path).lower()
    text = render_html(entries, **options) if lowered.endswith((".html", ".htm")) else render_svg(entries, **options)
    target = os.fspath(path)
    partial = f"{target}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, target)


__all__ = ["one_connection", "render_html", "render_svg", "write_diagram"]
