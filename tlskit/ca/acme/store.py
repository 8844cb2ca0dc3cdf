"""Persistent ACME state: accounts, orders, authorizations, challenges, certificates.

The state lives in ``<CA directory>/acme/state.sqlite``: SQLite commits each
transaction atomically (a server killed half way leaves the previous state, never
half of a new one) and serialises writers across processes, which is what the CA's
own index relies on too. The CA index stays the record of issuance; this store only
remembers which ACME account asked for what, so that orders survive a restart and
the account that obtained a certificate may later revoke it.

Each object is a JSON document keyed by (kind, id), with the owning account beside
it for the "orders of this account" and "authorizations of this account" queries.
Nonces are not stored here (see :mod:`tlskit.ca.acme.service`).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import sqlite3
import threading
from typing import Any, Iterator

from tlskit.ca.errors import CAError

STATE_DIR = "acme"
STATE_FILE = "state.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    account TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS objects_by_account ON objects (kind, account);
CREATE TABLE IF NOT EXISTS account_keys (thumbprint TEXT PRIMARY KEY, account TEXT NOT NULL UNIQUE);
"""

KINDS = ("account", "order", "authz", "challenge", "cert")


class AcmeStore:
    """A small transactional document store over one SQLite file (or memory for ``path=None``).

    One connection is shared by the server's threads under a re-entrant lock; each
    :meth:`transaction` is ``BEGIN IMMEDIATE`` ... ``COMMIT`` so that a read-modify-write
    (an order moving to ``processing``) cannot interleave with another.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = pathlib.Path(path) if path is not None else None
        self._lock = threading.RLock()
        self._depth = 0
        target = ":memory:"
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise CAError(f"cannot create {self.path.parent}: {exc.strerror or exc}") from None
            target = str(self.path)
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below)
            self._conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._conn.execute("PRAGMA synchronous=FULL")
            # executescript() commits on its own, so the schema is created outside a transaction
            self._conn.executescript(_SCHEMA)
            with self.transaction():
                row = self._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    self._conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    raise CAError(f"{self.path}: ACME state schema {row[0]} is not the supported {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise CAError(f"cannot open the ACME state {target}: {exc}") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator["AcmeStore"]:
        """Everything inside commits together or not at all (nested calls join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ACME object kind {kind!r}")

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        self._check_kind(kind)
        with self._lock:
            row = self._conn.execute("SELECT data FROM objects WHERE kind=? AND id=?", (kind, ident)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, kind: str, ident: str, data: dict[str, Any], *, account: str | None = None) -> None:
        self._check_kind(kind)
        with self.transaction():
            self._conn.execute(
                "INSERT INTO objects (kind, id, account, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET data=excluded.data, account=excluded.account",
                (kind, ident, account, json.dumps(data, sort_keys=True)),
            )

    def owned_by(self, kind: str, account: str) -> list[tuple[str, dict[str, Any]]]:
        """(id, data) of every ``kind`` object of ``account``, oldest first."""
        self._check_kind(kind)
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, data FROM objects WHERE kind=? AND account=? ORDER BY rowid", (kind, account)
            ).fetchall()
        return [(ident, json.loads(data)) for ident, data in rows]

    def each(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """(id, data) of every ``kind`` object (used once at start-up)."""
        self._check_kind(kind)
        with self._lock:
            rows = self._conn.execute("SELECT id, data FROM objects WHERE kind=? ORDER BY rowid", (kind,)).fetchall()
        return [(ident, json.loads(data)) for ident, data in rows]

    def account_for_key(self, thumbprint: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT account FROM account_keys WHERE thumbprint=?", (thumbprint,)).fetchone()
        return row[0] if row else None

    def bind_key(self, thumbprint: str, account: str) -> None:
        """Make ``thumbprint`` the (only) key of ``account``; the key must be unbound."""
        with self.transaction():
            self._conn.execute("DELETE FROM account_keys WHERE account=?", (account,))
            self._conn.execute("INSERT INTO account_keys (thumbprint, account) VALUES (?, ?)", (thumbprint, account))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def state_path(ca_directory: str | os.PathLike[str]) -> pathlib.Path:
    return pathlib.Path(ca_directory) / STATE_DIR / STATE_FILE
