"""TLS 1.3 extensions: type codes, which message may carry which, one encode/decode
pair per extension body (RFC 8446 section 4.2, RFC 8449, RFC 6066, RFC 7301), and the
typed view of each message's extensions.

A message's ``extensions`` is an :class:`ExtensionList`: still the wire-order list of
``(type, body)`` pairs (unknown extensions included, raw, for the trace), plus typed
properties decoded once on first use (``hello.extensions.key_share``). Which message
may carry which recognised extension is checked in one place, :func:`check_extensions`,
from ``ALLOWED_IN``.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
import struct
from typing import Any, Callable, Iterable, TypeVar

from tlskit.engine.buffer import Reader, pull_u16_list, u8, u16, u16_list, vec8, vec16, vec24
from tlskit.errors import DecodeError, IllegalParameter, MissingExtension, TLSError, UnsupportedExtension

TLS13 = 0x0304


class ExtensionType(enum.IntEnum):
    server_name = 0
    max_fragment_length = 1
    status_request = 5
    supported_groups = 10
    signature_algorithms = 13
    use_srtp = 14
    heartbeat = 15
    application_layer_protocol_negotiation = 16
    signed_certificate_timestamp = 18
    client_certificate_type = 19
    server_certificate_type = 20
    padding = 21
    record_size_limit = 28
    pre_shared_key = 41
    early_data = 42
    supported_versions = 43
    cookie = 44
    psk_key_exchange_modes = 45
    certificate_authorities = 47
    oid_filters = 48
    post_handshake_auth = 49
    signature_algorithms_cert = 50
    key_share = 51


E = ExtensionType

#: Extensions RFC 8446 section 4.2 (and RFC 8449) allows in each server message.
#: A *recognized* extension outside its set is illegal_parameter (RFC 8446 4.2).
ALLOWED_IN = {
    # every recognized extension but oid_filters (CertificateRequest only)
    "client_hello": frozenset(set(E) - {E.oid_filters}),
    "server_hello": frozenset({E.key_share, E.pre_shared_key, E.supported_versions}),
    "hello_retry_request": frozenset({E.key_share, E.cookie, E.supported_versions}),
    "encrypted_extensions": frozenset(
        {
            E.server_name,
            E.max_fragment_length,
            E.supported_groups,
            E.use_srtp,
            E.heartbeat,
            E.application_layer_protocol_negotiation,
            E.client_certificate_type,
            E.server_certificate_type,
            E.early_data,
            E.record_size_limit,
        }
    ),
    "certificate_request": frozenset(
        {
            E.status_request,
            E.signature_algorithms,
            E.signed_certificate_timestamp,
            E.certificate_authorities,
            E.oid_filters,
            E.signature_algorithms_cert,
        }
    ),
    "certificate": frozenset({E.status_request, E.signed_certificate_timestamp}),
    "new_session_ticket": frozenset({E.early_data}),
}

KNOWN = frozenset(int(e) for e in ExtensionType)

Extensions = list[tuple[int, bytes]]


def encode_extensions(extensions: Extensions) -> bytes:
    parts = []
    for ext_type, body in extensions:
        parts.append(_TYPE_LENGTH.pack(ext_type, len(body)))
        parts.append(body)
    return vec16(b"".join(parts))


_TYPE_LENGTH = struct.Struct(">HH")


ListT = TypeVar("ListT", bound="ExtensionList")


def decode_extensions(reader: Reader, kind: "type[ListT]") -> "ListT":
    """Parse an ``Extension extensions<0..2^16-1>`` block into ``kind`` (the message's typed
    view); duplicates are illegal_parameter (RFC 8446 4.2).

    Every ClientHello and ServerHello goes through here, so the loop reads the 4-byte
    headers by index instead of through a sub-reader per extension; every length is
    still checked against the block's end before anything is sliced."""
    block = reader.pull_reader(2)
    data, pos, end = block.window()
    items: list[tuple[int, bytes]] = []
    index: dict[int, bytes] = {}
    while pos < end:
        if pos + 4 > end:
            raise DecodeError("message truncated")
        ext_type = (data[pos] << 8) | data[pos + 1]
        start = pos + 4
        pos = start + ((data[pos + 2] << 8) | data[pos + 3])
        if pos > end:
            raise DecodeError("message truncated")
        if ext_type in index:
            raise IllegalParameter(f"duplicate extension {ext_type}")
        body = data[start:pos]
        index[ext_type] = body
        items.append((ext_type, body))
    return kind._from_decoded(items, index)


def check_extensions(message: str, extensions: Extensions, offered: Iterable[int] | None = None) -> None:
    """The one place where RFC 8446 4.2's placement rules are enforced.

    A recognised extension not allowed in ``message`` (``ALLOWED_IN``) -> illegal_parameter.
    With ``offered`` (what we sent, for a message answering ours): anything else we did not
    offer -> unsupported_extension, unknown types too, since a peer may only answer
    extensions we sent. Without it, unknown extensions are ignored (4.2: "MUST ignore").
    """
    allowed = ALLOWED_IN[message]
    sent = None if offered is None else frozenset(offered)
    for ext_type, _ in extensions:
        if ext_type in KNOWN and ext_type not in allowed:
            raise IllegalParameter(f"extension {ExtensionType(ext_type).name} not allowed in {message}")
        if sent is not None and ext_type not in sent:
            raise UnsupportedExtension(f"unsolicited extension {ext_type} in {message}")


def is_grease(value: int) -> bool:
    """Whether a 16-bit code point is GREASE (RFC 8701: 0x0A0A, 0x1A1A, ... 0xFAFA)."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


def _whole(body: bytes) -> Reader:
    return Reader(body)


# -- server_name (RFC 6066 section 3) -----------------------------------------

#: A HostName label as tlskit accepts it (RFC 6066 3: a DNS host name, A-labels for IDN):
#: letters, digits and hyphens (RFC 1123 2.1), not starting or ending with a hyphen, 1..63
#: characters. Underscores are tolerated anywhere in a label, as rustls (pki-types
#: DnsName) and OpenSSL do: they occur in real host names (SRV-style and some internal
#: names) and are harmless; control characters, spaces and other punctuation are not.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)", re.ASCII)
_NUMERIC_LABEL = re.compile(r"[0-9]+", re.ASCII)
#: longest host name without its trailing dot (RFC 1035 2.3.4: 255 octets on the wire)
MAX_HOST_NAME_LENGTH = 253


def is_dns_host_name(host: str) -> bool:
    """Whether ``host`` (no trailing dot) is a syntactically valid DNS host name in ASCII.

    The last label must not be all digits (as in rustls): such a name is neither a DNS
    name nor (if it reached here) a valid IP literal, e.g. ``1.2.3.999``.
    """
    if not host or len(host) > MAX_HOST_NAME_LENGTH or not host.isascii():
        return False
    labels = host.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return False
    return not _NUMERIC_LABEL.fullmatch(labels[-1])


@functools.lru_cache(maxsize=256)
def sni_host_name(host: str) -> bytes:
    """The HostName a client sends for ``host``: A-labels, no trailing dot.

    Memoised (a pure function of ``host``; an exception is never cached): IDNA encoding
    and the label checks cost more than the rest of the ClientHello, and a client
    connects to the same few names again and again.

    Raises TLSError for a name that is not a DNS host name (control characters,
    spaces, empty labels...): it must not be sent to the server.
    """
    try:
        name = host.rstrip(".").encode("idna")
    except UnicodeError:
        raise TLSError(f"server name {host!r} is not a DNS host name (it has no IDNA A-label form)") from None
    if not is_dns_host_name(name.decode("ascii")):
        raise TLSError(
            f"server name {host!r} is not a DNS host name (RFC 6066 3: dot-separated labels of "
            f"letters, digits, '-' and '_', 1..63 characters each, {MAX_HOST_NAME_LENGTH} in all)"
        )
    return name


def encode_server_name(host_name: bytes) -> bytes:
    """A server_name list of one host_name entry (``host_name`` as sni_host_name gives it)."""
    return vec16(u8(0) + vec16(host_name))


#: server_name bodies up to this size are memoised: a list of one host name of at most
#: 253 octets (RFC 1035) is at most 260 bytes, so larger bodies (legal, but never sent by
#: real clients) are decoded each time rather than letting a peer fill the memo with 64 KiB
#: bodies.
_MEMOISED_SERVER_NAME_BODY = 320


def decode_server_name(body: bytes) -> str | None:
    """The host_name entry of a ClientHello server_name list (None if absent).

    Memoised by the exact body bytes (decoding is a pure function of them and an
    exception is never cached): a server sees the same few names in every
    ClientHello, and the host-name checks are the costliest part of reading one."""
    if len(body) <= _MEMOISED_SERVER_NAME_BODY and type(body) is bytes:
        return _decode_server_name_memoised(body)
    return _decode_server_name(body)


def _decode_server_name(body: bytes) -> str | None:
    r = _whole(body)
    names = r.pull_reader(2, minimum=1)
    r.expect_end()
    host: str | None = None
    seen_types: set[int] = set()
    while not names.eof():
        name_type = names.pull_u8()
        value = names.pull_vector(2, minimum=1)
        if name_type in seen_types:
            raise IllegalParameter("duplicate server_name type")
        seen_types.add(name_type)
        if name_type == 0:
            try:
                host = value.decode("ascii")
            except UnicodeDecodeError:
                raise IllegalParameter("server_name is not ASCII") from None
            if "\x00" in host or host.endswith("."):
                raise IllegalParameter("malformed server_name")
    if host is not None and is_ip_literal(host):
        # RFC 6066 3: literal IPv4/IPv6 addresses are not permitted in HostName. Not a host
        # name, so ignored (no certificate chosen by it, no acknowledgement) rather than
        # failing the clients that send one anyway.
        return None
    if host is not None and not is_dns_host_name(host):
        # RFC 6066 3: HostName is a DNS host name. Anything else (control characters,
        # spaces, empty or overlong labels) would reach negotiated.server_name, logs and
        # certificate selection. illegal_parameter, as for the non-ASCII and trailing-dot
        # cases above: the vector decoded, its value is what the protocol forbids
        # (RFC 8446 6.2); rustls sends decode_error for the same case.
        raise IllegalParameter(f"server_name is not a DNS host name: {host[:80]!r}")
    return host


_decode_server_name_memoised = functools.lru_cache(maxsize=1024)(_decode_server_name)


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address literal (never a HostName, RFC 6066 3)."""
    if ":" not in host and not host[-1:].isdigit():  # no IP literal ends in a letter
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# -- groups / signature schemes / versions -------------------------------------

def encode_u16_list(values: list[int]) -> bytes:
    return u16_list(values)


def encode_signature_algorithms(schemes: list[int]) -> bytes:
    """signature_algorithms / signature_algorithms_cert (RFC 8446 4.2.3)."""
    return u16_list(schemes)


def encode_supported_groups(groups: list[int]) -> bytes:
    """supported_groups (RFC 8446 4.2.7)."""
    return u16_list(groups)


def decode_u16_list(body: bytes) -> list[int]:
    """A ``uint16 values<2..2^16-2>`` vector that is the whole body."""
    if len(body) < 2 or (body[0] << 8) | body[1] != len(body) - 2:
        raise DecodeError("malformed uint16 list")
    count = len(body) - 2
    if count < 2 or count % 2:
        raise DecodeError("malformed uint16 list")
    return list(struct.unpack_from(f">{count // 2}H", body, 2))


def encode_supported_versions_client(versions: list[int]) -> bytes:
    return vec8(b"".join(u16(v) for v in versions))


def decode_supported_versions_client(body: bytes) -> list[int]:
    r = _whole(body)
    versions = pull_u16_list(r, 1, minimum=2)
    r.expect_end()
    return versions


def encode_u16(value: int) -> bytes:
    return u16(value)


def encode_supported_versions_server(version: int) -> bytes:
    """ServerHello/HelloRetryRequest supported_versions: the selected version (RFC 8446 4.2.1)."""
    return u16(version)


def decode_u16(body: bytes) -> int:
    r = _whole(body)
    value = r.pull_u16()
    r.expect_end()
    return value


# -- key_share (RFC 8446 4.2.8) -----------------------------------------------

def encode_key_share_entry(group: int, share: bytes) -> bytes:
    """ServerHello key_share: one KeyShareEntry (RFC 8446 4.2.8)."""
    return u16(group) + vec16(share)


def encode_key_share_hrr(group: int) -> bytes:
    """HelloRetryRequest key_share: the selected group alone (RFC 8446 4.2.8)."""
    return u16(group)


def encode_key_share_client(shares: list[tuple[int, bytes]]) -> bytes:
    return vec16(b"".join(encode_key_share_entry(g, s) for g, s in shares))


def decode_key_share_client(body: bytes) -> list[tuple[int, bytes]]:
    r = _whole(body)
    entries = r.pull_reader(2)
    r.expect_end()
    shares: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    while not entries.eof():
        group = entries.pull_u16()
        share = entries.pull_vector(2, minimum=1)
        if group in seen:  # RFC 8446 4.2.8: at most one share per group
            raise IllegalParameter("duplicate key share group")
        seen.add(group)
        shares.append((group, share))
    return shares


def decode_key_share_server(body: bytes) -> tuple[int, bytes]:
    r = _whole(body)
    group = r.pull_u16()
    share = r.pull_vector(2, minimum=1)
    r.expect_end()
    return group, share


# -- ALPN (RFC 7301) ------------------------------------------------------------

def encode_alpn(protocols: list[bytes]) -> bytes:
    return vec16(b"".join(vec8(p) for p in protocols))


def decode_alpn(body: bytes) -> list[bytes]:
    r = _whole(body)
    names = r.pull_reader(2, minimum=2)
    r.expect_end()
    protocols = []
    while not names.eof():
        protocols.append(names.pull_vector(1, minimum=1))
    return protocols


# -- cookie, record_size_limit, status_request -----------------------------------

def encode_cookie(cookie: bytes) -> bytes:
    return vec16(cookie)


def decode_cookie(body: bytes) -> bytes:
    r = _whole(body)
    cookie = r.pull_vector(2, minimum=1)
    r.expect_end()
    return cookie


def encode_record_size_limit(limit: int) -> bytes:
    """RFC 8449 4: the largest TLSInnerPlaintext (TLS 1.3) we accept."""
    return u16(limit)


def decode_record_size_limit(body: bytes) -> int:
    value = decode_u16(body)
    if value < 64:  # RFC 8449 section 4
        raise IllegalParameter("record_size_limit below 64")
    return value


#: CertificateStatusRequest for OCSP with no responder ids and no extensions.
STATUS_REQUEST_OCSP = u8(1) + vec16(b"") + vec16(b"")
#: CertificateStatusType ocsp (RFC 6066 8)
STATUS_TYPE_OCSP = 1
#: PskKeyExchangeMode psk_dhe_ke (RFC 8446 4.2.9)
PSK_DHE_KE = 1


def encode_status_request_ocsp() -> bytes:
    """status_request (RFC 6066 8): OCSP, no responder ids, no request extensions."""
    return STATUS_REQUEST_OCSP


def encode_psk_key_exchange_modes(modes: list[int]) -> bytes:
    return vec8(b"".join(u8(m) for m in modes))


def decode_psk_key_exchange_modes(body: bytes) -> list[int]:
    r = _whole(body)
    modes = list(r.pull_vector(1, minimum=1))
    r.expect_end()
    return modes


def encode_server_name_ack() -> bytes:
    """EncryptedExtensions server_name: empty, saying the server used the name (RFC 6066 3)."""
    return b""


def decode_server_name_ack(body: bytes) -> bool:
    if body:
        raise DecodeError("server_name in EncryptedExtensions must be empty")
    return True


def decode_status_request(body: bytes) -> int:
    r = _whole(body)
    status_type = r.pull_u8()
    r.pull_vector(2)
    r.pull_vector(2)
    r.expect_end()
    return status_type


def encode_certificate_status(ocsp_response: bytes) -> bytes:
    return u8(1) + vec24(ocsp_response)


def decode_certificate_status(body: bytes) -> bytes:
    r = _whole(body)
    if r.pull_u8() != 1:
        raise IllegalParameter("unknown certificate status type")
    response = r.pull_vector(3, minimum=1)
    r.expect_end()
    return response


T = TypeVar("T")


def present(value: T | None, ext_type: ExtensionType, message: str) -> T:
    """A typed extension value that must be present (RFC 8446 4.2: missing_extension)."""
    if value is None:
        raise MissingExtension(f"{message} lacks {ext_type.name}")
    return value


def require(extensions: dict[int, bytes], ext_type: ExtensionType, message: str) -> bytes:
    """The raw body of an extension that must be present, from a ``{type: body}`` dict."""
    try:
        return extensions[ext_type]
    except KeyError:
        raise MissingExtension(f"{message} lacks {ext_type.name}") from None


# -- typed views -----------------------------------------------------------------------


class ExtensionList(list):  # type: ignore[type-arg]  # list[tuple[int, bytes]]
    """A message's extensions: the wire-order ``(type, body)`` list, plus typed values.

    Each typed property decodes its extension the first time it is read (a malformed one
    raises the TLSError its decoder gives) and returns None when the extension is absent.
    Subclasses say how each message's bodies read (a key_share is a list of entries in a
    ClientHello, one entry in a ServerHello, a group in a HelloRetryRequest).
    """

    #: the ALLOWED_IN key of the message these extensions belong to
    message = ""

    def __init__(self, items: Iterable[tuple[int, bytes]] = ()) -> None:
        super().__init__(items)
        self._decoded: dict[int, Any] = {}
        #: type -> body; the first of each type (a decoded list never has duplicates)
        self._index: dict[int, bytes] = {}
        for t, body in self:
            self._index.setdefault(t, body)

    @classmethod
    def _from_decoded(cls: "type[ListT]", items: list[tuple[int, bytes]], index: dict[int, bytes]) -> "ListT":
        """The view of a decoded block whose index decode_extensions already built."""
        view = cls.__new__(cls)
        list.__init__(view, items)
        view._decoded = {}
        view._index = index
        return view

    def append(self, item: tuple[int, bytes]) -> None:
        list.append(self, item)
        self._index.setdefault(item[0], item[1])

    # Any other change to the list rebuilds the index, so body()/``in`` always agree with it.
    def _reindex(self) -> None:
        self._decoded = {}
        self._index = {}
        for t, body in self:
            self._index.setdefault(t, body)

    def extend(self, items: Iterable[tuple[int, bytes]]) -> None:
        list.extend(self, items)
        self._reindex()

    def __iadd__(self, items: Iterable[tuple[int, bytes]]) -> "ExtensionList":  # type: ignore[override,misc]
        self.extend(items)
        return self

    def insert(self, i: Any, item: tuple[int, bytes]) -> None:
        list.insert(self, i, item)
        self._reindex()

    def remove(self, item: tuple[int, bytes]) -> None:
        list.remove(self, item)
        self._reindex()

    def pop(self, i: Any = -1) -> tuple[int, bytes]:
        item: tuple[int, bytes] = list.pop(self, i)
        self._reindex()
        return item

    def clear(self) -> None:
        list.clear(self)
        self._reindex()

    def __setitem__(self, i: Any, item: Any) -> None:
        list.__setitem__(self, i, item)
        self._reindex()

    def __delitem__(self, i: Any) -> None:
        list.__delitem__(self, i)
        self._reindex()

    def body(self, ext_type: int) -> bytes | None:
        """The raw body of ``ext_type`` (None if absent)."""
        return self._index.get(ext_type)

    def types(self) -> set[int]:
        return set(self._index)

    def __contains__(self, ext_type: object) -> bool:  # ``E.cookie in hello.extensions``
        if isinstance(ext_type, tuple):
            return list.__contains__(self, ext_type)
        return ext_type in self._index

    @property
    def unknown(self) -> list[tuple[int, bytes]]:
        """Extensions tlskit does not recognise (GREASE among them, see is_grease), raw."""
        return [(t, b) for t, b in self if t not in KNOWN]

    def check(self, offered: Iterable[int] | None = None) -> None:
        """RFC 8446 4.2 placement rules for this message (see check_extensions)."""
        check_extensions(self.message, self, offered)

    def _get(self, ext_type: ExtensionType, decode: Callable[[bytes], Any]) -> Any:
        decoded = self._decoded
        if ext_type in decoded:
            return decoded[ext_type]
        body = self._index.get(ext_type)
        value = None if body is None else decode(body)
        decoded[ext_type] = value
        return value


class ClientHelloExtensions(ExtensionList):
    message = "client_hello"

    @property
    def server_name(self) -> str | None:
        """The host_name (None if absent, or an IP literal, which RFC 6066 3 does not allow)."""
        return self._get(E.server_name, decode_server_name)  # type: ignore[no-any-return]

    @property
    def supported_versions(self) -> list[int] | None:
        return self._get(E.supported_versions, decode_supported_versions_client)  # type: ignore[no-any-return]

    @property
    def supported_groups(self) -> list[int] | None:
        return self._get(E.supported_groups, decode_u16_list)  # type: ignore[no-any-return]

    @property
    def signature_algorithms(self) -> list[int] | None:
        return self._get(E.signature_algorithms, decode_u16_list)  # type: ignore[no-any-return]

    @property
    def signature_algorithms_cert(self) -> list[int] | None:
        return self._get(E.signature_algorithms_cert, decode_u16_list)  # type: ignore[no-any-return]

    @property
    def key_share(self) -> list[tuple[int, bytes]] | None:
        return self._get(E.key_share, decode_key_share_client)  # type: ignore[no-any-return]

    @property
    def alpn(self) -> list[bytes] | None:
        return self._get(E.application_layer_protocol_negotiation, decode_alpn)  # type: ignore[no-any-return]

    @property
    def record_size_limit(self) -> int | None:
        return self._get(E.record_size_limit, decode_record_size_limit)  # type: ignore[no-any-return]

    @property
    def status_request(self) -> int | None:
        """The CertificateStatusType asked for (1: OCSP)."""
        return self._get(E.status_request, decode_status_request)  # type: ignore[no-any-return]

    @property
    def cookie(self) -> bytes | None:
        return self._get(E.cookie, decode_cookie)  # type: ignore[no-any-return]

    @property
    def psk_key_exchange_modes(self) -> list[int] | None:
        return self._get(E.psk_key_exchange_modes, decode_psk_key_exchange_modes)  # type: ignore[no-any-return]

    @property
    def early_data(self) -> bool:
        return E.early_data in self


class ServerHelloExtensions(ExtensionList):
    message = "server_hello"

    @property
    def supported_versions(self) -> int | None:
        return self._get(E.supported_versions, decode_u16)  # type: ignore[no-any-return]

    @property
    def key_share(self) -> tuple[int, bytes] | None:
        return self._get(E.key_share, decode_key_share_server)  # type: ignore[no-any-return]


class HelloRetryRequestExtensions(ExtensionList):
    message = "hello_retry_request"

    @property
    def supported_versions(self) -> int | None:
        return self._get(E.supported_versions, decode_u16)  # type: ignore[no-any-return]

    @property
    def key_share(self) -> int | None:
        """The group the server selected."""
        return self._get(E.key_share, decode_u16)  # type: ignore[no-any-return]

    @property
    def cookie(self) -> bytes | None:
        return self._get(E.cookie, decode_cookie)  # type: ignore[no-any-return]


class EncryptedExtensionsList(ExtensionList):
    message = "encrypted_extensions"

    @property
    def server_name(self) -> bool:
        """Whether the server acknowledged our server_name (the body must be empty)."""
        return bool(self._get(E.server_name, decode_server_name_ack))

    @property
    def alpn(self) -> list[bytes] | None:
        return self._get(E.application_layer_protocol_negotiation, decode_alpn)  # type: ignore[no-any-return]

    @property
    def record_size_limit(self) -> int | None:
        return self._get(E.record_size_limit, decode_record_size_limit)  # type: ignore[no-any-return]

    @property
    def early_data(self) -> bool:
        return E.early_data in self


class CertificateRequestExtensions(ExtensionList):
    message = "certificate_request"

    @property
    def signature_algorithms(self) -> list[int] | None:
        return self._get(E.signature_algorithms, decode_u16_list)  # type: ignore[no-any-return]

    @property
    def signature_algorithms_cert(self) -> list[int] | None:
        return self._get(E.signature_algorithms_cert, decode_u16_list)  # type: ignore[no-any-return]


class CertificateEntryExtensions(ExtensionList):
    message = "certificate"

    @property
    def status_request(self) -> bytes | None:
        """The stapled OCSP response (CertificateStatus, RFC 8446 4.4.2.1)."""
        return self._get(E.status_request, decode_certificate_status)  # type: ignore[no-any-return]


class NewSessionTicketExtensions(ExtensionList):
    message = "new_session_ticket"

    @property
    def early_data(self) -> int | None:
        """max_early_data_size (RFC 8446 4.2.10)."""
        return self._get(E.early_data, _decode_u32)  # type: ignore[no-any-return]


def _decode_u32(body: bytes) -> int:
    r = _whole(body)
    value = r.pull_u32()
    r.expect_end()
    return value

