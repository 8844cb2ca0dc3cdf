"""TLS 1.3 resumption decisions, kept out of the state machines (RFC 8446 2.2, 2.3, 4.2.9-4.2.11, 4.6.1, 8).

The client and server handshakes call into here at a few points:

client
  * :func:`client_psk_offer` - may this session be offered with this config?
  * :func:`client_psk_extensions` / :func:`bind_client_hello` - the ClientHello's
    psk_key_exchange_modes, early_data and pre_shared_key, and the binder patched in;
  * :func:`check_server_psk` - the ServerHello's answer checked (4.2.11);
  * :func:`session_from_ticket` - a NewSessionTicket turned into a :class:`Session`.

server
  * :func:`select_psk` - which offered ticket (if any) to resume, whether its binder
    verifies, and whether 0-RTT is accepted;
  * :func:`new_session_ticket` - a NewSessionTicket sealed by the configured store.

Nothing here keeps connection state: the handshakes hold the small objects these
functions return (:class:`ClientPskOffer`, :class:`AcceptedPsk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from tlskit.engine import psk as P
from tlskit.engine.buffer import vec8, vec16
from tlskit.engine.extensions import ExtensionType as E
from tlskit.engine.keyschedule import KeySchedule, Transcript
from tlskit.engine.messages import NewSessionTicketMessage as NewSessionTicket
from tlskit.engine.session import Session
from tlskit.engine.tickets import MAX_TICKET_LIFETIME, TicketStore
from tlskit.errors import DecryptError, IllegalParameter
from tlskit.providers.base import CipherSuite, Provider
from tlskit.providers.names import CIPHER_SUITE_NAMES, CIPHER_SUITES

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.engine.config import ClientConfig, ServerConfig

#: psk_key_exchange_modes names as configs spell them
PSK_MODES = {"psk_dhe_ke": P.PSK_DHE_KE, "psk_ke": P.PSK_KE}
PSK_MODE_NAMES = {v: k for k, v in PSK_MODES.items()}


# -- client ------------------------------------------------------------------------------


@dataclass
class ClientPskOffer:
    """One session offered in a ClientHello (we offer at most one)."""

    session: Session
    suite: CipherSuite
    schedule: KeySchedule  # early secret from the session's PSK
    binder_key: bytes
    modes: tuple[int, ...]
    #: 0-RTT data the application wants to send with the first flight (b"" if none)
    early_data: bytes = b""
    obfuscated_age: int = 0

    def __repr__(self) -> str:  # the PSK and what derives from it stay out of logs
        return f"<ClientPskOffer {self.suite.name} early={len(self.early_data)}B>"

    @property
    def hash_name(self) -> str:
        return self.suite.hash.name


def client_psk_offer(
    config: "ClientConfig", provider: Provider, session: Session, server_name: str | None, early_data: bytes, now: float
) -> ClientPskOffer | None:
    """The offer for ``session``, or None when it cannot be used here (RFC 8446 4.6.1:
    expired, another version, a suite we no longer offer, another server name)."""
    if session.version != "TLSv1.3" or not session.is_valid(now) or config.max_version_code < 0x0304:
        return None
    if session.cipher_suite not in config.resolved_cipher_suites or session.cipher_suite not in provider.cipher_suites:
        return None
    # 4.6.1: resume only with the SNI the session was established with (the server's
    # certificate was checked for that name, and is not checked again)
    if (session.server_name or None) != (server_name or None):
        return None
    suite = provider.cipher_suites[session.cipher_suite]
    schedule = KeySchedule(suite, psk=session.psk)
    binder_key = P.binder_key(suite.hash, schedule.early_secret)
    modes = tuple(PSK_MODES[m] for m in config.psk_key_exchange_modes)
    # 4.2.10: early data only with a ticket that allows it, within its limit, with the
    # ALPN protocol of the original session offered first
    if early_data and not (session.early_data_allowed and len(early_data) <= session.max_early_data):
        early_data = b""
    if early_data and session.alpn is not None:
        if not config.resolved_alpn or config.resolved_alpn[0].decode("ascii", "replace") != session.alpn:
            early_data = b""
    return ClientPskOffer(session, suite, schedule, binder_key, modes, bytes(early_data), session.obfuscated_age(now))


def client_psk_modes_extension(config: "ClientConfig") -> tuple[int, bytes]:
    return (E.psk_key_exchange_modes, P.encode_psk_modes([PSK_MODES[m] for m in config.psk_key_exchange_modes]))


def client_pre_shared_key_extension(offer: ClientPskOffer) -> tuple[int, bytes]:
    """pre_shared_key with a zero binder of the right length (patched by bind_client_hello)."""
    placeholder = P.OfferedPsks([(offer.session.ticket, offer.obfuscated_age)], [bytes(offer.suite.hash.digest_size)])
    return (E.pre_shared_key, placeholder.encode())


def bind_client_hello(hello: bytes, offer: ClientPskOffer, transcript: Transcript) -> bytes:
    """``hello`` (ending with the placeholder binder) with its real binder: an HMAC over
    Transcript-Hash(messages so far, Truncate(ClientHello)) (RFC 8446 4.2.11.2)."""
    hash_alg = offer.suite.hash
    placeholder = [bytes(hash_alg.digest_size)]
    truncated = P.truncate_client_hello(hello, placeholder)
    binder = P.compute_binder(hash_alg, offer.binder_key, transcript.digest_with(hash_alg, truncated))
    return truncated + vec16(vec8(binder))


def check_server_psk(
    offer: ClientPskOffer | None, selected: int | None, suite: CipherSuite, has_key_share: bool, early_data_accepted: bool = False
) -> bool:
    """Validate the ServerHello's PSK answer (4.2.11); True when the PSK was accepted."""
    if selected is None:
        if not has_key_share:
            raise IllegalParameter("ServerHello has neither key_share nor pre_shared_key")
        return False
    if offer is None or selected != 0:  # we offer one identity
        raise IllegalParameter("server selected a PSK identity we did not offer")
    if suite.hash.name != offer.suite.hash.name:
        raise IllegalParameter("server selected a cipher suite whose hash does not fit the PSK")
    mode = P.PSK_DHE_KE if has_key_share else P.PSK_KE
    if mode not in offer.modes:
        raise IllegalParameter(f"server used {PSK_MODE_NAMES[mode]}, which we did not offer")
    return True


def session_from_ticket(
    message: NewSessionTicket,
    suite: CipherSuite,
    resumption_master_secret: bytes,
    now: float,
    server_name: str | None,
    alpn: str | None,
    peer_certificates: tuple[bytes, ...],
) -> Session | None:
    """The Session a NewSessionTicket stands for; None for a ticket not to keep
    (lifetime 0: "the ticket should be discarded immediately", 4.6.1)."""
    if message.lifetime == 0:
        return None
    max_early = 0
    for ext_type, body in message.extensions:
        if ext_type == E.early_data:
            max_early = P.decode_early_data_max(body)
    return Session(
        version="TLSv1.3",
        cipher_suite=suite.name,
        psk=P.ticket_psk(suite.hash, resumption_master_secret, message.nonce),
        ticket=message.ticket,
        age_add=message.age_add,
        lifetime=message.lifetime,
        received_at=now,
        max_early_data=max_early,
        server_name=server_name,
        alpn=alpn,
        peer_certificates=peer_certificates,
    )


# -- server ------------------------------------------------------------------------------


@dataclass
class AcceptedPsk:
    """The ticket a server resumes: what it remembered, the key schedule from its PSK,
    the key exchange mode and whether 0-RTT data is taken."""

    index: int
    state: P.ResumptionState
    schedule: KeySchedule
    mode: int
    early_data: bool
    early_data_limit: int

    def __repr__(self) -> str:
        return f"<AcceptedPsk #{self.index} {PSK_MODE_NAMES[self.mode]} early_data={self.early_data}>"


def server_psk_mode(config: "ServerConfig", client_modes: Sequence[int], dhe_possible: bool) -> int | None:
    """The first of our modes the client offered (4.2.9); psk_dhe_ke needs a group in common."""
    for name in config.psk_key_exchange_modes:
        mode = PSK_MODES[name]
        if mode in client_modes and (mode == P.PSK_KE or dhe_possible):
            return mode
    return None


def select_psk(
    config: "ServerConfig",
    provider: Provider,
    raw_hello: bytes,
    extensions: Any,  # the ClientHello's extensions: a typed ExtensionList (or a dict)
    suite: CipherSuite,
    transcript: Transcript,
    host: str | None,
    alpn: bytes | None,
    mode: int,
    retried: bool,
    now: float,
) -> AcceptedPsk | None:
    """The ticket to resume from this ClientHello, or None for a full handshake.

    Identities are tried in order; the first whose ticket opens and fits (not expired,
    same hash, same server name and ALPN, client certificate if we require one) is
    selected and only its binder is checked (4.2.11: "Servers SHOULD NOT attempt to
    validate multiple binders"). A binder that does not verify ends the handshake
    (decrypt_error, as for a bad Finished: the binder is one). ``transcript`` holds the
    messages before this ClientHello (ClientHello1 and HelloRetryRequest after a retry).
    """
    body = extensions.body(E.pre_shared_key) if hasattr(extensions, "body") else extensions.get(E.pre_shared_key)
    if body is None:
        return None
    offered = P.OfferedPsks.decode(body)
    store: TicketStore = config.resolved_ticket_store
    for index, (identity, obfuscated_age) in enumerate(offered.identities):
        sealed = store.redeem(identity)
        state = P.ResumptionState.decode(sealed) if sealed is not None else None
        if state is None or state.expired(now):
            continue
        ticket_suite_name = CIPHER_SUITE_NAMES.get(state.cipher_suite)
        ticket_suite = provider.cipher_suites.get(ticket_suite_name) if ticket_suite_name else None
        if ticket_suite is None or ticket_suite.hash.name != suite.hash.name:
            continue  # 4.2.11: a PSK goes with its hash only
        if not _same_name(state.server_name, host) or state.alpn != alpn:
            continue
        if config.require_client_auth and not state.client_certificates:
            continue
        schedule = KeySchedule(suite, psk=state.psk)
        binder_key = P.binder_key(suite.hash, schedule.early_secret)
        truncated = P.truncate_client_hello(raw_hello, offered.binders)
        binder_hash = transcript.digest_with(suite.hash, truncated)
        if not P.verify_binder(suite.hash, binder_key, binder_hash, offered.binders[index]):
            raise DecryptError("PSK binder does not verify")
        early, limit = _accept_early_data(config, extensions, state, index, suite, alpn, identity, obfuscated_age, retried, now)
        return AcceptedPsk(index, state, schedule, mode, early, limit)
    return None


def _same_name(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


def _accept_early_data(
    config: "ServerConfig",
    extensions: Any,
    state: P.ResumptionState,
    index: int,
    suite: CipherSuite,
    alpn: bytes | None,
    identity: bytes,
    obfuscated_age: int,
    retried: bool,
    now: float,
) -> tuple[bool, int]:
    """Whether to take 0-RTT data (4.2.10, 8): the client asked, we allow it and the ticket
    did, it is the first identity, not after a HelloRetryRequest, same suite and ALPN,
    a fresh ClientHello (8.3) and the ticket's first use for early data (8.1, 8.2)."""
    if E.early_data not in extensions or config.max_early_data_size <= 0 or state.max_early_data <= 0:
        return False, 0
    if index != 0 or retried or state.cipher_suite != CIPHER_SUITES.get(suite.name) or state.alpn != alpn:
        return False, 0
    if not P.age_within_window(obfuscated_age, state.age_add, state.issued_at, now, config.early_data_window):
        return False, 0
    if not config.resolved_anti_replay.first_use(identity, state.issued_at + state.lifetime, now):
        return False, 0
    return True, min(state.max_early_data, config.max_early_data_size)


def new_session_ticket(
    config: "ServerConfig",
    provider: Provider,
    suite: CipherSuite,
    resumption_master_secret: bytes,
    nonce: bytes,
    now: float,
    server_name: str | None,
    alpn: bytes | None,
    client_certificates: tuple[bytes, ...],
) -> bytes:
    """An encoded NewSessionTicket (4.6.1): a fresh ticket_age_add, the ticket sealing
    the PSK for ``nonce``, early_data with our limit when 0-RTT is on."""
    lifetime = min(config.ticket_lifetime, MAX_TICKET_LIFETIME)
    age_add = int.from_bytes(provider.random(4), "big")
    max_early = config.max_early_data_size
    state = P.ResumptionState(
        cipher_suite=CIPHER_SUITES[suite.name],
        psk=P.ticket_psk(suite.hash, resumption_master_secret, nonce),
        issued_at=now,
        lifetime=lifetime,
        age_add=age_add,
        max_early_data=max_early,
        server_name=server_name,
        alpn=alpn,
        client_certificates=client_certificates,
    )
    ticket = config.resolved_ticket_store.issue(state.encode())
    extensions: list[tuple[int, bytes]] = []
    if max_early > 0:
        extensions.append((E.early_data, P.encode_early_data_indication(max_early)))
    return NewSessionTicket(lifetime, age_add, nonce, ticket, extensions).encode()


__all__ = [
    "AcceptedPsk",
    "ClientPskOffer",
    "PSK_MODES",
    "bind_client_hello",
    "check_server_psk",
    "client_pre_shared_key_extension",
    "client_psk_modes_extension",
    "client_psk_offer",
    "new_session_ticket",
    "select_psk",
    "server_psk_mode",
    "session_from_ticket",
]
