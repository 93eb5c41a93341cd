"""Solver selection, as cert-manager's solverpicker does it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from certctl.acme.picker import SolverChoice, describe_no_solver, pick_solver

BOTH = ("http-01", "dns-01")
HTTP = ("http-01",)
DNS = ("dns-01",)


def solver(
    kind: str = "http01",
    *,
    names: Sequence[str] = (),
    zones: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    selector: bool | None = None,
) -> dict[str, Any]:
    """A ``solvers[]`` entry; it gets a selector when any selector part is given."""
    block: dict[str, Any] = (
        {"http01": {"standalone": {"port": 80, "address": ""}}}
        if kind == "http01"
        else {"dns01": {"rfc2136": {"nameserver": "127.0.0.1"}}}
    )
    parts: dict[str, Any] = {}
    if names:
        parts["dnsNames"] = list(names)
    if zones:
        parts["dnsZones"] = list(zones)
    if labels:
        parts["matchLabels"] = dict(labels)
    if parts or selector:
        block["selector"] = parts
    return block


CASES = [
    pytest.param(
        [solver()],
        "example.com",
        False,
        BOTH,
        {},
        0,
        id="a solver without a selector is used when it is the only one",
    ),
    pytest.param(
        [solver("http01"), solver("dns01")],
        "example.com",
        False,
        DNS,
        {},
        1,
        id="an http01 solver is skipped when only dns-01 is offered",
    ),
    pytest.param(
        [solver("dns01"), solver("http01")],
        "example.com",
        False,
        HTTP,
        {},
        1,
        id="a dns01 solver is skipped when only http-01 is offered",
    ),
    pytest.param(
        [solver(), solver()],
        "example.com",
        False,
        BOTH,
        {},
        0,
        id="of two solvers without a selector the first one wins",
    ),
    pytest.param(
        [solver(), solver(labels={"app": "web"})],
        "example.com",
        False,
        BOTH,
        {"app": "web"},
        1,
        id="a matching selector beats an earlier solver without a selector",
    ),
    pytest.param(
        [solver(zones=["example.com"]), solver()],
        "www.example.com",
        False,
        BOTH,
        {},
        0,
        id="a later solver without a selector does not replace a matching selector",
    ),
    pytest.param(
        [solver(selector=True), solver()],
        "example.com",
        False,
        BOTH,
        {},
        0,
        id="an empty selector ties with no selector so the earlier one wins",
    ),
    pytest.param(
        [solver(), solver(selector=True)],
        "example.com",
        False,
        BOTH,
        {},
        0,
        id="an empty selector after a solver without a selector does not win",
    ),
    pytest.param(
        [solver(zones=["a.b.example.com"]), solver(names=["a.b.example.com"])],
        "a.b.example.com",
        False,
        BOTH,
        {},
        1,
        id="a dnsNames match beats a more specific zone",
    ),
    pytest.param(
        [solver(names=["example.com"]), solver(labels={"a": "1", "b": "2"})],
        "example.com",
        False,
        BOTH,
        {"a": "1", "b": "2"},
        0,
        id="a dnsNames match beats more matchLabels",
    ),
    pytest.param(
        [solver(zones=["example.com"]), solver(zones=["sub.example.com"]), solver(zones=["com"])],
        "www.sub.example.com",
        False,
        BOTH,
        {},
        1,
        id="the most specific dnsZones match wins",
    ),
    pytest.param(
        [solver(zones=["com", "sub.example.com"]), solver(zones=["example.com"])],
        "www.sub.example.com",
        False,
        BOTH,
        {},
        0,
        id="a selector counts its most specific matching zone",
    ),
    pytest.param(
        [solver(zones=["www.example.com"])],
        "www.example.com",
        False,
        BOTH,
        {},
        0,
        id="a zone equal to the name matches",
    ),
    pytest.param(
        [solver(zones=["example.com"])],
        "notexample.com",
        False,
        BOTH,
        {},
        None,
        id="a zone that is only a string suffix is not a parent",
    ),
    pytest.param(
        [solver(zones=["a.example.com"])],
        "example.com",
        False,
        BOTH,
        {},
        None,
        id="a zone below the name does not match",
    ),
    pytest.param(
        [solver(zones=["Example.COM."])],
        "www.example.com",
        False,
        BOTH,
        {},
        0,
        id="zones compare case-insensitively and ignore a trailing dot",
    ),
    pytest.param(
        [solver(names=["example.com"], labels={"app": "api"}), solver()],
        "example.com",
        False,
        BOTH,
        {"app": "web"},
        1,
        id="a selector with a wrong label is skipped even though its dnsNames match",
    ),
    pytest.param(
        [solver(zones=["example.com"]), solver(zones=["example.com"], labels={"app": "web"})],
        "www.example.com",
        False,
        BOTH,
        {"app": "web"},
        1,
        id="with equal zones more matchLabels win",
    ),
    pytest.param(
        [solver(labels={"a": "1", "b": "2"}), solver(zones=["example.com"])],
        "www.example.com",
        False,
        BOTH,
        {"a": "1", "b": "2"},
        1,
        id="a zone match beats a labels-only match",
    ),
    pytest.param(
        [
            solver(names=["example.com"], zones=["com"]),
            solver(names=["example.com"], zones=["example.com"]),
        ],
        "example.com",
        False,
        BOTH,
        {},
        1,
        id="when both list the name the more specific zone decides",
    ),
    pytest.param(
        [
            solver(names=["example.com"], labels={"a": "1"}),
            solver(names=["example.com"], labels={"a": "1", "b": "2"}),
        ],
        "example.com",
        False,
        BOTH,
        {"a": "1", "b": "2"},
        1,
        id="when both list the name and zones tie more matchLabels win",
    ),
    pytest.param(
        [solver(zones=["example.com"]), solver(zones=["example.com"])],
        "www.example.com",
        False,
        BOTH,
        {},
        0,
        id="equal scores go to the solver listed first",
    ),
    pytest.param(
        [solver(labels={"tier": "edge"})],
        "example.com",
        False,
        BOTH,
        {"tier": "edge", "app": "web"},
        0,
        id="matchLabels only need to be a subset of the labels",
    ),
    pytest.param(
        [solver(zones=["example.com"], names=["other.com"])],
        "www.example.com",
        False,
        BOTH,
        {},
        None,
        id="every part of a selector must match",
    ),
    pytest.param(
        [solver("dns01", names=["example.com"]), solver("dns01", names=["*.example.com"])],
        "example.com",
        True,
        DNS,
        {},
        1,
        id="a wildcard matches dnsNames only when listed literally as *.domain",
    ),
    pytest.param(
        [solver("dns01", zones=["example.com"])],
        "example.com",
        True,
        DNS,
        {},
        0,
        id="a wildcard is matched by the zone of its base domain",
    ),
    pytest.param(
        [solver("http01")],
        "example.com",
        True,
        DNS,
        {},
        None,
        id="a wildcard with only http01 solvers gets none",
    ),
    pytest.param(
        [solver("http01"), solver("dns01", zones=["example.com"])],
        "example.com",
        False,
        BOTH,
        {},
        1,
        id="with both types offered a zone-matching dns01 beats a catch-all http01",
    ),
    pytest.param(
        [solver()], "example.com", False, (), {}, None, id="nothing offered nothing picked"
    ),
    pytest.param([], "example.com", False, BOTH, {}, None, id="no solvers nothing picked"),
]


@pytest.mark.parametrize(("solvers", "domain", "wildcard", "offered", "labels", "expected"), CASES)
def test_pick_solver(
    solvers: list[dict[str, Any]],
    domain: str,
    wildcard: bool,
    offered: tuple[str, ...],
    labels: dict[str, str],
    expected: int | None,
) -> None:
    choice = pick_solver(
        solvers, domain=domain, wildcard=wildcard, offered_types=offered, labels=labels
    )
    if expected is None:
        assert choice is None
    else:
        kind = "http01" if "http01" in solvers[expected] else "dns01"
        assert choice == SolverChoice(
            expected, solvers[expected], {"http01": "http-01", "dns01": "dns-01"}[kind]
        )


def test_pick_returns_the_entry_itself() -> None:
    solvers = [solver("dns01", zones=["example.com"])]
    choice = pick_solver(
        solvers, domain="www.example.com", wildcard=False, offered_types=BOTH, labels={}
    )
    assert choice is not None
    assert choice.solver is solvers[0]
    assert choice.challenge_type == "dns-01"


DESCRIBE_CASES = [
    pytest.param(
        [solver("http01")],
        "example.com",
        True,
        DNS,
        None,
        [
            "*.example.com is a wildcard, and wildcard names can only be validated with DNS-01, "
            "but this issuer has no dns01 solver: add a dns01 solver (its selector must match "
            "*.example.com)"
        ],
        id="a wildcard with only http01 solvers says DNS-01 is needed",
    ),
    pytest.param(
        [solver("http01"), solver("dns01", zones=["other.org"])],
        "example.com",
        True,
        DNS,
        None,
        [
            "*.example.com is a wildcard, and wildcard names can only be validated with DNS-01, "
            "but no dns01 solver of this issuer matches it: add a dns01 solver (its selector "
            "must match *.example.com)",
            "solvers[1] (dns01.rfc2136): dnsZones [other.org] has no zone containing *.example.com",
        ],
        id="a wildcard with a dns01 solver whose selector does not fit names that selector",
    ),
    pytest.param(
        [solver("dns01"), solver("http01", names=["www.example.com"])],
        "example.com",
        False,
        HTTP,
        {},
        [
            "No solver of this issuer can validate example.com (the ACME server offered http-01)",
            "solvers[0] (dns01.rfc2136) answers dns-01, which was not offered",
            "solvers[1] (http01.standalone): dnsNames [www.example.com] does not list example.com",
        ],
        id="a plain name lists the offered types and why each solver did not match",
    ),
    pytest.param(
        [solver(labels={"app": "api"})],
        "example.com",
        False,
        BOTH,
        {"app": "web"},
        ["the Certificate's labels do not include all of app=api"],
        id="a label mismatch is named when the labels are known",
    ),
    pytest.param(
        [solver(labels={"app": "api"})],
        "example.com",
        False,
        BOTH,
        None,
        ["matches only a Certificate with the labels app=api"],
        id="a label requirement is named when the labels are not known",
    ),
    pytest.param(
        [],
        "example.com",
        False,
        BOTH,
        None,
        ["the issuer has no spec.acme.solvers", "add an http01 or dns01 solver"],
        id="an issuer without solvers is told to add one",
    ),
]


@pytest.mark.parametrize(
    ("solvers", "domain", "wildcard", "offered", "labels", "fragments"), DESCRIBE_CASES
)
def test_describe_no_solver(
    solvers: list[dict[str, Any]],
    domain: str,
    wildcard: bool,
    offered: tuple[str, ...],
    labels: dict[str, str] | None,
    fragments: list[str],
) -> None:
    sentence = describe_no_solver(domain, wildcard, solvers, offered, labels=labels)
    assert "\n" not in sentence
    for fragment in fragments:
        assert fragment in sentence
