"""Path building and validation: ``verify_chain``.

The search starts at the leaf and walks up through candidate issuers (trust anchors
first, then the intermediates the peer sent, in the order AKI/SKI suggests), depth first,
backtracking when a candidate fails any rule, until a trust anchor is reached. The work
is bounded: at most ``max_depth`` intermediates, ``MAX_SIGNATURE_CHECKS`` signature
verifications and ``MAX_CANDIDATES`` candidate issuers examined per call (tlskit.pki.budget,
shared with the CRL checker).

Path plans: when the search walks straight to an anchor (the first candidate at every
step passes), the path is remembered in the trust store as a plan, keyed by the exact
DER of the leaf and of every certificate sent, the usage, ``max_depth`` and the
provider. A later call with the same inputs replays the plan: it checks what can differ
between calls -- every certificate's validity at ``at``, the signature on every link,
revocation when CRLs are given, the host name -- and skips only what is a pure function
of those bytes (structure, extensions, basic constraints, key usage, EKU, path length,
name constraints), which the first search proved for exactly this path. When all of
them pass, the search itself would have returned this same path (its first candidates,
which pass every check); when one fails, the full search runs and reports exactly as
it always did.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from cryptography import x509

from tlskit.pki import algorithms, policy
from tlskit.pki.budget import MAX_CANDIDATES, MAX_SIGNATURE_CHECKS, Budget  # noqa: F401 (the limits verify_chain documents)
from tlskit.pki.cache import SignatureCache
from tlskit.pki.certinfo import CertInfo
from tlskit.pki.crl import RevocationChecker
from tlskit.pki.errors import (
    CertificateError,
    PathBuildingExhausted,
    PathLenExceeded,
    UnknownIssuer,
)
from tlskit.pki.loading import CertificateLike, coerce_certificate, coerce_certificates, load_crls
from tlskit.pki.store import TrustStore

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.providers.base import Provider

#: Default for ``max_depth`` (most intermediates in a path), as in pyca/cryptography.
DEFAULT_MAX_DEPTH = 8
#: Chains whose certificates (leaf and those sent) exceed this many DER bytes in total are
#: searched every time rather than planned (bounds a store's plans at about
#: tlskit.pki.store.PLAN_CACHE_SIZE x this, whatever peers send).
PLAN_MAX_DER = 32768


@dataclass(frozen=True)
class VerifiedPath:
    """A validated path: ``certificates[0]`` is the leaf, ``certificates[-1]`` the anchor."""

    certificates: list[x509.Certificate]

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def anchor(self) -> x509.Certificate:
        return self.certificates[-1]

    @property
    def intermediates(self) -> list[x509.Certificate]:
        return self.certificates[1:-1]

    def __len__(self) -> int:
        return len(self.certificates)


@dataclass(frozen=True)
class _Link:
    child: CertInfo
    issuer: CertInfo
    scheme: str  # the SignatureScheme the issuer's signature on ``child`` is verified with


@dataclass(frozen=True)
class _Plan:
    """A path the search found straight (see the module docstring), to be replayed."""

    provider: object  # the provider it was found with (the key holds only its id)
    path: tuple[CertInfo, ...]  # leaf first, anchor last
    links: tuple[_Link, ...]  # (path[i], path[i + 1]) for each i


def _verify_link(provider: "Provider", scheme: str, child: CertInfo, issuer: CertInfo, cache: SignatureCache | None) -> None:
    """The issuer's signature on ``child`` (RFC 5280 6.1.3 (a)(1)), unless ``cache`` (opt-in)
    holds this exact verdict from ``provider``."""
    if cache is not None and cache.verified(provider, scheme, issuer.spki_der, child.tbs, child.signature):
        return
    algorithms.verify_signature(provider, scheme, issuer.spki_der, child.tbs, child.signature, child.cert)
    if cache is not None:
        cache.remember(provider, scheme, issuer.spki_der, child.tbs, child.signature)


def _replay(
    plan: _Plan, at: _dt.datetime, provider: "Provider", revocation: RevocationChecker | None, cache: SignatureCache | None
) -> bool:
    """Whether ``plan``'s path passes every check that may have changed since it was found.

    False sends the caller to the full search, which then reports the failure (or finds
    another path) exactly as without plans.
    """
    at = at.replace(microsecond=0)  # one-second granularity, as policy.check_validity
    for info in plan.path:
        if at < info.not_before or at > info.not_after:
            return False
    try:
        if revocation is None:
            # The search that made the plan verified these same links within its budget.
            for link in plan.links:
                _verify_link(provider, link.scheme, link.child, link.issuer, cache)
        else:
            budget = Budget()  # CRL signatures spend it too, as in the search
            for link in plan.links:
                budget.spend_signature()
                _verify_link(provider, link.scheme, link.child, link.issuer, cache)
                revocation.check(provider, link.child, link.issuer, budget)
    except CertificateError:
        return False
    return True


@dataclass
class _Search:
    store: TrustStore
    by_subject: dict[bytes, list[CertInfo]]
    usage: str
    at: _dt.datetime
    max_depth: int
    provider: "Provider"
    revocation: RevocationChecker | None
    signature_cache: SignatureCache | None = None
    budget: Budget = field(default_factory=Budget)
    signature_verdicts: dict[tuple[bytes, bytes], CertificateError | None] = field(default_factory=dict)
    schemes: dict[tuple[bytes, bytes], str] = field(default_factory=dict)
    best_error: CertificateError | None = None
    best_depth: int = -1
    #: no candidate but the first was tried at any step (the found path can be planned)
    straight: bool = True

    def note(self, error: CertificateError, depth: int) -> None:
        # Report the failure that got furthest up the chain: that is the one the caller
        # can act on (e.g. an expired intermediate rather than "unknown issuer" for a
        # stray extra certificate).
        if depth > self.best_depth:
            self.best_error, self.best_depth = error, depth

    def candidates(self, child: CertInfo) -> list[tuple[CertInfo, bool]]:
        issuer = child.issuer_der
        found: list[tuple[CertInfo, bool]] = [(a, True) for a in self.store.anchors_for(issuer)]
        found += [(c, False) for c in self.by_subject.get(issuer, ()) if not self.store.contains_der(c.der)]
        aki = _safe_aki(child)
        if aki is not None and len(found) > 1:
            # RFC 5280 4.2.1.1: the AKI names the issuer's key, so try the CAs whose SKI
            # matches first. The others are tried last rather than dropped: key
            # identifiers are only hints (a root re-issued with another SKI method keeps
            # its key), and the signature check is what decides.
            found.sort(key=lambda candidate: _aki_rank(aki, _safe_ski(candidate[0])))
        return found

    def signature_ok(self, child: CertInfo, issuer: CertInfo) -> None:
        key = (child.der, issuer.der)
        if key not in self.signature_verdicts:
            try:
                scheme = algorithms.scheme_for(child.signature_algorithm, issuer.spki_algorithm_oid, child.cert)
                self.budget.spend_signature()
                _verify_link(self.provider, scheme, child, issuer, self.signature_cache)
                self.signature_verdicts[key] = None
                self.schemes[key] = scheme
            except PathBuildingExhausted:
                raise
            except CertificateError as exc:
                self.signature_verdicts[key] = exc
        error = self.signature_verdicts[key]
        if error is not None:
            raise error.with_traceback(None)

    def link(self, path: list[CertInfo], issuer: CertInfo, is_anchor: bool) -> None:
        """All rules for ``issuer`` as the CA above ``path`` (leaf first)."""
        child = path[-1]
        # Self-issued intermediates (key rollover) do not count, as for pathLenConstraint.
        intermediates = sum(1 for info in path[1:] if not info.self_issued)
        if not is_anchor and not issuer.self_issued:
            intermediates += 1
        if intermediates > self.max_depth:
            raise PathLenExceeded(
                f"path would need more than {self.max_depth} intermediate certificates", issuer.cert, rule="max-depth"
            )
        policy.check_ca(issuer)
        if is_anchor:
            policy.check_anchor_aki(issuer)
        else:
            policy.check_intermediate(issuer)
        policy.check_validity(issuer, self.at)
        bc = issuer.basic_constraints
        if bc is not None and bc.path_length is not None:
            below = sum(1 for info in path[1:] if not info.self_issued)
            if below > bc.path_length:
                raise PathLenExceeded(
                    f"pathLenConstraint {bc.path_length} allows fewer than the {below} intermediates below it",
                    issuer.cert,
                    rule="rfc5280-4.2.1.9",
                )
        policy.check_ca_usage(issuer, self.usage)
        if issuer.name_constraints is not None:
            for info, is_leaf in policy.iter_constrained(path):
                policy.check_name_constraints(issuer, info, is_leaf=is_leaf)
        self.signature_ok(child, issuer)
        if self.revocation:
            self.revocation.check(self.provider, child, issuer, self.budget)

    def extend(self, path: list[CertInfo]) -> list[CertInfo] | None:
        child = path[-1]
        candidates = self.candidates(child)
        if not candidates:
            self.note(_no_issuer(child, len(path) == 1), len(path))
            return None
        for index, (issuer, is_anchor) in enumerate(candidates):
            if index:
                self.straight = False
            self.budget.spend_candidate()
            if any(issuer.der == p.der or issuer.identity == p.identity for p in path):
                self.note(_no_issuer(child, len(path) == 1), len(path) - 1)
                continue  # a loop back into the path
            try:
                self.link(path, issuer, is_anchor)
            except PathBuildingExhausted:
                raise
            except CertificateError as exc:
                self.note(exc, len(path))
                continue
            if is_anchor:
                return path + [issuer]
            found = self.extend(path + [issuer])
            if found is not None:
                return found
        return None


def _aki_rank(aki: bytes, ski: bytes | None) -> int:
    if ski == aki:
        return 0
    return 1 if ski is None else 2


def _safe_aki(info: CertInfo) -> bytes | None:
    try:
        return info.authority_key_id
    except CertificateError:
        return None


def _safe_ski(info: CertInfo) -> bytes | None:
    try:
        return info.subject_key_identifier
    except CertificateError:
        return None


def _no_issuer(child: CertInfo, is_leaf: bool) -> UnknownIssuer:
    if is_leaf and child.self_issued:
        return UnknownIssuer("self-signed certificate is not in the trust store", child.cert, rule="trust-anchor")
    try:
        issuer = child.cert.issuer.rfc4514_string()
    except Exception:
        issuer = "?"
    return UnknownIssuer(
        f"issuer {issuer!r} is neither a trust anchor nor among the certificates sent", child.cert, rule="path-building"
    )


def _is_lone_self_signed(leaf: CertInfo, store: TrustStore, by_subject: dict[bytes, list[CertInfo]]) -> bool:
    """Self-issued, and nothing else (trusted or sent) carries its issuer's name."""
    try:
        if not leaf.self_issued:
            return False
    except CertificateError:
        return False
    others = [c for c in by_subject.get(leaf.issuer_der, ()) if c.der != leaf.der]
    return not store.anchors_for(leaf.issuer_der) and not others


def _as_store(trust: TrustStore | Iterable[CertificateLike] | CertificateLike) -> TrustStore:
    if isinstance(trust, TrustStore):
        return trust
    if isinstance(trust, (bytes, bytearray, memoryview, str, x509.Certificate)):
        return TrustStore(coerce_certificates([trust], "trust anchor"))
    return TrustStore(coerce_certificates(trust, "trust anchor"))


def _index(intermediates: Sequence[x509.Certificate | CertInfo]) -> tuple[dict[bytes, list[CertInfo]], tuple[bytes, ...]]:
    """The certificates sent, by subject, and the DER of each in the order indexed
    (which, with the leaf and the trust store, decides the search's every step)."""
    index: dict[bytes, list[CertInfo]] = {}
    seen: dict[bytes, None] = {}
    for cert in intermediates:
        try:
            info = cert if isinstance(cert, CertInfo) else CertInfo(cert)
            subject = info.subject_der
        except Exception:
            continue  # an unparsable extra certificate cannot be anyone's issuer
        if info.der in seen:
            continue
        seen[info.der] = None
        index.setdefault(subject, []).append(info)
    return index, tuple(seen)


def _plan_of(search: _Search, path: list[CertInfo]) -> _Plan:
    links = tuple(_Link(child, issuer, search.schemes[(child.der, issuer.der)]) for child, issuer in zip(path, path[1:]))
    return _Plan(search.provider, tuple(path), links)


def _coerce_chain(intermediates: Iterable[CertificateLike | CertInfo] | bytes | None) -> list[x509.Certificate | CertInfo]:
    if intermediates is None or isinstance(intermediates, (bytes, bytearray, memoryview)):
        return list(coerce_certificates(intermediates, "intermediate certificate"))
    out: list[x509.Certificate | CertInfo] = []
    for value in intermediates:
        if isinstance(value, CertInfo):
            out.append(value)
        else:
            out.extend(coerce_certificates([value], "intermediate certificate"))
    return out


def verify_chain(
    leaf: CertificateLike | CertInfo,
    intermediates: Iterable[CertificateLike | CertInfo] | bytes | None,
    trust: TrustStore | Iterable[CertificateLike] | CertificateLike,
    *,
    server_name: str | None = None,
    usage: str = "server",
    at: _dt.datetime | None = None,
    max_depth: int | None = None,
    provider: "Provider | str | None" = None,
    crls: Iterable[x509.CertificateRevocationList | bytes] | None = None,
    signature_cache: SignatureCache | None = None,
) -> VerifiedPath:
    """Build and validate a path from ``leaf`` to an anchor in ``trust``.

    ``leaf``, each intermediate and each anchor may be an ``x509.Certificate`` or PEM/DER
    bytes; ``trust`` may be a :class:`TrustStore`. ``server_name`` (DNS name or IP literal)
    is matched against the leaf's SANs; ``usage`` ("server" / "client") picks the EKU;
    ``at`` (timezone-aware, default now) is the validation time; ``max_depth`` bounds the
    number of intermediates; ``provider`` (object or name) verifies the signatures;
    ``crls`` are checked for revocation. ``signature_cache`` (opt-in, a
    :class:`~tlskit.pki.cache.SignatureCache` shared between calls) remembers CA
    signatures that verified, keyed by their exact bytes. Raises a ``CertificateError``
    subclass.
    """
    if usage not in policy.USAGE_EKU:
        raise ValueError(f"usage must be 'server' or 'client', not {usage!r}")
    if at is None:
        at = _dt.datetime.now(_dt.timezone.utc)
    elif at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("'at' must be a timezone-aware datetime")
    if max_depth is None:
        max_depth = DEFAULT_MAX_DEPTH
    elif max_depth < 0:
        raise ValueError("max_depth must be >= 0")

    # CertInfo objects are accepted as they are: a caller that sees the same certificates
    # again (the engine, per config) can keep their parsed, time-independent facts.
    leaf_info = leaf if isinstance(leaf, CertInfo) else CertInfo(coerce_certificate(leaf, "leaf certificate"))
    store = _as_store(trust)
    chain = _coerce_chain(intermediates)
    crl_list = load_crls(crls) if crls else []
    resolved = algorithms.resolve_provider(provider)

    pinned = store.contains_der(leaf_info.der)
    by_subject, sent = _index(chain)
    plan_key = None
    if not pinned:
        plan_key = (store.plan_version, usage, max_depth, id(resolved), leaf_info.der, sent)
        plan = store.plans.get(plan_key)
        if plan is not None and plan.provider is resolved:
            revocation = RevocationChecker(crl_list) if crl_list else None
            if _replay(plan, at, resolved, revocation, signature_cache):
                if server_name is not None:
                    policy.check_server_name(plan.path[0], server_name)
                return VerifiedPath([leaf_info.cert] + [info.cert for info in plan.path[1:]])
    try:
        policy.check_end_entity(leaf_info, usage, pinned=pinned)
    except CertificateError:
        if not pinned and _is_lone_self_signed(leaf_info, store, by_subject):
            # "not trusted" is the useful message for an untrusted self-signed
            # certificate, whatever else is wrong with it as a leaf.
            raise _no_issuer(leaf_info, True) from None
        raise
    policy.check_validity(leaf_info, at)

    if pinned:
        # The leaf itself is trusted (a pinned certificate): the path is just the leaf.
        path = [leaf_info]
    else:
        search = _Search(
            store=store,
            by_subject=by_subject,
            usage=usage,
            at=at,
            max_depth=max_depth,
            provider=resolved,
            revocation=RevocationChecker(crl_list) if crl_list else None,
            signature_cache=signature_cache,
        )
        found = search.extend([leaf_info])
        if found is None:
            raise search.best_error or _no_issuer(leaf_info, True)
        path = found
        if search.straight and plan_key is not None and len(leaf_info.der) + sum(map(len, sent)) <= PLAN_MAX_DER:
            store.plans.put(plan_key, _plan_of(search, path))

    if server_name is not None:
        policy.check_server_name(leaf_info, server_name)
    return VerifiedPath([info.cert for info in path])
