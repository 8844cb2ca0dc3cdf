"""Human-readable certificate dumps for ``tlskit ca show`` (in the spirit of ``step certificate inspect``)."""

from __future__ import annotations

import binascii
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from tlskit.ca.profiles import san_text


def printable(text: str) -> str:
    """``text`` with control and formatting characters escaped (``\\n``, ``\\x1b``,
    ``\\u202e``): names inside a certificate are chosen by whoever made it, and a raw
    newline or terminal escape sequence could forge output lines or the terminal's state."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _hex(data: bytes) -> str:
    return binascii.hexlify(data, ":").decode("ascii")


def _key_description(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except Exception:
        return "unparsable public key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name} ({key.curve.key_size} bits)"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def _extension_lines(ext: x509.Extension) -> list[str]:
    value = ext.value
    if isinstance(value, x509.BasicConstraints):
        text = f"CA:{str(value.ca).upper()}"
        if value.path_length is not None:
            text += f", pathlen:{value.path_length}"
        return [text]
    if isinstance(value, x509.KeyUsage):
        names = [
            name
            for name in (
                "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                "key_agreement", "key_cert_sign", "crl_sign",
            )
            if getattr(value, name)
        ]
        return [", ".join(names) or "(none)"]
    if isinstance(value, x509.ExtendedKeyUsage):
        return [", ".join(getattr(oid, "_name", oid.dotted_string) for oid in value)]
    if isinstance(value, x509.SubjectAlternativeName):
        return [printable(", ".join(san_text(name) for name in value))]
    if isinstance(value, x509.SubjectKeyIdentifier):
        return [_hex(value.digest)]
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return [_hex(value.key_identifier)] if value.key_identifier else ["(issuer name/serial)"]
    if isinstance(value, x509.NameConstraints):
        lines = []
        if value.permitted_subtrees:
            lines.append("permitted: " + printable(", ".join(san_text(n) for n in value.permitted_subtrees)))
        if value.excluded_subtrees:
            lines.append("excluded: " + printable(", ".join(san_text(n) for n in value.excluded_subtrees)))
        return lines
    return [printable(str(value))]


def _field(read: Callable[[], object]) -> str:
    """One field; cryptography parses lazily, so a hostile certificate fails here, not in show."""
    try:
        return printable(str(read()))
    except Exception as exc:
        return f"unparsable ({printable(str(exc))})"


def describe(cert: x509.Certificate) -> str:
    """A multi-line summary: subject, issuer, serial, validity, key, fingerprints, extensions."""
    lines = [
        f"Subject:      {_field(lambda: cert.subject.rfc4514_string() or '(empty)')}",
        f"Issuer:       {_field(lambda: cert.issuer.rfc4514_string() or '(empty)')}",
        f"Serial:       {_field(lambda: format(cert.serial_number, 'x'))}",
        f"Not before:   {_field(lambda: format(cert.not_valid_before_utc, '%Y-%m-%d %H:%M:%S UTC'))}",
        f"Not after:    {_field(lambda: format(cert.not_valid_after_utc, '%Y-%m-%d %H:%M:%S UTC'))}",
        f"Public key:   {_key_description(cert)}",
        "Signature:    " + _field(
            lambda: getattr(cert.signature_algorithm_oid, "_name", cert.signature_algorithm_oid.dotted_string)
        ),
        f"SHA-256:      {_hex(cert.fingerprint(hashes.SHA256()))}",
    ]
    try:
        extensions = list(cert.extensions)
    except Exception as exc:  # ValueError, DuplicateExtension, ...
        lines.append(f"Extensions:   unparsable ({printable(str(exc))})")
        return "\n".join(lines)
    if extensions:
        lines.append("Extensions:")
        for ext in extensions:
            name = getattr(ext.oid, "_name", ext.oid.dotted_string)
            critical = " (critical)" if ext.critical else ""
            try:
                values = _extension_lines(ext)
            except Exception as exc:
                values = [f"unparsable ({printable(str(exc))})"]
            lines.append(f"  {name}{critical}: {values[0] if values else ''}")
            lines.extend(f"      {v}" for v in values[1:])
    return "\n".join(lines)
