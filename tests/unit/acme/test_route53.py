"""The route53 provider's pure decisions: zone choice, AWS's listing order, TXT quoting, errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from certctl.acme.solvers.route53 import (
    HostedZone,
    candidate_zone_names,
    describe_client_error,
    find_hosted_zone,
    format_txt_value,
    parse_txt_value,
    pick_hosted_zone,
)


class AWSListing:
    """ListHostedZonesByName as the Route 53 API reference documents it.

    Zones are sorted by name with the labels reversed (``com.example.www``), then by id;
    a call starts at ``DNSName`` (and ``HostedZoneId``), returns at most ``max_items``
    zones, and when more follow sets IsTruncated with NextDNSName/NextHostedZoneId, the
    first zone of the next page.
    """

    def __init__(self, zones: list[HostedZone], max_items: int = 100) -> None:
        self.zones = sorted(zones, key=lambda zone: (_reversed(zone.name), zone.id))
        self.max_items = max_items
        self.requests: list[dict[str, str]] = []

    def __call__(self, **request: str) -> Mapping[str, Any]:
        self.requests.append(request)
        start = (_reversed(request["DNSName"]), request.get("HostedZoneId", ""))
        rest = [zone for zone in self.zones if (_reversed(zone.name), zone.id) >= start]
        page, more = rest[: self.max_items], rest[self.max_items :]
        response: dict[str, Any] = {
            "HostedZones": [
                {
                    "Id": f"/hostedzone/{zone.id}",
                    "Name": zone.name,
                    "Config": {"PrivateZone": zone.private},
                }
                for zone in page
            ],
            "IsTruncated": bool(more),
        }
        if more:
            response["NextDNSName"], response["NextHostedZoneId"] = more[0].name, more[0].id
        return response


def _reversed(name: str) -> tuple[str, ...]:
    return tuple(reversed(name.lower().rstrip(".").split(".")))


ZONES = [
    HostedZone("example.com.", "ZCOM"),
    HostedZone("sub.example.com.", "ZSUB"),
    HostedZone("a.example.com.", "ZA"),
    HostedZone("zzz.example.com.", "ZZZZ"),
    HostedZone("example.org.", "ZORG"),
    HostedZone("internal.example.com.", "ZPRIV", private=True),
]


@pytest.mark.parametrize(
    ("fqdn", "expected"),
    [
        pytest.param(
            "_acme-challenge.www.sub.example.com.",
            "ZSUB",
            id="the longest suffix wins over its parent",
        ),
        pytest.param(
            "_acme-challenge.www.example.com.",
            "ZCOM",
            id="a name in no sub-zone goes to the parent zone",
        ),
        pytest.param(
            "_acme-challenge.internal.example.com.",
            "ZCOM",
            id="a private zone is skipped for the public parent",
        ),
        pytest.param("_acme-challenge.EXAMPLE.ORG.", "ZORG", id="names compare case-insensitively"),
        pytest.param(
            "_acme-challenge.notsub.example.com.", "ZCOM", id="a zone matches whole labels only"
        ),
        pytest.param("_acme-challenge.example.net.", None, id="no zone of any suffix is none"),
    ],
)
def test_aws_listing_order_finds_the_longest_public_zone(fqdn: str, expected: str | None) -> None:
    found, _ = find_hosted_zone(fqdn, AWSListing(ZONES))

    assert (found.id if found else None) == expected


def test_pages_of_zones_with_the_same_name_are_followed() -> None:
    # Three public zones named example.com (AWS allows duplicates) and a page size of 1:
    # the first two are private, so the public one is only on the third page.
    zones = [
        HostedZone("example.com.", "Z1", private=True),
        HostedZone("example.com.", "Z2", private=True),
        HostedZone("example.com.", "Z3"),
        HostedZone("sub.example.com.", "Z4"),
    ]
    listing = AWSListing(zones, max_items=1)

    found, private = find_hosted_zone("_acme-challenge.www.example.com.", listing)

    assert found == HostedZone("example.com.", "Z3")
    assert private == ["example.com.", "example.com."]
    assert listing.requests[-1] == {"DNSName": "example.com.", "HostedZoneId": "Z3"}


def test_the_lookup_stops_paging_past_the_name_asked_for() -> None:
    listing = AWSListing(ZONES, max_items=1)

    find_hosted_zone("_acme-challenge.www.example.com.", listing)

    # One call per candidate name: the first page already passes the name asked for.
    assert [request["DNSName"] for request in listing.requests] == [
        "_acme-challenge.www.example.com.",
        "www.example.com.",
        "example.com.",
    ]


def test_exact_name_listing_as_moto_does_finds_the_same_zone() -> None:
    def exact(**request: str) -> Mapping[str, Any]:
        name = request["DNSName"]
        hits = [zone for zone in ZONES if zone.name == name]
        return {
            "HostedZones": [
                {"Id": zone.id, "Name": zone.name, "Config": {"PrivateZone": zone.private}}
                for zone in hits
            ],
            "IsTruncated": False,
        }

    found, _ = find_hosted_zone("_acme-challenge.www.sub.example.com.", exact)

    assert found == HostedZone("sub.example.com.", "ZSUB")


def test_candidates_run_from_the_name_itself_down_to_the_top_level_domain() -> None:
    assert candidate_zone_names("_acme-challenge.A.example.com") == [
        "_acme-challenge.a.example.com.",
        "a.example.com.",
        "example.com.",
        "com.",
    ]


def test_pick_skips_private_zones_even_when_they_are_longer() -> None:
    zones = [HostedZone("example.com.", "Z1"), HostedZone("a.example.com.", "Z2", private=True)]

    assert pick_hosted_zone("x.a.example.com.", zones) == HostedZone("example.com.", "Z1")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param(
            "abc-_DEF123", '"abc-_DEF123"', id="a challenge value is put in double quotes"
        ),
        pytest.param('a"b\\c', '"a\\"b\\\\c"', id="quotes and backslashes are escaped"),
    ],
)
def test_txt_values_round_trip_through_route53_quoting(value: str, written: str) -> None:
    assert format_txt_value(value) == written
    assert parse_txt_value(written) == value


def test_a_long_value_split_in_strings_reads_as_one() -> None:
    assert parse_txt_value('"abc" "def"') == "abcdef"


@pytest.mark.parametrize(
    ("operation", "code", "status", "reason", "words"),
    [
        pytest.param(
            "ChangeResourceRecordSets",
            "AccessDenied",
            403,
            "AccessDenied",
            "route53:ChangeResourceRecordSets",
            id="AccessDenied on a change names route53:ChangeResourceRecordSets",
        ),
        pytest.param(
            "GetChange",
            "AccessDenied",
            403,
            "AccessDenied",
            "route53:GetChange",
            id="AccessDenied on GetChange names route53:GetChange",
        ),
        pytest.param(
            "ListHostedZonesByName",
            "AccessDenied",
            403,
            "AccessDenied",
            "route53:ListHostedZonesByName",
            id="AccessDenied on the zone lookup names its action",
        ),
        pytest.param(
            "AssumeRole",
            "AccessDenied",
            403,
            "AccessDenied",
            "sts:AssumeRole",
            id="AccessDenied on AssumeRole names sts:AssumeRole and the trust policy",
        ),
        pytest.param(
            "GetChange",
            "",
            403,
            "AccessDenied",
            "route53:GetChange",
            id="a bare 403 without a code is access denied",
        ),
        pytest.param(
            "ListHostedZonesByName",
            "InvalidClientTokenId",
            403,
            "InvalidCredentials",
            "accessKeyID",
            id="InvalidClientTokenId is refused credentials",
        ),
        pytest.param(
            "ListHostedZonesByName",
            "SignatureDoesNotMatch",
            403,
            "InvalidCredentials",
            "secretAccessKeySecretRef",
            id="SignatureDoesNotMatch is refused credentials",
        ),
        pytest.param(
            "ChangeResourceRecordSets",
            "Throttling",
            400,
            "Throttled",
            "run again",
            id="Throttling after the retries is retryable",
        ),
        pytest.param(
            "ChangeResourceRecordSets",
            "PriorRequestNotComplete",
            400,
            "Throttled",
            "run again",
            id="PriorRequestNotComplete counts as throttling",
        ),
        pytest.param(
            "ListResourceRecordSets",
            "NoSuchHostedZone",
            404,
            "ZoneNotFound",
            "hostedZoneID",
            id="NoSuchHostedZone is zone not found",
        ),
    ],
)
def test_aws_errors_become_one_sentence_with_a_fix(
    operation: str, code: str, status: int, reason: str, words: str
) -> None:
    error = describe_client_error(
        operation, code, "", status, issuer="ClusterIssuer/le", role="arn:aws:iam::1:role/dns"
    )

    assert error.reason == reason
    assert words in f"{error.message} {error.hint}"
    assert "\n" not in error.message
    assert error.retryable == (reason == "Throttled")
