"""Small shared pieces of the ACME server: the response type, timestamps, ids, key conversion."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass, field
from typing import Any

import josepy
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from tlskit.ca.acme.jws import JWKOKP


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def timestamp(when: datetime.datetime) -> str:
    # RFC 8555 section 7.1: RFC 3339 date-time
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def new_id() -> str:
    return secrets.token_urlsafe(12)


def jwk_of_public_key(public_key: Any) -> josepy.JWK | None:
    if isinstance(public_key, rsa.RSAPublicKey):
        return josepy.JWKRSA(key=public_key)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return josepy.JWKEC(key=public_key)
    if isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return JWKOKP(key=public_key)
    return None
