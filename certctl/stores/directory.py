"""The ``dir:PATH`` store: one folder per secret, one file per data key.

Layout, for secret ``NS/NAME`` under the store root ``PATH``::

    PATH/.certctl.lock                 the store-wide run lock
    PATH/NS/NAME -> .NAME.<token>      a relative symlink, swapped atomically
    PATH/NS/.NAME.<token>/tls.crt      one 0600 file per data key
    PATH/NS/.NAME.<token>/..metadata.json   {"type", "labels", "annotations"}

Readers use ``PATH/NS/NAME/tls.crt`` like any folder. A write builds a complete
new generation folder, makes it durable, and then replaces the symlink with
``rename(2)``, which is atomic: a reader or a crash sees the whole old secret or
the whole new one, never a key from one issuance with a certificate from another.

Secret names are DNS-1123 names, so they never start with ``.`` and a generation
folder cannot collide with a secret. Kubernetes forbids data keys starting with
``..``, so ``..metadata.json`` cannot collide with a data key either (kubelet's own
secret volumes use ``..data`` the same way).

The ``<token>`` is ``<pid>-<16 hex digits>``. It is also the secret's version. The
pid lets the next write tell a generation left behind by a crashed process
(clean it up) from one that another live process is still building (leave it).
"""

from __future__ import annotations

import builtins
import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from certctl.clock import Clock
from certctl.errors import IssuanceError, StoreError, UsageError
from certctl.stores.base import (
    CERTIFICATE_NAME_ANNOTATION,
    TLS_SECRET_TYPE,
    SecretRecord,
    UnsafeStorePathError,
    belongs_to,
    carry_over,
    foreign_secret_error,
)
from certctl.stores.common import (
    DATA_KEY_RE,
    MAX_DATA_KEY,
    NAMESPACE_RE,
    SUBDOMAIN_RE,
    check_data,
    check_namespace,
    check_secret_name,
    fsync_dir,
)
from certctl.stores.locking import FileLock

#: The metadata file inside a generation folder; ".." keeps it apart from data keys.
METADATA_FILE = "..metadata.json"
#: The lock file at the store root.
LOCK_FILE = ".certctl.lock"

# Kubernetes' IsConfigMapKey, which Secret data keys follow.
_TOKEN_RE = re.compile(r"(?P<pid>[0-9]+)-[0-9a-f]{16}")
# A leftover of ours in a namespace folder: a generation folder, a temporary
# symlink (".link") or a hand-made folder moved aside (".aside").
_ENTRY_RE = re.compile(r"\.(?P<name>.+)\.(?P<token>[0-9]+-[0-9a-f]{16})(?P<suffix>\.link|\.aside)?")

# A file name may be 255 bytes; ".NAME.<pid>-<16 hex>.aside" must fit.
_MAX_NAME = 255 - len("..4294967295-0123456789abcdef.aside")

#: Re-list a namespace folder for leftovers this often in a long-running process.
_RESCAN_SECONDS = 600.0
#: A leftover whose pid is alive still counts as abandoned after this long.
_ABANDONED_SECONDS = 3600.0

# Generation folders and temporary links this process is building, shared by
# every DirectoryStore in the process, so leftover cleanup never removes them.
_IN_PROGRESS: set[str] = set()
_IN_PROGRESS_LOCK = threading.Lock()

_STRIPES = 256


class DirectoryStore:
    """Secrets as folders of files under ``root``; see the module docstring.

    Thread-safe: different secrets are written in parallel, and writes of the same
    secret are serialized within the process. Across processes, runs take
    :meth:`lock`; even without it a secret is never left half-written.
    """

    def __init__(self, root: Path, *, clock: Clock | None = None, force: bool = False) -> None:
        self.root = Path(os.path.expanduser(root))
        self.description = f"dir:{root}"
        self._root = os.fspath(self.root)
        self._clock = clock
        #: Take over secrets that are not certctl's (``--force``); see :meth:`write`.
        self.force = force
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self._namespaces_lock = threading.Lock()
        # namespace -> when its folder was last listed for leftovers (monotonic)
        self._scanned: dict[str, float] = {}
        # namespace -> secret name -> leftover entry names, cleaned on its next write
        self._leftovers: dict[str, dict[str, set[str]]] = {}

    @classmethod
    def from_spec(cls, argument: str | None, **options: object) -> DirectoryStore:
        """Build the store from the text after ``dir:``; ``force`` takes over foreign secrets."""
        if not argument:
            raise UsageError(
                "The dir store needs a folder, as in --store dir:./certs",
                hint="Give the folder after the colon",
            )
        return cls(Path(os.path.expanduser(argument)), force=bool(options.get("force", False)))

    def __repr__(self) -> str:
        return f"DirectoryStore({self._root!r})"

    @property
    def identity(self) -> str:
        """``dir:`` and the folder's absolute, resolved path: what the state is keyed by."""
        return f"dir:{os.path.realpath(self._root)}"

    # -- reading ---------------------------------------------------------------

    def read(self, namespace: str, name: str) -> SecretRecord | None:
        """Return the secret, or None when it is absent (or a dangling symlink).

        Raises:
            UsageError: the namespace or name is not a valid Kubernetes name.
            StoreError: the secret exists but could not be read.
        """
        return self._read(namespace, name, "read")

    def _read(self, namespace: str, name: str, action: str) -> SecretRecord | None:
        """:meth:`read`; ``action`` ("read" or "write") is what an error message says failed."""
        check_namespace(namespace)
        _check_name(name)
        namespace_dir = os.path.join(self._root, namespace)
        link = os.path.join(namespace_dir, name)
        # Resolve the symlink once and read inside that generation folder. A write
        # that swaps the link meanwhile then deletes the folder we are reading, so
        # check that the link still points where it did, and read again if not.
        for _ in range(10):
            try:
                target = os.readlink(link)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno == errno.EINVAL:  # a real folder, made by hand
                    version = _folder_version(link)
                    if version is None:
                        return None
                    return self._read_folder(namespace, name, link, version, action)
                raise self._read_error(namespace, name, link, exc, action) from exc
            token = _token_of(name, target)
            record = self._read_folder(
                namespace,
                name,
                os.path.join(namespace_dir, target),
                token or f"link:{target}",
                action,
            )
            try:
                if os.readlink(link) == target:
                    return record
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise self._read_error(namespace, name, link, exc, action) from exc
        raise StoreError(
            f"Secret {namespace}/{name} in {self.description} kept changing while being read",
            hint="Another process is rewriting it in a loop; stop it and run again",
        )

    def version(self, namespace: str, name: str) -> str | None:
        """Return the generation token with a single ``readlink``, or None if absent.

        A dangling symlink still returns its token here; :meth:`read` returns None
        for it. A hand-made folder's version is built from its mtime and inode.
        """
        check_namespace(namespace)
        _check_name(name)
        link = os.path.join(self._root, namespace, name)
        try:
            target = os.readlink(link)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                return _folder_version(link)
            if exc.errno == errno.ENOTDIR:
                return None
            raise self._read_error(namespace, name, link, exc) from exc
        return _token_of(name, target) or f"link:{target}"

    def stamp(self, namespace: str, name: str) -> str | None:
        """The version plus the size, mtime and inode of every file in the secret.

        A file edited or replaced in place inside a generation folder changes the
        stamp although the version (the symlink target) stays the same.
        """
        version = self.version(namespace, name)
        if version is None:
            return None
        digest = hashlib.blake2b(version.encode(), digest_size=16)
        try:
            with os.scandir(os.path.join(self._root, namespace, name)) as entries:
                for entry in sorted(entries, key=lambda item: item.name):
                    info = entry.stat(follow_symlinks=False)
                    digest.update(
                        f"|{entry.name}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}".encode()
                    )
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._read_error(
                namespace, name, os.path.join(self._root, namespace, name), exc
            ) from exc
        return digest.hexdigest()

    def list(self, namespace: str | None = None) -> Iterator[SecretRecord]:
        """Yield every secret in name order, or those of one namespace.

        Hidden entries (generation folders, the lock file) are skipped.
        """
        if namespace is not None:
            check_namespace(namespace)
            namespaces = [namespace]
        else:
            namespaces = [
                entry
                for entry in self._listdir(self._root)
                if not entry.startswith(".") and NAMESPACE_RE.fullmatch(entry)
            ]
        for ns in sorted(namespaces):
            namespace_dir = os.path.join(self._root, ns)
            if not os.path.isdir(namespace_dir):
                continue
            for entry in sorted(self._listdir(namespace_dir)):
                if entry.startswith(".") or not _is_valid_name(entry):
                    continue
                record = self.read(ns, entry)
                if record is not None:
                    yield record

    # -- writing ---------------------------------------------------------------

    def write(self, record: SecretRecord) -> str:
        """Replace the whole secret atomically and return its new version token.

        A crash at any point leaves the whole old secret or the whole new one. The
        one exception is a secret that is a real folder made by hand: it is moved
        aside before the symlink takes its place, so a crash in between those two
        renames leaves the secret absent (the next run issues it again).

        Only the keys certctl owns are replaced: every other file of the old secret
        (and every label or annotation certctl does not own) is carried into the new
        generation. A secret that is not certctl's (see
        :func:`~certctl.stores.base.belongs_to`) is refused unless the store was built
        with ``force``.

        Raises:
            UsageError: the namespace, name or a data key is not valid.
            ForeignSecretError: the secret exists and is not certctl's.
            UnsafeStorePathError: its namespace or secret folder links out of the store.
            StoreError: the disk refused (full, read-only, permissions); the old
                secret is unchanged.
        """
        namespace, name = record.namespace, record.name
        check_namespace(namespace)
        _check_name(name)
        check_data(record)
        with self._stripes[hash((namespace, name)) % _STRIPES]:
            self.check_writable(namespace, name)
            existing = self._read(namespace, name, "write")
            if (
                existing is not None
                and not self.force
                and not _is_generation(existing)
                and not belongs_to(existing, record.annotations.get(CERTIFICATE_NAME_ANNOTATION))
            ):
                # A folder certctl did not create (a real folder, or someone's symlink).
                raise foreign_secret_error(existing, self.description)
            merged = carry_over(existing, record)
            _check_carried_keys(merged, self.description)
            files = check_data(merged)
            files.append((METADATA_FILE, _encode_metadata(merged)))
            return self._write_locked(namespace, name, files)

    def check_name(self, namespace: str, name: str) -> None:
        """Raise UsageError when this store cannot hold a secret of that name."""
        check_namespace(namespace)
        _check_name(name)

    def check_writable(self, namespace: str, name: str) -> None:
        """Refuse a secret whose namespace folder or secret folder is a symlink out of the store.

        Writing there would put private keys wherever the link points. A secret folder
        that is one of certctl's generation links is fine; any other symlink must stay
        inside the store.

        Raises:
            UnsafeStorePathError: the namespace or secret folder leaves the store.
        """
        namespace_dir = os.path.join(self._root, namespace)
        link = os.path.join(namespace_dir, name)
        for path, what in ((namespace_dir, "namespace folder"), (link, "secret folder")):
            try:
                target = os.readlink(path)
            except OSError:
                continue  # not a symlink (or absent): nothing to follow
            if path == link and _token_of(name, target) is not None:
                continue
            if not _inside(os.path.realpath(path), os.path.realpath(self._root)):
                raise UnsafeStorePathError(
                    f"Secret {namespace}/{name} in {self.description} is not written: its "
                    f"{what} {path} is a symlink to {os.path.realpath(path)}, outside the "
                    "store, and certctl never writes through a link that leaves the store",
                    hint=f"Replace the link {path} with a real folder, or point --store at "
                    "the folder it links to",
                )

    def delete(self, namespace: str, name: str) -> bool:
        """Delete the secret; return whether it existed.

        Raises:
            StoreError: the secret could not be removed.
        """
        check_namespace(namespace)
        _check_name(name)
        namespace_dir = os.path.join(self._root, namespace)
        link = os.path.join(namespace_dir, name)
        with self._stripes[hash((namespace, name)) % _STRIPES]:
            try:
                try:
                    target = os.readlink(link)
                except FileNotFoundError:
                    return False
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    # A hand-made folder: move it out of sight in one rename, then remove.
                    aside = os.path.join(namespace_dir, f".{name}.{_new_token()}.aside")
                    os.rename(link, aside)
                    fsync_dir(namespace_dir)
                    shutil.rmtree(aside, ignore_errors=True)
                    return True
                os.unlink(link)
                fsync_dir(namespace_dir)
            except OSError as exc:
                raise self._write_error(namespace, name, link, exc, "delete") from exc
            if _token_of(name, target) is not None:
                shutil.rmtree(os.path.join(namespace_dir, target), ignore_errors=True)
            return True

    def lock(self, timeout: dt.timedelta) -> FileLock:
        """Return the store-wide run lock (a context manager) on ``PATH/.certctl.lock``.

        Raises (on entering):
            LockHeldError: another run held the lock for the whole timeout.
            StoreError: the store folder could not be created or the lock file opened.
        """
        try:
            self._ensure_root()
        except OSError as exc:
            raise self._write_error(None, None, self._root, exc, "lock") from exc
        return FileLock(os.path.join(self._root, LOCK_FILE), self.description, timeout, self._clock)

    # -- internals -------------------------------------------------------------

    def _write_locked(
        self, namespace: str, name: str, files: builtins.list[tuple[str, bytes]]
    ) -> str:
        namespace_dir = os.path.join(self._root, namespace)
        link = os.path.join(namespace_dir, name)
        token = _new_token()
        generation = f".{name}.{token}"
        generation_path = os.path.join(namespace_dir, generation)
        temp_link = os.path.join(namespace_dir, f"{generation}.link")
        aside: str | None = None
        previous: str | None = None
        swapped = False
        where = namespace_dir
        with _IN_PROGRESS_LOCK:
            _IN_PROGRESS.update((generation_path, temp_link))
        try:
            try:
                self._ensure_namespace(namespace)
                where = generation_path
                os.mkdir(generation_path, 0o700)
                directory_fd = os.open(generation_path, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    for key, value in files:
                        where = os.path.join(generation_path, key)
                        _write_file(directory_fd, key, value)
                    where = generation_path
                    _fsync(directory_fd)
                finally:
                    os.close(directory_fd)
                where = link
                previous = _read_link_or_folder(link)
                where = temp_link
                os.symlink(generation, temp_link)
                if previous == "":  # a hand-made folder; see write()'s docstring
                    aside = os.path.join(namespace_dir, f".{name}.{token}.aside")
                    where = link
                    os.rename(link, aside)
                where = link
                os.replace(temp_link, link)
                swapped = True
                where = namespace_dir
                fsync_dir(namespace_dir)
            except BaseException as exc:
                if swapped:
                    # Only the folder fsync after the swap failed: the new secret is in
                    # place (atomicity holds either way), but the disk reported an error.
                    self._retire(namespace, name, namespace_dir, previous, aside)
                else:
                    self._abandon(namespace, name, generation_path, temp_link, aside, link)
                if isinstance(exc, OSError):
                    raise self._write_error(
                        namespace, name, where, exc, "write", replaced=swapped
                    ) from exc
                raise
        finally:
            with _IN_PROGRESS_LOCK:
                _IN_PROGRESS.difference_update((generation_path, temp_link))
        self._retire(namespace, name, namespace_dir, previous, aside)
        return token

    def _retire(
        self,
        namespace: str,
        name: str,
        namespace_dir: str,
        previous: str | None,
        aside: str | None,
    ) -> None:
        """Remove the generation just replaced, then what crashed writes left behind."""
        old: str | None = None
        if aside is not None:
            old = os.path.basename(aside)
        elif previous is not None and _token_of(name, previous) is not None:
            old = previous
        if old is not None:
            try:
                shutil.rmtree(os.path.join(namespace_dir, old))
            except FileNotFoundError:
                pass  # a concurrent writer of the same secret removed it
            except OSError:
                with self._namespaces_lock:
                    self._leftovers.setdefault(namespace, {}).setdefault(name, set()).add(old)
        self._clean_leftovers(namespace, name, namespace_dir, os.path.join(namespace_dir, name))

    def _abandon(
        self,
        namespace: str,
        name: str,
        generation_path: str,
        temp_link: str,
        aside: str | None,
        link: str,
    ) -> None:
        """Undo a write that failed before the swap, as far as the disk lets us."""
        leftovers: builtins.list[str] = []
        if aside is not None:
            try:
                if not os.path.lexists(link):
                    os.rename(aside, link)
            except OSError:
                # The hand-made folder stays aside; the next write replaces it anyway.
                leftovers.append(os.path.basename(aside))
        try:
            os.unlink(temp_link)
        except FileNotFoundError:
            pass
        except OSError:
            leftovers.append(os.path.basename(temp_link))
        try:
            shutil.rmtree(generation_path)
        except FileNotFoundError:
            pass
        except OSError:
            leftovers.append(os.path.basename(generation_path))
        if leftovers:
            with self._namespaces_lock:
                names = self._leftovers.setdefault(namespace, {})
                names.setdefault(name, set()).update(leftovers)

    def _ensure_root(self) -> None:
        if not os.path.isdir(self._root):
            # Only a root we create gets 0700; a folder the user made keeps its mode.
            os.makedirs(self._root, mode=0o700, exist_ok=True)

    def _ensure_namespace(self, namespace: str) -> None:
        """Create the namespace folder (0700) and, now and then, list it for leftovers."""
        namespace_dir = os.path.join(self._root, namespace)
        scanned = self._scanned.get(namespace)
        if scanned is not None and time.monotonic() - scanned < _RESCAN_SECONDS:
            try:
                os.mkdir(namespace_dir, 0o700)  # removed by someone since we looked
            except FileExistsError:
                return
        with self._namespaces_lock:
            scanned = self._scanned.get(namespace)
            if scanned is not None and time.monotonic() - scanned < _RESCAN_SECONDS:
                return
            self._ensure_root()
            try:
                os.mkdir(namespace_dir, 0o700)
            except FileExistsError:
                pass
            else:
                fsync_dir(self._root)
            found: dict[str, set[str]] = self._leftovers.setdefault(namespace, {})
            for entry in os.listdir(namespace_dir):
                match = _ENTRY_RE.fullmatch(entry)
                if match:
                    found.setdefault(match["name"], set()).add(entry)
            self._scanned[namespace] = time.monotonic()

    def _clean_leftovers(self, namespace: str, name: str, namespace_dir: str, link: str) -> None:
        """Remove what crashed writes of this secret left behind (never the current target)."""
        with self._namespaces_lock:
            entries = self._leftovers.get(namespace, {}).pop(name, None)
        if not entries:
            return
        try:
            current = os.readlink(link)
        except OSError:
            current = None
        kept: set[str] = set()
        for entry in entries:
            path = os.path.join(namespace_dir, entry)
            if entry == current or not _is_abandoned(entry, path):
                if entry != current:
                    kept.add(entry)
                continue
            try:
                if os.path.islink(path):
                    os.unlink(path)
                else:
                    shutil.rmtree(path)
            except FileNotFoundError:
                pass
            except OSError:
                kept.add(entry)
        if kept:
            with self._namespaces_lock:
                self._leftovers.setdefault(namespace, {}).setdefault(name, set()).update(kept)

    def _read_folder(
        self, namespace: str, name: str, folder: str, version: str, action: str = "read"
    ) -> SecretRecord | None:
        try:
            directory_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # a dangling symlink, or a generation deleted under us
        except OSError as exc:
            raise self._read_error(namespace, name, folder, exc, action) from exc
        record = SecretRecord(namespace=namespace, name=name, version=version)
        path = folder
        try:
            with os.scandir(directory_fd) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if not entry.name.startswith("..") and not entry.is_dir()
                ]
            for key in sorted(names):
                path = os.path.join(folder, key)
                record.data[key] = _read_file(directory_fd, key)
            path = os.path.join(folder, METADATA_FILE)
            try:
                raw = _read_file(directory_fd, METADATA_FILE)
            except FileNotFoundError:
                raw = None
        except FileNotFoundError:
            return None  # deleted while we read it; read() looks again
        except OSError as exc:
            raise self._read_error(namespace, name, path, exc, action) from exc
        finally:
            os.close(directory_fd)
        if raw is not None:
            _decode_metadata(record, raw, path)
        return record

    def _listdir(self, folder: str) -> builtins.list[str]:
        try:
            return os.listdir(folder)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(
                f"Could not list {folder} in {self.description}: {exc.strerror or exc}",
                hint=_hint_for(exc),
            ) from exc

    def _read_error(
        self, namespace: str, name: str, path: str, exc: OSError, action: str = "read"
    ) -> StoreError:
        if action == "write":  # reading the old secret to carry its other keys over
            return self._write_error(namespace, name, path, exc, "write")
        return StoreError(
            f"Could not read secret {namespace}/{name} from {self.description}: "
            f"{path}: {exc.strerror or exc}",
            hint=_hint_for(exc),
        )

    def _write_error(
        self,
        namespace: str | None,
        name: str | None,
        path: str,
        exc: OSError,
        action: str,
        *,
        replaced: bool = False,
    ) -> StoreError:
        if action == "lock":
            what = f"Could not create the store folder {self.description}"
        else:
            what = f"Could not {action} secret {namespace}/{name} in {self.description}"
        unchanged = ""
        if action == "write":
            unchanged = (
                " The new secret is in place, but the disk reported an error making that durable."
                if replaced
                else " The previous secret, if any, is unchanged."
            )
        return StoreError(
            f"{what}: {path}: {exc.strerror or exc}.{unchanged}",
            hint=_hint_for(exc),
        )


# -- helpers -------------------------------------------------------------------


def _is_generation(record: SecretRecord) -> bool:
    """Whether ``record`` was read through one of certctl's generation links."""
    return record.version is not None and _TOKEN_RE.fullmatch(record.version) is not None


def _check_carried_keys(record: SecretRecord, store: str) -> None:
    """A file carried over must be a valid data key, or the rewrite would have to drop it."""
    for key in record.data:
        if not _is_data_key(key):
            raise IssuanceError(
                f"Secret {record.key} in {store} holds a file {key!r} that is not a valid "
                "Secret data key (letters, digits, '-', '_' and '.'); certctl keeps every "
                "file it did not write, and cannot keep this one, so it leaves the secret alone",
                reason="InvalidDataKey",
                hint="Rename or move that file out of the secret folder and run again",
            )


def _is_data_key(key: str) -> bool:
    return (
        len(key) <= MAX_DATA_KEY
        and not key.startswith("..")
        and key not in (".", "..")
        and DATA_KEY_RE.fullmatch(key) is not None
    )


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _is_valid_name(name: str) -> bool:
    return len(name) <= _MAX_NAME and SUBDOMAIN_RE.fullmatch(name) is not None


def _check_name(name: str) -> None:
    check_secret_name(name, max_length=_MAX_NAME, store="dir")


def _encode_metadata(record: SecretRecord) -> bytes:
    metadata = {
        "type": record.type,
        "labels": dict(record.labels),
        "annotations": dict(record.annotations),
    }
    return json.dumps(metadata, indent=2, sort_keys=True).encode() + b"\n"


def _decode_metadata(record: SecretRecord, raw: bytes, path: str) -> None:
    try:
        metadata = json.loads(raw)
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
        secret_type = metadata.get("type", TLS_SECRET_TYPE)
        labels = metadata.get("labels") or {}
        annotations = metadata.get("annotations") or {}
        if not isinstance(secret_type, str):
            raise ValueError("type is not a string")
        for field, mapping in (("labels", labels), ("annotations", annotations)):
            if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
            ):
                raise ValueError(f"{field} is not a mapping of strings")
    except ValueError as exc:
        raise StoreError(
            f"The metadata file {path} of secret {record.key} is not valid: {exc}",
            hint="Fix or delete the file; deleting it makes the secret type kubernetes.io/tls "
            "with no labels or annotations",
        ) from exc
    record.type = secret_type
    record.labels = dict(labels)
    record.annotations = dict(annotations)


def _new_token() -> str:
    return f"{os.getpid()}-{os.urandom(8).hex()}"


def _token_of(name: str, target: str) -> str | None:
    """Return the token if ``target`` is one of our generation folders for ``name``."""
    prefix = f".{name}."
    if target.startswith(prefix):
        token = target[len(prefix) :]
        if _TOKEN_RE.fullmatch(token):
            return token
    return None


def _folder_version(path: str) -> str | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return f"dir-{info.st_mtime_ns}-{info.st_ino}"


def _read_link_or_folder(link: str) -> str | None:
    """Return the link's target, ``""`` for a real folder, or None when absent."""
    try:
        return os.readlink(link)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    if stat.S_ISDIR(os.lstat(link).st_mode):
        return ""
    raise OSError(errno.EEXIST, "a file that is not a secret folder is in the way", link)


def _is_abandoned(entry: str, path: str) -> bool:
    """Whether a leftover is safe to remove: no live process is still building it."""
    match = _ENTRY_RE.fullmatch(entry)
    if match is None:
        return False
    if path in _IN_PROGRESS or path.removesuffix(".link") in _IN_PROGRESS:
        return False
    pid = int(match["token"].split("-", 1)[0])
    if pid == os.getpid() or not _pid_alive(pid):
        return True
    try:
        age = time.time() - os.lstat(path).st_mtime
    except OSError:
        return False
    return age > _ABANDONED_SECONDS


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _write_file(directory_fd: int, key: str, value: bytes) -> None:
    # O_EXCL with mode 0600: a key is never readable by others, not even for an instant.
    fd = os.open(
        key,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=directory_fd,
    )
    try:
        view = memoryview(value)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        _fsync(fd)
    finally:
        os.close(fd)


def _read_file(directory_fd: int, key: str) -> bytes:
    fd = os.open(key, os.O_RDONLY | os.O_CLOEXEC, dir_fd=directory_fd)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _fsync(fd: int) -> None:
    os.fsync(fd)


def _hint_for(exc: OSError) -> str:
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "Free some space (or quota) on that filesystem and run again"
    if code in (errno.EACCES, errno.EPERM):
        return (
            "Check that the user running certctl owns the store folder and can write to it, "
            "or point --store at a folder it can write"
        )
    if code == errno.EROFS:
        return "The filesystem is mounted read-only; point --store at a writable folder"
    if code == errno.ENOTDIR:
        return "Part of the path is a file, not a folder; fix the --store path"
    return "Check the store folder and run again"
