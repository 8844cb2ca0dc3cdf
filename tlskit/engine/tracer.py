"""The engine side of the trace: one :class:`Tracer` per traced connection.

A connection holds ``_tracer = None`` unless its config has ``trace=``; every hook in the
engine is written ``if self._tracer is not None: self._tracer.something(...)``, so an
untraced connection builds no record, decodes no message and reads no extra state.

The hooks are generic so that any protocol version reports through them: a handshake
message is its raw bytes (decoded here by :mod:`tlskit.engine.tracefields`) or, for a
message this module has no decoder for (TLS 1.2's ServerKeyExchange, ...), a type, a
name and a dict of fields the caller decoded.
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping

from tlskit.engine import tracefields
from tlskit.engine.trace import (
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
)
from tlskit.errors import AlertDescription

#: connections numbered per process, so records of one server's connections can be told apart
_CONNECTIONS = itertools.count(1)

_ALERT_LEVELS = {1: "warning", 2: "fatal"}


def alert_name(code: int) -> str:
    try:
        return AlertDescription(code).name
    except ValueError:
        return f"unknown({code})"


class Tracer:
    """Builds trace records for one connection and hands them to the config's callback."""

    __slots__ = ("emit", "side", "conn", "secrets", "_generation", "tls12", "_tls12_write_protected")

    def __init__(self, callback: TraceCallback, is_client: bool, secrets: bool = False) -> None:
        self.emit = callback
        self.side = "client" if is_client else "server"
        self.conn = next(_CONNECTIONS)
        #: report secret values (hex) in key-schedule records; only when the config asked
        self.secrets = secrets
        #: application traffic secret generation per direction (RFC 8446 7.2: N in _N)
        self._generation = {"read": 0, "write": 0}
        #: set by the connection once TLS 1.2 is negotiated: messages and records then
        #: have the TLS 1.2 shapes (RFC 5246 7.4; records keep their type when protected)
        self.tls12 = False
        self._tls12_write_protected = False

    # -- messages and records ---------------------------------------------------------

    def message(
        self,
        direction: str,
        raw: bytes,
        protected: bool,
        *,
        name: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> None:
        """A handshake message (raw: header included). ``name``/``fields`` replace the
        built-in decoding, for messages it does not know (TLS 1.2 ones)."""
        if fields is None:
            decoded_name, decoded = tracefields.describe_message(raw, tls12=self.tls12)
            fields = decoded
            name = name or decoded_name
        elif name is None:
            name = tracefields.message_name(raw[0]) if raw else "unknown"
        msg_type = raw[0] if raw else -1
        self.emit(HandshakeMessage(self.side, direction, msg_type, name, len(raw), protected, dict(fields), conn=self.conn))

    def record_in(self, content_type: int, wire_length: int, protected: bool) -> None:
        """A record read: ``content_type`` is its (inner) type, ``wire_length`` its fragment
        length on the wire (header excluded)."""
        inner = tracefields.content_type_name(content_type) if content_type else "skipped_early_data"
        outer = "application_data" if protected and not self.tls12 else inner
        self.emit(RecordBoundary(self.side, "received", outer, wire_length, protected, inner if protected else None, conn=self.conn))

    def records_out(self, data: bytes) -> None:
        """The records in a chunk of output (whole records, as data_to_send returns them).
        Under TLS 1.3 every protected record is application_data on the wire (RFC 8446 5.2)."""
        pos = 0
        while pos + 5 <= len(data):
            content_type = data[pos]
            length = (data[pos + 3] << 8) | data[pos + 4]
            if self.tls12:
                # RFC 5246 7.1: everything after our ChangeCipherSpec is protected
                protected = self._tls12_write_protected
                if content_type == 20:
                    self._tls12_write_protected = True
            else:
                protected = content_type == 23
            self.emit(
                RecordBoundary(self.side, "sent", tracefields.content_type_name(content_type), length, protected, conn=self.conn)
            )
            pos += 5 + length

    # -- keys -------------------------------------------------------------------------

    def step(self, operation: str, secret: str, label: str | None = None, value: bytes | None = None) -> None:
        """A key-schedule step; ``value`` is reported only if the config asked for secrets."""
        shown = value.hex() if self.secrets and value is not None else None
        self.emit(KeyScheduleStep(self.side, operation, secret, label, shown, conn=self.conn))

    def handshake_schedule(self, schedule: Any, client_secret: bytes, server_secret: bytes) -> None:
        """The steps from the early secret to the master secret (RFC 8446 7.1), in the
        schedule's order; ``schedule`` is the KeySchedule (read only for secret values)."""
        self.step("extract", "early_secret", None, getattr(schedule, "early_secret", None))
        self.step("derive", "derived_for_handshake", "derived")
        self.step("extract", "handshake_secret", None, getattr(schedule, "handshake_secret", None))
        self.step("derive", "client_handshake_traffic_secret", "c hs traffic", client_secret)
        self.step("derive", "server_handshake_traffic_secret", "s hs traffic", server_secret)
        self.step("derive", "derived_for_master", "derived")
        self.step("extract", "master_secret", None, getattr(schedule, "master_secret", None))

    def keys(self, direction: str, epoch: str, cipher_suite: str) -> None:
        self.emit(KeysInUse(self.side, direction, epoch, cipher_suite, conn=self.conn))

    def application_schedule(self, app: Any) -> None:
        """The application traffic secrets and the exporter master secret (derived here
        even though the engine otherwise derives it on demand, so the trace shows the
        schedule of RFC 8446 7.1 whole); ``app`` is the ApplicationSecrets."""
        self.step("derive", "client_application_traffic_secret_0", "c ap traffic", app.client_0)
        self.step("derive", "server_application_traffic_secret_0", "s ap traffic", app.server_0)
        self.step("derive", "exporter_master_secret", "exp master", app.exporter_master_secret)

    def key_update(self, direction: str, secret: bytes, cipher_suite: str) -> None:
        """application_traffic_secret_N+1 for one direction (RFC 8446 7.2) and its keys."""
        generation = self._generation[direction] = self._generation[direction] + 1
        writer = "client" if (direction == "write") == (self.side == "client") else "server"
        self.step("derive", f"{writer}_application_traffic_secret_{generation}", "traffic upd", secret)
        self.keys(direction, f"application_{generation}", cipher_suite)

    # -- decisions and outcomes -------------------------------------------------------

    def retry(self, reason: str, group: str | None, cookie: bool) -> None:
        self.emit(HelloRetry(self.side, reason, group, cookie, conn=self.conn))

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.emit(Check(self.side, what, ok, detail, conn=self.conn))

    def alert(self, direction: str, level: int, description: int, reason: str | None = None) -> None:
        self.emit(
            Alert(
                self.side,
                direction,
                _ALERT_LEVELS.get(level, f"unknown({level})"),
                alert_name(description),
                description,
                reason,
                conn=self.conn,
            )
        )

    def state(self, old: Any, new: Any) -> None:
        if old != new:
            self.emit(StateChange(self.side, str(old), str(new), conn=self.conn))

    def negotiated(
        self,
        version: str,
        cipher_suite: str,
        group: str | None,
        signature_scheme: str | None,
        alpn: str | None,
        server_name: str | None,
        resumed: bool = False,
    ) -> None:
        self.emit(Negotiated(self.side, version, cipher_suite, group or None, signature_scheme, alpn, server_name, resumed, conn=self.conn))


def make_tracer(config: Any, is_client: bool, trace: TraceCallback | None = None) -> Tracer | None:
    """The tracer for a new connection: ``trace`` (the connection's own callback) or the
    config's ``trace``; None when neither traces."""
    callback = trace if trace is not None else getattr(config, "trace", None)
    if callback is None:
        return None
    return Tracer(callback, is_client, bool(getattr(config, "trace_secrets", False)))


__all__ = ["Tracer", "alert_name", "make_tracer"]
