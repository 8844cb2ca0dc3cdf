"""Consistency check of a CA directory: what a crash or a bug could have broken.

Invariants: the index is intact; every row holds a certificate with that serial,
signed by this CA; every published certificate file is one the index knows (a
certificate never escapes unrecorded); a published key matches its certificate.
Hidden temporaries left by a killed process are not inconsistencies.
"""

from __future__ import annotations

import os
import pathlib
from typing import TYPE_CHECKING

from cryptography import x509

from tlskit.ca.errors import CAError

if TYPE_CHECKING:  # pragma: no cover
    from tlskit.ca.authority import CertificateAuthority


def check_consistency(ca: "CertificateAuthority") -> list[str]:
    problems = [f"index: {line}" for line in ca._index.integrity_problems()]
    if problems:
        return problems
    issuer = ca.issuer_certificate
    try:
        records = ca.list()
    except CAError as exc:  # a damaged row: report it rather than stop with it
        return [f"index: {exc}"]
    known = {record.serial for record in records}
    for record in records:
        try:
            cert = record.certificate()
        except CAError:
            problems.append(f"serial {record.serial}: stored certificate does not parse")
            continue
        if format(cert.serial_number, "x") != record.serial:
            problems.append(f"serial {record.serial}: stored certificate has serial {cert.serial_number:x}")
        try:
            cert.verify_directly_issued_by(issuer)
        except Exception:  # any failure (wrong key type, bad signature) means not ours
            problems.append(f"serial {record.serial}: not signed by the CA's issuer")
    for record in records:
        problems.extend(_check_published(record.cert_path, record.key_path, known))
    return sorted(set(problems))


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
        from tlskit.ca.keys import load_private_key, same_public_key

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


def _writer_pid(temp: pathlib.Path) -> int | None:
    # Names are ".<file>.<pid>.<random>.tmp" (see files.temp_path_for).
    parts = temp.name.split(".")
    try:
        return int(parts[-3])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_leftovers(ca: "CertificateAuthority") -> list[pathlib.Path]:
    """Temporaries in the CA directory and every output directory the index knows of."""
    directories = {ca.directory, ca.directory / "issued"}
    try:
        records = ca.list()
    except CAError:  # a damaged index: `check` reports it; still look where we can
        records = []
    for record in records:
        for path in (record.key_path, record.cert_path, record.chain_path):
            if path is not None:
                directories.add(path.parent)
    found: list[pathlib.Path] = []
    for directory in sorted(directories):
        if directory.is_dir():
            found.extend(leftover_temporaries(directory))
    return found


def remove_leftovers(ca: "CertificateAuthority") -> list[pathlib.Path]:
    """Delete temporaries whose writer process is gone (a live writer's are left alone)."""
    removed = []
    for temp in find_leftovers(ca):
        pid = _writer_pid(temp)
        if pid is not None and not _alive(pid):
            try:
                temp.unlink()
                removed.append(temp)
            except OSError:
                pass
    return removed
