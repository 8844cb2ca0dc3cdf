"""The TLS 1.3 client state machine (RFC 8446 section 4, client side).

The whole machine is the table ``TLS13_CLIENT`` at the end of this module: each
(state, message) pair names its handler, and each handler returns the next state.
Application traffic secrets are derived only in ``_on_finished``, after the server's
certificate, signature and Finished have all been verified.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tlskit.engine import extensions as ext
from tlskit.engine.config import ClientConfig
from tlskit.engine.connection import Connection
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.handshake import (
    CLIENT_CONTEXT,
    SERVER_CONTEXT,
    certificate_chain,
    certificate_verify_content,
    leaf_public_key,
    scheme_codes,
    scheme_name,
    signing_scheme,
)
from tlskit.engine import psk as P
from tlskit.engine.keyschedule import HandshakeSecrets, TrafficKeys
from tlskit.engine.record import ContentType
from tlskit.engine.resumption import (
    ClientPskOffer,
    bind_client_hello,
    check_server_psk,
    client_pre_shared_key_extension,
    client_psk_modes_extension,
    client_psk_offer,
    session_from_ticket,
)
from tlskit.engine.session import Session
from tlskit.engine.messages import (
    DOWNGRADE_TLS11,
    DOWNGRADE_TLS12,
    SSL3_VERSION,
    Certificate,
    CertificateEntry,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Finished,
    HandshakeType,
    NewSessionTicketMessage,
    ServerHello,
    frame,
)
from tlskit.engine.record import MAX_PLAINTEXT
from tlskit.engine.states import ClientState, TransitionTable
from tlskit.engine.trace import TraceCallback
from tlskit.engine.tls12 import client as tls12_client
from tlskit.engine.tls12.versions import TLS12, TLS13
from tlskit.engine.verify import verify_peer
from tlskit.errors import (
    ConfigurationError,
    DecodeError,
    DecryptError,
    IllegalParameter,
    ProtocolVersionError,
    TLSError,
    UnexpectedMessage,
)
from tlskit.events import CertificateRequested, EarlyDataAccepted, EarlyDataRejected
from tlskit.events import NewSessionTicket as NewSessionTicketEvent
from tlskit.providers.base import KeyExchange
from tlskit.providers.names import CIPHER_SUITE_NAMES, CIPHER_SUITES, GROUP_NAMES, GROUPS

H = HandshakeType
S = ClientState
_MAX_KEPT_TICKETS = 8


@dataclass
class ClientOffer:
    """What the client offered: ServerHello and HelloRetryRequest are checked against it."""

    random: bytes
    session_id: bytes
    suites: list[int]
    groups: list[int]
    #: CertificateVerify schemes we accept
    schemes: tuple[str, ...]
    #: one key exchange in flight per group we sent a share for
    key_exchanges: dict[int, KeyExchange] = field(default_factory=dict)
    #: extension types of the last ClientHello (a server may answer only these)
    extensions: set[int] = field(default_factory=set)
    cookie: bytes | None = None
    #: (suite code, selected group or -1) once a HelloRetryRequest came
    retry: tuple[int, int] | None = None

    def __repr__(self) -> str:  # the key exchanges' private halves stay out of logs
        return f"<ClientOffer suites={self.suites} groups={self.groups}>"


class ClientConnection(Connection):
    """A TLS 1.3 client. Its ClientHello is queued in ``data_to_send()`` on construction."""

    is_client = True

    def __init__(
        self,
        config: ClientConfig,
        server_name: str | None = None,
        *,
        buffer_received: bool = True,
        trace: TraceCallback | None = None,
        session: Session | None = None,
        port: int | None = None,
        early_data: bytes | None = None,
        _client_hello_override: bytes | None = None,
    ) -> None:
        """``trace``: this connection's own trace callback (instead of the config's).
        ``session``: a :class:`Session` to resume (default: the newest one the config's
        session cache holds for (``server_name``, ``port``)). ``early_data``: sent as 0-RTT
        data with the ClientHello when that session allows it (RFC 8446 2.3); the events
        :class:`EarlyDataAccepted` / :class:`EarlyDataRejected` tell what became of it."""
        if server_name is None and config.verifier is None and not config.insecure:
            # Without a name, chain validation would accept any certificate from a trusted CA.
            raise ConfigurationError("a server_name is needed to check the server certificate (or insecure=True, or a verifier)")
        # RFC 6066 3: the HostName sent is the name's A-label form without its trailing dot;
        # never an IP literal (even one written with a trailing dot), never an invalid name
        # (refused here, not sent)
        sni: bytes | None = None
        if server_name and not ext.is_ip_literal(server_name.rstrip(".")):
            try:
                sni = ext.sni_host_name(server_name)
            except TLSError as exc:
                raise ConfigurationError(str(exc)) from None
        super().__init__(config, S.START, TLS13_CLIENT, buffer_received=buffer_received, trace=trace)
        self._config: ClientConfig = config
        self._agreed.server_name = server_name
        self._sni = sni
        provider = self._provider
        self._offer = offer = ClientOffer(
            random=provider.random(32),
            session_id=provider.random(32) if config.compatibility_mode else b"",
            suites=_offered_suites(config),
            groups=[GROUPS[n] for n in config.resolved_groups],
            schemes=config.verify_schemes,
        )
        self._client_random = offer.random
        #: a TLS 1.2 session offered for resumption, and the session_ticket extension body
        self._tls12_session = None
        self._tls12_ticket: bytes | None = None
        if config.min_version_code <= TLS12:
            self._tls12_session, session_id, self._tls12_ticket = tls12_client.resumption_offer(config, server_name, provider.random)
            if self._tls12_session is not None:
                offer.session_id = session_id
        if config.max_version_code >= TLS13:  # a TLS 1.2-only ClientHello carries no key shares
            for name in config.resolved_key_share_groups:
                self._start_key_share(name)
        self._sent_ccs = False
        #: set in WAIT_CERT_CR if the server asks for our certificate
        self._certificate_request: CertificateRequest | None = None
        self.session_tickets: list[NewSessionTicketEvent] = []
        self._port = port
        #: the newest resumable session from this connection's tickets
        self._session: Session | None = None
        #: resumption_master_secret, once a ticket needs it
        self._resumption_secret: bytes | None = None
        #: the session offered in the ClientHello, while it may still be accepted
        self._psk: ClientPskOffer | None = None
        #: None: no 0-RTT data wanted; False: not sent or rejected; True: accepted
        self._early_data_accepted: bool | None = None
        #: the 0-RTT data sent, until the server accepts or rejects it
        self._early_sent = b""
        cache = config.session_cache
        if session is None and cache is not None and _client_hello_override is None:
            session = cache.take(server_name, port)
        if session is not None and _client_hello_override is None:
            self._psk = client_psk_offer(config, provider, session, server_name, early_data or b"", self._now())
        if early_data:
            self._early_data_accepted = False  # until the server says otherwise
        #: psk_key_exchange_modes only when a ticket can be used (RFC 8446 4.2.9): a cache
        #: to keep it or a session to resume; otherwise servers would send tickets for nothing
        self._can_resume = cache is not None or self._psk is not None
        self._record.plaintext_version = b"\x03\x01"  # RFC 8446 5.1: allowed for the first ClientHello
        if _client_hello_override is None:
            hello = self._build_client_hello()
        else:
            # Test hook (RFC 8448 known-answer test): send these exact bytes and take
            # what they offer as offered. Key shares still come from the provider.
            hello = _client_hello_override
            parsed = ClientHello.decode(hello[4:])
            offer.session_id = parsed.legacy_session_id
            offer.random = self._client_random = parsed.random
            offer.extensions = {t for t, _ in parsed.extensions}
        self._send_handshake(hello)
        #: the ClientHello as sent: a TLS 1.2 transcript starts with it
        self._client_hello_raw = hello
        self._record.plaintext_version = b"\x03\x03"
        self._ccs_window = True
        self._enter(S.WAIT_SH)
        if self._psk is not None and self._psk.early_data:
            self._send_early_data(self._psk)

    # -- public: resumption ---------------------------------------------------

    @property
    def session(self) -> Session | None:
        """The newest resumable session this connection received (None before a ticket)."""
        return self._session

    @property
    def early_data_accepted(self) -> bool | None:
        """None if no 0-RTT data was offered; else whether the server took it."""
        return self._early_data_accepted

    def _now(self) -> float:
        return self._config.clock().timestamp()

    def _send_early_data(self, psk: ClientPskOffer) -> None:
        """0-RTT (RFC 8446 2.3): the data under client_early_traffic_secret right after
        the ClientHello. The compatibility CCS goes first (D.4)."""
        if self._config.compatibility_mode and not self._sent_ccs:
            self._record.write_change_cipher_spec()
            self._sent_ccs = True
        hash_alg = psk.suite.hash
        secret = P.client_early_traffic_secret(hash_alg, psk.schedule.early_secret, self._transcript.digest_with(hash_alg, b""))
        self._keylog(("CLIENT_EARLY_TRAFFIC_SECRET", secret))
        self._record.set_write_keys(psk.schedule.traffic_keys(secret))
        if self._tracer is not None:
            self._trace_keys("write", "early")
        self._record.write(ContentType.application_data, psk.early_data)
        self._early_sent = psk.early_data

    # -- ClientHello ----------------------------------------------------------

    def _start_key_share(self, name: str) -> None:
        self._offer.key_exchanges[GROUPS[name]] = self._provider.groups[name].start()

    def _build_client_hello(self) -> bytes:
        extensions: list[tuple[int, bytes]] = []
        if self._sni is not None:
            extensions.append((E.server_name, ext.encode_server_name(self._sni)))
        before_shares, after_shares = _config_extensions(self._config)
        extensions += before_shares
        offer = self._offer
        shares = [(code, kx.share) for code, kx in offer.key_exchanges.items()]
        if self._config.max_version_code >= TLS13:
            extensions.append((E.key_share, ext.encode_key_share_client(shares)))
        if offer.cookie is not None:
            extensions.append((E.cookie, ext.encode_cookie(offer.cookie)))
        if self._config.min_version_code <= TLS12 and self._tls12_ticket is not None:
            # RFC 5077 3.2: empty asks a TLS 1.2 server for a ticket; else the ticket to resume with
            extensions.append((tls12_client.SESSION_TICKET, self._tls12_ticket))
        extensions += after_shares
        if self._config.identity is not None and self._config.max_version_code >= TLS13:
            # RFC 8446 4.2.6: we can answer a CertificateRequest after the handshake
            extensions.append((E.post_handshake_auth, b""))
        psk = self._psk
        if self._can_resume and self._config.max_version_code >= TLS13:
            extensions.append(client_psk_modes_extension(self._config))
        if psk is not None:
            if psk.early_data and offer.retry is None:  # 4.2.10: never after a HelloRetryRequest
                extensions.append((E.early_data, P.encode_early_data_indication()))
            extensions.append(client_pre_shared_key_extension(psk))  # 4.2.11: the last extension
        offer.extensions = {t for t, _ in extensions}
        hello = ClientHello(offer.random, offer.session_id, offer.suites, extensions).encode()
        if psk is not None:
            hello = bind_client_hello(hello, psk, self._transcript)
        return hello

    # -- ServerHello / HelloRetryRequest --------------------------------------

    def _on_server_hello(self, body: bytes, raw: bytes) -> ClientState:
        hello = ServerHello.decode(body)
        offer = self._offer
        version = hello.extensions.supported_versions
        if version is None and self._config.min_version_code <= TLS12:
            if offer.retry is not None:
                raise IllegalParameter("TLS 1.2 ServerHello after a HelloRetryRequest")
            # a TLS 1.3 session cannot be resumed in TLS 1.2, nor 0-RTT data taken
            if self._early_sent:
                self._reject_early_data(keys=None)
            self._psk = None
            return tls12_client.on_server_hello(self, hello, raw, self._client_hello_raw)
        if version is None:
            # A TLS 1.2-or-older answer: refuse it, and say so loudly if it looks like a downgrade.
            if hello.random[-8:] in (DOWNGRADE_TLS12, DOWNGRADE_TLS11):
                raise IllegalParameter("downgrade sentinel in ServerHello.random")
            raise ProtocolVersionError("server does not speak TLS 1.3")
        if version != ext.TLS13 or self._config.max_version_code < TLS13:
            raise IllegalParameter("server selected a version we did not offer")
        # RFC 8446 4.2.1: "clients MUST ignore the ServerHello.legacy_version value" once
        # supported_versions is present; only SSL 3.0 or less is refused (D.5).
        if hello.legacy_version <= SSL3_VERSION:
            raise ProtocolVersionError("ServerHello.legacy_version is SSL 3.0 or less")
        if not hmac.compare_digest(hello.legacy_session_id_echo, offer.session_id):
            raise IllegalParameter("legacy_session_id_echo does not match")
        if hello.cipher_suite not in offer.suites:
            raise IllegalParameter("server selected a cipher suite we did not offer")
        if hello.legacy_compression_method != 0:
            raise IllegalParameter("non-zero compression method")
        if hello.is_hello_retry_request:
            return self._on_hello_retry_request(hello, raw)
        return self._on_real_server_hello(hello, raw)

    def _on_hello_retry_request(self, hello: ServerHello, raw: bytes) -> ClientState:
        offer = self._offer
        if offer.retry is not None:
            raise UnexpectedMessage("second HelloRetryRequest")
        extensions = hello.extensions
        extensions.check(offered=offer.extensions | {E.cookie})
        selected, cookie = extensions.key_share, extensions.cookie
        if selected is None and cookie is None:
            raise IllegalParameter("HelloRetryRequest would not change the ClientHello")
        if selected is not None and (selected not in offer.groups or selected in offer.key_exchanges):
            raise IllegalParameter("HelloRetryRequest selected an unacceptable group")
        if cookie is not None:
            offer.cookie = cookie
        if self._tracer is not None:
            group = GROUP_NAMES.get(selected) if selected is not None else None
            reason = f"the server asks for a key share for {group}" if group else "the server asks to see its cookie again"
            self._tracer.retry(reason, group, cookie is not None)
        suite = self._provider.cipher_suites[CIPHER_SUITE_NAMES[hello.cipher_suite]]  # an offered suite: checked
        self._transcript.start(suite.hash)
        self._transcript.restart_with_message_hash()
        self._transcript.add(raw)
        offer.retry = (hello.cipher_suite, selected if selected is not None else -1)
        if selected is not None:
            offer.key_exchanges.clear()
            self._start_key_share(GROUP_NAMES[selected])
        if self._config.compatibility_mode and not self._sent_ccs:
            self._record.write_change_cipher_spec()
            self._sent_ccs = True
        if self._early_sent:
            # 0-RTT is over (4.2.10): the second ClientHello goes out in plaintext
            self._reject_early_data(keys=None)
        psk = self._psk
        if psk is not None:
            psk.early_data = b""
            if psk.suite.hash.name != suite.hash.name:
                # 4.2.11: do not offer a PSK whose hash the retry's suite does not use
                self._psk = None
        self._send_handshake(self._build_client_hello())
        return S.WAIT_SH

    def _on_real_server_hello(self, hello: ServerHello, raw: bytes) -> ClientState:
        offer = self._offer
        hello.extensions.check(offered=offer.extensions)
        if offer.retry is not None:
            if hello.cipher_suite != offer.retry[0]:
                raise IllegalParameter("ServerHello cipher suite differs from HelloRetryRequest")
        suite = self._provider.cipher_suites[CIPHER_SUITE_NAMES[hello.cipher_suite]]  # an offered suite: checked
        psk_body = hello.extensions.body(E.pre_shared_key)
        selected = P.decode_selected_identity(psk_body) if psk_body is not None else None
        key_share = hello.extensions.key_share
        resumed = check_server_psk(self._psk, selected, suite, key_share is not None)
        shared_secret: bytes | None = None
        self._agreed.group = ""
        if key_share is not None:
            group_code, share = key_share
            exchange = offer.key_exchanges.get(group_code)
            if exchange is None:
                raise IllegalParameter("server key share for a group we sent no share for")
            shared_secret = exchange.complete(share)
            self._agreed.group = exchange.group.name
        offer.key_exchanges.clear()  # the ephemeral private keys are not needed any more
        self._agreed.suite = suite
        if not resumed:
            self._psk = None
        self._agreed.resumed = resumed
        if offer.retry is None:
            self._transcript.start(suite.hash)
        self._transcript.add(raw)
        psk = self._psk.session.psk if self._psk is not None else None
        hs = self._hs = HandshakeSecrets(suite, shared_secret, self._transcript.digest(), psk=psk)
        self._keylog(("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs.client), ("SERVER_HANDSHAKE_TRAFFIC_SECRET", hs.server))
        if self._tracer is not None:
            self._tracer.handshake_schedule(hs.schedule, hs.client, hs.server)
        self._record.set_read_keys(hs.schedule.traffic_keys(hs.server))
        # Alerts from here on must be protected; the compatibility CCS is written raw first.
        if self._config.compatibility_mode and not self._sent_ccs:
            self._record.write_change_cipher_spec()
            self._sent_ccs = True
        if self._early_sent and not resumed:
            self._reject_early_data(keys=hs.schedule.traffic_keys(hs.client))
        elif not self._early_sent:
            # (with 0-RTT data possibly accepted the early keys stay until EndOfEarlyData)
            self._record.set_write_keys(hs.schedule.traffic_keys(hs.client))
        if self._tracer is not None:
            self._trace_keys("read", "handshake")
            if not self._early_sent:
                self._trace_keys("write", "handshake")
        return S.WAIT_EE

    # -- server's encrypted flight --------------------------------------------

    def _on_encrypted_extensions(self, body: bytes, raw: bytes) -> ClientState:
        extensions = EncryptedExtensions.decode(body).extensions
        extensions.check(offered=self._offer.extensions)
        _ = extensions.server_name  # decoding checks it: an acknowledgement is empty (RFC 6066 3)
        protocols = extensions.alpn
        if protocols is not None:
            if len(protocols) != 1 or protocols[0] not in self._config.resolved_alpn:
                raise IllegalParameter("server selected an ALPN protocol we did not offer")
            self._agreed.alpn = protocols[0].decode("ascii", "replace")
        peer_limit = extensions.record_size_limit
        if peer_limit is not None:
            self._record.max_fragment_out = min(MAX_PLAINTEXT, peer_limit - 1)
            self._record.max_inner_plaintext_in = self._config.record_size_limit or MAX_PLAINTEXT + 1
        self._transcript.add(raw)
        if E.early_data in extensions:
            P.decode_early_data_empty(extensions.body(E.early_data) or b"")
            # 4.2.10: only for 0-RTT data we sent, and so with our first (only) identity
            if not self._early_sent:
                raise IllegalParameter("server accepted early data we did not send")
            self._early_data_accepted = True
            self._events.append(EarlyDataAccepted())
        elif self._early_sent:
            self._reject_early_data(keys=self._hs.schedule.traffic_keys(self._hs.client))
        # RFC 8446 A.1: with a PSK the server does not authenticate with a certificate
        return S.WAIT_FINISHED if self._psk is not None else S.WAIT_CERT_CR

    def _reject_early_data(self, keys: TrafficKeys | None) -> None:
        """The server ignored our 0-RTT data: say so (the application may resend it,
        4.2.10) and write from now on with ``keys`` (the handshake keys, or none before a
        second ClientHello)."""
        self._early_data_accepted = False
        self._events.append(EarlyDataRejected(self._early_sent))
        self._early_sent = b""
        self._record.set_write_keys(keys)

    def _on_certificate_request(self, body: bytes, raw: bytes) -> ClientState:
        message = CertificateRequest.decode(body)
        if message.context:
            raise IllegalParameter("certificate_request_context must be empty during the handshake")
        message.extensions.check()
        ext.present(message.extensions.signature_algorithms, E.signature_algorithms, "CertificateRequest")
        self._certificate_request = message
        self._transcript.add(raw)
        return S.WAIT_CERT

    def _on_certificate(self, body: bytes, raw: bytes) -> ClientState:
        message = Certificate.decode(body)
        if message.context:
            raise IllegalParameter("server Certificate has a request context")
        if not message.entries:
            raise DecodeError("server sent an empty Certificate")
        chain, ocsp = certificate_chain(message, self._config.request_ocsp)
        self._transcript.add(raw)
        name = self._agreed.server_name
        detail = f"{len(chain)} certificate(s), valid for {name}" if name else f"{len(chain)} certificate(s)"
        self._checked("certificate_chain", detail, verify_peer, self._config, chain, name, "server")
        self._peer_spki = leaf_public_key(chain)
        self._agreed.peer_certificates = chain
        self._agreed.ocsp_response = ocsp
        return S.WAIT_CV

    def _on_certificate_verify(self, body: bytes, raw: bytes) -> ClientState:
        message = CertificateVerify.decode(body)
        name = scheme_name(message.scheme)
        if name is None or name not in self._offer.schemes:
            raise IllegalParameter("server signed with a scheme we did not offer")
        content = certificate_verify_content(SERVER_CONTEXT, self._transcript.digest())
        verify = self._provider.signature_schemes[name].verify
        self._checked("certificate_verify", f"{name} signature by the server's key", verify, self._peer_spki, content, message.signature)
        self._agreed.signature_scheme = name
        self._transcript.add(raw)
        return S.WAIT_FINISHED

    def _on_finished(self, body: bytes, raw: bytes) -> ClientState:
        hs = self._hs
        schedule = hs.schedule
        message = Finished.decode(body, schedule.hash.digest_size)
        tracer = self._tracer
        if tracer is not None:
            tracer.step("derive", "server_finished_key", "finished")
        if not schedule.verify_finished(hs.server, self._transcript.digest(), message.verify_data):
            if tracer is not None:
                tracer.check("finished", False, "server Finished does not verify")
            raise DecryptError("server Finished does not verify")
        if tracer is not None:
            tracer.check("finished", True, "server Finished matches the transcript")
        self._transcript.add(raw)
        app = self._start_application_secrets(schedule, self._transcript.digest())
        self._record.set_read_keys(schedule.traffic_keys(app.read))
        if tracer is not None:
            self._trace_keys("read", "application")
        if self._early_data_accepted and self._early_sent:
            # 4.2.10: EndOfEarlyData ends the 0-RTT data, under the early keys, after the
            # server's Finished; the rest of our flight goes under the handshake keys
            self._send_handshake(frame(H.end_of_early_data, b""))
            self._record.set_write_keys(schedule.traffic_keys(hs.client))
            if tracer is not None:
                self._trace_keys("write", "handshake")
            self._early_sent = b""
        psk = self._psk
        if psk is not None:
            # a resumed session: the server was authenticated when the session was made
            self._agreed.peer_certificates = psk.session.peer_certificates
        if self._certificate_request is not None:
            self._send_client_certificate(self._certificate_request)
        if tracer is not None:
            tracer.step("derive", "client_finished_key", "finished")
        verify_data = schedule.finished_verify_data(hs.client, self._transcript.digest())
        self._send_handshake(Finished(verify_data).encode())
        self._record.set_write_keys(schedule.traffic_keys(app.write))
        if tracer is not None:
            self._trace_keys("write", "application")
        app.resumption_hash = self._transcript.digest()  # resumption secret derived on demand
        self._trace_resumption_secret(app)
        self._complete_handshake()
        return S.CONNECTED

    def _send_client_certificate(self, request: CertificateRequest) -> None:
        identity = self._config.identity
        requested = request.extensions.signature_algorithms  # present: checked in WAIT_CERT_CR
        scheme = None if identity is None else signing_scheme(self._offer.schemes, identity.key.schemes, requested)
        if identity is None or scheme is None:
            # RFC 8446 4.4.2: no suitable certificate -> an empty Certificate message
            self._send_handshake(Certificate(request.context, []).encode())
            return
        entries = [CertificateEntry(cert) for cert in identity.chain]
        self._send_handshake(Certificate(request.context, entries).encode())
        content = certificate_verify_content(CLIENT_CONTEXT, self._transcript.digest())
        signature = identity.key.sign(scheme, content)
        self._send_handshake(CertificateVerify(scheme_codes([scheme])[0], signature).encode())

    # -- post-handshake -------------------------------------------------------

    def _on_new_session_ticket(self, body: bytes, raw: bytes) -> ClientState:
        message = NewSessionTicketMessage.decode(body)
        message.extensions.check()
        agreed = self._agreed
        assert agreed.suite is not None  # set at ServerHello
        if self._resumption_secret is None:  # derived once, for all of this connection's tickets
            self._resumption_secret = self._app.resumption_master_secret()
        session = session_from_ticket(
            message,
            agreed.suite,
            self._resumption_secret,
            self._now(),
            agreed.server_name,
            agreed.alpn,
            agreed.peer_certificates,
        )
        if session is not None:
            self._session = session
            cache = self._config.session_cache
            if cache is not None:
                cache.put(agreed.server_name, self._port, session)
        event = NewSessionTicketEvent(message.ticket, message.lifetime, message.age_add, message.nonce, session)
        self.session_tickets = (self.session_tickets + [event])[-_MAX_KEPT_TICKETS:]
        self._events.append(event)
        return S.CONNECTED

    def _on_post_handshake_certificate_request(self, body: bytes, raw: bytes) -> ClientState:
        """RFC 8446 4.6.2: answer with Certificate, CertificateVerify and Finished, over the
        handshake transcript followed by this request (each request on its own)."""
        if E.post_handshake_auth not in self._offer.extensions:
            raise UnexpectedMessage("CertificateRequest after the handshake, which we did not offer")
        request = CertificateRequest.decode(body)
        request.extensions.check()
        requested = ext.present(request.extensions.signature_algorithms, E.signature_algorithms, "CertificateRequest")
        identity = self._config.identity
        scheme = None if identity is None else signing_scheme(self._offer.schemes, identity.key.schemes, requested)
        hash_alg = self._hs.schedule.hash
        messages = raw
        if identity is None or scheme is None:
            certificate = Certificate(request.context, []).encode()
            messages += certificate
            flight = [certificate]
        else:
            certificate = Certificate(request.context, [CertificateEntry(cert) for cert in identity.chain]).encode()
            messages += certificate
            content = certificate_verify_content(CLIENT_CONTEXT, self._transcript.digest_with(hash_alg, messages))
            verify = CertificateVerify(scheme_codes([scheme])[0], identity.key.sign(scheme, content)).encode()
            messages += verify
            flight = [certificate, verify]
        # the Finished key comes from the current client_application_traffic_secret_N (4.4)
        verify_data = self._hs.schedule.finished_verify_data(self._app.write, self._transcript.digest_with(hash_alg, messages))
        flight.append(Finished(verify_data).encode())
        for message in flight:
            if self._tracer is not None:
                self._tracer.message("sent", message, True)
            self._record.write(ContentType.handshake, message)
        self._events.append(CertificateRequested(certificate_sent=scheme is not None))
        return S.CONNECTED

    if TYPE_CHECKING:
        # phase data, set by the handler that enters the phase (never read before it)
        _hs: HandshakeSecrets  # from ServerHello on
        _peer_spki: bytes  # from the server Certificate on


#: The client's TLS 1.3 machine (RFC 8446 A.1): (state, message) -> handler -> next state.
#: Anything else is unexpected_message. START -> WAIT_SH happens in the constructor.
C = ClientConnection
TLS13_CLIENT: TransitionTable = {
    (S.WAIT_SH, H.server_hello): C._on_server_hello,  # -> WAIT_SH (HelloRetryRequest) | WAIT_EE
    (S.WAIT_EE, H.encrypted_extensions): C._on_encrypted_extensions,  # -> WAIT_CERT_CR
    (S.WAIT_CERT_CR, H.certificate_request): C._on_certificate_request,  # -> WAIT_CERT
    (S.WAIT_CERT_CR, H.certificate): C._on_certificate,  # -> WAIT_CV
    (S.WAIT_CERT, H.certificate): C._on_certificate,  # -> WAIT_CV
    (S.WAIT_CV, H.certificate_verify): C._on_certificate_verify,  # -> WAIT_FINISHED
    (S.WAIT_FINISHED, H.finished): C._on_finished,  # -> CONNECTED (sends our second flight)
    (S.CONNECTED, H.new_session_ticket): C._on_new_session_ticket,  # -> CONNECTED
    (S.CONNECTED, H.certificate_request): C._on_post_handshake_certificate_request,  # -> CONNECTED
    (S.CONNECTED, H.key_update): C._on_key_update,  # -> CONNECTED
}
del C


def _offered_suites(config: ClientConfig) -> list[int]:
    """TLS 1.3 suites (if TLS 1.3 is enabled), then TLS 1.2 ones (if TLS 1.2 is)."""
    suites = [CIPHER_SUITES[n] for n in config.resolved_cipher_suites] if config.max_version_code >= TLS13 else []
    if config.min_version_code <= TLS12:
        suites += tls12_client.tls12_suite_codes(config)
    return suites


def _config_extensions(config: ClientConfig) -> tuple[tuple[tuple[int, bytes], ...], tuple[tuple[int, bytes], ...]]:
    """The ClientHello extensions that depend on the config alone (encoded once per config):
    those sent before key_share, and those after it (psk_key_exchange_modes)."""
    cached: tuple[tuple[tuple[int, bytes], ...], tuple[tuple[int, bytes], ...]] | None
    cached = config.__dict__.get("_client_hello_extensions")
    if cached is None:
        before: list[tuple[int, bytes]] = [
            (E.supported_groups, ext.encode_supported_groups([GROUPS[n] for n in config.resolved_groups])),
            (E.signature_algorithms, ext.encode_signature_algorithms(scheme_codes(config.resolved_signature_schemes))),
        ]
        if config.resolved_alpn:
            before.append((E.application_layer_protocol_negotiation, ext.encode_alpn(list(config.resolved_alpn))))
        if config.request_ocsp:
            before.append((E.status_request, ext.encode_status_request_ocsp()))
        limit = config.record_size_limit or MAX_PLAINTEXT + 1
        before.append((E.record_size_limit, ext.encode_record_size_limit(limit)))
        if config.max_version_code >= TLS13:
            versions = [ext.TLS13] + ([TLS12] if config.min_version_code <= TLS12 else [])
            before.append((E.supported_versions, ext.encode_supported_versions_client(versions)))
        if config.min_version_code <= TLS12:
            before += tls12_client.hello_extensions(config)
        after: tuple[tuple[int, bytes], ...] = ()  # psk_key_exchange_modes: per connection
        cached = (tuple(before), after)
        object.__setattr__(config, "_client_hello_extensions", cached)
    return cached


__all__ = ["ClientConnection"]
