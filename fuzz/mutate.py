"""Deterministic mutations of seed inputs, for running the fuzz targets without atheris
(the test suite does, so the harness cannot rot). Same seed, same inputs, every run."""

from __future__ import annotations

import random
from typing import Iterator

_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x16, 0x17, 0x03, 0x04)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four stacked edits: bit flip, interesting byte, insert, delete, truncate,
    duplicate a slice, or a 16-bit length field set to an edge value."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if not out:
            out += bytes([rng.randrange(256)])
            continue
        pos = rng.randrange(len(out))
        if op == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[pos] = rng.choice(_INTERESTING)
        elif op == 2:
            out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3:
            del out[pos : pos + rng.randint(1, 16)]
        elif op == 4:
            del out[pos:]
        elif op == 5:
            end = min(len(out), pos + rng.randint(1, 64))
            out[pos:pos] = out[pos:end]
        elif pos + 1 < len(out):
            out[pos : pos + 2] = rng.choice((0, 1, 0xFFFF, len(out) - pos)).to_bytes(2, "big", signed=False)[-2:] if len(out) - pos < 0x10000 else b"\xff\xff"
    return bytes(out)


def mutations(seeds: list[bytes], count: int, seed: int = 0) -> Iterator[bytes]:
    """The seeds themselves, then ``count`` deterministic mutations of them."""
    yield from seeds
    rng = random.Random(seed)
    for _ in range(count):
        yield mutate(rng.choice(seeds) if seeds else b"", rng)
