"""Run x509-limbo test cases through tlskit.pki.verify_chain (shared by the test module)."""

from __future__ import annotations

import datetime
import json
import lzma
import pathlib
from functools import lru_cache

from cryptography import x509

from tlskit.pki import CertificateError, TrustStore, load_certificates, verify_chain

LIMBO = pathlib.Path(__file__).parent / "vectors" / "x509-limbo" / "limbo.json.xz"

#: Cases tlskit does not run, with the reason (kept in docs/pki.md too).
SKIPPED_FEATURES: dict[str, str] = {}


@lru_cache(maxsize=1)
def testcases() -> tuple[dict, ...]:
    with lzma.open(LIMBO) as fh:
        data = json.load(fh)
    return tuple(data["testcases"])


def namespace(case: dict) -> str:
    return case["id"].split("::", 1)[0]


@lru_cache(maxsize=4096)
def _cert(pem: str) -> x509.Certificate:
    # Intermediates and roots repeat across BetterTLS cases; parse each PEM once.
    return x509.load_pem_x509_certificate(pem.encode())


def run_case(case: dict, provider=None) -> tuple[str, str]:
    """('pass'|'fail'|'skip', detail) for one test case."""
    for feature in case["features"]:
        if feature in SKIPPED_FEATURES:
            return "skip", SKIPPED_FEATURES[feature]
    expected = case["expected_result"]
    try:
        leaf = load_certificates(case["peer_certificate"].encode())[0]
        intermediates = [_cert(p) for p in case["untrusted_intermediates"]]
        store = TrustStore([_cert(p) for p in case["trusted_certs"]])
    except CertificateError as exc:
        ok = expected == "FAILURE"
        return ("pass" if ok else "fail"), f"load: {exc}"
    name = case["expected_peer_name"]
    usage = "client" if case["validation_kind"] == "CLIENT" else "server"
    server_name = name["value"] if name and usage == "server" else None
    at = datetime.datetime.fromisoformat(case["validation_time"]) if case["validation_time"] else None
    try:
        verify_chain(
            leaf,
            intermediates,
            store,
            server_name=server_name,
            usage=usage,
            at=at,
            max_depth=case["max_chain_depth"],
            provider=provider,
            crls=[c.encode() for c in case.get("crls") or ()],
        )
        verdict, detail = "SUCCESS", "accepted"
    except CertificateError as exc:
        verdict, detail = "FAILURE", f"{type(exc).__name__}: {exc}"
    return ("pass" if verdict == expected else "fail"), detail


def run_all(cases, provider=None) -> dict[str, dict[str, list[str]]]:
    """namespace -> {'pass': [ids], 'fail': [ids], 'skip': [ids]}"""
    out: dict[str, dict[str, list[str]]] = {}
    for case in cases:
        status, _ = run_case(case, provider)
        out.setdefault(namespace(case), {"pass": [], "fail": [], "skip": []})[status].append(case["id"])
    return out


if __name__ == "__main__":  # pragma: no cover - manual report
    import sys
    import time

    start = time.process_time()
    cases = testcases()
    want = sys.argv[1:] or None
    totals = {"pass": 0, "fail": 0, "skip": 0}
    for case in cases:
        if want and not any(case["id"].startswith(w) for w in want):
            continue
        status, detail = run_case(case)
        totals[status] += 1
        if status != "pass":
            print(status, case["id"], case["expected_result"], detail[:300])
    print(totals, f"{time.process_time() - start:.1f}s CPU")
