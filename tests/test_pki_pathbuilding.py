"""Property test of path building: on random graphs of cross-signed, re-keyed and
expired CA certificates, verify_chain finds a path exactly when one exists.

The ground truth is a brute-force search over the same graph. CA identities are
(name, key) pairs, and several identities share a name (re-keyed CAs), so candidate
selection by name, AKI ordering, loop avoidance and backtracking past expired or
wrongly-keyed candidates are all exercised.
"""

from __future__ import annotations

import datetime
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pki_factory as f
from tlskit.pki import CertificateError, verify_chain

NOW = f.NOW
DAY = datetime.timedelta(days=1)
IDENTITIES = 5  # identity i has key slot 60+i and name "Graph CA <i % 3>"


def _name(identity: int) -> str:
    return f"Graph CA {identity % 3}"


@st.composite
def graphs(draw):
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, IDENTITIES - 1), st.integers(0, IDENTITIES - 1), st.booleans()),
            max_size=9,
            unique_by=lambda e: (e[0], e[1]),
        )
    )
    edges = [(s, i, expired) for s, i, expired in edges if s != i]  # subject, issuer, expired
    anchors = draw(st.sets(st.integers(0, IDENTITIES - 1), max_size=2))
    leaf_issuer = draw(st.integers(0, IDENTITIES - 1))
    sent = draw(st.permutations(range(len(edges))))
    return edges, anchors, leaf_issuer, list(sent)


def _exists(edges, anchors, leaf_issuer) -> bool:
    """Is there a simple chain of unexpired edge certificates from leaf_issuer to an anchor?"""
    usable = [(s, i) for s, i, expired in edges if not expired]

    def walk(identity, seen):
        if identity in anchors:
            return True
        return any(walk(i, seen | {i}) for s, i in usable if s == identity and i not in seen)

    return walk(leaf_issuer, {leaf_issuer})


_certs: dict = {}


def _ca_cert(subject: int, issuer: int | None, expired: bool):
    key = (subject, issuer, expired)
    if key not in _certs:
        issuer_obj = None if issuer is None else f.Issued(None, f.key("p256", 60 + issuer))  # type: ignore[arg-type]
        kwargs = {"not_after": NOW - DAY} if expired else {}
        if issuer_obj is not None:
            issuer_name = f.name(_name(issuer))
            _certs[key] = f.issue(_name(subject), issuer_obj, ca=True, private_key=f.key("p256", 60 + subject),
                                  issuer_name=issuer_name, **kwargs)
        else:
            _certs[key] = f.issue(_name(subject), None, ca=True, private_key=f.key("p256", 60 + subject), **kwargs)
    return _certs[key].cert


@settings(max_examples=int(os.environ.get("PKI_FUZZ_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_path_found_iff_one_exists(graph):
    edges, anchors, leaf_issuer, order = graph
    intermediates = [_ca_cert(edges[k][0], edges[k][1], edges[k][2]) for k in order]
    trust = [_ca_cert(a, None, False) for a in sorted(anchors)]
    issuer = f.Issued(None, f.key("p256", 60 + leaf_issuer))  # type: ignore[arg-type]
    leaf = f.issue("example.com", issuer, issuer_name=f.name(_name(leaf_issuer)), slot=59)
    expected = _exists(edges, anchors, leaf_issuer)
    try:
        path = verify_chain(leaf.cert, intermediates, trust, server_name="example.com", at=NOW)
    except CertificateError as exc:
        assert not expected, f"missed a path: {exc}"
        return
    assert expected, "accepted a chain with no valid path"
    for child, parent in zip(path.certificates, path.certificates[1:]):
        child.verify_directly_issued_by(parent)
    assert path.anchor in trust
