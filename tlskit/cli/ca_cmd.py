"""``tlskit ca ...``: a thin command-line layer over :mod:`tlskit.ca`.

Rules every command follows: ``--dir`` picks the CA (default ``$TLSKIT_CA_DIR`` or the
per-user data directory); the CA passphrase comes from ``--passphrase-file`` or
``TLSKIT_CA_PASSPHRASE`` and is asked for only when standard input is a terminal;
failures print one ``error: ...`` line to stderr and exit 1; warnings print
``warning: ...`` to stderr; tables use rich on a terminal and plain tab-separated
text otherwise, so scripts can parse them.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import sys
import warnings
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TypeVar

import typer

from tlskit.ca import KEY_TYPES, CAError, CertificateAuthority, IndexRecord
from tlskit.errors import TLSError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.serialization import Encoding

app = typer.Typer(
    help="A small certificate authority: issue, sign, revoke and renew certificates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print passphrases from a traceback's locals
)

PASSPHRASE_ENV = "TLSKIT_CA_PASSPHRASE"
P12_PASSWORD_ENV = "TLSKIT_P12_PASSWORD"

F = TypeVar("F", bound=Callable[..., Any])

DirOption = typer.Option(
    None, "--dir", help="CA directory (default: $TLSKIT_CA_DIR or the per-user data directory)."
)
PassphraseFileOption = typer.Option(
    None, "--passphrase-file", help=f"File holding the CA key passphrase (or set {PASSPHRASE_ENV})."
)


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
                for warning in caught:
                    typer.echo(f"warning: {_one_line(warning.message)}", err=True)

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


def _profile(server: bool, client: bool, both: bool) -> str:
    chosen = [name for name, flag in (("server", server), ("client", client), ("both", both)) if flag]
    if len(chosen) > 1:
        raise CAError("choose one of --server, --client, --both")
    return chosen[0] if chosen else "server"


def _split(values: Optional[List[str]]) -> list[str]:
    """Repeated options and comma-separated lists are the same thing."""
    result: list[str] = []
    for value in values or []:
        result.extend(part.strip() for part in value.split(",") if part.strip())
    return result


@app.command()
@cli_errors
def init(
    dir: Optional[pathlib.Path] = DirOption,
    name: str = typer.Option("tlskit Root CA", "--name", help="Common name of the root certificate."),
    key_type: str = typer.Option("ecdsa-p256", "--key-type", help=f"One of: {', '.join(KEY_TYPES)}."),
    intermediate: bool = typer.Option(
        True, "--intermediate/--no-intermediate", help="Sign leaves with an intermediate."
    ),
    days: int = typer.Option(3650, "--days", help="Validity of the CA certificates."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
    permit_dns: Optional[List[str]] = typer.Option(
        None, "--permit-dns", help="Name-constrain the CA to these DNS domains (repeat or comma-separate)."
    ),
) -> None:
    """Create a new CA: a root and (by default) an intermediate that signs day to day."""
    secret = _passphrase(passphrase_file)
    ca = CertificateAuthority.init(
        dir,
        name=name,
        key_type=key_type,
        intermediate=intermediate,
        days=days,
        passphrase=secret,
        permit_dns=_split(permit_dns) or None,
    )
    if secret is None:
        typer.echo(
            "warning: CA keys are stored unencrypted (mode 0600);"
            f" use --passphrase-file or {PASSPHRASE_ENV} to encrypt them",
            err=True,
        )
    typer.echo(f"created CA {ca.name!r} in {ca.directory}")
    typer.echo(f"  root:         {ca.root_path}")
    if ca.intermediate_path is not None:
        typer.echo(f"  intermediate: {ca.intermediate_path}")
    typer.echo(f"trust it elsewhere with: tlskit ca root --dir {ca.directory} --out root.pem")


@app.command()
@cli_errors
def issue(
    name: str = typer.Argument(..., help="Certificate name: host name, IP, email or label."),
    dir: Optional[pathlib.Path] = DirOption,
    san: Optional[List[str]] = typer.Option(
        None, "--san", help="DNS name, IP, email or URI (DNS:/IP:/email:/URI: prefixes accepted); repeatable."
    ),
    server: bool = typer.Option(False, "--server", help="Server authentication (default)."),
    client: bool = typer.Option(False, "--client", help="Client authentication (mTLS)."),
    both: bool = typer.Option(False, "--both", help="Server and client authentication."),
    key_type: str = typer.Option("ecdsa-p256", "--key-type", help=f"One of: {', '.join(KEY_TYPES)}."),
    days: int = typer.Option(90, "--days", help="Validity in days."),
    out: Optional[pathlib.Path] = typer.Option(None, "--out", help="Output directory (default: <CA dir>/issued)."),
    force: bool = typer.Option(False, "--force", help="Replace existing files of the same name."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Create a key and a certificate: writes NAME.key (0600), NAME.crt and NAME.chain.pem."""
    profile = _profile(server, client, both)
    ca = _open(dir, passphrase_file, signing=True)
    issued = ca.issue(
        name,
        sans=_split(san) or None,
        profile=profile,
        key_type=key_type,
        days=days,
        out_dir=out,
        force=force,
    )
    typer.echo(f"issued {issued.name} (serial {issued.serial_hex}, {profile})")
    typer.echo(f"  key:   {issued.key_path}")
    typer.echo(f"  cert:  {issued.cert_path}")
    typer.echo(f"  chain: {issued.chain_path}")


@app.command()
@cli_errors
def sign(
    csr: pathlib.Path = typer.Argument(..., help="PEM or DER certificate signing request."),
    dir: Optional[pathlib.Path] = DirOption,
    server: bool = typer.Option(False, "--server"),
    client: bool = typer.Option(False, "--client"),
    both: bool = typer.Option(False, "--both"),
    days: int = typer.Option(90, "--days"),
    out: Optional[pathlib.Path] = typer.Option(None, "--out", help="Write the certificate here (and <stem>.chain.pem)."),
    name: Optional[str] = typer.Option(None, "--name", help="Index name (default: the CSR's common name)."),
    force: bool = typer.Option(False, "--force"),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Sign a CSR after checking its self-signature; the CA chooses every extension."""
    from tlskit.ca.files import read_file

    profile = _profile(server, client, both)
    data = read_file(csr, "CSR")
    ca = _open(dir, passphrase_file, signing=True)
    issued = ca.sign_csr(data, profile=profile, days=days, out=out, name=name, force=force)
    if out is None:
        # No file asked for: the chain goes to stdout, ready to redirect.
        sys.stdout.write(issued.certificate.public_bytes(_pem_encoding()).decode("ascii"))
        sys.stdout.write(ca.intermediates_pem().decode("ascii"))
        typer.echo(f"signed {issued.name} (serial {issued.serial_hex}, {profile})", err=True)
    else:
        typer.echo(f"signed {issued.name} (serial {issued.serial_hex}, {profile})")
        typer.echo(f"  cert:  {issued.cert_path}")
        typer.echo(f"  chain: {issued.chain_path}")


def _pem_encoding() -> "Encoding":
    # Imported on use: the CLI keeps its start-up light.
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


@app.command()
@cli_errors
def revoke(
    target: str = typer.Argument(..., metavar="SERIAL|NAME", help="Serial (hex) or name of the certificate."),
    dir: Optional[pathlib.Path] = DirOption,
    reason: Optional[str] = typer.Option(
        None, "--reason", help="e.g. key-compromise, superseded, cessation-of-operation."
    ),
) -> None:
    """Mark a certificate (or every unrevoked certificate of a name) revoked; publish with `tlskit ca crl`."""
    ca = _open(dir)
    for record in ca.revoke(target, reason=reason):
        suffix = f", reason {record.reason}" if record.reason else ""
        typer.echo(f"revoked {record.name} (serial {record.serial}){suffix}")


@app.command()
@cli_errors
def crl(
    dir: Optional[pathlib.Path] = DirOption,
    out: Optional[pathlib.Path] = typer.Option(None, "--out", help="Also write the CRL here (default: stdout)."),
    days: int = typer.Option(7, "--days", help="Days until nextUpdate."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file that is not a CRL."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Write a CRL signed by the issuing CA (saved as <CA dir>/crl.pem too)."""
    ca = _open(dir, passphrase_file, signing=True)
    pem = ca.crl(days=days, out=out, force=force)
    if out is None:
        sys.stdout.write(pem.decode("ascii"))
    else:
        typer.echo(f"wrote {out}")


def _rows(records: list[IndexRecord]) -> list[list[str]]:
    from tlskit.ca.inspect import printable

    return [
        [
            r.serial,
            r.name,
            printable(r.subject),  # a signed CSR chose it: never raw to a terminal
            ",".join(r.sans) or "-",
            r.not_after.strftime("%Y-%m-%d"),
            r.status,
        ]
        for r in records
    ]


@app.command("list")
@cli_errors
def list_(
    dir: Optional[pathlib.Path] = DirOption,
    as_json: bool = typer.Option(False, "--json", help="One JSON array of records."),
) -> None:
    """Every issued certificate: serial, name, SANs, not-after, status."""
    ca = _open(dir)
    records = ca.list()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "serial": r.serial,
                        "name": r.name,
                        "subject": r.subject,
                        "sans": list(r.sans),
                        "not_before": r.not_before.isoformat(),
                        "not_after": r.not_after.isoformat(),
                        "profile": r.profile,
                        "key_type": r.key_type,
                        "status": r.status,
                        "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                        "reason": r.reason,
                    }
                    for r in records
                ],
                indent=2,
            )
        )
        return
    headers = ["SERIAL", "NAME", "SUBJECT", "SANS", "NOT AFTER", "STATUS"]
    if _stdout_is_tty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{ca.name} ({len(records)} issued)")
        for header in headers:
            # Fold instead of truncating: a serial cut with an ellipsis is useless to `revoke`.
            table.add_column(header, overflow="fold")
        for row in _rows(records):
            table.add_row(*row)
        Console().print(table)
    else:
        typer.echo("\t".join(headers))
        for row in _rows(records):
            typer.echo("\t".join(row))


def _certificate_source(target: str, directory: Optional[pathlib.Path]) -> bytes:
    """A certificate file, else the newest index record of that name or serial."""
    from tlskit.ca.files import read_file

    path = pathlib.Path(target).expanduser()
    if path.exists():
        return read_file(path, "certificate")
    records = _open(directory).find(target)
    if not records:
        raise CAError(f"{target} is neither a file nor a name or serial in the CA index")
    return records[-1].cert_pem


@app.command()
@cli_errors
def show(
    cert: str = typer.Argument(..., help="Certificate file, or a name or serial from the index."),
    dir: Optional[pathlib.Path] = DirOption,
) -> None:
    """Print a certificate (and any chain in the file) in human-readable form."""
    from tlskit.ca.inspect import describe
    from tlskit.ca.verify import load_pem_certificates

    certs = load_pem_certificates(_certificate_source(cert, dir))
    typer.echo("\n\n".join(describe(c) for c in certs))


@app.command()
@cli_errors
def verify(
    cert: pathlib.Path = typer.Argument(..., help="Certificate (or chain) file to check."),
    dir: Optional[pathlib.Path] = DirOption,
    host: Optional[str] = typer.Option(None, "--host", help="Check the certificate is valid for this DNS name or IP."),
    crl: Optional[pathlib.Path] = typer.Option(None, "--crl", help="Reject the certificate if this CRL revokes it."),
    usage: Optional[str] = typer.Option(None, "--usage", help="server or client (default: from the certificate)."),
) -> None:
    """Validate a certificate against this CA with tlskit.pki."""
    if usage not in (None, "server", "client"):
        raise CAError(f"--usage must be server or client, not {usage!r}")
    from tlskit.pki import CertificateError

    ca = _open(dir)
    try:
        path = ca.verify(cert, host=host, crl=crl, usage=usage)
    except CertificateError as exc:
        raise CAError(f"{cert}: rejected: {_one_line(exc)}") from None
    from tlskit.ca.inspect import printable

    chain = " <- ".join(printable(c.subject.rfc4514_string()) for c in path.certificates)
    typer.echo(f"{cert}: OK ({chain})" + (f", valid for {host}" if host else ""))


@app.command()
@cli_errors
def export(
    name: str = typer.Argument(..., help="Name (or serial) of an issued certificate."),
    p12: pathlib.Path = typer.Option(..., "--p12", help="Write a PKCS#12 bundle here."),
    dir: Optional[pathlib.Path] = DirOption,
    password_file: Optional[pathlib.Path] = typer.Option(
        None, "--password-file", help=f"File holding the PKCS#12 password (or set {P12_PASSWORD_ENV})."
    ),
    force: bool = typer.Option(False, "--force"),
) -> None:
    """Bundle key, certificate and chain in a password-protected PKCS#12 file."""
    if password_file is not None:
        password = _read_secret_file(password_file, "password")
    elif os.environ.get(P12_PASSWORD_ENV):
        password = os.environ[P12_PASSWORD_ENV].encode("utf-8")
    elif _stdin_is_tty():
        password = typer.prompt("PKCS#12 password", hide_input=True, confirmation_prompt=True).encode("utf-8")
    else:
        raise CAError(f"a PKCS#12 export needs a password: use --password-file or set {P12_PASSWORD_ENV}")
    ca = _open(dir)
    path = ca.export_p12(name, p12, password, force=force)
    typer.echo(f"wrote {path}")


@app.command()
@cli_errors
def renew(
    name: str = typer.Argument(..., help="Name of an issued certificate."),
    dir: Optional[pathlib.Path] = DirOption,
    days: Optional[int] = typer.Option(None, "--days", help="Validity (default: as before)."),
    rekey: bool = typer.Option(False, "--rekey", help="Generate a new key instead of keeping the old one."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Issue a fresh certificate for NAME with the same names and files."""
    ca = _open(dir, passphrase_file, signing=True)
    issued = ca.renew(name, days=days, rekey=rekey)
    until = issued.certificate.not_valid_after_utc
    typer.echo(f"renewed {issued.name} (serial {issued.serial_hex}, until {until:%Y-%m-%d})")
    typer.echo(f"  key:   {issued.key_path}")
    typer.echo(f"  cert:  {issued.cert_path}")
    typer.echo(f"  chain: {issued.chain_path}")


@app.command()
@cli_errors
def root(
    dir: Optional[pathlib.Path] = DirOption,
    out: Optional[pathlib.Path] = typer.Option(None, "--out", help="Write the root certificate here (default: stdout)."),
    force: bool = typer.Option(False, "--force"),
) -> None:
    """Print (or write) the root certificate, to trust this CA elsewhere."""
    from tlskit.ca.files import atomic_write

    ca = _open(dir)
    pem = ca.root_pem()
    if out is None:
        sys.stdout.write(pem.decode("ascii"))
    else:
        atomic_write(out.expanduser(), pem, overwrite=force)
        typer.echo(f"wrote {out}")


@app.command()
@cli_errors
def check(
    dir: Optional[pathlib.Path] = DirOption,
    clean: bool = typer.Option(False, "--clean", help="Delete temporaries left by killed processes."),
) -> None:
    """Check the CA directory for damage (index integrity, unrecorded or mismatched files)."""
    from tlskit.ca.check import find_leftovers, remove_leftovers

    ca = _open(dir)
    problems = ca.check()
    for problem in problems:
        typer.echo(problem)
    if clean:
        for path in remove_leftovers(ca):
            typer.echo(f"removed leftover temporary {path}")
    leftovers = find_leftovers(ca)
    if leftovers:
        typer.echo(f"note: {len(leftovers)} temporary file(s) from interrupted writes (remove with --clean)", err=True)
    if problems:
        raise _fail(f"{len(problems)} problem(s) found in {ca.directory}")
    typer.echo(f"{ca.directory}: consistent ({len(ca.list())} certificates)")
