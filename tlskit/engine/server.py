"""The TLS 1.3 server state machine (RFC 8446 section 4, server side).

The whole machine is the table ``TLS13_SERVER`` at the end of this module: each
(state, message) pair names its handler, and each handler returns the next state.
The server answers with its whole flight (ServerHello .. Finished) to one ClientHello;
the client's application data is accepted only after its Finished (and, when
requested, its certificate and signature) verified.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tlskit.engine import extensions as ext
from tlskit.engine.certs import chain_signature_schemes, name_matches
from tlskit.engine.config import CertifiedKey, ServerConfig
from tlskit.engine.connection import Connection
from tlskit.engine.extensions import ClientHelloExtensions
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
from tlskit.engine.keyschedule import HandshakeSecrets
from tlskit.engine.messages import (
    HRR_RANDOM,
    SSL3_VERSION,
    Certificate,
    CertificateEntry,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    Finished,
    HandshakeType,
    ServerHello,
)
from tlskit.engine.record import MAX_PLAINTEXT, MAX_SKIPPED_EARLY_DATA, ContentType
from tlskit.engine.resumption import PSK_MODES, AcceptedPsk, new_session_ticket, select_psk, server_psk_mode
from tlskit.engine.states import ServerState, TransitionTable
from tlskit.engine.trace import TraceCallback
from tlskit.engine.tls12 import server as tls12_server
from tlskit.engine.tls12.versions import TLS12, select_version
from tlskit.engine.verify import verify_peer
from tlskit.errors import (
    CertificateRequired,
    ConnectionClosedError,
    DecodeError,
    DecryptError,
    HandshakeFailure,
    IllegalParameter,
    MissingExtension,
    NoApplicationProtocol,
    ProtocolVersionError,
    TLSError,
    UnexpectedMessage,
)
from tlskit.events import ClientCertificateReceived, EarlyDataReceived
from tlskit.providers.names import CIPHER_SUITE_NAMES, CIPHER_SUITES, GROUP_NAMES, GROUPS

H = HandshakeType
S = ServerState


class _Retry:
    """What a HelloRetryRequest fixed, checked against the second ClientHello."""

    def __init__(self, suite: int, group: int, cookie: bytes | None, first_hello: ClientHello) -> None:
        self.suite = suite
        self.group = group
        self.cookie = cookie
        self.session_id = first_hello.legacy_session_id
        #: kept until the second ClientHello has been compared with it
        self.first_hello: ClientHello | None = first_hello


#: Extensions a second ClientHello may change (RFC 8446 4.1.2): key_share and cookie as the
#: HelloRetryRequest says (checked separately), pre_shared_key updated or pruned, padding
#: resized, early_data removed. Everything else must stay as it was.
_MAY_CHANGE_AFTER_RETRY = frozenset({E.key_share, E.cookie, E.pre_shared_key, E.padding, E.early_data})


@dataclass(frozen=True)
class _Choice:
    """What the server settled on for one ClientHello."""

    suite_code: int
    group: str
    client_share: bytes
    host: str | None
    alpn: bytes | None
    identity: CertifiedKey | None  # None when resuming: no certificate is sent
    scheme: str | None
    staple: bool
    #: the ticket being resumed (RFC 8446 2.2), if any
    psk: AcceptedPsk | None = None


class _PostHandshakeAuth:
    """An outstanding post-handshake CertificateRequest and the client's answer so far."""

    def __init__(self, context: bytes, request: bytes) -> None:
        self.context = context
        #: CertificateRequest, Certificate, CertificateVerify as received: the transcript
        #: that follows the handshake's for this exchange (RFC 8446 4.4)
        self.messages = request
        self.stage = "certificate"
        self.chain: tuple[bytes, ...] = ()


class ServerConnection(Connection):
    """A TLS 1.3 server; feed it the client's bytes with ``receive_data``."""

    is_client = False

    def __init__(self, config: ServerConfig, *, buffer_received: bool = True, trace: TraceCallback | None = None) -> None:
        """``trace``: this connection's own trace callback (instead of the config's), e.g. one
        log per connection of a server sharing one config."""
        super().__init__(config, S.START, TLS13_SERVER, buffer_received=buffer_received, trace=trace)
        self._config: ServerConfig = config
        #: set when a HelloRetryRequest went out, checked against the second ClientHello
        self._retry: _Retry | None = None
        self._sent_ccs = False
        #: the client offered post_handshake_auth (RFC 8446 4.2.6)
        self._client_offered_pha = False
        #: an outstanding post-handshake CertificateRequest
        self._pha: _PostHandshakeAuth | None = None
        #: the client's psk_key_exchange_modes: tickets are sent only if it can use them
        self._client_psk_modes: list[int] = []
        self._tickets_sent = 0
        #: 0-RTT data accepted so far (RFC 8446 4.2.10) and how much more may come
        self._early_data = bytearray()
        self._early_data_left = 0

    # -- public: tickets and early data ---------------------------------------

    @property
    def early_data(self) -> bytes:
        """The client's 0-RTT data. REPLAYABLE (RFC 8446 8): act on it only if doing so
        twice is harmless. b"" unless ``max_early_data_size`` enabled 0-RTT."""
        return bytes(self._early_data)

    def send_session_tickets(self, count: int = 1) -> None:
        """Send ``count`` more NewSessionTickets now (RFC 8446 4.6.1: any time after the
        handshake), if the client said it can use them (psk_key_exchange_modes)."""
        if not self._handshake_complete:
            raise TLSError("session tickets go after the handshake")
        if self._failed or self._sent_close:
            raise ConnectionClosedError("cannot send tickets on a closed connection")
        self._send_tickets(count)

    def request_client_certificate(self) -> None:
        """Ask the client for a certificate now (post-handshake authentication, RFC 8446
        4.6.2); its answer arrives as a ClientCertificateReceived event. The client must
        have offered post_handshake_auth (tlskit clients do when they have a certificate)."""
        if not self._handshake_complete:
            raise TLSError("post-handshake authentication needs a completed handshake")
        if self._failed or self._sent_close:
            raise ConnectionClosedError("cannot request a certificate on a closed connection")
        if not self._client_offered_pha:
            raise TLSError("the client did not offer post_handshake_auth (RFC 8446 4.2.6)")
        if self._pha is not None:
            raise TLSError("a post-handshake CertificateRequest is already outstanding")
        context = self._provider.random(16)  # unique per request (4.3.2)
        request_extensions = [(E.signature_algorithms, ext.encode_signature_algorithms(scheme_codes(self._config.verify_schemes)))]
        message = CertificateRequest(context, request_extensions).encode()
        if self._tracer is not None:
            self._tracer.message("sent", message, True)
        self._record.write(ContentType.handshake, message)
        self._pha = _PostHandshakeAuth(context, message)

    def _pha_step(self, stage: str) -> "_PostHandshakeAuth":
        pha = self._pha
        if pha is None or pha.stage != stage:
            raise UnexpectedMessage(f"unexpected {stage} after the handshake")
        return pha

    def _on_post_handshake_certificate(self, body: bytes, raw: bytes) -> ServerState:
        pha = self._pha_step("certificate")
        message = Certificate.decode(body)
        if not hmac.compare_digest(message.context, pha.context):
            raise IllegalParameter("certificate_request_context does not match the request")
        chain, _ = certificate_chain(message, False)
        pha.messages += raw
        if not chain:
            if self._config.require_client_auth:
                raise CertificateRequired("client sent no certificate")
            pha.stage = "finished"
            return S.CONNECTED
        verify_peer(self._config, chain, None, "client")
        pha.chain = chain
        pha.stage = "certificate_verify"
        return S.CONNECTED

    def _on_post_handshake_certificate_verify(self, body: bytes, raw: bytes) -> ServerState:
        pha = self._pha_step("certificate_verify")
        message = CertificateVerify.decode(body)
        name = scheme_name(message.scheme)
        if name is None or name not in self._config.verify_schemes:
            raise IllegalParameter("client signed with a scheme we did not ask for")
        hash_alg = self._hs.schedule.hash
        content = certificate_verify_content(CLIENT_CONTEXT, self._transcript.digest_with(hash_alg, pha.messages))
        self._provider.signature_schemes[name].verify(leaf_public_key(pha.chain), content, message.signature)
        pha.messages += raw
        pha.stage = "finished"
        return S.CONNECTED

    def _on_post_handshake_finished(self, body: bytes, raw: bytes) -> ServerState:
        pha = self._pha_step("finished")
        schedule = self._hs.schedule
        message = Finished.decode(body, schedule.hash.digest_size)
        # base key: the client_application_traffic_secret_N in use (RFC 8446 4.4)
        expected_hash = self._transcript.digest_with(schedule.hash, pha.messages)
        if not schedule.verify_finished(self._app.read, expected_hash, message.verify_data):
            raise DecryptError("post-handshake Finished does not verify")
        self._pha = None
        if pha.chain:
            self._agreed.peer_certificates = pha.chain
        self._events.append(ClientCertificateReceived(pha.chain))
        return S.CONNECTED

    def _send_tickets(self, count: int) -> None:
        config = self._config
        if not any(PSK_MODES[m] in self._client_psk_modes for m in config.psk_key_exchange_modes):
            return
        agreed = self._agreed
        assert agreed.suite is not None
        secret = self._app.resumption_master_secret()
        now = self._config.clock().timestamp()
        alpn = agreed.alpn.encode("ascii") if agreed.alpn is not None else None
        for _ in range(min(count, 255)):
            self._tickets_sent += 1
            nonce = self._tickets_sent.to_bytes(8, "big")  # distinct per ticket of a connection (4.6.1)
            message = new_session_ticket(
                config, self._provider, agreed.suite, secret, nonce, now, agreed.server_name, alpn, agreed.peer_certificates
            )
            if self._tracer is not None:
                self._tracer.message("sent", message, True)
            self._record.write(ContentType.handshake, message)

    if TYPE_CHECKING:
        # phase data, set by the handler that enters the phase (never read before it)
        _hs: HandshakeSecrets  # from ServerHello on
        _peer_spki: bytes  # from the client Certificate on

    # -- ClientHello ----------------------------------------------------------

    def _on_client_hello(self, body: bytes, raw: bytes) -> ServerState:
        self._enter(S.RECVD_CH)
        hello = ClientHello.decode(body)
        extensions = hello.extensions
        if self._retry is None and self._config.sni_callback is not None:  # certificate selection by SNI
            self._config = self._config.for_server_name(extensions.server_name)
        if self._retry is None and select_version(self._config, hello, dict(extensions)) == TLS12:
            return tls12_server.on_client_hello(self, hello, raw, dict(extensions))
        self._check_client_hello_basics(hello, extensions)
        self._ccs_window = True
        self._client_psk_modes = extensions.psk_key_exchange_modes or []
        self._client_offered_pha = E.post_handshake_auth in extensions
        choice = self._negotiate(hello, raw, extensions)
        if choice is not None:
            self._send_server_flight(hello, raw, extensions, choice)
        psk = choice.psk if choice is not None else None
        if psk is not None and psk.early_data:
            return S.WAIT_EOED  # 0-RTT accepted: early data, then EndOfEarlyData
        if extensions.early_data:
            # 0-RTT not accepted: skip what the client sends before its next flight, by failed
            # deprotection or, after a HelloRetryRequest, by type, up to the size we might
            # have allowed (RFC 8446 4.2.10). (Set after the flight: installing the
            # handshake read keys clears it.)
            self._record.early_data_skip = max(MAX_SKIPPED_EARLY_DATA, self._config.max_early_data_size)
        if choice is None:
            return S.START  # a HelloRetryRequest went out; the second ClientHello comes back here
        if psk is not None:
            return S.WAIT_FINISHED  # RFC 8446 4.3.2: no CertificateRequest with a PSK
        # WAIT_FLIGHT2: the client's flight is next
        return S.WAIT_CERT if self._config.requests_client_certificate else S.WAIT_FINISHED

    @staticmethod
    def _check_client_hello_basics(hello: ClientHello, extensions: ClientHelloExtensions) -> None:
        if ext.TLS13 not in (extensions.supported_versions or ()):
            raise ProtocolVersionError("client does not offer TLS 1.3")
        # RFC 8446 4.2.1: with supported_versions present legacy_version plays no part in
        # negotiation (clients set 0x0303); only SSL 3.0 or less is refused (D.5).
        if hello.legacy_version <= SSL3_VERSION:
            raise ProtocolVersionError("ClientHello.legacy_version is SSL 3.0 or less")
        if hello.legacy_compression_methods != b"\x00":
            raise IllegalParameter("TLS 1.3 ClientHello must offer only null compression")
        extensions.check()
        if E.pre_shared_key in extensions:
            # We never select a PSK and ignore the offer (4.2.11), but the offer must still be
            # well formed: pre_shared_key last (4.2.11) and with psk_key_exchange_modes (4.2.9).
            if extensions[-1][0] != E.pre_shared_key:
                raise IllegalParameter("pre_shared_key must be the last extension")
            if E.psk_key_exchange_modes not in extensions:
                raise MissingExtension("pre_shared_key offered without psk_key_exchange_modes")

    def _negotiate(self, hello: ClientHello, raw: bytes, extensions: ClientHelloExtensions) -> "_Choice | None":
        """Pick suite, group, certificate, scheme and ALPN; None if a HelloRetryRequest was sent."""
        config = self._config
        suite_code = next(
            (CIPHER_SUITES[n] for n in config.resolved_cipher_suites if CIPHER_SUITES[n] in hello.cipher_suites),
            None,
        )
        if suite_code is None:
            raise HandshakeFailure("no cipher suite in common")
        client_schemes = ext.present(extensions.signature_algorithms, E.signature_algorithms, "ClientHello")
        client_groups = ext.present(extensions.supported_groups, E.supported_groups, "ClientHello")
        shares = dict(ext.present(extensions.key_share, E.key_share, "ClientHello"))
        _check_share_order(list(shares), client_groups)
        host = extensions.server_name

        mutual = [n for n in config.resolved_groups if GROUPS[n] in client_groups]
        acceptable = [n for n in config.resolved_key_share_groups if n in mutual]
        if not acceptable:
            raise HandshakeFailure("no key exchange group in common")
        chosen = next((n for n in acceptable if GROUPS[n] in shares), None)
        alpn = self._choose_alpn(extensions.alpn)

        mode = None
        if E.pre_shared_key in extensions:
            mode = server_psk_mode(config, self._client_psk_modes, dhe_possible=True)
        psk = None
        if self._retry is not None:
            chosen = self._check_second_client_hello(self._retry, hello, extensions, suite_code, shares)
        elif chosen is None:
            if mode == P.PSK_KE:  # resuming without (EC)DHE needs no key share: no retry
                psk = self._select_psk(raw, extensions, suite_code, host, alpn, mode)
            if psk is None:
                if self._tracer is not None:
                    offered = ", ".join(GROUP_NAMES.get(g, f"{g:#06x}") for g in shares) or "no group"
                    reason = (
                        f"the ClientHello has key shares for {offered}, none of them a group this server "
                        f"takes ({', '.join(acceptable)}); it asks for {acceptable[0]}"
                    )
                    self._tracer.retry(reason, acceptable[0], self._config.hrr_cookie)
                self._send_hello_retry_request(hello, raw, suite_code, GROUPS[acceptable[0]])
                return None
        if mode is not None and psk is None:
            psk = self._select_psk(raw, extensions, suite_code, host, alpn, mode)
        if psk is not None:
            if psk.mode == P.PSK_KE:
                return _Choice(suite_code, "", b"", host, alpn, None, None, False, psk)
            assert chosen is not None
            return _Choice(suite_code, chosen, shares[GROUPS[chosen]], host, alpn, None, None, False, psk)
        assert chosen is not None

        # without signature_algorithms_cert, signature_algorithms covers certificates (4.2.3)
        cert_schemes = extensions.signature_algorithms_cert or client_schemes
        identity, scheme = self._choose_identity(host, client_schemes, cert_schemes)
        # the chosen certificate's own staple (never another SNI certificate's)
        staple = identity.ocsp_response is not None and extensions.status_request == ext.STATUS_TYPE_OCSP
        return _Choice(suite_code, chosen, shares[GROUPS[chosen]], host, alpn, identity, scheme, staple)

    def _select_psk(
        self, raw: bytes, extensions: ClientHelloExtensions, suite_code: int, host: str | None, alpn: bytes | None, mode: int
    ) -> AcceptedPsk | None:
        """The ticket to resume, if one fits (its binder checked over the transcript so far
        plus the truncated ClientHello: the ClientHello is not in the transcript yet)."""
        suite = self._provider.cipher_suites[CIPHER_SUITE_NAMES[suite_code]]
        now = self._config.clock().timestamp()
        return select_psk(
            self._config, self._provider, raw, extensions, suite, self._transcript, host, alpn, mode, self._retry is not None, now
        )

    @staticmethod
    def _check_second_client_hello(
        retry: _Retry, hello: ClientHello, extensions: ClientHelloExtensions, suite_code: int, shares: dict[int, bytes]
    ) -> str:
        """Check the ClientHello that answers our HelloRetryRequest; the group it must use."""
        if suite_code != retry.suite or not hmac.compare_digest(hello.legacy_session_id, retry.session_id):
            raise IllegalParameter("second ClientHello is inconsistent with the first")
        if retry.first_hello is not None:
            _check_same_client_hello(retry.first_hello, hello, cookie_sent=retry.cookie is not None)
            retry.first_hello = None
        if list(shares) != [retry.group]:
            raise IllegalParameter("second ClientHello must carry exactly the requested key share")
        if retry.cookie is not None:
            cookie = ext.present(extensions.cookie, E.cookie, "second ClientHello")
            if not hmac.compare_digest(cookie, retry.cookie):
                raise IllegalParameter("cookie does not match")
        return GROUP_NAMES[retry.group]

    def _send_server_flight(self, hello: ClientHello, raw: bytes, extensions: ClientHelloExtensions, choice: "_Choice") -> None:
        """ServerHello, then EncryptedExtensions .. Finished under the handshake keys."""
        config = self._config
        psk = choice.psk
        server_hello_extensions: list[tuple[int, bytes]] = []
        shared_secret: bytes | None = None
        if choice.group:  # psk_ke has no (EC)DHE (RFC 8446 2.2)
            server_share, shared_secret = self._provider.groups[choice.group].encapsulate(choice.client_share)
            server_hello_extensions.append((E.key_share, ext.encode_key_share_entry(GROUPS[choice.group], server_share)))
        server_hello_extensions.append((E.supported_versions, ext.encode_supported_versions_server(ext.TLS13)))
        if psk is not None:
            server_hello_extensions.append((E.pre_shared_key, P.encode_selected_identity(psk.index)))
        suite = self._provider.cipher_suites[CIPHER_SUITE_NAMES[choice.suite_code]]
        agreed = self._agreed
        agreed.suite = suite
        agreed.group = choice.group
        agreed.server_name = choice.host
        agreed.alpn = choice.alpn.decode("ascii", "replace") if choice.alpn else None
        agreed.signature_scheme = choice.scheme
        agreed.resumed = psk is not None
        if psk is not None:
            # who the client proved to be when the session was made
            agreed.peer_certificates = psk.state.client_certificates
        self._client_random = hello.random
        if self._retry is None:
            self._transcript.start(suite.hash)
        self._transcript.add(raw)
        early_keys = None
        if psk is not None and psk.early_data:
            early = P.client_early_traffic_secret(suite.hash, psk.schedule.early_secret, self._transcript.digest())
            self._keylog(("CLIENT_EARLY_TRAFFIC_SECRET", early))
            early_keys = psk.schedule.traffic_keys(early)
            self._early_data_left = psk.early_data_limit

        server_hello = ServerHello(self._provider.random(32), hello.legacy_session_id, choice.suite_code, server_hello_extensions)
        self._send_handshake(server_hello.encode())
        self._send_compatibility_ccs(hello)

        hs = self._hs = HandshakeSecrets(suite, shared_secret, self._transcript.digest(), psk=psk.state.psk if psk else None)
        schedule = hs.schedule
        self._keylog(("CLIENT_HANDSHAKE_TRAFFIC_SECRET", hs.client), ("SERVER_HANDSHAKE_TRAFFIC_SECRET", hs.server))
        if self._tracer is not None:
            self._tracer.handshake_schedule(schedule, hs.client, hs.server)
        self._record.set_write_keys(schedule.traffic_keys(hs.server))
        # 0-RTT accepted: the client's early data comes first, under the early keys
        self._record.set_read_keys(early_keys or schedule.traffic_keys(hs.client))
        if self._tracer is not None:
            self._trace_keys("write", "handshake")
            self._trace_keys("read", "early" if early_keys is not None else "handshake")
        self._enter(S.NEGOTIATED)

        encrypted_extensions = self._encrypted_extensions(extensions, choice.host, choice.alpn)
        if early_keys is not None:
            encrypted_extensions.append((E.early_data, P.encode_early_data_indication()))
        self._send_handshake(EncryptedExtensions(encrypted_extensions).encode())
        if psk is None:
            # a full handshake authenticates with the certificate; a resumed one with the PSK
            assert choice.identity is not None and choice.scheme is not None
            if config.requests_client_certificate:
                request_extensions = [(E.signature_algorithms, ext.encode_signature_algorithms(scheme_codes(config.verify_schemes)))]
                self._send_handshake(CertificateRequest(b"", request_extensions).encode())
            self._send_handshake(_certificate_message(config, choice.identity, choice.staple))
            content = certificate_verify_content(SERVER_CONTEXT, self._transcript.digest())
            signature = choice.identity.key.sign(choice.scheme, content)
            self._send_handshake(CertificateVerify(scheme_codes([choice.scheme])[0], signature).encode())
        if self._tracer is not None:
            self._tracer.step("derive", "server_finished_key", "finished")
        verify_data = schedule.finished_verify_data(hs.server, self._transcript.digest())
        self._send_handshake(Finished(verify_data).encode())

        app = self._start_application_secrets(schedule, self._transcript.digest())
        self._record.set_write_keys(schedule.traffic_keys(app.write))
        if self._tracer is not None:
            self._trace_keys("write", "application")
        self._enter(S.WAIT_FLIGHT2)

    def _send_compatibility_ccs(self, hello: ClientHello) -> None:
        """Middlebox compatibility (RFC 8446 D.4): one CCS after our first handshake message,
        when the client sent a legacy session id."""
        if hello.legacy_session_id and not self._sent_ccs:
            self._record.write_change_cipher_spec()
            self._sent_ccs = True

    def _send_hello_retry_request(self, hello: ClientHello, raw: bytes, suite_code: int, group: int) -> None:
        suite = self._provider.cipher_suites[CIPHER_SUITE_NAMES[suite_code]]
        cookie = self._provider.random(32) if self._config.hrr_cookie else None
        self._retry = _Retry(suite_code, group, cookie, hello)
        self._transcript.start(suite.hash)
        self._transcript.add(raw)
        self._transcript.restart_with_message_hash()
        extensions: list[tuple[int, bytes]] = [
            (E.supported_versions, ext.encode_supported_versions_server(ext.TLS13)),
            (E.key_share, ext.encode_key_share_hrr(group)),
        ]
        if cookie is not None:
            extensions.append((E.cookie, ext.encode_cookie(cookie)))
        self._send_handshake(ServerHello(HRR_RANDOM, hello.legacy_session_id, suite_code, extensions).encode())
        self._send_compatibility_ccs(hello)

    def _choose_alpn(self, theirs: list[bytes] | None) -> bytes | None:
        ours = self._config.resolved_alpn
        if theirs is not None and self._config.alpn_callback is not None:
            return self._config.select_alpn(theirs)
        if theirs is None or not ours:
            return None
        for protocol in ours:
            if protocol in theirs:
                return protocol
        raise NoApplicationProtocol("no ALPN protocol in common")

    def _choose_identity(
        self, host: str | None, client_schemes: list[int], cert_schemes: list[int]
    ) -> tuple[CertifiedKey, str]:
        """The certificate and CertificateVerify scheme: first by name (SNI), then, among those
        as good by name, one whose chain is signed only with algorithms the client advertised
        (RFC 8446 4.4.2.2: MUST if we have such a chain; else SHOULD continue with another)."""
        usable: list[tuple[CertifiedKey, str]] = []
        for identity in _identities_for(self._config, host):
            name = signing_scheme(self._config.verify_schemes, identity.key.schemes, client_schemes)
            if name is not None:
                usable.append((identity, name))
        if not usable:
            raise HandshakeFailure("no certificate and signature scheme the client accepts")
        if len(usable) == 1:
            return usable[0]
        accepted = set(cert_schemes)

        def rank(index: int) -> tuple[bool, bool, int]:
            identity = usable[index][0]
            by_name = host is None or name_matches(host, identity.dns_names)
            signed_ok = all(schemes & accepted for schemes in _chain_schemes(self._config, identity))
            return (not by_name, not signed_ok, index)

        return usable[min(range(len(usable)), key=rank)]

    def _encrypted_extensions(self, extensions: ClientHelloExtensions, host: str | None, alpn: bytes | None) -> list[tuple[int, bytes]]:
        result: list[tuple[int, bytes]] = []
        if host is not None:
            result.append((E.server_name, ext.encode_server_name_ack()))  # RFC 6066 3: SNI was used
        if alpn is not None:
            result.append((E.application_layer_protocol_negotiation, ext.encode_alpn([alpn])))
        peer_limit = extensions.record_size_limit
        if peer_limit is not None:
            own_limit = self._config.record_size_limit or MAX_PLAINTEXT + 1
            result.append((E.record_size_limit, ext.encode_record_size_limit(own_limit)))
            self._record.max_fragment_out = min(MAX_PLAINTEXT, peer_limit - 1)
            self._record.max_inner_plaintext_in = own_limit
        return result

    # -- client's second flight -------------------------------------------------

    def _on_client_certificate(self, body: bytes, raw: bytes) -> ServerState:
        message = Certificate.decode(body)
        if message.context:
            raise IllegalParameter("client Certificate context differs from the request")
        chain, _ = certificate_chain(message, False)
        self._transcript.add(raw)
        if not chain:
            if self._config.require_client_auth:
                raise CertificateRequired("client sent no certificate")
            return S.WAIT_FINISHED
        self._checked("certificate_chain", f"{len(chain)} certificate(s), a client certificate", verify_peer, self._config, chain, None, "client")
        self._peer_spki = leaf_public_key(chain)
        self._agreed.peer_certificates = chain
        return S.WAIT_CV

    def _on_client_certificate_verify(self, body: bytes, raw: bytes) -> ServerState:
        message = CertificateVerify.decode(body)
        name = scheme_name(message.scheme)
        if name is None or name not in self._config.verify_schemes:
            raise IllegalParameter("client signed with a scheme we did not ask for")
        content = certificate_verify_content(CLIENT_CONTEXT, self._transcript.digest())
        verify = self._provider.signature_schemes[name].verify
        self._checked("certificate_verify", f"{name} signature by the client's key", verify, self._peer_spki, content, message.signature)
        self._transcript.add(raw)
        return S.WAIT_FINISHED

    def _on_client_finished(self, body: bytes, raw: bytes) -> ServerState:
        hs = self._hs
        message = Finished.decode(body, hs.schedule.hash.digest_size)
        tracer = self._tracer
        if tracer is not None:
            tracer.step("derive", "client_finished_key", "finished")
        if not hs.schedule.verify_finished(hs.client, self._transcript.digest(), message.verify_data):
            if tracer is not None:
                tracer.check("finished", False, "client Finished does not verify")
            raise DecryptError("client Finished does not verify")
        if tracer is not None:
            tracer.check("finished", True, "client Finished matches the transcript")
        self._transcript.add(raw)
        self._app.resumption_hash = self._transcript.digest()  # resumption secret derived on demand
        self._trace_resumption_secret(self._app)
        self._record.set_read_keys(hs.schedule.traffic_keys(self._app.read))
        if tracer is not None:
            self._trace_keys("read", "application")
        if self._config.tickets:
            # RFC 8446 4.6.1: after the client Finished; ahead of any application data
            # queued during the handshake, so a client has its session as early as possible
            self._send_tickets(self._config.tickets)
        self._complete_handshake()
        return S.CONNECTED

    # -- 0-RTT ------------------------------------------------------------------

    def _on_early_application_data(self, payload: bytes) -> None:
        """Application data before the handshake completed: 0-RTT data if we accepted it."""
        if self._state != S.WAIT_EOED:
            super()._on_early_application_data(payload)
            return
        if len(payload) > self._early_data_left:
            # RFC 8446 4.2.10: more than max_early_data_size: unexpected_message
            raise UnexpectedMessage("more early data than max_early_data_size")
        self._early_data_left -= len(payload)
        self._early_data += payload
        self._events.append(EarlyDataReceived(payload))

    def _on_end_of_early_data(self, body: bytes, raw: bytes) -> ServerState:
        if body:
            raise DecodeError("EndOfEarlyData has a body")
        self._transcript.add(raw)
        self._record.set_read_keys(self._hs.schedule.traffic_keys(self._hs.client))
        if self._tracer is not None:
            self._trace_keys("read", "handshake")
        return S.WAIT_FINISHED


#: The server's TLS 1.3 machine (RFC 8446 A.2): (state, message) -> handler -> next state.
#: Anything else is unexpected_message. One ClientHello passes through RECVD_CH,
#: NEGOTIATED and WAIT_FLIGHT2 while the server flight is written.
C = ServerConnection
TLS13_SERVER: TransitionTable = {
    (S.START, H.client_hello): C._on_client_hello,  # -> START (HelloRetryRequest) | WAIT_EOED | WAIT_CERT | WAIT_FINISHED
    (S.WAIT_CERT, H.certificate): C._on_client_certificate,  # -> WAIT_CV | WAIT_FINISHED (no certificate)
    (S.WAIT_CV, H.certificate_verify): C._on_client_certificate_verify,  # -> WAIT_FINISHED
    (S.WAIT_EOED, H.end_of_early_data): C._on_end_of_early_data,  # -> WAIT_FINISHED
    (S.WAIT_FINISHED, H.finished): C._on_client_finished,  # -> CONNECTED
    (S.CONNECTED, H.key_update): C._on_key_update,  # -> CONNECTED
    # post-handshake authentication (RFC 8446 4.6.2), only after request_client_certificate()
    (S.CONNECTED, H.certificate): C._on_post_handshake_certificate,  # -> CONNECTED
    (S.CONNECTED, H.certificate_verify): C._on_post_handshake_certificate_verify,  # -> CONNECTED
    (S.CONNECTED, H.finished): C._on_post_handshake_finished,  # -> CONNECTED
}
del C


def _check_same_client_hello(first: ClientHello, second: ClientHello, *, cookie_sent: bool) -> None:
    """RFC 8446 4.1.2: after a HelloRetryRequest the client MUST send the same ClientHello
    except for the changes listed there. Compared field by field and extension by
    extension (not by order, as Go's crypto/tls does, so extension-order permutation
    between the two hellos is not mistaken for a change)."""
    if (
        second.legacy_version != first.legacy_version
        or second.random != first.random
        or second.cipher_suites != first.cipher_suites
        or second.legacy_compression_methods != first.legacy_compression_methods
    ):
        raise IllegalParameter("second ClientHello changed its fixed fields")
    second_extensions = dict(second.extensions)
    if E.early_data in second_extensions:
        raise IllegalParameter("early_data is not permitted after a HelloRetryRequest")
    first_extensions = dict(first.extensions)
    if E.pre_shared_key in second_extensions and E.pre_shared_key not in first_extensions:
        raise IllegalParameter("second ClientHello offers a PSK the first did not")
    may_change = _MAY_CHANGE_AFTER_RETRY if cookie_sent else _MAY_CHANGE_AFTER_RETRY - {E.cookie}
    for ext_type in first_extensions.keys() | second_extensions.keys():
        if ext_type not in may_change and first_extensions.get(ext_type) != second_extensions.get(ext_type):
            raise IllegalParameter(f"second ClientHello changed extension {ext_type}")


def _check_share_order(share_groups: list[int], client_groups: list[int]) -> None:
    """RFC 8446 4.2.8: every KeyShareEntry is for a group in supported_groups, in the same
    order (servers MAY check; illegal_parameter). Share groups are unique (decoder)."""
    position = -1
    for group in share_groups:
        try:
            position = client_groups.index(group, position + 1)
        except ValueError:
            raise IllegalParameter("key shares not in supported_groups order") from None


def _certificate_message(config: ServerConfig, identity: CertifiedKey, staple: bool) -> bytes:
    """The server's Certificate message for ``identity``: it depends only on the config,
    so it is encoded once per (identity, staple) and kept on the config."""
    cache: dict[tuple[int, bool], bytes] | None = config.__dict__.get("_certificate_messages")
    if cache is None:
        cache = {}
        object.__setattr__(config, "_certificate_messages", cache)
    key = (id(identity), staple)
    message = cache.get(key)
    if message is None:
        entries = [CertificateEntry(cert) for cert in identity.chain]
        if staple:
            assert identity.ocsp_response is not None
            entries[0].extensions.append((E.status_request, ext.encode_certificate_status(identity.ocsp_response)))
        message = cache[key] = Certificate(b"", entries).encode()
    return message


def _chain_schemes(config: ServerConfig, identity: CertifiedKey) -> tuple[frozenset[int], ...]:
    """chain_signature_schemes of an identity's chain, computed once per config."""
    cache: dict[int, tuple[frozenset[int], ...]] | None = config.__dict__.get("_chain_schemes")
    if cache is None:
        cache = {}
        object.__setattr__(config, "_chain_schemes", cache)
    schemes = cache.get(id(identity))
    if schemes is None:
        schemes = cache[id(identity)] = chain_signature_schemes(identity.chain)
    return schemes


#: Host names whose identity order is remembered per config (client-chosen: bounded).
_IDENTITY_ORDER_CACHE_SIZE = 256


def _identities_for(config: ServerConfig, host: str | None) -> tuple[CertifiedKey, ...]:
    """The config's identities, those whose names match ``host`` first (memoised per config)."""
    identities: tuple[CertifiedKey, ...] = config.identities
    if host is None or len(identities) == 1:
        return identities
    cache = config.__dict__.get("_identity_order")
    if cache is None:
        cache = {}
        object.__setattr__(config, "_identity_order", cache)
    order = cache.get(host)
    if order is None:
        matching = [i for i in identities if name_matches(host, i.dns_names)]
        order = tuple(matching + [i for i in identities if i not in matching])
        if len(cache) >= _IDENTITY_ORDER_CACHE_SIZE:
            cache.clear()
        cache[host] = order
    return order


__all__ = ["ServerConnection"]
