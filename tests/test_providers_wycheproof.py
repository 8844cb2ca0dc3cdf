"""Provider conformance against Project Wycheproof (tests/vectors/wycheproof/).

One test per provider x vector file: it loops over every vector, checks it
through the provider's public interface (AEAD objects, KEM-shaped groups driven
with a fixed private key through the real validation path, signature_schemes[...]
.verify with the DER SPKI, hash.hmac / hkdf_*), and asserts the counts.

The vector logic (rules, "acceptable" policy, runners) is shared with the
conformance kit ``tlskit providers check``: tlskit/providers/_wycheproof.py. The kit
reads the compressed subset shipped in the package; this test reads the full set.

Run with ``-s -p no:xdist`` to see the count lines (``WYCHEPROOF ...``).
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from tlskit.providers import available_providers, get_provider
from tlskit.providers._wycheproof import PACKAGED_VECTORS, Vectors, files_for, run_file

FULL = Vectors(Path(__file__).parent / "vectors" / "wycheproof")
PACKAGED = Vectors(PACKAGED_VECTORS)

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

CASES = [(name, f) for name in ALL for f in files_for(get_provider(name), FULL.names())]


@pytest.mark.parametrize(("provider_name", "file"), CASES, ids=[f"{p}:{f[:-10]}" for p, f in CASES])
def test_wycheproof(provider_name: str, file: str) -> None:
    tally = run_file(get_provider(provider_name), FULL, file, provider_name)
    print(f"\nWYCHEPROOF provider={provider_name} file={file}: {tally.summary()}")
    assert not tally.failures, "\n".join(tally.failures[:20])
    assert tally.checked >= FULL.minimum(file), f"only {tally.checked} vectors exercised"


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


def test_the_packaged_subset_covers_every_primitive_the_full_set_does() -> None:
    """The kit's shipped vectors (a subset, see tlskit/providers/vectors/README.md) still
    give every built-in provider a file for each primitive kind, with the licence beside them."""
    assert (PACKAGED_VECTORS / "LICENSE").read_text().startswith(FULL.directory.joinpath("LICENSE").read_text()[:200])
    kinds = lambda files: {f.split("_")[0] if not f.startswith("rsa") else "_".join(f.split("_")[:2]) + f.split("_")[3] for f in files}  # noqa: E731
    for name in ALL:
        p = get_provider(name)
        assert kinds(files_for(p, PACKAGED.names())) == kinds(files_for(p, FULL.names())), name
    size = sum(f.stat().st_size for f in PACKAGED_VECTORS.iterdir())
    assert size < 2_000_000  # keep the wheel small
    # values in the subset are the full set's, unchanged
    for file in sorted(PACKAGED.names())[:6]:
        assert PACKAGED.load(file)["testGroups"][0]["tests"][0] == FULL.load(file)["testGroups"][0]["tests"][0]
