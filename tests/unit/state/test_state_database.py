"""The SQLite state database: events, certificate status, fingerprints."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from certctl.clock import FixedClock
from certctl.errors import StateError
from certctl.state.database import (
    EVENTS_PER_OBJECT,
    SCHEMA_VERSION,
    CertificateStatus,
    Fingerprint,
    StateDatabase,
)

T0 = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
#: The store identity most tests open the database for.
STORE = "dir:/srv/certs"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def db(state_dir: Path, clock: FixedClock) -> Iterator[StateDatabase]:
    with StateDatabase.open(state_dir, clock, store=STORE) as database:
        yield database


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- opening ---------------------------------------------------------------------


def test_open_creates_a_private_folder_and_file(state_dir: Path, clock: FixedClock) -> None:
    with StateDatabase.open(state_dir, clock, store=STORE) as database:
        database.record_event("Certificate", "default/web", "Normal", "Issuing", "x")
        assert mode_of(state_dir) == 0o700
        for name in os.listdir(state_dir):  # state.db and its -wal and -shm files
            assert mode_of(state_dir / name) == 0o600, name
    connection = sqlite3.connect(state_dir / "state.db")
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not a database at all" * 100, id="a text file"),
        pytest.param(b"SQLite format 3\x00" + b"\xff" * 4000, id="a damaged header"),
    ],
)
def test_a_corrupt_file_is_a_state_error_that_says_to_move_it(
    state_dir: Path, clock: FixedClock, content: bytes
) -> None:
    state_dir.mkdir()
    (state_dir / "state.db").write_bytes(content)

    with pytest.raises(StateError) as caught:
        StateDatabase.open(state_dir, clock, store=STORE)

    error = caught.value
    assert str(state_dir / "state.db") in error.message
    assert "move it away" in error.hint
    assert "never certificates" in error.hint
    assert error.exit_code == 3


def test_a_database_from_a_newer_certctl_is_refused(state_dir: Path, clock: FixedClock) -> None:
    state_dir.mkdir()
    connection = sqlite3.connect(state_dir / "state.db")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()

    with pytest.raises(StateError, match="newer certctl"):
        StateDatabase.open(state_dir, clock, store=STORE)


def test_a_folder_that_cannot_be_created_is_a_state_error(
    tmp_path: Path, clock: FixedClock
) -> None:
    (tmp_path / "file").write_text("")

    with pytest.raises(StateError, match="Could not create"):
        StateDatabase.open(tmp_path / "file" / "state", clock, store=STORE)


def test_two_instances_on_one_folder_see_each_others_writes(
    state_dir: Path, clock: FixedClock
) -> None:
    with (
        StateDatabase.open(state_dir, clock, store=STORE) as first,
        StateDatabase.open(state_dir, clock, store=STORE) as second,
    ):
        first.record_issued(
            "default/web",
            not_before=T0,
            not_after=T0 + 90 * 24 * HOUR,
            renewal_time=None,
            issuer="Issuer/ca",
        )
        with second.batch():
            second.record_failure("default/api", reason="Failed", message="m", spec_hash="h")
        first.record_event("Certificate", "default/web", "Normal", "Issued", "ok")

        assert second.get_status("default/web") is not None
        assert first.get_status("default/api") is not None
        assert [e.reason for e in second.events("Certificate", "default/web")] == ["Issued"]


# -- events ----------------------------------------------------------------------


def test_a_repeated_event_counts_instead_of_adding_a_row(
    db: StateDatabase, clock: FixedClock
) -> None:
    db.record_event("Certificate", "default/web", "Warning", "Failed", "boom")
    clock.advance(HOUR)
    db.record_event("Certificate", "default/web", "Warning", "Failed", "boom")
    clock.advance(HOUR)
    db.record_event("Certificate", "default/web", "Normal", "Issued", "ok")
    clock.advance(HOUR)
    db.record_event("Certificate", "default/web", "Warning", "Failed", "boom")

    events = db.events("Certificate", "default/web")

    assert [(e.type, e.reason, e.count) for e in events] == [
        ("Warning", "Failed", 2),
        ("Normal", "Issued", 1),
        ("Warning", "Failed", 1),
    ]
    assert events[0].first_seen == T0
    assert events[0].last_seen == T0 + HOUR
    assert events[2].first_seen == events[2].last_seen == T0 + 3 * HOUR


@pytest.mark.parametrize(
    ("other_kind", "other_key"),
    [
        pytest.param("Issuer", "default/web", id="another kind with the same key"),
        pytest.param("Certificate", "default/api", id="the same kind with another key"),
    ],
)
def test_events_belong_to_one_object(db: StateDatabase, other_kind: str, other_key: str) -> None:
    db.record_event("Certificate", "default/web", "Normal", "Issued", "ok")
    db.record_event(other_kind, other_key, "Normal", "Issued", "ok")

    assert [e.count for e in db.events("Certificate", "default/web")] == [1]
    assert [e.count for e in db.events(other_kind, other_key)] == [1]


def test_events_are_capped_per_object_and_limited_newest(db: StateDatabase) -> None:
    with db.batch():
        for i in range(EVENTS_PER_OBJECT + 20):
            db.record_event("Certificate", "default/web", "Normal", "Step", f"step {i}")
        db.record_event("Certificate", "default/api", "Normal", "Step", "kept")

    everything = db.events("Certificate", "default/web", limit=1_000)
    newest = db.events("Certificate", "default/web", limit=3)

    assert len(everything) == EVENTS_PER_OBJECT
    assert everything[-1].message == f"step {EVENTS_PER_OBJECT + 19}"
    assert [e.message for e in newest] == [f"step {EVENTS_PER_OBJECT + i}" for i in (17, 18, 19)]
    assert len(db.events("Certificate", "default/api")) == 1


def test_an_unknown_event_type_is_a_programming_error(db: StateDatabase) -> None:
    with pytest.raises(ValueError, match="Normal"):
        db.record_event("Certificate", "default/web", "Info", "Issued", "ok")


# -- certificate status ----------------------------------------------------------


def test_status_transitions_follow_cert_manager(db: StateDatabase, clock: FixedClock) -> None:
    def status() -> CertificateStatus:
        found = db.get_status("default/web")
        assert found is not None
        return found

    assert db.get_status("default/web") is None

    db.record_failure("default/web", reason="Failed", message="no CA", spec_hash="h1")
    first = status()
    assert (first.revision, first.failed_issuance_attempts) == (0, 1)
    assert first.last_failure_time == T0

    clock.advance(HOUR)
    db.record_failure("default/web", reason="Pending", message="slow", spec_hash="h2")
    second = status()
    assert second.failed_issuance_attempts == 2
    assert second.last_failure_time == T0 + HOUR
    assert (second.last_failure_reason, second.last_failure_spec_hash) == ("Pending", "h2")

    clock.advance(HOUR)
    db.record_issued(
        "default/web",
        not_before=T0,
        not_after=T0 + 2_160 * HOUR,
        renewal_time=T0 + 1_440 * HOUR,
        issuer="Issuer/ca",
    )
    issued = status()
    assert issued.revision == 1
    assert issued.failed_issuance_attempts == 0
    assert issued.last_failure_time is None
    assert (issued.last_failure_reason, issued.last_failure_message) == ("", "")
    assert issued.last_issued_at == T0 + 2 * HOUR
    assert issued.issuer == "Issuer/ca"

    db.record_observed(
        "default/web", not_before=T0, not_after=T0 + 10 * HOUR, renewal_time=T0 + 5 * HOUR
    )
    observed = status()
    assert observed.revision == 1
    assert observed.not_after == T0 + 10 * HOUR

    db.record_issued(
        "default/web", not_before=T0, not_after=None, renewal_time=None, issuer="Issuer/ca"
    )
    again = status()
    assert again.revision == 2
    assert db.all_statuses() == {"default/web": again}


def test_observing_an_unknown_certificate_starts_at_revision_zero(db: StateDatabase) -> None:
    db.record_observed("default/web", not_before=T0, not_after=None, renewal_time=None)

    status = db.get_status("default/web")
    assert status is not None
    assert status.revision == 0
    assert status.not_before == T0


def test_times_come_back_as_aware_utc(db: StateDatabase) -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    db.record_issued(
        "default/web",
        not_before=dt.datetime(2024, 6, 1, 14, 0, tzinfo=paris),
        not_after=None,
        renewal_time=None,
        issuer="",
    )

    status = db.get_status("default/web")

    assert status is not None and status.not_before == T0
    assert status.not_before.utcoffset() == dt.timedelta(0)


def test_naive_times_are_refused(db: StateDatabase) -> None:
    with pytest.raises(ValueError, match="aware"):
        db.record_observed(
            "default/web", not_before=dt.datetime(2024, 1, 1), not_after=None, renewal_time=None
        )


# -- fingerprints ----------------------------------------------------------------


def fingerprint(key: str, verdict: str = "UpToDate", version: str = "v1") -> Fingerprint:
    return Fingerprint(
        key=key,
        spec_hash=f"hash-{key}",
        secret_version=version,
        renewal_time=T0 + HOUR,
        not_after=None,
        verdict=verdict,
    )


def test_fingerprints_round_trip_and_upsert(db: StateDatabase) -> None:
    items = [fingerprint(f"default/app-{i}") for i in range(1_000)]
    db.save_fingerprints(items)
    db.save_fingerprints([fingerprint("default/app-7", verdict="Renewing", version="v2")])
    db.forget_fingerprint("default/app-8")
    db.save_fingerprints([])

    loaded = db.load_fingerprints()

    assert len(loaded) == 999
    assert loaded["default/app-1"] == items[1]
    assert loaded["default/app-7"].verdict == "Renewing"
    assert loaded["default/app-7"].secret_version == "v2"
    assert "default/app-8" not in loaded


# -- batches and threads ---------------------------------------------------------


def test_a_batch_commits_once_and_other_connections_see_it_after(
    db: StateDatabase, state_dir: Path, clock: FixedClock
) -> None:
    with db.batch():
        for i in range(200):
            db.record_event("Certificate", f"default/app-{i}", "Normal", "Issued", "ok")
        with db.batch():  # nested batches join the outer one
            db.record_failure("default/app-0", reason="Failed", message="m", spec_hash="h")

    with StateDatabase.open(state_dir, clock, store=STORE) as other:
        assert len(other.events("Certificate", "default/app-199")) == 1
        assert other.get_status("default/app-0") is not None


def test_a_batch_keeps_writes_made_before_an_exception(db: StateDatabase) -> None:
    with pytest.raises(RuntimeError), db.batch():
        db.record_failure("default/web", reason="Failed", message="m", spec_hash="h")
        raise RuntimeError("the run was interrupted")

    status = db.get_status("default/web")
    assert status is not None and status.failed_issuance_attempts == 1


def test_worker_threads_write_inside_one_batch(db: StateDatabase) -> None:
    def work(worker: int) -> None:
        for i in range(50):
            key = f"default/app-{worker}-{i}"
            db.record_event("Certificate", key, "Normal", "Issued", "ok")
            db.record_issued(key, not_before=T0, not_after=None, renewal_time=None, issuer="x")

    with db.batch():
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    statuses = db.all_statuses()
    assert len(statuses) == 400
    assert {status.revision for status in statuses.values()} == {1}


def test_a_read_inside_a_batch_sees_the_batch_s_writes(db: StateDatabase) -> None:
    with db.batch():
        db.record_failure("default/web", reason="Failed", message="m", spec_hash="h")
        db.record_event("Certificate", "default/web", "Warning", "Failed", "m")

        status = db.get_status("default/web")
        events = db.events("Certificate", "default/web")

    assert status is not None and status.failed_issuance_attempts == 1
    assert [e.reason for e in events] == ["Failed"]


def test_a_batch_writes_after_a_while_even_before_it_ends(
    db: StateDatabase, state_dir: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import certctl.state.database as database

    monkeypatch.setattr(database, "BATCH_COMMIT_SECONDS", 0.0)
    with db.batch(), StateDatabase.open(state_dir, clock, store=STORE) as other:
        db.record_event("Certificate", "default/web", "Normal", "Issuing", "one")
        db.record_event("Certificate", "default/web", "Normal", "Issuing", "two")

        assert [e.message for e in other.events("Certificate", "default/web")] == ["one", "two"]


def test_an_acme_challenge_is_committed_at_once_inside_a_batch(
    db: StateDatabase, state_dir: Path, clock: FixedClock
) -> None:
    # `challenge cleanup` finds what a killed run presented only if it was committed.
    with db.batch(), StateDatabase.open(state_dir, clock, store=STORE) as other:
        db.record_event("Certificate", "default/web", "Normal", "Issuing", "before")
        db.save_acme_object(
            "Challenge", "default", "web-1-a", certificate="default/web", state="pending", body={}
        )

        assert other.get_acme_object("Challenge", "default", "web-1-a") is not None
        assert len(other.events("Certificate", "default/web")) == 1


@pytest.mark.parametrize("batched", [False, True], ids=["one by one", "in one batch"])
def test_repeats_count_the_same_in_a_batch_and_across_batches(
    db: StateDatabase, clock: FixedClock, batched: bool
) -> None:
    def record(*events: tuple[str, str]) -> None:
        with db.batch() if batched else contextlib.nullcontext():
            for reason, message in events:
                clock.advance(HOUR)
                db.record_event("Certificate", "default/web", "Normal", reason, message)

    record(("Issuing", "a"), ("Issuing", "a"), ("Issued", "b"))
    record(("Issued", "b"), ("Issuing", "a"), ("Issuing", "a"), ("Issuing", "a"))

    events = db.events("Certificate", "default/web")
    assert [(e.reason, e.count) for e in events] == [
        ("Issuing", 2),
        ("Issued", 2),
        ("Issuing", 3),
    ]
    assert events[1].first_seen == T0 + 3 * HOUR
    assert events[1].last_seen == T0 + 4 * HOUR
    assert events[2].last_seen == T0 + 7 * HOUR


# -- one history per store -----------------------------------------------------------


def test_two_stores_sharing_a_folder_never_see_each_other(
    state_dir: Path, clock: FixedClock
) -> None:
    with (
        StateDatabase.open(state_dir, clock, store="dir:/srv/a") as first,
        StateDatabase.open(state_dir, clock, store="dir:/srv/b") as second,
    ):
        first.record_issued(
            "default/web", not_before=T0, not_after=None, renewal_time=None, issuer="x"
        )
        first.record_failure("default/api", reason="Failed", message="m", spec_hash="h")
        first.record_event("Certificate", "default/web", "Normal", "Issued", "ok")
        first.save_fingerprints([fingerprint("default/web")])
        first.save_acme_object(
            "Order", "default", "web-1", certificate="default/web", state="valid", body={}
        )
        second.record_issued(
            "default/web", not_before=T0, not_after=None, renewal_time=None, issuer="x"
        )
        second.record_event("Certificate", "default/web", "Normal", "Issued", "ok")

        mine = first.get_status("default/web")
        theirs = second.get_status("default/web")
        assert mine is not None and theirs is not None
        assert (mine.revision, theirs.revision) == (1, 1)
        assert second.get_status("default/api") is None
        assert [e.count for e in second.events("Certificate", "default/web")] == [1]
        assert list(second.load_fingerprints()) == []
        assert second.acme_objects("Order") == []
        assert second.get_acme_object("Order", "default", "web-1") is None
        assert set(first.all_statuses()) == {"default/web", "default/api"}
        assert set(second.all_statuses()) == {"default/web"}


def create_version_2_database(path: Path) -> None:
    """A state.db as certctl wrote it before the state was kept per store (schema 2)."""
    from certctl.state.database import _MIGRATIONS

    path.parent.mkdir(parents=True)
    connection = sqlite3.connect(path)
    for script in _MIGRATIONS[:2]:
        connection.executescript(script)
    connection.executescript(
        """
        INSERT INTO events (kind, key, type, reason, message, count, first_seen, last_seen)
            VALUES ('Certificate', 'default/web', 'Normal', 'Issuing', 'old', 1,
                    '2024-06-01T12:00:00+00:00', '2024-06-01T12:00:00+00:00');
        INSERT INTO certificate_status (key, revision) VALUES ('default/web', 4);
        INSERT INTO fingerprints (key, spec_hash, secret_version, verdict)
            VALUES ('default/web', 'h', 'v', 'UpToDate');
        INSERT INTO acme_objects VALUES ('Order', 'default', 'web-1', 'default/web', 'valid',
            '2024-06-01T12:00:00+00:00', '2024-06-01T12:00:00+00:00', '{}');
        PRAGMA user_version = 2;
        """
    )
    connection.close()


def test_an_older_database_becomes_the_history_of_the_first_store_to_open_it(
    state_dir: Path, clock: FixedClock
) -> None:
    create_version_2_database(state_dir / "state.db")

    with StateDatabase.open(state_dir, clock, store="dir:/srv/first") as first:
        status = first.get_status("default/web")
        assert status is not None and status.revision == 4
        assert [e.message for e in first.events("Certificate", "default/web")] == ["old"]
        assert list(first.load_fingerprints()) == ["default/web"]
        assert [o.name for o in first.acme_objects("Order")] == ["web-1"]
    with StateDatabase.open(state_dir, clock, store="dir:/srv/later") as later:
        assert later.get_status("default/web") is None
        assert later.events("Certificate", "default/web") == []
        assert later.load_fingerprints() == {}
        assert later.acme_objects("Order") == []
    connection = sqlite3.connect(state_dir / "state.db")
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        connection.close()


def test_a_write_that_finds_the_database_full_says_no_space_left(db: StateDatabase) -> None:
    # SQLite reports a full disk and a database at its page limit the same way (SQLITE_FULL).
    db._connection.execute("PRAGMA max_page_count = 1")

    with pytest.raises(StateError) as caught, db.batch():
        for i in range(500):
            db.record_event("Certificate", f"default/app-{i}", "Normal", "Issued", "x" * 200)

    assert "no space left" in caught.value.message
    assert "move it away" not in caught.value.hint
    assert caught.value.exit_code == 3


def test_orders_and_challenges_come_newest_first(db: StateDatabase, clock: FixedClock) -> None:
    for name, state in [("web-1-a", "valid"), ("web-2-b", "valid"), ("web-3-c", "invalid")]:
        db.save_acme_object(
            "Challenge", "default", name, certificate="default/web", state=state, body={}
        )
        clock.advance(HOUR)
    # An update keeps a record's place: it is ordered by when it was created.
    db.save_acme_object(
        "Challenge", "default", "web-1-a", certificate="default/web", state="valid", body={}
    )

    assert [o.name for o in db.acme_objects("Challenge")] == ["web-3-c", "web-2-b", "web-1-a"]
    assert [o.state for o in db.acme_objects("Challenge", "default")] == [
        "invalid",
        "valid",
        "valid",
    ]


def test_sync_secrets_are_kept_per_store_and_source_set(state_dir: Path, clock: FixedClock) -> None:
    web, api, shop = ("default", "web-tls"), ("backend", "api-tls"), ("shop", "shop-tls")
    with (
        StateDatabase.open(state_dir, clock, store="dir:/srv/a") as first,
        StateDatabase.open(state_dir, clock, store="dir:/srv/b") as second,
    ):
        first.set_sync_secrets('["/deploy"]', [web, api, web])
        first.set_sync_secrets('["/other"]', [shop])
        second.set_sync_secrets('["/deploy"]', [("kube-system", "x-tls")])

        assert first.sync_secrets('["/deploy"]') == {web, api}
        assert first.sync_secrets('["/other"]') == {shop}
        assert second.sync_secrets('["/deploy"]') == {("kube-system", "x-tls")}

        first.set_sync_secrets('["/deploy"]', [web])
        assert first.sync_secrets('["/deploy"]') == {web}
        assert first.sync_secrets('["/nowhere"]') == set()
