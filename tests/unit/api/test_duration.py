"""Go duration parsing and formatting (time.ParseDuration / Duration.String)."""

from __future__ import annotations

import datetime as dt

import pytest

from certctl.api.duration import DurationError, format_go_duration, parse_go_duration

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)

PARSE_CASES = [
    pytest.param("2160h", 2160 * H, id="ninety days written as hours"),
    pytest.param("1h30m", H + 30 * M, id="hours and minutes combine"),
    pytest.param("1.5h", H + 30 * M, id="a fractional hour is ninety minutes"),
    pytest.param("90m", 90 * M, id="minutes may exceed sixty"),
    pytest.param("0", dt.timedelta(0), id="a bare zero needs no unit"),
    pytest.param("0s", dt.timedelta(0), id="zero seconds"),
    pytest.param("300ms", dt.timedelta(milliseconds=300), id="milliseconds"),
    pytest.param("1500us", dt.timedelta(microseconds=1500), id="microseconds written us"),
    pytest.param("15µs", dt.timedelta(microseconds=15), id="microseconds written with micro sign"),
    pytest.param("15μs", dt.timedelta(microseconds=15), id="microseconds written with greek mu"),
    pytest.param("2000ns", dt.timedelta(microseconds=2), id="nanoseconds truncate to microseconds"),
    pytest.param("-1h", -H, id="a leading minus is negative"),
    pytest.param("+5m", 5 * M, id="a leading plus is allowed"),
    pytest.param(".5h", 30 * M, id="a fraction without a whole part"),
    pytest.param("1.h", H, id="a dot without fraction digits"),
    pytest.param("1h0m0s", H, id="go's own canonical form parses back"),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_go_duration(text: str, expected: dt.timedelta) -> None:
    assert parse_go_duration(text) == expected


ERROR_CASES = [
    pytest.param(
        "90d",
        'unknown unit "d" in duration "90d" (Go durations have no days; write 2160h for 90 days)',
        id="duration written in days is rejected with the hours to write",
    ),
    pytest.param("2w", "write 336h for 2 weeks", id="duration written in weeks is rejected"),
    pytest.param("1.5d", "Go durations have no days", id="fractional days are rejected"),
    pytest.param("10y", 'unknown unit "y"', id="years are an unknown unit"),
    pytest.param("1", 'missing unit in duration "1"', id="a number without unit is rejected"),
    pytest.param("1h30", "missing unit", id="a trailing number without unit is rejected"),
    pytest.param("", 'invalid duration ""', id="the empty string is rejected"),
    pytest.param("h", 'invalid duration "h"', id="a unit without number is rejected"),
    pytest.param("-", 'invalid duration "-"', id="a lone sign is rejected"),
    pytest.param(".h", "invalid duration", id="a lone dot is rejected"),
    pytest.param("1 h", 'unknown unit " h"', id="spaces are not allowed"),
    pytest.param(
        "3000000h", "invalid duration", id="more than go's int64 of nanoseconds overflows"
    ),
]


@pytest.mark.parametrize(("text", "message"), ERROR_CASES)
def test_parse_go_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(DurationError, match=None) as caught:
        parse_go_duration(text)
    assert message in str(caught.value)


FORMAT_CASES = [
    pytest.param(2160 * H, "2160h0m0s", id="the default certificate duration"),
    pytest.param(dt.timedelta(0), "0s", id="zero"),
    pytest.param(90 * S, "1m30s", id="no hours means no hour part"),
    pytest.param(3 * S, "3s", id="seconds only"),
    pytest.param(dt.timedelta(seconds=1.5), "1.5s", id="fractional seconds"),
    pytest.param(dt.timedelta(milliseconds=1.5), "1.5ms", id="below a second uses milliseconds"),
    pytest.param(dt.timedelta(microseconds=7), "7µs", id="below a millisecond uses microseconds"),
    pytest.param(-H, "-1h0m0s", id="negative durations keep their sign"),
    pytest.param(72 * H + 3 * M + dt.timedelta(seconds=0.5), "72h3m0.5s", id="go's own example"),
]


@pytest.mark.parametrize(("value", "expected"), FORMAT_CASES)
def test_format_go_duration(value: dt.timedelta, expected: str) -> None:
    assert format_go_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(2160 * H, id="whole hours"),
        pytest.param(dt.timedelta(seconds=12345.678901), id="microsecond precision"),
        pytest.param(-5 * M, id="negative"),
    ],
)
def test_format_then_parse_round_trips(value: dt.timedelta) -> None:
    assert parse_go_duration(format_go_duration(value)) == value
