"""Timing primitives: repeated measurements, medians and interleaving.

Every figure the benchmark prints is the median of several repetitions, and
every tlskit figure sits beside a stdlib ``ssl`` figure taken in the same
process. Repetitions of the sides being compared are *interleaved*
(ssl, tlskit, ssl, tlskit, ...) rather than run in blocks, so that a burst of
load from another process on this shared machine hits both sides alike instead
of skewing one ratio.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

#: one repetition: returns a rate (operations or bytes per second)
Repetition = Callable[[], float]


@dataclass
class Sample:
    """The rates of all repetitions of one measurement."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.values), max(self.values)) if self.values else (float("nan"), float("nan"))


def rate_for(operation: Callable[[], object], *, min_time: float, min_ops: int = 1) -> float:
    """Run ``operation`` back to back for at least ``min_time`` seconds; operations/second.

    Time-boxed rather than a fixed count, because the stacks compared here differ by
    an order of magnitude and a fixed count would be either too short for ssl or
    far too long for the slowest provider.
    """
    count = 0
    start = time.perf_counter()
    deadline = start + min_time
    while True:
        operation()
        count += 1
        now = time.perf_counter()
        if now >= deadline and count >= min_ops:
            return count / (now - start)


def interleave(sides: dict[str, Repetition], reps: int) -> dict[str, Sample]:
    """Run each side's repetition ``reps`` times, round-robin; return the samples by side.

    Repetition i of every side is taken within one round, which is what
    :func:`paired_ratio` relies on.
    """
    samples = {name: Sample() for name in sides}
    order = list(sides)
    for rep in range(reps):
        # Every other round runs backwards, so no side always goes first (cold caches,
        # a garbage collection left over from the previous side, ...).
        for name in order if rep % 2 == 0 else reversed(order):
            samples[name].values.append(sides[name]())
    return samples


def ratio(value: float, reference: float) -> float | None:
    if not reference or reference != reference or value != value:  # zero or NaN
        return None
    return value / reference


def paired_ratio(values: list[float], references: list[float]) -> tuple[float, float, float] | None:
    """Median, min and max of the per-repetition ratios ``values[i] / references[i]``.

    Repetition i of both sides ran next to each other, so their ratio cancels most
    of the load that drifts over a run; the median of those ratios is steadier
    than the ratio of the two medians when the machine is shared.
    """
    pairs = [v / r for v, r in zip(values, references) if r and r == r and v == v]
    if not pairs:
        return None
    return statistics.median(pairs), min(pairs), max(pairs)
