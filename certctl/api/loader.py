"""Load manifests from files, directories and stdin into a validated ``ManifestSet``.

This is the front door of the one-way data flow: nothing downstream sees a
document that did not pass the schema and cert-manager's webhook rules. Every
document of every file is checked before anything is returned, and all
problems are raised together as one ``ManifestError``, each with its file,
line and kubectl-style field path.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from certctl.api import convert, ingress, resources, yamlsafe
from certctl.api.models import (
    Certificate,
    FieldPath,
    IgnoredDocument,
    IngressResource,
    Issuer,
    ManifestSet,
    Source,
)
from certctl.api.schema import Obj, Path, Problems, format_path
from certctl.errors import ManifestError, ManifestProblem

__all__ = ["MANIFEST_SUFFIXES", "load_manifests"]

#: File name endings read from directories (an explicitly named file is always read).
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

CERT_MANAGER_API_VERSION = "cert-manager.io/v1"
_CERT_MANAGER_KINDS: dict[str, Obj] = {
    "Certificate": resources.CERTIFICATE,
    "Issuer": resources.ISSUER,
    "ClusterIssuer": resources.ISSUER,
}
# The group cert-manager used before v0.11 is rejected like an old version of the new one.
_CERT_MANAGER_GROUPS = ("cert-manager.io", "certmanager.k8s.io")
_STDIN = "-"

log = logging.getLogger("certctl")


def load_manifests(
    paths: Sequence[str], *, default_namespace: str = "default", stdin: TextIO | None = None
) -> ManifestSet:
    """Read, validate and default every manifest under ``paths``.

    Args:
        paths: files, directories (searched recursively for ``*.yaml``, ``*.yml`` and
            ``*.json``, in sorted order, skipping hidden entries), or ``-`` for stdin.
        default_namespace: the namespace of Certificates and Issuers that name none.
        stdin: the stream ``-`` reads; ``sys.stdin`` when None.

    Returns:
        The Certificates, Issuers/ClusterIssuers, ``networking.k8s.io/v1`` Ingresses
        (for ingress-shim; they are also listed as ignored, since only ``convert``
        and ``sync`` act on them) and ignored documents, in file order.

    Raises:
        ManifestError: with every problem found in every file, when there is any.
    """
    session = _Session(default_namespace)
    for path in paths:
        if path == _STDIN:
            session.read_stream(stdin if stdin is not None else sys.stdin)
        else:
            session.read_path(path)
    if session.findings:
        raise ManifestError(session.problems())
    return ManifestSet(
        certificates=tuple(session.certificates),
        issuers=tuple(session.issuers),
        ignored=tuple(session.ignored),
        ingresses=session.finish_ingresses(),
    )


@dataclass
class _File:
    """One input: its display path and its text (None when it could not be read)."""

    path: str
    text: str | None = None
    document_lines: dict[int, int] = field(default_factory=dict)


@dataclass
class _Finding:
    """A problem before its line is known.

    ``document`` is None for problems with the file as a whole; ``node_path`` is the
    path from the document root (including ``items[i]`` of a List) used to find the
    line, while ``field`` is the path shown, relative to the object.
    """

    file: _File
    document: int | None
    node_path: Path
    field: str
    message: str
    line: int | None = None


@dataclass
class _Session:
    default_namespace: str
    certificates: list[Certificate] = field(default_factory=list)
    issuers: list[Issuer] = field(default_factory=list)
    ignored: list[IgnoredDocument] = field(default_factory=list)
    findings: list[_Finding] = field(default_factory=list)
    files: list[_File] = field(default_factory=list)
    ingresses: list[_PendingIngress] = field(default_factory=list)
    seen: dict[tuple[str, str, str], str] = field(default_factory=dict)

    # --- Reading ---

    def read_path(self, path: str) -> None:
        if os.path.isdir(path):
            for file_path in _walk_directory(path):
                self.read_file(file_path)
        elif os.path.exists(path):
            self.read_file(path)
        else:
            self._file_problem(_File(path), "no such file or directory")

    def read_file(self, path: str) -> None:
        file = _File(path)
        try:
            with open(path, "rb") as stream:
                raw = stream.read(yamlsafe.MAX_FILE_BYTES + 1)
            yamlsafe.check_size(len(raw), path)
            file.text = yamlsafe.decode_text(raw, path)
        except yamlsafe.YamlSafetyError as exc:
            self._file_problem(file, exc.message, exc.line)
            return
        except OSError as exc:
            self._file_problem(file, f"cannot read the file: {exc.strerror or exc}")
            return
        self._parse(file, json_first=path.lower().endswith(".json"))

    def read_stream(self, stream: TextIO) -> None:
        file = _File(_STDIN)
        try:
            text = stream.read(yamlsafe.MAX_FILE_BYTES + 1)
            yamlsafe.check_size(len(text.encode("utf-8", "replace")), "standard input")
        except yamlsafe.YamlSafetyError as exc:
            self._file_problem(file, exc.message)
            return
        except (OSError, UnicodeDecodeError) as exc:
            self._file_problem(file, f"cannot read standard input: {exc}")
            return
        if "\x00" in text:
            self._file_problem(file, "standard input is not text (it contains NUL bytes)")
            return
        file.text = text.removeprefix("\ufeff")
        self._parse(file, json_first=True, yaml_fallback=True)

    def _parse(self, file: _File, *, json_first: bool, yaml_fallback: bool = False) -> None:
        assert file.text is not None
        self.files.append(file)
        try:
            documents = yamlsafe.parse_documents(
                file.text, json_first=json_first, yaml_fallback=yaml_fallback
            )
        except yamlsafe.YamlSafetyError as exc:
            self._file_problem(file, exc.message, exc.line)
            return
        for document in documents:
            file.document_lines[document.index] = document.line
            if document.data is not None:
                self._read_document(file, document)

    # --- Documents ---

    def _read_document(self, file: _File, document: yamlsafe.Document) -> None:
        data = document.data
        if not isinstance(data, Mapping):
            self._add(
                file,
                document.index,
                (),
                f"a document must be a mapping with apiVersion and kind, not a {_kind_of(data)}",
            )
            return
        if data.get("kind") == "List" and "items" in data:
            items = data.get("items")
            if not isinstance(items, list):
                self._add(
                    file, document.index, ("items",), "a List's items must be a list", "items"
                )
                return
            for index, item in enumerate(items):
                self._read_object(file, document, item, ("items", index))
            return
        self._read_object(file, document, data, ())

    def _read_object(self, file: _File, document: yamlsafe.Document, data: Any, base: Path) -> None:
        if not isinstance(data, Mapping):
            self._add(
                file, document.index, base, f"a List item must be a mapping, not a {_kind_of(data)}"
            )
            return
        api_version, kind = data.get("apiVersion"), data.get("kind")
        if not isinstance(api_version, str) or not api_version:
            self._add(
                file,
                document.index,
                (*base, "apiVersion"),
                "Required value: apiVersion",
                "apiVersion",
            )
            return
        if not isinstance(kind, str) or not kind:
            self._add(file, document.index, (*base, "kind"), "Required value: kind", "kind")
            return
        schema = _CERT_MANAGER_KINDS.get(kind)
        group = api_version.partition("/")[0] if "/" in api_version else ""
        source = Source(file.path, document.line)
        if kind == "Ingress":
            self._read_ingress(file, document, data, api_version, base, source)
            return
        if schema is None or group not in _CERT_MANAGER_GROUPS:
            self.ignored.append(
                IgnoredDocument(api_version, kind, _object_name(data), source, raw=data)
            )
            return
        if api_version != CERT_MANAGER_API_VERSION:
            self._add(
                file,
                document.index,
                (*base, "apiVersion"),
                f'{kind} "{_object_name(data)}" uses apiVersion {api_version}, but only '
                f"{CERT_MANAGER_API_VERSION} is supported (convert it with `cmctl convert`)",
                "apiVersion",
            )
            return
        problems = Problems()
        schema.check(data, (), problems)
        if problems:
            for path, message in problems.items:
                self._add(file, document.index, (*base, *path), message, format_path(path))
            return
        self._accept(file, document, data, kind, base, source)

    def _accept(
        self,
        file: _File,
        document: yamlsafe.Document,
        data: Mapping[str, Any],
        kind: str,
        base: Path,
        source: Source,
    ) -> None:
        metadata = data["metadata"]
        cluster = kind == "ClusterIssuer"
        # Like kubectl, a namespace on a cluster-scoped object is ignored.
        namespace = None if cluster else (metadata.get("namespace") or self.default_namespace)
        identity = (kind, namespace or "", metadata["name"])
        here = f"{file.path}:{source.line}" if source.line else file.path
        first = self.seen.get(identity)
        if first is not None:
            shown = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
            self._add(
                file,
                document.index,
                (*base, "metadata", "name"),
                f'{kind} "{shown}" is defined more than once: first in {first}, again in {here}',
                "metadata.name",
            )
            return
        self.seen[identity] = here
        if kind == "Certificate":
            self.certificates.append(convert.to_certificate(data, namespace or "", source))
            return
        self.issuers.append(
            Issuer(
                metadata=convert.to_metadata(metadata, namespace),
                spec=convert.to_issuer_spec(data["spec"]),
                source=source,
                cluster_scoped=cluster,
                raw=data,
            )
        )

    def _read_ingress(
        self,
        file: _File,
        document: yamlsafe.Document,
        data: Mapping[str, Any],
        api_version: str,
        base: Path,
        source: Source,
    ) -> None:
        """An Ingress: checked only where ingress-shim reads it, and kept for it."""
        self.ignored.append(IgnoredDocument(api_version, "Ingress", _object_name(data), source))
        if api_version != ingress.INGRESS_API_VERSION:
            # cert-manager's ingress-shim watches networking.k8s.io/v1 only.
            log.debug(
                "%s: Ingress %r uses apiVersion %s, which ingress-shim does not read "
                "(only %s); skipped",
                source,
                _object_name(data),
                api_version,
                ingress.INGRESS_API_VERSION,
            )
            return
        problems = Problems()
        ingress.INGRESS.check(data, (), problems)
        if problems:
            for path, message in problems.items:
                self._add(file, document.index, (*base, *path), message, format_path(path))
            return
        metadata = data["metadata"]
        namespace = metadata.get("namespace") or self.default_namespace
        identity = ("Ingress", namespace, metadata["name"])
        here = str(source)
        first = self.seen.get(identity)
        if first is not None:
            self._add(
                file,
                document.index,
                (*base, "metadata", "name"),
                f'Ingress "{namespace}/{metadata["name"]}" is defined more than once: first in '
                f"{first}, again in {here}",
                "metadata.name",
            )
            return
        self.seen[identity] = here
        self.ingresses.append(_PendingIngress(file, document.index, base, data, namespace, source))

    def finish_ingresses(self) -> tuple[IngressResource, ...]:
        """The Ingresses, with the lines of the fields ingress-shim reports on.

        Lines are found by composing each file with Ingresses once more, and only
        for Ingresses with annotations or TLS entries.
        """
        by_file: dict[int, list[tuple[_PendingIngress, list[FieldPath]]]] = {}
        for pending in self.ingresses:
            paths = ingress.ingress_line_paths(pending.data)
            if paths and pending.file.text is not None:
                by_file.setdefault(id(pending.file), []).append((pending, paths))
        lines: dict[int, dict[FieldPath, int]] = {}
        for entries in by_file.values():
            text = entries[0][0].file.text
            assert text is not None
            requests = [
                (pending.document, (*pending.base, *path))
                for pending, paths in entries
                for path in paths
            ]
            found = iter(yamlsafe.locate_lines(text, requests))
            for pending, paths in entries:
                lines[id(pending)] = {
                    path: line for path in paths if (line := next(found)) is not None
                }
        return tuple(
            IngressResource(
                metadata=convert.to_metadata(pending.data["metadata"], pending.namespace),
                spec=dict(pending.data.get("spec") or {}),
                source=pending.source,
                raw=pending.data,
                field_lines=lines.get(id(pending), {}),
            )
            for pending in self.ingresses
        )

    # --- Problems ---

    def _add(
        self, file: _File, document: int, node_path: Path, message: str, field: str = ""
    ) -> None:
        self.findings.append(_Finding(file, document, node_path, field, message))

    def _file_problem(self, file: _File, message: str, line: int | None = None) -> None:
        self.findings.append(_Finding(file, None, (), "", message, line))

    def problems(self) -> list[ManifestProblem]:
        """Every finding with its line, found by composing each affected file once."""
        by_file: dict[int, list[_Finding]] = {}
        for finding in self.findings:
            by_file.setdefault(id(finding.file), []).append(finding)
        result: list[ManifestProblem] = []
        for findings in by_file.values():
            _resolve_lines(findings)
            findings.sort(key=lambda f: f.line or 0)
            result.extend(
                ManifestProblem(f.file.path, f.line, f.field, f.message) for f in findings
            )
        return result


@dataclass
class _PendingIngress:
    """An accepted Ingress whose field lines are located once every file is read."""

    file: _File
    document: int
    base: Path
    data: Mapping[str, Any]
    namespace: str
    source: Source


def _resolve_lines(findings: list[_Finding]) -> None:
    pending = [f for f in findings if f.line is None and f.document is not None]
    if not pending:
        return
    file = pending[0].file
    lines: list[int | None] = [None] * len(pending)
    if file.text is not None and any(f.node_path for f in pending):
        lines = yamlsafe.locate_lines(file.text, [(f.document or 0, f.node_path) for f in pending])
    for finding, line in zip(pending, lines, strict=True):
        finding.line = line or file.document_lines.get(finding.document or 0)


def _walk_directory(root: str) -> Iterator[str]:
    """Manifest files under ``root``, sorted, without hidden files and directories."""
    found: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(
            os.path.join(directory, name)
            for name in files
            if not name.startswith(".") and name.lower().endswith(MANIFEST_SUFFIXES)
        )
    # Sorting by path components keeps "a/b.yaml" before "a-c.yaml" on every platform.
    return iter(sorted(found, key=lambda p: os.path.relpath(p, root).split(os.sep)))


def _object_name(data: Mapping[str, Any]) -> str:
    metadata = data.get("metadata")
    if isinstance(metadata, Mapping):
        name = metadata.get("name")
        if isinstance(name, str):
            return name
    return ""


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
