"""``tlskit ca`` commands that run services or touch the machine: ``serve-crl``,
``install``/``uninstall`` (trust stores) and ``renew --before`` (cron). Registered by
:mod:`tlskit.cli.ca_cmd`."""

from __future__ import annotations

import pathlib
from typing import List, Optional

import typer

from tlskit.ca import CAError, CertificateAuthority
from tlskit.cli.ca_common import (
    DirOption,
    PassphraseFileOption,
    _fail,
    _one_line,
    _open,
    _plural,
    _print_issued,
    cli_errors,
)

#: ``renew --before``: exit status when nothing was due (0 when something was renewed).
NOTHING_DUE_EXIT = 3


def renew_due(ca: CertificateAuthority, before: str, rekey: bool) -> None:
    from tlskit.ca.policy import parse_fraction

    results = ca.renew_due(parse_fraction(before), rekey=rekey)
    failed = [r for r in results if r.error is not None]
    for result in results:
        if result.issued is not None:
            _print_issued("renewed", result.issued, None)
        else:
            typer.echo(f"error: {result.record.name} (serial {result.record.serial}): {_one_line(result.error or '')}", err=True)
    if failed:
        raise typer.Exit(1)
    if not results:
        typer.echo("nothing due for renewal")
        raise typer.Exit(NOTHING_DUE_EXIT)


@cli_errors
def serve_crl(
    dir: Optional[pathlib.Path] = DirOption,
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", metavar="PORT", help="TCP port (0: any free port)."),
    passphrase_file: Optional[pathlib.Path] = PassphraseFileOption,
) -> None:
    """Publish the CRLs and CA certificates over HTTP at the paths `init --crl-url/--aia-url` name
    (/root.crl, /intermediate.crl, /root.crt, /intermediate.crt, /crl.pem, /ca.pem)."""
    from tlskit.ca.crlserver import CRLServer

    ca = _open(dir, passphrase_file)
    publication = ca.publication()
    if not publication.leaf_crl.exists() or (publication.root_crl is not None and not publication.root_crl.exists()):
        # Nothing published yet: sign the first CRLs (this needs the CA keys).
        ca = _open(dir, passphrase_file, signing=True)
        ca.crl()
    server = CRLServer(publication, host, port, log=lambda line: typer.echo(line, err=True))
    typer.echo(f"serving CRLs and CA certificates of {ca.name!r} at {server.url}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    finally:
        server.close()


def _trust_command(install: bool, dir: Optional[pathlib.Path], cert: Optional[pathlib.Path], system: bool,
                   nss: bool, nssdb: Optional[List[pathlib.Path]]) -> None:
    from tlskit.ca import truststore
    from tlskit.ca.verify import load_pem_certificates

    if cert is not None:
        certs = load_pem_certificates(cert)
        if len(certs) != 1:
            raise CAError(f"{cert} holds {len(certs)} certificates; give the one root to {'install' if install else 'remove'}")
        anchor = certs[0]
    else:
        anchor = _open(dir).root_certificate
    action = truststore.install if install else truststore.uninstall
    results = action(anchor, system=system, nss=nss, nssdbs=list(nssdb or []) or None)
    for result in results:
        typer.echo(result.line(), err=not result.ok)
    if any(not r.ok for r in results):
        raise _fail(f"{_plural(sum(not r.ok for r in results), 'trust store')} could not be updated")


_TrustCert = typer.Option(None, "--cert", metavar="FILE", help="A root certificate file instead of this CA's root.")
_TrustSystem = typer.Option(True, "--system/--no-system", metavar="", help="The system store (update-ca-certificates or update-ca-trust; needs root).")
_TrustNSS = typer.Option(True, "--nss/--no-nss", metavar="", help="NSS databases: ~/.pki/nssdb and Firefox profiles (via certutil; no root needed).")
_TrustNSSDB = typer.Option(None, "--nssdb", metavar="DIR", help="This NSS database instead of the found ones (created if missing). Repeatable.")


@cli_errors
def install(
    dir: Optional[pathlib.Path] = DirOption,
    cert: Optional[pathlib.Path] = _TrustCert,
    system: bool = _TrustSystem,
    nss: bool = _TrustNSS,
    nssdb: Optional[List[pathlib.Path]] = _TrustNSSDB,
) -> None:
    """Trust this CA's root on this machine: the system store and NSS (Chromium, Firefox). Undo with uninstall."""
    _trust_command(True, dir, cert, system, nss, nssdb)


@cli_errors
def uninstall(
    dir: Optional[pathlib.Path] = DirOption,
    cert: Optional[pathlib.Path] = _TrustCert,
    system: bool = _TrustSystem,
    nss: bool = _TrustNSS,
    nssdb: Optional[List[pathlib.Path]] = _TrustNSSDB,
) -> None:
    """Remove this CA's root from the stores install put it in (only this root)."""
    _trust_command(False, dir, cert, system, nss, nssdb)
