"""Memory: what an established, idle connection costs, and the benchmark's peak RSS.

tracemalloc sees every allocation made through Python's allocator: all of
tlskit's own state (buffers, transcript, key schedule, certificates it keeps).
It does not see memory a C library allocates with malloc behind a Python
object (OpenSSL's cipher contexts inside pyca/cryptography, libsodium state),
so it is a figure for tlskit's Python-side footprint only and is not
comparable with the stdlib ``ssl`` module, whose state lives entirely in
OpenSSL. The RSS delta measured over many pairs covers both stacks alike.
"""

from __future__ import annotations

import gc
import resource
import sys
import tracemalloc
from typing import Callable

_PAGE_SIZE = resource.getpagesize()


def _current_rss() -> int | None:
    """Resident set size now, in bytes (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_kib(children: bool = False) -> int:
    """Peak RSS of this process (or of its waited-for children), in KiB."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    # ru_maxrss is KiB on Linux but bytes on macOS.
    return usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss


def idle_pair_bytes(make_pair: Callable[[], object], drop_server: Callable[[object], None], count: int) -> dict:
    """tracemalloc bytes per idle client and per idle server connection.

    ``make_pair`` returns an established pair; ``drop_server`` releases the pair's
    server half so the client half can be measured alone. A few pairs are made
    and thrown away first so that lazily built, shared state (provider tables,
    parsed trust anchors, imports) is not charged to the connections.
    """
    for _ in range(2):
        make_pair()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        pairs = [make_pair() for _ in range(count)]
        gc.collect()
        both = tracemalloc.get_traced_memory()[0]
        for pair in pairs:
            drop_server(pair)
        gc.collect()
        clients = tracemalloc.get_traced_memory()[0]
        del pairs
    finally:
        tracemalloc.stop()
    return {
        "client_bytes": (clients - base) / count,
        "server_bytes": (both - clients) / count,
        "pairs": count,
    }


def rss_per_pair(make_pair: Callable[[], object], count: int) -> float | None:
    """Growth of the RSS per idle pair while ``count`` pairs are held (bytes, Linux only)."""
    for _ in range(2):
        make_pair()
    gc.collect()
    before = _current_rss()
    pairs = [make_pair() for _ in range(count)]
    gc.collect()
    after = _current_rss()
    del pairs
    if before is None or after is None:
        return None
    return (after - before) / count
