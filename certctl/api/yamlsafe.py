"""Safe, bounded YAML and JSON loading, and lazy mapping of field paths to lines.

Only the safe constructors are ever used. On top of what PyYAML gives, this
module enforces the limits a tool that reads a whole deploy folder needs: a
per-file size cap, a cap on alias use and on the expanded size of a document
(the "billion laughs" attack), rejection of binary input and of duplicate keys
(kubectl and the API server reject them too).

The happy path stays cheap: documents are constructed with libyaml's
``CSafeLoader`` without keeping nodes around, the alias check only runs when
the text contains both ``&`` and ``*``, and line numbers for field paths are
only computed when there is an error to report (``locate_lines`` re-composes
the file with marks).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "MAX_ALIASES",
    "MAX_FILE_BYTES",
    "MAX_INTEGER_CHARS",
    "MAX_NODES",
    "Document",
    "YamlSafetyError",
    "check_size",
    "decode_text",
    "locate_lines",
    "parse_documents",
]

#: Largest manifest file read, in bytes. Real manifests are kilobytes.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Most alias references (``*name``) allowed in one document.
MAX_ALIASES = 100
#: Most nodes one document may expand to once aliases are followed.
MAX_NODES = 100_000
#: Longest integer literal read. No manifest field holds more than an int64 (19
#: digits); Python refuses to turn integers of over 4300 digits into text at all.
MAX_INTEGER_CHARS = 100

NodePath = Sequence[str | int]

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlSafetyError(Exception):
    """A file that cannot be read as manifests: bad encoding, syntax, or over a limit.

    Attributes:
        message: what is wrong, without a traceback.
        line: the 1-based line, when known.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Document:
    """One parsed document of a file.

    Attributes:
        data: the constructed value (mapping, list, scalar, or None when empty).
        index: the 0-based position of the document in its file.
        line: the 1-based line where the document's content starts.
    """

    data: Any
    index: int
    line: int


_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
# First characters for which YAML 1.1 may resolve a plain scalar to something other
# than a string (bool, int, float, null, timestamp, merge, value).
_IMPLICIT_FIRST = frozenset(key for key in _BaseLoader.yaml_implicit_resolvers if key)
_FAST_RESOLVE = (
    None not in _BaseLoader.yaml_implicit_resolvers and not _BaseLoader.yaml_path_resolvers
)


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, plus duplicate-key rejection and a faster scalar resolver."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # libyaml calls back into Python to resolve every scalar; most manifest
        # scalars are names that start with a letter no implicit type can start
        # with, so answering "string" directly saves a tenth of the parse time.
        if (
            _FAST_RESOLVE
            and kind is yaml.ScalarNode
            and (not implicit[0] or (value and value[0] not in _IMPLICIT_FIRST))
        ):
            return _STR_TAG
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # flatten_mapping (inside super) deletes merge keys from node.value in place
        # and then rebinds node.value, so this reference keeps the explicit pairs.
        explicit = node.value
        mapping = super().construct_mapping(node, deep=deep)
        # Equal lengths means no key collapsed: the cheap check for every mapping.
        if len(mapping) != len(node.value):
            _reject_duplicate_keys(self, explicit)
        return mapping


def _too_long_integer(text: str) -> str:
    return (
        f"an integer of {len(text)} characters is too large for any manifest field "
        f"(the limit is {MAX_INTEGER_CHARS}); quote it if it is meant as text"
    )


def _construct_integer(loader: Any, node: Any) -> Any:
    if len(node.value) > MAX_INTEGER_CHARS:
        raise yaml.constructor.ConstructorError(
            None, None, _too_long_integer(node.value), node.start_mark
        )
    return loader.construct_yaml_int(node)


_StrictLoader.add_constructor(_INT_TAG, _construct_integer)


def _reject_duplicate_keys(loader: Any, pairs: Iterable[tuple[Any, Any]]) -> None:
    seen: set[Hashable] = set()
    for key_node, _ in pairs:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} in a mapping (each field may appear only once)",
                key_node.start_mark,
            )
        if isinstance(key, Hashable):
            seen.add(key)


def decode_text(raw: bytes, path: str) -> str:
    """Turn a file's bytes into text, rejecting what is not a UTF-8 text file.

    Args:
        raw: the file content (already checked against ``MAX_FILE_BYTES``).
        path: the file name, for messages.

    Raises:
        YamlSafetyError: the content holds NUL bytes or is not valid UTF-8.
    """
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise YamlSafetyError(
            f"{path} is not a text file (it contains NUL bytes); "
            "manifests must be UTF-8 YAML or JSON",
            line,
        )
    try:
        # utf-8-sig drops a byte order mark that some Windows editors write.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise YamlSafetyError(
            f"{path} is not valid UTF-8 (byte 0x{bad} at offset {exc.start}); "
            "manifests must be UTF-8 YAML or JSON",
            line,
        ) from None


def check_size(size: int, path: str) -> None:
    """Reject content larger than ``MAX_FILE_BYTES``."""
    if size > MAX_FILE_BYTES:
        raise YamlSafetyError(
            f"{path} is larger than the {MAX_FILE_BYTES // (1024 * 1024)} MiB limit "
            "for a manifest file"
        )


def looks_like_json(text: str) -> bool:
    """Whether the text is probably JSON (it opens with ``{`` or ``[``)."""
    return text.lstrip()[:1] in ("{", "[")


def parse_documents(
    text: str, *, json_first: bool = False, yaml_fallback: bool = False
) -> list[Document]:
    """Parse every document of a YAML stream (or one JSON value).

    Args:
        text: the whole file.
        json_first: parse as JSON when the text looks like JSON; YAML otherwise.
            JSON is parsed with the json module because PyYAML rejects some valid
            JSON (tab indentation).
        yaml_fallback: when JSON parsing fails, try YAML before reporting the JSON
            error (for stdin, where ``{a: b}`` is YAML flow style, not broken JSON).

    Returns:
        The documents in file order, empty ones included (their data is None).

    Raises:
        YamlSafetyError: a syntax error, a duplicate key, or a limit was exceeded.
    """
    if json_first and looks_like_json(text):
        try:
            return [Document(_parse_json(text), 0, 1)]
        except YamlSafetyError as json_error:
            if not yaml_fallback:
                raise
            try:
                return _parse_yaml(text)
            except YamlSafetyError:
                raise json_error from None
    return _parse_yaml(text)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_int=_json_integer)
    except json.JSONDecodeError as exc:
        raise YamlSafetyError(f"invalid JSON: {exc.msg}", exc.lineno) from None
    except _LongInteger as exc:
        line = text.count("\n", 0, max(text.find(exc.text), 0)) + 1
        raise YamlSafetyError(f"invalid JSON: {_too_long_integer(exc.text)}", line) from None
    except RecursionError:
        raise YamlSafetyError("the JSON document is nested too deeply") from None


class _LongInteger(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _json_integer(text: str) -> int:
    if len(text) > MAX_INTEGER_CHARS:
        raise _LongInteger(text)
    return int(text)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise json.JSONDecodeError(
                    f"duplicate key {key!r} in an object (each field may appear only once)",
                    "",
                    0,
                )
            seen.add(key)
    return result


def _parse_yaml(text: str) -> list[Document]:
    check_aliases = "&" in text and "*" in text
    loader = _StrictLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if check_aliases:
                _check_expansion(node)
            line = node.start_mark.line + 1
            documents.append(Document(loader.construct_document(node), len(documents), line))
    except yaml.MarkedYAMLError as exc:
        raise YamlSafetyError(_describe_yaml_error(exc), _mark_line(exc)) from None
    except yaml.YAMLError as exc:
        # ReaderError (control characters) and friends carry a position, not a mark.
        raise YamlSafetyError(f"invalid YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise YamlSafetyError("the YAML document is nested too deeply") from None
    finally:
        loader.dispose()
    return documents


def _describe_yaml_error(exc: yaml.MarkedYAMLError) -> str:
    parts = [part for part in (exc.context, exc.problem) if part]
    text = ", ".join(parts) if parts else "invalid YAML"
    return f"invalid YAML: {text}"


def _mark_line(exc: yaml.MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else None


def _check_expansion(root: Any) -> None:
    """Count alias uses and the expanded size of a composed document.

    PyYAML resolves an alias to the very node object it names, so a node reached
    a second time is an alias use, and the expanded size of a node is one plus the
    expanded sizes of its children. Sizes are memoised, so a bomb costs no more to
    measure than its text does to parse.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    aliases = 0

    def expanded(node: Any) -> int:
        nonlocal aliases
        key = id(node)
        if key in sizes:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlSafetyError(
                    f"the document uses more than {MAX_ALIASES} YAML aliases",
                    node.start_mark.line + 1,
                )
            return sizes[key]
        if key in in_progress:
            raise YamlSafetyError(
                "the document contains a recursive YAML alias", node.start_mark.line + 1
            )
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += expanded(child)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += expanded(key_node) + expanded(value_node)
        in_progress.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            raise YamlSafetyError(
                f"the document expands to more than {MAX_NODES} nodes through YAML aliases",
                node.start_mark.line + 1,
            )
        return total

    expanded(root)


def locate_lines(text: str, requests: Sequence[tuple[int, NodePath]]) -> list[int | None]:
    """Find the line of each field path, composing the text again with marks.

    This is the slow path that only runs when there are problems to report.

    Args:
        text: the whole file.
        requests: pairs of (document index, path inside that document), e.g.
            ``(0, ("spec", "dnsNames", 2))``.

    Returns:
        For each request, the 1-based line of the deepest part of the path that
        exists (the key's line for a mapping entry, the item's line for a list
        entry), or None when the document cannot be composed.
    """
    roots = _compose_all(text)
    lines: list[int | None] = []
    for index, path in requests:
        root = roots[index] if index < len(roots) else None
        lines.append(None if root is None else _walk(root, path))
    return lines


def _compose_all(text: str) -> list[Any]:
    # Tabs are invalid YAML indentation but fine in JSON; replacing them keeps every
    # line number intact and lets JSON files be located with the YAML composer.
    if looks_like_json(text):
        text = text.replace("\t", " ")
    loader = _BaseLoader(text)
    roots: list[Any] = []
    try:
        while loader.check_node():
            roots.append(loader.get_node())
    except (yaml.YAMLError, RecursionError):
        pass
    finally:
        loader.dispose()
    return roots


def _walk(node: Any, path: NodePath) -> int:
    line: int = node.start_mark.line + 1
    for part in path:
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            found = _find_key(node, str(part))
            if found is None:
                break
            key_node, node = found
            line = key_node.start_mark.line + 1
        else:
            break
    return line


def _find_key(node: Any, name: str) -> tuple[Any, Any] | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
            return key_node, value_node
    return None
