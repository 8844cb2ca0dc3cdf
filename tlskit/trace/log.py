"""Collecting a trace: stamping records with the time they arrived, and the JSON-lines form.

The engine hands records to the config's ``trace=`` callable without a time (it reads no
clock it was not given); a :class:`TraceLog` is such a callable that stamps each record
with the seconds elapsed since its first record, keeps them, and passes them on to sinks
(a :class:`JsonLinesWriter`, a :class:`tlskit.trace.text.TextWriter`, ...).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable

from tlskit.engine.trace import TraceRecord, from_dict


@dataclass(frozen=True)
class TraceEntry:
    """A record and when it arrived (seconds since the log's first record)."""

    t: float
    record: TraceRecord

    def to_dict(self) -> dict[str, Any]:
        out = self.record.to_dict()
        out["t"] = round(self.t, 6)
        return out


Sink = Callable[[TraceEntry], None]


class TraceLog:
    """A ``trace=`` callable that timestamps and keeps records and feeds ``sinks``.

    Thread-safe: a server's connections may trace into one log from several threads.
    ``clock`` is injectable for tests (defaults to ``time.perf_counter``). ``keep=False``
    keeps nothing (the sinks see everything); ``max_entries`` bounds what is kept (the
    oldest go first), for a long-running server.
    """

    def __init__(
        self,
        *sinks: Sink,
        clock: Callable[[], float] = time.perf_counter,
        keep: bool = True,
        max_entries: int | None = None,
    ) -> None:
        self.entries: list[TraceEntry] = []
        self._sinks = list(sinks)
        self._clock = clock
        self._start: float | None = None
        self._keep = keep
        self._max = max_entries
        self._lock = threading.Lock()

    def __call__(self, record: TraceRecord) -> None:
        with self._lock:
            now = self._clock()
            if self._start is None:
                self._start = now
            entry = TraceEntry(now - self._start, record)
            if self._keep:
                self.entries.append(entry)
                if self._max is not None and len(self.entries) > 2 * self._max:
                    del self.entries[: len(self.entries) - self._max]
            for sink in self._sinks:
                sink(entry)

    @property
    def records(self) -> list[TraceRecord]:
        return [entry.record for entry in self.entries]


def to_json_line(entry: TraceEntry) -> str:
    """One JSON object (no newline) in the documented schema (tlskit/trace/schema.json)."""
    return json.dumps(entry.to_dict(), separators=(",", ":"), ensure_ascii=False)


class JsonLinesWriter:
    """A sink writing one JSON object per line to ``stream`` (flushed per line)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def __call__(self, entry: TraceEntry) -> None:
        self._stream.write(to_json_line(entry) + "\n")
        self._stream.flush()


def read_json_lines(lines: Iterable[str]) -> list[TraceEntry]:
    """Entries back from JSON lines (blank lines skipped)."""
    entries = []
    for line in lines:
        if line.strip():
            data = json.loads(line)
            entries.append(TraceEntry(float(data.get("t", 0.0)), from_dict(data)))
    return entries


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every JSON line conforms to."""
    from importlib.resources import files

    return json.loads(files("tlskit.trace").joinpath("schema.json").read_text(encoding="utf-8"))
