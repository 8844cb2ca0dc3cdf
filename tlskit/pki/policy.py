"""Per-certificate rules: structure, extensions, roles (CA / end entity), validity, names.

Every check raises a :class:`CertificateError` subclass naming the certificate and rule.
Rules that do not depend on time or on the path are cached on the CertInfo.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from typing import Callable, Iterable

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from tlskit.pki import algorithms, names
from tlskit.pki.certinfo import CertInfo
from tlskit.pki.errors import (
    CertificateError,
    Expired,
    MalformedCertificate,
    NameConstraintViolation,
    NameMismatch,
    NotAuthorizedForUsage,
    NotYetValid,
    UnsupportedCriticalExtension,
)

USAGE_EKU = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE

# Extensions tlskit understands. Policy extensions are recognised but not processed (as in
# webpki and pyca): tlskit does no certificate-policy processing.
_KNOWN_EXTENSIONS = {
    oid.dotted_string
    for oid in (
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.SUBJECT_INFORMATION_ACCESS,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.POLICY_CONSTRAINTS,
        ExtensionOID.POLICY_MAPPINGS,
        ExtensionOID.INHIBIT_ANY_POLICY,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
        ExtensionOID.TLS_FEATURE,
        ExtensionOID.SUBJECT_DIRECTORY_ATTRIBUTES,
    )
}
# Recognised, but a *critical* one is refused as unprocessed: the TLS Feature extension
# (RFC 7633 "must-staple") obliges the client to require a stapled OCSP response, and
# tlskit does not validate OCSP responses. Non-critical (how CAs issue it) is ignored.
_REFUSED_WHEN_CRITICAL = {ExtensionOID.TLS_FEATURE.dotted_string}
# RFC 5280: "conforming CAs MUST mark this extension as non-critical".
_MUST_BE_NONCRITICAL = {
    oid.dotted_string
    for oid in (
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.SUBJECT_INFORMATION_ACCESS,
        ExtensionOID.FRESHEST_CRL,
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS,
        # RFC 5280 4.2.1.8: "This extension MUST be non-critical."
        ExtensionOID.SUBJECT_DIRECTORY_ATTRIBUTES,
    )
}
# RFC 5280: "conforming CAs MUST mark this extension as critical".
_MUST_BE_CRITICAL = {ExtensionOID.POLICY_CONSTRAINTS.dotted_string, ExtensionOID.INHIBIT_ANY_POLICY.dotted_string}


def _cached(info: CertInfo, key: str, check: Callable[[CertInfo], None]) -> None:
    """Run a time-independent check once per CertInfo, replaying its error afterwards."""
    store = info.__dict__.setdefault("_verdicts", {})
    if key not in store:
        try:
            check(info)
            store[key] = None
        except CertificateError as exc:
            store[key] = exc
    error = store[key]
    if error is not None:
        # Drop the old traceback: re-raising a cached instance would otherwise grow it.
        raise error.with_traceback(None)


# -- rules for every certificate on a path ---------------------------------------------


def _touch_fields(info: CertInfo) -> None:
    """Parse every field cryptography decodes lazily, so that hostile bytes fail here
    with a typed error instead of as a ValueError deep inside a later rule."""
    cert = info.cert
    try:
        cert.version
        cert.serial_number
        cert.issuer.rdns
        cert.subject.rdns
        info.not_before
        info.not_after
        cert.signature_algorithm_oid
    except Exception as exc:
        raise info.malformed(f"certificate field does not parse: {exc}") from None
    info.extensions  # raises MalformedCertificate itself
    info.spki_der  # and so do the raw DER fields


def _check_structure(info: CertInfo) -> None:
    _touch_fields(info)
    cert = info.cert
    if cert.version != x509.Version.v3:
        raise MalformedCertificate("only X.509 v3 certificates are accepted", cert, rule="version")
    if info.issuer_empty:
        raise MalformedCertificate("issuer name is empty", cert, rule="rfc5280-4.1.2.4")
    if info.inner_signature_algorithm.raw != info.signature_algorithm.raw:
        raise MalformedCertificate(
            "signature algorithm inside the TBS differs from the outer one", cert, rule="rfc5280-4.1.1.2"
        )
    for oid, ext in info.extensions.items():
        if ext.critical and oid not in _KNOWN_EXTENSIONS:
            raise UnsupportedCriticalExtension(f"unknown critical extension {oid}", cert, rule="rfc5280-4.2")
        if ext.critical and oid in _REFUSED_WHEN_CRITICAL:
            raise UnsupportedCriticalExtension(
                "critical TLS Feature extension (must-staple, RFC 7633) is not processed: tlskit does not validate OCSP staples",
                cert,
                rule="rfc7633",
            )
        if ext.critical and oid in _MUST_BE_NONCRITICAL:
            raise MalformedCertificate(f"extension {getattr(ext.oid, '_name', oid)} must not be critical", cert, rule="rfc5280-4.2")
        if not ext.critical and oid in _MUST_BE_CRITICAL:
            raise MalformedCertificate(f"extension {getattr(ext.oid, '_name', oid)} must be critical", cert, rule="rfc5280-4.2")
    aki = info.authority_key_identifier
    if aki is not None:
        if aki.key_identifier is None:
            raise MalformedCertificate("authorityKeyIdentifier without keyIdentifier", cert, rule="rfc5280-4.2.1.1")
        if aki.authority_cert_issuer is not None or aki.authority_cert_serial_number is not None:
            raise MalformedCertificate(
                "authorityKeyIdentifier names an issuer and serial (CA/B Forum: keyIdentifier only)",
                cert,
                rule="rfc5280-4.2.1.1",
            )
    if info.subject_alt_names is not None:
        san_ext = info.extension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        san_critical = san_ext is not None and san_ext.critical  # present: subject_alt_names is its value
        if not info.subject_alt_names:
            raise MalformedCertificate("subjectAltName is empty", cert, rule="rfc5280-4.2.1.6")
        if info.subject_empty and not san_critical:
            raise MalformedCertificate("subjectAltName must be critical when the subject is empty", cert, rule="rfc5280-4.2.1.6")
        if not info.subject_empty and san_critical:
            raise MalformedCertificate("subjectAltName must not be critical when the subject is set", cert, rule="rfc5280-4.2.1.6")
    elif info.subject_empty:
        raise MalformedCertificate("empty subject and no subjectAltName", cert, rule="rfc5280-4.2.1.6")
    eku = info.extended_key_usage
    if eku is not None and not eku:
        raise MalformedCertificate("extendedKeyUsage is empty", cert, rule="rfc5280-4.2.1.12")
    algorithms.check_public_key(cert)


def check_structure(info: CertInfo) -> None:
    _cached(info, "structure", _check_structure)


def _check_serial(info: CertInfo) -> None:
    cert = info.cert
    serial = cert.serial_number
    if serial <= 0:
        raise MalformedCertificate("serial number must be positive", cert, rule="rfc5280-4.1.2.2")
    if (serial.bit_length() + 8) // 8 > 20:
        raise MalformedCertificate("serial number longer than 20 octets", cert, rule="rfc5280-4.1.2.2")


def _check_issued(info: CertInfo) -> None:
    cert = info.cert
    _check_serial(info)
    if info.authority_key_identifier is None and not info.self_issued:
        raise MalformedCertificate("authorityKeyIdentifier is missing", cert, rule="rfc5280-4.2.1.1")


def check_issued(info: CertInfo) -> None:
    """Rules for certificates whose issuer is checked (not trust anchors, which are taken
    as configured: old roots with serial 0 or no AKI are still usable anchors)."""
    check_structure(info)
    _cached(info, "issued", _check_issued)


def check_validity(info: CertInfo, at: _dt.datetime) -> None:
    # X.509 times have one-second granularity: compare at that granularity, so that
    # notAfter 00:00:00 covers the whole second (x509-limbo rfc5280::validity::*fractional).
    at = at.replace(microsecond=0)
    if at < info.not_before:
        raise NotYetValid(f"not valid before {info.not_before.isoformat()} (checked at {at.isoformat()})", info.cert, rule="validity")
    if at > info.not_after:
        raise Expired(f"expired at {info.not_after.isoformat()} (checked at {at.isoformat()})", info.cert, rule="validity")


# -- role rules --------------------------------------------------------------------------


def _check_ca(info: CertInfo) -> None:
    cert = info.cert
    bc = info.basic_constraints
    if bc is None:
        raise NotAuthorizedForUsage("issuer has no basicConstraints extension", cert, rule="rfc5280-4.2.1.9")
    if not bc.ca:
        raise NotAuthorizedForUsage("issuer is not a CA (basicConstraints cA is false)", cert, rule="rfc5280-4.2.1.9")
    bc_ext = info.extension(ExtensionOID.BASIC_CONSTRAINTS)  # present: bc is its value
    if bc_ext is None or not bc_ext.critical:
        raise NotAuthorizedForUsage("CA basicConstraints must be critical", cert, rule="rfc5280-4.2.1.9")
    ku = info.key_usage
    if ku is not None and not ku.key_cert_sign:
        raise NotAuthorizedForUsage("issuer keyUsage does not allow keyCertSign", cert, rule="rfc5280-4.2.1.3")
    if info.subject_empty:
        raise MalformedCertificate("CA certificate has an empty subject", cert, rule="rfc5280-4.1.2.6")
    if info.subject_key_identifier is None:
        raise MalformedCertificate("CA certificate has no subjectKeyIdentifier", cert, rule="rfc5280-4.2.1.2")
    nc = info.name_constraints
    if nc is not None and not nc.permitted_subtrees and not nc.excluded_subtrees:
        raise MalformedCertificate("nameConstraints with no subtrees", cert, rule="rfc5280-4.2.1.10")


def _check_intermediate(info: CertInfo) -> None:
    if info.key_usage is None:
        # RFC 5280 4.2.1.3: CAs MUST include keyUsage (pyca/cryptography enforces it too).
        # Trust anchors are exempt: they are taken as configured.
        raise NotAuthorizedForUsage("intermediate CA certificate has no keyUsage extension", info.cert, rule="rfc5280-4.2.1.3")


def check_intermediate(info: CertInfo) -> None:
    """Rules for a CA certificate that is not a trust anchor."""
    check_issued(info)
    _cached(info, "intermediate", _check_intermediate)


def check_ca(info: CertInfo) -> None:
    """The certificate may issue certificates (basicConstraints, keyUsage, SKI)."""
    check_structure(info)
    _cached(info, "ca", _check_ca)


def check_ca_usage(info: CertInfo, usage: str) -> None:
    """EKU on a CA restricts what it may issue for; anyExtendedKeyUsage allows everything."""
    eku = info.extended_key_usage
    if eku is not None and USAGE_EKU[usage] not in eku and ANY_EKU not in eku:
        raise NotAuthorizedForUsage(f"issuer extendedKeyUsage does not allow {usage} authentication", info.cert, rule="eku-chaining")


def check_anchor_aki(info: CertInfo) -> None:
    """A self-signed anchor's AKI, when present, must name its own key."""
    aki = info.authority_key_id
    if aki is not None and info.self_issued and aki != info.subject_key_identifier:
        raise MalformedCertificate("self-signed anchor's authorityKeyIdentifier differs from its subjectKeyIdentifier", info.cert, rule="rfc5280-4.2.1.1")


def check_end_entity(info: CertInfo, usage: str, *, pinned: bool = False) -> None:
    """Rules for the leaf in the role ``usage`` ("server" or "client").

    ``pinned``: the leaf itself is in the trust store. It is then taken as configured,
    like any anchor: its AKI is not required and it may be a CA
    certificate, as the self-signed certificates ``openssl req -x509`` makes are.
    """
    if pinned:
        check_structure(info)
        _cached(info, "serial", _check_serial)
    else:
        check_issued(info)
    _cached(info, f"ee-{usage}-{pinned}", lambda i: _check_end_entity(i, usage, pinned))


def _check_end_entity(info: CertInfo, usage: str, pinned: bool) -> None:
    cert = info.cert
    if info.is_ca and not pinned:
        raise NotAuthorizedForUsage("a CA certificate (basicConstraints cA) cannot be the end-entity certificate", cert, rule="ee-not-ca")
    if info.name_constraints is not None and not pinned:
        raise MalformedCertificate("nameConstraints in an end-entity certificate", cert, rule="rfc5280-4.2.1.10")
    ku = info.key_usage
    if ku is not None:
        if ku.key_cert_sign and not pinned:
            raise NotAuthorizedForUsage("end-entity keyUsage asserts keyCertSign", cert, rule="rfc5280-4.2.1.3")
        if not ku.digital_signature:
            raise NotAuthorizedForUsage("keyUsage lacks digitalSignature (needed for TLS 1.3)", cert, rule="tls-ee-key-usage")
    eku = info.extended_key_usage
    if eku is not None and USAGE_EKU[usage] not in eku:
        extra = " (anyExtendedKeyUsage is not accepted on end-entity certificates)" if ANY_EKU in eku else ""
        raise NotAuthorizedForUsage(f"extendedKeyUsage does not include {usage}Auth{extra}", cert, rule="eku")
    if usage == "server" and info.subject_alt_names is None:
        raise MalformedCertificate("server certificate has no subjectAltName", cert, rule="san-required")


def check_server_name(info: CertInfo, server_name: str) -> None:
    # RFC 6125 6.4 against the leaf's SANs, prepared once per certificate (CertInfo.san_index:
    # the same rules as names.match_reference, which tests hold it to); the reference is
    # parsed once per distinct host name.
    reference = names.parse_reference_cached(server_name)
    if reference is None:
        raise _mismatch(info, server_name, "the expected name is not a valid DNS name or IP address")
    if not names.index_matches(info.san_index, reference):
        presented = [_show(n) for n in info.subject_alt_names or () if isinstance(n, (x509.DNSName, x509.IPAddress))]
        listed = ", ".join(presented[:5]) + (f" and {len(presented) - 5} more" if len(presented) > 5 else "")
        raise _mismatch(info, server_name, f"no subjectAltName matches (it has {listed or 'no DNS/IP names'})")


def _mismatch(info: CertInfo, server_name: str, why: str) -> CertificateError:
    return NameMismatch(f"certificate is not valid for {server_name!r}: {why}", info.cert, rule="rfc6125")


# -- name constraints --------------------------------------------------------------------

#: Upper bound on (names x subtrees) comparisons for one constrained certificate:
#: stops the quadratic blow-up of hostile chains (x509-limbo pathological::nc-dos-*).
MAX_CONSTRAINT_CHECKS = 1 << 16


def _subject_names(info: CertInfo, *, is_leaf: bool) -> list[x509.GeneralName]:
    """The names of ``info`` that constraints apply to."""
    out: list[x509.GeneralName] = list(info.subject_alt_names or ())
    if not info.subject_empty:
        out.append(x509.DirectoryName(info.cert.subject))
        for attr in info.cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS):
            if isinstance(attr.value, str):
                out.append(x509.RFC822Name(attr.value))
        sans = info.subject_alt_names
        if is_leaf and not any(isinstance(n, x509.DNSName) for n in sans or ()):
            # A CN that looks like a host name is constrained as a dNSName whenever the SAN
            # has no dNSName (even if it has IP or email names), as OpenSSL and GnuTLS do:
            # tlskit never matches the CN, but RFC 6125 6.4.4 lets other clients fall back
            # to it when no DNS-ID is presented, so it must not escape the CA's DNS
            # constraints. An IP-literal CN is constrained as an iPAddress only when there
            # is no SAN at all (OpenSSL and BetterTLS leave it alone otherwise).
            for attr in info.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
                value = attr.value if isinstance(attr.value, str) else ""
                ip = names.parse_ip(value)
                if ip is not None:
                    if sans is None:
                        out.append(x509.IPAddress(ip))
                    continue
                host = value.lower()[:-1] if value.endswith(".") else value.lower()
                if names.is_valid_dns_name(host):
                    out.append(x509.DNSName(value))
    return out


def _covers(subtree: x509.GeneralName, name: x509.GeneralName, *, excluded: bool) -> bool | None:
    """True/False when the subtree applies to the name's type, None for other types."""
    if isinstance(subtree, x509.DNSName):
        if not isinstance(name, x509.DNSName):
            return None
        return names.dns_constraint_covers(subtree.value, name.value, excluded=excluded)
    if isinstance(subtree, x509.IPAddress):
        if not isinstance(name, x509.IPAddress):
            return None
        network, address = subtree.value, name.value
        if not isinstance(network, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            raise names.InvalidConstraint("iPAddress constraint is not an address/mask pair")
        if not isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            raise names.InvalidName("iPAddress SAN is a network, not an address")
        return names.ip_constraint_covers(network, address)
    if isinstance(subtree, x509.RFC822Name):
        if not isinstance(name, x509.RFC822Name):
            return None
        return names.email_constraint_covers(subtree.value, name.value)
    if isinstance(subtree, x509.DirectoryName):
        if not isinstance(name, x509.DirectoryName):
            return None
        return names.directory_name_covers(subtree.value, name.value)
    if isinstance(subtree, x509.OtherName):
        if not isinstance(name, x509.OtherName):
            return None
        return subtree.type_id == name.type_id and (not subtree.value or subtree.value == name.value)
    if type(subtree) is type(name):
        # URI / registeredID subtrees: tlskit cannot evaluate them, so it fails closed.
        raise names.InvalidConstraint(f"{type(subtree).__name__} name constraints are not supported")
    return None


def check_name_constraints(issuer: CertInfo, subject: CertInfo, *, is_leaf: bool) -> None:
    """Apply ``issuer``'s nameConstraints to ``subject``'s names (RFC 5280 6.1.3 b/c)."""
    nc = issuer.name_constraints
    if nc is None:
        return
    permitted = list(nc.permitted_subtrees or ())
    excluded = list(nc.excluded_subtrees or ())
    subject_names = _subject_names(subject, is_leaf=is_leaf)
    if len(subject_names) * (len(permitted) + len(excluded)) > MAX_CONSTRAINT_CHECKS:
        raise NameConstraintViolation("too many names x constraints to check", subject.cert, rule="nc-work-limit")
    try:
        for name in subject_names:
            for subtree in excluded:
                if _covers(subtree, name, excluded=True):
                    raise NameConstraintViolation(
                        f"{_show(name)} is in an excluded subtree {_show(subtree)} of {_issuer_label(issuer)}",
                        subject.cert,
                        rule="rfc5280-4.2.1.10",
                    )
            verdicts = [_covers(subtree, name, excluded=False) for subtree in permitted]
            applicable = [v for v in verdicts if v is not None]
            if applicable and not any(applicable):
                raise NameConstraintViolation(
                    f"{_show(name)} is outside the permitted subtrees of {_issuer_label(issuer)}",
                    subject.cert,
                    rule="rfc5280-4.2.1.10",
                )
    except names.InvalidConstraint as exc:
        raise NameConstraintViolation(str(exc), issuer.cert, rule="rfc5280-4.2.1.10") from None
    except names.InvalidName as exc:
        raise NameConstraintViolation(f"{exc} (under name constraints)", subject.cert, rule="rfc5280-4.2.1.10") from None


def _issuer_label(issuer: CertInfo) -> str:
    try:
        return repr(issuer.cert.subject.rfc4514_string())
    except Exception:
        return "the issuer"


def _show(name: x509.GeneralName) -> str:
    value = name.value
    if isinstance(value, x509.Name):
        value = value.rfc4514_string()
    return f"{type(name).__name__}({value!s})"


def iter_constrained(path: Iterable[CertInfo]) -> Iterable[tuple[CertInfo, bool]]:
    """(cert, is_leaf) for the certs below a CA that its constraints apply to."""
    for index, info in enumerate(path):
        if index == 0:
            yield info, True
        elif not info.self_issued:
            yield info, False
