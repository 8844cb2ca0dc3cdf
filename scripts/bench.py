#!/usr/bin/env python3
"""Run the tlskit benchmark: the same code and options as ``tlskit bench``.

    python scripts/bench.py --help
    python scripts/bench.py --json --output bench.json
"""

import typer

from tlskit.cli.bench_cmd import bench

if __name__ == "__main__":
    typer.run(bench)
