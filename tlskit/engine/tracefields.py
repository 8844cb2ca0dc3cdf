"""Readable fields of handshake messages, for the trace (:mod:`tlskit.engine.trace`).

``describe_message(raw)`` turns the bytes of one handshake message (4-byte header
included) into ``(name, fields)``: algorithms by IANA name, every extension by name with
its decoded value, unknown code points marked ``unknown(0x....)`` and GREASE values
(RFC 8701) marked ``GREASE(0x....)``, certificates summarised through :mod:`tlskit.pki`
(subject, issuer, validity, key type, SANs). Values are JSON-ready.

Nothing here raises on hostile input: the trace sees a message before the engine has
judged it, so a malformed message is described as far as it parses, with
``"malformed": reason``. Nothing here outputs key material: key shares, verify_data and
signatures appear as their sizes; randoms (public nonces) appear in hex.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from tlskit.engine.buffer import Reader
from tlskit.errors import TLSError
from tlskit.providers.names import CIPHER_SUITES, GROUPS, SIGNATURE_SCHEMES

# -- names of code points -------------------------------------------------------------

#: TLS 1.3 suites come from providers.names; the TLS 1.2 suites peers commonly offer
#: (RFC 5288, RFC 5289, RFC 7905) and the signalling values are named too, so a
#: ClientHello from OpenSSL or a browser reads well.
CIPHER_SUITE_NAMES: dict[int, str] = {
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x5600: "TLS_FALLBACK_SCSV",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    **{code: name for name, code in CIPHER_SUITES.items()},
}
GROUP_NAMES: dict[int, str] = {
    0x0100: "ffdhe2048",
    0x0101: "ffdhe3072",
    0x0102: "ffdhe4096",
    0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
    0x6399: "X25519Kyber768Draft00",
    **{code: name for name, code in GROUPS.items()},
}
SIGNATURE_SCHEME_NAMES: dict[int, str] = {
    0x0402: "dsa_sha256",
    0x0502: "dsa_sha384",
    0x0602: "dsa_sha512",
    0x0302: "dsa_sha224",
    0x0301: "rsa_sha224",
    0x0303: "ecdsa_sha224",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    **{code: name for name, code in SIGNATURE_SCHEMES.items()},
}
VERSION_NAMES = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
#: Extension names, TLS 1.3 and TLS 1.2 ones alike (IANA TLS ExtensionType registry).
EXTENSION_NAMES: dict[int, str] = {
    0: "server_name",
    1: "max_fragment_length",
    5: "status_request",
    10: "supported_groups",
    11: "ec_point_formats",
    13: "signature_algorithms",
    14: "use_srtp",
    15: "heartbeat",
    16: "application_layer_protocol_negotiation",
    18: "signed_certificate_timestamp",
    19: "client_certificate_type",
    20: "server_certificate_type",
    21: "padding",
    22: "encrypt_then_mac",
    23: "extended_master_secret",
    27: "compress_certificate",
    28: "record_size_limit",
    35: "session_ticket",
    41: "pre_shared_key",
    42: "early_data",
    43: "supported_versions",
    44: "cookie",
    45: "psk_key_exchange_modes",
    47: "certificate_authorities",
    48: "oid_filters",
    49: "post_handshake_auth",
    50: "signature_algorithms_cert",
    51: "key_share",
    57: "quic_transport_parameters",
    13172: "next_protocol_negotiation",
    17513: "application_settings",
    65037: "encrypted_client_hello",
    65281: "renegotiation_info",
}
#: Handshake message names, TLS 1.3 (RFC 8446 B.3) and TLS 1.2 (RFC 5246 7.4).
MESSAGE_NAMES: dict[int, str] = {
    0: "hello_request",
    1: "client_hello",
    2: "server_hello",
    4: "new_session_ticket",
    5: "end_of_early_data",
    8: "encrypted_extensions",
    11: "certificate",
    12: "server_key_exchange",
    13: "certificate_request",
    14: "server_hello_done",
    15: "certificate_verify",
    16: "client_key_exchange",
    20: "finished",
    22: "certificate_status",
    24: "key_update",
    254: "message_hash",
}
CONTENT_TYPE_NAMES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
#: ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3)
_HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
#: Downgrade sentinels (RFC 8446 4.1.3)
_DOWNGRADE = {bytes.fromhex("444f574e47524401"): "TLSv1.2", bytes.fromhex("444f574e47524400"): "TLSv1.1 or below"}
_PSK_MODES = {0: "psk_ke", 1: "psk_dhe_ke"}


def is_grease(code: int) -> bool:
    """RFC 8701 GREASE values: 0x0A0A, 0x1A1A, ..., 0xFAFA (both bytes equal, low nibble A)."""
    return (code & 0x0F0F) == 0x0A0A and (code >> 8) == (code & 0xFF)


def code_name(table: dict[int, str], code: int) -> str:
    """The IANA name of a code point, ``GREASE(0x1a1a)`` or ``unknown(0x1234)``."""
    name = table.get(code)
    if name is not None:
        return name
    if is_grease(code):
        return f"GREASE({code:#06x})"
    return f"unknown({code:#06x})"


def message_name(msg_type: int) -> str:
    return MESSAGE_NAMES.get(msg_type, f"unknown({msg_type})")


def content_type_name(content_type: int) -> str:
    return CONTENT_TYPE_NAMES.get(content_type, f"unknown({content_type})")


def version_name(code: int) -> str:
    return code_name(VERSION_NAMES, code)


# -- extensions ---------------------------------------------------------------------


def _u16_names(table: dict[int, str]) -> Callable[[Reader, str], Any]:
    def decode(r: Reader, context: str) -> Any:
        return [code_name(table, c) for c in _pull_u16_list(r.pull_reader(2))]

    return decode


def _pull_u16_list(r: Reader) -> list[int]:
    out = []
    while not r.eof():
        out.append(r.pull_u16())
    return out


def _server_name(r: Reader, context: str) -> Any:
    if r.eof():  # the server's empty acknowledgement (RFC 6066 3)
        return "acknowledged"
    names = r.pull_reader(2)
    hosts = []
    while not names.eof():
        name_type = names.pull_u8()
        value = names.pull_vector(2)
        hosts.append(value.decode("ascii", "replace") if name_type == 0 else f"type {name_type}")
    return hosts[0] if len(hosts) == 1 else hosts


def _key_share(r: Reader, context: str) -> Any:
    if context == "hello_retry_request":
        return {"selected_group": code_name(GROUP_NAMES, r.pull_u16())}
    if context == "client_hello":
        entries = r.pull_reader(2)
        shares = []
        while not entries.eof():
            group = entries.pull_u16()
            shares.append({"group": code_name(GROUP_NAMES, group), "size": len(entries.pull_vector(2))})
        return shares
    group = r.pull_u16()
    return {"group": code_name(GROUP_NAMES, group), "size": len(r.pull_vector(2))}


def _supported_versions(r: Reader, context: str) -> Any:
    if context == "client_hello":
        versions = r.pull_reader(1)
        return [version_name(c) for c in _pull_u16_list(versions)]
    return version_name(r.pull_u16())


def _alpn(r: Reader, context: str) -> Any:
    names = r.pull_reader(2)
    out = []
    while not names.eof():
        out.append(names.pull_vector(1).decode("ascii", "replace"))
    return out


def _psk_modes(r: Reader, context: str) -> Any:
    return [_PSK_MODES.get(m, f"unknown({m})") for m in r.pull_vector(1)]


def _record_size_limit(r: Reader, context: str) -> Any:
    return r.pull_u16()


def _cookie(r: Reader, context: str) -> Any:
    return {"length": len(r.pull_vector(2))}


def _status_request(r: Reader, context: str) -> Any:
    if r.eof():
        return "acknowledged"
    status_type = r.pull_u8()
    if context == "certificate":
        return {"ocsp_response_length": len(r.pull_vector(3))} if status_type == 1 else {"type": status_type}
    return "ocsp" if status_type == 1 else f"type {status_type}"


def _early_data(r: Reader, context: str) -> Any:
    if context == "new_session_ticket":
        return {"max_early_data_size": r.pull_u32()}
    return "offered" if context == "client_hello" else "accepted"


def _pre_shared_key(r: Reader, context: str) -> Any:
    if context != "client_hello":
        return {"selected_identity": r.pull_u16()}
    identities = r.pull_reader(2)
    count = 0
    while not identities.eof():
        identities.pull_vector(2)
        identities.pull_u32()
        count += 1
    binders = r.pull_reader(2)
    binder_count = 0
    while not binders.eof():
        binders.pull_vector(1)
        binder_count += 1
    return {"identities": count, "binders": binder_count}


def _padding(r: Reader, context: str) -> Any:
    return {"length": len(r.pull_rest())}


def _empty(r: Reader, context: str) -> Any:
    return True


def _ec_point_formats(r: Reader, context: str) -> Any:
    formats = {0: "uncompressed", 1: "ansiX962_compressed_prime", 2: "ansiX962_compressed_char2"}
    return [formats.get(f, f"unknown({f})") for f in r.pull_vector(1)]


def _renegotiation_info(r: Reader, context: str) -> Any:
    """RFC 5746 3.2: empty on an initial handshake (the only kind tlskit allows)."""
    data = r.pull_vector(1)
    return "initial handshake" if not data else {"renegotiated_connection_length": len(data)}


_EXTENSION_DECODERS: dict[int, Callable[[Reader, str], Any]] = {
    65281: _renegotiation_info,
    0: _server_name,
    5: _status_request,
    10: _u16_names(GROUP_NAMES),
    11: _ec_point_formats,
    13: _u16_names(SIGNATURE_SCHEME_NAMES),
    16: _alpn,
    21: _padding,
    22: _empty,
    23: _empty,
    28: _record_size_limit,
    41: _pre_shared_key,
    42: _early_data,
    43: _supported_versions,
    44: _cookie,
    45: _psk_modes,
    49: _empty,
    50: _u16_names(SIGNATURE_SCHEME_NAMES),
    51: _key_share,
}


def describe_extension(ext_type: int, body: bytes, context: str) -> dict[str, Any]:
    """``{"type": 51, "name": "key_share", "value": ...}``; plus ``"grease": True`` or
    ``"unknown": True``; ``"length"`` for extensions whose value is not decoded."""
    out: dict[str, Any] = {"type": ext_type, "name": code_name(EXTENSION_NAMES, ext_type)}
    if is_grease(ext_type):
        out["grease"] = True
    elif ext_type not in EXTENSION_NAMES:
        out["unknown"] = True
    decoder = _EXTENSION_DECODERS.get(ext_type)
    if decoder is None:
        out["length"] = len(body)
        return out
    try:
        r = Reader(body)
        out["value"] = decoder(r, context)
        r.expect_end()
    except (TLSError, ValueError, IndexError) as exc:
        out["malformed"] = str(exc) or type(exc).__name__
        out["length"] = len(body)
    return out


def _extensions(r: Reader, context: str) -> list[dict[str, Any]]:
    if r.eof():
        return []
    block = r.pull_reader(2)
    out = []
    while not block.eof():
        ext_type = block.pull_u16()
        out.append(describe_extension(ext_type, block.pull_vector(2), context))
    return out


# -- certificates ---------------------------------------------------------------------


def certificate_summary(der: bytes) -> dict[str, Any]:
    """Subject, issuer, validity, key type and SANs of one DER certificate (through
    tlskit.pki); ``{"malformed": reason, "size": n}`` when it does not parse."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    from tlskit.pki import CertificateError, load_certificates
    from tlskit.pki.certinfo import CertInfo

    out: dict[str, Any] = {"size": len(der)}
    try:
        cert = load_certificates(der)[0]
        info = CertInfo(cert)
        out["subject"] = cert.subject.rfc4514_string()
        out["issuer"] = cert.issuer.rfc4514_string()
        out["serial"] = f"{cert.serial_number:#x}"
        out["not_before"] = _iso(info.not_before)
        out["not_after"] = _iso(info.not_after)
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key_type = f"RSA-{key.key_size}"
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key_type = f"ECDSA-{key.curve.name}"
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key_type = "Ed25519"
        elif isinstance(key, ed448.Ed448PublicKey):
            key_type = "Ed448"
        elif isinstance(key, dsa.DSAPublicKey):
            key_type = f"DSA-{key.key_size}"
        else:
            key_type = type(key).__name__
        out["key_type"] = key_type
        sans = []
        for name in info.subject_alt_names or ():
            if isinstance(name, x509.DNSName):
                sans.append(f"DNS:{name.value}")
            elif isinstance(name, x509.IPAddress):
                sans.append(f"IP:{name.value}")
            elif isinstance(name, x509.RFC822Name):
                sans.append(f"email:{name.value}")
            elif isinstance(name, x509.UniformResourceIdentifier):
                sans.append(f"URI:{name.value}")
            else:
                sans.append(type(name).__name__)
        out["sans"] = sans
        out["ca"] = info.is_ca
    except (CertificateError, ValueError, TypeError) as exc:
        out["malformed"] = str(exc) or type(exc).__name__
    except Exception as exc:  # cryptography raises assorted types for odd certificates
        out["malformed"] = f"{type(exc).__name__}: {exc}"
    return out


def _iso(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- messages -------------------------------------------------------------------------


def _client_hello(r: Reader, out: dict[str, Any]) -> str:
    out["legacy_version"] = version_name(r.pull_u16())
    out["random"] = r.pull_bytes(32).hex()
    out["legacy_session_id_length"] = len(r.pull_vector(1))
    suites = r.pull_reader(2)
    out["cipher_suites"] = [code_name(CIPHER_SUITE_NAMES, c) for c in _pull_u16_list(suites)]
    out["compression_methods"] = list(r.pull_vector(1))
    out["extensions"] = _extensions(r, "client_hello")
    return "client_hello"


def _server_hello(r: Reader, out: dict[str, Any]) -> str:
    out["legacy_version"] = version_name(r.pull_u16())
    random = r.pull_bytes(32)
    hrr = random == _HRR_RANDOM
    if not hrr:
        out["random"] = random.hex()
        if random[-8:] in _DOWNGRADE:
            out["downgrade_sentinel"] = _DOWNGRADE[random[-8:]]
    out["legacy_session_id_echo_length"] = len(r.pull_vector(1))
    out["cipher_suite"] = code_name(CIPHER_SUITE_NAMES, r.pull_u16())
    out["compression_method"] = r.pull_u8()
    name = "hello_retry_request" if hrr else "server_hello"
    out["extensions"] = _extensions(r, name)
    return name


def _certificate(r: Reader, out: dict[str, Any]) -> str:
    out["request_context_length"] = len(r.pull_vector(1))
    entries = r.pull_reader(3)
    certs: list[dict[str, Any]] = []
    out["certificates"] = certs
    while not entries.eof():
        summary = certificate_summary(entries.pull_vector(3))
        extensions = _extensions(entries, "certificate")
        if extensions:
            summary["extensions"] = extensions
        certs.append(summary)
    return "certificate"


def _new_session_ticket(r: Reader, out: dict[str, Any]) -> str:
    out["lifetime"] = r.pull_u32()
    r.pull_u32()  # ticket_age_add: an obfuscation value, not shown
    out["nonce_length"] = len(r.pull_vector(1))
    out["ticket_length"] = len(r.pull_vector(2))
    out["extensions"] = _extensions(r, "new_session_ticket")
    return "new_session_ticket"


def _key_update(r: Reader, out: dict[str, Any]) -> str:
    value = r.pull_u8()
    out["request_update"] = {0: "update_not_requested", 1: "update_requested"}.get(value, f"unknown({value})")
    return "key_update"


def _certificate_verify(r: Reader, out: dict[str, Any]) -> str:
    out["signature_scheme"] = code_name(SIGNATURE_SCHEME_NAMES, r.pull_u16())
    out["signature_length"] = len(r.pull_vector(2))
    return "certificate_verify"


def _certificate_request(r: Reader, out: dict[str, Any]) -> str:
    out["request_context_length"] = len(r.pull_vector(1))
    out["extensions"] = _extensions(r, "certificate_request")
    return "certificate_request"


def _encrypted_extensions(r: Reader, out: dict[str, Any]) -> str:
    out["extensions"] = _extensions(r, "encrypted_extensions")
    return "encrypted_extensions"


def _finished(r: Reader, out: dict[str, Any]) -> str:
    out["verify_data_length"] = len(r.pull_rest())
    return "finished"


_MESSAGE_DECODERS: dict[int, Callable[[Reader, dict[str, Any]], str]] = {
    1: _client_hello,
    2: _server_hello,
    4: _new_session_ticket,
    8: _encrypted_extensions,
    11: _certificate,
    13: _certificate_request,
    15: _certificate_verify,
    20: _finished,
    24: _key_update,
}


def _certificate12(r: Reader, out: dict[str, Any]) -> str:
    """TLS 1.2 Certificate (RFC 5246 7.4.2): a bare list of DER certificates."""
    entries = r.pull_reader(3)
    certs: list[dict[str, Any]] = []
    out["certificates"] = certs
    while not entries.eof():
        certs.append(certificate_summary(entries.pull_vector(3)))
    return "certificate"


def _server_key_exchange12(r: Reader, out: dict[str, Any]) -> str:
    """ECDHE ServerKeyExchange (RFC 8422 5.4): named curve, public key, signature."""
    curve_type = r.pull_u8()
    if curve_type != 3:
        out["curve_type"] = curve_type
        out["body_length"] = len(r.pull_rest())
        return "server_key_exchange"
    out["group"] = code_name(GROUP_NAMES, r.pull_u16())
    out["public_key_size"] = len(r.pull_vector(1))
    out["signature_scheme"] = code_name(SIGNATURE_SCHEME_NAMES, r.pull_u16())
    out["signature_length"] = len(r.pull_vector(2))
    return "server_key_exchange"


def _client_key_exchange12(r: Reader, out: dict[str, Any]) -> str:
    out["public_key_size"] = len(r.pull_vector(1))
    return "client_key_exchange"


def _certificate_request12(r: Reader, out: dict[str, Any]) -> str:
    out["certificate_types"] = list(r.pull_vector(1))
    out["signature_algorithms"] = [code_name(SIGNATURE_SCHEME_NAMES, c) for c in _pull_u16_list(r.pull_reader(2))]
    out["certificate_authorities_length"] = len(r.pull_vector(2))
    return "certificate_request"


def _new_session_ticket12(r: Reader, out: dict[str, Any]) -> str:
    out["lifetime_hint"] = r.pull_u32()
    out["ticket_length"] = len(r.pull_vector(2))
    return "new_session_ticket"


def _empty_body(name: str) -> Callable[[Reader, dict[str, Any]], str]:
    def decode(r: Reader, out: dict[str, Any]) -> str:
        return name

    return decode


#: TLS 1.2 shapes where they differ from TLS 1.3's (RFC 5246 7.4, RFC 5077 3.3)
_TLS12_DECODERS: dict[int, Callable[[Reader, dict[str, Any]], str]] = {
    4: _new_session_ticket12,
    11: _certificate12,
    12: _server_key_exchange12,
    13: _certificate_request12,
    14: _empty_body("server_hello_done"),
    16: _client_key_exchange12,
}


def describe_message(raw: bytes, *, tls12: bool = False) -> tuple[str, dict[str, Any]]:
    """(name, fields) of one handshake message (header included); never raises.
    ``tls12``: decode the TLS 1.2 shape of messages that differ between the versions."""
    if len(raw) < 4:
        return "truncated", {"malformed": "shorter than a handshake header", "length": len(raw)}
    msg_type = raw[0]
    name = message_name(msg_type)
    body = raw[4:]
    fields: dict[str, Any] = {}
    r = Reader(body)
    decoder = (_TLS12_DECODERS.get(msg_type) if tls12 else None) or _MESSAGE_DECODERS.get(msg_type)
    try:
        if decoder is not None:
            name = decoder(r, fields)
        else:
            # no decoder here (TLS 1.2 messages come with fields from their engine)
            fields["body_length"] = len(r.pull_rest())
        r.expect_end()
    except (TLSError, ValueError, IndexError) as exc:
        fields["malformed"] = str(exc) or type(exc).__name__
        if msg_type == 2 and len(body) >= 34 and body[2:34] == _HRR_RANDOM:
            name = "hello_retry_request"
    return name, fields


__all__ = [
    "CIPHER_SUITE_NAMES",
    "EXTENSION_NAMES",
    "GROUP_NAMES",
    "MESSAGE_NAMES",
    "SIGNATURE_SCHEME_NAMES",
    "certificate_summary",
    "code_name",
    "content_type_name",
    "describe_extension",
    "describe_message",
    "is_grease",
    "message_name",
    "version_name",
]
