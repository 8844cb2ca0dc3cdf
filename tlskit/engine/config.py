"""Client and server configuration, and what a handshake negotiated.

Configs are frozen dataclasses validated at construction: algorithm names are
checked against the IANA tables and the chosen provider (a name the provider
lacks raises :class:`tlskit.errors.UnsupportedAlgorithm` here, not mid-handshake),
and certificates/keys are loaded once so many connections can share a config.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, Union

from tlskit.engine.certs import PathOrBytes, leaf_names, load_chain, read_source, spki_of
from tlskit.engine.keylog import check_keylog_file
from tlskit.engine.psk import AntiReplay
from tlskit.engine.session import SessionCache
from tlskit.engine.tickets import MAX_TICKET_LIFETIME, StatelessTicketStore, TicketKeyRing, TicketStore
from tlskit.engine.tls12.versions import TLS12, TLS13, VERSION_CODES, resolve_tls12_suites, resolve_versions, split_suites
from tlskit.engine.trust import build_trust_store
from tlskit.errors import ConfigurationError, InternalError, NoApplicationProtocol, TLSError, UnsupportedAlgorithm
from tlskit.providers.base import PrivateKey, Provider
from tlskit.providers.names import CERTIFICATE_ONLY_SCHEMES, CIPHER_SUITES, GROUPS, SIGNATURE_SCHEMES

Verifier = Callable[[Sequence[bytes], Optional[str]], None]
KeylogCallback = Callable[[str, bytes, bytes], None]
#: receives one tlskit.engine.trace record per handshake step (see tlskit.trace)
TraceCallback = Callable[[Any], None]
Clock = Callable[[], datetime.datetime]
PathLike = Union[str, "os.PathLike[str]"]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class Negotiated:
    """What the handshake settled on. ``peer_certificates`` are DER, leaf first."""

    version: str
    cipher_suite: str
    group: str
    signature_scheme: str | None
    alpn: str | None
    server_name: str | None
    peer_certificates: tuple[bytes, ...]
    ocsp_response: bytes | None = None
    #: an earlier session was resumed (TLS 1.3: a PSK from a ticket; TLS 1.2: session id or ticket)
    resumed: bool = False


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate chain (DER, leaf first) with its private key and the leaf's names."""

    chain: tuple[bytes, ...]
    key: PrivateKey
    dns_names: tuple[str, ...] = ()
    #: a DER OCSP response for this chain's leaf, stapled when the client asks (RFC 6066 8)
    ocsp_response: Optional[bytes] = None


#: Preferred by default where the provider has it (and it is not configured away): the
#: post-quantum hybrid that OpenSSL 3.5+, Go 1.24+, rustls and the major browsers put first
#: (draft-ietf-tls-ecdhe-mlkem). A server takes it when the client sent its share (server
#: preference among the shares the client sent, RFC 8446 4.2.8), a classical peer is met
#: with x25519 without a HelloRetryRequest (the client also sends a classical share).
DEFAULT_FIRST_GROUP = "X25519MLKEM768"


def _is_hybrid(group: str) -> bool:
    """An ML-KEM hybrid group (its key share alone is over a kilobyte and needs ML-KEM)."""
    return "MLKEM" in group


def _default_groups(provider: Provider) -> tuple[str, ...]:
    """The provider's groups in its order, DEFAULT_FIRST_GROUP moved first where offered."""
    names = tuple(name for name in provider.groups if name in GROUPS)
    if DEFAULT_FIRST_GROUP in names:
        names = (DEFAULT_FIRST_GROUP,) + tuple(n for n in names if n != DEFAULT_FIRST_GROUP)
    return names


def _default_key_shares(groups: tuple[str, ...]) -> tuple[str, ...]:
    """Key shares of a first ClientHello: the first group's, and if that is a hybrid, also
    the first classical group's, as browsers do, so a server without ML-KEM needs no
    HelloRetryRequest (shares in supported_groups order, RFC 8446 4.2.8)."""
    if groups and _is_hybrid(groups[0]):
        classical = next((g for g in groups if not _is_hybrid(g)), None)
        if classical is not None:
            return (groups[0], classical)
    return groups[:1]


def _resolve(table: dict[str, int], offered: Mapping[str, object], wanted: Sequence[str] | None, kind: str, provider: Provider) -> tuple[str, ...]:
    """The configured names (or the provider's order) checked against IANA and the provider."""
    if wanted is None:
        return tuple(name for name in offered if name in table)
    if isinstance(wanted, str):
        wanted = [w for w in wanted.split(",") if w]
    names = []
    for name in wanted:
        if name not in table:
            raise UnsupportedAlgorithm(provider.name, kind, name)
        if name not in offered:
            raise UnsupportedAlgorithm(provider.name, kind, name)
        if name not in names:
            names.append(name)
    if not names:
        raise ConfigurationError(f"no {kind} configured")
    return tuple(names)


def _load_key(provider: Provider, source: PathOrBytes, password: bytes | str | None) -> PrivateKey:
    if isinstance(password, str):
        password = password.encode()
    return provider.load_private_key(read_source(source), password)


def _source_name(source: PathOrBytes, what: str) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"(the {what} given as bytes)"
    return os.fspath(source)


def _normalized_spki(spki: bytes) -> bytes | None:
    """``spki`` re-encoded by pyca/cryptography (None if it cannot read it)."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_der_public_key(spki).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except Exception:
        return None


def _check_key_matches(chain: tuple[bytes, ...], key: PrivateKey, chain_source: PathOrBytes, key_source: PathOrBytes) -> None:
    """Refuse a private key whose public half is not the leaf certificate's: every
    CertificateVerify it signed would fail at the peer (decrypt_error)."""
    held = key.public_key_der()
    try:
        certified = spki_of(chain[0])
    except TLSError:
        return  # a leaf the engine cannot read: sending it is the peer's to judge
    if certified == held:
        return
    # Equal keys can differ in encoding (EC point form, RSA NULL parameters): compare
    # canonical forms; if either cannot be re-encoded, the handshake will tell.
    certified_n, held_n = _normalized_spki(certified), _normalized_spki(held)
    if certified_n is None or held_n is None or certified_n == held_n:
        return
    raise ConfigurationError(
        f"the private key {_source_name(key_source, 'key')} does not match the certificate "
        f"{_source_name(chain_source, 'certificate')} ({_describe_leaf(chain[0])}): every handshake would fail"
    )


def _describe_leaf(der: bytes) -> str:
    from cryptography import x509

    try:
        leaf = x509.load_der_x509_certificate(der)
        return f"subject {leaf.subject.rfc4514_string() or '<empty subject>'}, serial {leaf.serial_number:x}"
    except Exception:
        return "an unparsable leaf"


def _certified_key(
    provider: Provider,
    chain_source: PathOrBytes,
    key_source: PathOrBytes,
    password: bytes | str | None,
    ocsp_response: bytes | None = None,
) -> CertifiedKey:
    chain = load_chain(chain_source)
    key = _load_key(provider, key_source, password)
    _check_key_matches(chain, key, chain_source, key_source)
    return CertifiedKey(chain, key, tuple(leaf_names(chain[0])), ocsp_response)


def _check_ocsp_response(response: object) -> None:
    """An OCSP response to staple: DER bytes, not empty (RFC 6066 8: opaque
    OCSPResponse<1..2^24-1>). Its contents are the application's responsibility."""
    if not isinstance(response, (bytes, bytearray)) or not 0 < len(response) < 1 << 24:
        raise ConfigurationError("an OCSP response must be 1 to 2^24-1 bytes of DER")


def _certificate_entry(entry: Any) -> tuple[PathOrBytes, PathOrBytes, Optional[bytes]]:
    """A ``certificates`` item: (chain, key) or (chain, key, ocsp_response or None)."""
    if not isinstance(entry, (tuple, list)) or len(entry) not in (2, 3):
        raise ConfigurationError("each certificates entry is (chain, key) or (chain, key, ocsp_response)")
    ocsp = entry[2] if len(entry) == 3 else None
    if ocsp is not None:
        _check_ocsp_response(ocsp)
        ocsp = bytes(ocsp)
    return entry[0], entry[1], ocsp


def _load_anchors(
    config: ClientConfig | ServerConfig,
    usage: str,
    fields: tuple[str, str],
    cafile: Any,  # PathLike | None; Any: the loop below pairs each with its own loader
    cadata: Any,  # str | bytes | None
    system: bool,
) -> None:
    """Load the trust anchors of ``cafile``/``cadata`` once, when the config is built.

    A file that cannot be read or holds no certificate is refused here (before, the
    first peer certificate to verify found out, with a misleading bad_certificate).
    Without system roots the trust store itself is built now; the system roots are
    read lazily, at the first verification (see tlskit.engine.verify and engine.trust).
    """
    if cafile is None and cadata is None:
        anchors: tuple[Any, ...] = ()
    else:
        from tlskit import pki

        certs: list[Any] = []
        for field_name, load, value in ((fields[0], pki.TrustStore.from_file, cafile), (fields[1], pki.TrustStore.from_pem, cadata)):
            if value is None:
                continue
            try:
                found = load(value).certificates()
            except pki.CertificateError as exc:
                raise ConfigurationError(f"{field_name}: {exc.reason}") from None
            if not found:
                where = os.fspath(value) if field_name == fields[0] else "the data given"
                raise ConfigurationError(f"{field_name}: no certificate found in {where}")
            certs.extend(found)
        anchors = tuple(certs)
    object.__setattr__(config, f"_anchors_{usage}", anchors)
    if not system:
        object.__setattr__(config, f"_trust_store_{usage}", build_trust_store(anchors, system=False))


def _load_crls(crls: Any) -> tuple[Any, ...]:
    """The ``crls=`` of a config as loaded CRL objects; a bad one is refused now."""
    if not crls:
        return ()
    from cryptography import x509

    from tlskit import pki

    if isinstance(crls, (str, bytes, bytearray, memoryview, os.PathLike, x509.CertificateRevocationList)):
        crls = [crls]  # one file, blob or CRL, not a sequence of characters, bytes or entries
    try:
        return tuple(pki.load_crls(crls))
    except (pki.CertificateError, TypeError) as exc:
        raise ConfigurationError(f"crls: {getattr(exc, 'reason', exc)}") from None


@dataclass(frozen=True)
class _CommonConfig:
    provider: Union[str, Provider] = "cryptography"
    groups: Optional[Sequence[str]] = None
    cipher_suites: Optional[Sequence[str]] = None
    signature_schemes: Optional[Sequence[str]] = None
    alpn_protocols: Sequence[Union[str, bytes]] = ()
    keylog_file: Optional[PathLike] = None
    keylog_callback: Optional[KeylogCallback] = None
    #: replaces the default chain validation: verifier(der_chain, server_name) raises to reject
    verifier: Optional[Verifier] = None
    clock: Clock = _utc_now
    #: RFC 8449 limit we advertise (largest TLSInnerPlaintext we accept); None: do not send it
    record_size_limit: Optional[int] = None
    #: pad protected records' inner plaintext to a multiple of this many bytes (0: off)
    pad_to: int = 0
    #: protocol versions, "TLSv1.2" or "TLSv1.3"; TLS 1.3 is preferred when both ends have it
    min_version: str = "TLSv1.2"
    max_version: str = "TLSv1.3"
    #: called with one structured record per handshake step (tlskit.engine.trace); None: no
    #: tracing, at no cost. A callback that raises fails the connection like any bug would.
    trace: Optional[TraceCallback] = None
    #: put secret values (hex) in the trace's key-schedule records: as sensitive as a key log
    trace_secrets: bool = False
    #: CRLs checked when verifying the peer's chain (files, PEM/DER bytes or loaded
    #: x509.CertificateRevocationList objects); loaded once, here (docs/pki.md, Revocation)
    crls: Sequence[Any] = ()
    #: opt-in: remember the CA signatures of peer chains that verified, keyed by their exact
    #: bytes (issuer key, signed TBSCertificate, signature, scheme, provider), so a chain
    #: seen again skips only those signature computations. Validity, names, usage,
    #: constraints, revocation and CertificateVerify are still checked on every handshake
    #: (docs/performance.md, "Certificate-path validation").
    verify_cache: bool = False

    if TYPE_CHECKING:
        # Set by _prepare() (object.__setattr__ on the frozen instance), not dataclass
        # fields: declared for the type checker only, so fields()/repr()/eq are unchanged
        # (field(init=False) keeps mypy's dataclass plugin from expecting them in __init__).
        resolved_provider: Provider = field(init=False)
        resolved_groups: tuple[str, ...] = field(init=False)
        resolved_cipher_suites: tuple[str, ...] = field(init=False)
        resolved_signature_schemes: tuple[str, ...] = field(init=False)
        resolved_alpn: tuple[bytes, ...] = field(init=False)
        resolved_key_share_groups: tuple[str, ...] = field(init=False)
        resolved_tls12_suites: tuple[str, ...] = field(init=False)
        min_version_code: int = field(init=False)
        max_version_code: int = field(init=False)
        _verify_schemes: tuple[str, ...] = field(init=False)

    def _prepare(self) -> None:
        from tlskit.providers import get_provider

        provider = get_provider(self.provider)
        self._set("resolved_provider", provider)
        groups = _default_groups(provider) if self.groups is None else _resolve(GROUPS, provider.groups, self.groups, "group", provider)
        self._set("resolved_groups", groups)
        low, high = resolve_versions(self.min_version, self.max_version)
        self._set("min_version_code", VERSION_CODES[low])
        self._set("max_version_code", VERSION_CODES[high])
        tls13_suites, tls12_suites = split_suites(self.cipher_suites)
        self._set("resolved_tls12_suites", resolve_tls12_suites(provider, tls12_suites))
        self._set(
            "resolved_cipher_suites",
            _resolve(CIPHER_SUITES, provider.cipher_suites, tls13_suites, "cipher suite", provider)
            if tls13_suites != []
            else (),
        )
        schemes = _resolve(SIGNATURE_SCHEMES, provider.signature_schemes, self.signature_schemes, "signature scheme", provider)
        self._set("resolved_signature_schemes", schemes)
        self._set("_verify_schemes", tuple(s for s in schemes if s not in CERTIFICATE_ONLY_SCHEMES))
        alpn = tuple(p.encode() if isinstance(p, str) else bytes(p) for p in self.alpn_protocols)
        if any(not 0 < len(p) < 256 for p in alpn):
            raise ConfigurationError("ALPN protocol names must be 1..255 bytes")
        self._set("resolved_alpn", alpn)
        self._set("_crls", _load_crls(self.crls))
        if self.record_size_limit is not None and not 64 <= self.record_size_limit <= 2**14 + 1:
            raise ConfigurationError("record_size_limit must be within 64..16385")
        if self.pad_to < 0 or self.pad_to > 2**14:
            raise ConfigurationError("pad_to must be within 0..16384")
        if not self.resolved_groups:
            raise ConfigurationError(f"provider {provider.name!r} offers no usable group")
        if self.max_version_code >= TLS13 and not self.resolved_cipher_suites:
            if self.min_version_code >= TLS13 or not self.resolved_tls12_suites:
                raise ConfigurationError(f"provider {provider.name!r} offers no usable cipher suite")
            self._set("max_version_code", TLS12)  # only TLS 1.2 suites configured
        if self.min_version_code <= TLS12 and not self.resolved_tls12_suites:
            if self.max_version_code <= TLS12:
                raise ConfigurationError(f"provider {provider.name!r} offers no usable TLS 1.2 cipher suite")
            self._set("min_version_code", TLS13)  # only TLS 1.3 suites available
        if self.keylog_file is not None:
            try:
                check_keylog_file(self.keylog_file)
            except OSError as exc:
                # refused here: otherwise every handshake would end in internal_error
                raise ConfigurationError(
                    f"cannot open the key log file {os.fspath(self.keylog_file)}: {exc.strerror or exc}"
                ) from None

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @property
    def verify_schemes(self) -> tuple[str, ...]:
        """Schemes acceptable in CertificateVerify (certificate-only ones excluded)."""
        return self._verify_schemes


@dataclass(frozen=True)
class ClientConfig(_CommonConfig):
    cafile: Optional[PathLike] = None
    cadata: Optional[Union[str, bytes]] = None
    use_system_roots: bool = False
    certfile: Optional[PathOrBytes] = None
    keyfile: Optional[PathOrBytes] = None
    key_password: Optional[Union[str, bytes]] = field(default=None, repr=False)
    #: skip certificate validation entirely (explicit opt-out, for ``tlskit connect --insecure``)
    insecure: bool = False
    #: send a legacy session id and a change_cipher_spec (RFC 8446 appendix D.4)
    compatibility_mode: bool = False
    #: groups to send key shares for in the first ClientHello (default: the first group, and
    #: the first classical group too when the first is a post-quantum hybrid)
    key_share_groups: Optional[Sequence[str]] = None
    #: ask the server to staple an OCSP response (status_request)
    request_ocsp: bool = False
    #: where tickets from servers go and resumed sessions come from (None: never resume,
    #: and say so: no psk_key_exchange_modes is sent, so servers send no tickets)
    session_cache: Optional[SessionCache] = field(default_factory=SessionCache, compare=False, repr=False)
    #: PSK key exchange modes offered when resuming, best first: "psk_dhe_ke" (a fresh
    #: (EC)DHE too: forward secrecy) and/or "psk_ke" (the PSK alone, RFC 8446 2.2)
    psk_key_exchange_modes: Sequence[str] = ("psk_dhe_ke",)

    if TYPE_CHECKING:  # set by __post_init__, not a dataclass field (see _CommonConfig)
        identity: Optional[CertifiedKey] = field(init=False)

    def __post_init__(self) -> None:
        self._prepare()
        provider = self.resolved_provider
        if self.key_share_groups is None:
            shares = _default_key_shares(self.resolved_groups)
        else:
            if not set(self.key_share_groups) <= set(self.resolved_groups):
                raise ConfigurationError("key_share_groups must be a subset of groups")
            # RFC 8446 4.2.8: shares MUST appear in supported_groups order, one per group
            wanted = set(self.key_share_groups)
            shares = tuple(g for g in self.resolved_groups if g in wanted)
        self._set("resolved_key_share_groups", shares)
        identity = None
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigurationError("certfile and keyfile go together")
        if self.certfile is not None and self.keyfile is not None:
            identity = _certified_key(provider, self.certfile, self.keyfile, self.key_password)
        self._set("identity", identity)
        _check_psk_modes(self.psk_key_exchange_modes)
        if not (self.insecure or self.verifier or self.cafile or self.cadata or self.use_system_roots):
            # Verification is never silently off: without trust anchors we use the system roots.
            object.__setattr__(self, "use_system_roots", True)
        _load_anchors(self, "server", ("cafile", "cadata"), self.cafile, self.cadata, self.use_system_roots)


@dataclass(frozen=True)
class ServerConfig(_CommonConfig):
    certfile: Optional[PathOrBytes] = None
    keyfile: Optional[PathOrBytes] = None
    key_password: Optional[Union[str, bytes]] = field(default=None, repr=False)
    #: extra (chain, key) or (chain, key, ocsp_response) entries chosen by SNI against each
    #: leaf's SANs; certfile/keyfile (or the first of these) is the default. Each entry's
    #: OCSP response (DER) is stapled for its own certificate only.
    certificates: Sequence[Union[tuple[PathOrBytes, PathOrBytes], tuple[PathOrBytes, PathOrBytes, Optional[bytes]]]] = ()
    client_cafile: Optional[PathLike] = None
    client_cadata: Optional[Union[str, bytes]] = None
    #: with client_cafile: True -> certificate_required if the client sends none
    require_client_auth: bool = False
    #: a DER OCSP response stapled when the client sends status_request, for the default
    #: certificate (certfile/keyfile, else the first ``certificates`` entry) only: an OCSP
    #: response speaks for one certificate (RFC 6960 4.1.1 CertID), so another SNI
    #: certificate never gets it; give those theirs as a third item of their entry
    ocsp_response: Optional[bytes] = None
    #: groups the server accepts a key share for; other offers get a HelloRetryRequest
    #: asking for the first of these the client supports (None: any configured group)
    key_share_groups: Optional[Sequence[str]] = None
    #: put a cookie in HelloRetryRequest and require it back (RFC 8446 4.2.2)
    hrr_cookie: bool = True
    #: ask for client certificates (client_cafile/client_cadata) only after the handshake,
    #: with ``ServerConnection.request_client_certificate()`` (RFC 8446 4.6.2), not in it
    post_handshake_client_auth: bool = False
    #: NewSessionTickets sent after each handshake (0: none; more on demand with
    #: ``ServerConnection.send_session_tickets``)
    tickets: int = 2
    #: ticket_lifetime in seconds (RFC 8446 4.6.1: at most 604800, seven days)
    ticket_lifetime: int = 7200
    #: where resumption state goes (default: stateless, sealed under rotating keys)
    ticket_store: Optional[TicketStore] = field(default=None, compare=False, repr=False)
    #: seconds a ticket key seals before the next takes over (it opens for one period
    #: more); None: the ticket lifetime, so every ticket stays usable while valid
    ticket_key_rotation: Optional[float] = None
    #: PSK key exchange modes accepted, best first ("psk_ke" only if listed here)
    psk_key_exchange_modes: Sequence[str] = ("psk_dhe_ke",)
    #: 0-RTT: the most early data accepted per connection (0: 0-RTT off, RFC 8446 4.2.10)
    max_early_data_size: int = 0
    #: how far (seconds) a client's ticket age may be from ours for 0-RTT (RFC 8446 8.3)
    early_data_window: float = 10.0
    #: record of tickets already used for 0-RTT (default: in memory, bounded)
    anti_replay: Optional[AntiReplay] = field(default=None, compare=False, repr=False)
    #: ``sni_callback(server_name)`` runs when a ClientHello arrives (server_name None
    #: without SNI): it may return another ServerConfig (other certificates, ALPN,
    #: client authentication...) used for the rest of the handshake, or None to keep
    #: this one; raising a TLSError (e.g. UnrecognizedName) refuses the client
    sni_callback: Optional[Callable[[Optional[str]], Optional["ServerConfig"]]] = field(default=None, compare=False)
    #: ``alpn_callback(offered)`` picks the ALPN protocol from the client's list instead of
    #: ``alpn_protocols`` (one of them, or None for no ALPN); it runs only when the client
    #: offers ALPN
    alpn_callback: Optional[Callable[[list[str]], Optional[str]]] = field(default=None, compare=False)

    if TYPE_CHECKING:  # set by __post_init__, not a dataclass field (see _CommonConfig)
        identities: tuple[CertifiedKey, ...] = field(init=False)
        resolved_ticket_store: TicketStore = field(init=False)
        resolved_anti_replay: AntiReplay = field(init=False)

    def __post_init__(self) -> None:
        self._prepare()
        provider = self.resolved_provider
        entries: list[tuple[PathOrBytes, PathOrBytes, Optional[bytes]]] = []
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigurationError("certfile and keyfile go together")
        if self.certfile is not None and self.keyfile is not None:
            entries.append((self.certfile, self.keyfile, None))
        entries.extend(_certificate_entry(entry) for entry in self.certificates)
        if not entries:
            raise ConfigurationError("a server needs a certificate chain and key")
        if self.ocsp_response:  # (b"" meant "no staple" before and still does)
            _check_ocsp_response(self.ocsp_response)
            if entries[0][2] is None:  # the default certificate's, unless its entry has its own
                entries[0] = (entries[0][0], entries[0][1], bytes(self.ocsp_response))
        keys = tuple(_certified_key(provider, chain, key, self.key_password, ocsp) for chain, key, ocsp in entries)
        self._set("identities", keys)
        if self.key_share_groups is None:
            shares = self.resolved_groups
        else:
            shares = tuple(g for g in self.key_share_groups if g in self.resolved_groups)
            if not shares:
                raise ConfigurationError("key_share_groups has no configured group")
        self._set("resolved_key_share_groups", shares)
        _prepare_tickets(self)
        if self.require_client_auth and not (self.client_cafile or self.client_cadata or self.verifier):
            raise ConfigurationError("require_client_auth needs client_cafile (or a verifier)")
        _load_anchors(self, "client", ("client_cafile", "client_cadata"), self.client_cafile, self.client_cadata, False)

    @property
    def requests_client_certificate(self) -> bool:
        if self.post_handshake_client_auth:
            return False
        return bool(self.client_cafile or self.client_cadata or self.require_client_auth)

    def for_server_name(self, server_name: Optional[str]) -> "ServerConfig":
        """The config for a ClientHello naming ``server_name``: what ``sni_callback`` returns,
        else this one. A callback that fails (other than with a TLSError) is an internal error."""
        if self.sni_callback is None:
            return self
        try:
            chosen = self.sni_callback(server_name)
        except TLSError:
            raise
        except Exception as exc:
            raise InternalError(f"sni_callback failed: {type(exc).__name__}") from None
        if chosen is None:
            return self
        if not isinstance(chosen, ServerConfig):
            raise InternalError("sni_callback must return a ServerConfig or None")
        return chosen

    def select_alpn(self, offered: Sequence[bytes]) -> Optional[bytes]:
        """``alpn_callback``'s choice among the client's ``offered`` protocols (RFC 7301 3.2:
        the server picks one of them or sends none; a choice not offered is
        no_application_protocol)."""
        assert self.alpn_callback is not None
        names = [p.decode("ascii", "replace") for p in offered]
        try:
            chosen = self.alpn_callback(names)
        except TLSError:
            raise
        except Exception as exc:
            raise InternalError(f"alpn_callback failed: {type(exc).__name__}") from None
        if chosen is None:
            return None
        for protocol, name in zip(offered, names):
            if name == chosen:
                return protocol
        raise NoApplicationProtocol(f"alpn_callback chose {chosen!r}, which the client did not offer")


_PSK_MODE_NAMES = ("psk_dhe_ke", "psk_ke")


def _check_psk_modes(modes: Sequence[str]) -> None:
    if isinstance(modes, str) or not modes or any(m not in _PSK_MODE_NAMES for m in modes) or len(set(modes)) != len(modes):
        raise ConfigurationError(f"psk_key_exchange_modes must be a non-empty list of {', '.join(_PSK_MODE_NAMES)}")


def _prepare_tickets(config: "ServerConfig") -> None:
    """Check the resumption settings and build the default ticket store and anti-replay record."""
    _check_psk_modes(config.psk_key_exchange_modes)
    if not 0 <= config.tickets <= 32:
        raise ConfigurationError("tickets must be within 0..32")
    if not 0 < config.ticket_lifetime <= MAX_TICKET_LIFETIME:
        raise ConfigurationError(f"ticket_lifetime must be within 1..{MAX_TICKET_LIFETIME} seconds (RFC 8446 4.6.1)")
    if not 0 <= config.max_early_data_size <= 2**32 - 1:
        raise ConfigurationError("max_early_data_size must be within 0..2^32-1")
    if not config.early_data_window > 0:
        raise ConfigurationError("early_data_window must be positive")
    store = config.ticket_store
    if store is None:
        rotation = config.ticket_key_rotation if config.ticket_key_rotation is not None else float(config.ticket_lifetime)
        store = StatelessTicketStore(TicketKeyRing(config.resolved_provider, rotate_after=rotation))
    elif not isinstance(store, TicketStore):
        raise ConfigurationError("ticket_store must have issue(state) and redeem(ticket)")
    object.__setattr__(config, "resolved_ticket_store", store)
    object.__setattr__(config, "resolved_anti_replay", config.anti_replay if config.anti_replay is not None else AntiReplay())


__all__ = ["CertifiedKey", "ClientConfig", "Negotiated", "ServerConfig"]
