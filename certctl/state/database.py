"""The state database: history and bookkeeping in ``<state_dir>/state.db``.

The secret store is the source of truth; this database only remembers what
happened (events), what cert-manager keeps in a Certificate's status (revision,
failed attempts for backoff, validity), and fingerprints that let a cron run with
nothing to do skip reading every secret. Private keys never go here. Losing the
file loses history, never certificates.

One connection serves every thread, guarded by a lock. Writes outside a
:meth:`StateDatabase.batch` commit at once; inside one they share a transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from certctl.clock import Clock
from certctl.errors import StateError

DATABASE_FILE = "state.db"
#: How long a write waits for another run's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 5.0
#: Events kept per object, newest first; older ones are dropped.
EVENTS_PER_OBJECT = 100
#: A batch commits after this long, so another run never waits on it for long.
BATCH_COMMIT_SECONDS = 0.5

EVENT_TYPES = ("Normal", "Warning")

# Each entry upgrades the schema by one version; PRAGMA user_version counts them.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        type TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL
    );
    CREATE INDEX events_by_object ON events (kind, key, id);
    CREATE TABLE certificate_status (
        key TEXT PRIMARY KEY,
        revision INTEGER NOT NULL DEFAULT 0,
        failed_issuance_attempts INTEGER NOT NULL DEFAULT 0,
        last_failure_time TEXT,
        last_failure_reason TEXT NOT NULL DEFAULT '',
        last_failure_message TEXT NOT NULL DEFAULT '',
        last_failure_spec_hash TEXT NOT NULL DEFAULT '',
        not_before TEXT,
        not_after TEXT,
        renewal_time TEXT,
        last_issued_at TEXT,
        issuer TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE TABLE fingerprints (
        key TEXT PRIMARY KEY,
        spec_hash TEXT NOT NULL,
        secret_version TEXT NOT NULL,
        renewal_time TEXT,
        not_after TEXT,
        verdict TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # ACME Orders and Challenges, kept as cert-manager-shaped JSON (spec and status).
    """
    CREATE TABLE acme_objects (
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        certificate TEXT NOT NULL,
        state TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    ) WITHOUT ROWID;
    CREATE INDEX acme_objects_by_certificate ON acme_objects (kind, certificate);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class Event:
    """One event about one object, as ``kubectl describe`` shows them."""

    type: str
    reason: str
    message: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True)
class CertificateStatus:
    """What cert-manager keeps in a Certificate's status (reference §1.10, §1.11)."""

    key: str
    revision: int = 0
    failed_issuance_attempts: int = 0
    last_failure_time: dt.datetime | None = None
    last_failure_reason: str = ""
    last_failure_message: str = ""
    last_failure_spec_hash: str = ""
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    renewal_time: dt.datetime | None = None
    last_issued_at: dt.datetime | None = None
    issuer: str = ""


@dataclass(frozen=True)
class Fingerprint:
    """What the last run concluded about a Certificate, for the no-op fast path.

    When the spec hash and the secret's version are unchanged and the renewal time
    has not come, the verdict still holds without reading the secret.
    """

    key: str
    spec_hash: str
    secret_version: str
    renewal_time: dt.datetime | None
    not_after: dt.datetime | None
    verdict: str


_STATUS_COLUMNS = (
    "key, revision, failed_issuance_attempts, last_failure_time, last_failure_reason, "
    "last_failure_message, last_failure_spec_hash, not_before, not_after, renewal_time, "
    "last_issued_at, issuer"
)


class StateDatabase:
    """The SQLite state database; open it with :meth:`open`."""

    def __init__(self, connection: sqlite3.Connection, path: Path, clock: Clock) -> None:
        self.path = path
        self._connection = connection
        self._clock = clock
        self._lock = threading.RLock()
        self._batch_depth = 0
        self._in_transaction = False
        self._transaction_started = 0.0

    @classmethod
    def open(cls, state_dir: Path, clock: Clock) -> StateDatabase:
        """Open (creating when missing) ``state_dir/state.db``.

        The folder is created 0700 and the file 0600 when missing.

        Raises:
            StateError: the folder or file cannot be created, or the file is not a
                certctl state database.
        """
        state_dir = Path(os.path.expanduser(state_dir))
        path = state_dir / DATABASE_FILE
        try:
            if not state_dir.is_dir():
                state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create the file 0600 ourselves; SQLite would use 0644 and gives its
            # -wal and -shm files the database file's mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError as exc:
            raise StateError(
                f"Could not create the state database {path}: {exc.strerror or exc}",
                hint="Check that certctl's user can write to that folder, or choose another "
                "with --state-dir",
            ) from exc
        connection: sqlite3.Connection | None = None
        try:
            connection = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            _migrate(connection, path)
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            raise _open_error(path, exc) from exc
        except StateError:
            if connection is not None:
                connection.close()
            raise
        return cls(connection, path, clock)

    def close(self) -> None:
        """Commit anything pending and close the connection."""
        with self._lock:
            try:
                if self._in_transaction:
                    self._commit()
            finally:
                self._connection.close()

    def __enter__(self) -> StateDatabase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes made inside (from any thread) into one transaction.

        This is for speed, not atomicity: writes made before an exception are still
        committed, because history and failure counts must survive a failed run.
        Batches nest; the outermost one commits. A long batch commits every
        ``BATCH_COMMIT_SECONDS`` so another run is never kept waiting for long.
        """
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                if self._batch_depth == 0 and self._in_transaction:
                    self._commit()

    # -- events ----------------------------------------------------------------

    def record_event(self, kind: str, key: str, type_: str, reason: str, message: str) -> None:
        """Record an event about an object (``kind`` "Certificate", ``key`` "ns/name").

        As Kubernetes does, an event equal to the object's latest one bumps that
        one's count and last-seen time instead of adding a row.
        """
        if type_ not in EVENT_TYPES:
            raise ValueError(f"event type must be one of {EVENT_TYPES}, not {type_!r}")
        now = _to_text(self._clock.now())
        with self._writing():
            latest = self._connection.execute(
                "SELECT id, type, reason, message FROM events WHERE kind = ? AND key = ? "
                "ORDER BY id DESC LIMIT 1",
                (kind, key),
            ).fetchone()
            if latest is not None and tuple(latest[1:]) == (type_, reason, message):
                self._connection.execute(
                    "UPDATE events SET count = count + 1, last_seen = ? WHERE id = ?",
                    (now, latest[0]),
                )
                return
            self._connection.execute(
                "INSERT INTO events (kind, key, type, reason, message, count, first_seen, "
                "last_seen) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (kind, key, type_, reason, message, now, now),
            )
            self._connection.execute(
                "DELETE FROM events WHERE kind = ? AND key = ? AND id <= ("
                "SELECT id FROM events WHERE kind = ? AND key = ? ORDER BY id DESC "
                "LIMIT 1 OFFSET ?)",
                (kind, key, kind, key, EVENTS_PER_OBJECT),
            )

    def events(self, kind: str, key: str, limit: int = 50) -> list[Event]:
        """Return an object's newest ``limit`` events, oldest first."""
        rows = self._query(
            "SELECT type, reason, message, count, first_seen, last_seen FROM ("
            "SELECT * FROM events WHERE kind = ? AND key = ? ORDER BY id DESC LIMIT ?"
            ") ORDER BY id",
            (kind, key, limit),
        )
        return [
            Event(
                type=row[0],
                reason=row[1],
                message=row[2],
                count=row[3],
                first_seen=_from_text_required(row[4]),
                last_seen=_from_text_required(row[5]),
            )
            for row in rows
        ]

    # -- certificate status ----------------------------------------------------

    def get_status(self, key: str) -> CertificateStatus | None:
        """Return a Certificate's status, or None when nothing was recorded."""
        rows = self._query(
            f"SELECT {_STATUS_COLUMNS} FROM certificate_status WHERE key = ?", (key,)
        )
        return _status_from_row(rows[0]) if rows else None

    def all_statuses(self) -> dict[str, CertificateStatus]:
        """Return every recorded status, by key."""
        rows = self._query(f"SELECT {_STATUS_COLUMNS} FROM certificate_status", ())
        return {row[0]: _status_from_row(row) for row in rows}

    def record_issued(
        self,
        key: str,
        *,
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        renewal_time: dt.datetime | None,
        issuer: str,
    ) -> CertificateStatus:
        """Record a new certificate: revision goes up by one and failures are cleared."""
        row = self._write_returning(
            "INSERT INTO certificate_status (key, revision, not_before, not_after, "
            "renewal_time, last_issued_at, issuer) VALUES (?, 1, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET revision = revision + 1, "
            "failed_issuance_attempts = 0, last_failure_time = NULL, "
            "last_failure_reason = '', last_failure_message = '', "
            "last_failure_spec_hash = '', not_before = excluded.not_before, "
            "not_after = excluded.not_after, renewal_time = excluded.renewal_time, "
            "last_issued_at = excluded.last_issued_at, issuer = excluded.issuer "
            f"RETURNING {_STATUS_COLUMNS}",
            (
                key,
                _to_text(not_before),
                _to_text(not_after),
                _to_text(renewal_time),
                _to_text(self._clock.now()),
                issuer,
            ),
        )
        return _status_from_row(row)

    def record_failure(
        self, key: str, *, reason: str, message: str, spec_hash: str
    ) -> CertificateStatus:
        """Record a failed issuance: one more attempt, at the clock's now (for backoff)."""
        row = self._write_returning(
            "INSERT INTO certificate_status (key, failed_issuance_attempts, last_failure_time, "
            "last_failure_reason, last_failure_message, last_failure_spec_hash) "
            "VALUES (?, 1, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "failed_issuance_attempts = failed_issuance_attempts + 1, "
            "last_failure_time = excluded.last_failure_time, "
            "last_failure_reason = excluded.last_failure_reason, "
            "last_failure_message = excluded.last_failure_message, "
            "last_failure_spec_hash = excluded.last_failure_spec_hash "
            f"RETURNING {_STATUS_COLUMNS}",
            (key, _to_text(self._clock.now()), reason, message, spec_hash),
        )
        return _status_from_row(row)

    def record_observed(
        self,
        key: str,
        *,
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        renewal_time: dt.datetime | None,
    ) -> CertificateStatus:
        """Refresh validity from the certificate found in the store, without a new revision."""
        row = self._write_returning(
            "INSERT INTO certificate_status (key, not_before, not_after, renewal_time) "
            "VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET not_before = excluded.not_before, "
            "not_after = excluded.not_after, renewal_time = excluded.renewal_time "
            f"RETURNING {_STATUS_COLUMNS}",
            (key, _to_text(not_before), _to_text(not_after), _to_text(renewal_time)),
        )
        return _status_from_row(row)

    # -- fingerprints ----------------------------------------------------------

    def load_fingerprints(self) -> dict[str, Fingerprint]:
        """Return every fingerprint, by key, in one query."""
        rows = self._query(
            "SELECT key, spec_hash, secret_version, renewal_time, not_after, verdict "
            "FROM fingerprints",
            (),
        )
        return {
            row[0]: Fingerprint(
                key=row[0],
                spec_hash=row[1],
                secret_version=row[2],
                renewal_time=_from_text(row[3]),
                not_after=_from_text(row[4]),
                verdict=row[5],
            )
            for row in rows
        }

    def save_fingerprints(self, items: Iterable[Fingerprint]) -> None:
        """Insert or replace fingerprints, all in one transaction."""
        rows = [
            (
                item.key,
                item.spec_hash,
                item.secret_version,
                _to_text(item.renewal_time),
                _to_text(item.not_after),
                item.verdict,
            )
            for item in items
        ]
        if not rows:
            return
        with self._writing():
            self._connection.executemany(
                "INSERT INTO fingerprints (key, spec_hash, secret_version, renewal_time, "
                "not_after, verdict) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET spec_hash = excluded.spec_hash, "
                "secret_version = excluded.secret_version, "
                "renewal_time = excluded.renewal_time, not_after = excluded.not_after, "
                "verdict = excluded.verdict",
                rows,
            )

    def forget_fingerprint(self, key: str) -> None:
        """Drop a fingerprint, so the next run looks at the secret again."""
        with self._writing():
            self._connection.execute("DELETE FROM fingerprints WHERE key = ?", (key,))

    # -- ACME orders and challenges ---------------------------------------------

    def save_acme_object(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        certificate: str,
        state: str,
        body: Mapping[str, Any],
    ) -> None:
        """Insert or update an Order or Challenge (``body`` is its spec and status)."""
        now = _to_text(self._clock.now())
        with self._writing():
            self._connection.execute(
                "INSERT INTO acme_objects (kind, namespace, name, certificate, state, created,"
                " updated, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (kind, namespace, name) DO UPDATE SET state = excluded.state,"
                " updated = excluded.updated, body = excluded.body",
                (
                    kind,
                    namespace,
                    name,
                    certificate,
                    state,
                    now,
                    now,
                    json.dumps(body, sort_keys=True, default=str),
                ),
            )
            # Keep the history bounded: the newest orders and challenges per certificate.
            self._connection.execute(
                "DELETE FROM acme_objects WHERE kind = ? AND certificate = ? AND name NOT IN"
                " (SELECT name FROM acme_objects WHERE kind = ? AND certificate = ?"
                " ORDER BY created DESC, name LIMIT ?)",
                (kind, certificate, kind, certificate, ACME_OBJECTS_PER_CERTIFICATE),
            )
        # Commit at once, even inside a batch: a Challenge recorded as presented is how
        # `challenge cleanup` finds the TXT record a killed run left behind.
        with self._lock:
            if self._in_transaction:
                self._commit()

    def acme_objects(self, kind: str, namespace: str | None = None) -> list[AcmeObject]:
        """Every recorded Order or Challenge (of one namespace), oldest first."""
        sql = f"SELECT {_ACME_COLUMNS} FROM acme_objects WHERE kind = ?"
        parameters: tuple[Any, ...] = (kind,)
        if namespace is not None:
            sql += " AND namespace = ?"
            parameters += (namespace,)
        rows = self._query(sql + " ORDER BY created, name", parameters)
        return [_acme_from_row(row) for row in rows]

    def get_acme_object(self, kind: str, namespace: str, name: str) -> AcmeObject | None:
        rows = self._query(
            f"SELECT {_ACME_COLUMNS} FROM acme_objects WHERE kind = ? AND namespace = ?"
            " AND name = ?",
            (kind, namespace, name),
        )
        return _acme_from_row(rows[0]) if rows else None

    # -- internals -------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Run a write inside the current transaction (starting one if needed).

        Outside a batch the write commits when the block ends; on an error it is
        rolled back (inside a batch, only that statement is lost).
        """
        with self._lock:
            try:
                if not self._in_transaction:
                    # IMMEDIATE takes the write lock now: a deferred transaction that
                    # reads first can fail with SQLITE_BUSY without waiting when it
                    # later tries to write.
                    self._connection.execute("BEGIN IMMEDIATE")
                    self._in_transaction = True
                    self._transaction_started = time.monotonic()
                yield
                if (
                    self._batch_depth == 0
                    or time.monotonic() - self._transaction_started > BATCH_COMMIT_SECONDS
                ):
                    self._commit()
            except sqlite3.Error as exc:
                if self._batch_depth == 0:
                    self._rollback()
                raise self._error("write to", exc) from exc
            except BaseException:
                if self._batch_depth == 0 and self._in_transaction:
                    self._rollback()
                raise

    def _write_returning(self, sql: str, parameters: tuple[Any, ...]) -> tuple[Any, ...]:
        with self._writing():
            row: tuple[Any, ...] = self._connection.execute(sql, parameters).fetchone()
        return row

    def _query(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc

    def _commit(self) -> None:
        try:
            self._connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._error("write to", exc) from exc
        self._in_transaction = False

    def _rollback(self) -> None:
        self._in_transaction = False
        with suppress(sqlite3.Error):
            self._connection.execute("ROLLBACK")

    def _error(self, action: str, exc: sqlite3.Error) -> StateError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return StateError(
                f"Could not {action} the state database {self.path}: another certctl run kept "
                f"it busy for more than {BUSY_TIMEOUT_SECONDS:g}s ({text})",
                hint="Run again when the other run has finished",
            )
        return StateError(
            f"Could not {action} the state database {self.path}: {text}",
            hint=_MOVE_AWAY_HINT.format(path=self.path),
        )


_MOVE_AWAY_HINT = (
    "If the file is damaged, move it away (mv {path} {path}.broken) and run again: certctl "
    "starts a new one, and losing it loses history, never certificates"
)


def _open_error(path: Path, exc: sqlite3.Error) -> StateError:
    return StateError(
        f"Could not open the state database {path}: {exc}",
        hint=_MOVE_AWAY_HINT.format(path=path),
    )


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Create or upgrade the schema; safe when two runs open a new database at once."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StateError(
                f"The state database {path} was written by a newer certctl (schema "
                f"{version}; this one knows up to {SCHEMA_VERSION})",
                hint="Upgrade certctl, or point --state-dir at another folder",
            )
        for script in _MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


_ACME_COLUMNS = "kind, namespace, name, certificate, state, created, updated, body"
#: Orders (and challenges) kept per certificate; older ones are dropped.
ACME_OBJECTS_PER_CERTIFICATE = 20


@dataclass(frozen=True)
class AcmeObject:
    """An ACME Order or Challenge as recorded: cert-manager's spec and status in ``body``."""

    kind: str
    namespace: str
    name: str
    certificate: str
    state: str
    created: dt.datetime
    updated: dt.datetime
    body: Mapping[str, Any]


def _acme_from_row(row: tuple[Any, ...]) -> AcmeObject:
    return AcmeObject(
        kind=row[0],
        namespace=row[1],
        name=row[2],
        certificate=row[3],
        state=row[4],
        created=_from_text_required(row[5]),
        updated=_from_text_required(row[6]),
        body=json.loads(row[7]),
    )


def _to_text(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"the state database stores aware datetimes only, not {value!r}")
    return value.astimezone(dt.UTC).isoformat()


def _from_text(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _from_text_required(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _status_from_row(row: tuple[Any, ...]) -> CertificateStatus:
    return CertificateStatus(
        key=row[0],
        revision=row[1],
        failed_issuance_attempts=row[2],
        last_failure_time=_from_text(row[3]),
        last_failure_reason=row[4],
        last_failure_message=row[5],
        last_failure_spec_hash=row[6],
        not_before=_from_text(row[7]),
        not_after=_from_text(row[8]),
        renewal_time=_from_text(row[9]),
        last_issued_at=_from_text(row[10]),
        issuer=row[11],
    )
