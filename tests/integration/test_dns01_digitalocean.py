"""The digitalocean provider against the strict fake of DigitalOcean's Domain Records API.

The shared contract suite covers present/cleanup semantics; these tests cover what is
DigitalOcean's own: the wire format (relative names, the FQDN filter, TTL, the bearer
token), pagination through ``links.pages.next``, throttling, the documented errors, and
the token Secret as cert-manager reads it.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
import requests

from certctl.acme.solvers import digitalocean as do
from certctl.acme.solvers.digitalocean import API_URL_ENV, DigitalOceanProvider
from certctl.errors import IssuanceError, IssuerNotReadyError
from tests.integration.dns_providers.digitalocean import (
    ZONE,
    digitalocean_harness,
    digitalocean_server,
)
from tests.integration.dns_providers.harness import ProviderHarness, context
from tests.integration.servers.digitalocean import DigitalOceanServer

#: The harness fixtures the tests below take, imported so pytest finds them here.
FIXTURES = (digitalocean_server, digitalocean_harness)

BLOCK = {"tokenSecretRef": {"name": "digitalocean-dns", "key": "access-token"}}


def value() -> str:
    return secrets.token_urlsafe(32)


def provider_with(
    secrets_: Mapping[str, Mapping[str, bytes]], harness: ProviderHarness
) -> DigitalOceanProvider:
    return DigitalOceanProvider(BLOCK, context(harness.settings, secrets_))


def token_of(harness: ProviderHarness) -> str:
    return harness.secrets["digitalocean-dns"]["access-token"].decode()


# --- wire format ---


def test_present_lists_by_fqdn_and_creates_a_relative_name_with_ttl_60(
    digitalocean_harness: ProviderHarness, digitalocean_server: DigitalOceanServer
) -> None:
    provider, txt = digitalocean_harness.build(), value()

    provider.present("_acme-challenge.www.example.com.", ZONE, txt)

    listing, create = digitalocean_server.calls
    assert (listing.method, listing.path, listing.status) == (
        "GET",
        "/v2/domains/example.com/records",
        200,
    )
    assert listing.query == {
        "type": "TXT",
        "name": "_acme-challenge.www.example.com",
        "per_page": "200",
    }
    assert (create.method, create.status) == ("POST", 201)
    assert create.body == {"type": "TXT", "name": "_acme-challenge.www", "data": txt, "ttl": 60}
    assert digitalocean_server.txt_values("_acme-challenge.www.example.com") == {txt}


def test_a_record_at_the_domain_apex_is_named_at_sign(
    digitalocean_harness: ProviderHarness, digitalocean_server: DigitalOceanServer
) -> None:
    # A domain delegated only for the challenge name (_acme-challenge.example.com as a
    # DigitalOcean domain) holds the record at its apex.
    digitalocean_server.add_domain("_acme-challenge.app.example.com")
    provider, txt = digitalocean_harness.build(), value()
    fqdn = "_acme-challenge.app.example.com."

    provider.present(fqdn, fqdn, txt)

    assert digitalocean_server.calls[-1].body["name"] == "@"
    assert digitalocean_server.txt_values(fqdn) == {txt}
    provider.cleanup(fqdn, fqdn, txt)
    assert digitalocean_server.txt_values(fqdn) == set()


def test_cleanup_deletes_only_its_value_and_keeps_other_clients_records(
    digitalocean_harness: ProviderHarness, digitalocean_server: DigitalOceanServer
) -> None:
    fqdn = "_acme-challenge.keep.example.com."
    digitalocean_server.add_txt(ZONE, "_acme-challenge.keep", "someone-else")
    digitalocean_server.add_txt(ZONE, "keep", "not-the-challenge-name")
    provider, txt = digitalocean_harness.build(), value()

    provider.present(fqdn, ZONE, txt)
    provider.cleanup(fqdn, ZONE, txt)

    assert digitalocean_server.txt_values(fqdn) == {"someone-else"}
    assert digitalocean_server.txt_values("keep.example.com") == {"not-the-challenge-name"}
    deletes = [call for call in digitalocean_server.calls if call.method == "DELETE"]
    assert len(deletes) == 1


def test_every_request_carries_the_bearer_token_and_never_anything_else(
    digitalocean_harness: ProviderHarness,
    digitalocean_server: DigitalOceanServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A ~/.netrc entry for the API host must not replace the token (requests would use
    # it for any session without auth of its own).
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    monkeypatch.setenv("NETRC", str(netrc))
    provider = digitalocean_harness.build()

    provider.present("_acme-challenge.netrc.example.com.", ZONE, value())

    assert [call.status for call in digitalocean_server.calls] == [200, 201]


# --- pagination ---


def test_pages_are_followed_to_find_a_value_on_the_last_page(
    digitalocean_harness: ProviderHarness,
    digitalocean_server: DigitalOceanServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(do, "PER_PAGE", 2)
    fqdn = "_acme-challenge.paged.example.com."
    others = [f"other-{index}" for index in range(4)]
    for other in others:
        digitalocean_server.add_txt(ZONE, "_acme-challenge.paged", other)
    txt = value()
    digitalocean_server.add_txt(ZONE, "_acme-challenge.paged", txt)  # on page 3 of 3
    provider = digitalocean_harness.build()

    provider.present(fqdn, ZONE, txt)  # already there: nothing is created
    assert [call.method for call in digitalocean_server.calls] == ["GET", "GET", "GET"]
    assert [call.query.get("page", "1") for call in digitalocean_server.calls] == ["1", "2", "3"]

    provider.cleanup(fqdn, ZONE, txt)
    assert digitalocean_server.txt_values(fqdn) == set(others)


# --- throttling ---


def test_a_429_is_retried_after_retry_after_and_then_succeeds(
    digitalocean_harness: ProviderHarness, digitalocean_server: DigitalOceanServer
) -> None:
    provider, txt = digitalocean_harness.build(), value()
    digitalocean_server.throttle(times=1, retry_after=1)

    started = time.monotonic()
    provider.present("_acme-challenge.slow.example.com.", ZONE, txt)

    assert time.monotonic() - started >= 1.0
    assert [call.status for call in digitalocean_server.calls] == [429, 200, 201]
    assert digitalocean_server.txt_values("_acme-challenge.slow.example.com") == {txt}


def test_throttling_past_the_deadline_is_one_retryable_sentence(
    digitalocean_harness: ProviderHarness,
    digitalocean_server: DigitalOceanServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(do, "RETRY_DEADLINE", 2.0)
    provider = digitalocean_harness.build()
    digitalocean_server.throttle(times=100, retry_after=1)

    with pytest.raises(IssuanceError) as caught:
        provider.present("_acme-challenge.busy.example.com.", ZONE, value())

    error = caught.value
    assert error.reason == "Throttled" and error.retryable
    assert "kept throttling" in error.message and "429 too_many_requests" in error.message
    assert "\n" not in error.message
    assert 2 <= len(digitalocean_server.calls) <= 3


# --- errors ---


def test_an_unknown_domain_is_zone_not_found_with_a_fix(
    digitalocean_harness: ProviderHarness,
) -> None:
    provider = digitalocean_harness.build()

    with pytest.raises(IssuanceError) as caught:
        provider.present("_acme-challenge.www.example.org.", "example.org.", value())

    error = caught.value
    assert error.reason == "ZoneNotFound"
    assert 'DigitalOcean has no domain "example.org"' in error.message
    assert "Networking > Domains" in error.hint


@pytest.mark.parametrize(
    ("scopes", "action", "scope"),
    [
        pytest.param(
            frozenset({"domain:create", "domain:delete"}),
            "present",
            "domain:read",
            id="a token without domain:read cannot list records",
        ),
        pytest.param(
            frozenset({"domain:read", "domain:delete"}),
            "present",
            "domain:create",
            id="a token without domain:create cannot add the record",
        ),
        pytest.param(
            frozenset({"domain:read", "domain:create"}),
            "cleanup",
            "domain:delete",
            id="a token without domain:delete cannot remove the record",
        ),
    ],
)
def test_a_missing_scope_is_named(
    digitalocean_harness: ProviderHarness,
    digitalocean_server: DigitalOceanServer,
    scopes: frozenset[str],
    action: str,
    scope: str,
) -> None:
    fqdn, txt = "_acme-challenge.scope.example.com.", value()
    token = f"dop_v1_{secrets.token_hex(32)}"
    digitalocean_server.add_token(token, scopes)
    digitalocean_server.add_txt(ZONE, "_acme-challenge.scope", txt)
    provider = provider_with(
        {"digitalocean-dns": {"access-token": token.encode()}}, digitalocean_harness
    )

    with pytest.raises(IssuanceError) as caught:
        getattr(provider, action)(fqdn, ZONE, value() if action == "present" else txt)

    error = caught.value
    assert error.reason == "AccessDenied"
    assert f"lacks the {scope} scope" in error.message
    assert "403 forbidden" in error.message
    assert token not in f"{error.message} {error.hint}"


def test_an_unreachable_api_is_retryable_and_names_the_url(
    digitalocean_harness: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(API_URL_ENV, f"http://127.0.0.1:{port}/v2")
    provider = digitalocean_harness.build()

    with pytest.raises(IssuanceError) as caught:
        provider.present("_acme-challenge.www.example.com.", ZONE, value())

    error = caught.value
    assert error.retryable
    assert f"http://127.0.0.1:{port}/v2 is unreachable" in error.message
    assert token_of(digitalocean_harness) not in f"{error.message} {error.hint}"


# --- the token Secret ---


@pytest.mark.parametrize(
    ("stored", "reason", "words"),
    [
        pytest.param({}, "SecretMissing", "does not exist", id="a missing Secret"),
        pytest.param(
            {"digitalocean-dns": {"token": b"x"}},
            "SecretInvalidData",
            "has no key 'access-token'",
            id="a Secret without the key",
        ),
        pytest.param(
            {"digitalocean-dns": {"access-token": b" \n"}},
            "SecretInvalidData",
            "is empty",
            id="an empty token",
        ),
        pytest.param(
            {"digitalocean-dns": {"access-token": b"dop_v1_a\ndop_v1_b"}},
            "SecretInvalidData",
            "more than one token",
            id="two tokens on two lines",
        ),
    ],
)
def test_an_unusable_token_secret_means_the_issuer_is_not_ready(
    digitalocean_harness: ProviderHarness,
    digitalocean_server: DigitalOceanServer,
    stored: Mapping[str, Mapping[str, bytes]],
    reason: str,
    words: str,
) -> None:
    provider = provider_with(stored, digitalocean_harness)

    with pytest.raises(IssuerNotReadyError) as caught:
        provider.present("_acme-challenge.www.example.com.", ZONE, value())

    assert caught.value.reason == reason
    assert "cert-manager/digitalocean-dns" in caught.value.message
    assert words in caught.value.message
    assert digitalocean_server.calls == [], "nothing is sent without a usable token"


def test_a_trailing_newline_after_the_token_is_ignored(
    digitalocean_harness: ProviderHarness, digitalocean_server: DigitalOceanServer
) -> None:
    token = token_of(digitalocean_harness)
    stored = {"digitalocean-dns": {"access-token": token.encode() + b"\n"}}
    provider, txt = provider_with(stored, digitalocean_harness), value()

    provider.present("_acme-challenge.nl.example.com.", ZONE, txt)

    assert digitalocean_server.txt_values("_acme-challenge.nl.example.com") == {txt}


# --- the fake says no the way the API does ---


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "error_id"),
    [
        pytest.param(
            "GET", "/domains/example.com/records", {}, None, 401, "unauthorized",
            id="no Authorization header is 401 unauthorized",
        ),
        pytest.param(
            "GET", "/domains/example.com/records", {"Authorization": "Token {token}"}, None,
            401, "unauthorized", id="a scheme other than Bearer is 401 unauthorized",
        ),
        pytest.param(
            "GET", "/domains/nope.example/records", {"Authorization": "Bearer {token}"}, None,
            404, "not_found", id="an unknown domain is 404 not_found",
        ),
        pytest.param(
            "GET", "/domains/example.com/zones", {"Authorization": "Bearer {token}"}, None,
            404, "not_found", id="an unknown path is 404 not_found",
        ),
        pytest.param(
            "POST", "/domains/example.com/records",
            {"Authorization": "Bearer {token}", "Content-Type": "text/plain"},
            b'{"type": "TXT", "name": "a", "data": "b", "ttl": 60}', 400, "bad_request",
            id="a body that is not application/json is 400",
        ),
        pytest.param(
            "POST", "/domains/example.com/records",
            {"Authorization": "Bearer {token}", "Content-Type": "application/json"},
            b'{"type": "TXT", "name": "a.example.com.", "data": "b", "ttl": 60}', 422,
            "unprocessable_entity", id="an absolute record name is 422",
        ),
        pytest.param(
            "POST", "/domains/example.com/records",
            {"Authorization": "Bearer {token}", "Content-Type": "application/json"},
            b'{"type": "TXT", "name": "a", "data": "b", "ttl": 10}', 422,
            "unprocessable_entity", id="a TTL under 30 seconds is 422",
        ),
        pytest.param(
            "DELETE", "/domains/example.com/records/1", {"Authorization": "Bearer {token}"},
            None, 404, "not_found", id="deleting an unknown record is 404 not_found",
        ),
    ],
)  # fmt: skip
def test_the_fake_refuses_what_the_api_refuses(
    digitalocean_harness: ProviderHarness,
    digitalocean_server: DigitalOceanServer,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    error_id: str,
) -> None:
    token = token_of(digitalocean_harness)
    sent = {key: text.format(token=token) for key, text in headers.items()}

    response = requests.request(
        method, f"{digitalocean_server.url}{path}", headers=sent, data=body, timeout=10
    )

    assert response.status_code == status
    assert json.loads(response.content)["id"] == error_id
    assert response.headers["ratelimit-limit"] == "5000"


def test_the_fake_takes_a_name_as_relative_as_the_api_does(
    digitalocean_harness: ProviderHarness, digitalocean_server: DigitalOceanServer
) -> None:
    # The classic mistake: an FQDN without its dot is a name below the domain.
    response = requests.post(
        f"{digitalocean_server.url}/domains/example.com/records",
        headers={"Authorization": f"Bearer {token_of(digitalocean_harness)}"},
        json={"type": "TXT", "name": "a.example.com", "data": "b", "ttl": 60},
        timeout=10,
    )

    assert response.status_code == 201
    assert digitalocean_server.txt_values("a.example.com.example.com") == {"b"}
    assert digitalocean_server.txt_values("a.example.com") == set()
