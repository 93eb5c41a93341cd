"""The manifest store: Secret manifests in a file (idempotent) or on stdout."""

from __future__ import annotations

import base64
import datetime as dt
import errno
import os
import stat
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

import certctl.stores.manifest as manifest_module
from certctl.errors import LockHeldError, StoreError, UsageError
from certctl.stores.base import SecretRecord
from certctl.stores.manifest import (
    LOCK_SUFFIX,
    ManifestFileStore,
    ManifestStdoutStore,
    open_manifest_store,
)
from certctl.stores.registry import open_store


def secret(
    name: str = "web",
    namespace: str = "default",
    marker: str = "1",
    **fields: Any,
) -> SecretRecord:
    """A TLS secret whose values all carry ``marker``, so a mix is easy to spot."""
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
    return stat.S_IMODE(os.stat(path).st_mode)


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    """The file's bytes, mtime and inode: all stay the same when nothing is rewritten."""
    info = os.stat(path)
    return path.read_bytes(), info.st_mtime_ns, info.st_ino


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "secrets.yaml"


@pytest.fixture
def store(path: Path) -> ManifestFileStore:
    return ManifestFileStore(path)


CONFIGMAP = textwrap.dedent(
    """\
    # Managed by hand: certctl must keep this comment.
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings   # and this one
    data: {level: "debug"}
    """
)


# -- round trips -----------------------------------------------------------------

ROUND_TRIPS = [
    pytest.param(secret(), id="a TLS secret with three keys round-trips"),
    pytest.param(
        secret(
            labels={"controller.cert-manager.io/fao": "true"},
            annotations={
                "cert-manager.io/certificate-name": "web",
                "cert-manager.io/alt-names": "a.example.com,b.example.com",
                "cert-manager.io/ip-sans": "",
                "cert-manager.io/common-name": "Ünïcode CA: with 'quotes' and #",
            },
        ),
        id="cert-manager's labels and annotations round-trip, empty and odd ones too",
    ),
    pytest.param(
        secret(type="Opaque", data={".dockerconfigjson": b"{}", "a_b-c.d": b"x"}),
        id="an Opaque secret with keys starting with a dot round-trips",
    ),
    pytest.param(
        secret(data={"keystore.p12": bytes(range(256)) * 300}),
        id="a binary keystore round-trips",
    ),
    pytest.param(secret(data={}), id="a secret with no data round-trips"),
    pytest.param(secret(name="app.example.com-tls"), id="a dotted DNS-subdomain name round-trips"),
]


@pytest.mark.parametrize("record", ROUND_TRIPS)
def test_round_trip(store: ManifestFileStore, path: Path, record: SecretRecord) -> None:
    token = store.write(record)

    for reader in (store, ManifestFileStore(path)):  # from the cache, then from disk
        got = reader.read(record.namespace, record.name)
        assert same_secret(got, record)
        assert got is not None and got.version == token
        assert reader.version(record.namespace, record.name) == token


@pytest.mark.parametrize("record", ROUND_TRIPS)
def test_the_file_is_a_stream_of_valid_v1_secrets(
    store: ManifestFileStore, path: Path, record: SecretRecord
) -> None:
    store.write(secret(name="other", namespace="team-a"))
    store.write(record)

    documents = list(yaml.safe_load_all(path.read_text()))

    assert len(documents) == 2
    document = documents[1]
    assert document["apiVersion"] == "v1" and document["kind"] == "Secret"
    assert document["metadata"]["name"] == record.name
    assert document["metadata"]["namespace"] == record.namespace
    assert document["metadata"].get("labels", {}) == record.labels
    assert document["metadata"].get("annotations", {}) == record.annotations
    assert document["type"] == record.type
    decoded = {key: base64.b64decode(value) for key, value in document["data"].items()}
    assert decoded == record.data


def test_the_format_is_sorted_and_stable(store: ManifestFileStore, path: Path) -> None:
    store.write(
        secret(
            data={"tls.key": b"key", "tls.crt": b"cert"},
            labels={"controller.cert-manager.io/fao": "true"},
            annotations={"cert-manager.io/ip-sans": "", "cert-manager.io/common-name": "web"},
        )
    )

    assert path.read_text() == textwrap.dedent(
        """\
        ---
        apiVersion: v1
        data:
          tls.crt: Y2VydA==
          tls.key: a2V5
        kind: Secret
        metadata:
          annotations:
            cert-manager.io/common-name: web
            cert-manager.io/ip-sans: ''
          labels:
            controller.cert-manager.io/fao: 'true'
          name: web
          namespace: default
        type: kubernetes.io/tls
        """
    )


def test_a_missing_file_is_an_empty_store(store: ManifestFileStore, path: Path) -> None:
    assert store.read("default", "web") is None
    assert store.version("default", "web") is None
    assert store.stamp("default", "web") is None
    assert list(store.list()) == []
    assert store.delete("default", "web") is False
    assert not path.exists()


@pytest.mark.parametrize(
    ("namespace", "want"),
    [
        pytest.param(None, ["a/x", "b/y", "b/z"], id="every secret ordered by namespace and name"),
        pytest.param("b", ["b/y", "b/z"], id="one namespace"),
        pytest.param("c", [], id="an empty namespace"),
    ],
)
def test_list(store: ManifestFileStore, namespace: str | None, want: list[str]) -> None:
    for ns, name in (("b", "z"), ("a", "x"), ("b", "y")):
        store.write(secret(name, ns))

    assert [record.key for record in store.list(namespace)] == want


def test_delete_removes_only_that_document(store: ManifestFileStore, path: Path) -> None:
    path.write_text(CONFIGMAP)
    store.write(secret("a"))
    store.write(secret("b"))

    assert store.delete("default", "a") is True

    assert store.read("default", "a") is None
    assert store.read("default", "b") is not None
    assert path.read_text().startswith(CONFIGMAP)
    assert [doc["kind"] for doc in yaml.safe_load_all(path.read_text())] == ["ConfigMap", "Secret"]
    assert store.delete("default", "a") is False


# -- idempotence -----------------------------------------------------------------


def test_writing_the_same_secret_again_leaves_the_file_untouched(
    store: ManifestFileStore, path: Path
) -> None:
    store.write(secret("a"))
    token = store.write(secret("b"))
    before = fingerprint(path)

    assert store.write(secret("b")) == token
    assert ManifestFileStore(path).write(secret("b")) == token  # a fresh run, too

    assert fingerprint(path) == before


def test_rewriting_one_secret_changes_only_its_lines(store: ManifestFileStore, path: Path) -> None:
    store.write(secret("a"))
    store.write(secret("b"))
    store.write(secret("c"))
    before = path.read_text().splitlines()

    store.write(secret("b", marker="2"))

    after = path.read_text().splitlines()
    changed = [
        number for number, pair in enumerate(zip(before, after, strict=True)) if pair[0] != pair[1]
    ]
    assert len(changed) == 4  # ca.crt, tls.crt, tls.key and the marker annotation
    starts = [number for number, line in enumerate(after) if line == "---"]
    assert all(starts[1] < number < starts[2] for number in changed)  # all inside b


# -- versions and stamps ---------------------------------------------------------


def test_version_and_stamp_change_exactly_when_the_content_changes(
    store: ManifestFileStore, path: Path
) -> None:
    first = store.write(secret("web"))
    assert store.stamp("default", "web") == first

    store.write(secret("other"))  # another document: the file changes, this secret not
    assert store.version("default", "web") == first
    assert store.stamp("default", "web") == first

    second = store.write(secret("web", marker="2"))
    assert second != first
    assert store.version("default", "web") == store.stamp("default", "web") == second

    third = store.write(secret("web", marker="2", labels={"team": "a"}))
    assert third != second


def test_a_hand_edit_changes_the_stamp_but_reformatting_does_not(
    store: ManifestFileStore, path: Path
) -> None:
    token = store.write(secret(data={"tls.crt": b"cert"}))

    # Same content, another layout (flow style, keys unsorted): same stamp.
    path.write_text(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\n"
        "metadata: {namespace: default, name: web, annotations: {certctl.test/marker: '1'}}\n"
        "data: {tls.crt: Y2VydA==}\n"
    )
    assert ManifestFileStore(path).stamp("default", "web") == token
    assert store.stamp("default", "web") == token

    # A key replaced by hand: a new stamp, seen through the cache.
    path.write_text(path.read_text().replace("Y2VydA==", "b3RoZXI="))
    assert store.stamp("default", "web") not in (None, token)
    got = store.read("default", "web")
    assert got is not None and got.data == {"tls.crt": b"other"}


def test_a_thousand_reads_parse_the_file_once(
    store: ManifestFileStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(20):
        store.write(secret(f"s{index}"))
    calls: list[tuple[Any, ...]] = []
    real_parse = manifest_module._parse

    def counting_parse(*args: Any) -> Any:
        calls.append(args)
        return real_parse(*args)

    monkeypatch.setattr(manifest_module, "_parse", counting_parse)
    fresh = ManifestFileStore(path)

    for index in range(1000):
        fresh.stamp("default", f"s{index % 20}")
        fresh.read("default", f"s{index % 20}")
    assert len(calls) == 1

    fresh.write(secret("s0", marker="2"))  # our own write needs no parse either
    assert fresh.read("default", "s0") is not None
    assert len(calls) == 1

    path.write_text(path.read_text().replace("s19", "s99"))  # someone else's edit
    assert fresh.read("default", "s99") is not None
    assert len(calls) == 2


# -- modes -----------------------------------------------------------------------


def test_a_new_file_is_0600_from_the_start(
    store: ManifestFileStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[int] = []
    real_write = os.write

    def watching_write(fd: int, data: Any) -> int:
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", watching_write)
    store.write(secret())

    assert modes and set(modes) == {0o600}
    assert mode_of(path) == 0o600


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(0o600, 0o600, id="0600 stays 0600"),
        pytest.param(0o640, 0o640, id="a group-readable file keeps its mode"),
        pytest.param(0o400, 0o400, id="a read-only mode is kept"),
        pytest.param(0o644, 0o640, id="a world-readable file loses its world bits"),
        pytest.param(0o755, 0o640, id="execute bits are dropped"),
    ],
)
def test_an_existing_file_keeps_its_mode_but_never_wider_than_0660(
    store: ManifestFileStore, path: Path, before: int, after: int
) -> None:
    path.write_text(CONFIGMAP)
    os.chmod(path, before)

    store.write(secret())

    assert mode_of(path) == after


def test_a_missing_folder_is_created_0700(tmp_path: Path) -> None:
    path = tmp_path / "gitops" / "tls" / "secrets.yaml"

    ManifestFileStore(path).write(secret())

    assert mode_of(path.parent) == 0o700
    assert mode_of(path) == 0o600


def test_a_symlinked_file_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "repo" / "secrets.yaml"
    real.parent.mkdir()
    link = tmp_path / "secrets.yaml"
    link.symlink_to(real)

    ManifestFileStore(link).write(secret())

    assert link.is_symlink()
    assert ManifestFileStore(real).read("default", "web") is not None


# -- documents certctl does not own ----------------------------------------------


def test_other_documents_and_comments_are_kept_byte_for_byte_and_in_order(
    store: ManifestFileStore, path: Path
) -> None:
    header = "# Generated by certctl; kubectl apply -f this file.\n"
    service = "---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\n...\n"
    other_secret = "---\napiVersion: v2alpha1\nkind: Secret\nmetadata: {name: web}\n"
    path.write_text(header + "---\n" + CONFIGMAP + service + other_secret)
    store.write(secret("first"))
    original = path.read_text()

    store.write(secret("first", marker="2"))
    store.write(secret("second"))

    text = path.read_text()
    assert text.startswith(header + "---\n" + CONFIGMAP + service + other_secret)
    kinds = [(doc["kind"], doc["metadata"]["name"]) for doc in yaml.safe_load_all(text) if doc]
    assert kinds == [
        ("ConfigMap", "settings"),
        ("Service", "api"),
        ("Secret", "web"),
        ("Secret", "first"),
        ("Secret", "second"),
    ]
    assert original != text
    assert [record.name for record in store.list()] == ["first", "second"]


FOREIGN_STREAMS = [
    pytest.param(
        "%YAML 1.1\n---\nkind: ConfigMap\n", id="a YAML directive before the first marker"
    ),
    pytest.param("--- {kind: ConfigMap}\n--- !!str text\n", id="content on the marker lines"),
    pytest.param("---\n---\n# only a comment\n", id="empty documents"),
    pytest.param(
        "kind: ConfigMap\ndata:\n  script: |\n    echo '---'\n", id="a --- inside a scalar"
    ),
    pytest.param("kind: List\nitems:\n- {apiVersion: v1, kind: Secret}\n", id="a List of Secrets"),
]


@pytest.mark.parametrize("content", FOREIGN_STREAMS)
def test_foreign_streams_are_kept_byte_for_byte(
    store: ManifestFileStore, path: Path, content: str
) -> None:
    path.write_text(content)

    store.write(secret())

    assert path.read_text().startswith(content)
    assert [record.key for record in ManifestFileStore(path).list()] == ["default/web"]


def test_a_file_without_a_final_newline_or_leading_marker_is_extended_cleanly(
    store: ManifestFileStore, path: Path
) -> None:
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}")

    store.write(secret())

    documents = list(yaml.safe_load_all(path.read_text()))
    assert [doc["kind"] for doc in documents] == ["ConfigMap", "Secret"]
    assert path.read_text().startswith(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
    )


def test_a_hand_written_secret_is_read_with_the_api_servers_defaults(
    store: ManifestFileStore, path: Path
) -> None:
    path.write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Secret
            metadata:
              name: web
            immutable: false
            data:
              tls.crt: |
                Y2Vy
                dA==
              empty:
            stringData:
              note: hello
            """
        )
    )

    got = store.read("default", "web")

    assert got is not None
    assert got.type == "Opaque"
    assert got.data == {"tls.crt": b"cert", "empty": b"", "note": b"hello"}

    store.write(got)  # certctl's rewrite folds stringData and keeps what it does not own

    document = yaml.safe_load(path.read_text())
    assert "stringData" not in document
    assert document["immutable"] is False
    assert document["metadata"]["namespace"] == "default"
    assert base64.b64decode(document["data"]["note"]) == b"hello"


# -- invalid files ---------------------------------------------------------------

CORRUPT = [
    pytest.param(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: web\ndata: {}\n",
        4,
        "not valid YAML",
        id="bad YAML names the line",
    ),
    pytest.param(
        "---\napiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Secret\n"
        "metadata: {name: web}\ndata:\n  tls.crt: not*base64\n",
        9,
        "data.tls.crt of Secret default/web is not valid base64",
        id="bad base64 names the key and its line",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web\n  annotations:\n"
        "    cert-manager.io/ip-sans: 2024-01-01\n",
        6,
        "is not a string",
        id="an unquoted date as an annotation",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Secret\nmetadata: {namespace: default}\n",
        3,
        "no metadata.name",
        id="a Secret without a name",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: web}\ndata:\n  tls.crt: ENC[AES256_GCM]\n"
        "sops:\n  version: 3.8.1\n",
        6,
        "SOPS-encrypted",
        id="a SOPS-encrypted file",
    ),
    pytest.param(
        "apiVersion: v1\nkind: ConfigMap\n...\nkind: Secret\n",
        4,
        "document start",
        id="a document after '...' without '---'",
    ),
]


@pytest.mark.parametrize(("content", "line", "problem"), CORRUPT)
def test_a_corrupt_file_is_a_store_error_naming_file_and_line_and_left_untouched(
    store: ManifestFileStore, path: Path, content: str, line: int, problem: str
) -> None:
    path.write_text(content)
    before = fingerprint(path)

    for action in (
        lambda: store.read("default", "web"),
        lambda: store.write(secret()),
        lambda: store.delete("default", "web"),
        lambda: list(store.list()),
    ):
        with pytest.raises(StoreError) as caught:
            action()
        error = caught.value
        assert f"{path}:{line}" in error.message
        assert problem in error.message
        assert f"left {path} untouched" in error.message
        assert error.exit_code == 3
        assert "\n" not in error.paragraph()

    assert fingerprint(path) == before


def test_a_file_that_is_not_utf8_is_a_store_error(store: ManifestFileStore, path: Path) -> None:
    path.write_bytes(b"apiVersion: v1\nkind: ConfigMap\ndata: {a: \xff}\n")

    with pytest.raises(StoreError, match=r"secrets\.yaml:3 is not valid: it is not UTF-8"):
        store.read("default", "web")


def test_a_secret_twice_is_a_store_error_naming_file_and_both_lines(
    store: ManifestFileStore, path: Path
) -> None:
    store.write(secret())
    text = path.read_text()
    path.write_text(text + text)

    with pytest.raises(StoreError) as caught:
        store.read("default", "other")

    message = caught.value.message
    assert str(path) in message
    assert "default/web twice" in message
    assert f"lines 1 and {text.count(chr(10)) + 1}" in message


def test_a_folder_in_place_of_the_file_is_a_store_error(
    store: ManifestFileStore, path: Path
) -> None:
    path.mkdir()

    with pytest.raises(StoreError) as caught:
        store.read("default", "web")

    assert "is a folder" in caught.value.hint


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(secret(name="Web"), id="an upper-case name"),
        pytest.param(secret(namespace="-ns"), id="a namespace starting with a dash"),
        pytest.param(secret(data={"../key": b"x"}), id="a data key with a slash"),
    ],
)
def test_invalid_names_are_rejected_and_nothing_is_written(
    store: ManifestFileStore, path: Path, record: SecretRecord
) -> None:
    with pytest.raises(UsageError):
        store.write(record)

    assert not path.exists()


# -- crashes and concurrency -----------------------------------------------------


@pytest.mark.parametrize(
    "failing",
    [
        pytest.param("replace", id="a failed rename"),
        pytest.param("fsync", id="a failed fsync of the new file"),
        pytest.param("write", id="a full disk"),
    ],
)
def test_a_failed_write_leaves_the_old_file_intact_and_no_temporary_file(
    store: ManifestFileStore,
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    token = store.write(secret())
    before = fingerprint(path)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(StoreError) as caught:
        store.write(secret(marker="2"))
    monkeypatch.undo()

    assert "No space left on device" in caught.value.message
    assert f"{path} was left untouched" in caught.value.message
    assert "Free some space" in caught.value.hint
    assert fingerprint(path) == before
    assert sorted(os.listdir(tmp_path)) == ["secrets.yaml"]
    assert store.version("default", "web") == token
    assert ManifestFileStore(path).version("default", "web") == token


def test_a_file_changed_during_a_write_is_read_again_and_merged(
    store: ManifestFileStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(secret("mine"))
    other = ManifestFileStore(path)
    real_fsync = os.fsync
    interfered: list[bool] = []

    def fsync_then_interfere(fd: int) -> None:
        real_fsync(fd)
        if not interfered:  # another process writes between our read and our rename
            interfered.append(True)
            monkeypatch.setattr(os, "fsync", real_fsync)
            other.write(secret("theirs"))

    monkeypatch.setattr(os, "fsync", fsync_then_interfere)
    store.write(secret("mine", marker="2"))

    assert interfered
    names = {record.name: record for record in ManifestFileStore(path).list()}
    assert set(names) == {"mine", "theirs"}
    assert names["mine"].data["tls.crt"] == b"cert 2\n"


def test_secrets_written_from_many_threads_all_land(store: ManifestFileStore, path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda index: store.write(secret(f"s{index}")), range(40)))

    assert len(list(ManifestFileStore(path).list())) == 40


def test_a_second_lock_fails_at_once(store: ManifestFileStore, path: Path) -> None:
    with store.lock(dt.timedelta(0)):
        with pytest.raises(LockHeldError) as caught, ManifestFileStore(path).lock(dt.timedelta(0)):
            pass
        assert caught.value.exit_code == 3
        assert f"pid {os.getpid()}" in caught.value.message
        assert store.description in caught.value.message

    with ManifestFileStore(path).lock(dt.timedelta(0)):
        pass
    assert Path(str(path) + LOCK_SUFFIX).exists()
    assert not path.exists()  # the lock alone does not create the store file


# -- stdout mode -----------------------------------------------------------------


def test_stdout_mode_prints_each_secret_as_a_document(capsys: pytest.CaptureFixture[str]) -> None:
    store = ManifestStdoutStore()
    assert store.read("default", "web") is None

    store.write(secret("a"))
    first = capsys.readouterr().out
    store.write(secret("b", labels={"team": "x"}))
    second = capsys.readouterr().out

    assert first.startswith("---\napiVersion: v1\n")
    assert second.startswith("---\n")
    documents = list(yaml.safe_load_all(first + second))
    assert [doc["metadata"]["name"] for doc in documents] == ["a", "b"]
    assert base64.b64decode(documents[0]["data"]["tls.crt"]) == b"cert 1\n"


def test_stdout_mode_keeps_nothing_between_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = ManifestStdoutStore()
    with store.lock(dt.timedelta(0)), store.lock(dt.timedelta(0)):  # no-op locks nest
        token = store.write(secret())

    # Within the run a CA written earlier reads back, so it can sign what follows.
    assert same_secret(store.read("default", "web"), secret())
    assert store.stamp("default", "web") == token
    # The next run starts empty: nothing was kept, so it issues everything again.
    fresh = ManifestStdoutStore()
    assert fresh.read("default", "web") is None
    assert fresh.version("default", "web") is None
    assert list(fresh.list()) == []
    assert os.listdir(tmp_path) == []
    assert capsys.readouterr().out.count("---\n") == 1


def test_stdout_mode_prints_the_same_bytes_a_file_would_hold(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ManifestStdoutStore().write(secret())
    ManifestFileStore(path).write(secret())

    assert capsys.readouterr().out == path.read_text()


# -- opening ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind", "description"),
    [
        pytest.param("manifest", ManifestStdoutStore, "manifest", id="no file prints to stdout"),
        pytest.param("manifest:-", ManifestStdoutStore, "manifest", id="a dash prints to stdout"),
        pytest.param(
            "manifest:out/secrets.yaml",
            ManifestFileStore,
            "manifest:out/secrets.yaml",
            id="a file",
        ),
    ],
)
def test_store_specs(spec: str, kind: type, description: str) -> None:
    store = open_store(spec)

    assert isinstance(store, kind)
    assert store.description == description
    assert store.writes_to_stdout is (kind is ManifestStdoutStore)  # type: ignore[attr-defined]


def test_an_empty_file_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="needs a file after the colon"):
        open_manifest_store("")


def test_a_home_relative_file_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    store = open_manifest_store("~/secrets.yaml")

    assert isinstance(store, ManifestFileStore)
    assert store.path == tmp_path / "secrets.yaml"
