"""`tlskit demo`: the README's first command must work on a fresh machine."""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from io_peers import TIMEOUT, tlskit_command
from tlskit.cli import demo_cmd
from tlskit.cli.main import app
from tlskit.providers import available_providers

runner = CliRunner()


def test_demo_runs_in_a_fresh_process_and_exits_zero(tmp_path):
    # a fresh interpreter, as a new user would run it; stdout is a pipe, so plain output
    result = subprocess.run(
        tlskit_command() + ["demo"], capture_output=True, text=True, timeout=TIMEOUT * 3, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("provider "))
    rows = lines[header + 1 : header + 1 + len(available_providers()) + 1]
    for name, row in zip(available_providers(), rows):
        assert row.startswith(name + " ")
    assert rows[-1].startswith("kx=")  # the composed provider
    for row in rows:
        assert " ed25519 " in row and row.endswith(" ms")
    assert '"Hello, world!" echoed' in lines[-1]
    assert result.stderr == ""


def test_demo_keep_keeps_the_ca_and_never_overwrites_it(tmp_path):
    keep = tmp_path / "demo-ca"
    result = runner.invoke(app, ["demo", "--keep", str(keep)])
    assert result.exit_code == 0, result.output
    assert f"kept the CA in {keep}" in result.output
    assert any(keep.iterdir())
    again = runner.invoke(app, ["demo", "--keep", str(keep)])
    assert again.exit_code == 1
    assert again.stderr.startswith("error: a CA already exists") and again.stderr.count("\n") == 1


def test_run_demo_covers_every_provider_and_a_composed_one():
    certs, rows = demo_cmd.run_demo()  # the default: a throwaway CA in memory, nothing on disk
    assert [row.provider for row in rows[:-1]] == available_providers()
    composed = rows[-1].provider
    assert composed.startswith("kx=") and len({part.split("=")[1] for part in composed.split(",")}) > 1
    assert all(row.ok for row in rows), [row.error for row in rows]
    assert all(row.group and row.cipher_suite.startswith("TLS_") for row in rows)
    assert certs.ca_dir is None and certs.root.startswith(b"-----BEGIN CERTIFICATE-----")


def test_kept_ca_is_on_disk(tmp_path):
    certs = demo_cmd.make_certificates(tmp_path / "ca")
    assert certs.ca_dir == tmp_path / "ca"
    assert certs.root.exists() and certs.client_chain.exists() and certs.server_key.exists()
    assert demo_cmd.run_one(demo_cmd.demo_providers()[0], certs).ok


def test_failed_row_is_reported_not_raised(tmp_path):
    certs = demo_cmd.make_certificates(tmp_path / "ca")
    certs.server_key = tmp_path / "missing.key"
    row = demo_cmd.run_one(demo_cmd.demo_providers()[0], certs)
    assert not row.ok and row.error
