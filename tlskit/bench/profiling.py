"""cProfile of the tlskit side: a batch of handshakes, or a bulk transfer.

Both peers run in this process, so the profile covers client and server. The
output is pstats text sorted by cumulative and by own time, which is what
docs/performance.md quotes.
"""

from __future__ import annotations

import cProfile
import io
import pathlib
import pstats
import tempfile

from tlskit.bench import certs, tlskit_side


def _stats_text(profiler: cProfile.Profile, top: int) -> str:
    out = io.StringIO()
    for order in ("cumulative", "tottime"):
        out.write(f"--- top {top} by {order} ---\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(top)
    return out.getvalue()


def profile(
    what: str,
    provider: str = "cryptography",
    suite: str = "TLS_AES_128_GCM_SHA256",
    key_type: str = "ecdsa-p256",
    group: str = "x25519",
    handshakes: int = 200,
    bulk_mib: float = 16.0,
    top: int = 30,
    dump: pathlib.Path | None = None,
) -> str:
    """Profile ``what`` ("handshake" or "bulk") and return the pstats report."""
    with tempfile.TemporaryDirectory(prefix="tlskit-profile-") as scratch:
        pki = certs.make_pki(pathlib.Path(scratch), key_type)
        configs = tlskit_side.make_configs(pki, tlskit_side.Params(provider, suite, group))
        tlskit_side.handshake(configs)  # warm caches outside the profile
        profiler = cProfile.Profile()
        if what == "handshake":
            profiler.enable()
            for _ in range(handshakes):
                tlskit_side.handshake(configs)
            profiler.disable()
        elif what == "bulk":
            pair = tlskit_side.handshake(configs)
            total = max(16384, int(bulk_mib * (1 << 20)) // 16384 * 16384)
            profiler.enable()
            tlskit_side.bulk_transfer(pair, total, bytes(16384))
            profiler.disable()
        else:
            raise ValueError(f"cannot profile {what!r}: choose handshake or bulk")
    if dump is not None:
        profiler.dump_stats(str(dump))
    return _stats_text(profiler, top)
