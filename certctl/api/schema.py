"""A small declarative schema language for manifest documents.

A schema is a tree of ``Type`` objects that reads like the API reference::

    Obj({
        "secretName": Field(Str(check=dns1123_subdomain), required=True),
        "dnsNames": Field(ListOf(Str())),
    }, rules=[exactly_one("ingress", "gatewayHTTPRoute")])

Checking a value against it reports every problem at once as ``(path,
message)`` pairs: unknown fields (with a "did you mean"), wrong types, missing
required fields, values outside an enum, and whatever the per-field ``check``
functions and per-object ``rules`` say. ``apply_defaults`` then fills the
declared defaults into a copy of the value.

As in Kubernetes, a field whose value is ``null`` counts as not set.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from certctl.api.duration import DurationError, parse_go_duration

__all__ = [
    "AnyValue",
    "Bool",
    "Duration",
    "Field",
    "Int",
    "ListOf",
    "MapOf",
    "Obj",
    "Path",
    "Problems",
    "Rule",
    "Str",
    "Type",
    "apply_defaults",
    "describe_type",
    "format_path",
    "suggest",
]

Path = tuple[str | int, ...]
#: A value check: returns a message when the value is invalid, else None.
Check = Callable[[Any], str | None]
#: A cross-field rule on one object (already known to be a mapping).
Rule = Callable[[Mapping[str, Any], Path, "Problems"], None]

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


class Problems:
    """Collects problems as (path inside the document, message) pairs."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[Path, str]] = []

    def add(self, path: Path, message: str) -> None:
        self.items.append((path, message))

    def required(self, path: Path, detail: str = "") -> None:
        self.add(path, f"Required value: {detail}" if detail else "Required value")

    def invalid(self, path: Path, value: Any, detail: str) -> None:
        self.add(path, f"Invalid value: {_show(value)}: {detail}")

    def forbidden(self, path: Path, detail: str) -> None:
        self.add(path, f"Forbidden: {detail}")

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def format_path(path: Path) -> str:
    """Write a path the way kubectl does: ``spec.dnsNames[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else part
    return text


def describe_type(value: Any) -> str:
    """The JSON-ish name of a value's type, for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dt.datetime | dt.date):
        return "timestamp"
    return type(value).__name__


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """The closest known name to a misspelt one, if any is close enough."""
    lowered = word.lower()
    for choice in choices:
        if choice.lower() == lowered:
            return choice
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type_error(out: Problems, path: Path, expected: str, value: Any) -> None:
    out.add(path, f"Invalid type: expected {expected}, got {describe_type(value)}")


class Type:
    """Base of every schema type."""

    expected = "value"
    #: A Python type whose every instance is valid: lets ``Obj`` skip the call.
    fast: type | None = None

    def check(self, value: Any, path: Path, out: Problems) -> None:
        """Report every problem of ``value`` (which is never None) into ``out``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Field:
    """One field of an ``Obj``.

    Attributes:
        type: the type of the value.
        required: whether the field must be set (null and "" count as unset, as in
            cert-manager's ``len(x) == 0`` checks).
        required_detail: the text after "Required value: " when it is missing.
        default: filled in by ``apply_defaults`` when the field is unset.
        normalize: applied by ``apply_defaults`` to a set value, to hand the
            issuers the form cert-manager's controllers use (``8.8.8.8:`` is
            ``8.8.8.8:53``).
    """

    type: Type
    required: bool = False
    required_detail: str = ""
    default: Any = None
    normalize: Callable[[Any], Any] | None = None


class AnyValue(Type):
    """Anything at all (free-form JSON, or fields certctl passes through)."""

    expected = "any value"

    def check(self, value: Any, path: Path, out: Problems) -> None:
        return None


class Str(Type):
    """A string, optionally from an enum and with extra checks."""

    expected = "string"

    def __init__(
        self,
        *,
        enum: Sequence[str] = (),
        min_length: int = 0,
        max_length: int | None = None,
        check: Check | None = None,
        case_insensitive: bool = False,
    ) -> None:
        self.enum = tuple(enum)
        self._enum_keys = {e.lower() if case_insensitive else e for e in enum}
        self.case_insensitive = case_insensitive
        self.min_length = min_length
        self.max_length = max_length
        self.extra = check
        if not enum and not min_length and max_length is None and check is None:
            self.fast = str

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if not isinstance(value, str):
            _type_error(out, path, "string", value)
            return
        if self.enum and value != "":
            key = value.lower() if self.case_insensitive else value
            if key not in self._enum_keys:
                out.add(path, _unsupported(value, self.enum))
                return
        if len(value) < self.min_length:
            # The CRD's minLength, worded as the API server's OpenAPI check words it.
            out.invalid(path, value, f"should be at least {self.min_length} chars long")
            return
        if self.max_length is not None and len(value) > self.max_length:
            out.add(path, f"Too long: may not be more than {self.max_length} bytes")
        if self.extra is not None:
            message = self.extra(value)
            if message:
                out.invalid(path, value, message)


def _unsupported(value: str, choices: Sequence[str]) -> str:
    listed = ", ".join(f'"{c}"' for c in choices)
    message = f'Unsupported value: "{value}": supported values: {listed}'
    close = suggest(value, choices)
    return f"{message} (did you mean '{close}'?)" if close else message


class Int(Type):
    """A whole number (YAML integer, not a quoted string or a boolean)."""

    expected = "integer"

    def __init__(self, *, minimum: int = _INT32_MIN, maximum: int = _INT32_MAX) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            _type_error(out, path, "integer", value)
        elif not self.minimum <= value <= self.maximum:
            out.invalid(path, value, f"must be between {self.minimum} and {self.maximum}")


class Bool(Type):
    """``true`` or ``false`` (a quoted "true" is a string, as for the API server)."""

    expected = "boolean"
    fast = bool

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if not isinstance(value, bool):
            _type_error(out, path, "boolean", value)


class Duration(Type):
    """A Go duration string such as ``2160h``; negative values are rejected."""

    expected = "duration string"

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if not isinstance(value, str):
            _type_error(out, path, 'a duration string like "2160h"', value)
            return
        try:
            parsed = parse_go_duration(value)
        except DurationError as exc:
            out.invalid(path, value, f"time: {exc}")
            return
        if parsed < dt.timedelta(0):
            out.invalid(path, value, "must not be negative")


class ListOf(Type):
    """A list whose items all have one type."""

    expected = "list"

    def __init__(self, item: Type, *, min_items: int = 0) -> None:
        self.item = item
        self.min_items = min_items

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if not isinstance(value, list):
            _type_error(out, path, f"list of {self.item.expected}", value)
            return
        if len(value) < self.min_items:
            out.invalid(path, value, f"must have at least {self.min_items} item(s)")
        fast = self.item.fast
        if fast is not None and all(type(item) is fast for item in value):
            return
        for index, item in enumerate(value):
            if item is None:
                _type_error(out, (*path, index), self.item.expected, item)
            else:
                self.item.check(item, (*path, index), out)


class MapOf(Type):
    """A mapping from string keys to values of one type (labels, nodeSelector...)."""

    expected = "mapping"

    def __init__(self, value: Type, *, rules: Sequence[Rule] = ()) -> None:
        self.value = value
        self.rules = tuple(rules)

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if not isinstance(value, Mapping):
            _type_error(out, path, f"mapping of {self.value.expected}", value)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                out.add(path, f"Invalid key {_show(key)}: keys must be strings (quote it)")
            elif item is None:
                _type_error(out, (*path, key), self.value.expected, item)
            else:
                self.value.check(item, (*path, key), out)
        for rule in self.rules:
            rule(value, path, out)


class Obj(Type):
    """A mapping with a fixed set of fields; anything else is an unknown field."""

    expected = "mapping"

    def __init__(
        self,
        fields: dict[str, Field],
        *,
        rules: Sequence[Rule] = (),
        open: bool = False,
        first_only: Sequence[str] = (),
    ) -> None:
        """Declare an object.

        Args:
            fields: field name to its declaration.
            rules: cross-field checks run after the fields (mutual exclusion and
                such); they must tolerate fields of the wrong type.
            open: allow fields that are not declared (pass-through blocks).
            first_only: alternatives of which only the first one set (in this
                order) is checked; a rule reports the others. cert-manager's webhook
                validates one issuer type, solver type or DNS-01 provider and stops
                at "may not specify more than one ..." for the rest.
        """
        self.fields = fields
        self.rules = tuple(rules)
        self.open = open
        self.first_only = tuple(first_only)
        self._names = tuple(fields)
        self._required = tuple(name for name, spec in fields.items() if spec.required)

    def check(self, value: Any, path: Path, out: Problems) -> None:
        if not isinstance(value, Mapping):
            _type_error(out, path, "mapping", value)
            return
        fields = self.fields
        skipped: tuple[str, ...] = ()
        if self.first_only:
            chosen = [name for name in self.first_only if value.get(name) is not None]
            skipped = tuple(chosen[1:])
        for key, item in value.items():
            spec = fields.get(key) if isinstance(key, str) else None
            if spec is None:
                if not self.open:
                    self._unknown(key, path, out)
            elif item is None or type(item) is spec.type.fast or key in skipped:
                continue
            elif item == "" and spec.required:
                # Reported once below as "Required value", as cert-manager's
                # `if len(x) == 0 { Required } else { validate }` does.
                continue
            else:
                spec.type.check(item, (*path, key), out)
        for name in self._required:
            if value.get(name) in (None, ""):
                out.required((*path, name), fields[name].required_detail)
        for rule in self.rules:
            rule(value, path, out)

    def _unknown(self, key: Any, path: Path, out: Problems) -> None:
        if not isinstance(key, str):
            out.add(path, f"Invalid key {_show(key)}: field names must be strings")
            return
        message = f'unknown field "{key}"'
        close = suggest(key, self._names)
        if close:
            message += f" (did you mean '{close}'?)"
        out.add((*path, key), message)


def apply_defaults(schema: Type, value: Any) -> Any:
    """Return a copy of a valid value with every declared default filled in.

    Args:
        schema: the schema the value was checked against.
        value: the value, already free of problems.

    Returns:
        New dicts and lists wherever the schema is an ``Obj``, ``ListOf`` or
        ``MapOf``; other values are returned as they are.
    """
    if isinstance(schema, Obj) and isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            spec = schema.fields.get(key)
            if item is None:
                continue
            result[key] = apply_defaults(spec.type, item) if spec is not None else item
        for name, spec in schema.fields.items():
            if spec.default is not None and result.get(name) in (None, ""):
                result[name] = spec.default
            elif spec.normalize is not None and result.get(name) is not None:
                result[name] = spec.normalize(result[name])
        return result
    if isinstance(schema, ListOf) and isinstance(value, list):
        return [apply_defaults(schema.item, item) for item in value]
    if isinstance(schema, MapOf) and isinstance(value, Mapping):
        return {key: apply_defaults(schema.value, item) for key, item in value.items()}
    return value
