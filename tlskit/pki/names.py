"""Names: reference identities (RFC 6125), SAN matching and name-constraint subtrees.

Policy (docs/pki.md):
* DNS matching is ASCII case-insensitive, one trailing dot on the reference is ignored
  (a presented dNSName with a trailing dot never matches);
  a wildcard is allowed only as the whole left-most label of a presented name
  (``*.example.com``), matches exactly one non-empty label, and needs at least two labels
  after it (``*.com`` never matches). Partial wildcards (``f*o``, ``xn--*``) never match.
* An IP reference matches only iPAddress SANs (compared as bytes, so any textual IPv6
  form works); a DNS reference never matches an iPAddress SAN and an IP literal never
  matches a dNSName SAN.
* No fallback to the subject CN, ever (SANs are required for server certificates).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from typing import NamedTuple, Union

from cryptography import x509

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class ReferenceName:
    """What the caller expects the peer to be: a DNS name or an IP address.

    Immutable: parse_reference_cached hands the same instance to every caller."""

    __slots__ = ("text", "dns", "ip")

    text: str
    dns: str | None
    ip: IPAddress | None

    def __init__(self, text: str, dns: str | None, ip: IPAddress | None) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "dns", dns)
        object.__setattr__(self, "ip", ip)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ReferenceName is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ReferenceName is immutable")

    def __repr__(self) -> str:
        return f"ReferenceName({self.text!r})"


def parse_ip(text: str) -> IPAddress | None:
    """An IPv4/IPv6 literal (``[::1]`` brackets allowed), or None."""
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if "%" in candidate:  # zone ids never appear in certificates
        return None
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def is_valid_dns_name(name: str, *, allow_wildcard: bool = False) -> bool:
    """Preferred name syntax (letters, digits, hyphens), lowercase ASCII expected."""
    if not name or len(name) > 253 or not name.isascii():
        return False
    labels = name.split(".")
    if allow_wildcard and labels[0] == "*":
        if len(labels) < 3:  # "*.com" / "*" would cover a whole TLD
            return False
        labels = labels[1:]
    # fullmatch: with match(), "$" also matched before a trailing newline ("com\n")
    return all(_LABEL.fullmatch(label) for label in labels)


def parse_reference(server_name: str) -> ReferenceName | None:
    """Parse the expected peer name; None when it is not a usable DNS name or IP literal."""
    ip = parse_ip(server_name)
    if ip is not None:
        return ReferenceName(server_name, None, ip)
    name = server_name[:-1] if server_name.endswith(".") else server_name
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    name = name.lower()
    if not is_valid_dns_name(name):
        return None
    # An all-numeric last label means an IP-looking string that ipaddress refused
    # (e.g. "192.168.001.001"): never treat it as a DNS name.
    if name.rsplit(".", 1)[-1].isdigit():
        return None
    return ReferenceName(server_name, name, None)


@functools.lru_cache(maxsize=256)
def parse_reference_cached(server_name: str) -> ReferenceName | None:
    """parse_reference, memoised: a client checks the same few host names on every
    handshake, and parsing one (an IP attempt, IDNA, label checks) costs more than the
    match itself. A pure function of the string; the result is immutable."""
    return parse_reference(server_name)


def dns_san_matches(presented: str, reference: str) -> bool:
    """RFC 6125 6.4: does a dNSName SAN match the (lower-case, valid) reference?"""
    if not presented.isascii():
        return False
    presented = presented.lower()
    if presented.endswith("."):
        # Only the reference name's trailing dot is ignored (parse_reference): a presented
        # "www.example.com." is not "www.example.com" (OpenSSL, GnuTLS and Go agree).
        return False
    if presented.startswith("*."):
        if not is_valid_dns_name(presented, allow_wildcard=True):
            return False
        rest = presented[1:]  # ".example.com"
        if not reference.endswith(rest):
            return False
        head = reference[: -len(rest)]
        return bool(head) and "." not in head
    return is_valid_dns_name(presented) and presented == reference


def match_reference(sans: list[x509.GeneralName] | None, reference: ReferenceName) -> bool:
    for name in sans or ():
        if reference.ip is not None:
            if isinstance(name, x509.IPAddress) and name.value == reference.ip:
                return True
        elif isinstance(name, x509.DNSName) and reference.dns is not None:
            if dns_san_matches(name.value, reference.dns):
                return True
    return False


class SANIndex(NamedTuple):
    """A certificate's dNSName and iPAddress SANs, prepared once for matching.

    ``exact``: the valid, non-wildcard DNS names (lower case); ``wildcard_parents``: for
    each valid ``*.parent`` name, ``parent``; ``ips``: the iPAddress values. Names that
    can never match (non-ASCII, trailing dot, invalid syntax, partial wildcards) are
    left out, so ``index_matches`` answers exactly as ``match_reference`` does.
    """

    exact: frozenset[str]
    wildcard_parents: frozenset[str]
    ips: frozenset[object]


def san_index(sans: list[x509.GeneralName] | None) -> SANIndex:
    """The SANIndex of a certificate's subjectAltName entries (a pure function of them)."""
    exact: set[str] = set()
    parents: set[str] = set()
    ips: set[object] = set()
    for name in sans or ():
        if isinstance(name, x509.IPAddress):
            ips.add(name.value)
        elif isinstance(name, x509.DNSName):
            presented = name.value
            # the same conditions, in the same order, as dns_san_matches
            if not presented.isascii():
                continue
            presented = presented.lower()
            if presented.endswith("."):
                continue
            if presented.startswith("*."):
                if is_valid_dns_name(presented, allow_wildcard=True):
                    parents.add(presented[2:])
            elif is_valid_dns_name(presented):
                exact.add(presented)
    return SANIndex(frozenset(exact), frozenset(parents), frozenset(ips))


def index_matches(index: SANIndex, reference: ReferenceName) -> bool:
    """``match_reference`` against a prepared SANIndex.

    A wildcard ``*.parent`` matches a reference whose first label is non-empty and has
    no dot and whose remainder is exactly ``parent`` (dns_san_matches); a valid
    reference has no empty label, so that is the part after its first dot.
    """
    if reference.ip is not None:
        return reference.ip in index.ips
    dns = reference.dns
    if dns is None:
        return False
    if dns in index.exact:
        return True
    head, dot, parent = dns.partition(".")
    return bool(dot) and bool(head) and parent in index.wildcard_parents


# -- name constraints ----------------------------------------------------------------


class InvalidConstraint(ValueError):
    """A name-constraint subtree that is not well formed (fails closed)."""


class InvalidName(ValueError):
    """A presented name that cannot be checked against constraints (fails closed)."""


def _dns_constraint_base(value: str) -> str:
    value = value.lower()
    if value == "":
        return ""
    if not is_valid_dns_name(value):
        raise InvalidConstraint(f"dNSName constraint {value!r} is not a valid DNS name")
    return value


def _within(name: str, base: str) -> bool:
    """``name`` equals ``base`` or is a subdomain of it (label boundary)."""
    return base == "" or name == base or name.endswith("." + base)


def dns_constraint_covers(constraint: str, name: str, *, excluded: bool) -> bool:
    """Does a dNSName subtree cover presented dNSName ``name``?

    A wildcard SAN ``*.X`` stands for every one-label child of X: a permitted subtree must
    contain all of them (X within the constraint), and an excluded subtree hits it if any
    of them could be excluded (X within the constraint, or the constraint is one label
    below X) -- the Go CVE-2025-61727 lesson.
    """
    base = _dns_constraint_base(constraint)
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    if name.startswith("*."):
        if not is_valid_dns_name(name, allow_wildcard=True):
            raise InvalidName(f"dNSName {name!r} is not a valid wildcard name")
        parent = name[2:]
        if _within(parent, base):
            return True
        if excluded and base.endswith("." + parent) and "." not in base[: -len(parent) - 1]:
            return True
        return False
    if not is_valid_dns_name(name):
        raise InvalidName(f"dNSName {name!r} is not a valid DNS name")
    return _within(name, base)


def ip_constraint_covers(network: ipaddress.IPv4Network | ipaddress.IPv6Network, address: IPAddress) -> bool:
    return network.version == address.version and address in network


def _split_mailbox(value: str) -> tuple[str, str]:
    if value.count("@") != 1:
        raise InvalidName(f"rfc822Name {value!r} is not a mailbox")
    local, domain = value.split("@")
    if not local or not is_valid_dns_name(domain.lower()):
        raise InvalidName(f"rfc822Name {value!r} is not a mailbox")
    return local, domain.lower()


def email_constraint_covers(constraint: str, mailbox: str) -> bool:
    """RFC 5280 4.2.1.10: ``user@host`` exact, ``host`` any mailbox at host, ``.host`` subdomains."""
    local, domain = _split_mailbox(mailbox)
    if "@" in constraint:
        try:
            c_local, c_domain = _split_mailbox(constraint)
        except InvalidName:
            raise InvalidConstraint(f"rfc822Name constraint {constraint!r} is malformed") from None
        return c_local == local and c_domain == domain
    if constraint.startswith("."):
        base = constraint[1:].lower()
        if not is_valid_dns_name(base):
            raise InvalidConstraint(f"rfc822Name constraint {constraint!r} is malformed")
        return domain.endswith("." + base)
    base = constraint.lower()
    if not is_valid_dns_name(base):
        raise InvalidConstraint(f"rfc822Name constraint {constraint!r} is malformed")
    return domain == base


# RFC 4518 2.2 (Map): characters mapped to nothing, and those mapped to SPACE.
_MAP_TO_NOTHING = dict.fromkeys(
    [0x00AD, 0x1806, 0x034F, 0x180B, 0x180C, 0x180D, 0xFFFC, 0x200B, *range(0xFE00, 0xFE10)]
    + [c for c in range(0x00, 0x20) if c not in (0x09, 0x0A, 0x0B, 0x0C, 0x0D)]
    + list(range(0x7F, 0x85)) + list(range(0x86, 0xA0)),
    None,
)
_MAP_TO_SPACE = dict.fromkeys([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000], " ")


def prepare_string(value: str) -> str:
    """RFC 4518 string preparation for caseIgnoreMatch, as RFC 5280 7.1 asks for name
    comparison: map (drop ignorable characters, other spaces become SPACE), case fold,
    normalise (NFKC), then insignificant-space handling (leading and trailing spaces
    dropped, inner runs of spaces collapsed). "OU=Blocked  Unit" and "ou=BLOCKED UNIT"
    both prepare to "blocked unit"."""
    mapped = value.translate(_MAP_TO_NOTHING).translate(_MAP_TO_SPACE)
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", mapped).casefold())
    return " ".join(part for part in folded.split(" ") if part)


def _rdn_key(rdn: x509.RelativeDistinguishedName) -> frozenset[tuple[str, object]]:
    """An RDN as a set of (attribute type, prepared value): the comparison ignores the
    string type (PrintableString vs UTF8String), case and insignificant spaces."""
    key = set()
    for attribute in rdn:
        value = attribute.value
        prepared: object = prepare_string(value) if isinstance(value, str) else bytes(value)
        key.add((attribute.oid.dotted_string, prepared))
    return frozenset(key)


def directory_name_covers(constraint: x509.Name, name: x509.Name) -> bool:
    """The subtree is the constraint's RDN sequence as a prefix of the name's, attribute
    values compared after RFC 4518 preparation (RFC 5280 7.1), so that a case or spacing
    variant cannot escape an excluded subtree (nor be refused by a permitted one)."""
    prefix = constraint.rdns
    rdns = name.rdns
    return len(prefix) <= len(rdns) and all(_rdn_key(a) == _rdn_key(b) for a, b in zip(prefix, rdns))
