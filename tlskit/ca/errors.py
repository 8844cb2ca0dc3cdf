"""Errors and warnings of the mini-CA."""

from __future__ import annotations

from tlskit.errors import AlertDescription, TLSError


class CAError(TLSError):
    """A CA operation failed; the message is one line, fit for a CLI's stderr.

    It is a :class:`tlskit.errors.TLSError` so that callers catching every tlskit
    failure catch this one too; no TLS peer ever sees it (alert internal_error).
    """

    alert = AlertDescription.internal_error


class CAWarning(UserWarning):
    """Something works but is unsafe (a private key readable by others, an unencrypted CA key)."""
