"""Rendering a benchmark report: rich tables, Markdown, JSON and an optional plot."""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any, Iterable

KIND_TITLES = {
    "handshake": "handshake, in memory",
    "bulk": "bulk, in memory",
    "tcp_handshake": "handshake, loopback TCP",
    "tcp_bulk": "bulk, loopback TCP",
    "resumption": "resumed handshake, in memory",
}
SUITE_SHORT = {
    "TLS_AES_128_GCM_SHA256": "AES-128-GCM",
    "TLS_AES_256_GCM_SHA384": "AES-256-GCM",
    "TLS_CHACHA20_POLY1305_SHA256": "ChaCha20-Poly1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "TLS 1.2 ECDHE-ECDSA-AES128-GCM",
}


class PlotUnavailable(RuntimeError):
    """--plot needs matplotlib, which is the optional ``plot`` extra."""


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(row: dict) -> str:
    r = row.get("ratio")
    if r is None:
        return ""
    reference = row.get("reference") or ""
    text = f"{r:.2f}x"
    if row.get("ratio_min") is not None and row["ratio_min"] != row["ratio_max"]:
        text += f" [{row['ratio_min']:.2f}-{row['ratio_max']:.2f}]"
    text += "" if reference == "ssl" else f" vs {reference}"
    if row.get("share_of_raw") is not None:
        if row["kind"] == "resumption":  # psk_ke against tlskit's own full handshake
            text += f" ({row['share_of_raw']:.2f}x tlskit full)"
        else:
            text += f" ({row['share_of_raw']:.0%} of {'floor' if row['kind'] == 'handshake' else 'raw'})"
    return text


def _case(row: dict) -> str:
    """The parameters shared by the sides of one scenario."""
    what = KIND_TITLES.get(row["kind"], row["kind"])
    suite = SUITE_SHORT.get(row["suite"], row["suite"])
    if row["kind"].endswith("handshake") or row["kind"] == "resumption":
        return f"{what} ({row['unit']}): {row['key_type']}, {suite}"
    return f"{what} ({row['unit']}): {suite}"


def _side(row: dict) -> str:
    # Sides whose certificate differs from the scenario's (bulk) say so.
    if row["stack"] == "raw":
        return f"{row['label']} (AEAD seal+open only)"
    if row["stack"] == "floor":
        return f"{row['label']} (public-key ops only)"
    if row["kind"] == "resumption":
        return f"{row['label']} (full handshake, tickets on)" if row["label"].startswith("full/") else row["label"]
    return row["label"] if row["kind"].endswith("handshake") else f"{row['label']} ({row['key_type']})"


def _errors(report: dict) -> list[str]:
    """Distinct error messages, so the table can refer to them by number."""
    seen: list[str] = []
    for row in [*report["results"], *report["floors"], *report["aead_floors"], *report["memory"]]:
        if "error" in row and row["error"] not in seen:
            seen.append(row["error"])
    return seen


def _error_cell(report: dict, message: str) -> str:
    return f"error [{_errors(report).index(message) + 1}]"


def throughput_rows(report: dict) -> list[list[str]]:
    """One line per measured side: the case (on its first side only), stack, median, range, ratio."""
    out, previous = [], None
    for row in report["results"]:
        case = _case(row)
        if "error" in row:
            median, spread = _error_cell(report, row["error"]), ""
        else:
            digits = 0 if row["unit"] == "handshakes/s" else 1
            median = _num(row["median"], digits)
            spread = f"{_num(row['min'], digits)}-{_num(row['max'], digits)}"
        out.append([case if case != previous else "", _side(row), median, spread, _ratio(row)])
        previous = case
    return out


THROUGHPUT_HEADER = ["case", "stack", "median", "range", "ratio"]


def floor_rows(report: dict) -> list[list[str]]:
    out = []
    for f in report["floors"]:
        if "error" in f:
            out.append([f["provider"], f["key_type"], f["group"], _error_cell(report, f["error"]), *[""] * 5])
            continue
        out.append(
            [
                f["provider"],
                f["key_type"],
                f["group"],
                _num(f["keyexchange_us"]),
                _num(f["sign_us"]),
                _num(f["verify_us"]),
                _num(f["cert_verify_us"]),
                _num(f["handshake_us"]),
            ]
        )
    return out


# No "share of tlskit" columns here: these are timed apart from the stacks, so under
# load they disagree with the interleaved floor/raw rows of the main table.
FLOOR_HEADER = ["provider", "certificate", "group", "kx us", "sign us", "verify us", "cert sig us (x2)", "sum us"]


def aead_rows(report: dict) -> list[list[str]]:
    out = []
    for f in report["aead_floors"]:
        if "error" in f:
            out.append([f["provider"], f["suite"], _error_cell(report, f["error"]), ""])
            continue
        out.append([f["provider"], f["aead"], _num(f["seal_open_us"], 1), _num(f["mb_per_s"])])
    return out


AEAD_HEADER = ["provider", "AEAD", "seal+open 16 KiB us", "raw MB/s"]


def memory_rows(report: dict) -> list[list[str]]:
    out = []
    for m in report["memory"]:
        if "error" in m:
            out.append([m["label"], m["key_type"], _error_cell(report, m["error"]), "", ""])
            continue
        out.append(
            [
                m["label"],
                m["key_type"],
                _num(m.get("client_bytes")) if "client_bytes" in m else "n/a (in OpenSSL)",
                _num(m.get("server_bytes")) if "server_bytes" in m else "n/a (in OpenSSL)",
                _num(m.get("rss_per_pair_bytes")),
            ]
        )
    return out


MEMORY_HEADER = ["stack", "certificate", "tracemalloc B/idle client", "tracemalloc B/idle server", "RSS B/idle pair"]


SERVERS_HEADER = ["server", "clients", "figure", "median [range]", "ratio", "handshake p50 / p99 ms", "failed conns"]


def servers_rows(report: dict) -> list[list[str]]:
    out = []
    for row in (report.get("servers") or {}).get("rows", []):
        digits = 1 if row["metric"] == "MB/s" else 0
        latency = ""
        if row.get("handshake_ms_p50") is not None:
            latency = f"{row['handshake_ms_p50']:.1f} / {row['handshake_ms_p99']:.1f}"
        out.append([
            row["impl"], str(row["concurrency"]), row["metric"],
            f"{_num(row['median'], digits)} [{_num(row['min'], digits)}-{_num(row['max'], digits)}]",
            _ratio(row), latency, str(row.get("failures", 0)),
        ])  # fmt: skip
    return out


IDLE_HEADER = [
    "server", "idle connections held", "RSS before MiB", "RSS held MiB", "per connection KB", "ratio",
    "RSS after closing MiB", "opening s", "failed",
]  # fmt: skip


def idle_rows(report: dict) -> list[list[str]]:
    out = []
    for row in (report.get("idle") or {}).get("rows", []):
        held = f"{row['connections']:,}"
        if row.get("capped_by"):
            held += f" of {row['requested']:,} ({row['capped_by']})"
        ratio = f"{row['ratio']:.2f}x of {row['reference']}" if row.get("ratio") is not None else ""
        mib = (lambda value: _num(value / (1 << 20), 1) if value is not None else "-")
        per = row.get("per_connection_bytes")
        out.append([
            row["impl"], held, mib(row["rss_before"]), mib(row["rss_held"]),
            _num(per / 1000, 1) if per is not None else "-", ratio, mib(row["rss_after_close"]),
            _num(row["open_seconds"], 1), str(row["failures"]),
        ])  # fmt: skip
    return out


def _sections(report: dict) -> Iterable[tuple[str, list[str], list[list[str]]]]:
    if report["results"]:
        yield (
            "tlskit vs stdlib ssl: medians; ratio = median [range] of per-repetition tlskit/ssl, interleaved in one process",
            THROUGHPUT_HEADER,
            throughput_rows(report),
        )
    if report["floors"]:
        yield "Public-key operations of one handshake, timed one by one (provider primitives alone)", FLOOR_HEADER, floor_rows(report)
    if report["aead_floors"]:
        yield "Record floor, timed on its own (raw AEAD seal+open, 16 KiB records)", AEAD_HEADER, aead_rows(report)
    if report["memory"]:
        yield "Memory per established idle connection", MEMORY_HEADER, memory_rows(report)
    if report.get("servers"):
        yield (
            "Servers under concurrency, loopback: echo servers, stdlib ssl asyncio clients in another process; "
            "ratio = median [range] of per-repetition ratios",
            SERVERS_HEADER,
            servers_rows(report),
        )
    if report.get("idle"):
        yield (
            "Idle connections held by an asyncio server: RSS of the server process (KB = 1000 bytes); "
            "clients hold bare sockets after their stdlib ssl handshake",
            IDLE_HEADER,
            idle_rows(report),
        )


def _footer(report: dict) -> list[str]:
    meta, rss = report["meta"], report["peak_rss_kib"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines = [
        f"peak RSS: workers {rss['workers'] / 1024:.0f} MiB, loopback servers {rss['loopback_servers'] / 1024:.0f} MiB, "
        f"runner {rss['runner'] / 1024:.0f} MiB",
        f"{meta['cpus']} CPUs, {meta['platform']}; {versions}",
        f"reps {meta['options']['reps']}, >= {meta['options']['min_time']} s per rate repetition, "
        f"bulk {meta['options']['bulk_mib']} MiB in {meta['record_size']}-byte writes; MB = 10^6 bytes",
    ]
    for number, message in enumerate(_errors(report), 1):
        lines.append(f"error [{number}]: {message}")
    for skip in report["skipped"]:
        lines.append(f"skipped {skip['kind']} {skip['label']} ({skip['key_type'] or '-'}, {SUITE_SHORT.get(skip['suite'], skip['suite'])}): {skip['reason']}")
    return lines


def print_report(report: dict, console: Any = None) -> None:
    """Print the report as rich tables."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if console is None:
        # Piped output defaults to 80 columns, which folds every name; a file can be wider.
        console = Console() if sys.stdout.isatty() else Console(width=150)
    for title, header, rows in _sections(report):
        # Text, not markup strings: "[0.62-0.68]" and "[1]" are data, not style tags.
        table = Table(title=Text(title), title_justify="left")
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i < 2 else "right", overflow="fold")
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
    for line in _footer(report):
        console.print(line, highlight=False, markup=False)


def to_markdown(report: dict) -> str:
    """The report as Markdown tables (for docs/performance.md and the README)."""
    parts = [f"Measured {report['meta']['date']} with `{report['meta']['command']}`.\n"]
    for title, header, rows in _sections(report):
        parts.append(f"**{title}**\n")
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "|".join("---" for _ in header) + "|")
        parts.extend("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows)
        parts.append("")
    parts.extend(f"- {line}" for line in _footer(report))
    return "\n".join(parts) + "\n"


def write_json(report: dict, path: pathlib.Path | None) -> str:
    text = json.dumps(report, indent=1)
    if path is not None:
        pathlib.Path(path).write_text(text + "\n")
    return text


def plot(report: dict, path: pathlib.Path) -> None:
    """Bar charts: handshakes/s and MB/s of each stack beside stdlib ssl."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed; install the extra: pip install 'tlskit[plot]'"
        ) from None
    if report.get("servers"):
        # rate against concurrency, in its own file (beside the main one unless that has nothing to show)
        target = path if not report["results"] else path.with_name(f"{path.stem}-servers{path.suffix}")
        _plot_servers(plt, report["servers"], target)
        if not report["results"]:
            return
    # The stacks only: floor and raw-AEAD sides are context for the table, and would
    # double the bars.
    measured = [r for r in report["results"] if "median" in r and r["stack"] in ("ssl", "tlskit")]
    panels = [(unit, [r for r in measured if r["unit"] == unit]) for unit in ("handshakes/s", "MB/s")]
    labels = sorted({r["label"] for r in measured}, key=lambda label: (label != "ssl", label))
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 9))
    for ax, (unit, rows) in zip(axes, panels):
        groups: dict[str, dict[str, float]] = {}
        for row in rows:
            groups.setdefault(_case(row).replace(f" ({unit})", "").replace(": ", "\n"), {})[row["label"]] = row["median"]
        present = [label for label in labels if any(label in g for g in groups.values())]
        width = 0.8 / max(len(present), 1)
        for i, label in enumerate(present):
            xs = [g + i * width for g, members in enumerate(groups.values()) if label in members]
            ys = [members[label] for members in groups.values() if label in members]
            ax.bar(xs, ys, width, label=label, color=colours[label])
        ax.set_xticks([g + width * (len(present) - 1) / 2 for g in range(len(groups))])
        ax.set_xticklabels(list(groups), fontsize=7)
        ax.set_ylabel(f"{unit} (log scale)")
        ax.set_yscale("log")
        if present:  # a panel with no measured rows (e.g. --only handshake) has nothing to label
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("tlskit vs stdlib ssl (medians)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_servers(plt: Any, servers: dict, path: pathlib.Path) -> None:
    """connections/s and MB/s against concurrent clients, one line per server (log-log)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, metric in zip(axes, ("connections/s", "MB/s")):
        for i, impl in enumerate(dict.fromkeys(r["impl"] for r in servers["rows"])):
            rows = sorted((r for r in servers["rows"] if r["impl"] == impl and r["metric"] == metric), key=lambda r: r["concurrency"])
            if not rows:
                continue
            xs = [r["concurrency"] for r in rows]
            ax.plot(xs, [r["median"] for r in rows], marker="o", label=impl, color=f"C{i}",
                    linestyle="-" if impl.startswith("tlskit") else "--")  # fmt: skip
            ax.fill_between(xs, [r["min"] for r in rows], [r["max"] for r in rows], color=f"C{i}", alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(f"{metric} (median, band = range)")
        ax.legend(fontsize=8)
    fig.suptitle(f"Servers under concurrency ({servers['provider']}, {servers['key_type']}, loopback)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
