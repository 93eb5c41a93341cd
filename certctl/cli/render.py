"""Rendering for stdout: kubectl-style tables, JSON and YAML. No library logic here."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import typer

if TYPE_CHECKING:
    from certctl.state.database import Event

OUTPUT_FORMATS = ("table", "wide", "json", "yaml")


def check_output_format(value: str, allowed: Sequence[str] = OUTPUT_FORMATS) -> str:
    from certctl.errors import UsageError

    if value not in allowed:
        raise UsageError(
            f"-o {value!r} is not an output format here",
            hint=f"Use one of: {', '.join(allowed)}",
        )
    return value


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO | None = None
) -> None:
    """Columns as kubectl prints them: upper-case headers, three spaces apart, no borders."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    out = stream or sys.stdout
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
        out.write("   ".join(cells).rstrip() + "\n")


def print_listing(
    headers: list[str],
    rows: list[list[str]],
    objects: Sequence[Any],
    all_namespaces: bool,
    namespace_of: Callable[[Any], str],
    namespace: str,
) -> None:
    """A ``get`` table: a NAMESPACE column with ``-A``, kubectl's sentence when it is empty."""
    if not rows:
        where = "any namespace" if all_namespaces else f"{namespace} namespace"
        typer.echo(f"No resources found in {where}.", err=True)
        return
    if all_namespaces:
        headers = ["NAMESPACE", *headers]
        rows = [[namespace_of(item), *row] for item, row in zip(objects, rows, strict=True)]
    print_table(headers, rows)


def list_document(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``kind: List`` object ``get -o json|yaml`` prints, as kubectl does."""
    return {"apiVersion": "v1", "kind": "List", "items": items}


def print_data(data: Any, output: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    if output == "json":
        out.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    else:
        import yaml

        out.write(
            yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
        )


def format_count(count: int, singular: str, plural: str | None = None) -> str:
    """A number and its noun in agreement: ``1 certificate``, ``2 certificates``.

    The plural is English's regular one unless given: ``Ingress`` -> ``Ingresses``,
    ``NetworkPolicy`` -> ``NetworkPolicies``; a kind already plural (``Endpoints``) stays.
    """
    if count == 1:
        return f"{count} {singular}"
    return f"{count} {plural or _plural(singular)}"


def _plural(noun: str) -> str:
    if noun.endswith(("ss", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("s"):
        return noun
    if noun.endswith("y") and noun[-2:-1].lower() not in ("a", "e", "i", "o", "u", ""):
        return noun[:-1] + "ies"
    return noun + "s"


def format_age(delta: dt.timedelta) -> str:
    """kubectl's short ages: 42s, 7m, 5h, 12d, 2y."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "-" + format_age(-delta)
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 730:
        return f"{days}d"
    return f"{days // 365}y"


def format_time(moment: dt.datetime | None) -> str:
    if moment is None:
        return "<none>"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_key(name: str) -> str:
    """kubectl describe's field titles: ``dnsNames`` -> ``Dns Names``."""
    words: list[str] = []
    current = ""
    for char in name:
        if char.isupper() and current and not current[-1].isupper():
            words.append(current)
            current = char
        else:
            current += char
    words.append(current)
    return " ".join(word[:1].upper() + word[1:] for word in words if word)


def describe_lines(data: Any, indent: int = 0) -> list[str]:
    """Render nested data the way ``kubectl describe`` does."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            title = describe_key(str(key))
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{title}:")
                lines.extend(describe_lines(value, indent + 1))
            else:
                lines.append(f"{pad}{title}:  {_scalar(value)}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict | list):
                lines.extend(describe_lines(item, indent))
            else:
                lines.append(f"{pad}{_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(data)}")
    return lines


def _scalar(value: Any) -> str:
    if value is None or value == {} or value == []:
        return "<none>"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def describe_mapping(title: str, values: dict[str, str]) -> list[str]:
    """``Labels:`` / ``Annotations:`` blocks: one ``key=value`` per line, aligned."""
    if not values:
        return [f"{title + ':':<14}<none>"]
    items = [f"{key}={value}" for key, value in sorted(values.items())]
    lines = [f"{title + ':':<14}{items[0]}"]
    lines.extend(f"{'':<14}{item}" for item in items[1:])
    return lines


def header_lines(
    name: str,
    namespace: str | None,
    metadata: Any,
    kind: str,
    *,
    api_version: str = "cert-manager.io/v1",
    extra: list[tuple[str, str]] | None = None,
) -> list[str]:
    """Name, Namespace, Labels, Annotations, API Version and Kind, as kubectl prints them."""
    lines = [f"{'Name:':<14}{name}"]
    if namespace:
        lines.append(f"{'Namespace:':<14}{namespace}")
    lines.extend(describe_mapping("Labels", dict(metadata.get("labels") or {})))
    lines.extend(describe_mapping("Annotations", dict(metadata.get("annotations") or {})))
    lines.append(f"{'API Version:':<14}{api_version}")
    lines.append(f"{'Kind:':<14}{kind}")
    lines.extend(f"{title:<14}{value}" for title, value in extra or [])
    return lines


def event_lines(events: list[Event], now: dt.datetime) -> list[str]:
    """The Events table of kubectl describe; messages are never cut."""
    if not events:
        return ["Events:       <none>"]
    rows = [
        ["Type", "Reason", "Age", "From", "Message"],
        ["----", "------", "----", "----", "-------"],
    ]
    for event in events:
        age = format_age(now - event.last_seen)
        if event.count > 1:
            age = f"{age} (x{event.count} over {format_age(now - event.first_seen)})"
        rows.append([event.type, event.reason, age, "certctl", event.message])
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["Events:"]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        lines.append("  " + "  ".join(cells) + "  " + row[4])
    return lines
