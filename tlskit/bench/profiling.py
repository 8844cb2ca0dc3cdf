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
from tlskit.bench.harness import interleave, rate_for


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
        header = ""
        if what == "handshake":
            header = _validation_share(configs)
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
    return header + _stats_text(profiler, top)


def _accept_any_chain(chain: object, server_name: object) -> None:
    """A verifier that accepts every chain: isolates the cost of certificate-path validation."""


def _validation_share(configs: tlskit_side.Configs, reps: int = 5, min_time: float = 0.3) -> str:
    """Wall-clock (not profiled) handshakes/s with and without certificate-path validation.

    The profiler inflates pure-Python code relative to C calls; this measures the
    validation's real share. CertificateVerify is still checked either way.
    """
    import dataclasses

    skipping = tlskit_side.Configs(
        dataclasses.replace(configs.client, verifier=_accept_any_chain, cafile=None), configs.server
    )
    # the client's opt-in CA-signature verdict cache (ClientConfig(verify_cache=True))
    cached = tlskit_side.Configs(dataclasses.replace(configs.client, verify_cache=True), configs.server)
    tlskit_side.handshake(cached)  # fills the cache, as the warm-up above did for the others
    samples = interleave(
        {
            "full": lambda: rate_for(lambda: tlskit_side.handshake(configs), min_time=min_time),
            "no_path_validation": lambda: rate_for(lambda: tlskit_side.handshake(skipping), min_time=min_time),
            "verdict_cache": lambda: rate_for(lambda: tlskit_side.handshake(cached), min_time=min_time),
        },
        reps,
    )
    full, fast = samples["full"].median, samples["no_path_validation"].median
    warm = samples["verdict_cache"].median
    share = 1 - full / fast
    return (
        f"--- wall clock, {reps} interleaved reps (no profiler) ---\n"
        f"full handshake pair:               {full:8.0f} handshakes/s ({1e6 / full:6.0f} us)\n"
        f"without certificate-path checks:   {fast:8.0f} handshakes/s ({1e6 / fast:6.0f} us)\n"
        f"path validation share of the pair: {share:8.0%} ({1e6 / full - 1e6 / fast:6.0f} us)\n"
        f"with the verdict cache (opt-in):   {warm:8.0f} handshakes/s ({1e6 / warm:6.0f} us;"
        f" validation {1e6 / warm - 1e6 / fast:.0f} us)\n\n"
    )
