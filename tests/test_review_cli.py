"""Review findings in the command line: the console script's every error is one
`error: ...` line and a non-zero exit (usage mistakes and internal errors included),
and no traceback (which could show secrets) reaches the user."""

from __future__ import annotations

import pytest

from tlskit.cli import main as cli_main


def run_main(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main.main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "abc"],
        ["ca", "issue"],
        ["ca", "nosuch"],
        ["connect"],
        ["nosuch"],
        ["connect", "localhost:1", "--timeout", "soon"],
        ["ca", "init", "--days", "x"],
        ["serve", "--port", "1", "--cert", "c", "--key", "k", "--mode", "gopher"],
    ],
)
def test_usage_errors_are_one_line(argv, capsys):
    code, out, err = run_main(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "--help" in lines[0]


def test_no_arguments_still_shows_help(capsys):
    code, out, err = run_main([], capsys)
    assert code == 2 and "Usage" in out + err


def test_help_and_success_exit_zero(capsys):
    assert run_main(["--help"], capsys)[0] == 0
    assert run_main(["ca", "--help"], capsys)[0] == 0
    code, out, _ = run_main(["version"], capsys)
    assert code == 0 and out.strip()


def test_command_exit_codes_pass_through(capsys, tmp_path):
    code, _, err = run_main(["ca", "list", "--dir", str(tmp_path / "none")], capsys)
    assert code == 1 and err.startswith("error: no CA in")


def test_internal_error_is_one_line_without_traceback_or_locals(capsys, monkeypatch, tmp_path):
    from tlskit.cli import ca_cmd

    def broken(*args, **kwargs):
        passphrase = b"hunter2-do-not-print"  # noqa: F841 - a local a traceback would show
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(ca_cmd.CertificateAuthority, "load", broken)
    monkeypatch.delenv(cli_main.DEBUG_ENV, raising=False)
    code, out, err = run_main(["ca", "list", "--dir", str(tmp_path)], capsys)
    assert code == 1
    assert err.strip().splitlines() == [
        f"error: internal error: RuntimeError: simulated bug (set {cli_main.DEBUG_ENV}=1 for the traceback)"
    ]
    assert "hunter2" not in out + err
    monkeypatch.setenv(cli_main.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError):
        cli_main.main(["ca", "list", "--dir", str(tmp_path)])


def test_typer_apps_never_show_locals():
    from tlskit.cli import ca_cmd

    assert cli_main.app.pretty_exceptions_show_locals is False
    assert ca_cmd.app.pretty_exceptions_show_locals is False
