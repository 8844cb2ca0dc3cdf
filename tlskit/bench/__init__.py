"""The tlskit benchmark: tlskit against the stdlib ``ssl`` module, same run, same process.

Run it with ``tlskit bench`` or ``python scripts/bench.py`` (the same code:
:func:`tlskit.bench.runner.run` builds the report, :mod:`tlskit.bench.report`
renders it). Nothing in tlskit imports this package; it imports the engine,
the providers and ``ssl``.
"""
