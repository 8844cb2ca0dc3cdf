"""``tlskit ca ...``: a thin command-line layer over :mod:`tlskit.ca`.

Rules every command follows: ``--dir`` picks the CA (default ``$TLSKIT_CA_DIR`` or the
per-user data directory); the CA passphrase comes from ``--passphrase-file`` or
``TLSKIT_CA_PASSPHRASE`` and is asked for only when standard input is a terminal;
failures print one ``error: ...`` line to stderr and exit 1; warnings print
``warning: ...`` to stderr; tables use rich on a terminal and plain tab-separated
text otherwise, so scripts can parse them.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from tlskit.ca import KEY_TYPES, CAError, CertificateAuthority, IndexRecord, default_directory
from tlskit.cli import ca_services_cmd
from tlskit.cli.ca_common import (  # noqa: F401 - re-exported: net_cmd and tests use some
    DaysHelp,
    DirOption,
    DurationHelp,
    P12_PASSWORD_ENV,
    PASSPHRASE_ENV,
    PassphraseFileOption,
    ProfileHelp,
    _Command,
    _Group,
    _fail,
    _flag,
    _one_line,
    _open,
    _passphrase,
    _plural,
    _print_issued,
    _profile,
    _read_secret_file,
    _split,
    _stdin_is_tty,
    _stdout_is_tty,
    _whole,
    cli_errors,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.serialization import Encoding

app = typer.Typer(
    help="A small certificate authority: issue, sign, revoke and renew certificates.",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print passphrases from a traceback's locals
)


@app.command(cls=_Command)
@cli_errors
def init(
    dir: Optional[pathlib.Path] = DirOption,
    name: str = typer.Option("tlskit Root CA", "--name", metavar="CN", help="Common name of the root certificate."),
    key_type: str = typer.Option("ecdsa-p256", "--key-type", metavar="TYPE", help=f"One of: {', '.join(KEY_TYPES)} (Ed25519: not accepted by browsers)."),
    no_intermediate: bool = _flag("--no-intermediate", "Sign leaves with the root itself (default: an intermediate)."),
    days: int = typer.Option(3650, "--days", metavar="N", help="Validity of the CA certificates."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
    permit_dns: Optional[List[str]] = typer.Option(
        None, "--permit-dns", metavar="DOMAIN",
        help="Only names in this DNS domain (corp.test: it and below; .corp.test: only below). Repeatable.",
    ),
    exclude_dns: Optional[List[str]] = typer.Option(
        None, "--exclude-dns", metavar="DOMAIN", help="Never names in this DNS domain. Repeatable."
    ),
    permit_ip: Optional[List[str]] = typer.Option(
        None, "--permit-ip", metavar="CIDR", help="Only IP addresses in this range (10.0.0.0/8). Repeatable."
    ),
    exclude_ip: Optional[List[str]] = typer.Option(
        None, "--exclude-ip", metavar="CIDR", help="Never IP addresses in this range. Repeatable."
    ),
    permit_email: Optional[List[str]] = typer.Option(
        None, "--permit-email", metavar="DOMAIN|ADDRESS",
        help="Only email addresses at this host (.corp.test: hosts below) or this mailbox. Repeatable.",
    ),
    exclude_email: Optional[List[str]] = typer.Option(
        None, "--exclude-email", metavar="DOMAIN|ADDRESS", help="Never these email addresses. Repeatable."
    ),
    permit_uri: Optional[List[str]] = typer.Option(
        None, "--permit-uri", metavar="DOMAIN", help="Only URIs whose host is in this domain. Repeatable."
    ),
    exclude_uri: Optional[List[str]] = typer.Option(
        None, "--exclude-uri", metavar="DOMAIN", help="Never URIs whose host is in this domain. Repeatable."
    ),
    crl_url: Optional[str] = typer.Option(
        None, "--crl-url", metavar="URL",
        help="Base URL of the CRLs (see serve-crl): issued certificates point at URL/intermediate.crl.",
    ),
    aia_url: Optional[str] = typer.Option(
        None, "--aia-url", metavar="URL",
        help="Base URL of the CA certificates: issued certificates point at URL/intermediate.crt (AIA).",
    ),
) -> None:
    """Create a new CA: a root and (by default) an intermediate that signs day to day."""
    from tlskit.ca.policy import NamePolicy

    secret = _passphrase(passphrase_file)
    policy = NamePolicy.build(
        permit_dns=_split(permit_dns), exclude_dns=_split(exclude_dns),
        permit_ip=_split(permit_ip), exclude_ip=_split(exclude_ip),
        permit_email=_whole(permit_email), exclude_email=_whole(exclude_email),
        permit_uri=_whole(permit_uri), exclude_uri=_whole(exclude_uri),
    )
    ca = CertificateAuthority.init(
        dir if dir is not None else default_directory(),
        name=name,
        key_type=key_type,
        intermediate=not no_intermediate,
        days=days,
        passphrase=secret,
        name_constraints=policy,
        crl_url=crl_url,
        aia_url=aia_url,
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
    for line in ca.policy.describe():
        typer.echo(f"  {line}")
    typer.echo(f"trust it elsewhere with: tlskit ca root --dir {ca.directory} --out root.pem")


@app.command(cls=_Command)
@cli_errors
def issue(
    name: str = typer.Argument(..., help="Certificate name: host name, IP, email or label (always one of its names when it is a host, IP or email)."),
    dir: Optional[pathlib.Path] = DirOption,
    san: Optional[List[str]] = typer.Option(
        None, "--san", metavar="NAME",
        help="One more name: DNS:, IP:, email: or URI: prefix, or a bare host/IP/email; one per --san, repeatable.",
    ),
    server: bool = _flag("--server", ProfileHelp["server"]),
    client: bool = _flag("--client", ProfileHelp["client"]),
    both: bool = _flag("--both", ProfileHelp["both"]),
    email: bool = _flag("--email", ProfileHelp["email"]),
    key_type: str = typer.Option("ecdsa-p256", "--key-type", metavar="TYPE", help=f"One of: {', '.join(KEY_TYPES)} (Ed25519: not accepted by browsers)."),
    days: Optional[int] = typer.Option(None, "--days", metavar="N", help=DaysHelp),
    duration: Optional[str] = typer.Option(None, "--duration", metavar="TIME", help=DurationHelp),
    out: Optional[pathlib.Path] = typer.Option(None, "--out", metavar="DIR", help="Output directory (default: <CA dir>/issued)."),
    force: bool = _flag("--force", "Replace existing files of the same name."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Create a key and a certificate: writes NAME.key (0600), NAME.crt and NAME.chain.pem."""
    profile = _profile(server, client, both, email, default=None)
    ca = _open(dir, passphrase_file, signing=True)
    issued = ca.issue(
        name,
        sans=_whole(san) or None,
        profile=profile,
        key_type=key_type,
        days=days,
        duration=duration,
        out_dir=out,
        force=force,
    )
    _print_issued("issued", issued, ca.find(issued.serial_hex)[0].profile)


@app.command(cls=_Command)
@cli_errors
def sign(
    csr: pathlib.Path = typer.Argument(..., help="PEM or DER certificate signing request (one per file)."),
    dir: Optional[pathlib.Path] = DirOption,
    san: Optional[List[str]] = typer.Option(
        None, "--san", metavar="NAME",
        help="The certificate's names, replacing the CSR's (default: its SANs, else its CN when that is a host, IP or email). Repeatable.",
    ),
    server: bool = _flag("--server", ProfileHelp["server"]),
    client: bool = _flag("--client", ProfileHelp["client"]),
    both: bool = _flag("--both", ProfileHelp["both"]),
    email: bool = _flag("--email", ProfileHelp["email"]),
    days: Optional[int] = typer.Option(None, "--days", metavar="N", help=DaysHelp),
    duration: Optional[str] = typer.Option(None, "--duration", metavar="TIME", help=DurationHelp),
    out: Optional[pathlib.Path] = typer.Option(None, "--out", metavar="FILE", help="Write the certificate here (and <stem>.chain.pem); default: the chain on stdout."),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Index name (default: the CSR's common name)."),
    force: bool = _flag("--force", "Replace existing output files."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Sign a CSR after checking its self-signature; the CA chooses every extension."""
    from tlskit.ca.files import read_file

    profile = _profile(server, client, both, email) or "server"
    data = read_file(csr, "CSR")
    ca = _open(dir, passphrase_file, signing=True)
    issued = ca.sign_csr(
        data, profile=profile, days=days, duration=duration, out=out, name=name, sans=_whole(san) or None, force=force
    )
    if out is None:
        # No file asked for: the chain goes to stdout, ready to redirect.
        sys.stdout.write(issued.certificate.public_bytes(_pem_encoding()).decode("ascii"))
        sys.stdout.write(ca.intermediates_pem().decode("ascii"))
        _print_issued("signed", issued, profile, to_stderr=True)
    else:
        _print_issued("signed", issued, profile)


def _pem_encoding() -> "Encoding":
    # Imported on use: the CLI keeps its start-up light.
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


def _reason_help() -> str:
    from tlskit.ca.crl import REASON_CHOICES

    return "Revocation reason, one of: " + ", ".join(REASON_CHOICES) + "."


@app.command(cls=_Command)
@cli_errors
def revoke(
    target: Optional[str] = typer.Argument(None, metavar="SERIAL|NAME", help="Serial (hex) or name of the certificate."),
    dir: Optional[pathlib.Path] = DirOption,
    reason: Optional[str] = typer.Option(None, "--reason", metavar="REASON", help=_reason_help()),
    intermediate: bool = _flag("--intermediate", "Revoke the CA's own intermediate (listed on the root's CRL; the CA then issues nothing more)."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Mark a certificate (or every unrevoked certificate of a name) revoked; publish with `tlskit ca crl`."""
    from tlskit.ca.crl import reason_label

    ca = _open(dir, passphrase_file)
    if intermediate:
        if target is not None:
            raise CAError("give either SERIAL|NAME or --intermediate")
        cert = ca.revoke_intermediate(reason)
        typer.echo(f"revoked the intermediate {cert.subject.rfc4514_string()} (serial {cert.serial_number:x});"
                   " publish with: tlskit ca crl")
        return
    if target is None:
        raise CAError("give the serial or name of the certificate to revoke (or --intermediate)")
    for record in ca.revoke(target, reason=reason):
        suffix = f", reason {reason_label(record.reason)}" if record.reason else ""
        typer.echo(f"revoked {record.name} (serial {record.serial}){suffix}")


@app.command(cls=_Command)
@cli_errors
def crl(
    dir: Optional[pathlib.Path] = DirOption,
    out: Optional[pathlib.Path] = typer.Option(None, "--out", metavar="FILE", help="Write the CRLs here (default: stdout)."),
    days: int = typer.Option(7, "--days", metavar="N", help="Days until nextUpdate."),
    force: bool = _flag("--force", "Replace an existing --out file that is not a CRL."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Write the CRL of every issuing level, PEM, one after another: the intermediate's
    (leaves), then the root's (the intermediate). One file serves
    `openssl verify -crl_check_all -CRLfile FILE`; saved in the CA directory too."""
    ca = _open(dir, passphrase_file, signing=True)
    pem = ca.crl(days=days, out=out, force=force)
    if out is None:
        sys.stdout.write(pem.decode("ascii"))
    else:
        typer.echo(f"wrote {out}")


def _rows(records: list[IndexRecord]) -> list[list[str]]:
    from tlskit.ca.crl import reason_label
    from tlskit.ca.inspect import printable

    return [
        [
            r.serial,
            r.name,
            printable(r.subject),  # a signed CSR chose it: never raw to a terminal
            ",".join(r.sans) or "-",
            r.not_after.strftime("%Y-%m-%d"),
            r.status + (f" ({reason_label(r.reason)})" if r.revoked and r.reason else ""),
        ]
        for r in records
    ]


@app.command("list", cls=_Command)
@cli_errors
def list_(
    dir: Optional[pathlib.Path] = DirOption,
    as_json: bool = _flag("--json", "One JSON array of records."),
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
                        "superseded_by": r.superseded_by,
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

        table = Table(title=f"{ca.name} ({_plural(len(records), 'certificate')})")
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
    """A certificate file, else the index record of that name or serial."""
    from tlskit.ca.files import read_file

    path = pathlib.Path(target).expanduser()
    if path.exists():
        return read_file(path, "certificate")
    records = _open(directory).find(target)
    if not records:
        raise CAError(f"{target} is neither a file nor a name or serial in the CA index")
    return _open(directory).resolve(target, purpose="show").cert_pem


def _not_a_certificate(data: bytes, source: str) -> Optional[str]:
    """What ``data`` is when it is a known non-certificate format (for a useful message)."""
    head = data.lstrip()[:64]
    for marker, what in (
        (b"-----BEGIN CERTIFICATE REQUEST", "a certificate signing request"),
        (b"-----BEGIN NEW CERTIFICATE REQUEST", "a certificate signing request"),
        (b"-----BEGIN X509 CRL", "a CRL (inspect it with: openssl crl -noout -text -in FILE)"),
        (b"-----BEGIN PRIVATE KEY", "a private key"),
        (b"-----BEGIN ENCRYPTED PRIVATE KEY", "a private key"),
        (b"-----BEGIN EC PRIVATE KEY", "a private key"),
        (b"-----BEGIN RSA PRIVATE KEY", "a private key"),
    ):
        if head.startswith(marker):
            return f"{source} is {what}, not a certificate"
    if source.lower().endswith((".p12", ".pfx")) or (data[:1] == b"\x30" and b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07" in data[:40]):
        return (f"{source} is a PKCS#12 bundle, not a certificate; list its certificates with:"
                f" openssl pkcs12 -in {source} -nokeys")
    return None


@app.command(cls=_Command)
@cli_errors
def show(
    cert: str = typer.Argument(..., help="Certificate file, or a name or serial from the index."),
    dir: Optional[pathlib.Path] = DirOption,
) -> None:
    """Print a certificate (and any chain in the file) in human-readable form."""
    from tlskit.ca.inspect import describe
    from tlskit.ca.verify import load_pem_certificates

    data = _certificate_source(cert, dir)
    try:
        certs = load_pem_certificates(data)
    except CAError:
        raise CAError(_not_a_certificate(data, cert) or f"{cert} is not a readable PEM or DER certificate") from None
    typer.echo("\n\n".join(describe(c) for c in certs))


@app.command(cls=_Command)
@cli_errors
def verify(
    cert: pathlib.Path = typer.Argument(..., help="Certificate (or chain) file to check."),
    dir: Optional[pathlib.Path] = DirOption,
    host: Optional[str] = typer.Option(None, "--host", metavar="NAME", help="Check the certificate is valid for this DNS name or IP."),
    crl: Optional[pathlib.Path] = typer.Option(None, "--crl", metavar="FILE", help="Also reject certificates this CRL revokes (the CA's own revocations always count)."),
    usage: Optional[str] = typer.Option(None, "--usage", metavar="USAGE", help="server or client (default: from the certificate)."),
) -> None:
    """Validate a certificate against this CA with tlskit.pki and the CA's revocations."""
    if usage not in (None, "server", "client"):
        raise CAError(f"--usage must be server or client, not {usage!r}")
    from tlskit.ca.inspect import printable
    from tlskit.ca.verify import load_pem_certificates
    from tlskit.pki import CertificateError

    ca = _open(dir)
    first = load_pem_certificates(cert)[0]
    if first == ca.root_certificate:
        typer.echo(f"{cert}: this CA's root certificate (the trust anchor itself; install it with: tlskit ca install)")
        return
    if first == ca.intermediate_certificate:
        revoked = ca.intermediate_revocation()
        if revoked is not None:
            raise CAError(f"{cert}: rejected: this CA's intermediate, revoked {revoked}")
        typer.echo(f"{cert}: this CA's intermediate certificate (issued by its root, not revoked)")
        return
    try:
        path = ca.verify(cert, host=host, crl=crl, usage=usage)
    except CertificateError as exc:
        raise CAError(f"{cert}: rejected: {_one_line(exc)}") from None
    chain = " <- ".join(printable(c.subject.rfc4514_string()) for c in path.certificates)
    typer.echo(f"{cert}: OK ({chain})" + (f", valid for {host}" if host else ""))


@app.command(cls=_Command)
@cli_errors
def export(
    name: str = typer.Argument(..., help="Name (or serial) of an issued certificate."),
    p12: pathlib.Path = typer.Option(..., "--p12", metavar="FILE", help="Write a PKCS#12 bundle (key, certificate, intermediate) here."),
    dir: Optional[pathlib.Path] = DirOption,
    password_file: Optional[pathlib.Path] = typer.Option(
        None, "--password-file", metavar="FILE", help=f"File holding the PKCS#12 password (or set {P12_PASSWORD_ENV})."
    ),
    no_password: bool = _flag("--no-password", "Write the bundle unencrypted (anyone who reads the file has the key)."),
    legacy: bool = _flag("--legacy", "3DES and a SHA-1 MAC, for old Windows and Java that cannot read AES-encrypted PKCS#12."),
    force: bool = _flag("--force", "Replace an existing file."),
) -> None:
    """Bundle key, certificate and chain in a PKCS#12 file (password-protected unless --no-password)."""
    password: Optional[bytes]
    if no_password:
        if password_file is not None:
            raise CAError("--no-password and --password-file contradict each other")
        password = None
    elif password_file is not None:
        password = _read_secret_file(password_file, "password")
    elif os.environ.get(P12_PASSWORD_ENV):
        password = os.environ[P12_PASSWORD_ENV].encode("utf-8")
    elif _stdin_is_tty():
        password = typer.prompt("PKCS#12 password", hide_input=True, confirmation_prompt=True).encode("utf-8")
    else:
        raise CAError(
            f"a PKCS#12 export needs a password: use --password-file, set {P12_PASSWORD_ENV}, or --no-password"
        )
    ca = _open(dir)
    path = ca.export_p12(name, p12, password, force=force, legacy=legacy)
    kind = "unencrypted" if password is None else "legacy 3DES/SHA-1" if legacy else "AES-256"
    typer.echo(f"wrote {path} ({kind})")


NOTHING_DUE_EXIT = ca_services_cmd.NOTHING_DUE_EXIT


@app.command(cls=_Command)
@cli_errors
def renew(
    name: Optional[str] = typer.Argument(None, help="Name or serial of an issued certificate (omit with --before)."),
    dir: Optional[pathlib.Path] = DirOption,
    before: Optional[str] = typer.Option(
        None, "--before", metavar="FRACTION",
        help=f"Renew every current certificate with less than this share of its lifetime left (1/3, 25%%); exit 0 if any was renewed, {NOTHING_DUE_EXIT} if none was due, 1 on errors.",
    ),
    days: Optional[int] = typer.Option(None, "--days", metavar="N", help="Validity in days (default: as before)."),
    duration: Optional[str] = typer.Option(None, "--duration", metavar="TIME", help=DurationHelp),
    rekey: bool = _flag("--rekey", "Generate a new key instead of keeping the old one."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Issue a fresh certificate for NAME with the same names and files; the old one is marked superseded."""
    ca = _open(dir, passphrase_file, signing=True)
    if before is not None:
        if name is not None or days is not None or duration is not None:
            raise CAError("--before renews every due certificate with its own validity: give no NAME, --days or --duration")
        ca_services_cmd.renew_due(ca, before, rekey)
        return
    if name is None:
        raise CAError("give the NAME (or serial) to renew, or --before FRACTION to renew what is due")
    issued = ca.renew(name, days=days, duration=duration, rekey=rekey)
    _print_issued("renewed", issued, None)


@app.command(cls=_Command)
@cli_errors
def root(
    dir: Optional[pathlib.Path] = DirOption,
    out: Optional[pathlib.Path] = typer.Option(None, "--out", metavar="FILE", help="Write the root certificate here (default: stdout)."),
    force: bool = _flag("--force", "Replace an existing file (never one of the CA's own)."),
) -> None:
    """Print (or write) the root certificate, to trust this CA elsewhere."""
    ca = _open(dir)
    if out is None:
        sys.stdout.write(ca.root_pem().decode("ascii"))
    else:
        typer.echo(f"wrote {ca.write_root(out, force=force)}")


@app.command(cls=_Command)
@cli_errors
def check(
    dir: Optional[pathlib.Path] = DirOption,
    clean: bool = _flag("--clean", "Delete temporaries and half-built CAs left by killed processes."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Check the CA directory for damage (CA files, index, unrecorded, mismatched or missing files)."""
    ca = _open(dir, passphrase_file)
    problems = ca.check()
    for problem in problems:
        typer.echo(problem)
    if clean:
        for path in ca.remove_leftovers():
            typer.echo(f"removed leftover {path}")
    leftovers = ca.leftovers()
    for path in leftovers:
        typer.echo(f"leftover: {path}", err=True)
    if leftovers:
        typer.echo(
            f"note: {_plural(len(leftovers), 'leftover')} of interrupted writes or inits"
            + ("" if clean else " (remove with --clean)"),
            err=True,
        )
    if problems:
        raise _fail(f"{_plural(len(problems), 'problem')} found in {ca.directory}")
    typer.echo(f"{ca.directory}: consistent ({_plural(len(ca.list()), 'certificate')})")


@app.command(cls=_Command)
@cli_errors
def acme(
    dir: Optional[pathlib.Path] = DirOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; also the host of the directory URL."),
    port: int = typer.Option(14000, "--port", help="HTTPS port of the ACME server."),
    validation_address: Optional[str] = typer.Option(
        None, "--validation-address", help="Validate every identifier at this IP instead of resolving it (tests)."
    ),
    http01_port: int = typer.Option(80, "--http-01-port", help="Port the http-01 validator connects to."),
    tls_alpn01_port: int = typer.Option(443, "--tls-alpn-01-port", help="Port the tls-alpn-01 validator connects to."),
    days: int = typer.Option(90, "--days", help="Validity of the certificates issued through ACME."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Serve ACME (RFC 8555) for this CA at https://HOST:PORT/directory until interrupted."""
    import signal

    from tlskit.ca.acme import AcmeServer

    ca = _open(dir, passphrase_file, signing=True)
    server = AcmeServer(
        ca, host, port, validation_address=validation_address,
        http01_port=http01_port, tls_alpn01_port=tls_alpn01_port, days=days,
    )

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    typer.echo(f"ACME directory: {server.directory_url}")
    typer.echo(f"trust anchor:   {ca.root_path}")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


# Services and machine-wide commands live in tlskit.cli.ca_services_cmd.
app.command("serve-crl", cls=_Command)(ca_services_cmd.serve_crl)
app.command("install", cls=_Command)(ca_services_cmd.install)
app.command("uninstall", cls=_Command)(ca_services_cmd.uninstall)
