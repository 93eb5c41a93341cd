"""When a certificate should be renewed (pure: no clock reads).

Mirrors cert-manager's ``pkg/util/pki/renewaltime.go`` (reference §1.5): the
desired time from ``renewBefore``/``renewBeforePercentage`` (default: two
thirds through the certificate's actual lifetime), truncated to whole seconds,
then moved into a ``spec.renewal.windows`` window when windows are configured.

Windows use 5-field cron expressions with the semantics of
``github.com/robfig/cron/v3``'s ``ParseStandard`` (which cert-manager uses),
evaluated in the window's IANA time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from certctl.api.models import RenewalSpec, RenewalWindow

__all__ = [
    "CronSchedule",
    "RenewalDecision",
    "compute_renewal_time",
    "desired_renewal_time",
    "parse_cron",
]

_UTC: Final = dt.UTC
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NS_PER_SECOND: Final = 1_000_000_000
_ONE_SECOND: Final = dt.timedelta(seconds=1)
_ONE_MINUTE: Final = dt.timedelta(minutes=1)
# A schedule such as "0 0 30 2 *" never fires; stop looking after this many years
# (robfig/cron gives up after five years too).
_SEARCH_YEARS: Final = 5

_MONTH_NAMES: Final = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DAY_NAMES: Final = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_DESCRIPTORS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class RenewalDecision:
    """The outcome of :func:`compute_renewal_time`.

    Attributes:
        renewal_time: when to renew (aware UTC, whole seconds), or None when
            ``renewal.policy`` is ``Disabled``.
        window_error: why no renewal window could be used; the renewal then
            still happens at the desired time (cert-manager's ``WindowError``).
    """

    renewal_time: dt.datetime | None
    window_error: str = ""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed 5-field cron expression.

    Attributes:
        minutes: allowed minutes (0-59).
        hours: allowed hours (0-23).
        days: allowed days of the month (1-31).
        months: allowed months (1-12).
        weekdays: allowed days of the week (0 = Sunday .. 6).
        days_star: the day-of-month field was ``*``/``?`` (without a step > 1).
        weekdays_star: the day-of-week field was ``*``/``?`` (without a step > 1).
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool

    def day_matches(self, day: dt.date) -> bool:
        """Whether ``day`` matches the day-of-month and day-of-week fields.

        As in Vixie cron and robfig/cron: when both fields are restricted a day
        matching either one fires; when either is ``*`` both must match.
        """
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_star or self.weekdays_star:
            return in_month and in_week
        return in_month or in_week

    def matches(self, moment: dt.datetime) -> bool:
        """Whether the wall-clock minute of ``moment`` is a firing time."""
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and self.day_matches(moment.date())
        )

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first firing minute strictly after naive wall-clock ``moment``.

        Steps field by field (month, day, hour, minute) rather than minute by
        minute, so finding a monthly match costs a handful of iterations.

        Returns:
            The naive wall-clock time, or None if nothing fires within five years.
        """
        t = moment.replace(second=0, microsecond=0, tzinfo=None) + _ONE_MINUTE
        limit_year = t.year + _SEARCH_YEARS
        minutes = sorted(self.minutes)
        hours = sorted(self.hours)
        while t.year <= limit_year:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = dt.datetime(year, month, 1)
                continue
            if not self.day_matches(t.date()):
                t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                later_hour = next((h for h in hours if h > t.hour), None)
                if later_hour is None:
                    t = dt.datetime(t.year, t.month, t.day) + dt.timedelta(days=1)
                else:
                    t = t.replace(hour=later_hour, minute=0)
                continue
            if t.minute not in self.minutes:
                later_minute = next((m for m in minutes if m > t.minute), None)
                if later_minute is None:
                    t = t.replace(minute=0) + dt.timedelta(hours=1)
                else:
                    t = t.replace(minute=later_minute)
                continue
            return t
        return None

    def next_after_instant(self, instant: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """The first firing time strictly after aware ``instant``, evaluated in ``zone``.

        Wall-clock times that do not exist (skipped by a daylight-saving jump)
        never fire; an ambiguous time fires at its first occurrence.

        Returns:
            The aware UTC time, or None if nothing fires within five years.
        """
        instant_utc = instant.astimezone(_UTC)
        candidate = self.next_after(instant_utc.astimezone(zone).replace(tzinfo=None))
        while candidate is not None:
            aware = candidate.replace(tzinfo=zone)
            as_utc = aware.astimezone(_UTC)
            exists = as_utc.astimezone(zone).replace(tzinfo=None) == candidate
            if exists and as_utc > instant_utc:
                return as_utc
            candidate = self.next_after(candidate)
        return None


def parse_cron(expression: str) -> CronSchedule:
    """Parse a standard 5-field cron expression (minute hour day-of-month month day-of-week).

    Accepts ``*`` and ``?``, lists (``1,15``), ranges (``1-5``), steps
    (``*/15``, ``0-30/10``, ``5/10`` meaning ``5-59/10``), month and day names
    (``jan``, ``mon-fri``, case-insensitive) and the descriptors ``@yearly``,
    ``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and
    ``@hourly``, like robfig/cron's ``ParseStandard``. Day of week is 0-6
    (Sunday is 0; 7 is rejected, as robfig/cron does).

    Raises:
        ValueError: the expression is not valid, with a sentence saying why.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text.lower().startswith("@every"):
            raise ValueError("'@every' schedules are not supported in renewal windows")
        if text.lower() not in _DESCRIPTORS:
            raise ValueError(f"unrecognised cron descriptor {text!r}")
        text = _DESCRIPTORS[text.lower()]
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression needs 5 fields (minute hour day month weekday), "
            f"{expression!r} has {len(fields)}"
        )
    minutes, _ = _parse_field(fields[0], 0, 59, {}, "minute")
    hours, _ = _parse_field(fields[1], 0, 23, {}, "hour")
    days, days_star = _parse_field(fields[2], 1, 31, {}, "day of month")
    months, _ = _parse_field(fields[3], 1, 12, _MONTH_NAMES, "month")
    weekdays, weekdays_star = _parse_field(fields[4], 0, 6, _DAY_NAMES, "day of week")
    return CronSchedule(minutes, hours, days, months, weekdays, days_star, weekdays_star)


def desired_renewal_time(
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    renew_before: dt.timedelta | None,
    renew_before_percentage: int | None,
) -> dt.datetime:
    """Steps 1-3 of §1.5: the renewal time before windows, truncated to whole seconds.

    ``renewBefore`` counts when it is positive and shorter than the actual
    lifetime; otherwise a percentage in (0, 100) counts; otherwise renewal is
    two thirds through the lifetime. Arithmetic is done in integer nanoseconds
    like Go's ``time.Duration`` so results match cert-manager to the second.
    """
    _require_aware(not_before, "not_before")
    _require_aware(not_after, "not_after")
    lifetime = _nanoseconds(not_after - not_before)
    if renew_before is not None and 0 < _nanoseconds(renew_before) < lifetime:
        before = _nanoseconds(renew_before)
    elif renew_before_percentage is not None and 0 < renew_before_percentage < 100:
        before = _go_divide(lifetime * renew_before_percentage, 100)
    else:
        before = _go_divide(lifetime, 3)
    renew_at = _nanoseconds(not_after - _EPOCH) - before
    # Go's Time.Truncate(time.Second) rounds down.
    return _EPOCH + dt.timedelta(seconds=renew_at // _NS_PER_SECOND)


def compute_renewal_time(
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    renew_before: dt.timedelta | None,
    renew_before_percentage: int | None,
    renewal: RenewalSpec | None,
) -> RenewalDecision:
    """When to renew a certificate with this validity (§1.5 steps 1-5).

    Args:
        not_before: the issued certificate's notBefore (aware).
        not_after: the issued certificate's notAfter (aware).
        renew_before: ``spec.renewBefore``.
        renew_before_percentage: ``spec.renewBeforePercentage``.
        renewal: ``spec.renewal``.

    Returns:
        The decision. With ``policy: Disabled`` there is no renewal time. With
        windows, the desired time if a window is open then, else the start of
        the next window; if no window fits, the desired time and a
        ``window_error``.
    """
    desired = desired_renewal_time(
        not_before,
        not_after,
        renew_before=renew_before,
        renew_before_percentage=renew_before_percentage,
    )
    if renewal is None:
        return RenewalDecision(desired)
    if renewal.policy == "Disabled":
        return RenewalDecision(None)
    if renewal.policy != "RenewBefore":
        return RenewalDecision(desired, f"unsupported renewal policy: {renewal.policy}")
    if not renewal.windows:
        return RenewalDecision(desired)

    best_before: dt.datetime | None = None
    best_after: dt.datetime | None = None
    for window in renewal.windows:
        try:
            schedule, zone = _window_schedule(window)
        except ValueError as exc:
            return RenewalDecision(desired, str(exc))
        span = window.window_duration
        search_min = not_before - span
        search_max = not_after + span
        best_before = _better_before(
            schedule, zone, search_min, search_max, desired, span, best_before
        )
        best_after = _better_after(
            schedule, zone, search_min, search_max, desired, span, best_after
        )

    # A window already open at the desired time wins; otherwise the next one to open.
    if best_before is not None:
        return RenewalDecision(best_before)
    if best_after is not None:
        return RenewalDecision(best_after)
    return RenewalDecision(
        desired,
        "cannot find a time with the given windows for "
        f"{desired.isoformat()}: no window is open then and none opens before "
        "the certificate expires (plus one window duration)",
    )


def _window_schedule(window: RenewalWindow) -> tuple[CronSchedule, dt.tzinfo]:
    try:
        zone: dt.tzinfo = ZoneInfo(window.timezone) if window.timezone else _UTC
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {window.timezone!r} in a renewal window") from exc
    try:
        schedule = parse_cron(window.cron)
    except ValueError as exc:
        raise ValueError(f"invalid cron {window.cron!r} in a renewal window: {exc}") from exc
    return schedule, zone


def _better_before(
    schedule: CronSchedule,
    zone: dt.tzinfo,
    search_min: dt.datetime,
    search_max: dt.datetime,
    desired: dt.datetime,
    span: dt.timedelta,
    best: dt.datetime | None,
) -> dt.datetime | None:
    """The desired time if the latest window opened at or before it is still open."""
    if desired < search_min:
        return best
    last_start = _latest_start(schedule, zone, search_min, min(desired, search_max))
    if last_start is None:
        return best
    end = last_start + span
    candidate = desired if last_start <= desired < end else end
    # cert-manager only accepts a candidate that is not before the desired time,
    # which leaves the desired time itself (or a window ending exactly then).
    if candidate >= desired and (best is None or candidate > best):
        return candidate
    return best


def _better_after(
    schedule: CronSchedule,
    zone: dt.tzinfo,
    search_min: dt.datetime,
    search_max: dt.datetime,
    desired: dt.datetime,
    span: dt.timedelta,
    best: dt.datetime | None,
) -> dt.datetime | None:
    """The start of the first window opening at or after the desired time."""
    after_min = max(desired, search_min)
    start = schedule.next_after_instant(after_min - _ONE_SECOND, zone)
    if start is None or start > search_max:
        return best
    if start <= desired < start + span:
        candidate: dt.datetime | None = desired
    elif desired < start:
        candidate = start
    else:
        candidate = None
    if candidate is not None and candidate >= desired and (best is None or candidate < best):
        return candidate
    return best


def _latest_start(
    schedule: CronSchedule, zone: dt.tzinfo, low: dt.datetime, high: dt.datetime
) -> dt.datetime | None:
    """The latest firing time in ``[low, high]``, found by bisection on whole seconds.

    Only "next firing after" is cheap to compute, so bisect for the last point
    whose next firing is still within the range (cert-manager does the same).
    """
    if not low < high:
        return None

    def next_start(after: dt.datetime) -> dt.datetime | None:
        return schedule.next_after_instant(after, zone)

    first = next_start(low - _ONE_SECOND)
    if first is None or first > high:
        return None
    lower, upper = low, high
    while upper - lower > _ONE_SECOND:
        middle = lower + (upper - lower) / 2
        following = next_start(middle)
        if following is None or following > high:
            upper = middle
        else:
            lower = middle
    last = next_start(lower - _ONE_SECOND)
    if last is None or last > high:
        return None
    return last


def _parse_field(
    text: str, low: int, high: int, names: dict[str, int], label: str
) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in text.split(","):
        if not part:
            raise ValueError(f"empty list item in the {label} field {text!r}")
        range_text, _, step_text = part.partition("/")
        bounds = range_text.split("-")
        if range_text in ("*", "?"):
            start, end = low, high
            part_star = True
        elif len(bounds) == 1:
            start = end = _parse_value(bounds[0], names, label)
            part_star = False
            if step_text:
                end = high  # "N/step" means "N-max/step"
        elif len(bounds) == 2:
            start = _parse_value(bounds[0], names, label)
            end = _parse_value(bounds[1], names, label)
            part_star = False
        else:
            raise ValueError(f"too many hyphens in the {label} field {part!r}")
        step = 1
        if step_text or part.endswith("/"):
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(
                    f"the step in the {label} field {part!r} must be a positive number"
                )
            step = int(step_text)
            if step > 1:
                part_star = False  # robfig/cron: "*/2" is not a wildcard for the day rule
        if start < low or end > high:
            raise ValueError(f"the {label} field {part!r} is outside {low}-{high}")
        if start > end:
            raise ValueError(f"the {label} range {part!r} starts after it ends")
        values.update(range(start, end + 1, step))
        star = star or part_star
    return frozenset(values), star


def _parse_value(text: str, names: dict[str, int], label: str) -> int:
    named = names.get(text.lower())
    if named is not None:
        return named
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a valid {label}")
    return int(text)


def _nanoseconds(delta: dt.timedelta) -> int:
    return ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


def _go_divide(numerator: int, denominator: int) -> int:
    """Integer division truncating toward zero, like Go's ``/`` on ``time.Duration``."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def _require_aware(value: dt.datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
