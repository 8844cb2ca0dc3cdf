"""ACME identifiers: ``dns`` (RFC 8555 section 9.7.7) and ``ip`` (RFC 8738 section 3).

An identifier is kept in one canonical form (DNS names lowercased without a final
dot; IP addresses in the text form RFC 8738 asks for: RFC 1123 for IPv4, RFC 5952
for IPv6), so the names of an order, of a CSR and of a certificate compare as sets.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Iterable

from cryptography import x509

from tlskit.ca.acme.problems import AcmeProblem

#: at most this many identifiers in one order (Let's Encrypt's limit too)
MAX_IDENTIFIERS = 100

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _dns_name(value: str) -> str:
    name = value.lower()
    if name.endswith("."):
        name = name[:-1]
    if name.startswith("*."):
        # RFC 8555 section 7.1.3: a wildcard can be validated by dns-01 only, not offered here
        raise AcmeProblem(
            "rejectedIdentifier", f"{value}: wildcard names need dns-01, which this server does not offer"
        )
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise AcmeProblem("malformed", f"{value} is an IP address: use an identifier of type ip (RFC 8738)")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise AcmeProblem("rejectedIdentifier", f"{value!r} is not a valid DNS name")
    if name.split(".")[-1].isdigit():
        raise AcmeProblem("rejectedIdentifier", f"{value!r}: a DNS name cannot end in a numeric label")
    return name


def _ip_address(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise AcmeProblem("malformed", f"{value!r} is not an IP address") from None
    if str(address) != value:
        # RFC 8738 section 3: the value is the address in its canonical text form
        raise AcmeProblem("malformed", f"{value!r} is not the canonical form of {address}")
    return str(address)


def parse_identifier(obj: Any) -> tuple[str, str]:
    """(type, canonical value) of one identifier object from a request."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or not isinstance(obj.get("value"), str):
        raise AcmeProblem("malformed", "an identifier is an object with string members type and value")
    kind, value = obj["type"], obj["value"]
    if kind == "dns":
        return kind, _dns_name(value)
    if kind == "ip":
        return kind, _ip_address(value)
    raise AcmeProblem("unsupportedIdentifier", f"identifier type {kind!r} is not supported (dns and ip are)")


def parse_identifiers(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value:
        raise AcmeProblem("malformed", "identifiers must be a non-empty list")
    if len(value) > MAX_IDENTIFIERS:
        raise AcmeProblem("rejectedIdentifier", f"at most {MAX_IDENTIFIERS} identifiers per order")
    result: list[tuple[str, str]] = []
    for obj in value:
        ident = parse_identifier(obj)
        if ident not in result:
            result.append(ident)
    return result


def to_general_name(ident: tuple[str, str]) -> x509.GeneralName:
    kind, value = ident
    if kind == "ip":
        return x509.IPAddress(ipaddress.ip_address(value))
    return x509.DNSName(value)


def from_general_names(names: Iterable[x509.GeneralName]) -> set[tuple[str, str]]:
    """The identifiers named by SAN entries; other entry types are refused."""
    found: set[tuple[str, str]] = set()
    for name in names:
        if isinstance(name, x509.DNSName):
            found.add(("dns", name.value.lower().rstrip(".")))
        elif isinstance(name, x509.IPAddress) and isinstance(
            name.value, (ipaddress.IPv4Address, ipaddress.IPv6Address)
        ):
            found.add(("ip", str(name.value)))
        else:
            raise AcmeProblem("badCSR", f"subject alternative names of type {type(name).__name__} are not issued here")
    return found


def as_json(ident: tuple[str, str]) -> dict[str, str]:
    return {"type": ident[0], "value": ident[1]}
