"""The sans-IO surface shared by ClientConnection and ServerConnection.

Bytes in (``receive_data``), bytes out (``data_to_send``), events back. Handshake
messages are reassembled across records and dispatched through the side's transition
table (``{(state, message type): handler}``, see client.py and server.py): a message
the table does not list for the current state can only produce unexpected_message.
The handler returns the next state; ``conn.state`` tells where the machine is.

Application data: ``receive_data`` returns ApplicationData events, and the same
bytes objects (shared, not copied) are queued for ``recv()``, which takes them
all. An event-driven caller that never calls ``recv()`` can pass
``buffer_received=False`` to keep no second reference at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from tlskit.engine.alerts import describe, encode_alert
from tlskit.engine.config import ClientConfig, Negotiated, ServerConfig
from tlskit.engine.keylog import append_keylog
from tlskit.engine.keyschedule import ApplicationSecrets, KeySchedule, Transcript
from tlskit.engine.messages import HandshakeType, KeyUpdate, KeyUpdateRequest
from tlskit.engine.record import ContentType, RecordLayer, parse_alert
from tlskit.engine.states import CHANGE_CIPHER_SPEC, State, TransitionTable
from tlskit.engine.tls12.handshake import tls12_exporter
from tlskit.engine.tls12.suites import Tls12CipherSuite
from tlskit.engine.trace import TraceCallback
from tlskit.engine.tracer import Tracer, make_tracer
from tlskit.errors import (
    AlertDescription,
    AlertReceivedError,
    ConnectionClosedError,
    DecodeError,
    InternalError,
    TLSError,
    UnexpectedMessage,
)
from tlskit.events import (
    AlertReceived,
    ApplicationData,
    ConnectionClosed,
    Event,
    HandshakeComplete,
    KeyUpdated,
)
from tlskit.providers.base import CipherSuite

#: Largest handshake message we reassemble (certificate chains can be long, not unbounded).
MAX_HANDSHAKE_MESSAGE = 1 << 18
#: Records sent under one key before we rekey on our own: well inside the AES-GCM
#: confidentiality limit of 2^24.5 full-size records (RFC 8446 5.5).
KEY_UPDATE_AFTER_RECORDS = 1 << 23

# Flood caps (hostile input is bounded per connection). RFC 8446 sets no numbers; these are
# BoringSSL's (ssl/internal.h: kMaxEmptyRecords, kMaxWarningAlerts, kMaxKeyUpdates), which
# rustls also bounds. A counter restarts when non-empty application data arrives: that is
# "per unit of data received", so a long-lived connection that rekeys now and then is never
# cut off, while a peer that only sends free-to-send, costly-to-answer records is.
#: Empty application-data records in a row (TLS 1.3 5.1 allows zero-length application
#: data; each still costs a decryption and an event). The next one is unexpected_message.
MAX_EMPTY_RECORDS = 32
#: Non-fatal alerts (user_canceled; TLS 1.2 no_renegotiation warnings) without application
#: data in between. TLS 1.3 has no other non-fatal alerts (RFC 8446 6.1/6.2).
MAX_WARNING_ALERTS = 4
#: Post-handshake messages a peer can send for free and we must process (KeyUpdate, which
#: may demand our own KeyUpdate (RFC 8446 4.6.3); NewSessionTicket; CertificateRequest, which
#: costs us a signature (4.6.2); in TLS 1.2 HelloRequest and a renegotiating ClientHello,
#: each answered by a no_renegotiation warning) without application data in between.
#: BoringSSL's kMaxKeyUpdates is 32.
MAX_POST_HANDSHAKE_WITHOUT_DATA = 32
#: At most one compatibility change_cipher_spec per handshake (RFC 8446 5 and D.4: each side
#: sends one, "immediately" after its first flight); a second is unexpected_message, as in
#: OpenSSL and BoringSSL, so a stream of them cannot keep a handshake open.
MAX_COMPATIBILITY_CCS = 1
#: Post-handshake handshake messages counted against MAX_POST_HANDSHAKE_WITHOUT_DATA
_FLOODABLE_POST_HANDSHAKE = frozenset(
    {
        0,  # TLS 1.2 hello_request
        HandshakeType.client_hello,
        HandshakeType.new_session_ticket,
        HandshakeType.certificate_request,
        HandshakeType.key_update,
    }
)

#: Messages that can precede a key change and so MUST end their record (RFC 8446 5.1):
#: enforced on the message type, also where no key change follows (a ClientHello or
#: HelloRetryRequest before the retry).
_RECORD_ALIGNED = frozenset(
    {
        HandshakeType.client_hello,
        HandshakeType.server_hello,
        HandshakeType.end_of_early_data,
        HandshakeType.finished,
        HandshakeType.key_update,
    }
)


@dataclass
class Agreement:
    """What the handshake has settled so far (``negotiated`` reports it once complete)."""

    #: "TLSv1.3", or "TLSv1.2" once a TLS 1.2 hello was exchanged
    version: str = "TLSv1.3"
    suite: CipherSuite | Tls12CipherSuite | None = None
    group: str = ""
    signature_scheme: str | None = None
    alpn: str | None = None
    server_name: str | None = None
    peer_certificates: tuple[bytes, ...] = ()
    ocsp_response: bytes | None = None
    #: an earlier session was resumed (TLS 1.3: a PSK from a ticket; TLS 1.2: session id or RFC 5077 ticket)
    resumed: bool = False


class Connection:
    """Common machinery; each side gives its initial state and transition table."""

    is_client: bool = False

    if TYPE_CHECKING:
        #: set when the application traffic secrets are derived (the server: after its
        #: Finished; the client: after the server's), before any state that uses them
        _app: ApplicationSecrets

    def __init__(
        self,
        config: ClientConfig | ServerConfig,
        state: State,
        transitions: TransitionTable,
        *,
        buffer_received: bool = True,
        trace: TraceCallback | None = None,
    ) -> None:
        self._config = config
        self._provider = config.resolved_provider
        self._state = state
        #: None unless this connection or its config traces: every trace hook is behind this check
        self._tracer: Tracer | None = make_tracer(config, self.is_client, trace)
        #: {(state, HandshakeType): handler}; a version-specific table may replace it
        self._transitions = transitions
        self._record = RecordLayer()
        self._record.pad_to = config.pad_to
        self._transcript = Transcript()
        self._agreed = Agreement()
        self._hs_buffer = bytearray()
        self._events: list[Event] = []
        self._buffer_received = buffer_received
        self._received: list[bytes] = []
        self._pending_app: list[bytes] = []
        #: ClientHello.random, the key log's connection label
        self._client_random = b""
        self._handshake_complete = False
        self._sent_close = False
        self._received_close = False
        self._failed = False
        #: the peer asked for a KeyUpdate (update_requested); answered once per receive_data
        self._key_update_owed = False
        #: change_cipher_spec may be dropped between the first ClientHello and the peer's Finished
        self._ccs_window = False
        #: compatibility CCS records received (MAX_COMPATIBILITY_CCS)
        self._ccs_received = 0
        #: flood counters, restarted by non-empty application data (see the MAX_* constants)
        self._empty_records = 0
        self._warning_alerts = 0
        self._post_handshake_messages = 0

    # -- public surface -------------------------------------------------------

    @property
    def state(self) -> State:
        """The handshake state, named as in RFC 8446 Appendix A (read-only)."""
        return self._state

    @property
    def handshake_complete(self) -> bool:
        return self._handshake_complete

    @property
    def closed(self) -> bool:
        return self._sent_close or self._received_close or self._failed

    @property
    def negotiated(self) -> Negotiated | None:
        """What the handshake agreed on; None until the handshake is complete."""
        agreed = self._agreed
        if not self._handshake_complete or agreed.suite is None:
            return None
        return Negotiated(
            version=agreed.version,
            cipher_suite=agreed.suite.name,
            group=agreed.group,
            signature_scheme=agreed.signature_scheme,
            alpn=agreed.alpn,
            server_name=agreed.server_name,
            peer_certificates=agreed.peer_certificates,
            ocsp_response=agreed.ocsp_response,
            resumed=agreed.resumed,
        )

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes from the peer; returns the events they produced.

        A fatal problem queues the alert in ``data_to_send()`` and raises a TLSError.
        """
        if self._failed:
            raise ConnectionClosedError("the connection has failed")
        if self._received_close:
            return []  # RFC 8446 6.1: data after close_notify is ignored
        self._record.feed(data)
        events: list[Event] = []
        self._events = events
        tracer = self._tracer
        try:
            while not self._received_close:
                if tracer is not None:
                    buffered = self._record.buffered_input
                    protected = self._record_protected("read")
                # looked up per record: a TLS 1.2 hello replaces the record layer mid-batch
                record = self._record.next_record()
                if record is None:
                    break
                if tracer is not None:
                    tracer.tls12 = self._agreed.version == "TLSv1.2"
                    tracer.record_in(record[0], buffered - self._record.buffered_input - 5, protected)
                content_type, payload = record
                if content_type == 23 and self._handshake_complete and not self._hs_buffer:
                    # application data, the bulk case (_handle_record's last branch)
                    if not payload or self._post_handshake_messages or self._warning_alerts or self._empty_records:
                        self._count_application_data(payload)
                    if self._buffer_received:
                        self._received.append(payload)
                    events.append(ApplicationData(payload))
                else:
                    self._handle_record(content_type, payload)
            if self._key_update_owed:
                # RFC 8446 4.6.3: answer before any further application data (the caller's
                # sends come after this returns), once for all requests in this batch
                self._key_update_owed = False
                if not self._sent_close:
                    self._send_key_update(KeyUpdateRequest.update_not_requested)
        except AlertReceivedError:
            self._failed = True
            raise
        except TLSError as exc:
            self._fail(exc.alert, str(exc))
            raise
        except Exception as exc:  # a bug or an unmapped library error: still a clean TLS failure
            self._fail(AlertDescription.internal_error, f"{type(exc).__name__}: {exc}")
            raise InternalError(f"internal error: {type(exc).__name__}: {exc}") from exc
        return events

    def data_to_send(self) -> bytes:
        data = self._record.take_output()
        if self._tracer is not None and data:
            self._tracer.tls12 = self._agreed.version == "TLSv1.2"
            self._tracer.records_out(data)
        return data

    def send(self, data: bytes | bytearray | memoryview | str) -> None:
        """Queue application data (str is UTF-8 encoded); held back until the handshake completes."""
        if self._failed or self._sent_close:
            raise ConnectionClosedError("cannot send on a closed connection")
        if isinstance(data, str):
            data = data.encode("utf-8")
        if self._handshake_complete:
            record = self._record
            if record._write.seq >= KEY_UPDATE_AFTER_RECORDS:
                self._send_key_update(KeyUpdateRequest.update_not_requested)
            record.write(ContentType.application_data, data)
        else:
            self._pending_app.append(bytes(data))

    def recv(self) -> bytes:
        """All application data received and not yet taken (b"" if none)."""
        if not self._received:
            return b""
        data = b"".join(self._received)
        self._received.clear()
        return data

    def close(self) -> None:
        """Queue close_notify; nothing more can be sent afterwards."""
        if self._sent_close or self._failed:
            return
        self._send_alert(AlertDescription.close_notify)
        self._sent_close = True

    def cancel(self) -> None:
        """Abort an ongoing handshake politely: user_canceled followed by close_notify."""
        if self._sent_close or self._failed:
            return
        self._send_alert(AlertDescription.user_canceled)
        self.close()

    def update_keys(self, request_peer: bool = True) -> None:
        """Send KeyUpdate and switch to the next sending key (RFC 8446 4.6.3)."""
        if not self._handshake_complete:
            raise TLSError("KeyUpdate before the handshake is complete")
        if self._failed or self._sent_close:
            raise ConnectionClosedError("cannot update keys on a closed connection")
        request = KeyUpdateRequest.update_requested if request_peer else KeyUpdateRequest.update_not_requested
        self._send_key_update(request)

    def export_keying_material(self, label: bytes | str, context: bytes | None = None, length: int = 32) -> bytes:
        """TLS-Exporter(label, context, length) of RFC 8446 section 7.5; on a TLS 1.2
        connection the RFC 5705 exporter, where no context (None, as OpenSSL's
        ``-keymatexport``) and an empty one differ. In TLS 1.3 they are the same."""
        if not self._handshake_complete:
            raise TLSError("exporters are available once the handshake is complete")
        if isinstance(label, str):
            label = label.encode()
        tls12 = getattr(self, "_tls12", None)
        if tls12 is not None:
            return tls12_exporter(tls12, label, context, length)  # RFC 5705 (with EMS: RFC 7627 5.4)
        return self._app.schedule.export(self._app.exporter_master_secret, label, context or b"", length)

    # -- record dispatch ------------------------------------------------------

    def _handle_record(self, content_type: int, payload: bytes) -> None:
        if not content_type:  # record.SKIPPED: rejected 0-RTT data (RFC 8446 4.2.10)
            return
        if content_type == ContentType.change_cipher_spec:
            handler = self._transitions.get((self._state, CHANGE_CIPHER_SPEC))
            if handler is not None:
                # TLS 1.2 (RFC 5246 7.1): ChangeCipherSpec is a step of the machine; it may not
                # split a handshake message
                if self._hs_buffer:
                    raise UnexpectedMessage("change_cipher_spec inside a fragmented handshake message")
                if self._tracer is not None:  # a step of the TLS 1.2 machine, traced as one
                    self._tracer.message("received", b"", self._record_protected("read"), name="change_cipher_spec", fields={})
                self._enter(handler(self, payload, payload))
                return
            # RFC 8446 5: only the compatibility CCS (one byte 0x01), only unprotected,
            # only between the first ClientHello and the peer's Finished.
            if not self._ccs_window or payload != b"\x01" or self._hs_buffer:
                raise UnexpectedMessage("unexpected change_cipher_spec")
            self._ccs_received += 1
            if self._ccs_received > MAX_COMPATIBILITY_CCS:
                raise UnexpectedMessage("more than one change_cipher_spec in the handshake")
            return
        if content_type == ContentType.handshake:
            self._handle_handshake_bytes(payload)
            return
        if self._hs_buffer:  # RFC 8446 5.1: no interleaving with a fragmented message
            raise UnexpectedMessage("record interleaved with a fragmented handshake message")
        if content_type == ContentType.alert:
            self._handle_alert(payload)
        else:
            if not self._handshake_complete:
                self._count_application_data(payload)
                self._on_early_application_data(payload)
                return
            self._count_application_data(payload)
            if self._buffer_received:
                self._received.append(payload)
            self._events.append(ApplicationData(payload))

    def _on_early_application_data(self, payload: bytes) -> None:
        """Application data before the handshake completed (a server taking 0-RTT data
        overrides this)."""
        raise UnexpectedMessage("application data before the handshake completed")

    def _handle_handshake_bytes(self, payload: bytes) -> None:
        buf = self._hs_buffer
        buf += payload
        while len(buf) >= 4:
            length = int.from_bytes(buf[1:4], "big")
            if length > MAX_HANDSHAKE_MESSAGE:
                raise DecodeError("handshake message too large")
            if len(buf) < 4 + length:
                break
            raw = bytes(buf[: 4 + length])
            del buf[: 4 + length]
            epoch = self._record.read_epoch
            if self._tracer is not None:  # before judging it: a fatal message is traced too
                self._tracer.tls12 = self._agreed.version == "TLSv1.2"
                self._tracer.message("received", raw, self._record_protected("read"))
            if self._handshake_complete and raw[0] in _FLOODABLE_POST_HANDSHAKE:
                self._post_handshake_messages += 1
                if self._post_handshake_messages > MAX_POST_HANDSHAKE_WITHOUT_DATA:
                    raise UnexpectedMessage(f"more than {MAX_POST_HANDSHAKE_WITHOUT_DATA} post-handshake messages without application data")
            handler = self._transitions.get((self._state, raw[0]))
            if handler is None:
                raise UnexpectedMessage(f"unexpected handshake message {_message_name(raw[0])} in state {self._state}")
            self._enter(handler(self, raw[4:], raw))
            # (TLS 1.2 keys change at ChangeCipherSpec, a record of its own: its hellos may share records)
            if buf and (self._record.read_epoch != epoch or (raw[0] in _RECORD_ALIGNED and self._agreed.version != "TLSv1.2")):
                raise UnexpectedMessage(f"{_message_name(raw[0])} does not end its record (key change boundary)")

    def _handle_alert(self, payload: bytes) -> None:
        # RFC 8446 6: the level "can safely be ignored": closure alerts are closure alerts and
        # every other one is an error whatever level it claims (so no alert goes back to it).
        level, description = parse_alert(payload)
        if self._tracer is not None:
            self._tracer.alert("received", level, description)
        if description == AlertDescription.close_notify:
            self._received_close = True
            if not self._handshake_complete:
                # The handshake can no longer complete (RFC 8446 6.1: the peer sends nothing
                # more): end it now instead of waiting for input that is ignored anyway. The
                # error (no alert is sent back) tells the io layers to close the socket.
                raise AlertReceivedError(description)
            self._events.append(ConnectionClosed())
            return
        tls12_warning = level == 1 and description == AlertDescription.no_renegotiation and self._agreed.version == "TLSv1.2"
        # RFC 5246 7.2.2: no_renegotiation is a warning in TLS 1.2 (the peer declined to
        # renegotiate; we never ask); user_canceled is followed by close_notify (RFC 8446 6.1)
        if tls12_warning or description == AlertDescription.user_canceled:
            self._warning_alerts += 1
            if self._warning_alerts > MAX_WARNING_ALERTS:
                raise UnexpectedMessage(f"more than {MAX_WARNING_ALERTS} warning alerts without application data")
            self._events.append(AlertReceived(describe(description), level))
            return
        # RFC 8446 6.2: every other alert is an error, whatever level it claims.
        raise AlertReceivedError(description)

    def _count_application_data(self, payload: bytes) -> None:
        """Restart the flood counters on data; count an empty record (MAX_EMPTY_RECORDS)."""
        if payload:
            self._empty_records = self._warning_alerts = self._post_handshake_messages = 0
            return
        self._empty_records += 1
        if self._empty_records > MAX_EMPTY_RECORDS:
            raise UnexpectedMessage(f"more than {MAX_EMPTY_RECORDS} empty application data records in a row")

    # -- output helpers -------------------------------------------------------

    def _send_alert(self, description: int, reason: str | None = None) -> None:
        alert = encode_alert(description)
        if self._tracer is not None:
            self._tracer.alert("sent", alert[0], description, reason)
        self._record.write(ContentType.alert, alert)

    def _fail(self, description: int, reason: str | None = None) -> None:
        if not self._failed and not self._sent_close:
            try:
                self._send_alert(description, reason)
            except Exception:  # the alert is best effort; the error itself is what matters
                pass
        self._failed = True

    def _record_protected(self, direction: str) -> bool:
        """Whether the record layer protects ``direction`` ("read"/"write") now (for the trace)."""
        layer = self._record
        flag = getattr(layer, "reading_protected" if direction == "read" else "writing_protected", None)
        if isinstance(flag, bool):  # the TLS 1.2 layer says so itself
            return flag
        return (layer._read if direction == "read" else layer._write).keys is not None

    def _trace_keys(self, direction: str, epoch: str) -> None:
        """Trace a key change of the record layer (callers check ``self._tracer`` first)."""
        assert self._tracer is not None
        suite = self._agreed.suite
        self._tracer.keys(direction, epoch, suite.name if suite is not None else "-")

    def _checked(self, what: str, detail: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``check(*args, **kwargs)``, its outcome traced as a Check record (a TLSError it
        raises is traced as a failure, then raised on)."""
        tracer = self._tracer
        if tracer is None:
            return check(*args, **kwargs)
        try:
            result = check(*args, **kwargs)
        except TLSError as exc:
            tracer.check(what, False, str(exc))
            raise
        tracer.check(what, True, detail)
        return result

    def _enter(self, state: State) -> None:
        """Move to ``state`` (traced)."""
        if self._tracer is not None:
            self._tracer.state(self._state, state)
        self._state = state

    def _send_handshake(self, message: bytes) -> None:
        if self._tracer is not None:
            self._tracer.message("sent", message, self._record_protected("write"))
        self._transcript.add(message)
        self._record.queue_handshake(message)

    def _flush_pending_app_data(self) -> None:
        for chunk in self._pending_app:
            self._record.write(ContentType.application_data, chunk)
        self._pending_app.clear()

    # -- key schedule glue ----------------------------------------------------

    def _keylog(self, *entries: tuple[str, bytes]) -> None:
        """Report (label, secret) pairs to the key log callback and file (one append per call)."""
        config = self._config
        if config.keylog_callback is not None:
            for label, secret in entries:
                config.keylog_callback(label, self._client_random, secret)
        if config.keylog_file is not None:
            random_hex = self._client_random.hex()
            append_keylog(config.keylog_file, "".join(f"{label} {random_hex} {secret.hex()}\n" for label, secret in entries))

    def _start_application_secrets(self, schedule: KeySchedule, transcript_hash: bytes) -> ApplicationSecrets:
        """Derive the application traffic secrets over ClientHello..server Finished and log
        them; the caller installs read/write keys at the right moment. The exporter master
        secret is derived only when an exporter or the key log asks for it."""
        app = self._app = ApplicationSecrets(schedule, transcript_hash, is_client=self.is_client)
        if self._config.keylog_callback is not None or self._config.keylog_file is not None:
            self._keylog(
                ("CLIENT_TRAFFIC_SECRET_0", app.client_0),
                ("SERVER_TRAFFIC_SECRET_0", app.server_0),
                ("EXPORTER_SECRET", app.exporter_master_secret),
            )
        if self._tracer is not None:
            self._tracer.application_schedule(app)
        return app

    def _trace_resumption_secret(self, app: ApplicationSecrets) -> None:
        """Trace resumption_master_secret (derived here when tracing: the engine otherwise
        derives it only when a ticket needs it)."""
        if self._tracer is not None:
            self._tracer.step("derive", "resumption_master_secret", "res master", app.resumption_master_secret())

    def _send_key_update(self, request: KeyUpdateRequest) -> None:
        message = KeyUpdate(request).encode()
        if self._tracer is not None:
            self._tracer.message("sent", message, True)
        self._record.write(ContentType.handshake, message)
        self._record.set_write_keys(self._app.next_write())
        if self._tracer is not None:
            self._tracer.key_update("write", self._app.write, self._app.schedule.suite.name)

    def _on_key_update(self, body: bytes, raw: bytes) -> State:
        message = KeyUpdate.decode(body)
        self._record.set_read_keys(self._app.next_read())
        if self._tracer is not None:
            self._tracer.key_update("read", self._app.read, self._app.schedule.suite.name)
        if message.request_update == KeyUpdateRequest.update_requested:
            self._key_update_owed = True  # sent at the end of receive_data
        self._events.append(KeyUpdated())
        return self._state

    def _resumption_master_secret(self) -> bytes:
        """resumption_master_secret (RFC 8446 7.1), derived only if something needs it."""
        return self._app.resumption_master_secret()

    def _complete_handshake(self) -> None:
        self._handshake_complete = True
        self._ccs_window = False
        if self._tracer is not None:
            n = self.negotiated
            if n is not None:
                resumed = bool(getattr(n, "resumed", False))
                self._tracer.negotiated(n.version, n.cipher_suite, n.group, n.signature_scheme, n.alpn, n.server_name, resumed)
        self._events.append(HandshakeComplete())
        self._flush_pending_app_data()


def _message_name(msg_type: int) -> str:
    try:
        return HandshakeType(msg_type).name
    except ValueError:
        return f"type {msg_type}"
