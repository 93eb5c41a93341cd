"""The dir:PATH store: layout, modes, atomic replacement, crashes, locking."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from certctl.errors import LockHeldError, StoreError, UsageError
from certctl.stores.base import ForeignSecretError, SecretRecord, UnsafeStorePathError
from certctl.stores.directory import LOCK_FILE, METADATA_FILE, DirectoryStore

REPO_ROOT = Path(__file__).resolve().parents[3]


def secret(
    name: str = "web",
    namespace: str = "default",
    marker: str = "1",
    **fields: Any,
) -> SecretRecord:
    """A TLS secret whose files all carry ``marker``, so a mix is easy to spot."""
    data = fields.pop(
        "data",
        {
            "tls.crt": f"cert {marker}\n".encode(),
            "tls.key": f"key {marker}\n".encode(),
            "ca.crt": f"ca {marker}\n".encode(),
        },
    )
    annotations = fields.pop("annotations", {"certctl.test/marker": marker})
    return SecretRecord(
        namespace=namespace, name=name, data=data, annotations=annotations, **fields
    )


def same_secret(got: SecretRecord | None, want: SecretRecord) -> bool:
    return (
        got is not None
        and got.data == want.data
        and got.type == want.type
        and got.labels == want.labels
        and got.annotations == want.annotations
    )


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def entries(folder: Path) -> set[str]:
    return set(os.listdir(folder))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "certs"


@pytest.fixture
def store(root: Path) -> DirectoryStore:
    return DirectoryStore(root)


# -- round trips -----------------------------------------------------------------

ROUND_TRIPS = [
    pytest.param(secret(), id="a TLS secret with three files round-trips"),
    pytest.param(
        secret(
            labels={"controller.cert-manager.io/fao": "true"},
            annotations={
                "cert-manager.io/certificate-name": "web",
                "cert-manager.io/alt-names": "a.example.com,b.example.com",
            },
        ),
        id="cert-manager's labels and annotations round-trip",
    ),
    pytest.param(
        secret(type="Opaque", data={".dockerconfigjson": b"{}", "a_b-c.d": b"x"}),
        id="an Opaque secret with keys starting with a dot round-trips",
    ),
    pytest.param(
        secret(data={"keystore.p12": bytes(range(256)) * 300}),
        id="a binary keystore larger than one read round-trips",
    ),
    pytest.param(secret(data={}), id="a secret with no data round-trips"),
    pytest.param(secret(name="app.example.com-tls"), id="a dotted DNS-subdomain name round-trips"),
]


@pytest.mark.parametrize("record", ROUND_TRIPS)
def test_round_trip(store: DirectoryStore, record: SecretRecord) -> None:
    token = store.write(record)

    got = store.read(record.namespace, record.name)

    assert same_secret(got, record)
    assert got is not None and got.version == token == store.version(record.namespace, record.name)


def test_layout_is_a_symlink_to_a_hidden_generation_folder(
    store: DirectoryStore, root: Path
) -> None:
    token = store.write(secret())

    link = root / "default" / "web"
    assert os.readlink(link) == f".web.{token}"
    assert (link / "tls.crt").read_bytes() == b"cert 1\n"
    assert entries(link) == {"tls.crt", "tls.key", "ca.crt", METADATA_FILE}
    assert entries(root / "default") == {"web", f".web.{token}"}


def test_a_folder_without_metadata_reads_as_a_tls_secret(root: Path) -> None:
    folder = root / "default" / "web"
    folder.mkdir(parents=True)
    (folder / "tls.crt").write_bytes(b"cert")
    (folder / "..data").mkdir()  # like kubelet's secret volumes; not a data key

    got = DirectoryStore(root).read("default", "web")

    assert got is not None
    assert got.data == {"tls.crt": b"cert"}
    assert got.type == "kubernetes.io/tls"
    assert got.labels == {} and got.annotations == {}
    assert got.version is not None and got.version.startswith("dir-")


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param(lambda ns: None, id="nothing there reads as absent"),
        pytest.param(
            lambda ns: os.symlink(".web.1-0123456789abcdef", ns / "web"),
            id="a dangling symlink reads as absent",
        ),
    ],
)
def test_absent_secrets(root: Path, setup: Callable[[Path], None]) -> None:
    (root / "default").mkdir(parents=True)
    setup(root / "default")
    store = DirectoryStore(root)

    assert store.read("default", "web") is None
    assert list(store.list()) == []


def test_version_is_none_when_absent_and_changes_on_every_write(store: DirectoryStore) -> None:
    assert store.version("default", "web") is None
    assert store.version("nowhere", "web") is None

    seen = {store.write(secret(marker=str(i))) for i in range(5)}

    assert len(seen) == 5
    assert store.version("default", "web") in seen


def test_corrupt_metadata_is_a_store_error_naming_the_file(
    store: DirectoryStore, root: Path
) -> None:
    store.write(secret())
    metadata = root / "default" / "web" / METADATA_FILE
    os.chmod(metadata, 0o600)
    metadata.write_text("{not json")

    with pytest.raises(StoreError, match=r"\.\.metadata\.json"):
        store.read("default", "web")


def test_an_unreadable_file_is_a_store_error_with_the_os_reason(
    store: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(secret())
    real_open = os.open

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if path == "tls.key":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)

    with pytest.raises(StoreError) as caught:
        store.read("default", "web")
    assert "tls.key" in caught.value.message
    assert "Permission denied" in caught.value.message
    assert caught.value.exit_code == 3


# -- modes -----------------------------------------------------------------------


def test_folders_are_0700_and_files_0600(store: DirectoryStore, root: Path) -> None:
    token = store.write(secret())

    generation = root / "default" / f".web.{token}"
    assert mode_of(root) == 0o700
    assert mode_of(root / "default") == 0o700
    assert mode_of(generation) == 0o700
    for name in os.listdir(generation):
        assert mode_of(generation / name) == 0o600, name


def test_an_existing_root_keeps_its_mode(root: Path) -> None:
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)

    DirectoryStore(root).write(secret())

    assert mode_of(root) == 0o755
    assert mode_of(root / "default") == 0o700


def test_files_are_created_0600_exclusively_never_chmodded_later(
    store: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[tuple[str, int, int]] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            created.append((str(path), flags, mode))
        return real_open(path, flags, mode, **kwargs)

    def no_chmod(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the store must not chmod after writing")

    monkeypatch.setattr(os, "open", recording_open)
    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)

    store.write(secret())

    data_files = [entry for entry in created if entry[0] != os.fspath(store.root / LOCK_FILE)]
    assert {path for path, _, _ in data_files} == {"tls.crt", "tls.key", "ca.crt", METADATA_FILE}
    for path, flags, mode in data_files:
        assert flags & os.O_EXCL, path
        assert mode == 0o600, path


# -- names -----------------------------------------------------------------------

INVALID = [
    pytest.param("../etc", "web", {}, id="a namespace climbing out of the store"),
    pytest.param("a/b", "web", {}, id="a namespace with a slash"),
    pytest.param("", "web", {}, id="an empty namespace"),
    pytest.param("Default", "web", {}, id="an upper-case namespace"),
    pytest.param(".hidden", "web", {}, id="a hidden namespace"),
    pytest.param("default", "..", {}, id="a name that is the parent folder"),
    pytest.param("default", "../../x", {}, id="a name climbing out of the namespace"),
    pytest.param("default", "a/b", {}, id="a name with a slash"),
    pytest.param(
        "default", ".web.1-0123456789abcdef", {}, id="a name that looks like a generation"
    ),
    pytest.param("default", "a..b", {}, id="a name with an empty label"),
    pytest.param("default", "x" * 300, {}, id="a name too long for a file name"),
    pytest.param("default", "web", {"../tls.crt": b""}, id="a data key climbing out"),
    pytest.param("default", "web", {"a/b": b""}, id="a data key with a slash"),
    pytest.param("default", "web", {METADATA_FILE: b""}, id="a data key starting with two dots"),
    pytest.param("default", "web", {"": b""}, id="an empty data key"),
    pytest.param("default", "web", {".": b""}, id="a data key that is a single dot"),
]


@pytest.mark.parametrize(("namespace", "name", "data"), INVALID)
def test_invalid_names_are_rejected_and_nothing_is_written(
    store: DirectoryStore, root: Path, namespace: str, name: str, data: dict[str, bytes]
) -> None:
    with pytest.raises(UsageError):
        store.write(SecretRecord(namespace=namespace, name=name, data=data))
    if not data:
        for call in (store.read, store.version, store.delete):
            with pytest.raises(UsageError):
                call(namespace, name)
    assert not root.exists() or not any(root.rglob("*"))


# -- list and delete -------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "want"),
    [
        pytest.param(None, ["default/api", "default/web", "prod/web"], id="all namespaces"),
        pytest.param("default", ["default/api", "default/web"], id="one namespace"),
        pytest.param("empty", [], id="a namespace with nothing in it"),
    ],
)
def test_list(store: DirectoryStore, namespace: str | None, want: list[str]) -> None:
    for ns, name in [("prod", "web"), ("default", "web"), ("default", "api")]:
        store.write(secret(name=name, namespace=ns))
    with store.lock(dt.timedelta(0)):  # the lock file is hidden, not a namespace
        got = [record.key for record in store.list(namespace)]

    assert got == want


def test_delete_removes_the_link_and_its_generation(store: DirectoryStore, root: Path) -> None:
    store.write(secret())
    store.write(secret(name="api"))

    assert store.delete("default", "web") is True
    assert store.delete("default", "web") is False
    assert store.read("default", "web") is None
    assert store.version("default", "web") is None
    assert [name for name in entries(root / "default") if "web" in name] == []
    assert store.read("default", "api") is not None


def test_delete_removes_a_hand_made_folder(root: Path) -> None:
    (root / "default" / "web").mkdir(parents=True)
    (root / "default" / "web" / "tls.crt").write_bytes(b"x")

    assert DirectoryStore(root).delete("default", "web") is True
    assert entries(root / "default") == set()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (following its symlinks), by relative path."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def hand_made_folder(root: Path) -> Path:
    folder = root / "default" / "web"
    folder.mkdir(parents=True)
    (folder / "tls.crt").write_bytes(b"a certificate from openssl\n")
    (folder / "tls.key").write_bytes(b"its key\n")
    (folder / "notes.txt").write_bytes(b"not certctl's\n")
    return folder


def test_a_hand_made_folder_is_refused_and_left_as_it_was(root: Path) -> None:
    folder = hand_made_folder(root)
    before = tree(root)

    with pytest.raises(ForeignSecretError) as caught:
        DirectoryStore(root).write(secret())

    assert "default/web" in caught.value.message
    assert "--force" in caught.value.hint
    assert caught.value.exit_code == 1
    assert tree(root) == before
    assert not folder.is_symlink()


def test_a_hand_made_folder_that_names_its_certificate_is_adopted(root: Path) -> None:
    folder = hand_made_folder(root)
    (folder / METADATA_FILE).write_text(
        '{"annotations": {"cert-manager.io/certificate-name": "web"}}'
    )
    record = secret(annotations={"cert-manager.io/certificate-name": "web"})

    DirectoryStore(root).write(record)

    got = DirectoryStore(root).read("default", "web")
    assert got is not None and got.data["tls.crt"] == record.data["tls.crt"]
    assert got.data["notes.txt"] == b"not certctl's\n"


def test_force_takes_over_a_hand_made_folder_and_keeps_the_files_certctl_does_not_own(
    root: Path,
) -> None:
    hand_made_folder(root)
    store = DirectoryStore(root, force=True)

    token = store.write(secret())

    got = store.read("default", "web")
    assert got is not None
    assert got.data == {**secret().data, "notes.txt": b"not certctl's\n"}
    assert entries(root / "default") == {"web", f".web.{token}"}


def test_a_rewrite_keeps_keys_labels_and_annotations_certctl_does_not_own(
    store: DirectoryStore, root: Path
) -> None:
    store.write(secret(marker="old", labels={"certctl.io/managed": "true"}))
    # Another tool adds a key to the folder, and a label and an annotation to the metadata.
    current = root / "default" / "web"
    (current / "extra.conf").write_bytes(b"keep me\n")
    (current / "keystore.p12").write_bytes(b"a keystore certctl no longer wants\n")
    metadata = json.loads((current / METADATA_FILE).read_text())
    metadata["labels"]["team"] = "payments"
    metadata["annotations"]["example.com/owner"] = "alice"
    (current / METADATA_FILE).write_text(json.dumps(metadata))

    store.write(secret(marker="new", labels={"certctl.io/managed": "true"}))

    got = store.read("default", "web")
    assert got is not None
    assert got.data == {**secret(marker="new").data, "extra.conf": b"keep me\n"}
    assert got.labels == {"certctl.io/managed": "true", "team": "payments"}
    assert got.annotations == {"certctl.test/marker": "new", "example.com/owner": "alice"}


@pytest.mark.parametrize(
    "link_namespace",
    [
        pytest.param(True, id="a namespace folder that links out of the store is refused"),
        pytest.param(False, id="a secret folder that links out of the store is refused"),
    ],
)
def test_a_symlink_out_of_the_store_is_never_written_through(
    tmp_path: Path, root: Path, link_namespace: bool
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "web").mkdir()
    (outside / "web" / "tls.crt").write_bytes(b"someone else's\n")
    (root / "default").parent.mkdir(parents=True, exist_ok=True)
    if link_namespace:
        (root / "default").symlink_to(outside)
    else:
        (root / "default").mkdir()
        (root / "default" / "web").symlink_to(outside / "web")
    before = tree(outside)

    for force in (False, True):
        with pytest.raises(UnsafeStorePathError) as caught:
            DirectoryStore(root, force=force).write(secret())
        assert "outside the store" in caught.value.message
        assert caught.value.exit_code == 1

    assert tree(outside) == before
    assert sorted(p.name for p in outside.iterdir()) == ["web"]


def test_a_symlink_that_stays_inside_the_store_is_allowed(root: Path) -> None:
    (root / "prod").mkdir(parents=True)
    (root / "default").symlink_to("prod")

    DirectoryStore(root).write(secret())

    assert same_secret(DirectoryStore(root).read("prod", "web"), secret())


# -- crashes ---------------------------------------------------------------------

# Every os function a write calls that can fail; os.close and os.path checks are left alone.
FAULTABLE = ("mkdir", "open", "write", "fsync", "readlink", "lstat", "symlink", "rename", "replace")


class FaultInjector:
    """Counts calls to the os functions above and fails from the Nth one on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.calls = 0
        self.fail_at: int | None = None
        self.persistent = False
        self.error = errno.EIO

    @contextmanager
    def active(self) -> Iterator[None]:
        with self.monkeypatch.context() as patch:
            for name in FAULTABLE:
                patch.setattr(os, name, self._wrap(getattr(os, name)))
            yield

    def _wrap(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.fail_at is not None and (
                self.calls == self.fail_at or (self.persistent and self.calls > self.fail_at)
            ):
                raise OSError(self.error, os.strerror(self.error))
            return real(*args, **kwargs)

        return wrapper


def existing_generation(root: Path) -> SecretRecord | None:
    old = secret(marker="old")
    DirectoryStore(root).write(old)
    return old


def existing_hand_made_folder(root: Path) -> SecretRecord | None:
    folder = root / "default" / "web"
    folder.mkdir(parents=True)
    old = secret(marker="old")
    for key, value in old.data.items():
        (folder / key).write_bytes(value)
    return SecretRecord(namespace="default", name="web", data=old.data)


def nothing(root: Path) -> SecretRecord | None:
    return None


SCENARIOS = [
    pytest.param(nothing, False, id="a new secret"),
    pytest.param(existing_generation, False, id="replacing a secret certctl wrote"),
    pytest.param(existing_hand_made_folder, True, id="replacing a hand-made folder"),
]
MODES = [
    pytest.param(False, id="one call fails and the write cleans up"),
    pytest.param(True, id="every call from then on fails, like a crash"),
]


@pytest.mark.parametrize("persistent", MODES)
@pytest.mark.parametrize(("setup", "may_vanish"), SCENARIOS)
def test_a_failure_at_every_step_leaves_the_old_or_the_new_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setup: Callable[[Path], SecretRecord | None],
    may_vanish: bool,
    persistent: bool,
) -> None:
    new = secret(marker="new")
    # A clean run first, to learn how many calls a write makes.
    probe = FaultInjector(monkeypatch)
    probe_root = tmp_path / "probe"
    setup(probe_root)
    with probe.active():
        DirectoryStore(probe_root, force=may_vanish).write(new)
    assert probe.calls > 5

    for fail_at in range(1, probe.calls + 1):
        root = tmp_path / f"fail-at-{fail_at}"
        old = setup(root)
        # Replacing a hand-made folder is a takeover: only --force allows it.
        store = DirectoryStore(root, force=may_vanish)
        injector = FaultInjector(monkeypatch)
        injector.fail_at, injector.persistent = fail_at, persistent
        with injector.active(), suppress(StoreError):
            store.write(new)

        got = store.read("default", "web")
        if got is None:
            assert old is None or (may_vanish and persistent), f"secret lost at call {fail_at}"
        else:
            assert same_secret(got, new) or (old is not None and got.data == old.data), (
                f"mixed secret at call {fail_at}"
            )

        # The next write, in this process or the next one, tidies up.
        for next_store in (store, DirectoryStore(root, force=may_vanish)):
            token = next_store.write(new)
            assert entries(root / "default") == {"web", f".web.{token}"}, f"call {fail_at}"


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from certctl.stores.base import ForeignSecretError, SecretRecord, UnsafeStorePathError
    from certctl.stores.directory import DirectoryStore

    store = DirectoryStore(Path(sys.argv[1]))
    n = int(sys.argv[2])
    print("ready", flush=True)
    while True:
        n += 1
        marker = str(n).encode()
        store.write(SecretRecord("default", "web", {
            "tls.crt": b"cert " + marker,
            "tls.key": b"key " + marker,
            "ca.crt": b"ca " + marker,
        }, annotations={"marker": str(n)}))
    """
)


def test_a_writer_killed_at_random_moments_never_leaves_a_mix(tmp_path: Path) -> None:
    root = tmp_path / "certs"
    rng = random.Random(20240601)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), sys.path[0]])}
    for iteration in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(root), str(iteration * 1_000_000)],
            stdout=subprocess.PIPE,
            env=env,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.01, 0.25))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            if child.stdout is not None:
                child.stdout.close()

        got = DirectoryStore(root).read("default", "web")
        if got is None:
            continue  # killed before the first write finished
        marker = got.annotations["marker"]
        assert got.data == {
            "tls.crt": f"cert {marker}".encode(),
            "tls.key": f"key {marker}".encode(),
            "ca.crt": f"ca {marker}".encode(),
        }, f"iteration {iteration}"

    token = DirectoryStore(root).write(secret())
    assert entries(root / "default") == {"web", f".web.{token}"}


@pytest.mark.parametrize(
    ("function", "fail_at"),
    [
        pytest.param("write", 2, id="the disk fills up while writing the second file"),
        pytest.param("fsync", 3, id="the disk fills up when flushing the third file"),
        pytest.param("open", 2, id="the disk fills up when creating the second file"),
        pytest.param("mkdir", 2, id="the disk fills up when creating the generation folder"),
    ],
)
def test_a_full_disk_leaves_the_old_secret(
    store: DirectoryStore,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    fail_at: int,
) -> None:
    old = secret(marker="old")
    old_token = store.write(old)
    real = getattr(os, function)
    calls = 0

    def filling(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, function, filling)
    with pytest.raises(StoreError) as caught:
        store.write(secret(marker="new"))
    monkeypatch.undo()

    error = caught.value
    assert "No space left on device" in error.message
    assert str(root) in error.message
    assert "unchanged" in error.message
    assert "space" in error.hint
    assert error.exit_code == 3
    got = store.read("default", "web")
    assert same_secret(got, old) and got is not None and got.version == old_token
    assert entries(root / "default") == {"web", f".web.{old_token}"}


# -- concurrency -----------------------------------------------------------------


def test_different_secrets_are_written_in_parallel(store: DirectoryStore, root: Path) -> None:
    records = [secret(name=f"app-{i}", namespace=f"ns-{i % 3}") for i in range(120)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(store.write, records))

    assert len(set(tokens)) == len(records)
    assert [r.key for r in store.list()] == sorted(r.key for r in records)
    for record in records:
        assert same_secret(store.read(record.namespace, record.name), record)


def test_one_secret_written_from_many_threads_is_never_mixed(
    store: DirectoryStore, root: Path
) -> None:
    store.write(secret(marker="0"))
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            got = store.read("default", "web")
            if got is None:
                problems.append("secret vanished")
                continue
            marker = got.annotations["certctl.test/marker"]
            if not same_secret(got, secret(marker=marker)):
                problems.append(f"mixed secret {got}")

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: store.write(secret(marker=str(i))), range(1, 161)))
    finally:
        stop.set()
        for thread in readers:
            thread.join()

    assert problems == []
    token = store.version("default", "web")
    assert entries(root / "default") == {"web", f".web.{token}"}


# -- locking ---------------------------------------------------------------------


def test_a_second_lock_fails_at_once_naming_the_holder(store: DirectoryStore) -> None:
    with (
        store.lock(dt.timedelta(0)),
        pytest.raises(LockHeldError) as caught,
        store.lock(dt.timedelta(0)),
    ):
        pass

    error = caught.value
    assert f"pid {os.getpid()}" in error.message
    assert store.description in error.message
    assert "--lock-timeout" in error.hint
    assert error.exit_code == 3


def test_a_waiting_lock_gets_it_once_released(store: DirectoryStore) -> None:
    held = store.lock(dt.timedelta(0))
    held.__enter__()
    releaser = threading.Timer(0.2, held.__exit__, (None, None, None))
    releaser.start()
    started = time.monotonic()
    try:
        with store.lock(dt.timedelta(seconds=5)):
            waited = time.monotonic() - started
    finally:
        releaser.join()

    assert 0.1 < waited < 4


def test_a_waiting_lock_gives_up_after_its_timeout(store: DirectoryStore) -> None:
    with store.lock(dt.timedelta(0)):
        started = time.monotonic()
        with (
            pytest.raises(LockHeldError, match=r"after waiting 0\.2s"),
            store.lock(dt.timedelta(seconds=0.2)),
        ):
            pass
        assert time.monotonic() - started >= 0.2


def test_the_lock_is_free_again_after_the_block(store: DirectoryStore, root: Path) -> None:
    with store.lock(dt.timedelta(0)):
        assert mode_of(root / LOCK_FILE) == 0o600
    with store.lock(dt.timedelta(0)):
        pass
