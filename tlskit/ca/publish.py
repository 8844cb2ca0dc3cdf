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

import datetime
import os
import pathlib
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tlskit.ca import files
from tlskit.ca.errors import CAError, CAWarning
from tlskit.ca.index import DuplicateSerial, Index, NewRecord, serial_hex
from tlskit.ca.keys import PrivateKey, PublicKey, signature_hash
from tlskit.ca.policy import format_duration
from tlskit.ca.profiles import leaf_builder, san_text, validity

SERIAL_ATTEMPTS = 8

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


@dataclass(frozen=True)
class Signer:
    """The issuing CA as signing needs it: its certificate and key, the chain to append,
    the latest notAfter a leaf may have, and the URLs leaves point at."""

    issuer: x509.Certificate
    key: PrivateKey
    intermediates_pem: bytes
    limit: datetime.datetime
    crl_url: str | None
    aia_url: str | None

    def sign(
        self,
        common_name: str,
        public_key: PublicKey,
        sans: Sequence[x509.GeneralName],
        *,
        profile: str,
        lifetime: datetime.timedelta,
        serial: int,
        now: datetime.datetime,
    ) -> x509.Certificate:
        not_before, not_after = validity(None, now=now, limit=self.limit, duration=lifetime)
        if not_after == self.limit.replace(microsecond=0) and now + lifetime > self.limit:
            warnings.warn(
                f"validity cut to the CA's own expiry, {self.limit:%Y-%m-%d %H:%M} UTC"
                f" (asked for {format_duration(lifetime)}; a certificate never outlives its CA)",
                CAWarning,
                stacklevel=2,
            )
        return leaf_builder(
            common_name, public_key, sans, profile=profile, issuer_cert=self.issuer, serial=serial,
            not_before=not_before, not_after=not_after, crl_url=self.crl_url, aia_url=self.aia_url,
        ).sign(self.key, signature_hash(self.key))


def issue_and_publish(
    index: Index,
    signer: Signer,
    name: str,
    public_key: PublicKey,
    sans: Sequence[x509.GeneralName],
    *,
    common_name: str,
    profile: str,
    key_type: str,
    lifetime: datetime.timedelta,
    paths: Paths,
    key_pem: bytes | None,
    force: bool,
    now: datetime.datetime,
    checkpoint: Callable[[str], None],
    supersedes: str | None = None,
) -> x509.Certificate:
    """Sign, stage every file, commit the row, publish the files (see the module docstring);
    a serial that is already taken (2**-159 odds) is signed again with a fresh one."""
    key_path, cert_path, chain_path = paths
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CAWarning)
        for _ in range(SERIAL_ATTEMPTS):
            cert = signer.sign(
                common_name, public_key, sans, profile=profile, lifetime=lifetime,
                serial=x509.random_serial_number(), now=now,  # 159 random bits
            )
            cert_pem = cert.public_bytes(serialization.Encoding.PEM)
            outputs: list[tuple[pathlib.Path, bytes, bool]] = []
            if key_path is not None and key_pem is not None:
                outputs.append((key_path, key_pem, True))
            if cert_path is not None:
                outputs.append((cert_path, cert_pem, False))
            if chain_path is not None:
                outputs.append((chain_path, cert_pem + signer.intermediates_pem, False))
            staged = stage(outputs)
            try:
                committed = record(
                    index, name, cert, sans, profile=profile, key_type=key_type, paths=paths, force=force,
                    supersedes=supersedes, checkpoint=checkpoint,
                )
            except BaseException:
                discard(staged)
                raise
            if not committed:
                discard(staged)
                continue
            checkpoint("issue-committed")
            publish(index, staged, cert, force=force, checkpoint=checkpoint)
            checkpoint("issue-done")
            break
        else:  # pragma: no cover - 2**-159 odds
            raise CAError("could not find an unused serial number")
    for warning in caught:  # once, not once per serial attempt
        warnings.warn(warning.message, CAWarning, stacklevel=4)
    return cert
