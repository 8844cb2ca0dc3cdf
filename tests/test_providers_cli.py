"""`tlskit providers`: plain text when not a TTY, JSON with --json."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tlskit.cli.main import app
from tlskit.providers import available_providers, get_provider

runner = CliRunner()


def test_providers_json_matches_the_registry() -> None:
    result = runner.invoke(app, ["providers", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"cryptography", "pycryptodome", "pynacl"}
    for name in available_providers():
        provider = get_provider(name)
        row = rows[name]
        assert row["available"] is True
        assert row["groups"] == list(provider.groups)
        assert row["cipher_suites"] == list(provider.cipher_suites)
        assert row["signature_schemes"] == list(provider.signature_schemes)
        assert row["versions"] == dict(provider.versions) and row["versions"]
    crypto = rows["cryptography"]
    assert "X25519MLKEM768" in crypto["groups"]
    assert crypto["certificate_only_schemes"] == ["rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512"]
    if "pynacl" in available_providers():
        assert rows["pynacl"]["groups"] == ["x25519"]
        assert rows["pynacl"]["cipher_suites"] == ["TLS_CHACHA20_POLY1305_SHA256"]
        assert rows["pynacl"]["signature_schemes"] == ["ed25519"]


def test_providers_plain_table() -> None:
    result = runner.invoke(app, ["providers"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out  # no colour codes when not a TTY
    for name in available_providers():
        assert f"{name} (" in out
    assert "cryptography 50" in out or "cryptography " in out
    assert "rsa_pkcs1_sha256 (cert only)" in out
    assert "TLS_CHACHA20_POLY1305_SHA256" in out


def test_providers_rich_table_renders(monkeypatch) -> None:
    from tlskit.cli import providers_cmd

    printed = []
    monkeypatch.setattr(providers_cmd.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("rich.console.Console.print", lambda self, obj: printed.append(obj))
    providers_cmd.providers(as_json=False)
    (table,) = printed
    assert [c.header for c in table.columns] == ["provider", "library", "groups", "cipher suites", "signature schemes"]
    assert table.row_count == 3
