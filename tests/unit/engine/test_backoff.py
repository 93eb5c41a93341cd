import datetime as dt

import pytest

from certctl.engine.backoff import compute_backoff_delay, compute_next_attempt

H = dt.timedelta(hours=1)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [
        pytest.param(0, dt.timedelta(0), id="no failures means no delay"),
        pytest.param(1, 1 * H, id="the first failure waits one hour"),
        pytest.param(2, 2 * H, id="the second failure waits two hours"),
        pytest.param(3, 4 * H, id="the third failure waits four hours"),
        pytest.param(6, 32 * H, id="the sixth failure reaches the 32 hour cap"),
        pytest.param(7, 32 * H, id="later failures stay at the cap"),
        pytest.param(500, 32 * H, id="a very long streak does not overflow"),
    ],
)
def test_backoff_delay_doubles_up_to_the_cap(attempts: int, delay: dt.timedelta) -> None:
    assert compute_backoff_delay(attempts) == delay


@pytest.mark.parametrize(
    ("attempts", "last_failure", "expected"),
    [
        pytest.param(0, T0, None, id="no failures means no backoff"),
        pytest.param(2, None, None, id="no failure time means no backoff"),
        pytest.param(3, T0, T0 + 4 * H, id="the next attempt is the last failure plus the delay"),
    ],
)
def test_next_attempt(
    attempts: int, last_failure: dt.datetime | None, expected: dt.datetime | None
) -> None:
    assert compute_next_attempt(attempts, last_failure) == expected
