"""Certificate profiles: which extensions a root, an intermediate and a leaf get.

The CA alone chooses extensions; a CSR only contributes its public key, subject
common name and subject alternative names (so a CSR cannot ask for CA=true).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tlskit.ca.errors import CAError
from tlskit.ca.keys import PublicKey

#: server: TLS serverAuth; client: TLS clientAuth (mTLS); both; email: S/MIME
#: (emailProtection, RFC 8550/8551), chosen by default for a NAME that is an email address.
PROFILES: tuple[str, ...] = ("server", "client", "both", "email")
#: At most this many subject alternative names per certificate (a CSR or --san list
#: beyond it is refused): enough for any real service, small enough to keep issuance
#: and every verifier's name-constraint check fast.
MAX_SANS = 1000

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_SAFE_FILE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$")
# Backdate notBefore so that peers with a slightly slow clock accept a fresh certificate.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise CAError(f"unknown profile {profile!r} (choose one of: {', '.join(PROFILES)})")
    return profile


def check_days(days: int) -> int:
    """Whole days, 1 to 36500 (``tlskit.ca.policy.parse_duration`` takes shorter periods)."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 1 or days > 36500:
        raise CAError(f"validity must be between 1 and 36500 days, not {days!r}")
    return days


def dns_name(text: str, *, allow_wildcard: bool = True) -> str:
    """``text`` as a lowercase A-label host name (``*.`` allowed first); CAError otherwise."""
    return _dns_name(text, allow_wildcard=allow_wildcard)


def _dns_name(text: str, *, allow_wildcard: bool = True) -> str:
    name = text.rstrip(".")
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise CAError(f"bad DNS name {text!r}") from None
    labels = name.split(".")
    if allow_wildcard and labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise CAError(f"bad DNS name {text!r} (letters, digits, hyphens; '*.' only as the first label)")
    return name.lower()


def looks_like_host(name: str) -> bool:
    """Whether a certificate NAME should default to being its own SAN."""
    try:
        ipaddress.ip_address(name)
        return "%" not in name
    except ValueError:
        pass
    try:
        _dns_name(name)
        return True
    except CAError:
        return False


def looks_like_email(name: str) -> bool:
    return bool(_EMAIL.fullmatch(name)) and name.isascii() and name.isprintable()


def default_sans(name: str) -> list[str]:
    """NAME itself when it is a host name or IP address (or an email address)."""
    if looks_like_host(name):
        return [name]
    if _EMAIL.fullmatch(name) and name.isascii() and name.isprintable():
        return [f"email:{name}"]
    return []


def parse_san(text: str) -> x509.GeneralName:
    """``DNS:x``, ``IP:x``, ``email:x``, ``URI:x``, or a bare value whose kind is guessed."""
    if not isinstance(text, str) or not text.strip():
        raise CAError("empty subject alternative name")
    text = text.strip()
    kind, sep, value = text.partition(":")
    kind = kind.lower()
    if sep and kind in ("dns", "ip", "email", "uri"):
        if not value:
            raise CAError(f"empty value in subject alternative name {text!r}")
    else:
        value = text
        if "://" in text:
            kind = "uri"
        elif "@" in text:
            kind = "email"
        else:
            try:
                ipaddress.ip_address(text)
                kind = "ip"
            except ValueError:
                kind = "dns"
    if kind == "ip":
        if "%" in value:
            raise CAError(f"bad IP address {value!r} (zone identifiers cannot go in a certificate)")
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            raise CAError(f"bad IP address {value!r}") from None
    try:
        if kind == "email":
            if not _EMAIL.fullmatch(value) or not (value.isascii() and value.isprintable()):
                raise CAError(f"bad email address {value!r}")
            _dns_name(value.rpartition("@")[2], allow_wildcard=False)
            return x509.RFC822Name(value)
        if kind == "uri":
            if not _URI.fullmatch(value) or not (value.isascii() and value.isprintable()):
                raise CAError(f"bad URI {value!r}")
            return x509.UniformResourceIdentifier(value)
        try:
            ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            # "DNS:127.0.0.1" would be a DNS name no resolver or verifier treats as the address.
            raise CAError(f"{value} is an IP address, not a DNS name: use IP:{value}")
        if "," in value:
            raise CAError(f"bad DNS name {value!r}: give each name with its own --san")
        return x509.DNSName(_dns_name(value))
    except CAError as exc:
        if kind == "email" and "DNS name" in str(exc):
            raise CAError(f"bad email address {value!r}") from None
        raise
    except ValueError:  # cryptography's own syntax checks, should ours ever be laxer
        raise CAError(f"bad subject alternative name {text!r}") from None


def check_san_count(count: int) -> None:
    if count > MAX_SANS:
        raise CAError(f"{count} subject alternative names is more than the limit of {MAX_SANS} per certificate")


def unique_sans(names: Iterable[x509.GeneralName]) -> list[x509.GeneralName]:
    """``names`` without repeats, first occurrence kept: linear time (GeneralName hashes)."""
    seen: set[x509.GeneralName] = set()
    result: list[x509.GeneralName] = []
    for name in names:
        if name not in seen:
            seen.add(name)
            result.append(name)
    check_san_count(len(result))
    return result


def parse_sans(values: Iterable[str]) -> list[x509.GeneralName]:
    values = list(values)
    # Refuse a huge list before parsing it (duplicates are counted: the input is the cost).
    check_san_count(len(values))
    return unique_sans(parse_san(value) for value in values)


def san_text(name: x509.GeneralName) -> str:
    """One SAN as ``DNS:x`` / ``IP:x`` / ``email:x`` / ``URI:x`` for tables and the index."""
    if isinstance(name, x509.DNSName):
        return f"DNS:{name.value}"
    if isinstance(name, x509.IPAddress):
        return f"IP:{name.value}"
    if isinstance(name, x509.RFC822Name):
        return f"email:{name.value}"
    if isinstance(name, x509.UniformResourceIdentifier):
        return f"URI:{name.value}"
    return f"{type(name).__name__}:{getattr(name, 'value', '?')}"


def file_stem(name: str) -> str:
    """The file-name stem for NAME (``*.example.com`` becomes ``wildcard.example.com``)."""
    stem = name[2:] and "wildcard." + name[2:] if name.startswith("*.") else name
    if not _SAFE_FILE_STEM.fullmatch(stem) or ".." in stem:
        raise CAError(
            f"name {name!r} cannot be used as a file name (letters, digits, '.', '_', '@', '+', '-')"
        )
    return stem


def subject_name(common_name: str) -> x509.Name:
    if not common_name or len(common_name) > 64:
        raise CAError(f"common name must be 1 to 64 characters, not {len(common_name)}")
    if not common_name.isprintable():
        raise CAError(f"common name {common_name!r} contains control characters")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def common_name_of(name: x509.Name) -> str:
    """The first CN of a name, unescaped ("" when there is none)."""
    try:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return ""
    return str(values[0].value) if values else ""


def _key_usage(*, digital_signature: bool, key_encipherment: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def name_constraints(permit_dns: Sequence[str] | None) -> x509.NameConstraints | None:
    if not permit_dns:
        return None
    subtrees = [x509.DNSName(_dns_name(name.lstrip("."), allow_wildcard=False)) for name in permit_dns]
    return x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    serial: int,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.CertificateBuilder:
    """The part every certificate shares: names, key, serial and validity."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def ca_builder(
    subject: x509.Name,
    public_key: PublicKey,
    *,
    issuer: x509.Name,
    issuer_public_key: PublicKey,
    serial: int,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    path_length: int,
    permit_dns: Sequence[str] | None,
    constraints: x509.NameConstraints | None = None,
    crl_url: str | None = None,
    aia_url: str | None = None,
) -> x509.CertificateBuilder:
    """A CA certificate; ``constraints`` (or the older ``permit_dns``) become critical
    nameConstraints; ``crl_url``/``aia_url`` point at the issuer's CRL and certificate."""
    builder = (
        _builder(subject, issuer, public_key, serial, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(digital_signature=True, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer_public_key is not public_key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False
        )
    if constraints is None:
        constraints = name_constraints(permit_dns)
    if constraints is not None:
        builder = builder.add_extension(constraints, critical=True)
    return _add_urls(builder, crl_url, aia_url)


def _add_urls(builder: x509.CertificateBuilder, crl_url: str | None, aia_url: str | None) -> x509.CertificateBuilder:
    """RFC 5280 4.2.1.13 cRLDistributionPoints and 4.2.2.1 authorityInfoAccess caIssuers."""
    if crl_url:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None, crl_issuer=None
        )
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if aia_url:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder


def leaf_builder(
    common_name: str,
    public_key: PublicKey,
    sans: Sequence[x509.GeneralName],
    *,
    profile: str,
    issuer_cert: x509.Certificate,
    serial: int,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    crl_url: str | None = None,
    aia_url: str | None = None,
) -> x509.CertificateBuilder:
    check_profile(profile)
    if profile in ("server", "both") and not sans:
        raise CAError("a server certificate needs at least one subject alternative name (--san)")
    if profile == "email" and not any(isinstance(s, x509.RFC822Name) for s in sans):
        raise CAError("an S/MIME (email) certificate needs an email address (--san email:...)")
    usages = {
        "server": [ExtendedKeyUsageOID.SERVER_AUTH],
        "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
        "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        "email": [ExtendedKeyUsageOID.EMAIL_PROTECTION],
    }[profile]
    # RSA key transport is gone from TLS 1.3 but TLS 1.2 peers still want keyEncipherment.
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    builder = (
        _builder(subject_name(common_name), issuer_cert.subject, public_key, serial, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),  # type: ignore[arg-type]  # an issuer (CA) key; stubs type any certificate key
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return _add_urls(builder, crl_url, aia_url)


def validity(
    days: int | None,
    *,
    now: datetime.datetime,
    limit: datetime.datetime | None = None,
    duration: datetime.timedelta | None = None,
) -> tuple[datetime.datetime, datetime.datetime]:
    """(notBefore, notAfter): backdated for clock skew, never outliving ``limit`` (the issuer).

    ``duration`` (minutes are fine) replaces ``days`` when given; callers that must tell
    the user about a cut compare the result with ``now + duration``.
    """
    if duration is None:
        duration = datetime.timedelta(days=check_days(days if days is not None else 0))
    not_before = now - CLOCK_SKEW
    not_after = now + duration
    if limit is not None and not_after > limit:
        not_after = limit
    return not_before.replace(microsecond=0), not_after.replace(microsecond=0)


def check_permitted(sans: Sequence[x509.GeneralName], permit_dns: Sequence[str] | None) -> None:
    """Refuse names the CA's own name constraints would make invalid anyway."""
    if not permit_dns:
        return
    allowed = [_dns_name(name.lstrip("."), allow_wildcard=False) for name in permit_dns]
    for san in sans:
        if isinstance(san, x509.DNSName):
            host = san.value.lower()
            if host.startswith("*."):
                host = host[2:]
            if not any(host == base or host.endswith("." + base) for base in allowed):
                raise CAError(f"{san.value} is outside this CA's permitted DNS names ({', '.join(allowed)})")
