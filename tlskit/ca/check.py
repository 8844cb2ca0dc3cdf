"""Consistency check of a CA directory: what a crash, a bug or a careless command could have broken.

Invariants: the CA's own files (configuration, certificates, keys) are readable and the
keys match their certificates; the index is intact; every row holds a certificate with
that serial, signed by this CA; every published certificate file is one the index knows
(a certificate never escapes unrecorded); a published key matches its certificate; the
files of every current certificate exist. Hidden temporaries left by a killed process
are not inconsistencies (``check --clean`` removes them).

This module knows nothing of ``CertificateAuthority``: the authority hands it the
directory, the index records and its certificates.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shutil
from typing import Iterable, Sequence

from cryptography import x509

from tlskit.ca.create import (
    INTERMEDIATE_CERT,
    INTERMEDIATE_KEY,
    ROOT_CERT,
    ROOT_KEY,
    STAGING_PREFIX,
)
from tlskit.ca.errors import CAError
from tlskit.ca.index import IndexRecord
from tlskit.ca.keys import load_private_key, same_public_key


def check_ca_files(directory: pathlib.Path, *, intermediate: bool, passphrase: bytes | None) -> list[str]:
    """Each of the CA's own certificates and keys: present, readable, and a matching pair.
    An encrypted key without the passphrase is checked for being a PEM key only."""
    pairs = [(ROOT_CERT, ROOT_KEY)] + ([(INTERMEDIATE_CERT, INTERMEDIATE_KEY)] if intermediate else [])
    problems = []
    for cert_name, key_name in pairs:
        cert_path, key_path = directory / cert_name, directory / key_name
        cert = None
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except FileNotFoundError:
            problems.append(f"{cert_path}: CA certificate is missing")
        except (OSError, ValueError):
            problems.append(f"{cert_path}: CA certificate is damaged (not a PEM certificate)")
        try:
            data = key_path.read_bytes()
        except FileNotFoundError:
            problems.append(f"{key_path}: CA key is missing")
            continue
        except OSError as exc:
            problems.append(f"{key_path}: CA key is unreadable ({exc.strerror or exc})")
            continue
        if b"ENCRYPTED" in data.split(b"\n", 1)[0] and passphrase is None:
            continue  # cannot open it without the passphrase; load() checks it when signing
        try:
            key = load_private_key(key_path, passphrase, what="CA key")
        except CAError:
            problems.append(f"{key_path}: CA key is damaged or not a private key")
            continue
        if cert is not None and not same_public_key(key.public_key(), cert.public_key()):
            problems.append(f"{key_path}: CA key does not match {cert_path}")
    return problems


def check_records(records: Sequence[IndexRecord], issuer: x509.Certificate | None) -> list[str]:
    problems = []
    known = {record.serial for record in records}
    for record in records:
        try:
            cert = record.certificate()
        except CAError:
            problems.append(f"serial {record.serial}: stored certificate does not parse")
            continue
        if format(cert.serial_number, "x") != record.serial:
            problems.append(f"serial {record.serial}: stored certificate has serial {cert.serial_number:x}")
        if issuer is not None:
            try:
                cert.verify_directly_issued_by(issuer)
            except Exception:  # any failure (wrong key type, bad signature) means not ours
                problems.append(f"serial {record.serial}: not signed by the CA's issuer")
    for record in records:
        problems.extend(_check_published(record.cert_path, record.key_path, known))
    problems.extend(missing_files(records))
    return sorted(set(problems))


def missing_files(records: Sequence[IndexRecord], now: datetime.datetime | None = None) -> list[str]:
    """Current (unrevoked, not superseded, unexpired) certificates whose files are gone:
    a process killed between the index commit and publishing, or files deleted by hand."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    # A later record with the same file owns it now.
    owner: dict[pathlib.Path, str] = {}
    for record in records:
        for path in (record.key_path, record.cert_path, record.chain_path):
            if path is not None:
                owner[path] = record.serial
    problems = []
    for record in records:
        if record.status_at(now) != "valid":
            continue
        gone = [
            str(path)
            for path in (record.key_path, record.cert_path, record.chain_path)
            if path is not None and owner.get(path) == record.serial and not path.exists()
        ]
        if gone:
            problems.append(
                f"serial {record.serial} ({record.name}): recorded, but its files are missing: {', '.join(gone)}"
                " (re-issue with --force, or revoke it)"
            )
    return problems


def _check_published(cert_path: pathlib.Path | None, key_path: pathlib.Path | None, known: set[str]) -> list[str]:
    problems: list[str] = []
    if cert_path is None or not cert_path.exists():
        return problems
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (ValueError, OSError):
        return [f"{cert_path}: published certificate is unreadable or truncated"]
    if format(cert.serial_number, "x") not in known:
        problems.append(f"{cert_path}: published certificate (serial {cert.serial_number:x}) is not in the index")
    if key_path is not None and key_path.exists():
        try:
            key = load_private_key(key_path, what="certificate key")
        except CAError as exc:
            return problems + [f"{key_path}: {exc}"]
        if not same_public_key(key.public_key(), cert.public_key()):
            problems.append(f"{key_path}: key does not match {cert_path}")
    return problems


def leftover_temporaries(directory: pathlib.Path) -> list[pathlib.Path]:
    """Hidden temporaries a killed writer left in ``directory``."""
    return sorted(p for p in pathlib.Path(directory).glob(".*.tmp") if p.is_file())


def staging_directories(parent: pathlib.Path) -> list[pathlib.Path]:
    """Half-built CAs a killed ``init`` left next to the CA directory."""
    return sorted(p for p in pathlib.Path(parent).glob(STAGING_PREFIX + "*") if p.is_dir() and not p.is_symlink())


def _writer_pid(temp: pathlib.Path) -> int | None:
    # Temporaries: ".<file>.<pid>.<random>.tmp" (files.temp_path_for);
    # staging directories: ".tlskit-ca-init-<pid>-<random>" (older ones carry no pid).
    if temp.name.startswith(STAGING_PREFIX):
        head = temp.name[len(STAGING_PREFIX):].split("-", 1)[0]
        return int(head) if head.isdigit() else 0
    parts = temp.name.split(".")
    try:
        return int(parts[-3])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def output_directories(directory: pathlib.Path, records: Sequence[IndexRecord]) -> set[pathlib.Path]:
    """The CA directory, its issued/ folder and every directory the index wrote files to."""
    directories = {directory, directory / "issued"}
    for record in records:
        for path in (record.key_path, record.cert_path, record.chain_path):
            if path is not None:
                directories.add(path.parent)
    return directories


def find_leftovers(directories: Iterable[pathlib.Path], ca_parent: pathlib.Path) -> list[pathlib.Path]:
    """Temporaries in ``directories`` and init staging directories in ``ca_parent``."""
    found: list[pathlib.Path] = []
    for directory in sorted(set(directories)):
        if directory.is_dir():
            found.extend(leftover_temporaries(directory))
    if ca_parent.is_dir():
        found.extend(staging_directories(ca_parent))
    return found


def remove_leftovers(candidates: Iterable[pathlib.Path]) -> list[pathlib.Path]:
    """Delete leftovers whose writer process is gone (a live writer's are left alone)."""
    removed = []
    for temp in candidates:
        pid = _writer_pid(temp)
        if pid is None or _alive(pid):
            continue
        try:
            if temp.is_dir():
                shutil.rmtree(temp)
            else:
                temp.unlink()
            removed.append(temp)
        except OSError:
            pass
    return removed
