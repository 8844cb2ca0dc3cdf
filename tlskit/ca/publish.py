"""The commit protocol of issuance: the index row and the files commit together or not at all.

1. ``stage``: every output file is written as a hidden temporary next to its final name
   (a read-only directory or a full disk fails here, before anything is recorded);
2. ``record``: the index row is committed (one ``BEGIN IMMEDIATE`` transaction; the
   serial is the primary key; a renewal marks the old row superseded in the same one);
3. ``publish``: the temporaries are renamed into place; if that fails, the row is
   deleted again and the files this step published are removed.

A process killed between 2 and 3 leaves a recorded certificate whose files are missing
(``check`` lists it) -- never a published certificate the index does not know.
"""

from __future__ import annotations

import os
import pathlib
from typing import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca import files
from tlskit.ca.errors import CAError
from tlskit.ca.index import DuplicateSerial, Index, NewRecord, serial_hex
from tlskit.ca.profiles import san_text

Staged = list[tuple[pathlib.Path, pathlib.Path]]  # (temporary, final path)
Paths = tuple[pathlib.Path | None, pathlib.Path | None, pathlib.Path | None]  # key, cert, chain


def stage(outputs: Sequence[tuple[pathlib.Path, bytes, bool]]) -> Staged:
    """Write each (path, data, private) as a temporary; on failure none is left."""
    staged: Staged = []
    try:
        for path, data, private in outputs:
            mode = files.PRIVATE_MODE if private else files.PUBLIC_MODE
            staged.append((files.write_temp(path, data, mode=mode), path))
    except BaseException:
        discard(staged)
        raise
    return staged


def discard(staged: Sequence[tuple[pathlib.Path, pathlib.Path]]) -> None:
    for tmp, _ in staged:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def record(
    index: Index,
    name: str,
    cert: x509.Certificate,
    sans: Sequence[x509.GeneralName],
    *,
    profile: str,
    key_type: str,
    paths: Paths,
    force: bool,
    supersedes: str | None,
    checkpoint: Callable[[str], None],
) -> bool:
    """Commit the row; False when the serial is taken (the caller signs again)."""
    row = NewRecord(
        serial=cert.serial_number,
        name=name,
        subject=cert.subject.rfc4514_string(),
        sans=tuple(san_text(s) for s in sans),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        profile=profile,
        key_type=key_type,
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_path=paths[0],
        cert_path=paths[1],
        chain_path=paths[2],
    )
    try:
        with index.transaction() as conn:
            if not force:
                taken = index.paths_in_use(conn, [p for p in paths if p is not None])
                if taken is not None:
                    raise CAError(f"{taken} already belongs to an issued certificate (use --force to replace it)")
            index.insert(conn, row)
            if supersedes is not None:
                index.supersede(conn, supersedes, serial_hex(cert.serial_number))
            checkpoint("issue-before-commit")
    except DuplicateSerial:
        return False
    return True


def publish(
    index: Index, staged: Staged, cert: x509.Certificate, *, force: bool, checkpoint: Callable[[str], None]
) -> None:
    """Rename the temporaries into place (key first); undo the row if that fails."""
    published: list[pathlib.Path] = []
    try:
        for position, (tmp, path) in enumerate(staged):
            files.publish(tmp, path, overwrite=force)
            published.append(path)
            if position == 0:
                checkpoint("issue-key-written")
    except BaseException:
        discard(staged[len(published) + 1 :])
        # Not every file could be published: take the row back so no "valid" record
        # points at files that were never written. Files published here are removed
        # unless they replaced older ones (--force), which are gone anyway.
        try:
            index.delete(serial_hex(cert.serial_number))
        except CAError:
            pass
        if not force:
            for path in published:
                try:
                    path.unlink()
                except OSError:
                    pass
        raise
