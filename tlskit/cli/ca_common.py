"""Shared pieces of the ``tlskit ca`` commands: options, error handling, opening the CA.

Rules every command follows: ``--dir`` picks the CA (default ``$TLSKIT_CA_DIR`` or the
per-user data directory); the CA passphrase comes from ``--passphrase-file`` or
``TLSKIT_CA_PASSPHRASE`` and is asked for only when standard input is a terminal;
failures print one ``error: ...`` line to stderr and exit 1; warnings print
``warning: ...`` to stderr; switches show no ``<bool>`` value in the help.
"""

from __future__ import annotations

import functools
import os
import pathlib
import sys
import warnings
from typing import Any, Callable, List, Optional, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from tlskit.ca import CAError, CertificateAuthority
from tlskit.errors import TLSError


class _Command(TyperCommand):
    """Every ca command: its --help is a switch, so no ``<bool>`` value column."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class _Group(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option



PASSPHRASE_ENV = "TLSKIT_CA_PASSPHRASE"
P12_PASSWORD_ENV = "TLSKIT_P12_PASSWORD"

F = TypeVar("F", bound=Callable[..., Any])

DirOption = typer.Option(
    None, "--dir", metavar="DIR", help="CA directory (default: $TLSKIT_CA_DIR or the per-user data directory)."
)
PassphraseFileOption = typer.Option(
    None, "--passphrase-file", metavar="FILE", help=f"File holding the CA key passphrase (or set {PASSPHRASE_ENV})."
)


def _flag(name: str, help: str) -> Any:
    """A boolean switch: no ``<bool>`` value column in the help (it takes no value)."""
    return typer.Option(False, name, metavar="", help=help)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


ProfileHelp = {
    "server": "TLS server certificate (serverAuth; the default for host names and IPs).",
    "client": "TLS client certificate (clientAuth, for mTLS).",
    "both": "TLS server and client authentication.",
    "email": "S/MIME certificate (emailProtection; the default for an email NAME).",
}
DaysHelp = "Validity in days (default 90)."
DurationHelp = "Validity as a duration instead of days: 15m, 12h, 90d, 2w, 1d12h."


def _fail(message: str) -> "typer.Exit":
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _one_line(exc: BaseException | str) -> str:
    """An exception, or a warning's message (a Warning or a plain str), as one printable line."""
    from tlskit.ca.inspect import printable

    text = str(exc).strip() or (type(exc).__name__ if isinstance(exc, BaseException) else "(empty message)")
    return printable(" ".join(text.split()))


def cli_errors(func: F) -> F:
    """Turn library errors into one stderr line + exit 1, and warnings into stderr lines."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return func(*args, **kwargs)
            except (CAError, TLSError) as exc:
                raise _fail(_one_line(exc)) from None
            except KeyboardInterrupt:
                raise _fail("interrupted") from None
            finally:
                seen = set()
                for warning in caught:
                    text = _one_line(warning.message)
                    if warning.category.__name__ == "CryptographyDeprecationWarning":
                        from tlskit.ca.verify import cryptography_warning_text

                        text = _one_line(cryptography_warning_text(warning.message))
                    if text not in seen:  # the same certificate read twice warns once
                        seen.add(text)
                        typer.echo(f"warning: {text}", err=True)

    return wrapper  # type: ignore[return-value]


def _read_secret_file(path: pathlib.Path, what: str) -> bytes:
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise CAError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    # Files written by `echo` end with a newline that is not part of the secret.
    data = data.rstrip(b"\r\n")
    if not data:
        raise CAError(f"{what} file {path} is empty")
    return data


def _passphrase(passphrase_file: Optional[pathlib.Path]) -> bytes | None:
    if passphrase_file is not None:
        return _read_secret_file(passphrase_file, "passphrase")
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode("utf-8")
    return None


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (ValueError, OSError):
        return False


def _open(
    directory: Optional[pathlib.Path],
    passphrase_file: Optional[pathlib.Path] = None,
    *,
    signing: bool = False,
) -> CertificateAuthority:
    """Load the CA; for signing commands, ask for the passphrase on a TTY if it is needed."""
    secret = _passphrase(passphrase_file)
    ca = CertificateAuthority.load(directory, passphrase=secret)
    if signing and ca.config.encrypted and secret is None:
        if not _stdin_is_tty():
            raise CAError(
                f"the CA keys are encrypted: set {PASSPHRASE_ENV} or use --passphrase-file"
            )
        entered = typer.prompt("CA passphrase", hide_input=True)
        ca = CertificateAuthority.load(directory, passphrase=entered.encode("utf-8"))
    return ca


def _profile(server: bool, client: bool, both: bool, email: bool = False, default: Optional[str] = "server") -> Optional[str]:
    chosen = [
        name for name, flag in (("server", server), ("client", client), ("both", both), ("email", email)) if flag
    ]
    if len(chosen) > 1:
        raise CAError("choose one of --server, --client, --both, --email")
    return chosen[0] if chosen else default


def _split(values: Optional[List[str]]) -> list[str]:
    """Repeated options and comma-separated lists, for values that cannot contain a comma
    (DNS names, IP ranges). Subject alternative names are never split: a URI may hold one."""
    result: list[str] = []
    for value in values or []:
        result.extend(part.strip() for part in value.split(",") if part.strip())
    return result


def _whole(values: Optional[List[str]]) -> list[str]:
    """Each repeated --san value as given (``URI:https://x.test/a,b`` is one name)."""
    return [value for value in values or [] if value.strip()]


def _print_issued(verb: str, issued: Any, profile: Optional[str], *, to_stderr: bool = False) -> None:
    until = issued.certificate.not_valid_after_utc
    kind = f", {profile}" if profile else ""
    lines = [f"{verb} {issued.name} (serial {issued.serial_hex}{kind}), valid until {until:%Y-%m-%d %H:%M} UTC"]
    if issued.sans:
        lines.append(f"  names: {', '.join(issued.sans)}")
    if issued.key_path is not None and issued.cert_path is not None:
        lines.append(f"  key:   {issued.key_path}")
    elif issued.cert_path is not None:
        lines.append("  key:   (held by the requester: the certificate was signed from a CSR)")
    if issued.cert_path is not None:
        lines.append(f"  cert:  {issued.cert_path}")
    if issued.chain_path is not None:
        lines.append(f"  chain: {issued.chain_path}")
    for line in lines:
        typer.echo(line, err=to_stderr)
