"""Installing a CA root where tools and browsers look for trust anchors (mkcert's ``-install``).

Stores, each detected, each reported on its own:

* the system store -- Debian/Ubuntu: a PEM file in ``/usr/local/share/ca-certificates``
  and ``update-ca-certificates`` (curl, wget, Python's default paths and OpenSSL read the
  bundle it builds); Fedora/RHEL: ``/etc/pki/ca-trust/source/anchors`` and
  ``update-ca-trust extract``. Needs root; without it the step fails with a clear reason.
* NSS databases -- the user's ``~/.pki/nssdb`` (Chromium and other NSS users on Linux) and
  every Firefox profile (``~/.mozilla/firefox/*``, the snap and flatpak locations), through
  ``certutil`` from libnss3-tools / nss-tools. Needs no root: they are the user's files.
  A database that does not exist is skipped (the browser creates it on first run); one
  named with ``nssdbs=`` is created when missing.

Every install is undone by ``uninstall`` with the same arguments: the system file is
named after the certificate's fingerprint and the NSS nickname carries it too, so
removing one CA never touches another. Only a self-signed CA certificate that may sign
certificates (CA:TRUE, keyCertSign) is accepted: a leaf or an intermediate installed as
a trust anchor would be a mistake with security consequences.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tlskit.ca import files
from tlskit.ca.errors import CAError

DEBIAN_DIR = pathlib.Path("/usr/local/share/ca-certificates")
FEDORA_DIR = pathlib.Path("/etc/pki/ca-trust/source/anchors")
_TIMEOUT = 120
# NSS trust flags: "C" = trusted CA for TLS servers; email and code signing left untrusted.
NSS_TRUST = "C,,"


@dataclass(frozen=True)
class StoreResult:
    """What happened in one store: ``action`` is installed, already installed, removed,
    not installed, skipped or failed; ``detail`` says why when it was not done."""

    store: str
    location: str
    action: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action not in ("failed",)

    def line(self) -> str:
        text = f"{self.store}: {self.action} ({self.location})"
        return text + (f": {self.detail}" if self.detail else "")


def check_anchor(cert: x509.Certificate) -> None:
    """Refuse what must not become a trust anchor: not a CA, no keyCertSign, not self-signed."""
    try:
        basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        basic = None
    if basic is None or not basic.ca:
        raise CAError("refusing to install a certificate that is not a CA certificate (no CA:TRUE) as a trust anchor")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.key_cert_sign:
            raise CAError("refusing to install a CA certificate whose key may not sign certificates (no keyCertSign)")
    except x509.ExtensionNotFound:
        pass
    if cert.issuer != cert.subject:
        raise CAError("refusing to install an intermediate as a trust anchor: install its root")
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        raise CAError("refusing to install a root whose self-signature does not verify") from None


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()[:16]


def _slug(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    text = str(names[0].value) if names else "ca"
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "ca"


def file_name(cert: x509.Certificate) -> str:
    """The system-store file name: ``tlskit-<cn>-<fingerprint>.crt`` (Debian wants .crt)."""
    return f"tlskit-{_slug(cert)}-{_fingerprint(cert)}.crt"


def nickname(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    text = re.sub(r"[^\x20-\x7e]", "?", str(names[0].value) if names else "CA")
    return f"tlskit {text} {_fingerprint(cert)}"


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(command), capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return subprocess.CompletedProcess(list(command), 127, "", str(exc))


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    text = (result.stderr or result.stdout or "").strip().splitlines()
    return text[-1] if text else f"exit status {result.returncode}"


@contextlib.contextmanager
def _system_lock() -> Iterator[None]:
    """update-ca-certificates is not safe to run twice at once: serialize our runs."""
    path = pathlib.Path(tempfile.gettempdir()) / "tlskit-system-trust.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- the system store ---------------------------------------------------------------------


def _system_flavour() -> tuple[str, pathlib.Path, list[str]] | None:
    """(name, anchor directory, refresh command) of this system's store, or None."""
    if shutil.which("update-ca-certificates") and (DEBIAN_DIR.parent.is_dir()):
        return "system (update-ca-certificates)", DEBIAN_DIR, ["update-ca-certificates"]
    if shutil.which("update-ca-trust") and FEDORA_DIR.parent.is_dir():
        return "system (update-ca-trust)", FEDORA_DIR, ["update-ca-trust", "extract"]
    return None


def _system(cert: x509.Certificate, *, install: bool) -> StoreResult:
    flavour = _system_flavour()
    if flavour is None:
        return StoreResult("system", "-", "skipped", "neither update-ca-certificates nor update-ca-trust found")
    store, directory, refresh = flavour
    path = directory / file_name(cert)
    with _system_lock():
        if install:
            if path.exists():
                if path.read_bytes() == cert.public_bytes(serialization.Encoding.PEM):
                    return StoreResult(store, str(path), "already installed")
            try:
                directory.mkdir(mode=0o755, exist_ok=True)
                files.atomic_write(path, cert.public_bytes(serialization.Encoding.PEM), overwrite=True)
            except (CAError, OSError) as exc:
                return StoreResult(store, str(path), "failed", f"{exc} (the system store needs root: use sudo)")
        else:
            if not path.exists():
                return StoreResult(store, str(path), "not installed")
            try:
                path.unlink()
            except OSError as exc:
                return StoreResult(store, str(path), "failed", f"cannot remove it: {exc.strerror or exc} (needs root)")
        result = _run(refresh)
    if result.returncode != 0:
        return StoreResult(store, str(path), "failed", f"{' '.join(refresh)}: {_tail(result)}")
    return StoreResult(store, str(path), "installed" if install else "removed")


# -- NSS databases --------------------------------------------------------------------------


def nss_databases(home: pathlib.Path | None = None) -> list[pathlib.Path]:
    """The user's NSS databases that exist: ~/.pki/nssdb and every Firefox profile."""
    home = home or pathlib.Path.home()
    found = []
    if (home / ".pki" / "nssdb" / "cert9.db").exists():
        found.append(home / ".pki" / "nssdb")
    for base in (
        home / ".mozilla" / "firefox",
        home / "snap" / "firefox" / "common" / ".mozilla" / "firefox",
        home / ".var" / "app" / "org.mozilla.firefox" / ".mozilla" / "firefox",
    ):
        if base.is_dir():
            found.extend(sorted(p for p in base.iterdir() if (p / "cert9.db").exists()))
    return found


def _nss_present(directory: pathlib.Path, nick: str) -> bool:
    return _run(["certutil", "-L", "-d", f"sql:{directory}", "-n", nick]).returncode == 0


def _nss(cert: x509.Certificate, directory: pathlib.Path, *, install: bool, create: bool) -> StoreResult:
    store = "NSS"
    nick = nickname(cert)
    if shutil.which("certutil") is None:
        return StoreResult(store, str(directory), "skipped", "certutil not found (install libnss3-tools / nss-tools)")
    if not (directory / "cert9.db").exists():
        if not install or not create:
            return StoreResult(store, str(directory), "skipped" if install else "not installed", "no NSS database there")
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = _run(["certutil", "-N", "--empty-password", "-d", f"sql:{directory}"])
        if made.returncode != 0:
            return StoreResult(store, str(directory), "failed", f"certutil -N: {_tail(made)}")
    if install:
        if _nss_present(directory, nick):
            return StoreResult(store, str(directory), "already installed")
        with tempfile.NamedTemporaryFile(suffix=".pem") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
            handle.flush()
            added = _run(["certutil", "-A", "-d", f"sql:{directory}", "-t", NSS_TRUST, "-n", nick, "-i", handle.name])
        if added.returncode != 0:
            return StoreResult(store, str(directory), "failed", f"certutil -A: {_tail(added)}")
        return StoreResult(store, str(directory), "installed")
    if not _nss_present(directory, nick):
        return StoreResult(store, str(directory), "not installed")
    for _ in range(8):  # a nickname may have been added more than once by hand
        removed = _run(["certutil", "-D", "-d", f"sql:{directory}", "-n", nick])
        if removed.returncode != 0 or not _nss_present(directory, nick):
            break
    if _nss_present(directory, nick):
        return StoreResult(store, str(directory), "failed", f"certutil -D: {_tail(removed)}")
    return StoreResult(store, str(directory), "removed")


# -- the entry points -----------------------------------------------------------------------


def _apply(
    cert: x509.Certificate,
    *,
    install: bool,
    system: bool,
    nss: bool,
    nssdbs: Sequence[str | os.PathLike[str]] | None,
    home: pathlib.Path | None,
) -> list[StoreResult]:
    check_anchor(cert)
    results = []
    if system:
        results.append(_system(cert, install=install))
    if nss:
        if nssdbs:
            for directory in nssdbs:
                results.append(_nss(cert, pathlib.Path(directory).expanduser(), install=install, create=True))
        else:
            databases = nss_databases(home)
            if not databases:
                results.append(StoreResult("NSS", str((home or pathlib.Path.home()) / ".pki" / "nssdb"), "skipped",
                                           "no NSS database (~/.pki/nssdb or a Firefox profile) found"))
            for directory in databases:
                results.append(_nss(cert, directory, install=install, create=False))
    return results


def install(
    cert: x509.Certificate,
    *,
    system: bool = True,
    nss: bool = True,
    nssdbs: Sequence[str | os.PathLike[str]] | None = None,
    home: pathlib.Path | None = None,
) -> list[StoreResult]:
    """Make ``cert`` (a root) a trust anchor in the system store and the NSS databases."""
    return _apply(cert, install=True, system=system, nss=nss, nssdbs=nssdbs, home=home)


def uninstall(
    cert: x509.Certificate,
    *,
    system: bool = True,
    nss: bool = True,
    nssdbs: Sequence[str | os.PathLike[str]] | None = None,
    home: pathlib.Path | None = None,
) -> list[StoreResult]:
    """Undo :func:`install` (same arguments): only this certificate is removed."""
    return _apply(cert, install=False, system=system, nss=nss, nssdbs=nssdbs, home=home)
