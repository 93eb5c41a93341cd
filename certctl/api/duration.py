"""Go ``time.Duration`` text, as cert-manager's ``metav1.Duration`` fields use it.

cert-manager decodes ``duration``, ``renewBefore``, ``windowDuration`` and
``waitInsteadOfSelfCheck`` with Go's ``time.ParseDuration``, so certctl accepts
exactly that grammar: an optional sign, then one or more decimal numbers each
followed by a unit (``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``). There is
no ``d``: ``90d`` is the most common mistake, so its error says what to write.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

__all__ = ["DurationError", "format_go_duration", "parse_go_duration"]

_NANOSECOND = 1
_MICROSECOND = 1000 * _NANOSECOND
_MILLISECOND = 1000 * _MICROSECOND
_SECOND = 1000 * _MILLISECOND
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE

# Go accepts both the micro sign (U+00B5) and the Greek small letter mu (U+03BC).
_UNITS: dict[str, int] = {
    "ns": _NANOSECOND,
    "us": _MICROSECOND,
    "µs": _MICROSECOND,
    "μs": _MICROSECOND,
    "ms": _MILLISECOND,
    "s": _SECOND,
    "m": _MINUTE,
    "h": _HOUR,
}

# Go's time.Duration is an int64 of nanoseconds: about 292 years.
_MAX_NANOSECONDS = 2**63 - 1

# One "number unit" element: digits with an optional fraction (Go allows "5." and ".5"),
# then the unit, which is everything up to the next digit or dot.
_ELEMENT = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")

# Hints for units people reach for that Go does not have.
_UNIT_HOURS = {"d": 24, "w": 24 * 7}
_UNIT_WORDS = {"d": "days", "w": "weeks"}


class DurationError(ValueError):
    """A string that Go's ``time.ParseDuration`` would reject; the message says why."""


def parse_go_duration(text: str) -> dt.timedelta:
    """Parse a Go duration string such as ``2160h``, ``1h30m`` or ``1.5h``.

    Args:
        text: the duration as written in the manifest.

    Returns:
        The duration, truncated to whole microseconds (``timedelta`` resolution).

    Raises:
        DurationError: the text is not a valid Go duration. The message names the
            offending unit and, for days and weeks, the hours to write instead.
    """
    nanoseconds = parse_go_duration_ns(text)
    # Truncate towards zero like integer division in Go, for both signs.
    micros = abs(nanoseconds) // _MICROSECOND
    return dt.timedelta(microseconds=-micros if nanoseconds < 0 else micros)


# Manifests repeat the same few durations ("2160h", "360h"), and a cache makes the
# schema check, the webhook rules and the model conversion share one parse.
@functools.lru_cache(maxsize=1024)
def parse_go_duration_ns(text: str) -> int:
    """Parse a Go duration string to integer nanoseconds (see ``parse_go_duration``)."""
    quoted = _go_quote(text)
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    # Go special-cases a bare zero (with or without sign) as the only unitless value.
    if rest == "0":
        return 0
    if not rest:
        raise DurationError(f"invalid duration {quoted}")
    total = 0
    position = 0
    while position < len(rest):
        match = _ELEMENT.match(rest, position)
        if match is None or match.end() == position:  # pragma: no cover - regex always matches
            raise DurationError(f"invalid duration {quoted}")
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not fraction:
            raise DurationError(f"invalid duration {quoted}")
        if not unit:
            raise DurationError(f"missing unit in duration {quoted}")
        scale = _UNITS.get(unit)
        if scale is None:
            raise DurationError(_unknown_unit_message(unit, whole, fraction, quoted))
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > _MAX_NANOSECONDS:
            raise DurationError(f"invalid duration {quoted}")
        position = match.end()
    return -total if negative else total


def format_go_duration(value: dt.timedelta) -> str:
    """Format a duration the way Go's ``Duration.String`` does (``2160h0m0s``, ``1m30s``).

    Args:
        value: the duration; microsecond resolution is all a ``timedelta`` holds.

    Returns:
        Go's canonical text, e.g. ``"0s"``, ``"1.5ms"``, ``"72h3m0.5s"``, ``"-1h0m0s"``.
    """
    nanoseconds = (value // dt.timedelta(microseconds=1)) * _MICROSECOND
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude == 0:
        return "0s"
    if magnitude < _SECOND:
        # Go picks the largest unit below a second that keeps the integer part non-zero.
        for unit, scale in (("ms", _MILLISECOND), ("µs", _MICROSECOND), ("ns", _NANOSECOND)):
            if magnitude >= scale:
                return f"{sign}{_decimal(magnitude, scale)}{unit}"
    hours, remainder = divmod(magnitude, _HOUR)
    minutes, remainder = divmod(remainder, _MINUTE)
    seconds = _decimal(remainder, _SECOND)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _decimal(amount: int, scale: int) -> str:
    """``amount / scale`` written with the fewest fraction digits, as Go does."""
    whole, fraction = divmod(amount, scale)
    if not fraction:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


def _unknown_unit_message(unit: str, whole: str, fraction: str | None, quoted: str) -> str:
    message = f"unknown unit {_go_quote(unit)} in duration {quoted}"
    hours_per_unit = _UNIT_HOURS.get(unit)
    if hours_per_unit is None:
        return message + " (valid units are ns, us, ms, s, m, h)"
    word = _UNIT_WORDS[unit]
    if whole and not fraction:
        count = int(whole)
        return (
            f"{message} (Go durations have no {word}; "
            f"write {count * hours_per_unit}h for {count} {word})"
        )
    return f"{message} (Go durations have no {word}; write hours, e.g. 2160h for 90 days)"


def _go_quote(text: str) -> str:
    # Go's %q; JSON-style escaping of quotes and backslashes is close enough here.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
