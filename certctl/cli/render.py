"""Rendering for stdout: kubectl-style tables, JSON and YAML. No library logic here."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

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


def print_data(data: Any, output: str, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    if output == "json":
        out.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    else:
        import yaml

        out.write(
            yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
        )


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
