"""Project Wycheproof vectors run through a provider's public interface.

Shared by ``tlskit.providers.testing`` (the conformance kit, reading the vectors that
ship in ``tlskit/providers/vectors/``) and the project's own tests (reading the full
set in ``tests/vectors/wycheproof/``).

Rules: "valid" vectors must pass and "invalid" ones must be rejected with the typed
error of :mod:`tlskit.providers.base`. "acceptable" vectors follow a documented
per-flag policy (:data:`ACCEPTABLE_POLICY`); where the policy is "either" the outcome
is only counted. Any other exception is a failure (a provider must not leak a
library's own exception types), never a crash of the kit.
"""

from __future__ import annotations

import collections
import gzip
import hmac
import json
from pathlib import Path
from typing import Any, Callable, Iterator

from tlskit._der import parse_spki
from tlskit._oids import RSA_ENCRYPTION
from tlskit.errors import BadRecordMac, BadSignatureError, IllegalParameter, TLSError
from tlskit.providers._common import rsassa_pss_spki
from tlskit.providers.base import KeyExchange, Provider

#: the vectors shipped inside the package (a subset of tests/vectors/wycheproof: see README there)
PACKAGED_VECTORS = Path(__file__).parent / "vectors"

#: What tlskit does with Wycheproof "acceptable" vectors, by flag.
ACCEPTABLE_POLICY = {
    # RFC 8446 7.4.2: an all-zero X25519/X448 result MUST be refused.
    "ZeroSharedSecret": "reject",
    # RFC 8446 4.2.8.2: only uncompressed points in TLS 1.3 key shares.
    "CompressedPoint": "reject",
    # Points on the twist / non-canonical u (>= p) give a non-zero secret; RFC 7748
    # says to accept them (the u-coordinate is masked and reduced).
    "Twist": "accept",
    "NonCanonicalPublic": "accept",
    "LowOrderPublic": "accept",  # only when the result is non-zero (X448 twist cases)
    "EdgeCaseShared": "accept",
    "EdgeCaseMultiplication": "accept",
    "SpecialPublicKey": "accept",
    "Ktv": "accept",
    # PKCS#1 v1.5 DigestInfo without the NULL parameter: OpenSSL rejects it,
    # PyCryptodome accepts it; both are allowed. Certificate signatures only.
    "MissingNull": "either",
}

#: minimum number of vectors a file must exercise (default: 90 % of the file)
MINIMUM = {
    "aes_gcm_test.json": 60,  # the other nonce lengths are refused by design
    "chacha20_poly1305_test.json": 300,
}


def _policy(flags: list[str]) -> str:
    # the strictest policy named by any flag wins
    policies = {ACCEPTABLE_POLICY.get(f, "either") for f in flags} or {"either"}
    for p in ("reject", "either", "accept"):
        if p in policies:
            return p
    return "either"  # pragma: no cover


class Vectors:
    """The vector files of one directory; ``name.json`` may be stored as ``name.json.gz``."""

    def __init__(self, directory: Path = PACKAGED_VECTORS) -> None:
        self.directory = Path(directory)
        self._cache: dict[str, dict[str, Any]] = {}

    def names(self) -> set[str]:
        return {p.name.removesuffix(".gz") for p in self.directory.glob("*_test.json*")}

    def load(self, name: str) -> dict[str, Any]:
        if name not in self._cache:
            plain = self.directory / name
            if plain.exists():
                self._cache[name] = json.loads(plain.read_text())
            else:
                self._cache[name] = json.loads(gzip.decompress((self.directory / f"{name}.gz").read_bytes()))
        return self._cache[name]

    def tests(self, name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for group in self.load(name)["testGroups"]:
            for test in group["tests"]:
                yield group, test

    def minimum(self, name: str) -> int:
        return MINIMUM.get(name, int(self.load(name)["numberOfTests"] * 0.9))


class Tally:
    """Counts outcomes and checks each against the rules above."""

    def __init__(self, provider: str, file: str) -> None:
        self.provider, self.file = provider, file
        self.counts: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.prefix = ""  # set when one file is run through several schemes

    def check(self, test: dict[str, Any], run: Callable[[], None], rejected: tuple[type[BaseException], ...]) -> None:
        """``run`` raises one of ``rejected`` to reject, or an AssertionError on a wrong result."""
        result = test["result"]
        count = self.counts
        key = self.prefix
        try:
            run()
            accepted = True
        except rejected:
            accepted = False
        except AssertionError as exc:
            self.failures.append(f"{key}tc{test['tcId']} ({result}) wrong output: {exc or 'differs from the expected value'}")
            return
        except Exception as exc:  # noqa: BLE001 - an untyped error is itself the finding
            self.failures.append(f"{key}tc{test['tcId']} ({result}) raised {type(exc).__name__}: {exc}")
            return
        if result == "valid":
            count[key + "valid"] += 1
            if not accepted:
                self.failures.append(f"{key}tc{test['tcId']} valid but rejected {test.get('comment', '')}")
        elif result == "invalid":
            count[key + "invalid"] += 1
            if accepted:
                self.failures.append(f"{key}tc{test['tcId']} invalid but accepted {test.get('comment', '')}")
        else:
            policy = _policy(test.get("flags", []))
            count[key + ("acceptable accepted" if accepted else "acceptable rejected")] += 1
            if (policy == "reject" and accepted) or (policy == "accept" and not accepted):
                self.failures.append(f"{key}tc{test['tcId']} acceptable {test['flags']}: policy {policy}")

    def expect(self, what: str, run: Callable[[], Any], error: type[BaseException]) -> None:
        """A check outside the vectors' verdicts: ``run`` must raise ``error``."""
        try:
            run()
        except error:
            return
        except Exception as exc:  # noqa: BLE001
            self.failures.append(f"{what}: raised {type(exc).__name__} instead of {error.__name__}")
            return
        self.failures.append(f"{what}: accepted, expected {error.__name__}")

    def skip(self, reason: str) -> None:
        self.counts[f"not applicable: {reason}"] += 1

    def note(self, what: str) -> None:
        self.counts[what] += 1

    @property
    def checked(self) -> int:
        return sum(v for k, v in self.counts.items() if not k.startswith(("not applicable", "note")))

    def summary(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))


# ---------------------------------------------------------------------------
# which files apply to which provider (only what it advertises)


def files_for(p: Provider, available: set[str]) -> list[str]:
    """The vector files for every primitive ``p`` advertises, among ``available``."""
    files = []
    aeads, hashes_, groups, schemes = set(p.aead_algorithms), set(p.hash_algorithms), set(p.groups), set(p.signature_schemes)
    if aeads & {"AES-128-GCM", "AES-256-GCM"}:
        files.append("aes_gcm_test.json")
    if "ChaCha20-Poly1305" in aeads:
        files.append("chacha20_poly1305_test.json")
    for h in ("sha256", "sha384"):
        if h in hashes_:
            files += [f"hmac_{h}_test.json", f"hkdf_{h}_test.json"]
    for g in ("x25519", "x448"):
        if g in groups:
            files.append(f"{g}_test.json")
    for curve in ("secp256r1", "secp384r1", "secp521r1"):
        if curve in groups:
            files.append(f"ecdh_{curve}_ecpoint_test.json")
    for scheme in ("ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512"):
        if scheme in schemes:
            files.append(f"{scheme}_test.json")
    for ed in ("ed25519", "ed448"):
        if ed in schemes:
            files.append(f"{ed}_test.json")
    for name in sorted(available):
        if name.startswith("rsa_pss_") and f"rsa_pss_rsae_{name.split('_')[3]}" in schemes:
            files.append(name)
        if name.startswith("rsa_signature_") and f"rsa_pkcs1_{name.split('_')[3]}" in schemes:
            files.append(name)
    if groups & {"X25519MLKEM768", "SecP256r1MLKEM768"}:
        files += ["mlkem_768_keygen_seed_test.json", "mlkem_768_test.json", "mlkem_768_encaps_test.json"]
    return [f for f in files if f in available]


def _h(s: str) -> bytes:
    return bytes.fromhex(s)


# ---------------------------------------------------------------------------
# AEAD


def run_aead(p: Provider, vectors: Vectors, file: str, tally: Tally) -> None:
    by_key = {}
    for alg_name in p.aead_algorithms:
        alg = p.aead(alg_name)
        if file.startswith("aes") == alg_name.startswith("AES"):
            by_key[alg.key_length * 8] = alg
    for group, t in vectors.tests(file):
        alg = by_key.get(group["keySize"])
        if alg is None:
            tally.skip(f"{group['keySize']}-bit key not offered")
            continue
        key, iv, aad, msg = _h(t["key"]), _h(t["iv"]), _h(t["aad"]), _h(t["msg"])
        sealed = _h(t["ct"]) + _h(t["tag"])
        aead = alg.new(key)
        if len(iv) != 12:
            # TLS 1.3 nonces are always 12 bytes (RFC 8446 5.3): every other length is
            # refused by design, including ones GCM itself allows ("valid" here).
            tally.expect(f"tc{t['tcId']} open with a {len(iv)}-byte nonce", lambda: aead.open(iv, aad, sealed), BadRecordMac)
            tally.expect(f"tc{t['tcId']} seal with a {len(iv)}-byte nonce", lambda: aead.seal(iv, aad, msg), TLSError)
            tally.note(f"note: nonce length {len(iv)} refused by design (wycheproof {t['result']})")
            continue

        def run() -> None:
            assert aead.open(iv, aad, sealed) == msg
            if t["result"] == "valid":
                assert aead.seal(iv, aad, msg) == sealed

        tally.check(t, run, (BadRecordMac,))


# ---------------------------------------------------------------------------
# HMAC / HKDF


def run_hmac(p: Provider, vectors: Vectors, file: str, tally: Tally) -> None:
    h = p.hash(file.split("_")[1])
    for group, t in vectors.tests(file):
        size = group["tagSize"] // 8

        def run() -> None:
            if not hmac.compare_digest(h.hmac(_h(t["key"]), _h(t["msg"]))[:size], _h(t["tag"])):
                raise BadSignatureError("tag mismatch")

        tally.check(t, run, (BadSignatureError,))


def run_hkdf(p: Provider, vectors: Vectors, file: str, tally: Tally) -> None:
    h = p.hash(file.split("_")[1])
    for _, t in vectors.tests(file):

        def run() -> None:
            prk = h.hkdf_extract(_h(t["salt"]), _h(t["ikm"]))
            assert h.hkdf_expand(prk, _h(t["info"]), t["size"]) == _h(t["okm"])

        tally.check(t, run, (ValueError,))


# ---------------------------------------------------------------------------
# key exchange


def run_dh(p: Provider, vectors: Vectors, file: str, tally: Tally) -> None:
    name = file.split("_")[0] if file.startswith("x") else file.split("_")[1]
    group = p.group(name)
    fixed_key = hasattr(group, "state_from_private_bytes")
    for _, t in vectors.tests(file):
        public = _h(t["public"])
        if not fixed_key:
            # A group that cannot take a fixed private key: its server path still has to
            # accept the valid shares and refuse the invalid ones (the secret cannot be compared).
            def run_server() -> None:
                group.encapsulate(public)

            tally.check(t, run_server, (IllegalParameter,))
            continue
        state = group.state_from_private_bytes(_h(t["private"]))

        def run() -> None:
            # client path: complete() with a fixed private key checks the real validation
            assert group.complete(state, public) == _h(t["shared"])
            # server path: encapsulate() must accept the same share (it costs a key
            # generation, so valid vectors are sampled; the others all go below)
            if t["tcId"] % 16 == 1:
                share, secret = group.encapsulate(public)
                assert len(share) == group.server_share_length and len(secret) == len(_h(t["shared"]))

        tally.check(t, run, (IllegalParameter,))
        if t["result"] != "valid":
            # whatever complete() decided, encapsulate() must decide the same
            try:
                group.encapsulate(public)
                tally.note("note: encapsulate accepted")
            except IllegalParameter:
                tally.note("note: encapsulate rejected")
            except Exception as exc:  # noqa: BLE001
                tally.failures.append(f"tc{t['tcId']} encapsulate raised {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------
# signatures


def run_sig(p: Provider, vectors: Vectors, file: str, tally: Tally) -> None:
    if file.startswith("ecdsa"):
        schemes = [file[: -len("_test.json")]]
    elif file.startswith("ed"):
        schemes = [file.split("_")[0]]
    elif file.startswith("rsa_pss"):
        sha = file.split("_")[3]
        schemes = [f"rsa_pss_rsae_{sha}"]
        if f"rsa_pss_pss_{sha}" in p.signature_schemes:
            schemes.append(f"rsa_pss_pss_{sha}")  # same vectors, key re-wrapped as RSASSA-PSS
    else:
        schemes = [f"rsa_pkcs1_{file.split('_')[3]}"]
    for scheme_name in schemes:
        scheme = p.signature_scheme(scheme_name)
        tally.prefix = f"{scheme_name}: " if len(schemes) > 1 else ""
        for group, t in vectors.tests(file):
            spki = _h(group["publicKeyDer"])
            if scheme_name.startswith("rsa_pss_pss"):
                parsed = parse_spki(spki)
                assert parsed.algorithm == RSA_ENCRYPTION
                spki = rsassa_pss_spki(parsed.key)
            msg, sig = _h(t["msg"]), _h(t["sig"])
            tally.check(t, lambda: scheme.verify(spki, msg, sig), (BadSignatureError,))
        if scheme_name.startswith("rsa_pss_"):
            # rsae and pss schemes must refuse each other's key type
            group = vectors.load(file)["testGroups"][0]
            valid = next(t for t in group["tests"] if t["result"] == "valid")
            spki = _h(group["publicKeyDer"])
            other = spki if scheme_name.startswith("rsa_pss_pss") else rsassa_pss_spki(parse_spki(spki).key)
            tally.expect(
                f"{scheme_name} with the other RSA key type",
                lambda: scheme.verify(other, _h(valid["msg"]), _h(valid["sig"])),
                BadSignatureError,
            )


# ---------------------------------------------------------------------------
# ML-KEM-768 through the groups


def _kems(p: Provider) -> list[tuple[Any, Any, int]]:
    """(hybrid group, its ML-KEM component, position of the component)."""
    out = []
    for name in ("X25519MLKEM768", "SecP256r1MLKEM768"):
        hybrid = p.groups.get(name)
        if hybrid is not None and hasattr(hybrid, "first") and hasattr(hybrid, "second"):
            pos = 0 if name == "X25519MLKEM768" else 1
            kem = (hybrid.first, hybrid.second)[pos]
            if hasattr(kem, "state_from_seed"):
                out.append((hybrid, kem, pos))
    return out


def run_mlkem(p: Provider, vectors: Vectors, file: str, tally: Tally) -> None:
    kems = _kems(p)
    if not kems:
        # the vectors need the ML-KEM half with a fixed seed (tlskit's HybridGroup shape)
        tally.skip("hybrid group does not expose an ML-KEM component with state_from_seed")
        return
    if file == "mlkem_768_keygen_seed_test.json":
        kem = kems[0][1]
        for _, t in vectors.tests(file):

            def run() -> None:
                state = kem.state_from_seed(_h(t["seed"]))
                assert kem.encapsulation_key(state) == _h(t["ek"])
                if hasattr(state, "expanded_dk"):  # PyCryptodome exposes dk; OpenSSL does not
                    assert state.expanded_dk == _h(t["dk"])

            tally.check(t, run, (IllegalParameter,))
        return
    for hybrid, kem, pos in kems:
        # every vector also goes through each hybrid group, ML-KEM half in its place
        tally.prefix = f"{hybrid.name}: " if len(kems) > 1 else ""
        classic = (hybrid.first, hybrid.second)[1 - pos]

        def join(kem_part: bytes, classic_part: bytes) -> bytes:
            return kem_part + classic_part if pos == 0 else classic_part + kem_part

        for _, t in vectors.tests(file):
            if file == "mlkem_768_test.json":

                def run() -> None:
                    state = kem.state_from_seed(_h(t["seed"]))
                    if "ek" in t:
                        assert kem.encapsulation_key(state) == _h(t["ek"])
                    assert kem.complete(state, _h(t["c"])) == _h(t["K"])
                    c_exchange = classic.start()
                    s_share, c_secret = classic.encapsulate(c_exchange.share)
                    k_exchange = KeyExchange(kem, kem.encapsulation_key(state), state)
                    states = (k_exchange, c_exchange) if pos == 0 else (c_exchange, k_exchange)
                    assert hybrid.complete(states, join(_h(t["c"]), s_share)) == join(_h(t["K"]), c_secret)

                tally.check(t, run, (IllegalParameter,))
            else:  # encapsulation, modulus check on ek
                ek = _h(t["ek"])

                def run() -> None:
                    if hasattr(kem, "encapsulate_derandomized"):
                        assert kem.encapsulate_derandomized(ek, _h(t["m"])) == (_h(t["c"]), _h(t["K"]))
                    else:
                        # no derandomised encapsulation: only check that the key is
                        # accepted (the ciphertext cannot be compared)
                        ct, secret = kem.encapsulate(ek)
                        assert len(ct) == 1088 and len(secret) == 32
                    hybrid.encapsulate(join(ek, classic.start().share))

                tally.check(t, run, (IllegalParameter,))
                if t["result"] == "valid" and not hasattr(kem, "encapsulate_derandomized"):
                    tally.note("note: valid ek accepted but ciphertext not comparable (randomised encaps only)")


def runner(file: str) -> Callable[[Provider, Vectors, str, Tally], None]:
    if file.startswith(("aes", "chacha")):
        return run_aead
    if file.startswith("hmac"):
        return run_hmac
    if file.startswith("hkdf"):
        return run_hkdf
    if file.startswith(("x25519", "x448", "ecdh")):
        return run_dh
    if file.startswith("mlkem"):
        return run_mlkem
    return run_sig


def run_file(provider: Provider, vectors: Vectors, file: str, label: str | None = None) -> Tally:
    """Run one vector file against ``provider``; the tally holds the counts and failures."""
    tally = Tally(label or provider.name, file)
    try:
        runner(file)(provider, vectors, file, tally)
    except Exception as exc:  # noqa: BLE001 - e.g. an advertised algorithm that cannot be built
        tally.failures.append(f"aborted: {type(exc).__name__}: {exc}")
    return tally
