"""Helpers shared by the command-line tests."""

from __future__ import annotations

import pytest

from tlskit.cli import main as cli_main


def run_main(argv, capsys):
    """Run the console script's entry point: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        cli_main.main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err
