"""Alert encoding and the TLS 1.3 level rules (RFC 8446 section 6)."""

from __future__ import annotations

from tlskit.errors import AlertDescription, AlertLevel

#: The only alerts that do not end the connection with an error (RFC 8446 6.1).
CLOSURE_ALERTS = frozenset({AlertDescription.close_notify, AlertDescription.user_canceled})


def level_for(description: int) -> AlertLevel:
    """TLS 1.3 sends closure alerts as warnings and everything else as fatal."""
    return AlertLevel.WARNING if description in CLOSURE_ALERTS else AlertLevel.FATAL


def encode_alert(description: int) -> bytes:
    return bytes([level_for(description), description])


def describe(description: int) -> AlertDescription | int:
    try:
        return AlertDescription(description)
    except ValueError:
        return description
