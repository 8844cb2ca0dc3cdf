"""The handshake trace: one structured, immutable record per step of a connection.

A config's ``trace=`` callable receives these records as they happen. They describe the
protocol, never key material: a key-schedule step names the secret that was derived and
carries its value only when the config asked for it (``trace_secrets=True``).

The model is generic so that every protocol version traces the same way: a handshake
message is its type, its name and a dict of decoded fields (JSON-ready values only:
str, int, bool, None, lists and dicts of those), so TLS 1.2 messages need no record
class of their own. ``to_dict`` gives the stable JSON form documented by
``tlskit/trace/schema.json`` (schema version :data:`SCHEMA_VERSION`).

Records carry no timestamps: the engine never reads a clock it was not given. The
consumers in :mod:`tlskit.trace` stamp each record when it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping, Union

#: Version of the JSON form; bumped only on an incompatible change (new kinds or new
#: optional keys are compatible).
SCHEMA_VERSION = 1

#: "client" or "server": whose engine produced a record.
Side = str
#: "sent" or "received", seen from the side that produced the record.
Direction = str


@dataclass(frozen=True)
class _Record:
    kind: ClassVar[str] = ""
    side: Side
    #: which connection (numbered per process from 1, when tracing is on): a server's
    #: config, and so its trace callable, is shared by all its connections
    conn: int = field(default=0, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict: ``{"v": 1, "kind": ..., "side": ..., ...}``."""
        out: dict[str, Any] = {"v": SCHEMA_VERSION, "kind": self.kind}
        for f in fields(self):
            out[f.name] = getattr(self, f.name)
        return out


@dataclass(frozen=True)
class HandshakeMessage(_Record):
    """A handshake message sent or received, with its decoded fields.

    ``name`` is the message name (``client_hello``, ``hello_retry_request``, ...);
    ``fields`` holds the decoded content (see :mod:`tlskit.engine.tracefields`).
    A received message is traced before it is processed, so a message that makes the
    handshake fail still appears, followed by the alert.
    """

    kind: ClassVar[str] = "message"
    direction: Direction
    msg_type: int
    name: str
    length: int
    protected: bool
    fields: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["fields"] = dict(self.fields)
        return out


@dataclass(frozen=True)
class RecordBoundary(_Record):
    """One TLS record on the wire: its outer content type and fragment length (header
    excluded). For received protected records ``inner_type`` is the decrypted type."""

    kind: ClassVar[str] = "record"
    direction: Direction
    content_type: str
    length: int
    protected: bool
    inner_type: str | None = None


@dataclass(frozen=True)
class KeyScheduleStep(_Record):
    """A key-schedule step (RFC 8446 7.1): ``operation`` is "extract" or "derive",
    ``secret`` the name of the result (``handshake_secret``,
    ``client_handshake_traffic_secret``, ...), ``label`` the HKDF label used, if any.
    ``value`` is the secret in hex only when the config set ``trace_secrets``."""

    kind: ClassVar[str] = "key_schedule"
    operation: str
    secret: str
    label: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class KeysInUse(_Record):
    """The record layer switched keys for one direction: ``epoch`` names them
    ("handshake", "application", "application_1", ... after KeyUpdates)."""

    kind: ClassVar[str] = "keys"
    direction: str  # "read" or "write"
    epoch: str
    cipher_suite: str


@dataclass(frozen=True)
class HelloRetry(_Record):
    """A HelloRetryRequest, with the reason it was (or had to be) sent."""

    kind: ClassVar[str] = "hello_retry"
    reason: str
    group: str | None = None
    cookie: bool = False


@dataclass(frozen=True)
class Check(_Record):
    """The outcome of a verification: ``what`` is "certificate_chain",
    "certificate_verify" or "finished"."""

    kind: ClassVar[str] = "check"
    what: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Alert(_Record):
    """An alert sent or received; ``reason`` says why, for alerts this side sent."""

    kind: ClassVar[str] = "alert"
    direction: Direction
    level: str
    description: str
    code: int
    reason: str | None = None


@dataclass(frozen=True)
class StateChange(_Record):
    """The connection moved to another handshake state (RFC 8446 Appendix A names)."""

    kind: ClassVar[str] = "state"
    old: str
    new: str


@dataclass(frozen=True)
class Negotiated(_Record):
    """What the handshake agreed on, once it is complete."""

    kind: ClassVar[str] = "negotiated"
    version: str
    cipher_suite: str
    group: str | None
    signature_scheme: str | None
    alpn: str | None
    server_name: str | None
    resumed: bool = False


TraceRecord = Union[HandshakeMessage, RecordBoundary, KeyScheduleStep, KeysInUse, HelloRetry, Check, Alert, StateChange, Negotiated]
TraceCallback = Callable[[TraceRecord], None]

#: kind -> record class, for readers of the JSON form
RECORD_TYPES: dict[str, type[_Record]] = {
    cls.kind: cls
    for cls in (HandshakeMessage, RecordBoundary, KeyScheduleStep, KeysInUse, HelloRetry, Check, Alert, StateChange, Negotiated)
}


def from_dict(data: Mapping[str, Any]) -> TraceRecord:
    """Rebuild a record from its JSON form (unknown keys, such as a consumer's ``t``, are ignored)."""
    cls = RECORD_TYPES[data["kind"]]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})  # type: ignore[return-value]


__all__ = [
    "SCHEMA_VERSION",
    "Alert",
    "Check",
    "HandshakeMessage",
    "HelloRetry",
    "KeyScheduleStep",
    "KeysInUse",
    "Negotiated",
    "RECORD_TYPES",
    "RecordBoundary",
    "StateChange",
    "TraceCallback",
    "TraceRecord",
    "from_dict",
]
