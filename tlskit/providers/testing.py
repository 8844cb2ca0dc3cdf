"""A conformance kit for crypto providers: ``tlskit providers check`` and your own tests.

Runs three kinds of checks against any :class:`~tlskit.providers.Provider` -- a built-in
one, a third-party one from the ``tlskit.providers`` entry-point group, or one your
project is writing:

* **vectors**: the Project Wycheproof vectors for every primitive the provider
  advertises (AEADs, HMAC/HKDF, X25519/X448/ECDH groups, ML-KEM-768 inside the hybrid
  groups, ECDSA/EdDSA/RSA signatures). The vectors ship with tlskit
  (``tlskit/providers/vectors/``, a compressed subset; see its README);
* **peer input**: what a hostile peer sends -- empty, wrong-length and all-zero key
  shares, tampered AEAD tags, tampered signatures and garbage public keys -- must raise
  the typed errors of :mod:`tlskit.providers.base` (IllegalParameter, BadRecordMac,
  BadSignatureError), never a library's own exception; and everything the provider
  produces (shares, ciphertexts, signatures) is checked by an independent reference
  provider, so a signer that signs the wrong bytes or an AEAD with a wrong tag fails;
* **handshakes**: in-memory TLS 1.3 handshakes with application data against each
  built-in provider, in both directions, once per shared group and cipher suite.

Use in a test suite::

    from tlskit.providers.testing import assert_conformant

    def test_my_provider_conforms():
        assert_conformant(my_provider)      # AssertionError with the failing rows

This module sits above the engine (it drives handshakes), although it lives in the
providers package: nothing in the library imports it.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from tlskit.errors import BadRecordMac, BadSignatureError, IllegalParameter, TLSError
from tlskit.providers._wycheproof import PACKAGED_VECTORS, Vectors, files_for, run_file
from tlskit.providers.base import Provider
from tlskit.providers.registry import ProviderLike, UnknownProvider, backend_names, get_provider, load_spec

__all__ = [
    "CheckResult",
    "Report",
    "assert_conformant",
    "check_handshakes",
    "check_peer_input",
    "check_vectors",
    "load",
    "run_conformance",
]

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class CheckResult:
    """One row of the conformance table."""

    area: str  # "vectors" | "peer input" | "handshake"
    subject: str  # a vector file, an algorithm, or "client->server" pair
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""


@dataclass
class Report:
    provider: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failure, and at least one check really ran."""
        return not self.failures and any(r.status == PASS for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.results) for s in (PASS, FAIL, SKIP)}

    def table(self, *, width: int = 100) -> str:
        """The plain-text pass/fail table."""
        lines = [f"conformance of provider {self.provider!r}"]
        subject_width = max([len(r.subject) for r in self.results] + [7])
        for r in self.results:
            detail = r.detail if len(r.detail) <= width else r.detail[: width - 3] + "..."
            lines.append(f"  {r.status.upper():4}  {r.area:10}  {r.subject:{subject_width}}  {detail}".rstrip())
        c = self.counts()
        verdict = "PASSED" if self.ok else "FAILED"
        lines.append(f"{verdict}: {c[PASS]} passed, {c[FAIL]} failed, {c[SKIP]} skipped")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {"provider": self.provider, "ok": self.ok, "counts": self.counts(), "results": [asdict(r) for r in self.results]},
            indent=2,
        )


def load(spec: ProviderLike) -> Provider:
    """A provider from a registered name (built-in, composed or entry point), a
    ``module:attr`` spec, or a Provider instance. Raises UnknownProvider."""
    if isinstance(spec, Provider):
        return spec
    try:
        return get_provider(spec)
    except UnknownProvider:
        if ":" not in spec:
            raise
    return load_spec(spec)


# ---------------------------------------------------------------------------
# vectors


def check_vectors(provider: Provider, vectors_dir: Path | str | None = None) -> list[CheckResult]:
    """One row per Wycheproof file that applies to what ``provider`` advertises."""
    vectors = Vectors(Path(vectors_dir) if vectors_dir is not None else PACKAGED_VECTORS)
    results = []
    for file in files_for(provider, vectors.names()):
        tally = run_file(provider, vectors, file)
        subject = file.removesuffix("_test.json")
        if tally.failures:
            shown = "; ".join(tally.failures[:3])
            more = f" (+{len(tally.failures) - 3} more)" if len(tally.failures) > 3 else ""
            results.append(CheckResult("vectors", subject, FAIL, f"{len(tally.failures)} failed: {shown}{more}"))
        elif tally.checked == 0:
            results.append(CheckResult("vectors", subject, SKIP, tally.summary()))
        elif tally.checked < vectors.minimum(file):
            results.append(CheckResult("vectors", subject, FAIL, f"only {tally.checked} vectors exercised: {tally.summary()}"))
        else:
            results.append(CheckResult("vectors", subject, PASS, tally.summary()))
    if not results:
        results.append(CheckResult("vectors", "-", SKIP, "no shipped vector file matches what the provider advertises"))
    return results


# ---------------------------------------------------------------------------
# peer input and cross-checks against a reference provider


def _expect(results: list[str], what: str, run: Any, error: type[BaseException]) -> None:
    try:
        run()
    except error:
        return
    except Exception as exc:  # noqa: BLE001 - an untyped error is the finding
        results.append(f"{what}: raised {type(exc).__name__}, expected {error.__name__}")
        return
    results.append(f"{what}: accepted, expected {error.__name__}")


def _row(area: str, subject: str, problems: list[str], passed_detail: str) -> CheckResult:
    if problems:
        return CheckResult(area, subject, FAIL, "; ".join(problems))
    return CheckResult(area, subject, PASS, passed_detail)


def _reference(provider: Provider, kind: str, name: str) -> Any | None:
    """The same algorithm from a built-in provider other than ``provider`` (else any built-in)."""
    candidates = [n for n in backend_names() if n != provider.name] + [n for n in backend_names() if n == provider.name]
    for candidate in candidates:
        try:
            table = getattr(get_provider(candidate), kind)
        except UnknownProvider:
            continue
        if name in table:
            return table[name]
    return None


def _check_group(provider: Provider, name: str) -> CheckResult:
    problems: list[str] = []
    try:
        group = provider.group(name)
        kx = group.start()
        server_share, server_secret = group.encapsulate(kx.share)
        if not std_hmac.compare_digest(kx.complete(server_share), server_secret):
            problems.append("client and server secrets differ")
        reference = _reference(provider, "groups", name)
        if reference is not None:
            # our client share against an independent server, and the other way round
            ref_share, ref_secret = reference.encapsulate(kx.share)
            if not std_hmac.compare_digest(kx.complete(ref_share), ref_secret):
                problems.append("secret differs from the reference provider's (as client)")
            ref_kx = reference.start()
            share, secret = group.encapsulate(ref_kx.share)
            if not std_hmac.compare_digest(ref_kx.complete(share), secret):
                problems.append("secret differs from the reference provider's (as server)")
        # RFC 8446 4.2.8 / 7.4: malformed or degenerate shares are illegal_parameter
        client_len, server_len = len(kx.share), len(server_share)
        _expect(problems, "empty client share", lambda: group.encapsulate(b""), IllegalParameter)
        _expect(problems, "client share one byte long", lambda: group.encapsulate(kx.share + b"\x00"), IllegalParameter)
        _expect(problems, "all-zero client share", lambda: group.encapsulate(bytes(client_len)), IllegalParameter)
        _expect(problems, "empty server share", lambda: group.start().complete(b""), IllegalParameter)
        _expect(problems, "truncated server share", lambda: group.start().complete(server_share[:-1]), IllegalParameter)
        _expect(problems, "all-zero server share", lambda: group.start().complete(bytes(server_len)), IllegalParameter)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {exc}")
    return _row("peer input", f"group {name}", problems, "shares agree with the reference; bad shares -> IllegalParameter")


def _check_aead(provider: Provider, name: str) -> CheckResult:
    problems: list[str] = []
    try:
        alg = provider.aead(name)
        key, nonce, aad, msg = os.urandom(alg.key_length), os.urandom(12), b"header", b"conformance kit payload"
        aead = alg.new(key)
        sealed = aead.seal(nonce, aad, msg)
        if aead.open(nonce, aad, sealed) != msg:
            problems.append("open(seal(m)) != m")
        reference = _reference(provider, "aead_algorithms", name)
        if reference is not None:
            other = reference.new(key)
            if other.seal(nonce, aad, msg) != sealed:
                problems.append("ciphertext or tag differs from the reference provider's")
            if aead.open(nonce, aad, other.seal(nonce, aad, msg)) != msg:
                problems.append("cannot open the reference provider's ciphertext")
        tampered_tag = sealed[:-1] + bytes([sealed[-1] ^ 1])
        tampered_body = bytes([sealed[0] ^ 0x80]) + sealed[1:]
        _expect(problems, "flipped tag bit", lambda: aead.open(nonce, aad, tampered_tag), BadRecordMac)
        _expect(problems, "flipped ciphertext bit", lambda: aead.open(nonce, aad, tampered_body), BadRecordMac)
        _expect(problems, "other AAD", lambda: aead.open(nonce, aad + b"x", sealed), BadRecordMac)
        _expect(problems, "shorter than a tag", lambda: aead.open(nonce, aad, sealed[: alg.tag_length - 1]), BadRecordMac)
        _expect(problems, "8-byte nonce", lambda: aead.open(nonce[:8], aad, sealed), TLSError)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {exc}")
    return _row("peer input", f"AEAD {name}", problems, "matches the reference; tampering -> BadRecordMac")


def _check_hash(provider: Provider, name: str) -> CheckResult:
    problems: list[str] = []
    try:
        h = provider.hash(name)
        data, key = b"conformance kit" * 10, b"k" * 40
        if h.digest(data) != hashlib.new(name, data).digest():
            problems.append("digest differs from hashlib")
        obj = h.new(data[:7])
        copy = obj.copy()
        obj.update(data[7:])
        if obj.digest() != hashlib.new(name, data).digest() or copy.digest() != hashlib.new(name, data[:7]).digest():
            problems.append("incremental hash or copy() is wrong")
        if h.hmac(key, data) != std_hmac.new(key, data, name).digest():
            problems.append("HMAC differs from the standard library's")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {exc}")
    return _row("peer input", f"hash {name}", problems, "digest, copy and HMAC match the standard library")


_KEYS: dict[str, bytes] = {}


def _test_key_pem(scheme: str) -> bytes | None:
    """A PKCS#8 PEM private key that can sign ``scheme`` (made with pyca/cryptography)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    if scheme.startswith("ecdsa_secp256r1"):
        kind, make = "p256", lambda: ec.generate_private_key(ec.SECP256R1())
    elif scheme.startswith("ecdsa_secp384r1"):
        kind, make = "p384", lambda: ec.generate_private_key(ec.SECP384R1())
    elif scheme.startswith("ecdsa_secp521r1"):
        kind, make = "p521", lambda: ec.generate_private_key(ec.SECP521R1())
    elif scheme == "ed25519":
        kind, make = "ed25519", ed25519.Ed25519PrivateKey.generate
    elif scheme == "ed448":
        kind, make = "ed448", ed448.Ed448PrivateKey.generate
    elif scheme.startswith(("rsa_pss_rsae", "rsa_pkcs1")):
        kind, make = "rsa", lambda: rsa.generate_private_key(65537, 2048)
    else:
        return None  # rsa_pss_pss_* needs an RSASSA-PSS key, which the kit does not make
    if kind not in _KEYS:
        _KEYS[kind] = make().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return _KEYS[kind]


def _check_scheme(provider: Provider, name: str) -> CheckResult:
    problems: list[str] = []
    detail = "signatures verify with the reference; tampering -> BadSignatureError"
    try:
        scheme = provider.signature_scheme(name)
        reference = _reference(provider, "signature_schemes", name)
        pem = _test_key_pem(name)
        if pem is None or reference is None:
            return CheckResult("peer input", f"signature {name}", SKIP, "no test key or reference provider for this scheme")
        ref_provider = next(
            get_provider(n) for n in backend_names() if _safe_has(n, name) and get_provider(n).signature_schemes[name] is reference
        )
        message = b"conformance kit: the bytes a CertificateVerify covers"
        ref_key = ref_provider.load_private_key(pem)
        spki = ref_key.public_key_der()
        ref_sig = ref_key.sign(name, message)
        scheme.verify(spki, message, ref_sig, strict_curve=True)
        bad = bytearray(ref_sig)
        bad[len(bad) // 2] ^= 1
        _expect(problems, "flipped signature bit", lambda: scheme.verify(spki, message, bytes(bad)), BadSignatureError)
        _expect(problems, "other message", lambda: scheme.verify(spki, message + b".", ref_sig), BadSignatureError)
        _expect(problems, "empty signature", lambda: scheme.verify(spki, message, b""), BadSignatureError)
        _expect(problems, "garbage public key", lambda: scheme.verify(b"\x30\x03\x02\x01\x00", message, ref_sig), BadSignatureError)
        # the provider's own signer, checked by the reference verifier
        try:
            own_key = provider.load_private_key(pem)
        except Exception as exc:  # noqa: BLE001 - a provider may verify schemes it cannot sign with
            detail += f" (cannot load a {name} key to sign: {type(exc).__name__})"
            own_key = None
        if own_key is not None and name in tuple(own_key.schemes) + tuple(own_key.legacy_schemes):
            own_sig = own_key.sign(name, message)
            try:
                reference.verify(own_key.public_key_der(), message, own_sig, strict_curve=True)
            except BadSignatureError:
                problems.append("its signature does not verify with the reference provider")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{type(exc).__name__}: {exc}")
    return _row("peer input", f"signature {name}", problems, detail)


def _safe_has(provider_name: str, scheme: str) -> bool:
    try:
        return scheme in get_provider(provider_name).signature_schemes
    except UnknownProvider:
        return False


def check_peer_input(provider: Provider) -> list[CheckResult]:
    """Hostile-peer inputs and cross-checks against a built-in reference, per primitive."""
    results = [_check_group(provider, name) for name in provider.groups]
    results += [_check_aead(provider, name) for name in provider.aead_algorithms]
    results += [_check_hash(provider, name) for name in provider.hash_algorithms]
    results += [_check_scheme(provider, name) for name in provider.signature_schemes]
    return results


# ---------------------------------------------------------------------------
# loopback handshakes


#: certificate key types the kit can issue, with the TLS 1.3 scheme each signs with
_KEY_TYPES = (("ecdsa-p256", "ecdsa_secp256r1_sha256"), ("ed25519", "ed25519"), ("rsa-2048", "rsa_pss_rsae_sha256"))
_CAS: dict[str, Any] = {}


def _ca(key_type: str) -> Any:
    from tlskit.ca.ephemeral import EphemeralCA

    if key_type not in _CAS:
        _CAS[key_type] = EphemeralCA(key_type=key_type)
    return _CAS[key_type]


def _handshake(client_p: Provider, server_p: Provider, group: str, suite: str, key_type: str) -> str:
    """One in-memory handshake plus a round trip of data; returns "" or what went wrong."""
    from tlskit.engine.client import ClientConnection
    from tlskit.engine.server import ServerConnection

    ca = _ca(key_type)
    client = ClientConnection(
        ca.client_config(provider=client_p, groups=[group], cipher_suites=[suite], min_version="TLSv1.3"),
        "localhost",
    )
    server = ServerConnection(ca.server_config(provider=server_p, groups=[group], cipher_suites=[suite], min_version="TLSv1.3"))
    for _ in range(10):
        out = client.data_to_send()
        if out:
            server.receive_data(out)
        back = server.data_to_send()
        if back:
            client.receive_data(back)
        if not out and not back:
            break
    if not (client.handshake_complete and server.handshake_complete):
        return "handshake did not complete"
    negotiated = client.negotiated
    if negotiated is None or negotiated.group != group or negotiated.cipher_suite != suite:
        return f"negotiated {negotiated!r}, expected {group}/{suite}"
    client.send(b"ping")
    server.receive_data(client.data_to_send())
    server.send(server.recv() + b"-pong")
    client.receive_data(server.data_to_send())
    if client.recv() != b"ping-pong":
        return "application data did not round-trip"
    return ""


def check_handshakes(provider: Provider, peers: Iterable[str] | None = None) -> list[CheckResult]:
    """In-memory TLS 1.3 handshakes against each built-in provider, both directions:
    one per group the two share, and one per extra cipher suite they share."""
    results = []
    for peer_name in peers if peers is not None else backend_names():
        try:
            peer = get_provider(peer_name)
        except UnknownProvider as exc:
            results.append(CheckResult("handshake", f"with {peer_name}", SKIP, str(exc)))
            continue
        for direction, client_p, server_p in (("client", provider, peer), ("server", peer, provider)):
            subject = f"{provider.name} as {direction} vs {peer_name}"
            groups = [g for g in client_p.groups if g in server_p.groups]
            suites = [s for s in client_p.cipher_suites if s in server_p.cipher_suites]
            key_type = next(
                (kt for kt, sch in _KEY_TYPES if sch in server_p.signature_schemes and sch in client_p.signature_schemes), None
            )
            if not groups or not suites or key_type is None:
                results.append(CheckResult("handshake", subject, SKIP, "no group, cipher suite or signature scheme in common"))
                continue
            combos = [(g, suites[0]) for g in groups] + [(groups[0], s) for s in suites[1:]]
            problems = []
            for group, suite in combos:
                try:
                    problem = _handshake(client_p, server_p, group, suite, key_type)
                except TLSError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                except Exception as exc:  # noqa: BLE001 - a provider bug surfacing through the engine
                    problem = f"unexpected {type(exc).__name__}: {exc}"
                if problem:
                    problems.append(f"{group}/{suite}: {problem}")
            results.append(
                _row("handshake", subject, problems, f"{len(combos)} handshakes ({key_type} certificate): " + ", ".join(groups + suites[1:]))
            )
    return results


# ---------------------------------------------------------------------------


def run_conformance(
    provider: ProviderLike,
    *,
    vectors_dir: Path | str | None = None,
    peers: Sequence[str] | None = None,
    handshakes: bool = True,
) -> Report:
    """Every check of the kit against ``provider``; see the module docstring."""
    p = load(provider)
    report = Report(p.name)
    report.results += check_vectors(p, vectors_dir)
    report.results += check_peer_input(p)
    if handshakes:
        report.results += check_handshakes(p, peers)
    return report


def assert_conformant(provider: ProviderLike, **options: Any) -> Report:
    """:func:`run_conformance`, raising AssertionError with the table when anything fails."""
    report = run_conformance(provider, **options)
    if not report.ok:
        raise AssertionError(report.table())
    return report
