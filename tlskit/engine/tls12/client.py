"""The TLS 1.2 client state machine (RFC 5246 7.3, client side), entered from the
TLS 1.3 client's WAIT_SH when the server answers with a TLS 1.2 ServerHello.

The whole machine is ``TLS12_CLIENT`` at the end of this module. Full handshake::

    WAIT_SH --ServerHello--> WAIT_CERT --Certificate--> WAIT_SKE [--CertificateStatus-->]
    WAIT_SKE --ServerKeyExchange--> WAIT_CR_OR_SHD --CertificateRequest--> WAIT_SHD
    WAIT_CR_OR_SHD/WAIT_SHD --ServerHelloDone--> (our flight) WAIT_NST | WAIT_CCS
    WAIT_NST --NewSessionTicket--> WAIT_CCS --ChangeCipherSpec--> WAIT_FINISHED --Finished--> CONNECTED

Resumption (RFC 5246 7.3 abbreviated handshake, RFC 5077 3.1): ServerHello -> [WAIT_NST]
-> WAIT_CCS -> WAIT_FINISHED, then our ChangeCipherSpec and Finished.

Application data flows only after the server's Finished verified, which covers the
certificate, the signed ServerKeyExchange and the whole transcript.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tlskit.engine import extensions as ext
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.handshake import leaf_public_key
from tlskit.engine.messages import DOWNGRADE_TLS11, DOWNGRADE_TLS12, ServerHello
from tlskit.engine.record import MAX_PLAINTEXT, ContentType
from tlskit.engine.states import CHANGE_CIPHER_SPEC, ClientState, TransitionTable
from tlskit.engine.tls12 import messages as m12
from tlskit.engine.tls12.handshake import (
    Keys12,
    Transcript12,
    check_peer_finished,
    choose_scheme,
    derive_keys,
    finished,
    key_auth,
    keys_from_master,
    receive_change_cipher_spec,
    scheme_from_code,
)
from tlskit.engine.tls12.messages import ExtensionType12 as E12, HandshakeType12 as H12
from tlskit.engine.tls12.record import Tls12RecordLayer
from tlskit.engine.tls12.session import Session12, client_sessions
from tlskit.engine.tls12.suites import SUITE_BY_CODE, TLS12_GROUPS, Tls12CipherSuite, provider_suites
from tlskit.engine.verify import verify_peer
from tlskit.errors import (
    AlertDescription,
    DecodeError,
    HandshakeFailure,
    IllegalParameter,
    ProtocolVersionError,
    UnexpectedMessage,
    UnsupportedExtension,
)
from tlskit.events import NewSessionTicket as NewSessionTicketEvent
from tlskit.providers.names import GROUP_NAMES, SIGNATURE_SCHEMES

if TYPE_CHECKING:  # pragma: no cover
    # tlskit.engine.client imports this module, so the connection is typed by its base
    # class here: importing tlskit.engine.client back, even for typing, is an import cycle
    from tlskit.engine.connection import Connection as ClientConnection

S = ClientState
TLS12 = 0x0303
SESSION_TICKET = 35


@dataclass
class Client12:
    """A TLS 1.2 client handshake in progress (the connection's ``_tls12``)."""

    suite: Tls12CipherSuite
    client_random: bytes
    server_random: bytes
    transcript: Transcript12
    #: schemes we listed in signature_algorithms (ServerKeyExchange must use one)
    offered_schemes: tuple[str, ...]
    server_spki: bytes = b""
    status_acked: bool = False
    ticket_acked: bool = False
    request: m12.CertificateRequest12 | None = None
    keys: Keys12 | None = None
    #: the session being resumed (abbreviated handshake), if the server accepted it
    resumed: Session12 | None = None
    new_ticket: m12.NewSessionTicket12 | None = None
    session_id: bytes = b""
    #: the server's ECDHE group and share, from its (verified) ServerKeyExchange
    server_group: str = ""
    server_public: bytes = b""

    def __repr__(self) -> str:  # secrets stay out of logs
        return f"<Client12 {self.suite.name}>"


def tls12_suite_codes(config: Any) -> list[int]:
    """The TLS 1.2 suites a client offers (after the TLS 1.3 ones)."""
    return [SUITE_BY_NAME_CODE[name] for name in config.resolved_tls12_suites]


SUITE_BY_NAME_CODE = {s.name: s.code for s in SUITE_BY_CODE.values()}


def hello_extensions(config: Any) -> list[tuple[int, bytes]]:
    """TLS 1.2 extensions a client adds to its ClientHello when it offers TLS 1.2
    (the same for every connection of a config)."""
    return [
        (E12.ec_point_formats, m12.EC_POINT_FORMATS_UNCOMPRESSED),  # RFC 8422 5.1.2
        (E12.extended_master_secret, b""),  # RFC 7627 5.1
        (E12.renegotiation_info, m12.EMPTY_RENEGOTIATION_INFO),  # RFC 5746 3.4
    ]


def resumption_offer(config: Any, server_name: str | None, random: Any) -> tuple[Session12 | None, bytes, bytes | None]:
    """(session, session_id, session_ticket extension body or None) for a new ClientHello.

    A session with a ticket is offered with the ticket and a fresh session id, which the
    server echoes if it accepts the ticket (RFC 5077 3.4); one without, by its session id
    (RFC 5246 7.4.1.2). Without a session: an empty session_ticket asks for a ticket; a
    config that resumes nothing sends no session_ticket at all."""
    cache = client_sessions(config)
    if cache is None:
        return None, b"", None
    session = cache.get(server_name)
    if session is None:
        return None, b"", b""
    if session.ticket:
        return session, random(32), session.ticket
    return session, session.session_id, b""


def on_server_hello(conn: "ClientConnection", hello: ServerHello, raw: bytes, hello_raw: bytes) -> ClientState:
    """A ServerHello without supported_versions: TLS 1.2 (or older, refused)."""
    config = conn._config
    offer = conn._offer
    if hello.legacy_version != TLS12 or config.min_version_code > TLS12:
        # RFC 8446 4.1.3: a TLS 1.3 client MUST check the downgrade sentinels
        if config.max_version_code > TLS12 and hello.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
            raise IllegalParameter("downgrade sentinel in ServerHello.random")
        raise ProtocolVersionError(f"server chose version {hello.legacy_version:#06x}, which we do not accept")
    if config.max_version_code > TLS12 and hello.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
        # RFC 8446 4.1.3: a TLS 1.3-capable server negotiating 1.2 says so; we offered 1.3,
        # so someone in between removed it: MUST abort with illegal_parameter
        raise IllegalParameter("downgrade sentinel in a TLS 1.2 ServerHello: TLS 1.3 was removed in transit")
    info = SUITE_BY_CODE.get(hello.cipher_suite)
    suites = provider_suites(conn._provider)
    if info is None or hello.cipher_suite not in offer.suites or info.name not in suites:
        raise IllegalParameter("server selected a cipher suite we did not offer")
    if hello.legacy_compression_method != 0:
        raise IllegalParameter("non-zero compression method")  # RFC 5246 7.4.1.2: we offered null only
    extensions = _check_extensions(conn, hello)
    suite = suites[info.name]
    conn._record = Tls12RecordLayer.take_over(conn._record)
    conn._transitions = TLS12_CLIENT
    conn._agreed.version = "TLSv1.2"
    conn._ccs_window = False  # TLS 1.2 CCS has meaning: the table rules it
    conn._agreed.suite = suite  # type: ignore[assignment]  # a TLS 1.2 suite has .name too
    state = conn._tls12 = Client12(
        suite,
        offer.random,
        hello.random,
        Transcript12(hello_raw, raw),
        tuple(s for s in config.resolved_signature_schemes),
        session_id=hello.legacy_session_id_echo,
    )
    state.status_acked = E.status_request in extensions
    state.ticket_acked = E12.session_ticket in extensions
    offer.key_exchanges.clear()  # TLS 1.3 key shares: not needed
    session = getattr(conn, "_tls12_session", None)
    if session is not None and offer.session_id and hmac.compare_digest(hello.legacy_session_id_echo, offer.session_id):
        # RFC 5246 7.4.1.3 / RFC 5077 3.4: the server resumes when it echoes our session id
        if suite.name != session.suite:
            raise IllegalParameter("server resumed the session with another cipher suite")
        state.resumed = session
        state.keys = keys_from_master(suite, session.master_secret, state.client_random, state.server_random)
        conn._agreed.peer_certificates = session.peer_certificates
        conn._agreed.signature_scheme = None
        conn._agreed.group = session.group
        conn._agreed.resumed = True
        return S.WAIT_NST if state.ticket_acked else S.WAIT_CCS
    return S.WAIT_CERT


def _check_extensions(conn: "ClientConnection", hello: ServerHello) -> dict[int, bytes]:
    """RFC 5246 7.4.1.4: only extensions we offered; each well-formed."""
    extensions = dict(hello.extensions)
    offered = conn._offer.extensions
    for ext_type in extensions:
        if ext_type not in offered or ext_type in (E.supported_versions, E.key_share, E.pre_shared_key, E.psk_key_exchange_modes):
            raise UnsupportedExtension(f"server sent extension {ext_type}, which we did not offer")
    # RFC 7627 5.3: we require EMS (as rustls does)
    if E12.extended_master_secret not in extensions:
        raise HandshakeFailure("server does not support the Extended Master Secret (RFC 7627)")
    m12.check_empty_extension("extended_master_secret", extensions[E12.extended_master_secret])
    # RFC 5746 3.4: the initial handshake's renegotiation_info must be empty (else
    # handshake_failure); a server that does not send it cannot renegotiate securely, and
    # every server that implements EMS implements it, so we require it too.
    if E12.renegotiation_info not in extensions:
        raise HandshakeFailure("server does not support secure renegotiation (RFC 5746)")
    if m12.decode_renegotiation_info(extensions[E12.renegotiation_info]):
        raise HandshakeFailure("renegotiation_info is not empty in an initial handshake")
    if E12.ec_point_formats in extensions:
        m12.decode_ec_point_formats(extensions[E12.ec_point_formats])
    if E12.session_ticket in extensions:
        m12.check_empty_extension("session_ticket", extensions[E12.session_ticket])
    if E.server_name in extensions and extensions[E.server_name]:
        raise DecodeError("server_name in ServerHello must be empty")
    if E.status_request in extensions and extensions[E.status_request]:
        raise DecodeError("status_request in ServerHello must be empty")
    if E.application_layer_protocol_negotiation in extensions:
        protocols = ext.decode_alpn(extensions[E.application_layer_protocol_negotiation])
        if len(protocols) != 1 or protocols[0] not in conn._config.resolved_alpn:
            raise IllegalParameter("server selected an ALPN protocol we did not offer")
        conn._agreed.alpn = protocols[0].decode("ascii", "replace")
    if E.record_size_limit in extensions:
        # RFC 8449 4: in TLS 1.2 the limit counts the plaintext alone
        peer_limit = ext.decode_record_size_limit(extensions[E.record_size_limit])
        conn._record.max_fragment_out = min(MAX_PLAINTEXT, peer_limit)
    return extensions


# -- server's first flight ---------------------------------------------------------------


def _on_certificate(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    message = m12.Certificate12.decode(body)
    if not message.chain:
        raise DecodeError("server sent an empty Certificate")  # RFC 5246 7.4.2: never empty
    chain = tuple(message.chain)
    state.transcript.add(raw)
    conn._checked("certificate_chain", f"{len(chain)} certificate(s)", verify_peer, conn._config, chain, conn._agreed.server_name, "server")
    state.server_spki = leaf_public_key(chain)
    conn._agreed.peer_certificates = chain
    return S.WAIT_SKE


def _on_certificate_status(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    """RFC 6066 8: CertificateStatus follows Certificate, only if we asked and the server agreed."""
    state: Client12 = conn._tls12
    if not state.status_acked or conn._agreed.ocsp_response is not None:
        raise UnexpectedMessage("CertificateStatus the client did not ask for")
    conn._agreed.ocsp_response = ext.decode_certificate_status(body)
    state.transcript.add(raw)
    return S.WAIT_SKE


def _on_server_key_exchange(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    message = m12.ServerKeyExchange.decode(body)
    name = GROUP_NAMES.get(message.group)
    if name is None or name not in TLS12_GROUPS or message.group not in conn._offer.groups:
        # RFC 8422 5.4: the curve must be one the client listed in supported_groups
        raise IllegalParameter("ServerKeyExchange uses a group we did not offer")
    scheme = scheme_from_code(message.scheme, state.offered_schemes, state.suite.info.auth, "ServerKeyExchange")
    content = m12.server_key_exchange_content(state.client_random, state.server_random, message.params)
    # TLS 1.2 ecdsa_* codes name a hash, not a curve (RFC 8422 5.1.1): the key's curve is free
    verify = conn._provider.signature_schemes[scheme].verify
    detail = f"{scheme} signature over the key exchange by the server's key"
    conn._checked("server_key_exchange", detail, verify, state.server_spki, content, message.signature, strict_curve=False)
    state.transcript.add(raw)
    state.server_public = message.public
    state.server_group = name
    conn._agreed.signature_scheme = scheme
    conn._agreed.group = name
    return S.WAIT_CR_OR_SHD


def _on_certificate_request(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    state.request = m12.CertificateRequest12.decode(body)
    state.transcript.add(raw)
    return S.WAIT_SHD


def _on_server_hello_done(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    m12.ServerHelloDone.decode(body)
    state.transcript.add(raw)
    suite = state.suite
    identity = conn._config.identity
    scheme = None
    if state.request is not None:
        # RFC 5246 7.4.6: a Certificate (empty if we have none that fits) answers the request
        # ... and its key must be of a type the server listed (rsa_sign, ecdsa_sign: RFC 8422 5.5)
        wanted_type = m12.RSA_SIGN if identity is not None and key_auth(identity.key) == "RSA" else m12.ECDSA_SIGN
        if identity is not None and wanted_type in state.request.certificate_types:
            scheme = choose_scheme(conn._config.resolved_signature_schemes, identity.key, state.request.schemes)
        chain = list(identity.chain) if identity is not None and scheme is not None else []
        _send(conn, m12.Certificate12(chain).encode())
    # RFC 8422 5.7 / 5.10: our ephemeral share against the server's; the peer's point is
    # validated by the provider (wrong length, not on the curve, low order: illegal_parameter)
    share, premaster = conn._provider.groups[state.server_group].encapsulate(state.server_public)
    _send(conn, m12.ClientKeyExchange(share).encode())
    keys = state.keys = derive_keys(suite, premaster, state.transcript.digest(suite), state.client_random, state.server_random)
    conn._keylog(("CLIENT_RANDOM", keys.master_secret))
    if conn._tracer is not None:  # RFC 7627 4: the master secret over the session hash
        conn._tracer.step("derive", "master_secret", "extended master secret", keys.master_secret)
    if scheme is not None and identity is not None:
        # RFC 5246 7.4.8: signed over every handshake message so far, raw
        signature = identity.key.sign(scheme, state.transcript.content())
        _send(conn, m12.CertificateVerify12(SIGNATURE_SCHEMES[scheme], signature).encode())
    _send_finished(conn, state)
    return S.WAIT_NST if state.ticket_acked else S.WAIT_CCS


def _send(conn: "ClientConnection", message: bytes) -> None:
    if conn._tracer is not None:
        conn._tracer.tls12 = True
        conn._tracer.message("sent", message, conn._record_protected("write"))
    conn._tls12.transcript.add(message)
    conn._record.queue_handshake(message)


def _send_finished(conn: "ClientConnection", state: Client12) -> None:
    assert state.keys is not None
    conn._record.write_change_cipher_spec()
    record: Tls12RecordLayer = conn._record  # type: ignore[assignment]
    record.activate_write(state.keys.client_write)
    if conn._tracer is not None:
        conn._trace_keys("write", "application")
    _send(conn, m12.Finished12(finished(state.suite, state.keys.master_secret, True, state.transcript)).encode())


# -- server's last flight -----------------------------------------------------------------


def _on_new_session_ticket(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    state.new_ticket = m12.NewSessionTicket12.decode(body)
    state.transcript.add(raw)
    return S.WAIT_CCS


def _on_change_cipher_spec(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    assert state.keys is not None
    receive_change_cipher_spec(conn, body, state.keys.server_write)
    return S.WAIT_FINISHED


def _on_finished(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    state: Client12 = conn._tls12
    check_peer_finished(conn, body, raw, state, peer_is_client=False)
    if state.resumed is not None:
        # abbreviated handshake: the server finished first; now our CCS and Finished
        _send_finished(conn, state)
    _remember_session(conn, state)
    conn._complete_handshake()
    return S.CONNECTED


def _remember_session(conn: "ClientConnection", state: Client12) -> None:
    """Keep what resumption needs (RFC 5246 7.3, RFC 5077 3.4) in the config's cache."""
    assert state.keys is not None
    if client_sessions(conn._config) is None:
        return
    ticket = state.new_ticket.ticket if state.new_ticket is not None else b""
    if state.resumed is not None and not ticket:
        ticket = state.resumed.ticket  # RFC 5077 3.4: the old ticket stays usable
    if not ticket and not state.session_id:
        return
    session = Session12(
        suite=state.suite.name,
        master_secret=state.keys.master_secret,
        session_id=state.session_id,
        ticket=ticket,
        extended_master_secret=True,
        peer_certificates=conn._agreed.peer_certificates,
        group=conn._agreed.group,
        created=time.time() if state.resumed is None or state.new_ticket is not None else state.resumed.created,
        lifetime=state.new_ticket.lifetime_hint if state.new_ticket is not None and state.new_ticket.lifetime_hint else 7200,
        server_name=conn._agreed.server_name,
        alpn=conn._agreed.alpn,
    )
    cache = client_sessions(conn._config)
    if cache is not None:
        cache.put(conn._agreed.server_name, session)
    if state.new_ticket is not None and state.new_ticket.ticket:
        conn._events.append(NewSessionTicketEvent(state.new_ticket.ticket, state.new_ticket.lifetime_hint))


# -- after the handshake -------------------------------------------------------------------


def _on_hello_request(conn: "ClientConnection", body: bytes, raw: bytes) -> ClientState:
    """RFC 5746 4.2 / RFC 5246 7.2.2: we never renegotiate; a HelloRequest gets a
    no_renegotiation warning and the connection goes on."""
    m12.HelloRequest.decode(body)
    send_no_renegotiation(conn)
    return S.CONNECTED


def send_no_renegotiation(conn: Any) -> None:
    conn._record.write(ContentType.alert, bytes((1, AlertDescription.no_renegotiation)))


#: The client's TLS 1.2 machine; anything else is unexpected_message (RFC 5246 7.3 order).
TLS12_CLIENT: TransitionTable = {
    (S.WAIT_CERT, 11): _on_certificate,  # -> WAIT_SKE
    (S.WAIT_SKE, 22): _on_certificate_status,  # -> WAIT_SKE (RFC 6066 8, if we asked)
    (S.WAIT_SKE, H12.server_key_exchange): _on_server_key_exchange,  # -> WAIT_CR_OR_SHD
    (S.WAIT_CR_OR_SHD, 13): _on_certificate_request,  # -> WAIT_SHD
    (S.WAIT_CR_OR_SHD, H12.server_hello_done): _on_server_hello_done,  # -> WAIT_NST | WAIT_CCS
    (S.WAIT_SHD, H12.server_hello_done): _on_server_hello_done,  # -> WAIT_NST | WAIT_CCS
    (S.WAIT_NST, 4): _on_new_session_ticket,  # -> WAIT_CCS
    (S.WAIT_CCS, CHANGE_CIPHER_SPEC): _on_change_cipher_spec,  # -> WAIT_FINISHED
    (S.WAIT_FINISHED, 20): _on_finished,  # -> CONNECTED
    (S.CONNECTED, H12.hello_request): _on_hello_request,  # -> CONNECTED (no_renegotiation)
}
