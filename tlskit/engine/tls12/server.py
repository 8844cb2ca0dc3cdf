"""The TLS 1.2 server state machine (RFC 5246 7.3, server side), entered from the
server's RECVD_CH when version negotiation settles on TLS 1.2.

The whole machine is ``TLS12_SERVER`` at the end of this module. Full handshake::

    ClientHello -> (ServerHello, Certificate, [CertificateStatus], ServerKeyExchange,
                    [CertificateRequest], ServerHelloDone)
    WAIT_CERT --Certificate--> WAIT_CKE --ClientKeyExchange--> WAIT_CV | WAIT_CCS
    WAIT_CV --CertificateVerify--> WAIT_CCS --ChangeCipherSpec--> WAIT_FINISHED
    WAIT_FINISHED --Finished--> ([NewSessionTicket], ChangeCipherSpec, Finished) CONNECTED

Resumption (session id or RFC 5077 ticket): ServerHello, [NewSessionTicket],
ChangeCipherSpec, Finished at once, then WAIT_CCS -> WAIT_FINISHED -> CONNECTED.

The client's application data is accepted only after its Finished verified (and, when
we asked for it, its certificate and CertificateVerify).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from tlskit.engine import extensions as ext
from tlskit.engine.certs import name_matches
from tlskit.engine.config import CertifiedKey
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.handshake import leaf_public_key
from tlskit.engine.messages import DOWNGRADE_TLS12, ClientHello, ServerHello
from tlskit.engine.record import ContentType
from tlskit.engine.states import ServerState, TransitionTable
from tlskit.engine.tls12 import messages as m12
from tlskit.engine.states import CHANGE_CIPHER_SPEC
from tlskit.engine.tls12.client import send_no_renegotiation
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
from tlskit.engine.tls12.session import Session12, server_session_ids, server_ticket_store
from tlskit.engine.tls12.suites import (
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    TLS_FALLBACK_SCSV,
    TLS12_GROUPS,
    Tls12CipherSuite,
    provider_suites,
)
from tlskit.engine.verify import verify_peer
from tlskit.errors import (
    AlertDescription,
    HandshakeFailure,
    IllegalParameter,
    NoApplicationProtocol,
    TLSError,
)
from tlskit.providers.names import GROUPS, SIGNATURE_SCHEMES

if TYPE_CHECKING:  # pragma: no cover
    # tlskit.engine.server imports this module, so the connection is typed by its base
    # class here: importing tlskit.engine.server back, even for typing, is an import cycle
    from tlskit.engine.connection import Connection as ServerConnection

S = ServerState
TLS12 = 0x0303
#: RFC 5077 3.3: the lifetime hint we send with a ticket
TICKET_LIFETIME_HINT = 7200


@dataclass
class Server12:
    """A TLS 1.2 server handshake in progress (the connection's ``_tls12``)."""

    suite: Tls12CipherSuite
    client_random: bytes
    server_random: bytes
    transcript: Transcript12
    session_id: bytes = b""
    issue_ticket: bool = False
    requested_client_cert: bool = False
    client_spki: bytes = b""
    kx: Any = None
    keys: Keys12 | None = None
    resumed: Session12 | None = None

    def __repr__(self) -> str:  # the key exchange and secrets stay out of logs
        return f"<Server12 {self.suite.name}>"


def on_client_hello(conn: "ServerConnection", hello: ClientHello, raw: bytes, extensions: dict[int, bytes]) -> ServerState:
    """Answer a ClientHello for which TLS 1.2 was negotiated."""
    config = conn._config
    provider = conn._provider
    # RFC 7507 3: a fallback retry while we could have done better is an attack or a bug
    if TLS_FALLBACK_SCSV in hello.cipher_suites and config.max_version_code > TLS12:
        raise TLSError("client fell back to TLS 1.2 but we support TLS 1.3", AlertDescription.inappropriate_fallback)
    if 0 not in hello.legacy_compression_methods:
        raise IllegalParameter("ClientHello does not offer null compression")  # RFC 5246 7.4.1.2
    # RFC 5746 3.6: the SCSV or an empty renegotiation_info signals secure renegotiation
    secure_reneg = TLS_EMPTY_RENEGOTIATION_INFO_SCSV in hello.cipher_suites
    if E12.renegotiation_info in extensions:
        if m12.decode_renegotiation_info(extensions[E12.renegotiation_info]):
            raise HandshakeFailure("renegotiation_info is not empty in an initial handshake")
        secure_reneg = True
    # RFC 7627 5.3: we require the Extended Master Secret (as rustls does)
    if E12.extended_master_secret not in extensions:
        raise HandshakeFailure("client does not offer the Extended Master Secret (RFC 7627)")
    m12.check_empty_extension("extended_master_secret", extensions[E12.extended_master_secret])
    if E12.ec_point_formats in extensions:
        m12.decode_ec_point_formats(extensions[E12.ec_point_formats])
    host = ext.decode_server_name(extensions[E.server_name]) if E.server_name in extensions else None
    alpn = _choose_alpn(config, extensions)

    record = conn._record = Tls12RecordLayer.take_over(conn._record)
    conn._transitions = TLS12_SERVER
    conn._agreed.version = "TLSv1.2"
    conn._ccs_window = False
    conn._client_random = hello.random
    conn._agreed.server_name = host
    conn._agreed.alpn = alpn.decode("ascii", "replace") if alpn else None
    # RFC 8446 4.1.3: a TLS 1.3-capable server that negotiates TLS 1.2 says so in the
    # last 8 bytes of its random, so that a TLS 1.3 client can detect a downgrade
    if config.max_version_code > TLS12:
        server_random = provider.random(24) + DOWNGRADE_TLS12
    else:
        server_random = provider.random(32)

    response_extensions: list[tuple[int, bytes]] = []
    if secure_reneg:
        response_extensions.append((E12.renegotiation_info, m12.EMPTY_RENEGOTIATION_INFO))
    response_extensions.append((E12.extended_master_secret, b""))
    if E12.ec_point_formats in extensions:
        response_extensions.append((E12.ec_point_formats, m12.EC_POINT_FORMATS_UNCOMPRESSED))
    if alpn is not None:
        response_extensions.append((E.application_layer_protocol_negotiation, ext.encode_alpn([alpn])))
    if host is not None:
        response_extensions.append((E.server_name, b""))  # RFC 6066 3: SNI was used
    tickets = server_ticket_store(config)
    wants_ticket = tickets is not None and E12.session_ticket in extensions

    resumed = _find_session(conn, hello, extensions, tickets, host)
    if resumed is not None:
        return _resume(conn, hello, raw, server_random, resumed, response_extensions, wants_ticket)

    suites = provider_suites(provider)
    identity, suite, scheme = _choose_identity_and_suite(conn, host, hello, extensions, suites)
    client_groups = ext.decode_u16_list(ext.require(extensions, E.supported_groups, "ClientHello"))
    group = next((g for g in config.resolved_groups if g in TLS12_GROUPS and GROUPS[g] in client_groups), None)
    if group is None:
        raise HandshakeFailure("no ECDHE group in common")  # RFC 8422 5.1.1
    staple = identity.ocsp_response is not None and E.status_request in extensions and ext.decode_status_request(extensions[E.status_request]) == 1
    if staple:
        response_extensions.append((E.status_request, b""))
    if wants_ticket:
        response_extensions.append((E12.session_ticket, b""))  # RFC 5077 3.2: a ticket will follow
    session_id = provider.random(32)  # RFC 5246 7.4.1.3: the session can be resumed by this id

    state = conn._tls12 = Server12(suite, hello.random, server_random, Transcript12(raw), session_id=session_id)
    state.issue_ticket = wants_ticket
    conn._agreed.suite = suite  # type: ignore[assignment]  # a TLS 1.2 suite has .name too
    conn._agreed.group = group
    conn._agreed.signature_scheme = scheme
    _send(conn, ServerHello(server_random, session_id, suite.code, response_extensions).encode())
    _send(conn, m12.Certificate12(list(identity.chain)).encode())
    if staple:
        assert identity.ocsp_response is not None  # the chosen certificate's own (RFC 6066 8)
        _send(conn, m12.frame(22, ext.encode_certificate_status(identity.ocsp_response)))
    kx = state.kx = provider.groups[group].start()
    params = m12.ecdh_params(GROUPS[group], kx.share)
    signature = identity.key.sign(scheme, m12.server_key_exchange_content(hello.random, server_random, params))
    _send(conn, m12.ServerKeyExchange(GROUPS[group], kx.share, SIGNATURE_SCHEMES[scheme], signature).encode())
    if config.requests_client_certificate:
        state.requested_client_cert = True
        request = m12.CertificateRequest12(
            bytes((m12.RSA_SIGN, m12.ECDSA_SIGN)), [SIGNATURE_SCHEMES[s] for s in config.resolved_signature_schemes]
        )
        _send(conn, request.encode())
    _send(conn, m12.ServerHelloDone().encode())
    del record
    return S.WAIT_CERT if state.requested_client_cert else S.WAIT_CKE


def _choose_alpn(config: Any, extensions: dict[int, bytes]) -> Optional[bytes]:
    """RFC 7301 3.2: our first protocol the client offered; none in common is fatal."""
    if E.application_layer_protocol_negotiation not in extensions:
        return None
    theirs = ext.decode_alpn(extensions[E.application_layer_protocol_negotiation])
    if config.alpn_callback is not None:
        return config.select_alpn(theirs)
    if not config.resolved_alpn:
        return None
    for protocol in config.resolved_alpn:
        if protocol in theirs:
            return protocol
    raise NoApplicationProtocol("no ALPN protocol in common")


def _choose_identity_and_suite(
    conn: "ServerConnection", host: Optional[str], hello: ClientHello, extensions: dict[int, bytes], suites: dict[str, Tls12CipherSuite]
) -> tuple[CertifiedKey, Tls12CipherSuite, str]:
    """A certificate (by SNI first), our most preferred suite the client offers whose
    authentication fits that certificate's key, and a signature scheme both accept
    (RFC 5246 7.4.1.4.1: the client's signature_algorithms bind the ServerKeyExchange)."""
    config = conn._config
    client_schemes = ext.decode_u16_list(ext.require(extensions, E.signature_algorithms, "ClientHello"))
    identities = list(config.identities)
    if host is not None:
        identities.sort(key=lambda identity: not name_matches(host, identity.dns_names))
    offered = set(hello.cipher_suites)
    for identity in identities:
        auth = key_auth(identity.key)
        for name in config.resolved_tls12_suites:
            suite = suites.get(name)
            if suite is None or suite.code not in offered or suite.info.auth != auth:
                continue
            scheme = choose_scheme(config.resolved_signature_schemes, identity.key, client_schemes, auth)
            if scheme is not None:
                return identity, suite, scheme
    raise HandshakeFailure("no TLS 1.2 cipher suite, certificate and signature scheme in common")


def _find_session(
    conn: "ServerConnection", hello: ClientHello, extensions: dict[int, bytes], tickets: Any, host: Optional[str]
) -> Optional[Session12]:
    """A session the client asks to resume and we still accept (ticket first, RFC 5077 3.4);
    anything unknown, expired or not matching means a full handshake, never an error."""
    session = None
    ticket = extensions.get(E12.session_ticket, b"")
    if ticket and tickets is not None:
        state = tickets.redeem(ticket)
        session = Session12.from_state(state) if state is not None else None
    if session is None and hello.legacy_session_id:
        session = server_session_ids(conn._config).get(hello.legacy_session_id)
    if session is None or not session.is_valid():
        return None
    if (session.server_name or None) != (host or None):
        return None  # RFC 6066 3: resume only for the name the session was made for
    if session.alpn is not None and conn._agreed.alpn != session.alpn:
        return None  # the application protocol must not change under a resumed session
    info = provider_suites(conn._provider).get(session.suite)
    # RFC 5246 7.4.1.2: the client MUST still offer the session's suite; we must still allow it
    if info is None or info.code not in hello.cipher_suites or session.suite not in conn._config.resolved_tls12_suites:
        return None
    return session


def _resume(
    conn: "ServerConnection",
    hello: ClientHello,
    raw: bytes,
    server_random: bytes,
    session: Session12,
    response_extensions: list[tuple[int, bytes]],
    wants_ticket: bool,
) -> ServerState:
    suite = provider_suites(conn._provider)[session.suite]
    if wants_ticket:
        response_extensions.append((E12.session_ticket, b""))
    # RFC 5246 7.4.1.3 / RFC 5077 3.4: echo the client's session id to say we resume
    state = conn._tls12 = Server12(suite, hello.random, server_random, Transcript12(raw), session_id=hello.legacy_session_id)
    state.issue_ticket = wants_ticket
    state.resumed = session
    conn._agreed.resumed = True
    conn._agreed.suite = suite  # type: ignore[assignment]
    conn._agreed.group = session.group
    conn._agreed.peer_certificates = session.peer_certificates
    _send(conn, ServerHello(server_random, hello.legacy_session_id, suite.code, response_extensions).encode())
    keys = state.keys = keys_from_master(suite, session.master_secret, hello.random, server_random)
    conn._keylog(("CLIENT_RANDOM", keys.master_secret))
    _send_ticket_and_finished(conn, state)
    return S.WAIT_CCS


def _send(conn: "ServerConnection", message: bytes) -> None:
    if conn._tracer is not None:
        conn._tracer.tls12 = True
        conn._tracer.message("sent", message, conn._record_protected("write"))
    conn._tls12.transcript.add(message)
    conn._record.queue_handshake(message)


# -- client's flight ------------------------------------------------------------------------


def _on_certificate(conn: "ServerConnection", body: bytes, raw: bytes) -> ServerState:
    state: Server12 = conn._tls12
    message = m12.Certificate12.decode(body)
    state.transcript.add(raw)
    if not message.chain:
        if conn._config.require_client_auth:
            # RFC 5246 7.4.6: a server that requires a certificate MAY answer handshake_failure
            raise HandshakeFailure("client sent no certificate but one is required")
        return S.WAIT_CKE
    chain = tuple(message.chain)
    conn._checked("certificate_chain", f"{len(chain)} certificate(s), a client certificate", verify_peer, conn._config, chain, None, "client")
    state.client_spki = leaf_public_key(chain)
    conn._agreed.peer_certificates = chain
    return S.WAIT_CKE


def _on_client_key_exchange(conn: "ServerConnection", body: bytes, raw: bytes) -> ServerState:
    state: Server12 = conn._tls12
    message = m12.ClientKeyExchange.decode(body)
    # the provider validates the client's point (length, on the curve, low order)
    premaster = state.kx.complete(message.public)
    state.kx = None
    state.transcript.add(raw)
    keys = state.keys = derive_keys(state.suite, premaster, state.transcript.digest(state.suite), state.client_random, state.server_random)
    conn._keylog(("CLIENT_RANDOM", keys.master_secret))
    if conn._tracer is not None:  # RFC 7627 4: the master secret over the session hash
        conn._tracer.step("derive", "master_secret", "extended master secret", keys.master_secret)
    # RFC 5246 7.4.8: a client that sent a certificate proves it holds the key
    return S.WAIT_CV if state.client_spki else S.WAIT_CCS


def _on_certificate_verify(conn: "ServerConnection", body: bytes, raw: bytes) -> ServerState:
    state: Server12 = conn._tls12
    message = m12.CertificateVerify12.decode(body)
    scheme = scheme_from_code(message.scheme, conn._config.resolved_signature_schemes, None, "client CertificateVerify")
    verify = conn._provider.signature_schemes[scheme].verify
    detail = f"{scheme} signature by the client's key"
    conn._checked("certificate_verify", detail, verify, state.client_spki, state.transcript.content(), message.signature, strict_curve=False)
    state.transcript.add(raw)
    return S.WAIT_CCS


def _on_change_cipher_spec(conn: "ServerConnection", body: bytes, raw: bytes) -> ServerState:
    state: Server12 = conn._tls12
    assert state.keys is not None
    receive_change_cipher_spec(conn, body, state.keys.client_write)
    return S.WAIT_FINISHED


def _on_finished(conn: "ServerConnection", body: bytes, raw: bytes) -> ServerState:
    state: Server12 = conn._tls12
    check_peer_finished(conn, body, raw, state, peer_is_client=True)
    if state.resumed is None:
        _send_ticket_and_finished(conn, state)
        _store_session(conn, state)
    conn._complete_handshake()
    return S.CONNECTED


def _session_of(conn: "ServerConnection", state: Server12) -> Session12:
    assert state.keys is not None
    return Session12(
        suite=state.suite.name,
        master_secret=state.keys.master_secret,
        group=conn._agreed.group,
        peer_certificates=conn._agreed.peer_certificates,
        created=time.time() if state.resumed is None else state.resumed.created,
        lifetime=TICKET_LIFETIME_HINT,
        server_name=conn._agreed.server_name,
        alpn=conn._agreed.alpn,
    )


def _send_ticket_and_finished(conn: "ServerConnection", state: Server12) -> None:
    assert state.keys is not None
    if state.issue_ticket:
        tickets = server_ticket_store(conn._config)
        ticket = tickets.issue(_session_of(conn, state).to_state()) if tickets is not None else b""
        _send(conn, m12.NewSessionTicket12(TICKET_LIFETIME_HINT if ticket else 0, ticket).encode())
    conn._record.write_change_cipher_spec()
    record: Tls12RecordLayer = conn._record  # type: ignore[assignment]
    record.activate_write(state.keys.server_write)
    if conn._tracer is not None:
        conn._trace_keys("write", "application")
    _send(conn, m12.Finished12(finished(state.suite, state.keys.master_secret, False, state.transcript)).encode())


def _store_session(conn: "ServerConnection", state: Server12) -> None:
    if state.session_id:
        server_session_ids(conn._config).put(state.session_id, _session_of(conn, state))


def _on_client_hello_after_handshake(conn: "ServerConnection", body: bytes, raw: bytes) -> ServerState:
    """RFC 5746 4.4 / RFC 5246 7.2.2: renegotiation is refused with a no_renegotiation
    warning; the connection goes on."""
    ClientHello.decode(body)
    send_no_renegotiation(conn)
    return S.CONNECTED


#: The server's TLS 1.2 machine; anything else is unexpected_message (RFC 5246 7.3 order).
TLS12_SERVER: TransitionTable = {
    (S.WAIT_CERT, 11): _on_certificate,  # -> WAIT_CKE
    (S.WAIT_CKE, H12.client_key_exchange): _on_client_key_exchange,  # -> WAIT_CV | WAIT_CCS
    (S.WAIT_CV, 15): _on_certificate_verify,  # -> WAIT_CCS
    (S.WAIT_CCS, CHANGE_CIPHER_SPEC): _on_change_cipher_spec,  # -> WAIT_FINISHED
    (S.WAIT_FINISHED, 20): _on_finished,  # -> CONNECTED
    (S.CONNECTED, 1): _on_client_hello_after_handshake,  # -> CONNECTED (no_renegotiation)
}
