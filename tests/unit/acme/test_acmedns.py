"""The pure parts of the acmeDNS provider: reading the accounts JSON and picking an account."""

from __future__ import annotations

import json

import pytest

from certctl.acme.solvers.acmedns import account_for, parse_accounts

ACCOUNTS = parse_accounts(
    json.dumps(
        {
            "Example.COM.": {
                "username": "c36f50e8-4632-44f0-83fe-e070fef28a10",
                "password": "htB9mR9DYgcu9bX_afHF62erXaH2TS7bg9KW3F7Z",
                "fulldomain": "8e5700ea-a4bf-41c7-8a77-e990661dcc6a.auth.example.org",
                "subdomain": "8e5700ea-a4bf-41c7-8a77-e990661dcc6a",
                "allowfrom": [],
            }
        }
    ).encode()
)


@pytest.mark.parametrize(
    ("fqdn", "found"),
    [
        pytest.param("_acme-challenge.example.com.", True,
                     id="the challenge name of a domain picks that domain's account"),
        pytest.param("_ACME-CHALLENGE.example.com", True,
                     id="names compare without case or trailing dot"),
        pytest.param("8e5700ea-a4bf-41c7-8a77-e990661dcc6a.auth.example.org.", True,
                     id="after cnameStrategy Follow the fulldomain picks the account"),
        pytest.param("_acme-challenge.www.example.com.", False,
                     id="a subdomain needs an account of its own"),
        pytest.param("example.com.", False, id="a name without _acme-challenge is no domain"),
    ],
)  # fmt: skip
def test_account_for(fqdn: str, found: bool) -> None:
    assert (account_for(fqdn, ACCOUNTS) is not None) is found


def test_an_account_never_shows_its_password() -> None:
    account = ACCOUNTS["example.com"]
    assert account.password not in repr(account)
    assert account.username not in repr(account)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"\xff", "is not JSON", id="bytes that are not UTF-8"),
        pytest.param(b"{}", "is not a JSON object of accounts", id="no accounts at all"),
        pytest.param(b'{"a.com": "x"}', "that is not an object", id="an account that is a string"),
        pytest.param(b'{"a.com": {"username": 1}}', "a username for 'a.com' that is not a string",
                     id="a username that is a number"),
        pytest.param(b'{"a.com": {"username": "u", "password": "p", "subdomain": " "}}',
                     "has no subdomain for 'a.com'", id="a blank subdomain"),
    ],
)  # fmt: skip
def test_parse_accounts_refuses(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_accounts(raw)
