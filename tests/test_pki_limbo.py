"""x509-limbo (9,780 cases incl. BetterTLS) through tlskit.pki.verify_chain.

One test per namespace: it asserts that the pass count is at least the recorded floor
and that every failing case is in KNOWN_FAILURES (so a regression fails, and an
improvement is noticed because a known failure stops failing -- see
test_known_failures_still_fail). The same table is in docs/pki.md.
"""

from __future__ import annotations

import datetime
import json
import lzma
import pathlib
from functools import lru_cache

import pytest
from cryptography import x509

from tlskit.pki import CertificateError, TrustStore, load_certificates, verify_chain


# Some vectors carry serial numbers <= 0 on purpose (rfc5280::serial::*, an online root).
pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")

LIMBO = pathlib.Path(__file__).parent / "vectors" / "x509-limbo" / "limbo.json.xz"


@lru_cache(maxsize=1)
def limbo_cases() -> tuple[dict, ...]:
    with lzma.open(LIMBO) as fh:
        data = json.load(fh)
    return tuple(data["testcases"])


def namespace_of(case: dict) -> str:
    return case["id"].split("::", 1)[0]


@lru_cache(maxsize=4096)
def _cert(pem: str) -> x509.Certificate:
    # Intermediates and roots repeat across BetterTLS cases; parse each PEM once.
    return x509.load_pem_x509_certificate(pem.encode())


def run_case(case: dict, provider=None) -> tuple[str, str]:
    """('pass'|'fail', detail) for one test case."""
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
        out.setdefault(namespace_of(case), {"pass": [], "fail": [], "skip": []})[status].append(case["id"])
    return out


#: namespace -> minimum number of passing cases (tlskit's current result).
PASS_FLOORS = {
    "bettertls": 9532,  # 40 deliberate CN-constraint failures (see _CN_CONSTRAINED_CASES)
    "crl": 8,
    "cve": 3,
    "invalid": 1,
    "online": 14,
    "pathlen": 12,
    "pathological": 11,
    "rfc5280": 99,
    "webpki": 41,
}

#: Every case tlskit gets "wrong", with the reason (a deliberate policy unless noted).
KNOWN_FAILURES = {
    "pathlen::validation-ignores-pathlen-in-leaf": "a CA certificate (cA=TRUE) is never accepted as the end-entity "
    "certificate (webpki/CABF policy; conflicts with this RFC 5280 reading)",
    "rfc5280::ca-as-leaf": "same policy: CA certificate as leaf rejected (limbo's webpki::ca-as-leaf expects that)",
    "rfc5280::aki::cross-signed-root-missing-aki": "pedantic-rfc5280: trust anchors are taken as configured, "
    "their AKI is not required",
    "rfc5280::nc::permitted-dns-match-noncritical": "rfc5280-incompatible-with-webpki: tlskit follows webpki and "
    "honours non-critical nameConstraints (webpki::nc::permitted-dns-match-noncritical passes)",
    "webpki::cn::ipv4-hex-mismatch": "CABF CN/SAN consistency is not enforced: tlskit ignores the subject CN",
    "webpki::cn::ipv4-leading-zeros-mismatch": "CN ignored (see above)",
    "webpki::cn::ipv6-uppercase-mismatch": "CN ignored (see above)",
    "webpki::cn::ipv6-uncompressed-mismatch": "CN ignored (see above)",
    "webpki::cn::ipv6-non-rfc5952-mismatch": "CN ignored (see above)",
    "webpki::cn::punycode-not-in-san": "CN ignored (see above)",
    "webpki::cn::utf8-vs-punycode-mismatch": "CN ignored (see above)",
    "webpki::cn::not-in-san": "CN ignored (see above)",
    "webpki::cn::case-mismatch": "CN ignored (see above)",
    "webpki::eku::ee-anyeku": "pedantic-webpki-eku: anyExtendedKeyUsage next to serverAuth is tolerated in a leaf",
    "webpki::eku::ee-critical-eku": "pedantic-webpki-eku: EKU criticality is not policed",
    "webpki::eku::ee-without-eku": "pedantic-webpki-eku: a leaf without EKU is accepted (RFC 5280; "
    "rfc5280::eku::ee-without-eku expects that)",
    "webpki::eku::root-has-eku": "pedantic-webpki-eku: an anchor's EKU is honoured as a constraint, not forbidden",
    "webpki::san::public-suffix-multi-label-wildcard-san": "no Public Suffix List: *.co.uk is only caught by the "
    "two-label rule for single-label suffixes",
    "webpki::san::public-suffix-private-namespace-wildcard-san": "no Public Suffix List (*.s3.amazonaws.com)",
}

#: BetterTLS cases whose leaf has a host-name CN, an IP-only SAN and a CA with DNS name
#: constraints: BetterTLS (like webpki and Go) ignores that CN, tlskit applies the DNS
#: constraints to it as OpenSSL and GnuTLS do (issue 16 item 2; RFC 6125 6.4.4 lets a
#: client fall back to the CN when no DNS-ID is presented, so the CN must stay constrained).
_CN_CONSTRAINED_CASES = (
    "5194", "5196", "5203", "5205", "5221", "5223", "5230", "5232", "5245", "5247", "5248", "5250", "5251",
    "5253", "5254", "5256", "5257", "5259", "5260", "5262", "5926", "5928", "5935", "5937", "5947", "5949",
    "5950", "5952", "5953", "5955", "5956", "5958", "5959", "5961", "5962", "5964", "5980", "5982", "5989",
    "5991",
)
KNOWN_FAILURES.update(
    dict.fromkeys(
        (f"bettertls::nameconstraints::tc{n}" for n in _CN_CONSTRAINED_CASES),
        "host-name CN constrained when the SAN has no dNSName (OpenSSL/GnuTLS behaviour, issue 16 item 2)",
    )
)


@pytest.fixture(scope="module")
def cases_by_namespace() -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for case in limbo_cases():
        grouped.setdefault(namespace_of(case), []).append(case)
    return grouped


def test_every_namespace_has_a_floor(cases_by_namespace):
    assert set(cases_by_namespace) == set(PASS_FLOORS)
    assert sum(len(c) for c in cases_by_namespace.values()) == 9780


#: BetterTLS is 98% of the cases: split it so that xdist workers share it.
BETTERTLS_CHUNKS = 4
SHARDS = [(ns, 0) for ns in sorted(PASS_FLOORS) if ns != "bettertls"] + [
    ("bettertls", i) for i in range(BETTERTLS_CHUNKS)
]


@pytest.mark.parametrize("namespace,chunk", SHARDS, ids=[f"{ns}-{i}" for ns, i in SHARDS])
def test_limbo_namespace(namespace, chunk, cases_by_namespace, record_property):
    cases = cases_by_namespace[namespace]
    floor = PASS_FLOORS[namespace]
    if namespace == "bettertls":
        cases = cases[chunk::BETTERTLS_CHUNKS]
        # The floor is for the namespace; a chunk must reach it minus the known failures
        # and the cases of the other chunks.
        floor = len(cases) - (len(cases_by_namespace[namespace]) - PASS_FLOORS[namespace])
    results = run_all(cases)[namespace]
    passed, failed, skipped = results["pass"], results["fail"], results["skip"]
    summary = f"x509-limbo {namespace}[{chunk}]: {len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped"
    record_property("limbo", summary)
    print(summary)
    unexpected = sorted(set(failed) - set(KNOWN_FAILURES))
    assert not unexpected, f"new x509-limbo failures: {unexpected}"
    assert not skipped
    assert len(passed) >= floor


def test_known_failures_still_fail():
    """Keeps the table honest: a fixed case must leave KNOWN_FAILURES (and docs/pki.md)."""
    by_id = {case["id"]: case for case in limbo_cases()}
    assert set(KNOWN_FAILURES) <= set(by_id)
    still_failing = {cid for cid in KNOWN_FAILURES if run_case(by_id[cid])[0] == "fail"}
    assert still_failing == set(KNOWN_FAILURES)


if __name__ == "__main__":  # pragma: no cover - manual report: python tests/test_pki_limbo.py [id-prefix...]
    import sys
    import time

    start = time.process_time()
    cases = limbo_cases()
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
