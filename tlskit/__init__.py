"""tlskit: TLS 1.3 with pluggable crypto providers and a bundled certificate authority."""

from __future__ import annotations

from tlskit.errors import AlertDescription, AlertLevel, TLSError

__version__ = "0.1.0"

__all__ = ["AlertDescription", "AlertLevel", "TLSError", "__version__"]
