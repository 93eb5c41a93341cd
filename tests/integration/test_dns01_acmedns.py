"""The acmeDNS provider against the strict fake of acme-dns's API: its documented behaviour.

acme-dns is not in the shared contract suite: it keeps the two most recent TXT values of
a subdomain and has no delete, so its cleanup is a no-op (as in cert-manager) and the
contract's "cleanup removes the value" cannot hold. These tests assert what acme-dns
documents instead: an update replaces the older of two values, a wildcard and its base
name are served together, cleanup sends nothing, and the refusals are sentences.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Mapping

import pytest
import requests

from certctl.acme.solvers.acmedns import AcmeDNSProvider
from certctl.errors import IssuanceError, IssuerNotReadyError
from tests.integration.dns_providers.acmedns import (
    DOMAIN,
    acmedns_harness,
    acmedns_server,
)
from tests.integration.dns_providers.harness import ProviderHarness, context
from tests.integration.servers.acmedns import AcmeDNSServer, Registration

#: The harness fixtures the tests below take, imported so pytest finds them here.
FIXTURES = (acmedns_server, acmedns_harness)

FQDN = f"_acme-challenge.{DOMAIN}."


def value() -> str:
    """A DNS-01 value: base64url of a SHA-256, 43 characters."""
    return secrets.token_urlsafe(32)


def the_account(server: AcmeDNSServer) -> Registration:
    [account] = server.accounts.values()
    return account


def provider_with(
    harness: ProviderHarness, stored: Mapping[str, Mapping[str, bytes]], **block: object
) -> AcmeDNSProvider:
    return AcmeDNSProvider({**harness.block, **block}, context(harness.settings, stored))


def test_present_posts_the_value_with_the_account_headers(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    account, txt = the_account(acmedns_server), value()

    acmedns_harness.build().present(FQDN, "example.com.", txt)

    [call] = acmedns_server.calls
    assert (call.method, call.path, call.status) == ("POST", "/update", 200)
    assert call.headers["X-Api-User"] == account.username
    assert call.headers["X-Api-Key"] == account.password
    assert call.body == {"subdomain": account.subdomain, "txt": txt}
    assert acmedns_server.txt_values(account.fulldomain) == {txt}


def test_a_wildcard_and_its_base_name_are_served_together(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    provider, wildcard, base = acmedns_harness.build(), value(), value()

    provider.present(FQDN, "example.com.", wildcard)
    provider.present(FQDN, "example.com.", base)

    assert acmedns_server.txt_values(the_account(acmedns_server).fulldomain) == {wildcard, base}


def test_a_third_value_replaces_the_oldest_of_the_two(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    provider, first, second, third = acmedns_harness.build(), value(), value(), value()

    for txt in (first, second, third):
        provider.present(FQDN, "example.com.", txt)

    assert acmedns_server.txt_values(the_account(acmedns_server).fulldomain) == {second, third}


def test_cleanup_sends_nothing_and_leaves_the_values(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    provider, txt = acmedns_harness.build(), value()
    provider.present(FQDN, "example.com.", txt)

    provider.cleanup(FQDN, "example.com.", txt)
    provider.cleanup(FQDN, "example.com.", value())  # never presented: no error either

    assert len(acmedns_server.calls) == 1
    assert acmedns_server.txt_values(the_account(acmedns_server).fulldomain) == {txt}


def test_after_cname_follow_the_account_is_found_by_its_fulldomain(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    account, txt = the_account(acmedns_server), value()

    acmedns_harness.build().present(f"{account.fulldomain}.", "auth.example.org.", txt)

    assert acmedns_server.txt_values(account.fulldomain) == {txt}


def test_refused_credentials_are_one_sentence_that_never_quotes_them(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    with pytest.raises(IssuanceError) as caught:
        acmedns_harness.build(bad=True).present(FQDN, "example.com.", value())

    error = caught.value
    assert error.reason == "InvalidCredentials" and error.exit_code == 1
    assert "(401 forbidden)" in error.message and "\n" not in error.message
    assert "allowfrom" in error.hint
    account = the_account(acmedns_server)
    text = f"{error.message} {error.hint}"
    for secret in (*acmedns_harness.credentials, account.username):
        assert secret not in text
    assert acmedns_server.txt_values(account.fulldomain) == set()


def test_a_domain_without_an_account_names_the_domains_there_are(
    acmedns_harness: ProviderHarness,
) -> None:
    with pytest.raises(IssuerNotReadyError) as caught:
        acmedns_harness.build().present("_acme-challenge.www.example.net.", "example.net.", value())

    error = caught.value
    assert error.reason == "SecretInvalidData"
    assert "have none for 'www.example.net' (they have 'example.com')" in error.message
    assert "CNAME" in error.hint and "/register" in error.hint


def test_a_value_acme_dns_does_not_take_is_explained(acmedns_harness: ProviderHarness) -> None:
    with pytest.raises(IssuanceError) as caught:
        acmedns_harness.build().present(FQDN, "example.com.", "too-short")

    assert "(400 bad_txt)" in caught.value.message
    assert "exactly 43 characters" in caught.value.message


@pytest.mark.parametrize(
    ("stored", "reason", "words"),
    [
        pytest.param({}, "SecretMissing", "does not exist", id="a missing Secret"),
        pytest.param(
            {"acme-dns": {"other.json": b"{}"}},
            "SecretInvalidData",
            "has no key 'acmedns.json'",
            id="a Secret without the key",
        ),
        pytest.param(
            {"acme-dns": {"acmedns.json": b"username=x"}},
            "SecretInvalidData",
            "is not JSON",
            id="a key that is not JSON",
        ),
        pytest.param(
            {"acme-dns": {"acmedns.json": b'["example.com"]'}},
            "SecretInvalidData",
            "is not a JSON object of accounts keyed by domain",
            id="a JSON list",
        ),
        pytest.param(
            {"acme-dns": {"acmedns.json": b'{"example.com": {"username": "u", "password": "p"}}'}},
            "SecretInvalidData",
            "has no subdomain for 'example.com'",
            id="an account without its subdomain",
        ),
    ],
)
def test_an_unusable_account_secret_means_the_issuer_is_not_ready(
    acmedns_harness: ProviderHarness,
    acmedns_server: AcmeDNSServer,
    stored: Mapping[str, Mapping[str, bytes]],
    reason: str,
    words: str,
) -> None:
    with pytest.raises(IssuerNotReadyError) as caught:
        provider_with(acmedns_harness, stored).present(FQDN, "example.com.", value())

    assert caught.value.reason == reason
    assert "cert-manager/acme-dns" in caught.value.message
    assert words in caught.value.message
    assert acmedns_server.calls == []


def test_a_host_that_is_not_a_url_is_refused(acmedns_harness: ProviderHarness) -> None:
    with pytest.raises(IssuanceError, match="is not an http\\(s\\) URL"):
        provider_with(acmedns_harness, acmedns_harness.secrets, host="auth.example.org")


def test_an_unreachable_host_is_retryable(acmedns_harness: ProviderHarness) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = provider_with(
        acmedns_harness, acmedns_harness.secrets, host=f"http://127.0.0.1:{port}"
    )

    with pytest.raises(IssuanceError) as caught:
        provider.present(FQDN, "example.com.", value())

    assert caught.value.retryable
    assert "the server is unreachable" in caught.value.message


def test_a_trailing_slash_on_host_still_reaches_update(
    acmedns_harness: ProviderHarness, acmedns_server: AcmeDNSServer
) -> None:
    provider = provider_with(
        acmedns_harness, acmedns_harness.secrets, host=acmedns_server.url + "/"
    )

    provider.present(FQDN, "example.com.", value())

    assert [call.path for call in acmedns_server.calls] == ["/update"]


# --- the fake says no the way acme-dns does ---


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        pytest.param({"X-Api-Key": "short"}, 401, "forbidden", id="a key not 40 long is 401"),
        pytest.param({"X-Api-Key": "y" * 40}, 401, "forbidden", id="a wrong key is 401"),
        pytest.param({"X-Api-User": "not-a-uuid"}, 401, "forbidden", id="an unknown user is 401"),
        pytest.param({"subdomain": "someone-else"}, 401, "forbidden",
                     id="another account's subdomain is 401"),
        pytest.param({"txt": "a" * 42}, 400, "bad_txt", id="a txt of 42 characters is 400"),
        pytest.param({"txt": "a" * 42 + "!"}, 400, "bad_txt",
                     id="a txt with a character outside base64url is 400"),
    ],
)  # fmt: skip
def test_the_fake_refuses_what_acme_dns_refuses(
    acmedns_server: AcmeDNSServer, change: dict[str, str], status: int, error: str
) -> None:
    account = acmedns_server.register()
    headers = {"X-Api-User": account.username, "X-Api-Key": account.password}
    body = {"subdomain": account.subdomain, "txt": value()}
    headers.update({k: v for k, v in change.items() if k.startswith("X-")})
    body.update({k: v for k, v in change.items() if not k.startswith("X-")})

    response = requests.post(f"{acmedns_server.url}/update", headers=headers, json=body, timeout=10)

    assert response.status_code == status
    assert json.loads(response.content) == {"error": error}
    assert acmedns_server.txt_values(account.fulldomain) == set()


def test_the_fake_routes_like_acme_dns(acmedns_server: AcmeDNSServer) -> None:
    assert requests.get(f"{acmedns_server.url}/update", timeout=10).status_code == 405
    assert requests.post(f"{acmedns_server.url}/delete", timeout=10).status_code == 404
    registered = requests.post(f"{acmedns_server.url}/register", timeout=10)
    assert registered.status_code == 201
    assert set(registered.json()) == {
        "username",
        "password",
        "fulldomain",
        "subdomain",
        "allowfrom",
    }
