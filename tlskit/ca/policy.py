"""The CA's issuance policy: name constraints and validity periods.

Name constraints are written into the root and intermediate (critical nameConstraints,
RFC 5280 4.2.1.10) *and* enforced when issuing, so a name the certificate chain would
make invalid is refused with a clear message instead of producing a certificate that
every verifier rejects.

Matching rules (RFC 5280 4.2.1.10):

* DNS ``corp.test`` covers ``corp.test`` and every name below it. RFC 5280 gives a leading
  dot no meaning for DNS names (x509-limbo's ``invalid-dnsname-leading-period``: strict
  verifiers reject such a constraint), so ``--permit-dns .corp.test`` -- only names below
  corp.test -- is enforced by the CA at issuance, while the certificate carries the nearest
  valid constraint, ``corp.test``. An excluded DNS subtree always covers the domain itself:
  a leading dot there is refused rather than silently widened.
* IP ``10.0.0.0/8`` (an address alone is a /32 or /128) covers the addresses in it.
* email ``bob@corp.test`` is that mailbox, ``corp.test`` any mailbox at that host (not
  below it), ``.corp.test`` any mailbox at a host below it.
* URI constraints apply to the URI's host: ``corp.test`` that host, ``.corp.test`` hosts
  below it; a URI without a host (``urn:...``) satisfies no URI constraint.

Excluded subtrees win over permitted ones; for each name type with permitted subtrees,
a name of that type must be in one of them (types without permitted subtrees are free).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from cryptography import x509

from tlskit.ca.errors import CAError
from tlskit.ca.profiles import dns_name, san_text

_KINDS = ("dns", "ip", "email", "uri")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: Shortest certificate lifetime (the notBefore backdating for clock skew is extra).
MIN_VALIDITY = datetime.timedelta(minutes=1)
MAX_VALIDITY = datetime.timedelta(days=36500)


def parse_duration(text: str | int | datetime.timedelta) -> datetime.timedelta:
    """``15m``, ``12h``, ``90d``, ``2w``, ``1d12h`` or plain seconds; 1 minute to 100 years."""
    if isinstance(text, datetime.timedelta):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = datetime.timedelta(seconds=text)
    elif isinstance(text, str) and text.strip():
        compact = text.strip().lower().replace(" ", "")
        if compact.isdigit():
            value = datetime.timedelta(seconds=int(compact))
        else:
            parts = _DURATION.findall(compact)
            if not parts or "".join(n + u for n, u in parts) != compact:
                raise CAError(f"bad duration {text!r} (examples: 15m, 12h, 90d, 2w, 1d12h)")
            value = datetime.timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))
    else:
        raise CAError(f"bad duration {text!r} (examples: 15m, 12h, 90d, 2w, 1d12h)")
    if not MIN_VALIDITY <= value <= MAX_VALIDITY:
        raise CAError(f"validity must be between 1 minute and 36500 days, not {text!r}")
    return value


def format_duration(value: datetime.timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_fraction(text: str) -> float:
    """``1/3``, ``0.25`` or ``25%``: the share of a lifetime left when renewal is due."""
    value: float
    try:
        raw = text.strip()
        if raw.endswith("%"):
            value = float(raw[:-1]) / 100
        elif "/" in raw:
            num, _, den = raw.partition("/")
            value = int(num) / int(den)
        else:
            value = float(raw)
    except (ValueError, ZeroDivisionError):
        raise CAError(f"bad fraction {text!r} (examples: 1/3, 0.25, 25%)") from None
    if not 0 < value < 1:
        raise CAError(f"--before must be a fraction between 0 and 1, not {text!r}")
    return value


def _dns_base(text: str, what: str) -> str:
    """A DNS subtree: an optional leading dot and a valid host name (A-labels)."""
    value = text.strip()
    dot = value.startswith(".")
    try:
        host = dns_name(value[1:] if dot else value, allow_wildcard=False)
    except CAError:
        raise CAError(f"bad {what} constraint {text!r} (a domain, optionally with a leading dot)") from None
    return ("." if dot else "") + host


def _in_domain(host: str, base: str) -> bool:
    """``base`` = ``x.y``: host is x.y or below; ``.x.y``: strictly below."""
    host = host.lower().rstrip(".")
    if base.startswith("."):
        return host.endswith(base)
    return host == base or host.endswith("." + base)


def _host_matches(host: str, base: str) -> bool:
    """URI and email constraints (RFC 5280 4.2.1.10): ``host`` that host only, ``.host`` hosts below it."""
    host = host.lower().rstrip(".")
    return host.endswith(base) if base.startswith(".") else host == base


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise CAError(f"bad IP range {text!r} (examples: 10.0.0.0/8, 192.168.1.5, fd00::/8)") from None


def _email(text: str) -> str:
    value = text.strip()
    if "@" in value:
        local, _, host = value.rpartition("@")
        if not local or "@" in local or not local.isprintable() or not local.isascii():
            raise CAError(f"bad email constraint {text!r}")
        return f"{local}@{_dns_base(host, 'email').lstrip('.')}"
    return _dns_base(value, "email")


@dataclass(frozen=True)
class NamePolicy:
    """Permitted and excluded subtrees per name type (strings, normalised)."""

    permit_dns: tuple[str, ...] = ()
    exclude_dns: tuple[str, ...] = ()
    permit_ip: tuple[str, ...] = ()
    exclude_ip: tuple[str, ...] = ()
    permit_email: tuple[str, ...] = ()
    exclude_email: tuple[str, ...] = ()
    permit_uri: tuple[str, ...] = ()
    exclude_uri: tuple[str, ...] = ()

    @classmethod
    def build(cls, **values: Iterable[str] | None) -> "NamePolicy":
        """Validate and normalise; unknown keys are a programming error (TypeError)."""
        normalised: dict[str, tuple[str, ...]] = {}
        for key, raw in values.items():
            if key not in cls.__dataclass_fields__:
                raise TypeError(f"unknown name-constraint field {key}")
            kind = key.split("_", 1)[1]
            items: list[str] = []
            for text in raw or ():
                if not isinstance(text, str) or not text.strip():
                    raise CAError(f"empty {kind} constraint")
                if kind == "dns":
                    value = _dns_base(text, "DNS")
                    if value.startswith(".") and key == "exclude_dns":
                        raise CAError(
                            f"an excluded DNS subtree covers the domain and everything below it: write"
                            f" {value[1:]!r}, not {text!r} (RFC 5280 4.2.1.10 has no leading dot for DNS names)"
                        )
                elif kind == "ip":
                    value = str(_network(text))
                elif kind == "email":
                    value = _email(text)
                else:
                    value = _dns_base(text, "URI")
                if value not in items:
                    items.append(value)
            normalised[key] = tuple(items)
        return cls(**normalised)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f"{p}_{k}") for p in ("permit", "exclude") for k in _KINDS)

    def to_json(self) -> dict[str, list[str]]:
        return {f"{p}_{k}": list(getattr(self, f"{p}_{k}")) for p in ("permit", "exclude") for k in _KINDS}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "NamePolicy":
        values = {}
        for p in ("permit", "exclude"):
            for k in _KINDS:
                items = raw.get(f"{p}_{k}") or []
                if not isinstance(items, list):
                    raise TypeError(f"{p}_{k} must be a list")
                values[f"{p}_{k}"] = [str(i) for i in items]
        return cls.build(**values)

    # -- the certificate extension ----------------------------------------------------

    def _subtrees(self, prefix: str) -> list[x509.GeneralName]:
        names: list[x509.GeneralName] = []
        # A leading dot is not valid in a dNSName constraint (see the module docstring).
        names += [x509.DNSName(v) for v in dict.fromkeys(v.lstrip(".") for v in getattr(self, f"{prefix}_dns"))]
        names += [x509.IPAddress(ipaddress.ip_network(v)) for v in getattr(self, f"{prefix}_ip")]
        names += [x509.RFC822Name(v) for v in getattr(self, f"{prefix}_email")]
        names += [x509.UniformResourceIdentifier(v) for v in getattr(self, f"{prefix}_uri")]
        return names

    def extension(self) -> x509.NameConstraints | None:
        if self.empty:
            return None
        return x509.NameConstraints(
            permitted_subtrees=self._subtrees("permit") or None,
            excluded_subtrees=self._subtrees("exclude") or None,
        )

    # -- enforcement at issuance --------------------------------------------------------

    def check(self, sans: Sequence[x509.GeneralName]) -> None:
        """CAError naming the first name the constraints forbid."""
        if self.empty:
            return
        for san in sans:
            kind, covers = _matcher(san)
            if kind is None:
                continue
            shown = _show(san)
            for base in getattr(self, f"exclude_{kind}"):
                if covers(base, True):
                    raise CAError(f"{shown} is excluded by this CA's name constraints ({base})")
            permitted = getattr(self, f"permit_{kind}")
            if permitted and not any(covers(base, False) for base in permitted):
                raise CAError(f"{shown} is outside this CA's permitted names ({', '.join(permitted)})")

    def describe(self) -> list[str]:
        lines = []
        for p, word in (("permit", "permitted"), ("exclude", "excluded")):
            for k in _KINDS:
                values = getattr(self, f"{p}_{k}")
                if values:
                    lines.append(f"{word} {k}: {', '.join(values)}")
        below = [v for v in self.permit_dns if v.startswith(".")]
        if below:
            lines.append(
                f"note: {', '.join(below)} (only names below) is enforced when issuing; the certificates say"
                f" {', '.join(v[1:] for v in below)} (RFC 5280 has no leading dot for DNS names)"
            )
        return lines


def _show(san: x509.GeneralName) -> str:
    return san_text(san)


def _matcher(san: x509.GeneralName) -> tuple[str | None, Any]:
    if isinstance(san, x509.DNSName):
        host = san.value.lower()
        # *.x.y stands for every child of x.y: it is inside a subtree when x.y's children are.
        # An excluded subtree one label below x.y also hits it (the Go CVE-2025-61727 lesson).
        if host.startswith("*."):
            parent = host[2:]

            def wildcard(base: str, excluded: bool) -> bool:
                if _in_domain(parent, base) or base == "." + parent:
                    return True
                child = base.lstrip(".")
                return excluded and child.endswith("." + parent) and "." not in child[: -len(parent) - 1]

            return "dns", wildcard
        return "dns", lambda base, excluded: _in_domain(host, base)
    if isinstance(san, x509.IPAddress):
        address = san.value
        return "ip", lambda base, excluded: (
            isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address))
            and address in ipaddress.ip_network(base)
        )
    if isinstance(san, x509.RFC822Name):
        mailbox = san.value
        local, _, host = mailbox.rpartition("@")
        return "email", lambda base, excluded: (
            mailbox.lower() == base.lower() if "@" in base else _host_matches(host, base)
        )
    if isinstance(san, x509.UniformResourceIdentifier):
        host = (urllib.parse.urlsplit(san.value).hostname or "").lower()
        # A URI without a host cannot satisfy a URI constraint (RFC 5280 4.2.1.10).
        return "uri", lambda base, excluded: bool(host) and _host_matches(host, base)
    return None, None
