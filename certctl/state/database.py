"""The state database: history and bookkeeping in ``<state_dir>/state.db``.

The secret store is the source of truth; this database only remembers what
happened (events), what cert-manager keeps in a Certificate's status (revision,
failed attempts for backoff, validity), and fingerprints that let a cron run with
nothing to do skip reading every secret. Private keys never go here. Losing the
file loses history, never certificates.

Everything is kept per store: a database is opened for one store's identity
(``dir:/abs/path``, ``kubernetes:CONTEXT@HOST``, ``manifest:/abs/file``), and every
row it reads or writes carries that identity, so two stores sharing a state dir
never see each other's history, revisions, backoff, orders or challenges.

One connection serves every thread, guarded by a lock. Writes outside a
:meth:`StateDatabase.batch` commit at once. Inside one they wait in memory and are
written together, in one transaction, when the batch ends, when they have waited
``BATCH_COMMIT_SECONDS``, or before anything is read, so a run pays for a few
transactions instead of one per event. ACME Orders and Challenges are the exception:
they are committed at once, because ``challenge cleanup`` relies on them.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
#: Writes inside a batch wait at most this long before they are committed, so a
#: killed run loses little and another run is never kept waiting for long.
BATCH_COMMIT_SECONDS = 0.5

EVENT_TYPES = ("Normal", "Warning")

# Each entry upgrades the schema by one version; PRAGMA user_version counts them.
# ``:store`` in a statement is the identity of the store that opens the database.
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
    # Every row belongs to one store. Rows written before this version belong to the
    # store of the run that upgrades the database (the first one to open it).
    """
    ALTER TABLE events ADD COLUMN store TEXT NOT NULL DEFAULT '';
    UPDATE events SET store = :store;
    DROP INDEX events_by_object;
    CREATE INDEX events_by_object ON events (store, kind, key, id);
    CREATE TABLE certificate_status_by_store (
        store TEXT NOT NULL,
        key TEXT NOT NULL,
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
        issuer TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (store, key)
    ) WITHOUT ROWID;
    INSERT INTO certificate_status_by_store SELECT :store, * FROM certificate_status;
    DROP TABLE certificate_status;
    ALTER TABLE certificate_status_by_store RENAME TO certificate_status;
    CREATE TABLE fingerprints_by_store (
        store TEXT NOT NULL,
        key TEXT NOT NULL,
        spec_hash TEXT NOT NULL,
        secret_version TEXT NOT NULL,
        renewal_time TEXT,
        not_after TEXT,
        verdict TEXT NOT NULL,
        PRIMARY KEY (store, key)
    ) WITHOUT ROWID;
    INSERT INTO fingerprints_by_store SELECT :store, * FROM fingerprints;
    DROP TABLE fingerprints;
    ALTER TABLE fingerprints_by_store RENAME TO fingerprints;
    CREATE TABLE acme_objects_by_store (
        store TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        certificate TEXT NOT NULL,
        state TEXT NOT NULL,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (store, kind, namespace, name)
    ) WITHOUT ROWID;
    INSERT INTO acme_objects_by_store SELECT :store, * FROM acme_objects;
    DROP TABLE acme_objects;
    ALTER TABLE acme_objects_by_store RENAME TO acme_objects;
    CREATE INDEX acme_objects_by_certificate ON acme_objects (store, kind, certificate);
    """,
    # The namespaces each sync source set wrote to, so --prune looks in all of them.
    """
    CREATE TABLE sync_secrets (
        store TEXT NOT NULL,
        source_set TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (store, source_set, namespace, name)
    ) WITHOUT ROWID;
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

# The status writes, each one statement whose parameters start with (store, key).
_RECORD_ISSUED = (
    "INSERT INTO certificate_status (store, key, revision, not_before, not_after, "
    "renewal_time, last_issued_at, issuer) VALUES (?, ?, 1, ?, ?, ?, ?, ?) "
    "ON CONFLICT (store, key) DO UPDATE SET revision = revision + 1, "
    "failed_issuance_attempts = 0, last_failure_time = NULL, "
    "last_failure_reason = '', last_failure_message = '', "
    "last_failure_spec_hash = '', not_before = excluded.not_before, "
    "not_after = excluded.not_after, renewal_time = excluded.renewal_time, "
    "last_issued_at = excluded.last_issued_at, issuer = excluded.issuer"
)
_RECORD_FAILURE = (
    "INSERT INTO certificate_status (store, key, failed_issuance_attempts, last_failure_time, "
    "last_failure_reason, last_failure_message, last_failure_spec_hash) "
    "VALUES (?, ?, 1, ?, ?, ?, ?) "
    "ON CONFLICT (store, key) DO UPDATE SET "
    "failed_issuance_attempts = failed_issuance_attempts + 1, "
    "last_failure_time = excluded.last_failure_time, "
    "last_failure_reason = excluded.last_failure_reason, "
    "last_failure_message = excluded.last_failure_message, "
    "last_failure_spec_hash = excluded.last_failure_spec_hash"
)
_RECORD_OBSERVED = (
    "INSERT INTO certificate_status (store, key, not_before, not_after, renewal_time) "
    "VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (store, key) DO UPDATE SET not_before = excluded.not_before, "
    "not_after = excluded.not_after, renewal_time = excluded.renewal_time"
)
_SAVE_FINGERPRINT = (
    "INSERT INTO fingerprints (store, key, spec_hash, secret_version, renewal_time, "
    "not_after, verdict) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (store, key) DO UPDATE SET spec_hash = excluded.spec_hash, "
    "secret_version = excluded.secret_version, "
    "renewal_time = excluded.renewal_time, not_after = excluded.not_after, "
    "verdict = excluded.verdict"
)
_FORGET_FINGERPRINT = "DELETE FROM fingerprints WHERE store = ? AND key = ?"


@dataclass(frozen=True)
class _PendingEvent:
    kind: str
    key: str
    type: str
    reason: str
    message: str
    seen: str


#: A write waiting in a batch: an event, or one statement and its parameters.
_Pending = _PendingEvent | tuple[str, tuple[Any, ...]]


class StateDatabase:
    """The SQLite state database of one store; open it with :meth:`open`."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, clock: Clock, store: str
    ) -> None:
        self.path = path
        #: The identity of the store this database reads and writes the history of.
        self.store = store
        self._connection = connection
        self._clock = clock
        self._lock = threading.RLock()
        self._batch_depth = 0
        self._pending: list[_Pending] = []
        self._pending_since = 0.0

    @classmethod
    def open(cls, state_dir: Path, clock: Clock, *, store: str) -> StateDatabase:
        """Open (creating when missing) ``state_dir/state.db`` for the store ``store``.

        The folder is created 0700 and the file 0600 when missing. ``store`` is the
        store's identity (``SecretStore.identity``); an older database is upgraded,
        and its rows become this store's.

        Raises:
            StateError: the folder or file cannot be created or written (the message
                says why: no space left, a read-only folder, a file in the way), or
                the file is not a certctl state database.
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
            raise _folder_error(state_dir, path, exc) from exc
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
            _migrate(connection, path, store)
        except sqlite3.Error as exc:
            if connection is not None:
                connection.close()
            raise _sqlite_error("open", path, exc) from exc
        except StateError:
            if connection is not None:
                connection.close()
            raise
        return cls(connection, path, clock, store)

    def close(self) -> None:
        """Write anything pending and close the connection."""
        with self._lock:
            try:
                self._flush()
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
        """Group the writes made inside (from any thread) into few transactions.

        This is for speed, not atomicity: writes made before an exception are still
        committed, because history and failure counts must survive a failed run.
        Batches nest; the outermost one writes what is pending when it ends. Until
        then writes wait in memory for at most ``BATCH_COMMIT_SECONDS``; a read
        writes them first, so it always sees them.
        """
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self._flush()

    # -- events ----------------------------------------------------------------

    def record_event(self, kind: str, key: str, type_: str, reason: str, message: str) -> None:
        """Record an event about an object (``kind`` "Certificate", ``key`` "ns/name").

        As Kubernetes does, an event equal to the object's latest one bumps that
        one's count and last-seen time instead of adding a row.
        """
        if type_ not in EVENT_TYPES:
            raise ValueError(f"event type must be one of {EVENT_TYPES}, not {type_!r}")
        seen = _to_text(self._clock.now())
        assert seen is not None
        self._enqueue(_PendingEvent(kind, key, type_, reason, message, seen))

    def events(self, kind: str, key: str, limit: int = 50) -> list[Event]:
        """Return an object's newest ``limit`` events, oldest first."""
        rows = self._query(
            "SELECT type, reason, message, count, first_seen, last_seen FROM ("
            "SELECT * FROM events WHERE store = ? AND kind = ? AND key = ? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            (self.store, kind, key, limit),
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
            f"SELECT {_STATUS_COLUMNS} FROM certificate_status WHERE store = ? AND key = ?",
            (self.store, key),
        )
        return _status_from_row(rows[0]) if rows else None

    def all_statuses(self) -> dict[str, CertificateStatus]:
        """Return every recorded status, by key."""
        rows = self._query(
            f"SELECT {_STATUS_COLUMNS} FROM certificate_status WHERE store = ?", (self.store,)
        )
        return {row[0]: _status_from_row(row) for row in rows}

    def record_issued(
        self,
        key: str,
        *,
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        renewal_time: dt.datetime | None,
        issuer: str,
    ) -> None:
        """Record a new certificate: revision goes up by one and failures are cleared."""
        self._enqueue(
            (
                _RECORD_ISSUED,
                (
                    self.store,
                    key,
                    _to_text(not_before),
                    _to_text(not_after),
                    _to_text(renewal_time),
                    _to_text(self._clock.now()),
                    issuer,
                ),
            )
        )

    def record_failure(self, key: str, *, reason: str, message: str, spec_hash: str) -> None:
        """Record a failed issuance: one more attempt, at the clock's now (for backoff)."""
        self._enqueue(
            (
                _RECORD_FAILURE,
                (self.store, key, _to_text(self._clock.now()), reason, message, spec_hash),
            )
        )

    def record_observed(
        self,
        key: str,
        *,
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        renewal_time: dt.datetime | None,
    ) -> None:
        """Refresh validity from the certificate found in the store, without a new revision."""
        self._enqueue(
            (
                _RECORD_OBSERVED,
                (
                    self.store,
                    key,
                    _to_text(not_before),
                    _to_text(not_after),
                    _to_text(renewal_time),
                ),
            )
        )

    # -- fingerprints ----------------------------------------------------------

    def load_fingerprints(self) -> dict[str, Fingerprint]:
        """Return every fingerprint, by key, in one query."""
        rows = self._query(
            "SELECT key, spec_hash, secret_version, renewal_time, not_after, verdict "
            "FROM fingerprints WHERE store = ?",
            (self.store,),
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
        with self.batch():
            for item in items:
                self._enqueue(
                    (
                        _SAVE_FINGERPRINT,
                        (
                            self.store,
                            item.key,
                            item.spec_hash,
                            item.secret_version,
                            _to_text(item.renewal_time),
                            _to_text(item.not_after),
                            item.verdict,
                        ),
                    )
                )

    def forget_fingerprint(self, key: str) -> None:
        """Drop a fingerprint, so the next run looks at the secret again."""
        self._enqueue((_FORGET_FINGERPRINT, (self.store, key)))

    # -- sync source sets --------------------------------------------------------

    def sync_secrets(self, source_set: str) -> set[tuple[str, str]]:
        """The Secrets (namespace, name) ``sync`` wrote for ``source_set`` (engine/sync.py)."""
        rows = self._query(
            "SELECT namespace, name FROM sync_secrets WHERE store = ? AND source_set = ?",
            (self.store, source_set),
        )
        return {(row[0], row[1]) for row in rows}

    def set_sync_secrets(self, source_set: str, secrets: Iterable[tuple[str, str]]) -> None:
        """Replace the Secrets recorded for ``source_set``."""
        rows = [(self.store, source_set, ns, name) for ns, name in sorted(set(secrets))]
        with self._lock:
            self._flush()
            with self._transaction():
                self._connection.execute(
                    "DELETE FROM sync_secrets WHERE store = ? AND source_set = ?",
                    (self.store, source_set),
                )
                self._connection.executemany(
                    "INSERT INTO sync_secrets (store, source_set, namespace, name) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )

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
        """Insert or update an Order or Challenge (``body`` is its spec and status).

        Committed at once, even inside a batch: a Challenge recorded as presented is
        how ``challenge cleanup`` finds the TXT record a killed run left behind.
        """
        now = _to_text(self._clock.now())
        with self._lock:
            self._flush()
            with self._transaction():
                self._connection.execute(
                    "INSERT INTO acme_objects (store, kind, namespace, name, certificate, state,"
                    " created, updated, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (store, kind, namespace, name) DO UPDATE SET"
                    " state = excluded.state, updated = excluded.updated, body = excluded.body",
                    (
                        self.store,
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
                    "DELETE FROM acme_objects WHERE store = ? AND kind = ? AND certificate = ?"
                    " AND name NOT IN (SELECT name FROM acme_objects WHERE store = ? AND kind = ?"
                    " AND certificate = ? ORDER BY created DESC, name LIMIT ?)",
                    (
                        self.store,
                        kind,
                        certificate,
                        self.store,
                        kind,
                        certificate,
                        ACME_OBJECTS_PER_CERTIFICATE,
                    ),
                )

    def acme_objects(self, kind: str, namespace: str | None = None) -> list[AcmeObject]:
        """Every recorded Order or Challenge (of one namespace), newest first.

        Newest first, so that the Challenge of the order that just failed comes before
        the older, valid ones for the same names.
        """
        sql = f"SELECT {_ACME_COLUMNS} FROM acme_objects WHERE store = ? AND kind = ?"
        parameters: tuple[Any, ...] = (self.store, kind)
        if namespace is not None:
            sql += " AND namespace = ?"
            parameters += (namespace,)
        rows = self._query(sql + " ORDER BY created DESC, name", parameters)
        return [_acme_from_row(row) for row in rows]

    def get_acme_object(self, kind: str, namespace: str, name: str) -> AcmeObject | None:
        rows = self._query(
            f"SELECT {_ACME_COLUMNS} FROM acme_objects WHERE store = ? AND kind = ?"
            " AND namespace = ? AND name = ?",
            (self.store, kind, namespace, name),
        )
        return _acme_from_row(rows[0]) if rows else None

    # -- internals -------------------------------------------------------------

    def _enqueue(self, write: _Pending) -> None:
        """Queue a write; outside a batch, or once the queue is old enough, write it all."""
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(write)
            if (
                self._batch_depth == 0
                or time.monotonic() - self._pending_since >= BATCH_COMMIT_SECONDS
            ):
                self._flush()

    def _flush(self) -> None:
        """Write every pending write in one transaction (the caller holds the lock).

        A failure loses the pending writes (they are what failed) and raises.
        """
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self._transaction():
            events = [item for item in pending if isinstance(item, _PendingEvent)]
            if events:
                self._write_events(events)
            # Status and fingerprint writes run in order, a run of one statement at a time.
            statement, rows = "", list[tuple[Any, ...]]()
            for item in pending:
                if isinstance(item, _PendingEvent):
                    continue
                if item[0] != statement and rows:
                    self._connection.executemany(statement, rows)
                    rows = []
                statement = item[0]
                rows.append(item[1])
            if rows:
                self._connection.executemany(statement, rows)

    def _write_events(self, events: Sequence[_PendingEvent]) -> None:
        """Insert events, counting repeats of each object's latest event instead."""
        objects = list(dict.fromkeys((event.kind, event.key) for event in events))
        # Each object's latest event: (id or None for one inserted below, type, reason,
        # message), and for a new one its row in ``inserts``.
        latest: dict[tuple[str, str], list[Any]] = {}
        for start in range(0, len(objects), 400):
            chunk = objects[start : start + 400]
            values = ", ".join("(?, ?)" for _ in chunk)
            for row in self._connection.execute(
                "SELECT kind, key, id, type, reason, message FROM events WHERE id IN ("
                f"SELECT max(id) FROM events WHERE store = ? AND (kind, key) IN (VALUES {values})"
                " GROUP BY kind, key)",
                (self.store, *(part for item in chunk for part in item)),
            ):
                latest[(row[0], row[1])] = [row[2], row[3], row[4], row[5]]
        bumps: dict[int, list[Any]] = {}
        inserts: list[list[Any]] = []
        for event in events:
            current = latest.get((event.kind, event.key))
            if current is not None and current[1:4] == [event.type, event.reason, event.message]:
                if current[0] is None:
                    inserts[current[4]][6] += 1
                    inserts[current[4]][8] = event.seen
                else:
                    bump = bumps.setdefault(current[0], [0, event.seen])
                    bump[0] += 1
                    bump[1] = event.seen
                continue
            latest[(event.kind, event.key)] = [
                None,
                event.type,
                event.reason,
                event.message,
                len(inserts),
            ]
            inserts.append(
                [
                    self.store,
                    event.kind,
                    event.key,
                    event.type,
                    event.reason,
                    event.message,
                    1,
                    event.seen,
                    event.seen,
                ]
            )
        if bumps:
            self._connection.executemany(
                "UPDATE events SET count = count + ?, last_seen = ? WHERE id = ?",
                [(count, seen, row_id) for row_id, (count, seen) in bumps.items()],
            )
        if inserts:
            self._connection.executemany(
                "INSERT INTO events (store, kind, key, type, reason, message, count, "
                "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
            grown = dict.fromkeys((row[1], row[2]) for row in inserts)
            self._connection.executemany(
                "DELETE FROM events WHERE store = ? AND kind = ? AND key = ? AND id <= ("
                "SELECT id FROM events WHERE store = ? AND kind = ? AND key = ? "
                "ORDER BY id DESC LIMIT 1 OFFSET ?)",
                [
                    (self.store, kind, key, self.store, kind, key, EVENTS_PER_OBJECT)
                    for kind, key in grown
                ],
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, committed at the end and rolled back on an error."""
        with self._lock:
            try:
                # IMMEDIATE takes the write lock now: a deferred transaction that reads
                # first can fail with SQLITE_BUSY without waiting when it later writes.
                self._connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _sqlite_error("write to", self.path, exc) from exc
            try:
                yield
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _sqlite_error("write to", self.path, exc) from exc
            except BaseException:
                self._rollback()
                raise

    def _query(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            self._flush()
            try:
                return self._connection.execute(sql, parameters).fetchall()
            except sqlite3.Error as exc:
                raise _sqlite_error("read", self.path, exc) from exc

    def _rollback(self) -> None:
        with suppress(sqlite3.Error):
            self._connection.execute("ROLLBACK")


# -- errors that say what is wrong -------------------------------------------------------

# SQLite's primary result codes (https://www.sqlite.org/rescode.html).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_AUTH = 23
_SQLITE_NOTADB = 26

_OTHER_DIR_HINT = "or point --state-dir (CERTCTL_STATE_DIR) at another folder"
_MOVE_AWAY_HINT = (
    "If the file is damaged, move it away (mv {path} {path}.broken) and run again: certctl "
    "starts a new one, and losing it loses history, never certificates"
)


def _diagnose(state_dir: Path, path: Path) -> tuple[str, str] | None:
    """What is wrong with the state dir, as (sentence, hint), or None if nothing shows.

    Checked in the order a person would: is it a folder, is it mounted read-only, may
    this user write to it, is the disk full.
    """
    folder = os.fspath(state_dir)
    # The nearest part of the path that exists: the state dir, or the parent it needs.
    existing = state_dir
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not os.path.isdir(existing):
        return (
            f"{existing} is a file, not a folder, so it cannot hold the state"
            if existing == state_dir
            else f"{existing} is a file, not a folder, so the state dir {folder} cannot be "
            "created below it",
            f"Move the file away, {_OTHER_DIR_HINT}",
        )
    try:
        stats = os.statvfs(existing)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return (
            f"{existing} is on a read-only file system",
            f"Mount it read-write, {_OTHER_DIR_HINT}",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return (
            f"the folder {existing} is read-only for certctl's user (uid {os.getuid()})",
            f"Give that user write access to it (chmod u+w or chown), {_OTHER_DIR_HINT}",
        )
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        return (
            f"the file {path} is read-only for certctl's user (uid {os.getuid()})",
            f"Give that user read and write access to it, {_OTHER_DIR_HINT}",
        )
    if stats.f_bavail == 0:
        return _no_space(existing)
    return None


def _no_space(folder: Path) -> tuple[str, str]:
    return (
        f"no space left on the device holding {folder}",
        f"Free some space there (df -h {folder} shows how much is left), {_OTHER_DIR_HINT}; "
        "the certificates in the store are not affected",
    )


def _folder_error(state_dir: Path, path: Path, exc: OSError) -> StateError:
    """The state dir or its file could not be created."""
    diagnosis = _diagnose(state_dir, path)
    if diagnosis is None and exc.errno == errno.ENOSPC:
        diagnosis = _no_space(state_dir)
    if diagnosis is None:
        diagnosis = (
            exc.strerror or str(exc),
            f"Check that certctl's user can write to that folder, {_OTHER_DIR_HINT}",
        )
    sentence, hint = diagnosis
    return StateError(f"Could not create the state database {path}: {sentence}", hint=hint)


def _sqlite_error(action: str, path: Path, exc: sqlite3.Error) -> StateError:
    """A SQLite error, said as what is wrong (busy, full, read-only, damaged)."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
    where = f"Could not {action} the state database {path}"
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text or "busy" in text:
        return StateError(
            f"{where}: another certctl run kept it busy for more than "
            f"{BUSY_TIMEOUT_SECONDS:g}s ({text})",
            hint="Run again when the other run has finished",
        )
    if code == _SQLITE_FULL:
        sentence, hint = _no_space(path.parent)
        return StateError(f"{where}: {sentence} ({text})", hint=hint)
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StateError(f"{where}: {text}", hint=_MOVE_AWAY_HINT.format(path=path))
    # Read-only, cannot open, I/O error: look at the folder to say which it is.
    diagnosis = _diagnose(path.parent, path)
    if diagnosis is not None:
        sentence, hint = diagnosis
        return StateError(f"{where}: {sentence} ({text})", hint=hint)
    if code in (_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_AUTH):
        return StateError(
            f"{where}: {text}",
            hint=f"Check that certctl's user can read and write {path.parent}, {_OTHER_DIR_HINT}",
        )
    if code == _SQLITE_IOERR:
        return StateError(
            f"{where}: the disk reported an I/O error ({text})",
            hint=f"Check the disk holding {path.parent} (dmesg shows why), {_OTHER_DIR_HINT}",
        )
    return StateError(f"{where}: {text}", hint=_MOVE_AWAY_HINT.format(path=path))


def _migrate(connection: sqlite3.Connection, path: Path, store: str) -> None:
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
                    connection.execute(statement, {"store": store} if ":store" in statement else {})
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
