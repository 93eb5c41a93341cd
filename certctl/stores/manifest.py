"""The ``manifest[:FILE]`` store: Kubernetes Secret manifests for GitOps pipelines.

``--store manifest:FILE`` keeps every secret as one ``apiVersion: v1, kind: Secret``
document of a multi-document YAML file, ready for ``kubectl apply -f FILE``, SOPS
or sealed-secrets. certctl reads the file back, so a rerun is idempotent: a run
that changes nothing does not touch FILE at all (same bytes, same mtime), and a
run that reissues one certificate changes only that Secret's document.

``--store manifest`` (or ``manifest:-``) prints each Secret it writes to stdout as
a ``---`` document and keeps nothing: the next run finds no secret and issues
every certificate again. Use ``manifest:FILE`` when reruns must be no-ops.

The file format:

* Each Secret certctl writes is ``---`` followed by the document with sorted keys
  (``apiVersion, data, kind, metadata, type``), ``data`` in standard base64 on one
  line per key, and empty ``labels``/``annotations`` left out. The emitter is
  PyYAML's pure-Python one, so the bytes do not depend on whether libyaml is
  installed on the machine that ran certctl.
* Every other document (a ConfigMap, a Secret of another ``apiVersion``, a comment
  block) is kept byte for byte and in place. A Secret certctl rewrites keeps the
  fields it does not own (``immutable``, ``metadata.ownerReferences`` …), loses its
  comments and ``stringData`` (folded into ``data``, as the API server does), and
  takes certctl's formatting. A new Secret is appended at the end.
* A Secret without ``metadata.namespace`` belongs to ``default``.
* The file is plaintext. SOPS and sealed-secrets belong downstream: encrypt a copy.

Writes replace the whole file atomically: a temporary file in the same folder,
created 0600, fsynced, renamed over FILE, and the folder fsynced. A new FILE is
0600; an existing one keeps its mode and group, minus any execute or world bits,
since it holds private keys. Symlinks are followed, so a FILE that links into a
repository stays a link. Runs take ``FILE.lock`` (never deleted; add it to
``.gitignore``).

Every write rewrites the whole file, so issuing N secrets into one file costs N
rewrites of it. That is fine for the tens of secrets a GitOps file holds.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import dataclasses
import datetime as dt
import errno
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from certctl.clock import Clock
from certctl.errors import StoreError, UsageError
from certctl.stores.base import SecretRecord, carry_over
from certctl.stores.common import (
    check_data,
    check_namespace,
    check_secret_name,
    fsync_dir,
    write_all,
)
from certctl.stores.locking import FileLock

#: What ``--store manifest`` calls itself in messages.
STDOUT_DESCRIPTION = "manifest"
#: Appended to FILE for the run lock.
LOCK_SUFFIX = ".lock"

# The C loader parses ten times faster; both are safe loaders (no Python tags).
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Always the pure-Python emitter: libyaml's can format the same data differently,
# and the file must not change just because another machine ran certctl.
_Dumper: Any = yaml.SafeDumper

# A document starts at a line beginning with "---" followed by a space or the end of
# the line; YAML forbids such a line inside any scalar (c-forbidden, YAML 1.2 §9.1.4).
_DOCUMENT_START_RE = re.compile(r"---(?:[ \t\r\n]|$)")
_DOCUMENT_END_RE = re.compile(r"\.\.\.(?:[ \t\r\n]|$)")
# Lines end at "\n" only: str.splitlines() also cuts at form feeds and other
# characters a quoted YAML scalar may hold.
_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")
# Kubernetes' IsConfigMapKey, which Secret data keys follow.
#: How often a write starts over when FILE changes under it.
_WRITE_ATTEMPTS = 5

_StatKey = tuple[int, int, int, int, int]


def open_manifest_store(argument: str | None) -> ManifestFileStore | ManifestStdoutStore:
    """Build the store from the text after ``manifest:`` (the registry's factory).

    Raises:
        UsageError: ``manifest:`` with nothing after the colon.
    """
    if argument is None or argument == "-":
        return ManifestStdoutStore()
    if not argument.strip():
        raise UsageError(
            "The manifest store needs a file after the colon, as in --store manifest:secrets.yaml",
            hint="Give the file after the colon, or use --store manifest to print to stdout",
        )
    return ManifestFileStore(argument)


# -- manifest:FILE ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Secret:
    """A Secret document certctl manages, as parsed (immutable; read() hands out copies)."""

    namespace: str
    name: str
    type: str
    data: Mapping[str, bytes]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    body: Mapping[str, Any]
    version: str

    def to_record(self) -> SecretRecord:
        return SecretRecord(
            namespace=self.namespace,
            name=self.name,
            data=dict(self.data),
            type=self.type,
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            version=self.version,
        )


@dataclass(frozen=True)
class _Document:
    """One document of the stream: its exact text and, for a Secret, what it holds."""

    text: str
    line: int
    secret: _Secret | None = None


@dataclass(frozen=True)
class _Parsed:
    """FILE as last read: its documents in order and the Secrets by (namespace, name)."""

    stat_key: _StatKey | None
    documents: tuple[_Document, ...]
    index: Mapping[tuple[str, str], int]

    def find(self, namespace: str, name: str) -> _Secret | None:
        position = self.index.get((namespace, name))
        return None if position is None else self.documents[position].secret


_EMPTY = _Parsed(None, (), {})


class ManifestFileStore:
    """Secrets as Secret documents of one YAML file; see the module docstring.

    Thread-safe within a process. Across processes, runs take :meth:`lock`; without
    it a write that finds FILE changed since it read it starts over, which narrows
    (but cannot close) the window for a lost update.

    Reads parse FILE once per change: the parse is cached under FILE's device,
    inode, size, mtime and ctime, so the thousand reads of a no-op run cost one
    parse and a thousand ``stat`` calls.
    """

    #: The CLI sends its tables to stdout; only the stdout store needs them elsewhere.
    writes_to_stdout = False

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        self.path = Path(os.path.expanduser(os.fspath(path)))
        self.description = f"manifest:{os.fspath(path)}"
        self._path = os.fspath(self.path)
        self._clock = clock
        self._mutex = threading.RLock()
        self._cache = _EMPTY

    def __repr__(self) -> str:
        return f"ManifestFileStore({self._path!r})"

    @property
    def identity(self) -> str:
        """``manifest:`` and FILE's absolute, resolved path: what the state is keyed by."""
        return f"manifest:{os.path.realpath(self._path)}"

    # -- reading ---------------------------------------------------------------------

    def check_name(self, namespace: str, name: str) -> None:
        """Raise UsageError when this store cannot hold a secret of that name."""
        check_namespace(namespace)
        _check_name(name)

    def read(self, namespace: str, name: str) -> SecretRecord | None:
        """Return the secret, or None when FILE or its document is absent.

        Raises:
            UsageError: the namespace or name is not a valid Kubernetes name.
            StoreError: FILE could not be read or is not valid.
        """
        check_namespace(namespace)
        _check_name(name)
        secret = self._load().find(namespace, name)
        return None if secret is None else secret.to_record()

    def version(self, namespace: str, name: str) -> str | None:
        """Return a hash of the Secret's content, or None if absent.

        Content is namespace, name, type, data, labels and annotations: formatting,
        comments and the other documents of FILE do not change it.
        """
        check_namespace(namespace)
        _check_name(name)
        secret = self._load().find(namespace, name)
        return None if secret is None else secret.version

    def stamp(self, namespace: str, name: str) -> str | None:
        """The same content hash as :meth:`version`.

        FILE is parsed whenever its stat changes, so a hand edit of the Secret changes
        the hash. FILE's own stat is left out on purpose: it changes whenever any
        other Secret in FILE is written, which would make every certificate's
        fingerprint stale after each renewal.
        """
        return self.version(namespace, name)

    def list(self, namespace: str | None = None) -> Iterator[SecretRecord]:
        """Yield every Secret ordered by namespace and name, or those of one namespace."""
        if namespace is not None:
            check_namespace(namespace)
        parsed = self._load()
        for key in sorted(parsed.index):
            if namespace is None or key[0] == namespace:
                secret = parsed.find(*key)
                assert secret is not None
                yield secret.to_record()

    # -- writing ---------------------------------------------------------------------

    def write(self, record: SecretRecord) -> str:
        """Insert or replace the Secret's document and return its version.

        When the document already holds exactly this content FILE is not touched.
        Only the keys certctl owns are replaced: every other data key, label and
        annotation of the document is kept. (Whether the Secret is certctl's to write
        at all is the reconciler's decision, made before anything is issued.)

        Raises:
            UsageError: the namespace, name or a data key is not valid.
            StoreError: FILE is not valid, or the disk refused; FILE is unchanged.
        """
        check_namespace(record.namespace)
        _check_name(record.name)
        check_data(record)
        with self._mutex:
            for _ in range(_WRITE_ATTEMPTS):
                parsed = self._load()
                position = parsed.index.get((record.namespace, record.name))
                existing = None if position is None else parsed.documents[position].secret
                merged = carry_over(existing.to_record() if existing else None, record)
                data = sorted(check_data(merged))
                body = _secret_body(merged, data, existing.body if existing else None)
                if existing is not None and existing.body == body:
                    return existing.version
                document = _Document(_render_secret(body), 0, _secret_from_body(body))
                documents = list(parsed.documents)
                if position is None:
                    documents.append(document)
                else:
                    documents[position] = document
                if self._replace(parsed, documents, f"write secret {record.key}"):
                    assert document.secret is not None
                    return document.secret.version
        raise self._changing_error()

    def delete(self, namespace: str, name: str) -> bool:
        """Remove the Secret's document from FILE; return whether it was there.

        Raises:
            StoreError: FILE is not valid, or could not be rewritten; it is unchanged.
        """
        check_namespace(namespace)
        _check_name(name)
        with self._mutex:
            for _ in range(_WRITE_ATTEMPTS):
                parsed = self._load()
                position = parsed.index.get((namespace, name))
                if position is None:
                    return False
                documents = list(parsed.documents)
                del documents[position]
                if self._replace(parsed, documents, f"delete secret {namespace}/{name}"):
                    return True
        raise self._changing_error()

    def lock(self, timeout: dt.timedelta) -> FileLock:
        """Return the run lock (a context manager) on ``FILE.lock``.

        Raises (on entering):
            LockHeldError: another run held the lock for the whole timeout.
            StoreError: the lock file could not be opened.
        """
        try:
            self._ensure_folder()
        except OSError as exc:
            raise StoreError(
                f"Could not create the folder of {self.description}: "
                f"{os.path.dirname(self._path)}: {exc.strerror or exc}",
                hint=_hint_for(exc),
            ) from exc
        return FileLock(self._path + LOCK_SUFFIX, self.description, timeout, self._clock)

    # -- internals -------------------------------------------------------------------

    def _load(self) -> _Parsed:
        """Return FILE parsed, from the cache while FILE's stat is unchanged."""
        with self._mutex:
            try:
                key = _stat_key(os.stat(self._path))
            except FileNotFoundError:
                self._cache = _EMPTY
                return _EMPTY
            except OSError as exc:
                raise self._read_error(exc) from exc
            if self._cache.stat_key == key:
                return self._cache
            try:
                with open(self._path, "rb") as stream:
                    key = _stat_key(os.fstat(stream.fileno()))
                    raw = stream.read()
            except FileNotFoundError:
                self._cache = _EMPTY
                return _EMPTY
            except OSError as exc:
                raise self._read_error(exc) from exc
            self._cache = _parse(raw, key, self._path)
            return self._cache

    def _replace(self, parsed: _Parsed, documents: builtins.list[_Document], action: str) -> bool:
        """Write ``documents`` as FILE's new content atomically.

        Returns False, leaving FILE alone, when FILE changed since ``parsed`` was read.
        """
        text = _join(documents)
        target = os.path.realpath(self._path)
        folder = os.path.dirname(target)
        where = folder
        temp: str | None = None
        replaced = False
        try:
            try:
                self._ensure_folder()
                # mkstemp opens with O_EXCL and mode 0600: the keys are never readable
                # by anyone else, not even for an instant.
                fd, temp = tempfile.mkstemp(
                    prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder
                )
                where = temp
                try:
                    write_all(fd, text.encode("utf-8"))
                    _keep_mode_and_group(fd, parsed.stat_key is not None, target)
                    os.fsync(fd)
                    inode = os.fstat(fd).st_ino
                finally:
                    os.close(fd)
                where = self._path
                if _current_stat_key(target) != parsed.stat_key:
                    return False
                os.replace(temp, target)
                replaced = True
                temp = None
                where = folder
                fsync_dir(folder)
            except OSError as exc:
                raise self._write_error(action, where, exc, replaced=replaced) from exc
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
        # Remember what we wrote, unless another writer replaced FILE in the meantime.
        stat_key = _current_stat_key(target)
        self._cache = (
            _EMPTY if stat_key is None or stat_key[1] != inode else _reindex(documents, stat_key)
        )
        return True

    def _ensure_folder(self) -> None:
        folder = os.path.dirname(os.path.realpath(self._path))
        if not os.path.isdir(folder):
            # Only a folder we create gets 0700; one the user made keeps its mode.
            os.makedirs(folder, mode=0o700, exist_ok=True)

    def _read_error(self, exc: OSError) -> StoreError:
        return StoreError(
            f"Could not read {self.description}: {self._path}: {exc.strerror or exc}",
            hint=_hint_for(exc),
        )

    def _write_error(
        self, action: str, path: str, exc: OSError, *, replaced: bool = False
    ) -> StoreError:
        outcome = (
            f"The new {self._path} is in place, but the disk reported an error making it durable."
            if replaced
            else f"{self._path} was left untouched."
        )
        return StoreError(
            f"Could not {action} in {self.description}: {path}: {exc.strerror or exc}. {outcome}",
            hint=_hint_for(exc),
        )

    def _changing_error(self) -> StoreError:
        return StoreError(
            f"{self._path} of {self.description} kept changing while certctl was writing it",
            hint="Another process is rewriting it; stop it, or let certctl runs take the lock, "
            "and run again",
        )


# -- manifest (stdout) -----------------------------------------------------------------


class ManifestStdoutStore:
    """Prints each Secret it writes to stdout as a ``---`` document; keeps nothing.

    Nothing is read back from an earlier run, so every run issues every certificate
    again; ``manifest:FILE`` is the idempotent form. Within one run a secret written
    earlier reads back (from memory), so a CA issued by the run can sign the
    certificates after it. Locks are no-ops: there is nothing shared to protect.

    Args:
        stream: where documents go; None means ``sys.stdout`` as it is at each write,
            so redirection (pytest's capsys, Click's runner) is honoured.
    """

    #: Tells the CLI that stdout carries the manifests, so its table must go elsewhere.
    writes_to_stdout = True

    def __init__(self, stream: TextIO | None = None) -> None:
        self.description = STDOUT_DESCRIPTION
        self._stream = stream
        self._mutex = threading.Lock()
        self._written: dict[tuple[str, str], _Secret] = {}

    def __repr__(self) -> str:
        return "ManifestStdoutStore()"

    @property
    def identity(self) -> str:
        """What the state is keyed by: every stdout run shares one history."""
        return "manifest:stdout"

    def read(self, namespace: str, name: str) -> SecretRecord | None:
        """Return a secret this store printed earlier in this process, else None."""
        check_namespace(namespace)
        _check_name(name)
        with self._mutex:
            secret = self._written.get((namespace, name))
        return None if secret is None else secret.to_record()

    def version(self, namespace: str, name: str) -> str | None:
        check_namespace(namespace)
        _check_name(name)
        with self._mutex:
            secret = self._written.get((namespace, name))
        return None if secret is None else secret.version

    def stamp(self, namespace: str, name: str) -> str | None:
        return self.version(namespace, name)

    def list(self, namespace: str | None = None) -> Iterator[SecretRecord]:
        """Yield the secrets printed so far in this process, ordered by namespace and name."""
        if namespace is not None:
            check_namespace(namespace)
        with self._mutex:
            secrets = sorted(self._written.items())
        for (secret_namespace, _), secret in secrets:
            if namespace is None or secret_namespace == namespace:
                yield secret.to_record()

    def write(self, record: SecretRecord) -> str:
        """Print the Secret as one ``---`` document and flush; return its version.

        Raises:
            UsageError: the namespace, name or a data key is not valid.
            StoreError: stdout is closed (a pipe whose reader went away).
        """
        check_namespace(record.namespace)
        _check_name(record.name)
        body = _secret_body(record, sorted(check_data(record)), None)
        secret = _secret_from_body(body)
        text = _render_secret(body)
        with self._mutex:
            stream = self._stream if self._stream is not None else sys.stdout
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError) as exc:
                raise StoreError(
                    f"Could not print secret {record.key} to stdout: {exc}",
                    hint="Keep the reader of certctl's output running, or use "
                    "--store manifest:FILE",
                ) from exc
            self._written[(record.namespace, record.name)] = secret
        return secret.version

    def delete(self, namespace: str, name: str) -> bool:
        """Forget a secret printed in this run; what was printed stays printed."""
        check_namespace(namespace)
        _check_name(name)
        with self._mutex:
            return self._written.pop((namespace, name), None) is not None

    def lock(self, timeout: dt.timedelta) -> contextlib.nullcontext[None]:
        """A no-op: nothing is shared between runs."""
        return contextlib.nullcontext()


# -- the format ------------------------------------------------------------------------


def _secret_body(
    record: SecretRecord, data: builtins.list[tuple[str, bytes]], existing: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The Secret document for ``record``, keeping fields of ``existing`` certctl does not own."""
    body: dict[str, Any] = _plain_copy(existing) if existing is not None else {}
    body.pop("stringData", None)  # folded into data on read, as the API server does
    metadata = body.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    metadata["name"] = record.name
    metadata["namespace"] = record.namespace
    for field, values in (("labels", record.labels), ("annotations", record.annotations)):
        if values:
            metadata[field] = dict(values)
        else:
            metadata.pop(field, None)
    body["apiVersion"] = "v1"
    body["kind"] = "Secret"
    body["metadata"] = metadata
    body["type"] = record.type
    body["data"] = {key: base64.b64encode(value).decode("ascii") for key, value in data}
    return body


def _plain_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def _render_secret(body: Mapping[str, Any]) -> str:
    text: str = yaml.dump(
        _plain_copy(body),
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,  # never fold a long annotation over lines
    )
    return "---\n" + text


def _secret_from_body(body: Mapping[str, Any]) -> _Secret:
    """Build the parsed view of a document certctl just rendered (known to be valid)."""
    metadata = body["metadata"]
    data = {key: base64.b64decode(value) for key, value in body["data"].items()}
    return _make_secret(
        metadata["namespace"],
        metadata["name"],
        body["type"],
        data,
        metadata.get("labels") or {},
        metadata.get("annotations") or {},
        body,
    )


def _make_secret(
    namespace: str,
    name: str,
    secret_type: str,
    data: Mapping[str, bytes],
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    body: Mapping[str, Any],
) -> _Secret:
    content = {
        "namespace": namespace,
        "name": name,
        "type": secret_type,
        "data": {key: base64.b64encode(value).decode("ascii") for key, value in data.items()},
        "labels": dict(labels),
        "annotations": dict(annotations),
    }
    digest = hashlib.blake2b(
        json.dumps(content, sort_keys=True, separators=(",", ":")).encode(), digest_size=16
    )
    return _Secret(
        namespace=namespace,
        name=name,
        type=secret_type,
        data=dict(data),
        labels=dict(labels),
        annotations=dict(annotations),
        body=body,
        version=digest.hexdigest(),
    )


def _join(documents: builtins.list[_Document]) -> str:
    parts: builtins.list[str] = []
    for position, document in enumerate(documents):
        text = document.text
        if position < len(documents) - 1 and text and not text.endswith("\n"):
            text += "\n"  # the next document's "---" must start a line
        parts.append(text)
    return "".join(parts)


def _reindex(documents: builtins.list[_Document], stat_key: _StatKey | None) -> _Parsed:
    """The parse of a stream certctl just wrote, without parsing it again."""
    placed: builtins.list[_Document] = []
    index: dict[tuple[str, str], int] = {}
    line = 1
    for position, document in enumerate(documents):
        placed.append(dataclasses.replace(document, line=line))
        line += document.text.count("\n")
        if document.secret is not None:
            index[(document.secret.namespace, document.secret.name)] = position
    return _Parsed(stat_key, tuple(placed), index)


# -- parsing ---------------------------------------------------------------------------


class _Invalid(Exception):
    """A problem in FILE at a line (1-based), turned into a StoreError by _parse."""

    def __init__(self, line: int | None, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.hint = hint


def _parse(raw: bytes, stat_key: _StatKey, path: str) -> _Parsed:
    try:
        documents = _parse_documents(raw)
    except _Invalid as exc:
        where = f"{path}:{exc.line}" if exc.line else path
        raise StoreError(
            f"The manifest store file {where} is not valid: {exc.message}. "
            f"certctl left {path} untouched.",
            hint=exc.hint
            or "Fix or remove that document (certctl issues a missing Secret again), "
            "or point --store at another file",
            retryable=False,
        ) from exc
    index: dict[tuple[str, str], int] = {}
    for position, document in enumerate(documents):
        if document.secret is None:
            continue
        key = (document.secret.namespace, document.secret.name)
        if key in index:
            first = documents[index[key]].line
            raise StoreError(
                f"The manifest store file {path} holds Secret {key[0]}/{key[1]} twice, at "
                f"lines {first} and {document.line}, so certctl cannot tell which one is "
                f"current. certctl left {path} untouched.",
                hint="Delete one of the two documents and run again",
                retryable=False,
            )
        index[key] = position
    return _Parsed(stat_key, tuple(documents), index)


def _parse_documents(raw: bytes) -> builtins.list[_Document]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _Invalid(line, "it is not UTF-8 text") from exc
    documents: builtins.list[_Document] = []
    for chunk, first_line in _split_documents(text):
        secret = None
        for node, value in _load_chunk(chunk, first_line):  # none for comments alone
            if _is_secret(value):
                secret = _read_secret(value, node, first_line)
        documents.append(_Document(chunk, first_line, secret))
    return documents


def _split_documents(text: str) -> Iterator[tuple[str, int]]:
    """Cut the stream before every ``---`` line; yield each piece and its first line.

    Comments before a ``---`` stay with the document above them. ``%`` directives
    (rare in Kubernetes manifests) stay with the ``---`` they precede.
    """
    lines = _LINE_RE.findall(text)
    start = 0
    outside = True  # between documents: at the start, or after a "..." line
    directives: int | None = None  # where the directives before the next "---" begin
    for number, line in enumerate(lines):
        if _DOCUMENT_START_RE.match(line):
            cut = number if directives is None else directives
            if cut > start:
                yield "".join(lines[start:cut]), start + 1
                start = cut
            outside, directives = False, None
        elif _DOCUMENT_END_RE.match(line):
            outside = True
        elif line.startswith("%") and outside:
            directives = number if directives is None else directives
        elif line.strip() and not line.lstrip().startswith("#"):
            outside, directives = False, None
    if start < len(lines):
        yield "".join(lines[start:]), start + 1


def _load_chunk(chunk: str, first_line: int) -> builtins.list[tuple[Any, Any]]:
    """Parse one piece with the safe loader; return (node, value) per document in it."""
    loader = _Loader(chunk)
    try:
        loaded: builtins.list[tuple[Any, Any]] = []
        while loader.check_node():
            node = loader.get_node()
            loaded.append((node, loader.construct_document(node)))
        if len(loaded) > 1:
            line = first_line + loaded[1][0].start_mark.line
            raise _Invalid(line, "a document follows '...' without its own '---' line")
        return loaded
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark is not None else first_line
        problem = exc.problem or exc.context or "not valid YAML"
        raise _Invalid(line, f"it is not valid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise _Invalid(first_line, f"it is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _is_secret(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") == "Secret"
        and value.get("apiVersion") == "v1"
    )


def _read_secret(body: dict[str, Any], node: Any, first_line: int) -> _Secret:
    def at(*path: str) -> int:
        return first_line + _line_at(node, path)

    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        raise _Invalid(at("metadata"), "a v1 Secret has no metadata mapping")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise _Invalid(at("metadata", "name"), "a v1 Secret has no metadata.name")
    namespace = metadata.get("namespace", "default")
    if not isinstance(namespace, str) or not namespace:
        raise _Invalid(
            at("metadata", "namespace"), f"metadata.namespace of Secret {name} is not a name"
        )
    key = f"{namespace}/{name}"
    if "sops" in body:
        raise _Invalid(
            at("sops"),
            f"Secret {key} is SOPS-encrypted, and certctl needs to read the plaintext",
            "Point --store at the plaintext file and encrypt a copy of it downstream",
        )
    secret_type = body.get("type", "Opaque")
    if not isinstance(secret_type, str):
        raise _Invalid(at("type"), f"type of Secret {key} is not a string")
    mappings: dict[str, dict[str, str]] = {}
    for field in ("labels", "annotations"):
        values = metadata.get(field) or {}
        if not isinstance(values, dict):
            raise _Invalid(at("metadata", field), f"metadata.{field} of Secret {key} is not a map")
        for item_key, item in values.items():
            if not isinstance(item_key, str) or not isinstance(item, str):
                raise _Invalid(
                    at("metadata", field, str(item_key)),
                    f"metadata.{field}.{item_key} of Secret {key} is not a string "
                    "(quote values such as true, 1 or dates)",
                )
        mappings[field] = values
    data: dict[str, bytes] = {}
    for field in ("data", "stringData"):
        values = body.get(field) or {}
        if not isinstance(values, dict):
            raise _Invalid(at(field), f"{field} of Secret {key} is not a map")
        for item_key, item in values.items():
            line = at(field, str(item_key))
            if not isinstance(item_key, str):
                raise _Invalid(line, f"{field} of Secret {key} has a key that is not a string")
            if item is None:
                item = ""
            if not isinstance(item, str):
                raise _Invalid(line, f"{field}.{item_key} of Secret {key} is not a string")
            if field == "stringData":
                data[item_key] = item.encode("utf-8")  # stringData wins, as in the API server
                continue
            try:
                # Go's StdEncoding, which decodes Secret data, skips CR and LF.
                compact = item.replace("\n", "").replace("\r", "")
                data[item_key] = base64.b64decode(compact, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _Invalid(
                    line, f"data.{item_key} of Secret {key} is not valid base64 ({exc})"
                ) from exc
    return _make_secret(
        namespace, name, secret_type, data, mappings["labels"], mappings["annotations"], body
    )


def _line_at(node: Any, path: tuple[str, ...]) -> int:
    """The 0-based line of the last key found along ``path``, for messages."""
    line: int = node.start_mark.line
    for step in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == step:
                line = key_node.start_mark.line
                node = value_node
                break
        else:
            break
    return line


# -- checks ----------------------------------------------------------------------------


def _check_name(name: str) -> None:
    check_secret_name(name)


def _stat_key(info: os.stat_result) -> _StatKey:
    # ctime too: unlike mtime, nobody can set it back by hand (touch -r, an editor).
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _current_stat_key(path: str) -> _StatKey | None:
    try:
        return _stat_key(os.stat(path))
    except FileNotFoundError:
        return None


def _keep_mode_and_group(fd: int, existed: bool, target: str) -> None:
    """Give the new file the old one's mode and group, never wider than 0660."""
    if not existed:
        return  # mkstemp made it 0600
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return
    with contextlib.suppress(PermissionError):
        os.fchown(fd, -1, info.st_gid)  # only possible if we belong to that group
    os.fchmod(fd, stat.S_IMODE(info.st_mode) & 0o660)


def _hint_for(exc: OSError) -> str:
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "Free some space (or quota) on that filesystem and run again"
    if code in (errno.EACCES, errno.EPERM):
        return (
            "Check that the user running certctl can read and write the file and its folder, "
            "or point --store at a file it can write"
        )
    if code == errno.EROFS:
        return "The filesystem is mounted read-only; point --store at a writable file"
    if code == errno.EISDIR:
        return "The path is a folder; use --store dir:PATH for a folder, or name a file"
    if code == errno.ENOTDIR:
        return "Part of the path is a file, not a folder; fix the --store path"
    return "Check the file and its folder, and run again"
