"""The pure parts of the digitalocean provider: record names, retry waits, next-page links."""

from __future__ import annotations

import pytest

from certctl.acme.settings import ACMESettings
from certctl.acme.solvers.base import SolverContext
from certctl.acme.solvers.digitalocean import (
    API_URL_ENV,
    DigitalOceanProvider,
    record_name,
    retry_delay,
)
from certctl.errors import IssuanceError


@pytest.mark.parametrize(
    ("fqdn", "zone", "expected"),
    [
        pytest.param(
            "_acme-challenge.www.example.com.", "example.com.", "_acme-challenge.www",
            id="a name below the domain is written relative to it",
        ),
        pytest.param(
            "_acme-challenge.example.com.", "example.com.", "_acme-challenge",
            id="the challenge name of the domain itself is one label",
        ),
        pytest.param(
            "_acme-challenge.example.com.", "_acme-challenge.example.com.", "@",
            id="a record at the domain apex is the at sign",
        ),
        pytest.param(
            "_ACME-Challenge.WWW.Example.COM.", "example.com", "_acme-challenge.www",
            id="names are compared without case and with or without the trailing dot",
        ),
    ],
)  # fmt: skip
def test_record_name(fqdn: str, zone: str, expected: str) -> None:
    assert record_name(fqdn, zone) == expected


def test_a_record_outside_the_domain_is_refused() -> None:
    # "notexample.com" ends with "example.com" but is not inside it.
    with pytest.raises(IssuanceError, match="is not inside the DigitalOcean domain"):
        record_name("_acme-challenge.notexample.com.", "example.com.")


@pytest.mark.parametrize(
    ("attempt", "retry_after", "remaining", "low", "high"),
    [
        pytest.param(0, "3", 60.0, 3.0, 3.0, id="retry-after is waited exactly"),
        pytest.param(0, None, 60.0, 0.25, 0.5, id="the first wait without retry-after is short"),
        pytest.param(10, None, 60.0, 4.0, 8.0, id="waits double up to 8 seconds"),
        pytest.param(0, "soon", 60.0, 0.25, 0.5, id="a retry-after that is not seconds is ignored"),
    ],
)  # fmt: skip
def test_retry_delay(
    attempt: int, retry_after: str | None, remaining: float, low: float, high: float
) -> None:
    delay = retry_delay(attempt, retry_after, remaining)
    assert delay is not None and low <= delay <= high


def test_no_retry_when_the_wait_would_pass_the_deadline() -> None:
    assert retry_delay(0, "30", 10.0) is None


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> DigitalOceanProvider:
    monkeypatch.setenv(API_URL_ENV, "https://api.digitalocean.com/v2/")
    context = SolverContext("cert-manager", lambda ns, name: None, ACMESettings(), "Issuer/x")
    return DigitalOceanProvider({"tokenSecretRef": {"name": "t", "key": "k"}}, context)


def test_the_api_url_comes_from_the_environment(provider: DigitalOceanProvider) -> None:
    assert provider.api_url == "https://api.digitalocean.com/v2"


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        pytest.param({}, None, id="no links means the last page"),
        pytest.param({"pages": {"prev": "https://api.digitalocean.com/v2/x?page=1"}}, None,
                     id="a page with only prev is the last"),
        pytest.param(
            {"pages": {"next": "https://api.digitalocean.com/v2/domains/example.com/records"
                       "?name=a.example.com&page=2&per_page=200&type=TXT"}},
            "/domains/example.com/records?name=a.example.com&page=2&per_page=200&type=TXT",
            id="next is followed below the API URL, with its query",
        ),
    ],
)  # fmt: skip
def test_next_page(
    provider: DigitalOceanProvider, links: dict[str, object], expected: str | None
) -> None:
    assert provider._next_page({"links": links}) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://elsewhere.example/v2/domains/x/records?page=2",
                     id="another host"),
        pytest.param("http://api.digitalocean.com/v2/domains/x/records?page=2",
                     id="plain http"),
        pytest.param("https://api.digitalocean.com/v3/domains/x/records?page=2",
                     id="a path outside the API URL"),
    ],
)  # fmt: skip
def test_a_next_link_that_leaves_the_api_is_not_followed(
    provider: DigitalOceanProvider, url: str
) -> None:
    # The bearer token goes with every request, so it must not follow a link elsewhere.
    with pytest.raises(IssuanceError, match="leaves the API URL"):
        provider._next_page({"links": {"pages": {"next": url}}})


def test_listed_records_without_an_integer_id_or_of_another_name_are_skipped(
    provider: DigitalOceanProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = [
        {"id": 1, "type": "TXT", "name": "_acme-challenge.www", "data": "mine"},
        {"id": "2", "type": "TXT", "name": "_acme-challenge.www", "data": "id as text"},
        {"type": "TXT", "name": "_acme-challenge.www", "data": "no id"},
        {"id": 3, "type": "TXT", "name": "_acme-challenge", "data": "another name"},
        {"id": 4, "type": "CNAME", "name": "_acme-challenge.www", "data": "another type"},
        "not an object",
    ]
    monkeypatch.setattr(provider, "_pages", lambda domain, fqdn: iter([page]))

    records = provider._records("example.com", "_acme-challenge.www.example.com.")

    assert [(record.id, record.data) for record in records] == [(1, "mine")]
