"""Differential test: tlskit.pki.verify_chain against pyca/cryptography's own verifier
(``cryptography.x509.verification``) over many generated chains.

Each chain is a valid root -> intermediates -> leaf with zero, one or two mutations
(defects or unusual-but-legal features) applied. Both verifiers must agree on
accept/reject, except where a mutation is listed in DISAGREEMENTS, whose entry says which
side accepts and why. Cases are enumerated deterministically (all single mutations, then
seeded random pairs), so a failure is reproducible from its id.
"""

from __future__ import annotations

import datetime
import ipaddress
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

import pki_factory as f
from tlskit.pki import CertificateError, verify_chain

NOW = f.NOW
DAY = datetime.timedelta(days=1)
UNKNOWN_CRITICAL = [f.unknown_extension(critical=True)]

#: mutation name -> (which certificate, issue() keyword arguments)
MUTATIONS: dict[str, tuple[str, dict]] = {
    "leaf-expired": ("leaf", {"not_after": NOW - DAY}),
    "leaf-not-yet-valid": ("leaf", {"not_before": NOW + DAY}),
    "root-ku-none": ("tlskit", "trust anchors are taken as configured: a root without keyUsage is accepted "
                     "(x509-limbo crl::issuer-no-keyusage-extension expects success); intermediates must have it"),
    "leaf-no-san": ("leaf", {"sans": None}),
    "leaf-san-other": ("leaf", {"sans": ["other.example"]}),
    "leaf-san-wildcard": ("leaf", {"sans": ["*.example.com"]}),
    "leaf-san-ip": ("leaf", {"sans": ["192.0.2.1"]}),
    "leaf-eku-client": ("leaf", {"eku": [f.CLIENT]}),
    "leaf-eku-server": ("leaf", {"eku": [f.SERVER]}),
    "leaf-eku-none": ("leaf", {"eku": None}),
    "leaf-eku-any": ("leaf", {"eku": [f.ANY_EKU]}),
    "leaf-ku-keyenc": ("leaf", {"key_usage": {"key_encipherment": True}}),
    "leaf-ku-certsign": ("leaf", {"key_usage": {"digital_signature": True, "key_cert_sign": True}}),
    "leaf-ku-none": ("leaf", {"key_usage": None}),
    "leaf-is-ca": ("leaf", {"ca": True}),
    "leaf-no-bc": ("leaf", {"bc": None}),
    "leaf-unknown-critical": ("leaf", {"extra": UNKNOWN_CRITICAL}),
    "leaf-unknown-noncritical": ("leaf", {"extra": [f.unknown_extension(critical=False)]}),
    "leaf-no-aki": ("leaf", {"aki": False}),
    "leaf-p384": ("leaf", {"key_kind": "p384"}),
    "leaf-ed25519": ("leaf", {"key_kind": "ed25519"}),
    "leaf-rsa": ("leaf", {"key_kind": "rsa2048"}),
    "leaf-rsa1024": ("leaf", {"key_kind": "rsa1024"}),
    "ica-no-bc": ("ica", {"bc": None}),
    "ica-not-ca": ("ica", {"bc": x509.BasicConstraints(ca=False, path_length=None)}),
    "ica-bc-noncritical": ("ica", {"bc_critical": False}),
    "ica-ku-none": ("ica", {"key_usage": None}),
    "ica-ku-no-certsign": ("ica", {"key_usage": {"digital_signature": True}}),
    "ica-pathlen-0": ("ica", {"path_length": 0}),
    "ica-expired": ("ica", {"not_after": NOW - DAY}),
    "ica-eku-client": ("ica", {"eku": [f.CLIENT]}),
    "ica-eku-server": ("ica", {"eku": [f.SERVER]}),
    "ica-nc-permit-example": ("ica", {"permitted": ["example.com"]}),
    "ica-nc-permit-other": ("ica", {"permitted": ["other.example"]}),
    "ica-nc-exclude-example": ("ica", {"excluded": ["example.com"]}),
    "ica-nc-permit-ip": ("ica", {"permitted": ["192.0.2.0/24"]}),
    "ica-no-ski": ("ica", {"ski": False}),
    "ica-unknown-critical": ("ica", {"extra": UNKNOWN_CRITICAL}),
    "root-expired": ("root", {"not_after": NOW - DAY}),
    "root-pathlen-0": ("root", {"path_length": 0}),
    "root-bc-noncritical": ("root", {"bc_critical": False}),
    "root-unknown-critical": ("root", {"extra": UNKNOWN_CRITICAL}),
    "root-nc-exclude-example": ("root", {"excluded": ["example.com"]}),
    "root-no-ski": ("root", {"ski": False}),
    "root-eku-server": ("root", {"eku": [f.SERVER]}),
    "leaf-san-uppercase": ("leaf", {"sans": ["EXAMPLE.COM"]}),
    "leaf-san-many": ("leaf", {"sans": ["a.example", "example.com", "192.0.2.1", "2001:db8::1", "*.example.org"]}),
    "leaf-hash-sha512": ("leaf", {"hash_alg": hashes.SHA512()}),
    "leaf-not-after-now": ("leaf", {"not_after": NOW}),
    "leaf-not-before-now": ("leaf", {"not_before": NOW}),
    "leaf-empty-subject-critical-san": ("leaf", {"san_critical": True}),  # subject emptied in _build
    "ica-ku-crlsign-only": ("ica", {"key_usage": {"crl_sign": True}}),
    "ica-pathlen-1": ("ica", {"path_length": 1}),
    "ica-nc-permit-ipv6": ("ica", {"permitted": ["2001:db8::/32"]}),
    "ica-nc-exclude-ip": ("ica", {"excluded": ["192.0.2.0/24"]}),
    "ica-nc-permit-subdomain": ("ica", {"permitted": ["sub.example.com"]}),
    "ica-nc-exclude-other": ("ica", {"excluded": ["other.example"]}),
    "ica-eku-any": ("ica", {"eku": [f.ANY_EKU]}),
    "root-nc-permit-example": ("root", {"permitted": ["example.com"]}),
    "root-ku-none": ("root", {"key_usage": None}),
    "root-expired-long-ago": ("root", {"not_before": NOW - 900 * DAY, "not_after": NOW - 800 * DAY}),
    "chain-missing-intermediate": ("chain", {}),
    "name-wildcard-child": ("chain", {}),
    "name-ipv6": ("chain", {}),
    "chain-untrusted-root": ("chain", {}),
    "chain-depth-2": ("chain", {}),
    "chain-max-depth-0": ("chain", {}),
    "name-ip": ("chain", {}),
    "usage-client": ("chain", {}),
}

#: mutation -> (verifier that accepts, reason). The other verifier rejects.
DISAGREEMENTS: dict[str, tuple[str, str]] = {
    "leaf-rsa1024": ("pyca", "tlskit applies its key policy (RSA >= 2048) to the leaf too; pyca checks only the "
                     "keys that verify signatures"),
    "leaf-ku-keyenc": ("pyca", "tlskit requires digitalSignature when a leaf has keyUsage: TLS 1.3 "
                       "authenticates only with signatures (RFC 8446 4.4.2.2)"),
    "ica-no-ski": ("pyca", "tlskit requires subjectKeyIdentifier in CA certificates (RFC 5280 4.2.1.2; "
                   "x509-limbo rfc5280::ski::intermediate-missing-ski expects rejection)"),
    "root-no-ski": ("pyca", "same rule for trust anchors (x509-limbo rfc5280::ski::root-missing-ski)"),
    "root-ku-none": ("tlskit", "trust anchors are taken as configured: a root without keyUsage is accepted "
                     "(x509-limbo crl::issuer-no-keyusage-extension expects success); intermediates must have it"),
    "leaf-no-san": ("tlskit", "for usage='client' tlskit accepts a leaf without subjectAltName (client identity "
                    "is the application's business); pyca's client verifier requires a SAN"),
}

#: pairs of mutations whose combination is a by-design disagreement: (accepting verifier, reason)
PAIR_DISAGREEMENTS: dict[tuple[str, str], tuple[str, str]] = {
    pair: ("pyca", "leaf CN=example.com with an IP-only SAN under DNS name constraints that exclude it "
                   "(or that it is outside of): tlskit constrains a host-name CN when the SAN has no dNSName (as OpenSSL and GnuTLS do, "
                   "issue 16 item 2); pyca ignores the CN")
    for pair in (
        tuple(sorted((nc, ip)))
        for nc, (_role, kwargs) in MUTATIONS.items()
        if any("/" not in str(v) and "@" not in str(v)
               for v in [*kwargs.get("permitted", ()), *kwargs.get("excluded", ())])
        for ip in ("name-ip", "name-ipv6")
    )
}


def _build(mutations: tuple[str, ...]):
    per_role: dict[str, dict] = {"leaf": {}, "ica": {}, "root": {}}
    for m in mutations:
        role, kwargs = MUTATIONS[m]
        if role in per_role:
            per_role[role].update(kwargs)
    depth = 2 if "chain-depth-2" in mutations else 1
    name = "192.0.2.1" if "name-ip" in mutations else "2001:db8::1" if "name-ipv6" in mutations else "example.com"
    leaf_kwargs = {"sans": [name]}
    if "name-wildcard-child" in mutations:
        name = "www.example.com"
        leaf_kwargs = {"sans": ["*.example.com"]}
    leaf_kwargs.update(per_role["leaf"])
    tag = f" {abs(hash(mutations)) % 10**8}"  # distinct names per case, short enough for a CN
    leaf_name = x509.Name([]) if "leaf-empty-subject-critical-san" in mutations else "example.com"
    chain = f.chain(depth, leaf_name=leaf_name, root_kwargs=per_role["root"], intermediate_kwargs=per_role["ica"],
                    leaf_kwargs=leaf_kwargs, tag=tag)
    untrusted = chain.untrusted
    if "chain-missing-intermediate" in mutations:
        untrusted = untrusted[1:]
    anchors = [chain.root.cert]
    if "chain-untrusted-root" in mutations:
        anchors = [f.issue("Some Other Root", ca=True, slot=40).cert]
    max_depth = 0 if "chain-max-depth-0" in mutations else None
    usage = "client" if "usage-client" in mutations else "server"
    return chain, untrusted, anchors, name, usage, max_depth


def _tlskit(chain, untrusted, anchors, name, usage, max_depth) -> tuple[bool, str]:
    try:
        verify_chain(chain.leaf.cert, untrusted, anchors, server_name=name if usage == "server" else None,
                     usage=usage, at=NOW, max_depth=max_depth)
        return True, ""
    except CertificateError as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _pyca(chain, untrusted, anchors, name, usage, max_depth) -> tuple[bool, str]:
    builder = PolicyBuilder().store(Store(anchors)).time(NOW)
    if max_depth is not None:
        builder = builder.max_chain_depth(max_depth)
    try:
        if usage == "server":
            try:
                subject = x509.IPAddress(ipaddress.ip_address(name))
            except ValueError:
                subject = x509.DNSName(name)
            builder.build_server_verifier(subject).verify(chain.leaf.cert, untrusted)
        else:
            builder.build_client_verifier().verify(chain.leaf.cert, untrusted)
        return True, ""
    except VerificationError as exc:
        return False, str(exc)


def _cases() -> list[tuple[str, ...]]:
    names = sorted(MUTATIONS)
    cases: list[tuple[str, ...]] = [()] + [(m,) for m in names]
    rng = random.Random(20261127)
    pairs = set()
    while len(pairs) < 400:
        a, b = sorted(rng.sample(names, 2))
        pairs.add((a, b))
    return cases + sorted(pairs)


CASES = _cases()


def test_enough_cases():
    assert len(CASES) >= 450


@pytest.mark.parametrize("chunk", range(6))
def test_agrees_with_pyca(chunk):
    mismatches = []
    for mutations in CASES[chunk::6]:
        setup = _build(mutations)
        ours, why_ours = _tlskit(*setup)
        theirs, why_theirs = _pyca(*setup)
        if ours == theirs:
            continue
        accepting = "tlskit" if ours else "pyca"
        explained = [m for m in mutations if m in DISAGREEMENTS and DISAGREEMENTS[m][0] == accepting]
        if PAIR_DISAGREEMENTS.get(tuple(sorted(mutations)), ("",))[0] == accepting:
            explained.append("pair")
        if not explained:
            mismatches.append(f"{','.join(mutations) or '<valid>'}: tlskit={ours} ({why_ours[:150]}) pyca={theirs} ({why_theirs[:150]})")
    assert not mismatches, "\n".join(mismatches)
