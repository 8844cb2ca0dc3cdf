"""Challenge validation: ``http-01`` (RFC 8555 section 8.3) and ``tls-alpn-01`` (RFC 8737).

Both connect to the identifier (an IP identifier directly, a DNS name through the
resolver) or, when the server was given a validation address (as Pebble's
``-dnsserver``/``httpPort`` options are used in tests), to that address for every
identifier. Each check is bounded by a timeout and reads a bounded amount, and
every failure is an :class:`AcmeProblem` of the type RFC 8555 section 6.7 names,
which the server records in the challenge's ``error`` field.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from tlskit.ca.acme.problems import AcmeProblem

#: RFC 8737 section 6.1: id-pe-acmeIdentifier
ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
#: RFC 8737 section 6.2: the ALPN protocol of the validation handshake
ACME_TLS_ALPN = "acme-tls/1"
#: the most of an http-01 response body that is read: a key authorization is ~87 bytes
MAX_HTTP01_BODY = 8192


@dataclass(frozen=True)
class Target:
    """What to validate: the identifier, where to connect and the expected key authorization."""

    identifier_type: str  # "dns" or "ip"
    identifier: str
    token: str
    key_authorization: str
    address: str  # host name or IP to connect to
    port: int
    timeout: float = 5.0

    @property
    def host_header(self) -> str:
        # RFC 7230 section 5.4: an IPv6 literal goes in brackets
        if self.identifier_type == "ip" and ":" in self.identifier:
            return f"[{self.identifier}]"
        return self.identifier


def _connection_problem(target: Target, what: str, exc: BaseException) -> AcmeProblem:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return AcmeProblem("connection", f"{what} {target.address}:{target.port} for {target.identifier}: {reason}")


def validate_http01(target: Target) -> None:
    """RFC 8555 section 8.3: GET http://<identifier>/.well-known/acme-challenge/<token>
    must answer 200 with the key authorization (trailing whitespace ignored)."""
    conn = http.client.HTTPConnection(target.address, target.port, timeout=target.timeout)
    try:
        try:
            conn.putrequest("GET", f"/.well-known/acme-challenge/{target.token}", skip_host=True)
            conn.putheader("Host", target.host_header)
            conn.putheader("User-Agent", "tlskit-acme-validator")
            conn.putheader("Accept", "*/*")
            conn.endheaders()
            response = conn.getresponse()
            body = response.read(MAX_HTTP01_BODY + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise _connection_problem(target, "cannot fetch the http-01 resource from", exc) from None
        if response.status != 200:
            raise AcmeProblem(
                "unauthorized",
                f"http-01 for {target.identifier}: the challenge resource answered HTTP {response.status}",
            )
        if len(body) > MAX_HTTP01_BODY:
            raise AcmeProblem("unauthorized", f"http-01 for {target.identifier}: the response body is too large")
        received = body.rstrip(b" \t\r\n")
        if received != target.key_authorization.encode("ascii"):
            raise AcmeProblem(
                "incorrectResponse",
                f"http-01 for {target.identifier}: the response is not the expected key authorization",
            )
    finally:
        conn.close()


def _sni(target: Target) -> str:
    if target.identifier_type == "ip":
        # RFC 8738 section 6: SNI cannot carry an address; use its reverse-DNS name
        return ipaddress.ip_address(target.identifier).reverse_pointer
    return target.identifier


def _expected_extension_value(key_authorization: str) -> bytes:
    # RFC 8737 section 3: Authorization ::= OCTET STRING (SIZE (32)) holding SHA-256(keyAuthorization)
    return b"\x04\x20" + hashlib.sha256(key_authorization.encode("ascii")).digest()


def check_tls_alpn01_certificate(der: bytes, target: Target) -> None:
    """The RFC 8737 section 3 rules for the validation certificate."""
    try:
        cert = x509.load_der_x509_certificate(der)
        extensions = cert.extensions
    except ValueError:
        raise AcmeProblem("unauthorized", f"tls-alpn-01 for {target.identifier}: unreadable certificate") from None
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise AcmeProblem(
            "unauthorized", f"tls-alpn-01 for {target.identifier}: the certificate has no subjectAltName"
        ) from None
    names = list(san)
    # "MUST contain a subjectAltName extension containing the dNSName being validated and no other entries"
    # (RFC 8738 section 6: a single iPAddress for an IP identifier)
    if target.identifier_type == "ip":
        ok = len(names) == 1 and isinstance(names[0], x509.IPAddress)
        ok = ok and names[0].value == ipaddress.ip_address(target.identifier)
    else:
        ok = len(names) == 1 and isinstance(names[0], x509.DNSName)
        ok = ok and names[0].value.lower() == target.identifier.lower()
    if not ok:
        raise AcmeProblem(
            "unauthorized",
            f"tls-alpn-01 for {target.identifier}: the certificate's subjectAltName must be exactly that identifier",
        )
    try:
        extension = extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    except x509.ExtensionNotFound:
        raise AcmeProblem(
            "unauthorized", f"tls-alpn-01 for {target.identifier}: the certificate has no acmeIdentifier extension"
        ) from None
    if not extension.critical:
        raise AcmeProblem("unauthorized", f"tls-alpn-01 for {target.identifier}: acmeIdentifier must be critical")
    value = getattr(extension.value, "value", b"")
    if value != _expected_extension_value(target.key_authorization):
        raise AcmeProblem(
            "incorrectResponse",
            f"tls-alpn-01 for {target.identifier}: acmeIdentifier does not hold the key authorization's digest",
        )


def validate_tls_alpn01(target: Target) -> None:
    """RFC 8737 section 3: a TLS handshake offering only ALPN acme-tls/1, with SNI the identifier,
    must select acme-tls/1 and present the self-describing validation certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The validation certificate is self-signed by design: what is checked is its content.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8737 section 4: TLS 1.2 or higher
    context.set_alpn_protocols([ACME_TLS_ALPN])
    try:
        with socket.create_connection((target.address, target.port), timeout=target.timeout) as sock:
            with context.wrap_socket(sock, server_hostname=_sni(target)) as tls:
                protocol = tls.selected_alpn_protocol()
                der = tls.getpeercert(binary_form=True)
    except ssl.SSLError as exc:
        raise AcmeProblem(
            "tls",
            f"tls-alpn-01 handshake with {target.address}:{target.port} for {target.identifier} "
            f"failed: {exc.reason or exc}",
        ) from None
    except OSError as exc:
        raise _connection_problem(target, "cannot connect to", exc) from None
    if protocol != ACME_TLS_ALPN:
        raise AcmeProblem(
            "tls", f"tls-alpn-01 for {target.identifier}: the server did not negotiate ALPN {ACME_TLS_ALPN}"
        )
    if not der:
        raise AcmeProblem("tls", f"tls-alpn-01 for {target.identifier}: the server sent no certificate")
    check_tls_alpn01_certificate(der, target)


VALIDATORS = {"http-01": validate_http01, "tls-alpn-01": validate_tls_alpn01}
