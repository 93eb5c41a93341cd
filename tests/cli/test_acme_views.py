"""``get orders|challenges`` and ``describe order|challenge``: views of the recorded ACME history.

The state is written directly through ``StateDatabase``, as an order run records it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from certctl.clock import FixedClock
from tests.cli.conftest import Cli, describe, table

#: Records are made ten minutes before the commands run (they use the system clock).
MADE = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
PEBBLE_ERROR = (
    "Error accepting authorization: 127.0.0.1: Fetching "
    "http://keep.example.test:5002/.well-known/acme-challenge/tok1: Connection refused"
)


def challenge_body(
    domain: str,
    *,
    state: str,
    reason: str = "",
    type_: str = "HTTP-01",
    token: str = "tok1",
    presented: bool = False,
    wildcard: bool = False,
) -> dict[str, Any]:
    solver = (
        {"http01": {"webroot": {"path": "/srv/www"}}}
        if type_ == "HTTP-01"
        else {"dns01": {"rfc2136": {"nameserver": "127.0.0.1:53"}}}
    )
    return {
        "spec": {
            "authorizationURL": "https://pebble.test/authZ/1",
            "dnsName": domain,
            "issuerRef": "ClusterIssuer/pebble",
            "key": f"{token}.thumbprint",
            "order": "keep-1234",
            "solver": solver,
            "token": token,
            "type": type_,
            "url": "https://pebble.test/chalZ/1",
            "wildcard": wildcard,
        },
        "status": {
            "presented": presented,
            "presentedAt": None,
            "processing": False,
            "reason": reason,
            "state": state,
        },
    }


ORDER_BODY: dict[str, Any] = {
    "spec": {
        "dnsNames": ["keep.example.test"],
        "ipAddresses": [],
        "issuerRef": "ClusterIssuer/pebble",
    },
    "status": {
        "authorizations": [
            {
                "challenges": [
                    {"token": "tok1", "type": "http-01", "url": "https://pebble.test/chalZ/1"}
                ],
                "identifier": "keep.example.test",
                "initialState": "pending",
                "url": "https://pebble.test/authZ/1",
                "wildcard": False,
            }
        ],
        "failureTime": "2030-01-01T00:00:00Z",
        "finalizeURL": "https://pebble.test/finalize/1",
        "reason": "1 of 1 authorizations failed",
        "state": "invalid",
        "url": "https://pebble.test/order/1",
    },
}


@pytest.fixture
def history(cli: Cli) -> Cli:
    """One failed Order with its Challenge in default, a valid DNS-01 Challenge in team-a."""
    with cli.open_state(FixedClock(MADE)) as state:
        state.save_acme_object(
            "Order",
            "default",
            "keep-1234",
            certificate="default/keep",
            state="invalid",
            body=ORDER_BODY,
        )
        state.record_event("Order", "default/keep-1234", "Normal", "Created", "Created Order")
        state.record_event("Order", "default/keep-1234", "Warning", "Failed", "1 of 1 failed")
        state.save_acme_object(
            "Challenge",
            "default",
            "keep-1234-abc",
            certificate="default/keep",
            state="invalid",
            body=challenge_body("keep.example.test", state="invalid", reason=PEBBLE_ERROR),
        )
        key = "default/keep-1234-abc"
        state.record_event(
            "Challenge", key, "Normal", "Started", "Challenge scheduled for processing"
        )
        state.record_event(
            "Challenge",
            key,
            "Normal",
            "Presented",
            "Presented challenge using HTTP-01 challenge mechanism",
        )
        state.record_event("Challenge", key, "Warning", "Failed", PEBBLE_ERROR)
        state.save_acme_object(
            "Challenge",
            "team-a",
            "wild-99-def",
            certificate="team-a/wild",
            state="valid",
            body=challenge_body(
                "team-a.example.test",
                state="valid",
                reason="Successfully authorized domain",
                type_="DNS-01",
                wildcard=True,
            ),
        )
    return cli


# -- get challenges ----------------------------------------------------------------------------


def test_get_challenges_lists_the_namespace_with_state_domain_type_and_a_cut_reason(
    history: Cli,
) -> None:
    result = history.run("get", "challenges")

    assert result.exit_code == 0, describe(result)
    assert result.stdout.splitlines()[0].split() == [
        "NAME",
        "STATE",
        "DOMAIN",
        "TYPE",
        "REASON",
        "AGE",
    ]
    rows = table(result.stdout)
    assert len(rows) == 1
    row = rows[0]
    assert row["NAME"] == "keep-1234-abc"
    assert row["STATE"] == "invalid"
    assert row["DOMAIN"] == "keep.example.test"
    assert row["TYPE"] == "HTTP-01"
    assert row["REASON"].endswith("…")
    assert PEBBLE_ERROR.startswith(row["REASON"][:-1])
    assert row["AGE"] == "10m"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["get", "challenges", "-A", "-o", "wide"], id="get challenges -A -o wide"),
        pytest.param(["get", "challenge", "--all-namespaces", "-o", "wide"], id="singular alias"),
        pytest.param(["challenge", "list", "-A", "-o", "wide"], id="challenge list"),
    ],
)
def test_get_challenges_wide_across_namespaces_shows_whole_reasons(
    history: Cli, args: list[str]
) -> None:
    result = history.run(*args)

    assert result.exit_code == 0, describe(result)
    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert rows["keep-1234-abc"]["NAMESPACE"] == "default"
    assert rows["keep-1234-abc"]["REASON"] == PEBBLE_ERROR
    assert rows["wild-99-def"]["NAMESPACE"] == "team-a"
    assert rows["wild-99-def"]["DOMAIN"] == "*.team-a.example.test"
    assert rows["wild-99-def"]["TYPE"] == "DNS-01"
    assert rows["wild-99-def"]["STATE"] == "valid"


def test_get_challenges_json_is_a_kubectl_list_of_cert_manager_challenges(history: Cli) -> None:
    result = history.run("get", "challenges", "-A", "-o", "json")

    assert result.exit_code == 0, describe(result)
    document = json.loads(result.stdout)
    assert document["apiVersion"] == "v1"
    assert document["kind"] == "List"
    item = {i["metadata"]["name"]: i for i in document["items"]}["keep-1234-abc"]
    assert item["apiVersion"] == "acme.cert-manager.io/v1"
    assert item["kind"] == "Challenge"
    assert item["metadata"]["namespace"] == "default"
    assert item["metadata"]["creationTimestamp"] == MADE.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert item["metadata"]["ownerReferences"] == [
        {"apiVersion": "acme.cert-manager.io/v1", "kind": "Order", "name": "keep-1234"}
    ]
    assert item["spec"]["dnsName"] == "keep.example.test"
    assert item["spec"]["type"] == "HTTP-01"
    assert item["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "pebble",
    }
    assert "order" not in item["spec"]
    assert item["status"]["state"] == "invalid"
    assert item["status"]["reason"] == PEBBLE_ERROR


def test_get_challenges_yaml_has_the_same_shape(history: Cli) -> None:
    result = history.run("get", "challenges", "keep-1234-abc", "-o", "yaml")

    assert result.exit_code == 0, describe(result)
    document = yaml.safe_load(result.stdout)
    assert [item["metadata"]["name"] for item in document["items"]] == ["keep-1234-abc"]


def test_get_challenges_in_an_empty_namespace_says_so_on_stderr(history: Cli) -> None:
    result = history.run("get", "challenges", "-n", "nothing-here")

    assert result.exit_code == 0, describe(result)
    assert result.stdout == ""
    assert "No resources found in nothing-here namespace." in result.stderr


def test_get_an_unknown_challenge_exits_2_with_a_hint(history: Cli) -> None:
    result = history.run("get", "challenges", "nope")

    assert result.exit_code == 2, describe(result)
    assert 'challenge "nope" not found in namespace default' in result.stderr
    assert "certctl get challenges -A" in result.stderr


# -- get orders --------------------------------------------------------------------------------


def test_get_orders_shows_state_and_age(history: Cli) -> None:
    result = history.run("get", "orders")

    assert result.exit_code == 0, describe(result)
    assert result.stdout.splitlines()[0].split() == ["NAME", "STATE", "AGE"]
    assert table(result.stdout) == [{"NAME": "keep-1234", "STATE": "invalid", "AGE": "10m"}]


def test_get_orders_wide_adds_issuer_and_reason(history: Cli) -> None:
    result = history.run("get", "order", "-o", "wide")

    assert result.exit_code == 0, describe(result)
    row = table(result.stdout)[0]
    assert row["ISSUER"] == "ClusterIssuer/pebble"
    assert row["REASON"] == "1 of 1 authorizations failed"


def test_get_orders_json(history: Cli) -> None:
    result = history.run("get", "orders", "-A", "-o", "json")

    assert result.exit_code == 0, describe(result)
    (item,) = json.loads(result.stdout)["items"]
    assert item["kind"] == "Order"
    assert item["apiVersion"] == "acme.cert-manager.io/v1"
    assert item["spec"]["dnsNames"] == ["keep.example.test"]
    assert item["status"]["finalizeURL"] == "https://pebble.test/finalize/1"
    assert item["status"]["authorizations"][0]["identifier"] == "keep.example.test"


# -- describe ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["describe", "challenge", "keep-1234-abc"], id="describe challenge"),
        pytest.param(["challenge", "describe", "keep-1234-abc", "-n", "default"], id="group"),
    ],
)
def test_describe_challenge_shows_spec_status_and_the_servers_error_in_events(
    history: Cli, args: list[str]
) -> None:
    result = history.run(*args)

    assert result.exit_code == 0, describe(result)
    out = result.stdout
    lines = out.splitlines()
    assert lines[0].split() == ["Name:", "keep-1234-abc"]
    assert "Namespace:    default" in lines
    assert "API Version:  acme.cert-manager.io/v1" in lines
    assert "Kind:         Challenge" in lines
    spec = out[out.index("\nSpec:") : out.index("\nStatus:")]
    for title in (
        "Authorization URL:",
        "Dns Name:  keep.example.test",
        "Issuer Ref:",
        "Kind:  ClusterIssuer",
        "Key:  tok1.thumbprint",
        "Solver:",
        "Token:  tok1",
        "Type:  HTTP-01",
        "URL:  https://pebble.test/chalZ/1",
        "Wildcard:  false",
    ):
        assert title in spec, title
    status = out[out.index("\nStatus:") : out.index("\nEvents:")]
    assert "Presented:  false" in status
    assert "Processing:  false" in status
    assert "State:  invalid" in status
    assert f"Reason:  {PEBBLE_ERROR}" in status
    events = out[out.index("\nEvents:") + 1 :].splitlines()
    assert events[1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[-1].split()[:4] == ["Warning", "Failed", "10m", "certctl"]
    assert events[-1].endswith(PEBBLE_ERROR), "the ACME server's own words, uncut"


def test_describe_order_shows_authorizations_and_failure(history: Cli) -> None:
    result = history.run("describe", "order", "keep-1234")

    assert result.exit_code == 0, describe(result)
    out = result.stdout
    assert "Kind:         Order" in out
    assert "Certificate:  default/keep" in out
    assert "Dns Names:" in out
    assert "Finalize URL:  https://pebble.test/finalize/1" in out
    assert "Failure Time:  2030-01-01T00:00:00Z" in out
    assert "Authorizations:" in out
    assert "Identifier:  keep.example.test" in out
    assert "State:  invalid" in out
    assert "Created Order" in out
    assert "1 of 1 failed" in out


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        pytest.param(
            ["describe", "challenge", "nope"], "certctl get challenges -A", id="challenge"
        ),
        pytest.param(
            ["describe", "challenge", "keep-1234-abc", "-n", "team-a"],
            "certctl get challenges -A",
            id="challenge in another namespace",
        ),
        pytest.param(["describe", "order", "nope"], "certctl get orders -A", id="order"),
    ],
)
def test_describe_something_not_recorded_exits_2_with_a_hint(
    history: Cli, args: list[str], hint: str
) -> None:
    result = history.run(*args)

    assert result.exit_code == 2, describe(result)
    assert "not found" in result.stderr
    assert hint in result.stderr
    assert result.stdout == ""


def test_describe_challenge_without_events_says_none(cli: Cli) -> None:
    with cli.open_state(FixedClock(MADE)) as state:
        state.save_acme_object(
            "Challenge",
            "default",
            "quiet",
            certificate="default/quiet",
            state="pending",
            body=challenge_body("quiet.example.test", state="pending"),
        )

    result = cli.run("describe", "challenge", "quiet")

    assert result.exit_code == 0, describe(result)
    assert result.stdout.rstrip().endswith("Events:       <none>")


# -- challenge serve / cleanup usage errors (no servers needed) ---------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["challenge", "serve"], "No tokens to serve", id="serve without tokens"),
        pytest.param(
            ["challenge", "serve", "justatoken"], "is not TOKEN=KEYAUTH", id="serve a bad pair"
        ),
        pytest.param(
            ["challenge", "cleanup", "-o", "wide"], "not an output format", id="cleanup -o wide"
        ),
    ],
)
def test_challenge_usage_errors_exit_2(cli: Cli, args: list[str], message: str) -> None:
    result = cli.run(*args)

    assert result.exit_code == 2, describe(result)
    assert message in result.stderr


def test_cleanup_with_nothing_presented_says_so(history: Cli) -> None:
    result = history.run("challenge", "cleanup", "--dry-run")

    assert result.exit_code == 0, describe(result)
    assert "No presented challenges were left behind." in result.stderr
