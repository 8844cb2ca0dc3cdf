"""The extension codec: typed views of each message's extensions, the one placement check
(RFC 8446 4.2), an encoder for every value the engine sends, unknown extensions kept raw."""

from __future__ import annotations

import pytest

from tlskit.engine import extensions as ext
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.messages import (
    HRR_RANDOM,
    CertificateRequest,
    ClientHello,
    EncryptedExtensions,
    NewSessionTicketMessage,
    ServerHello,
)
from tlskit.errors import DecodeError, IllegalParameter, MissingExtension, UnsupportedExtension
from tlskit.events import NewSessionTicket


def _client_hello(extensions) -> ClientHello:
    encoded = ClientHello(bytes(32), b"", [0x1301], extensions).encode()
    return ClientHello.decode(encoded[4:])


def test_client_hello_extensions_decode_to_typed_values():
    hello = _client_hello(
        [
            (0x2A2A, b""),  # GREASE (RFC 8701)
            (E.server_name, ext.encode_server_name(b"example.com")),
            (E.supported_groups, ext.encode_supported_groups([0x1D, 0x17])),
            (E.signature_algorithms, ext.encode_signature_algorithms([0x0403, 0x0804])),
            (E.application_layer_protocol_negotiation, ext.encode_alpn([b"h2", b"http/1.1"])),
            (E.status_request, ext.encode_status_request_ocsp()),
            (E.record_size_limit, ext.encode_record_size_limit(1024)),
            (E.supported_versions, ext.encode_supported_versions_client([ext.TLS13])),
            (E.key_share, ext.encode_key_share_client([(0x1D, b"k" * 32)])),
            (E.cookie, ext.encode_cookie(b"c00kie")),
            (0xFF01, b"\x00"),  # renegotiation_info: not recognised by tlskit, kept raw
            (E.psk_key_exchange_modes, ext.encode_psk_key_exchange_modes([ext.PSK_DHE_KE])),
        ]
    )
    x = hello.extensions
    assert isinstance(x, ext.ClientHelloExtensions) and x.message == "client_hello"
    assert x.server_name == "example.com"
    assert x.supported_groups == [0x1D, 0x17]
    assert x.signature_algorithms == [0x0403, 0x0804] and x.signature_algorithms_cert is None
    assert x.alpn == [b"h2", b"http/1.1"]
    assert x.status_request == ext.STATUS_TYPE_OCSP
    assert x.record_size_limit == 1024
    assert x.supported_versions == [ext.TLS13]
    assert x.key_share == [(0x1D, b"k" * 32)]
    assert x.cookie == b"c00kie"
    assert x.psk_key_exchange_modes == [ext.PSK_DHE_KE]
    assert x.early_data is False
    # the list itself stays the wire order, unknown extensions included
    assert [t for t, _ in x][:2] == [0x2A2A, E.server_name]
    assert x.unknown == [(0x2A2A, b""), (0xFF01, b"\x00")]
    assert [ext.is_grease(t) for t, _ in x.unknown] == [True, False]
    assert E.cookie in x and E.early_data not in x
    x.check()  # everything here may appear in a ClientHello


def test_server_hello_and_hello_retry_request_read_key_share_differently():
    sh = ServerHello(bytes(32), b"", 0x1301, [(E.key_share, ext.encode_key_share_entry(0x1D, b"s" * 32)),
                                              (E.supported_versions, ext.encode_supported_versions_server(ext.TLS13))])
    decoded = ServerHello.decode(sh.encode()[4:])
    assert isinstance(decoded.extensions, ext.ServerHelloExtensions)
    assert decoded.extensions.key_share == (0x1D, b"s" * 32) and decoded.extensions.supported_versions == ext.TLS13
    hrr = ServerHello(HRR_RANDOM, b"", 0x1301, [(E.key_share, ext.encode_key_share_hrr(0x17)), (E.cookie, ext.encode_cookie(b"c"))])
    decoded = ServerHello.decode(hrr.encode()[4:])
    assert isinstance(decoded.extensions, ext.HelloRetryRequestExtensions)
    assert decoded.extensions.key_share == 0x17 and decoded.extensions.cookie == b"c"


def test_encrypted_extensions_certificate_request_and_ticket_views():
    ee = EncryptedExtensions.decode(EncryptedExtensions([(E.server_name, ext.encode_server_name_ack()),
                                                          (E.record_size_limit, ext.encode_record_size_limit(64))]).encode()[4:])
    assert ee.extensions.server_name is True and ee.extensions.record_size_limit == 64 and ee.extensions.alpn is None
    bad = EncryptedExtensions.decode(EncryptedExtensions([(E.server_name, b"\x00")]).encode()[4:])
    with pytest.raises(DecodeError, match="must be empty"):
        bad.extensions.server_name  # noqa: B018
    cr = CertificateRequest.decode(CertificateRequest(b"", [(E.signature_algorithms, ext.encode_signature_algorithms([0x0804]))]).encode()[4:])
    assert cr.extensions.signature_algorithms == [0x0804]
    ticket = NewSessionTicketMessage(3600, 7, b"n", b"t", [(E.early_data, (1024).to_bytes(4, "big"))])
    assert NewSessionTicketMessage.decode(ticket.encode()[4:]).extensions.early_data == 1024
    # the message class no longer shares its name with the public event
    assert NewSessionTicketMessage.__name__ != NewSessionTicket.__name__


def test_values_are_decoded_once_and_malformed_ones_raise_typed_errors():
    hello = _client_hello([(E.supported_groups, b"\x00\x03\x00")])
    with pytest.raises(DecodeError):
        hello.extensions.supported_groups  # noqa: B018
    calls = []
    good = _client_hello([(E.supported_groups, ext.encode_supported_groups([0x1D]))]).extensions
    real = ext.decode_u16_list
    first = good._get(E.supported_groups, lambda body: calls.append(body) or real(body))
    again = good._get(E.supported_groups, lambda body: calls.append(body) or real(body))
    assert first == again == [0x1D] and len(calls) == 1


@pytest.mark.parametrize(
    "message, extensions, offered, error",
    [
        ("client_hello", [(E.oid_filters, b"")], None, IllegalParameter),  # CertificateRequest only
        ("server_hello", [(E.server_name, b"")], {E.server_name}, IllegalParameter),
        ("encrypted_extensions", [(E.key_share, b"")], {E.key_share}, IllegalParameter),
        ("encrypted_extensions", [(E.application_layer_protocol_negotiation, b"")], set(), UnsupportedExtension),
        ("encrypted_extensions", [(0xFF01, b"")], set(), UnsupportedExtension),  # unknown and unsolicited
        ("certificate", [(E.key_share, b"")], None, IllegalParameter),
        ("new_session_ticket", [(E.server_name, b"")], None, IllegalParameter),
    ],
)
def test_placement_rules_are_checked_in_one_place(message, extensions, offered, error):
    with pytest.raises(error):
        ext.check_extensions(message, extensions, offered)


def test_unknown_extensions_are_ignored_where_nothing_was_offered():
    ext.check_extensions("certificate_request", [(0xFF01, b""), (0x0A0A, b"")])
    ext.check_extensions("new_session_ticket", [(0xFF01, b"")])


def test_require_names_the_missing_extension():
    assert ext.present([1], E.key_share, "ClientHello") == [1]
    with pytest.raises(MissingExtension, match="ClientHello lacks key_share"):
        ext.present(None, E.key_share, "ClientHello")


def test_every_encoder_round_trips():
    assert ext.decode_record_size_limit(ext.encode_record_size_limit(16385)) == 16385
    assert ext.decode_u16(ext.encode_supported_versions_server(ext.TLS13)) == ext.TLS13
    assert ext.decode_u16(ext.encode_key_share_hrr(0x11EC)) == 0x11EC
    assert ext.decode_psk_key_exchange_modes(ext.encode_psk_key_exchange_modes([1])) == [1]
    assert ext.decode_status_request(ext.encode_status_request_ocsp()) == ext.STATUS_TYPE_OCSP
    assert ext.decode_server_name_ack(ext.encode_server_name_ack())
    assert ext.decode_u16_list(ext.encode_signature_algorithms([0x0403])) == [0x0403]
    assert ext.decode_u16_list(ext.encode_supported_groups([0x1D])) == [0x1D]
    assert ext.decode_certificate_status(ext.encode_certificate_status(b"ocsp")) == b"ocsp"
