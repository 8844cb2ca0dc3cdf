"""Pieces shared by the blocking (stream) and asyncio (aio) adapters:
building engine configs from keyword arguments and describing peer certificates.
"""

from __future__ import annotations

import dataclasses
import datetime
import warnings
from typing import Any

from tlskit.engine.keylog import check_keylog_file
from tlskit.io.keylog import keylog_file_from_environment

#: read size for socket reads: a few maximum-size TLS records
READ_SIZE = 65536


def _with_overrides(config: Any, config_type: type, overrides: dict[str, Any], keylog_from_env: bool) -> Any:
    if keylog_from_env:
        named = overrides["keylog_file"] if "keylog_file" in overrides else getattr(config, "keylog_file", None)
        path = keylog_file_from_environment() if named is None else None
        if path is not None:
            try:
                check_keylog_file(path)  # creates it 0600, as the engine would
            except OSError as exc:
                # As curl and browsers do: a stale SSLKEYLOGFILE must not break every
                # connection (an explicit keylog_file= that cannot be opened still does).
                warnings.warn(
                    f"SSLKEYLOGFILE {path} cannot be opened ({exc.strerror or exc}); no key log is written",
                    RuntimeWarning,
                    stacklevel=4,
                )
            else:
                # one more override, so the config (its key, chain and anchors) is built once
                overrides = {**overrides, "keylog_file": path}
    if config is None:
        return config_type(**overrides)
    return dataclasses.replace(config, **overrides) if overrides else config


def make_client_config(config: Any = None, *, keylog_from_env: bool = True, **overrides: Any) -> Any:
    """A ClientConfig: ``config`` (or a default one) with ``overrides`` applied,
    plus SSLKEYLOGFILE when the user set it and the config names no key log.

    Mistakes that would otherwise surface only in the middle of a handshake (a key
    that does not match its certificate, unusable trust anchors, an unwritable key
    log) are refused by the config itself with a ConfigurationError."""
    from tlskit.engine import ClientConfig

    return _with_overrides(config, ClientConfig, overrides, keylog_from_env)


def make_server_config(config: Any = None, *, keylog_from_env: bool = True, **overrides: Any) -> Any:
    """A ServerConfig, built and checked like :func:`make_client_config`."""
    from tlskit.engine import ServerConfig

    return _with_overrides(config, ServerConfig, overrides, keylog_from_env)


def new_client_connection(
    config: Any, server_name: str | None, *, port: int | None = None, session: Any = None, early_data: bytes | None = None
) -> Any:
    """A client connection; without an explicit ``session`` it resumes from the config's
    session cache, keyed by (server name, port), when there is one."""
    from tlskit.engine import ClientConnection

    if session is None and early_data is None and port is None:
        return ClientConnection(config, server_name=server_name)
    return ClientConnection(config, server_name=server_name, port=port, session=session, early_data=early_data)


def new_server_connection(config: Any) -> Any:
    from tlskit.engine import ServerConnection

    return ServerConnection(config)


def is_server_connection(connection: Any) -> bool:
    from tlskit.engine import ServerConnection

    return isinstance(connection, ServerConnection)


def _name_tuple(name: Any) -> tuple:
    # ssl.getpeercert() shape: a tuple of RDNs, each a tuple of (key, value) pairs
    return tuple(
        tuple((_SSL_ATTRIBUTE_NAMES.get(a.rfc4514_attribute_name, a.rfc4514_attribute_name), a.value) for a in rdn)
        for rdn in name.rdns
    )


_SSL_ATTRIBUTE_NAMES = {
    "CN": "commonName",
    "O": "organizationName",
    "OU": "organizationalUnitName",
    "C": "countryName",
    "L": "localityName",
    "ST": "stateOrProvinceName",
}


def peercert_dict(der: bytes) -> dict[str, Any]:
    """A peer certificate as ``ssl.SSLSocket.getpeercert()`` shows it (subject,
    issuer, validity, serial, subjectAltName).

    The chain was already validated by the engine; this only presents it, and
    a certificate the presenter cannot parse yields ``{}`` rather than an error.
    """
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        # fields are parsed lazily: an unvalidated (insecure=True) certificate may fail here
        info: dict[str, Any] = {
            "subject": _name_tuple(cert.subject),
            "issuer": _name_tuple(cert.issuer),
            "version": cert.version.value + 1,
            "serialNumber": f"{cert.serial_number:X}",
            "notBefore": _ssl_time(cert.not_valid_before_utc),
            "notAfter": _ssl_time(cert.not_valid_after_utc),
        }
    except Exception:
        return {}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # ExtensionNotFound, unparsable or duplicate extensions
        san = None
    if san is not None:
        entries: list[tuple[str, str]] = []
        for general_name in san:
            if isinstance(general_name, x509.DNSName):
                entries.append(("DNS", general_name.value))
            elif isinstance(general_name, x509.IPAddress):
                entries.append(("IP Address", str(general_name.value)))
            elif isinstance(general_name, x509.RFC822Name):
                entries.append(("email", general_name.value))
            elif isinstance(general_name, x509.UniformResourceIdentifier):
                entries.append(("URI", general_name.value))
        info["subjectAltName"] = tuple(entries)
    return info


def _ssl_time(moment: datetime.datetime) -> str:
    return moment.strftime("%b %d %H:%M:%S %Y GMT")
