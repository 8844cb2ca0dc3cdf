"""Provider conformance against Project Wycheproof (tests/vectors/wycheproof/).

One test per provider x vector file: it loops over every vector, checks it
through the provider's public interface (AEAD objects, KEM-shaped groups driven
with a fixed private key through the real validation path, signature_schemes[...]
.verify with the DER SPKI, hash.hmac / hkdf_*), and asserts the counts.

Rules: "valid" vectors must pass and "invalid" ones must be rejected with the
typed error of tlskit.providers.base. "acceptable" vectors follow a documented
per-flag policy (ACCEPTABLE_POLICY below); where the policy is "either" the
outcome is counted per provider and printed.

Run with ``-s -p no:xdist`` to see the count lines (``WYCHEPROOF ...``).
"""

from __future__ import annotations

import collections
import hmac
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pytest

from tlskit.errors import BadRecordMac, BadSignatureError, IllegalParameter, TLSError
from tlskit._der import parse_spki
from tlskit._oids import RSA_ENCRYPTION
from tlskit.providers import KeyExchange, Provider, available_providers, get_provider
from tlskit.providers._common import rsassa_pss_spki

VECTORS = Path(__file__).parent / "vectors" / "wycheproof"

PROVIDERS = available_providers()
COMPOSED = [
    # kx from libsodium, AEAD from PyCryptodome, hash and signatures from OpenSSL
    "kx=pynacl,aead=pycryptodome,hash=cryptography,sig=cryptography",
    # kx from OpenSSL, AEAD and hash from libsodium, signatures from PyCryptodome
    "kx=cryptography,aead=pynacl,hash=pynacl,sig=pycryptodome",
]
ALL = PROVIDERS + [
    name for name in COMPOSED if all(part.split("=")[1] in PROVIDERS for part in name.split(","))
]

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


def _policy(flags: list[str]) -> str:
    # the strictest policy named by any flag wins
    policies = {ACCEPTABLE_POLICY.get(f, "either") for f in flags} or {"either"}
    for p in ("reject", "either", "accept"):
        if p in policies:
            return p
    return "either"  # pragma: no cover


@lru_cache(maxsize=None)
def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def vectors_of(name: str):
    for group in load(name)["testGroups"]:
        for test in group["tests"]:
            yield group, test


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
            self.failures.append(f"tc{test['tcId']} ({result}) wrong output: {exc}")
            return
        if result == "valid":
            count[key + "valid"] += 1
            if not accepted:
                self.failures.append(f"tc{test['tcId']} valid but rejected {test.get('comment', '')}")
        elif result == "invalid":
            count[key + "invalid"] += 1
            if accepted:
                self.failures.append(f"tc{test['tcId']} invalid but accepted {test.get('comment', '')}")
        else:
            policy = _policy(test.get("flags", []))
            count[key + ("acceptable accepted" if accepted else "acceptable rejected")] += 1
            if (policy == "reject" and accepted) or (policy == "accept" and not accepted):
                self.failures.append(f"tc{test['tcId']} acceptable {test['flags']}: policy {policy}")

    def skip(self, reason: str) -> None:
        self.counts[f"not applicable: {reason}"] += 1

    def note(self, what: str) -> None:
        self.counts[what] += 1

    def finish(self, minimum: int) -> None:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        print(f"\nWYCHEPROOF provider={self.provider} file={self.file}: {detail}")
        assert not self.failures, "\n".join(self.failures[:20])
        checked = sum(v for k, v in self.counts.items() if not k.startswith(("not applicable", "note")))
        assert checked >= minimum, f"only {checked} vectors exercised"


# ---------------------------------------------------------------------------
# which files apply to which provider (only what it advertises)


def _aead_names(p: Provider) -> set[str]:
    return set(p.aead_algorithms)


def _hash_names(p: Provider) -> set[str]:
    return set(p.hash_algorithms)


def _files_for(p: Provider) -> list[str]:
    files = []
    aeads, hashes_, groups, schemes = _aead_names(p), _hash_names(p), set(p.groups), set(p.signature_schemes)
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
    for f in sorted(VECTORS.glob("rsa_pss_*_test.json")):
        sha = f.name.split("_")[3]
        if f"rsa_pss_rsae_{sha}" in schemes:
            files.append(f.name)
    for f in sorted(VECTORS.glob("rsa_signature_*_test.json")):
        sha = f.name.split("_")[3]
        if f"rsa_pkcs1_{sha}" in schemes:
            files.append(f.name)
    if groups & {"X25519MLKEM768", "SecP256r1MLKEM768"}:
        files += ["mlkem_768_keygen_seed_test.json", "mlkem_768_test.json", "mlkem_768_encaps_test.json"]
    return files


CASES = [(name, f) for name in ALL for f in _files_for(get_provider(name))]


def _h(s: str) -> bytes:
    return bytes.fromhex(s)


# ---------------------------------------------------------------------------
# AEAD


def run_aead(p: Provider, file: str, tally: Tally) -> None:
    by_key = {}
    for alg_name in _aead_names(p):
        alg = p.aead(alg_name)
        if file.startswith("aes") == alg_name.startswith("AES"):
            by_key[alg.key_length * 8] = alg
    for group, t in vectors_of(file):
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
            with pytest.raises(BadRecordMac):
                aead.open(iv, aad, sealed)
            with pytest.raises(TLSError):
                aead.seal(iv, aad, msg)
            tally.note(f"nonce length {len(iv)} refused by design (wycheproof {t['result']})")
            continue

        def run() -> None:
            assert aead.open(iv, aad, sealed) == msg
            if t["result"] == "valid":
                assert aead.seal(iv, aad, msg) == sealed

        tally.check(t, run, (BadRecordMac,))


# ---------------------------------------------------------------------------
# HMAC / HKDF


def run_hmac(p: Provider, file: str, tally: Tally) -> None:
    h = p.hash(file.split("_")[1])
    for group, t in vectors_of(file):
        size = group["tagSize"] // 8

        def run() -> None:
            if not hmac.compare_digest(h.hmac(_h(t["key"]), _h(t["msg"]))[:size], _h(t["tag"])):
                raise BadSignatureError("tag mismatch")

        tally.check(t, run, (BadSignatureError,))


def run_hkdf(p: Provider, file: str, tally: Tally) -> None:
    h = p.hash(file.split("_")[1])
    for _, t in vectors_of(file):

        def run() -> None:
            prk = h.hkdf_extract(_h(t["salt"]), _h(t["ikm"]))
            assert h.hkdf_expand(prk, _h(t["info"]), t["size"]) == _h(t["okm"])

        tally.check(t, run, (ValueError,))


# ---------------------------------------------------------------------------
# key exchange


def run_dh(p: Provider, file: str, tally: Tally) -> None:
    name = file.split("_")[0] if file.startswith("x") else file.split("_")[1]
    group = p.group(name)
    for _, t in vectors_of(file):
        state = group.state_from_private_bytes(_h(t["private"]))
        public = _h(t["public"])

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


# ---------------------------------------------------------------------------
# signatures


def _verify_case(scheme: Any, spki: bytes, tally: Tally, t: dict[str, Any]) -> None:
    msg, sig = _h(t["msg"]), _h(t["sig"])
    tally.check(t, lambda: scheme.verify(spki, msg, sig), (BadSignatureError,))


def run_sig(p: Provider, file: str, tally: Tally) -> None:
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
        for group, t in vectors_of(file):
            spki = _h(group["publicKeyDer"])
            if scheme_name.startswith("rsa_pss_pss"):
                parsed = parse_spki(spki)
                assert parsed.algorithm == RSA_ENCRYPTION
                spki = rsassa_pss_spki(parsed.key)
            _verify_case(scheme, spki, tally, t)
        if scheme_name.startswith("rsa_pss_"):
            # rsae and pss schemes must refuse each other's key type
            group = load(file)["testGroups"][0]
            valid = next(t for t in group["tests"] if t["result"] == "valid")
            spki = _h(group["publicKeyDer"])
            other = spki if scheme_name.startswith("rsa_pss_pss") else rsassa_pss_spki(parse_spki(spki).key)
            with pytest.raises(BadSignatureError):
                scheme.verify(other, _h(valid["msg"]), _h(valid["sig"]))


# ---------------------------------------------------------------------------
# ML-KEM-768 through the groups


def _kems(p: Provider) -> list[tuple[Any, Any, int]]:
    """(hybrid group, its ML-KEM component, position of the component)."""
    out = []
    for name in ("X25519MLKEM768", "SecP256r1MLKEM768"):
        if name in p.groups:
            hybrid = p.group(name)
            pos = 0 if name == "X25519MLKEM768" else 1
            out.append((hybrid, (hybrid.first, hybrid.second)[pos], pos))
    return out


def run_mlkem(p: Provider, file: str, tally: Tally) -> None:
    kems = _kems(p)
    if file == "mlkem_768_keygen_seed_test.json":
        kem = kems[0][1]
        for _, t in vectors_of(file):

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

        for _, t in vectors_of(file):
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
                        # cryptography has no derandomised encapsulation: only check
                        # that the key is accepted (the ciphertext cannot be compared)
                        ct, secret = kem.encapsulate(ek)
                        assert len(ct) == 1088 and len(secret) == 32
                    hybrid.encapsulate(join(ek, classic.start().share))

                tally.check(t, run, (IllegalParameter,))
                if t["result"] == "valid" and not hasattr(kem, "encapsulate_derandomized"):
                    tally.note("note: valid ek accepted but ciphertext not comparable (randomised encaps only)")


# ---------------------------------------------------------------------------

MINIMUM = {  # every vector of the file minus the ones that cannot apply
    "aes_gcm_test.json": 60,
    "chacha20_poly1305_test.json": 300,
}


def _runner(file: str) -> Callable[[Provider, str, Tally], None]:
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


@pytest.mark.parametrize(("provider_name", "file"), CASES, ids=[f"{p}:{f[:-10]}" for p, f in CASES])
def test_wycheproof(provider_name: str, file: str) -> None:
    provider = get_provider(provider_name)
    tally = Tally(provider_name, file)
    _runner(file)(provider, file, tally)
    tally.finish(MINIMUM.get(file, int(load(file)["numberOfTests"] * 0.9)))


def test_every_provider_is_covered() -> None:
    """The suite really ran each backend's advertised primitives."""
    covered = collections.defaultdict(set)
    for name, f in CASES:
        covered[name].add(f)
    for name in ALL:
        p = get_provider(name)
        assert covered[name], name
        for group in p.groups:
            if group in ("x25519", "x448"):
                assert f"{group}_test.json" in covered[name]
        for suite in p.cipher_suites.values():
            aead_file = "chacha20_poly1305_test.json" if "ChaCha" in suite.aead.name else "aes_gcm_test.json"
            assert aead_file in covered[name]
            assert f"hkdf_{suite.hash.name}_test.json" in covered[name]
    assert len(ALL) >= len(PROVIDERS) + 2
