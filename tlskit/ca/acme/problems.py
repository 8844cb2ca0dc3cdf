"""ACME problem documents (RFC 8555 section 6.7, RFC 7807).

Every refusal of the ACME server is an :class:`AcmeProblem`: the request handler
turns it into an ``application/problem+json`` response with the HTTP status the
RFC (or common practice among ACME servers, where the RFC is silent) gives it.
"""

from __future__ import annotations

from typing import Any

ERROR_NAMESPACE = "urn:ietf:params:acme:error:"

#: RFC 8555 section 6.7 error types and the HTTP status each is sent with.
STATUS = {
    "accountDoesNotExist": 400,
    "alreadyRevoked": 400,
    "badCSR": 400,
    "badNonce": 400,
    "badPublicKey": 400,
    "badRevocationReason": 400,
    "badSignatureAlgorithm": 400,
    "caa": 403,
    "compound": 400,
    "connection": 400,
    "dns": 400,
    "externalAccountRequired": 400,
    "incorrectResponse": 400,
    "invalidContact": 400,
    "malformed": 400,
    "orderNotReady": 403,
    "rateLimited": 429,
    "rejectedIdentifier": 400,
    "serverInternal": 500,
    "tls": 400,
    "unauthorized": 403,
    "unsupportedContact": 400,
    "unsupportedIdentifier": 400,
    "userActionRequired": 403,
}


class AcmeProblem(Exception):
    """An ACME error: ``kind`` is the RFC 8555 error type without its URN prefix."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        if kind not in STATUS:
            raise ValueError(f"unknown ACME error type {kind!r}")
        self.kind = kind
        self.detail = detail
        self.status = status if status is not None else STATUS[kind]
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def type(self) -> str:
        return ERROR_NAMESPACE + self.kind

    def document(self) -> dict[str, Any]:
        """The JSON problem document (also embedded in failed challenges and orders)."""
        doc: dict[str, Any] = {"type": self.type, "detail": self.detail, "status": self.status}
        doc.update(self.extra)
        return doc

    def __repr__(self) -> str:
        return f"AcmeProblem({self.kind!r}, {self.detail!r}, status={self.status})"
