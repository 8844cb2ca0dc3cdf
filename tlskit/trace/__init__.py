"""Seeing a handshake: trace consumers (timestamps, JSON lines, text, ladder diagram).

The engine produces the records (:mod:`tlskit.engine.trace`) through a config's
``trace=`` callable; this package turns them into something to read::

    from tlskit import ClientConfig, connect
    from tlskit.trace import TraceLog, TextWriter, write_diagram

    log = TraceLog(TextWriter())                 # prints as it goes, keeps the entries
    with connect("example.com", 443, trace=log) as stream:
        ...
    write_diagram("handshake.svg", log.entries)  # or .html

``JsonLinesWriter`` writes the documented JSON form (``schema()`` returns its JSON Schema).
"""

from __future__ import annotations

from tlskit.engine.trace import (
    SCHEMA_VERSION,
    Alert,
    Check,
    HandshakeMessage,
    HelloRetry,
    KeyScheduleStep,
    KeysInUse,
    Negotiated,
    RecordBoundary,
    StateChange,
    TraceCallback,
    TraceRecord,
    from_dict,
)
from tlskit.trace.diagram import render_html, render_svg, write_diagram
from tlskit.trace.log import JsonLinesWriter, TraceEntry, TraceLog, read_json_lines, schema, to_json_line
from tlskit.trace.text import TextWriter, render_text

__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "Check",
    "HandshakeMessage",
    "HelloRetry",
    "JsonLinesWriter",
    "KeyScheduleStep",
    "KeysInUse",
    "Negotiated",
    "RecordBoundary",
    "StateChange",
    "TextWriter",
    "TraceCallback",
    "TraceEntry",
    "TraceLog",
    "TraceRecord",
    "from_dict",
    "read_json_lines",
    "render_html",
    "render_svg",
    "render_text",
    "schema",
    "to_json_line",
    "write_diagram",
]
