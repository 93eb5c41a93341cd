"""certctl.pki.renewal: cert-manager's renewal time (§1.5) and renewal windows."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from certctl.api.models import RenewalSpec, RenewalWindow
from certctl.pki.renewal import compute_renewal_time, desired_renewal_time, parse_cron

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)  # a Sunday
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
D = dt.timedelta(days=1)


def windows(*items: tuple[str, dt.timedelta] | tuple[str, dt.timedelta, str]) -> RenewalSpec:
    return RenewalSpec("RenewBefore", tuple(RenewalWindow(*item) for item in items))


@pytest.mark.parametrize(
    ("lifetime", "renew_before", "percentage", "renew_after"),
    [
        pytest.param(
            90 * D, None, None, 60 * D, id="90d cert with nothing set renews 30 days before expiry"
        ),
        pytest.param(
            60 * M, 10 * M, None, 50 * M, id="60m cert with renewBefore 10m renews at minute 50"
        ),
        pytest.param(
            60 * M,
            None,
            25,
            45 * M,
            id="60m cert with renewBeforePercentage 25 renews at minute 45",
        ),
        pytest.param(
            24 * H,
            30 * H,
            None,
            16 * H,
            id="renewBefore longer than the lifetime falls back to two thirds",
        ),
        pytest.param(
            24 * H,
            24 * H,
            None,
            16 * H,
            id="renewBefore equal to the lifetime falls back to two thirds",
        ),
        pytest.param(24 * H, dt.timedelta(0), None, 16 * H, id="renewBefore of zero is ignored"),
        pytest.param(
            24 * H, 30 * H, 50, 12 * H, id="an unusable renewBefore falls through to the percentage"
        ),
        pytest.param(24 * H, None, 0, 16 * H, id="percentage 0 is out of range and ignored"),
        pytest.param(24 * H, None, 100, 16 * H, id="percentage 100 is out of range and ignored"),
        pytest.param(24 * H, None, 150, 16 * H, id="percentage 150 is out of range and ignored"),
        pytest.param(24 * H, None, -5, 16 * H, id="a negative percentage is ignored"),
        pytest.param(
            60 * M,
            None,
            1,
            60 * M - dt.timedelta(seconds=36),
            id="percentage 1 of an hour is 36 seconds",
        ),
        pytest.param(
            dt.timedelta(seconds=100),
            None,
            None,
            dt.timedelta(seconds=66),
            id="the renewal time is truncated to whole seconds",
        ),
    ],
)
def test_renewal_time(
    lifetime: dt.timedelta,
    renew_before: dt.timedelta | None,
    percentage: int | None,
    renew_after: dt.timedelta,
) -> None:
    decision = compute_renewal_time(
        T0,
        T0 + lifetime,
        renew_before=renew_before,
        renew_before_percentage=percentage,
        renewal=None,
    )
    assert decision.renewal_time == T0 + renew_after
    assert decision.window_error == ""


def test_truncation_rounds_down_fractional_validity() -> None:
    not_before = T0 + dt.timedelta(microseconds=600_000)
    # Lifetime 2.4s, so renew 0.8s before notAfter (T0+3s): T0+2.2s, truncated to T0+2s.
    not_after = T0 + dt.timedelta(seconds=3)
    renew_at = desired_renewal_time(
        not_before, not_after, renew_before=None, renew_before_percentage=None
    )
    assert renew_at == T0 + dt.timedelta(seconds=2)
    assert renew_at.microsecond == 0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        desired_renewal_time(
            T0.replace(tzinfo=None), T0 + D, renew_before=None, renew_before_percentage=None
        )


def test_disabled_policy_has_no_renewal_time() -> None:
    decision = compute_renewal_time(
        T0,
        T0 + 90 * D,
        renew_before=None,
        renew_before_percentage=None,
        renewal=RenewalSpec("Disabled"),
    )
    assert decision.renewal_time is None
    assert decision.window_error == ""


DESIRED = T0 + 60 * D  # 2026-04-30 12:00 UTC, a Thursday


@pytest.mark.parametrize(
    ("renewal", "expected"),
    [
        pytest.param(
            RenewalSpec("RenewBefore"),
            DESIRED,
            id="RenewBefore without windows keeps the desired time",
        ),
        pytest.param(
            windows(("0 0 * * *", 24 * H)), DESIRED, id="a window open at the desired time keeps it"
        ),
        pytest.param(
            windows(("0 12 30 4 *", H)),
            DESIRED,
            id="a window opening exactly at the desired time keeps it",
        ),
        pytest.param(
            windows(("0 11 30 4 *", H)),
            DESIRED,
            id="a window closing exactly at the desired time still counts",
        ),
        pytest.param(
            windows(("0 2 * * 6", 4 * H)),
            dt.datetime(2026, 5, 2, 2, 0, tzinfo=dt.UTC),
            id="outside a window renewal moves to the next window start",
        ),
        pytest.param(
            windows(("0 2 * * *", H, "America/New_York")),
            dt.datetime(2026, 5, 1, 6, 0, tzinfo=dt.UTC),
            id="windows are evaluated in their time zone",
        ),
        pytest.param(
            windows(("0 2 * * 6", 4 * H), ("30 20 * * *", H)),
            dt.datetime(2026, 4, 30, 20, 30, tzinfo=dt.UTC),
            id="the earliest next window of several wins",
        ),
        pytest.param(
            windows(("0 0 13 * fri", H)),
            dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.UTC),
            id="day of month and day of week both restricted match either",
        ),
        pytest.param(
            windows(("0 0 * jan-dec mon-fri", 6 * H)),
            dt.datetime(2026, 5, 1, 0, 0, tzinfo=dt.UTC),
            id="month and day names are understood",
        ),
    ],
)
def test_renewal_windows(renewal: RenewalSpec, expected: dt.datetime) -> None:
    decision = compute_renewal_time(
        T0, T0 + 90 * D, renew_before=None, renew_before_percentage=None, renewal=renewal
    )
    assert decision.window_error == ""
    assert decision.renewal_time == expected


@pytest.mark.parametrize(
    ("renewal", "message"),
    [
        pytest.param(
            windows(("0 0 30 2 *", H)),
            "cannot find a time",
            id="a window that never opens is a window error",
        ),
        pytest.param(
            windows(("0 0 1 1 *", H)),
            "cannot find a time",
            id="a window that opens only after expiry is a window error",
        ),
        pytest.param(
            windows(("0 0 * *", H)), "needs 5 fields", id="a malformed cron is a window error"
        ),
        pytest.param(
            windows(("0 0 * * *", H, "Mars/Olympus")),
            "unknown time zone",
            id="an unknown time zone is a window error",
        ),
    ],
)
def test_renewal_window_errors_keep_the_desired_time(renewal: RenewalSpec, message: str) -> None:
    decision = compute_renewal_time(
        T0, T0 + 90 * D, renew_before=None, renew_before_percentage=None, renewal=renewal
    )
    assert decision.renewal_time == DESIRED
    assert message in decision.window_error


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        pytest.param(
            "*/15 * * * *",
            "2026-03-01 12:07",
            "2026-03-01 12:15",
            id="a minute step fires every quarter hour",
        ),
        pytest.param(
            "0 * * * *",
            "2026-03-01 12:00",
            "2026-03-01 13:00",
            id="the next firing is strictly after",
        ),
        pytest.param(
            "5/20 * * * *", "2026-03-01 12:30", "2026-03-01 12:45", id="N/step starts at N"
        ),
        pytest.param(
            "0 9-17/4 * * *", "2026-03-01 13:30", "2026-03-01 17:00", id="a range with a step"
        ),
        pytest.param("0 0 1,15 * *", "2026-03-02 00:00", "2026-03-15 00:00", id="a list of days"),
        pytest.param(
            "0 0 * * 0", "2026-03-01 12:00", "2026-03-08 00:00", id="day of week 0 is Sunday"
        ),
        pytest.param(
            "0 0 29 2 *",
            "2026-03-01 00:00",
            "2028-02-29 00:00",
            id="a leap day is found years ahead",
        ),
        pytest.param("@daily", "2026-03-01 12:00", "2026-03-02 00:00", id="the daily descriptor"),
        pytest.param("@weekly", "2026-03-01 12:00", "2026-03-08 00:00", id="the weekly descriptor"),
        pytest.param(
            "0 0 */2 * 5",
            "2026-03-01 12:00",
            "2026-03-03 00:00",
            id="a stepped day of month is not a wildcard",
        ),
        pytest.param(
            "0 0 * * 1",
            "2026-03-01 12:00",
            "2026-03-02 00:00",
            id="a wildcard day of month defers to day of week",
        ),
        pytest.param(
            "? ? ? ? ?", "2026-03-01 12:00", "2026-03-01 12:01", id="question marks are wildcards"
        ),
    ],
)
def test_cron_next_after(expression: str, after: str, expected: str) -> None:
    schedule = parse_cron(expression)
    found = schedule.next_after(dt.datetime.fromisoformat(after))
    assert found == dt.datetime.fromisoformat(expected)


def test_cron_skips_times_that_do_not_exist_in_the_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Berlin")
    schedule = parse_cron("30 2 * * *")
    # 2026-03-29 02:30 does not exist in Berlin (clocks jump from 02:00 to 03:00).
    found = schedule.next_after_instant(dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC), zone)
    assert found == dt.datetime(2026, 3, 30, 0, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("", id="an empty expression"),
        pytest.param("* * * *", id="four fields"),
        pytest.param("* * * * * *", id="six fields"),
        pytest.param("60 * * * *", id="minute 60"),
        pytest.param("* 24 * * *", id="hour 24"),
        pytest.param("* * 0 * *", id="day 0"),
        pytest.param("* * * 13 *", id="month 13"),
        pytest.param("* * * * 7", id="day of week 7 (robfig/cron allows 0-6)"),
        pytest.param("5-1 * * * *", id="a backwards range"),
        pytest.param("*/0 * * * *", id="a zero step"),
        pytest.param("1-2-3 * * * *", id="two hyphens"),
        pytest.param("a * * * *", id="a word in the minute field"),
        pytest.param("1,,2 * * * *", id="an empty list item"),
        pytest.param("@every 1h", id="@every is not a calendar schedule"),
        pytest.param("@sometimes", id="an unknown descriptor"),
    ],
)
def test_parse_cron_rejects(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_cron(expression)


def test_windows_are_fast_enough_for_many_certificates() -> None:
    renewal = windows(("0 3 * * 1-5", H, "Europe/Berlin"), ("*/10 22-23 * * 6", 5 * M))
    started = time.perf_counter()
    for offset in range(1000):
        not_before = T0 + dt.timedelta(minutes=7 * offset)
        decision = compute_renewal_time(
            not_before,
            not_before + 90 * D,
            renew_before=None,
            renew_before_percentage=None,
            renewal=renewal,
        )
        assert decision.renewal_time is not None and not decision.window_error
    assert time.perf_counter() - started < 5
