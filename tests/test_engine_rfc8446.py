"""RFC 8446 conformance: one test per MUST the engine enforces that the older suites left open.

Every test cites the section it checks. Handshakes are replayed with the deterministic
fixture of test_engine_hostile (fixed randoms and keys), so a single field of a real
message can be changed and the answer observed.
"""

from __future__ import annotations

import pytest
from test_engine_hostile import Recorded, expect_alert, record, recorded, replayed_client_hello  # noqa: F401

from tlskit.engine.buffer import vec8, vec16
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.messages import ClientHello, ServerHello
from tlskit.engine.record import ContentType
from tlskit.errors import AlertDescription as A

#: A syntactically valid pre_shared_key body: one identity, one 32-byte binder.
PSK_BODY = vec16(vec16(b"ticket") + b"\x00\x00\x00\x00") + vec16(vec8(bytes(32)))


def server_hello_of(data: bytes) -> ServerHello:
    assert data[0] == ContentType.handshake and data[5] == 2, data[:6]
    length = int.from_bytes(data[6:9], "big")
    return ServerHello.decode(data[9 : 9 + length])


def _with_extension(ext_type: int, body: bytes, *, last: bool = False):
    def mutate(hello: ClientHello) -> None:
        if last:
            hello.extensions.append((ext_type, body))
        else:
            hello.extensions.insert(0, (ext_type, body))

    return mutate


# -- 4.2: a recognized extension in the wrong message ---------------------------------


def test_extension_not_allowed_in_client_hello(recorded):
    # RFC 8446 4.2: oid_filters is defined for CertificateRequest only; a recognized
    # extension in a message it is not specified for MUST be illegal_parameter.
    data = replayed_client_hello(recorded, _with_extension(E.oid_filters, b"\x00\x00"))
    expect_alert(recorded.server(), data, A.illegal_parameter)


# -- 4.2.9 / 4.2.11: PSK extensions at a server without PSK ------------------------------


def test_pre_shared_key_without_modes_is_refused(recorded):
    # RFC 8446 4.2.9: pre_shared_key without psk_key_exchange_modes -> the server MUST abort
    # (missing_extension, section 9.2), even a server that would ignore the PSK.
    def mutate(hello: ClientHello) -> None:
        hello.extensions = [(t, b) for t, b in hello.extensions if t != E.psk_key_exchange_modes]
        hello.extensions.append((E.pre_shared_key, PSK_BODY))

    expect_alert(recorded.server(), replayed_client_hello(recorded, mutate), A.missing_extension)


def test_pre_shared_key_not_last_is_refused(recorded):
    # RFC 8446 4.2.11: pre_shared_key MUST be the last extension, else illegal_parameter.
    data = replayed_client_hello(recorded, _with_extension(E.pre_shared_key, PSK_BODY))
    expect_alert(recorded.server(), data, A.illegal_parameter)


def test_server_without_psk_ignores_offered_psk(recorded):
    # RFC 8446 4.2.11: a server that does not select a PSK answers with a full handshake
    # and no pre_shared_key in its ServerHello.
    server = recorded.server()
    server.receive_data(replayed_client_hello(recorded, _with_extension(E.pre_shared_key, PSK_BODY, last=True)))
    hello = server_hello_of(server.data_to_send())
    assert not hello.is_hello_retry_request
    assert E.pre_shared_key not in dict(hello.extensions)


# -- 4.2.8: key_share entries against supported_groups -----------------------------------

P256_SHARE = b"\x04" + bytes(64)  # never used: the server picks x25519


def _two_shares(order: tuple[int, int]):
    def mutate(hello: ClientHello) -> None:
        extensions = dict(hello.extensions)
        x25519 = extensions[E.key_share][6:]  # vec16(list) + group + vec16(share) header
        shares = {0x001D: x25519, 0x0017: P256_SHARE}
        body = b"".join(g.to_bytes(2, "big") + vec16(shares[g]) for g in order)
        hello.extensions = [
            (t, vec16(b"\x00\x1d\x00\x17") if t == E.supported_groups else vec16(body) if t == E.key_share else b)
            for t, b in hello.extensions
        ]

    return mutate


def test_key_shares_out_of_supported_groups_order(recorded):
    # RFC 8446 4.2.8: each KeyShareEntry MUST appear in the same order as its group in
    # supported_groups; servers MAY check and abort with illegal_parameter.
    expect_alert(recorded.server(), replayed_client_hello(recorded, _two_shares((0x0017, 0x001D))), A.illegal_parameter)
    server = recorded.server()
    server.receive_data(replayed_client_hello(recorded, _two_shares((0x001D, 0x0017))))
    assert dict(server_hello_of(server.data_to_send()).extensions)[E.key_share][:2] == b"\x00\x1d"
