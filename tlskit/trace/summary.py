"""Short human-readable summaries of trace records, shared by the text and diagram renderers."""

from __future__ import annotations

from typing import Any, Mapping

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
    TraceRecord,
)

#: message name -> how people write it (RFC 8446 figure style)
DISPLAY_NAMES = {
    "client_hello": "ClientHello",
    "server_hello": "ServerHello",
    "hello_retry_request": "HelloRetryRequest",
    "encrypted_extensions": "EncryptedExtensions",
    "certificate_request": "CertificateRequest",
    "certificate": "Certificate",
    "certificate_verify": "CertificateVerify",
    "finished": "Finished",
    "new_session_ticket": "NewSessionTicket",
    "end_of_early_data": "EndOfEarlyData",
    "key_update": "KeyUpdate",
    "server_key_exchange": "ServerKeyExchange",
    "server_hello_done": "ServerHelloDone",
    "client_key_exchange": "ClientKeyExchange",
    "certificate_status": "CertificateStatus",
    "hello_request": "HelloRequest",
}


def display_name(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)


def _ext(fields: Mapping[str, Any], name: str) -> Any:
    for entry in fields.get("extensions") or ():
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return entry.get("value", True)
    return None


def _shorten(items: Any, limit: int = 4) -> str:
    """A list on one line, at most ``limit`` items shown, GREASE values left out."""
    if not isinstance(items, list):
        return str(items)
    items = [i for i in items if not str(i).startswith("GREASE(")]
    shown = [str(i) for i in items[:limit]]
    if len(items) > limit:
        shown.append(f"+{len(items) - limit}")
    return ",".join(shown)


def certificate_line(cert: Mapping[str, Any]) -> str:
    if "malformed" in cert:
        return f"unparsable certificate ({cert.get('size')} bytes): {cert['malformed']}"
    sans = cert.get("sans") or []
    text = f"{cert.get('subject') or '<empty subject>'} ({cert.get('key_type')}) issued by {cert.get('issuer')}"
    text += f", valid {str(cert.get('not_before', ''))[:10]}..{str(cert.get('not_after', ''))[:10]}"
    if sans:
        text += f", SANs {_shorten(sans, 3)}"
    return text


def message_summary(name: str, fields: Mapping[str, Any]) -> str:
    """The key fields of a message on one line (what the ladder diagram prints under the arrow)."""
    parts: list[str] = []
    if name == "client_hello":
        versions = _ext(fields, "supported_versions")
        if versions:
            parts.append(f"versions {_shorten(versions)}")
        parts.append(f"suites {_shorten(fields.get('cipher_suites'), 2)}")
        shares = _ext(fields, "key_share")
        if isinstance(shares, list):
            parts.append("key_share " + ",".join(f"{s.get('group')}({s.get('size')}B)" for s in shares if isinstance(s, Mapping)))
        sni = _ext(fields, "server_name")
        if sni:
            parts.append(f"sni {sni}")
        alpn = _ext(fields, "application_layer_protocol_negotiation")
        if alpn:
            parts.append(f"alpn {_shorten(alpn)}")
    elif name == "server_hello":
        parts.append(str(fields.get("cipher_suite")))
        share = _ext(fields, "key_share")
        if isinstance(share, Mapping):
            parts.append(f"key_share {share.get('group')}({share.get('size')}B)")
        version = _ext(fields, "supported_versions")
        if version:
            parts.append(str(version))
        if _ext(fields, "pre_shared_key") is not None:
            parts.append("psk")
    elif name == "hello_retry_request":
        share = _ext(fields, "key_share")
        if isinstance(share, Mapping):
            parts.append(f"wants {share.get('selected_group')}")
        if _ext(fields, "cookie") is not None:
            parts.append("cookie")
        parts.append(str(fields.get("cipher_suite")))
    elif name in ("encrypted_extensions", "certificate_request"):
        names = [e.get("name") for e in fields.get("extensions") or () if isinstance(e, Mapping)]
        alpn = _ext(fields, "application_layer_protocol_negotiation")
        if alpn:
            parts.append(f"alpn {_shorten(alpn)}")
        parts.append(_shorten(names, 4) if names else "no extensions")
    elif name == "certificate":
        certs = fields.get("certificates") or []
        if not certs:
            parts.append("empty (no certificate)")
        else:
            leaf = certs[0]
            parts.append(f"{leaf.get('subject') or '?'} {leaf.get('key_type') or ''}".strip())
            parts.append(f"{len(certs)} cert{'s' if len(certs) != 1 else ''}")
    elif name == "certificate_verify":
        parts.append(str(fields.get("signature_scheme")))
    elif name == "new_session_ticket":
        parts.append(f"lifetime {fields.get('lifetime')}s, ticket {fields.get('ticket_length')}B")
    elif name == "server_key_exchange":
        parts.append(f"{fields.get('group')}({fields.get('public_key_size')}B), signed {fields.get('signature_scheme')}")
    elif name == "client_key_exchange":
        parts.append(f"public key {fields.get('public_key_size')}B")
    elif name == "key_update":
        parts.append(str(fields.get("request_update")))
    if "malformed" in fields:
        parts.append(f"MALFORMED: {fields['malformed']}")
    return "; ".join(p for p in parts if p)


def record_summary(record: TraceRecord) -> str:
    """One line for any record (without side and time)."""
    if isinstance(record, HandshakeMessage):
        arrow = "->" if record.direction == "sent" else "<-"
        detail = message_summary(record.name, record.fields)
        lock = " [encrypted]" if record.protected else ""
        return f"{arrow} {display_name(record.name)} ({record.length}B){lock}" + (f"  {detail}" if detail else "")
    if isinstance(record, RecordBoundary):
        arrow = "->" if record.direction == "sent" else "<-"
        inner = f" (inner {record.inner_type})" if record.inner_type and record.inner_type != record.content_type else ""
        return f"{arrow} record {record.content_type} {record.length}B{' protected' if record.protected else ''}{inner}"
    if isinstance(record, KeyScheduleStep):
        label = f' "{record.label}"' if record.label else ""
        value = f" = {record.value}" if record.value else ""
        return f"key schedule: {record.operation} {record.secret}{label}{value}"
    if isinstance(record, KeysInUse):
        return f"keys: {record.direction} now under {record.epoch} keys ({record.cipher_suite})"
    if isinstance(record, HelloRetry):
        return f"HelloRetryRequest: {record.reason}{' (with a cookie)' if record.cookie else ''}"
    if isinstance(record, Check):
        return f"{'verified' if record.ok else 'FAILED'} {record.what}" + (f": {record.detail}" if record.detail else "")
    if isinstance(record, Alert):
        who = "sent" if record.direction == "sent" else "received"
        reason = f" ({record.reason})" if record.reason else ""
        return f"alert {who}: {record.level} {record.description}{reason}"
    if isinstance(record, StateChange):
        return f"state {record.old} -> {record.new}"
    if isinstance(record, Negotiated):
        parts = [record.version, record.cipher_suite]
        for label, value in (("group", record.group), ("sig", record.signature_scheme), ("alpn", record.alpn), ("sni", record.server_name)):
            if value:
                parts.append(f"{label} {value}")
        if record.resumed:
            parts.append("resumed")
        return "negotiated: " + ", ".join(parts)
    return repr(record)


def extension_lines(fields: Mapping[str, Any]) -> list[str]:
    """One line per extension: ``name: value`` with GREASE/unknown marks."""
    lines = []
    for entry in fields.get("extensions") or ():
        if not isinstance(entry, Mapping):
            continue
        if "value" in entry:
            value = entry["value"]
            shown = ", ".join(_item(v) for v in value) if isinstance(value, list) else _item(value)
        else:
            shown = f"{entry.get('length', '?')} bytes"
        mark = " [GREASE]" if entry.get("grease") else " [unknown]" if entry.get("unknown") else ""
        if "malformed" in entry:
            mark += f" [malformed: {entry['malformed']}]"
        lines.append(f"{entry.get('name')}{mark}: {shown}")
    return lines


def _item(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
