"""``ca.json``: what a CA directory is (name, key type, intermediate?, encrypted?, policy, URLs)."""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass, field

from tlskit.ca.errors import CAError
from tlskit.ca.keys import check_key_type
from tlskit.ca.policy import NamePolicy

#: 1: name constraints were permit_dns only; 2: the full NamePolicy and the CRL/AIA URLs.
CONFIG_FORMAT = 2


def check_url(url: str | None, what: str) -> str | None:
    """An http(s) base URL without a trailing slash (None stays None)."""
    if url is None or url == "":
        return None
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not url.isascii() or not url.isprintable():
        raise CAError(f"bad {what} {url!r} (an http:// or https:// URL)")
    if parts.query or parts.fragment or " " in url:
        raise CAError(f"bad {what} {url!r} (no query or fragment)")
    return url.rstrip("/")


@dataclass(frozen=True)
class CAConfig:
    name: str
    key_type: str
    intermediate: bool
    encrypted: bool
    permit_dns: tuple[str, ...]
    created: str
    policy: NamePolicy = field(default_factory=NamePolicy)
    crl_url: str | None = None
    aia_url: str | None = None

    def to_json(self) -> bytes:
        data = {
            "format": CONFIG_FORMAT,
            "name": self.name,
            "key_type": self.key_type,
            "intermediate": self.intermediate,
            "encrypted": self.encrypted,
            "permit_dns": list(self.permit_dns),
            "created": self.created,
            "name_constraints": self.policy.to_json(),
            "crl_url": self.crl_url,
            "aia_url": self.aia_url,
        }
        return (json.dumps(data, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, path: pathlib.Path) -> "CAConfig":
        try:
            raw = json.loads(data)
            version = raw.get("format", 1)
            if not isinstance(version, int) or version > CONFIG_FORMAT:
                raise CAError(f"CA configuration {path} was written by a newer tlskit (format {version})")
            # bool("false") is True: a hand-edited flag must be a JSON boolean
            if not isinstance(raw["intermediate"], bool) or not isinstance(raw["encrypted"], bool):
                raise TypeError("intermediate and encrypted must be true or false")
            permit_dns = tuple(str(n) for n in raw.get("permit_dns") or ())
            constraints = raw.get("name_constraints")
            if constraints is None:
                # format 1 stored "corp.test" for --permit-dns .corp.test: keep what it meant
                policy = NamePolicy.build(permit_dns=[n.lstrip(".") for n in permit_dns])
            elif isinstance(constraints, dict):
                policy = NamePolicy.from_json(constraints)
            else:
                raise TypeError("name_constraints must be an object")
            return cls(
                name=str(raw["name"]),
                key_type=check_key_type(str(raw["key_type"])),
                intermediate=raw["intermediate"],
                encrypted=raw["encrypted"],
                permit_dns=permit_dns,
                created=str(raw.get("created", "")),
                policy=policy,
                crl_url=check_url(raw.get("crl_url"), "CRL URL"),
                aia_url=check_url(raw.get("aia_url"), "AIA URL"),
            )
        except CAError as exc:
            if "newer tlskit" in str(exc):
                raise
            raise CAError(f"CA configuration {path} is damaged ({exc})") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CAError(f"CA configuration {path} is damaged") from None
