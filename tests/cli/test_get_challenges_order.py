"""``get challenges`` lists the newest first, so the failed one is seen at a glance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from certctl.clock import FixedClock
from tests.cli.conftest import Cli, table

NOW = dt.datetime.now(dt.UTC)


def challenge(state: str, reason: str) -> dict[str, Any]:
    return {
        "spec": {"dnsName": "web.example.test", "type": "HTTP-01", "token": "t"},
        "status": {"state": state, "reason": reason},
    }


def test_a_failed_challenge_comes_before_older_valid_ones_for_the_same_name(cli: Cli) -> None:
    clock = FixedClock(NOW - dt.timedelta(days=60))
    with cli.open_state(clock) as state:
        for name in ("web-1111-a", "web-2222-b"):
            state.save_acme_object(
                "Challenge",
                "default",
                name,
                certificate="default/web",
                state="valid",
                body=challenge("valid", "Successfully authorized domain"),
            )
            clock.advance(dt.timedelta(days=30))
        clock.advance(dt.timedelta(days=-1))
        state.save_acme_object(
            "Challenge",
            "default",
            "web-3333-c",
            certificate="default/web",
            state="invalid",
            body=challenge("invalid", "Connection refused"),
        )

    result = cli.ok("get", "challenges")

    rows = table(result.stdout)
    assert [(row["NAME"], row["STATE"]) for row in rows] == [
        ("web-3333-c", "invalid"),
        ("web-2222-b", "valid"),
        ("web-1111-a", "valid"),
    ]
