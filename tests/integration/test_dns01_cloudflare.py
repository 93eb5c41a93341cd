"""The cloudflare DNS-01 provider against the strict fake of the Cloudflare API.

The contract suite covers what every provider does; these tests cover what is
Cloudflare's own: the two credential schemes and their headers, the zone lookup that
walks up from the zone the shared code found, pagination, the quoting of TXT content,
throttling, and the errors a user meets (refused token, missing scopes, no zone).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

import pytest
import requests

from certctl.acme.settings import ACMESettings
from certctl.acme.solvers import cloudflare as cloudflare_module
from certctl.acme.solvers.base import DNS01Provider
from certctl.acme.solvers.cloudflare import CloudflareProvider
from certctl.acme.solvers.registry import build_solver
from certctl.errors import IssuanceError, IssuerNotReadyError
from tests.integration.dns_providers import cloudflare as fixtures
from tests.integration.dns_providers.harness import context
from tests.integration.servers.cloudflare import CloudflareServer, iter_pages, new_token

#: The fake with the provider pointed at it (the contract suite's fixture).
cloudflare_server = fixtures.cloudflare_server

TOKEN_BLOCK = {"apiTokenSecretRef": {"name": "cf-token", "key": "api-token"}}
KEY_BLOCK = {"email": "ops@example.test", "apiKeySecretRef": {"name": "cf-key", "key": "api-key"}}


def build(block: Mapping[str, Any], secrets_: Mapping[str, Mapping[str, bytes]]) -> DNS01Provider:
    provider = build_solver(
        {"dns01": {"cloudflare": dict(block)}}, context(ACMESettings(), secrets_)
    )
    assert isinstance(provider, CloudflareProvider)
    return provider


def token_provider(token: str) -> DNS01Provider:
    return build(TOKEN_BLOCK, {"cf-token": {"api-token": token.encode()}})


def fqdn() -> str:
    return f"_acme-challenge.cf-{secrets.token_hex(4)}.example.test."


def value() -> str:
    return secrets.token_urlsafe(32)


# --- Credentials and headers ---


def test_an_api_token_is_sent_as_a_bearer_token_and_nothing_else(
    cloudflare_server: CloudflareServer,
) -> None:
    token = cloudflare_server.add_token()
    name = fqdn()

    token_provider(token).present(name, "example.test.", value())

    seen = cloudflare_server.requests()
    assert seen and all(s.status == 200 for s in seen)
    for request in seen:
        assert request.headers["authorization"] == f"Bearer {token}"
        assert "x-auth-key" not in request.headers and "x-auth-email" not in request.headers


def test_a_global_api_key_is_sent_with_the_email(cloudflare_server: CloudflareServer) -> None:
    key = cloudflare_server.add_key("ops@example.test")
    provider = build(KEY_BLOCK, {"cf-key": {"api-key": f"  {key}\n".encode()}})
    name, txt = fqdn(), value()

    provider.present(name, "example.test.", txt)

    assert cloudflare_server.txt_values(name) == {txt}
    for request in cloudflare_server.requests():
        assert request.headers["x-auth-email"] == "ops@example.test"
        assert request.headers["x-auth-key"] == key
        assert "authorization" not in request.headers


def test_a_wrong_email_for_the_key_is_refused_with_a_hint_about_the_key(
    cloudflare_server: CloudflareServer,
) -> None:
    key = cloudflare_server.add_key("someone-else@example.test")
    provider = build(KEY_BLOCK, {"cf-key": {"api-key": key.encode()}})

    with pytest.raises(IssuanceError) as caught:
        provider.present(fqdn(), "example.test.", value())

    assert "9103 Unknown X-Auth-Key or X-Auth-Email" in caught.value.message
    assert "Global API Key" in caught.value.hint
    assert key not in caught.value.paragraph()


@pytest.mark.parametrize(
    ("secrets_", "reason", "words"),
    [
        pytest.param({}, "SecretMissing", "does not exist", id="a missing Secret is not ready"),
        pytest.param(
            {"cf-token": {"other": b"x"}},
            "SecretInvalidData",
            "has no key 'api-token'",
            id="a Secret without the key is not ready",
        ),
        pytest.param(
            {"cf-token": {"api-token": b" \n"}},
            "SecretInvalidData",
            "no usable value",
            id="a blank token is not ready",
        ),
        pytest.param(
            {"cf-token": {"api-token": b"Bearer " + new_token().encode()}},
            "SecretInvalidData",
            "no usable value",
            id="a token stored with its Bearer prefix is not ready",
        ),
    ],
)
def test_an_unusable_credential_secret_means_the_issuer_is_not_ready(
    cloudflare_server: CloudflareServer,
    secrets_: Mapping[str, Mapping[str, bytes]],
    reason: str,
    words: str,
) -> None:
    provider = build(TOKEN_BLOCK, secrets_)

    with pytest.raises(IssuerNotReadyError) as caught:
        provider.present(fqdn(), "example.test.", value())

    assert caught.value.reason == reason
    assert words in caught.value.message
    assert "cert-manager/cf-token" in caught.value.message
    assert caught.value.hint
    assert cloudflare_server.requests() == [], "nothing is sent without a credential"


def test_the_credential_never_reaches_the_logs(
    cloudflare_server: CloudflareServer, caplog: pytest.LogCaptureFixture
) -> None:
    token = cloudflare_server.add_token()
    caplog.set_level(logging.DEBUG)
    provider, name, txt = token_provider(token), fqdn(), value()

    provider.present(name, "example.test.", txt)
    provider.cleanup(name, "example.test.", txt)
    with pytest.raises(IssuanceError):
        token_provider(new_token()).present(name, "example.test.", txt)

    assert "cloudflare: GET /zones" in caplog.text, "the calls are logged at debug level"
    assert token not in caplog.text


# --- Zones ---


def test_the_zone_lookup_walks_up_from_the_zone_the_shared_code_found(
    cloudflare_server: CloudflareServer,
) -> None:
    # The SOA walk found a delegated sub-zone that Cloudflare does not hold.
    token = cloudflare_server.add_token()
    name, txt = "_acme-challenge.www.dev.example.test.", value()

    token_provider(token).present(name, "dev.example.test.", txt)

    asked = [s.query["name"][0] for s in cloudflare_server.requests() if s.path.endswith("/zones")]
    assert asked == ["dev.example.test", "example.test"]
    assert cloudflare_server.txt_values(name) == {txt}


def test_the_most_specific_zone_on_cloudflare_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    with CloudflareServer(zones=("example.test", "dev.example.test")) as server:
        monkeypatch.setenv(cloudflare_module.API_URL_ENV, server.url)
        token = server.add_token()
        name = "_acme-challenge.www.dev.example.test."

        token_provider(token).present(name, "dev.example.test.", value())

        (record,) = server.records.values()
        assert record.zone_name == "dev.example.test"
        asked = [s.query["name"][0] for s in server.requests() if s.path.endswith("/zones")]
        assert asked == ["dev.example.test"]


def test_no_zone_on_cloudflare_names_the_zones_looked_for(
    cloudflare_server: CloudflareServer,
) -> None:
    token = cloudflare_server.add_token()

    with pytest.raises(IssuanceError) as caught:
        token_provider(token).present("_acme-challenge.a.other.test.", "a.other.test.", value())

    error = caught.value
    assert error.reason == "ZoneNotFound"
    assert error.exit_code == 1
    assert '(looked for "a.other.test", "other.test")' in error.message
    assert "Zone:Read" in error.hint


def test_a_token_without_zone_read_on_the_zone_sees_no_zone_and_is_told_why(
    cloudflare_server: CloudflareServer,
) -> None:
    # Cloudflare filters GET /zones by the token's zone resources: an empty list, no 403.
    token = cloudflare_server.add_token(zone_read=[], dns_edit=["example.test"])

    with pytest.raises(IssuanceError) as caught:
        token_provider(token).present(fqdn(), "example.test.", value())

    assert caught.value.reason == "ZoneNotFound"
    assert "a token without Zone:Read sees no zones" in caught.value.hint


def test_a_token_without_dns_edit_gets_the_scopes_it_needs(
    cloudflare_server: CloudflareServer,
) -> None:
    token = cloudflare_server.add_token(zone_read=["example.test"], dns_edit=[])
    name = fqdn()

    with pytest.raises(IssuanceError) as caught:
        token_provider(token).present(name, "example.test.", value())

    error = caught.value
    assert error.reason == "Forbidden"
    assert "10000 Authentication error" in error.message
    assert "Zone:Zone:Read and Zone:DNS:Edit" in error.hint
    assert "\n" not in error.message and token not in error.paragraph()
    assert cloudflare_server.txt_values(name) == set()


@pytest.mark.parametrize(
    ("token", "code"),
    [
        pytest.param(new_token(), "9109 Invalid access token", id="an unknown token is refused"),
        pytest.param(
            "not-a-cloudflare-token",
            "6111 Invalid format for Authorization header",
            id="a token in the wrong format is refused as malformed",
        ),
    ],
)
def test_a_refused_token_says_which_secret_and_which_scopes(
    cloudflare_server: CloudflareServer, token: str, code: str
) -> None:
    with pytest.raises(IssuanceError) as caught:
        token_provider(token).present(fqdn(), "example.test.", value())

    error = caught.value
    assert error.reason == "Unauthorized"
    assert code in error.message
    assert "cert-manager/cf-token key 'api-token'" in error.hint
    assert "Zone:Zone:Read and Zone:DNS:Edit" in error.hint
    assert token not in error.paragraph()


# --- Records ---


def test_records_are_found_on_every_page(cloudflare_server: CloudflareServer) -> None:
    token = cloudflare_server.add_token()
    name, mine = fqdn(), value()
    others = [value() for _ in range(4)]
    for other in others[:2]:
        cloudflare_server.add_record(name, f'"{other}"')
    cloudflare_server.add_record(name, f'"{mine}"')  # on page 2 of 2 per page
    for other in others[2:]:
        cloudflare_server.add_record(name, f'"{other}"')
    provider = token_provider(token)

    provider.present(name, "example.test.", mine)  # already there, on page 2
    assert cloudflare_server.requests("POST") == []
    assert list(iter_pages(cloudflare_server.requests(), "/dns_records")) == [1, 2, 3]

    provider.cleanup(name, "example.test.", mine)
    assert cloudflare_server.txt_values(name) == set(others)
    assert len(cloudflare_server.requests("DELETE")) == 1


def test_content_is_sent_quoted_and_legacy_unquoted_records_still_count(
    cloudflare_server: CloudflareServer,
) -> None:
    token = cloudflare_server.add_token()
    provider, name, new, legacy = token_provider(token), fqdn(), value(), value()
    cloudflare_server.add_record(name, legacy)  # written unquoted by an older client

    provider.present(name, "example.test.", new)
    provider.present(name, "example.test.", legacy)

    assert cloudflare_server.txt_contents(name) == sorted([f'"{new}"', legacy])
    (post,) = cloudflare_server.requests("POST")
    assert post.headers["content-type"] == "application/json"
    provider.cleanup(name, "example.test.", legacy)
    assert cloudflare_server.txt_values(name) == {new}


def test_a_record_added_between_listing_and_creating_is_not_an_error(
    cloudflare_server: CloudflareServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = cloudflare_server.add_token()
    provider, name, txt = token_provider(token), fqdn(), value()
    assert isinstance(provider, CloudflareProvider)
    listing = provider._txt

    def list_then_race(zone_id: str, zone: str, record: str) -> list[Mapping[str, Any]]:
        found = listing(zone_id, zone, record)
        cloudflare_server.add_record(name, f'"{txt}"')  # another run, just now
        return found

    monkeypatch.setattr(provider, "_txt", list_then_race)

    provider.present(name, "example.test.", txt)

    (post,) = cloudflare_server.requests("POST")
    assert post.status == 400, "Cloudflare answered 81058 An identical record already exists"
    assert cloudflare_server.txt_values(name) == {txt}


# --- Throttling ---


def test_a_429_is_retried_after_retry_after(cloudflare_server: CloudflareServer) -> None:
    token = cloudflare_server.add_token()
    cloudflare_server.retry_after = "0"
    cloudflare_server.throttle(2)
    name, txt = fqdn(), value()

    token_provider(token).present(name, "example.test.", txt)

    statuses = [s.status for s in cloudflare_server.requests()]
    assert statuses[:3] == [429, 429, 200]
    assert cloudflare_server.txt_values(name) == {txt}


def test_throttling_past_the_deadline_is_one_retryable_sentence(
    cloudflare_server: CloudflareServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloudflare_module, "RETRY_DEADLINE", 0.5)
    token = cloudflare_server.add_token()
    cloudflare_server.retry_after = "0.1"
    cloudflare_server.throttle(1000)

    with pytest.raises(IssuanceError) as caught:
        token_provider(token).present(fqdn(), "example.test.", value())

    error = caught.value
    assert error.reason == "Throttled" and error.retryable
    assert "971 Please wait and consider throttling your request speed" in error.message
    assert "1200 API requests per 5 minutes" in error.hint
    assert 2 <= len(cloudflare_server.requests()) <= 8, "bounded by the deadline"


def test_an_unreachable_api_is_retryable_and_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(cloudflare_module.API_URL_ENV, "http://127.0.0.1:9/client/v4")

    with pytest.raises(IssuanceError) as caught:
        token_provider(new_token()).present(fqdn(), "example.test.", value())

    assert caught.value.retryable
    assert "http://127.0.0.1:9/client/v4" in caught.value.message
    assert cloudflare_module.API_URL_ENV in caught.value.hint


# --- The fake says no like Cloudflare ---


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "codes"),
    [
        pytest.param("GET", "/zones", {}, 400, [9106], id="no credentials at all"),
        pytest.param(
            "GET", "/zones", {"Authorization": "Token abc"}, 400, [6003, 6111],
            id="an Authorization header that is not a Bearer token",
        ),
        pytest.param(
            "GET", "/zones", {"X-Auth-Email": "ops@example.test", "X-Auth-Key": "short"},
            400, [6003, 6103], id="a Global API Key in the wrong format",
        ),
        pytest.param("GET", "/zone", "good", 400, [7003, 7000], id="an unknown path"),
        pytest.param("PUT", "/zones", "good", 405, [7001], id="a method the path lacks"),
        pytest.param(
            "GET", "/zones/not-an-id/dns_records", "good", 400, [7003, 7000],
            id="a zone id that is not one",
        ),
    ],
)  # fmt: skip
def test_the_fake_refuses_what_cloudflare_refuses(
    cloudflare_server: CloudflareServer,
    method: str,
    path: str,
    headers: dict[str, str] | str,
    status: int,
    codes: list[int],
) -> None:
    if headers == "good":
        headers = {"Authorization": f"Bearer {cloudflare_server.add_token()}"}
    assert isinstance(headers, dict)

    response = requests.request(method, cloudflare_server.url + path, headers=headers, timeout=5)

    body = response.json()
    assert response.status_code == status
    assert body["success"] is False and body["result"] is None
    found = [e["code"] for e in body["errors"]]
    found += [c["code"] for e in body["errors"] for c in e.get("error_chain", [])]
    assert found == codes


def test_the_fake_refuses_a_body_that_is_not_json(cloudflare_server: CloudflareServer) -> None:
    token = cloudflare_server.add_token()
    zone_id = cloudflare_server.zone_ids["example.test"]

    response = requests.post(
        f"{cloudflare_server.url}/zones/{zone_id}/dns_records",
        data="type=TXT",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["error_chain"][0]["code"] == 6105
