"""The SQLite index of every certificate a CA issued.

The index is the CA's commit point: a certificate exists (for ``list``, ``revoke``,
the CRL) exactly when its row was committed. Each change is one transaction taken
with ``BEGIN IMMEDIATE`` so concurrent processes serialize on SQLite's lock instead
of interleaving, and the serial is the primary key, so a duplicate cannot be stored.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import pathlib
import re
import sqlite3
from dataclasses import dataclass
from typing import Iterator, Literal, overload

from cryptography import x509 as _x509

from tlskit.ca.errors import CAError

_REASON_NAMES = frozenset(flag.name for flag in _x509.ReasonFlags)

# 2 added superseded_by (renew marks the certificate it replaces) and the meta rows of
# the intermediate's revocation; a version-1 index is migrated when the CA is opened.
SCHEMA_VERSION = 2
# Parallel issuers wait this long for each other's short transactions.
LOCK_TIMEOUT_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS certificates (
    serial      TEXT PRIMARY KEY NOT NULL,   -- lowercase hex, no 0x
    name        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    sans        TEXT NOT NULL,               -- JSON list of "DNS:x" / "IP:x" / ...
    not_before  TEXT NOT NULL,               -- ISO 8601 UTC
    not_after   TEXT NOT NULL,
    profile     TEXT NOT NULL,
    key_type    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
    revoked_at  TEXT,
    reason      TEXT,
    issued_at   TEXT NOT NULL,
    cert_pem    TEXT NOT NULL,
    key_path    TEXT,
    cert_path   TEXT,
    chain_path  TEXT,
    superseded_by TEXT                       -- serial of the renewal that replaced it
);
CREATE INDEX IF NOT EXISTS certificates_by_name ON certificates(name);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
"""
_SCHEMA_STATEMENTS = [
    s.strip() for s in re.sub(r"--[^\n]*", "", _SCHEMA).split(";") if s.strip()
]


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class IndexRecord:
    """One issued certificate as the index knows it."""

    serial: str
    name: str
    subject: str
    sans: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    profile: str
    key_type: str
    revoked: bool
    revoked_at: datetime.datetime | None
    reason: str | None
    issued_at: datetime.datetime
    cert_pem: bytes
    key_path: pathlib.Path | None
    cert_path: pathlib.Path | None
    chain_path: pathlib.Path | None
    superseded_by: str | None = None

    @property
    def serial_number(self) -> int:
        return int(self.serial, 16)

    def certificate(self) -> _x509.Certificate:
        """The stored certificate; a CAError when the row's PEM does not parse (``ca check`` reports it)."""
        try:
            return _x509.load_pem_x509_certificate(self.cert_pem)
        except ValueError:
            raise CAError(
                f"the CA index record for serial {self.serial} holds no readable certificate; run: tlskit ca check"
            ) from None

    def status_at(self, moment: datetime.datetime | None = None) -> str:
        """``revoked``, ``superseded`` (renewed: a newer certificate took its place),
        ``expired`` or ``valid``."""
        if self.revoked:
            return "revoked"
        if self.superseded_by:
            return "superseded"
        moment = moment or datetime.datetime.now(datetime.timezone.utc)
        return "expired" if self.not_after < moment else "valid"

    @property
    def status(self) -> str:
        return self.status_at()

    @property
    def current(self) -> bool:
        """Neither revoked nor superseded (it may have expired): what a name refers to."""
        return not self.revoked and not self.superseded_by

    def describe(self) -> str:
        """``serial S (status, FILE)`` for messages listing candidates."""
        where = self.cert_path or self.key_path
        return f"serial {self.serial} ({self.status}{', ' + str(where) if where else ''})"


@dataclass(frozen=True)
class NewRecord:
    serial: int
    name: str
    subject: str
    sans: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    profile: str
    key_type: str
    cert_pem: bytes
    key_path: pathlib.Path | None
    cert_path: pathlib.Path | None
    chain_path: pathlib.Path | None


def _path(text: str | None, base: pathlib.Path) -> pathlib.Path | None:
    # Files inside the CA directory are stored relative to it, so a CA that was moved
    # or copied finds (and renew rewrites) its own files, not the old location's.
    return base / text if text else None


def _stored_forms(path: pathlib.Path, base: pathlib.Path) -> list[str]:
    """How ``path`` may appear in the index: relative to the CA directory when inside
    it (absolute in indexes written before that rule), else absolute."""
    try:
        relative = path.relative_to(base)
    except ValueError:
        return [str(path)]
    return [relative.as_posix(), str(path)]


@overload
def _text(row: sqlite3.Row, column: str, *, optional: Literal[False] = ...) -> str: ...
@overload
def _text(row: sqlite3.Row, column: str, *, optional: bool) -> str | None: ...
def _text(row: sqlite3.Row, column: str, *, optional: bool = False) -> str | None:
    value = row[column]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{column} is not text")
    return value


def _record(row: sqlite3.Row, base: pathlib.Path) -> IndexRecord:
    """One row as a record; a row damaged by hand or by a bug raises CAError, not a
    stray ValueError/TypeError from the parsing below."""
    try:
        sans = json.loads(_text(row, "sans"))
        if not isinstance(sans, list) or not all(isinstance(s, str) for s in sans):
            raise ValueError("sans is not a list of strings")
        revoked_at = _text(row, "revoked_at", optional=True)
        reason = _text(row, "reason", optional=True)
        if reason and reason not in _REASON_NAMES:
            raise ValueError(f"unknown revocation reason {reason!r}")
        int(_text(row, "serial"), 16)  # the CRL needs it as a number
        return IndexRecord(
            serial=_text(row, "serial"),
            name=_text(row, "name"),
            subject=_text(row, "subject"),
            sans=tuple(sans),
            not_before=_parse_iso(_text(row, "not_before")),
            not_after=_parse_iso(_text(row, "not_after")),
            profile=_text(row, "profile"),
            key_type=_text(row, "key_type"),
            revoked=row["status"] == "revoked",
            revoked_at=_parse_iso(revoked_at) if revoked_at else None,
            reason=reason,
            issued_at=_parse_iso(_text(row, "issued_at")),
            cert_pem=_text(row, "cert_pem").encode("ascii"),
            key_path=_path(_text(row, "key_path", optional=True), base),
            cert_path=_path(_text(row, "cert_path", optional=True), base),
            chain_path=_path(_text(row, "chain_path", optional=True), base),
            superseded_by=_text(row, "superseded_by", optional=True) if "superseded_by" in row.keys() else None,
        )
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        raise CAError(
            f"the CA index record for serial {row['serial']!r} is damaged ({exc}); run: tlskit ca check"
        ) from None


class DuplicateSerial(Exception):
    """Internal: the serial is taken (the caller re-signs with a fresh one)."""


class Index:
    """The CA's certificate index in ``path`` (an SQLite database)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = pathlib.Path(path)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise CAError(f"cannot open the CA index {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise CAError(f"CA index {self.path} failed: {exc}") from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls a transaction back by itself on some errors (SQLITE_FULL: a
                # full disk); a second ROLLBACK would fail with "no transaction is active"
                # and hide the real error.
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

    def create(self) -> None:
        with self.transaction() as conn:
            # executescript() would COMMIT our transaction first; run the statements one by one.
            for statement in _SCHEMA_STATEMENTS:
                conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('crl_number', '0')")

    def check_exists(self) -> None:
        if not self.path.is_file():
            raise CAError(f"CA index missing: {self.path}")

    def check_schema(self) -> None:
        """Refuse an index this version cannot read (damaged, or written by a newer tlskit)."""
        self.check_exists()
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row["value"]) if row else None
        except ValueError:
            version = None
        if version is None:
            raise CAError(f"CA index {self.path} has no schema version; it is damaged")
        if version > SCHEMA_VERSION:
            raise CAError(f"CA index {self.path} was written by a newer tlskit (schema {version})")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Bring an older index up to SCHEMA_VERSION in one transaction."""
        with self.transaction() as conn:
            if version < 2:
                columns = {row["name"] for row in conn.execute("PRAGMA table_info(certificates)")}
                if "superseded_by" not in columns:
                    conn.execute("ALTER TABLE certificates ADD COLUMN superseded_by TEXT")
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    # -- writes -------------------------------------------------------------------

    def insert(self, conn: sqlite3.Connection, record: NewRecord) -> None:
        """Insert inside the caller's transaction; DuplicateSerial if the serial is taken."""
        try:
            conn.execute(
                "INSERT INTO certificates (serial, name, subject, sans, not_before, not_after, profile,"
                " key_type, status, issued_at, cert_pem, key_path, cert_path, chain_path)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'valid', ?, ?, ?, ?, ?)",
                (
                    serial_hex(record.serial),
                    record.name,
                    record.subject,
                    json.dumps(list(record.sans)),
                    _iso(record.not_before),
                    _iso(record.not_after),
                    record.profile,
                    record.key_type,
                    _iso(datetime.datetime.now(datetime.timezone.utc)),
                    record.cert_pem.decode("ascii"),
                    _stored_forms(record.key_path, self.path.parent)[0] if record.key_path else None,
                    _stored_forms(record.cert_path, self.path.parent)[0] if record.cert_path else None,
                    _stored_forms(record.chain_path, self.path.parent)[0] if record.chain_path else None,
                ),
            )
        except sqlite3.IntegrityError:
            raise DuplicateSerial(serial_hex(record.serial)) from None

    def paths_in_use(self, conn: sqlite3.Connection, paths: list[pathlib.Path]) -> pathlib.Path | None:
        """The first of ``paths`` that a committed record already points to."""
        for path in paths:
            for form in _stored_forms(path, self.path.parent):
                row = conn.execute(
                    "SELECT 1 FROM certificates WHERE key_path = ? OR cert_path = ? OR chain_path = ? LIMIT 1",
                    (form, form, form),
                ).fetchone()
                if row is not None:
                    return path
        return None

    def supersede(self, conn: sqlite3.Connection, old_serial: str, new_serial: str) -> None:
        """Inside the caller's transaction: ``old_serial`` was renewed as ``new_serial``."""
        conn.execute(
            "UPDATE certificates SET superseded_by = ? WHERE serial = ? AND superseded_by IS NULL",
            (new_serial, old_serial),
        )

    def delete(self, serial: str) -> None:
        """Undo an insert whose files could not be published (see CertificateAuthority.issue)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM certificates WHERE serial = ?", (serial,))

    def get_meta(self, key: str) -> str | None:
        self.check_exists()
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row["value"]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def revoke(self, serials: list[str], reason: str | None, moment: datetime.datetime) -> int:
        with self.transaction() as conn:
            changed = 0
            for serial in serials:
                cursor = conn.execute(
                    "UPDATE certificates SET status = 'revoked', revoked_at = ?, reason = ?"
                    " WHERE serial = ? AND status = 'valid'",
                    (_iso(moment), reason, serial),
                )
                changed += cursor.rowcount
            return changed

    def next_crl_number(self) -> int:
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'crl_number'").fetchone()
            number = int(row["value"]) + 1 if row else 1
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('crl_number', ?)", (str(number),))
            return number

    # -- reads --------------------------------------------------------------------

    def all(self) -> list[IndexRecord]:
        self.check_exists()
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM certificates ORDER BY issued_at, rowid").fetchall()
        return [_record(row, self.path.parent) for row in rows]

    def by_serial(self, serial: str) -> IndexRecord | None:
        self.check_exists()
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM certificates WHERE serial = ?", (serial,)).fetchone()
        return _record(row, self.path.parent) if row else None

    def by_name(self, name: str) -> list[IndexRecord]:
        self.check_exists()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM certificates WHERE name = ? ORDER BY issued_at, rowid", (name,)
            ).fetchall()
        return [_record(row, self.path.parent) for row in rows]

    def revoked(self) -> list[IndexRecord]:
        self.check_exists()
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM certificates WHERE status = 'revoked' ORDER BY revoked_at, rowid"
            ).fetchall()
        return [_record(row, self.path.parent) for row in rows]

    def integrity_problems(self) -> list[str]:
        self.check_exists()
        with self._connect() as conn:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if result == ["ok"] else result
