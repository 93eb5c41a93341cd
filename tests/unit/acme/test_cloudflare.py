"""The pure decisions of the cloudflare provider: zone names, TXT quoting, error sentences."""

from __future__ import annotations

import pytest

from certctl.acme.solvers.cloudflare import (
    APIError,
    describe_error,
    txt_content,
    unquote_txt,
    zone_candidates,
)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        pytest.param("example.com.", ["example.com"], id="a registered domain is looked up alone"),
        pytest.param(
            "dev.eu.example.com.",
            ["dev.eu.example.com", "eu.example.com", "example.com"],
            id="a sub-zone is looked up first, then each parent but the TLD",
        ),
        pytest.param("Example.COM", ["example.com"], id="names are lower-cased"),
        pytest.param("test.", ["test"], id="a single label is looked up as it is"),
    ],
)
def test_zone_candidates(zone: str, expected: list[str]) -> None:
    assert zone_candidates(zone) == expected


@pytest.mark.parametrize(
    ("content", "value"),
    [
        pytest.param('"abc"', "abc", id="one quoted string is its value"),
        pytest.param("abc", "abc", id="legacy unquoted content is its value"),
        pytest.param('"ab" "cd"', "abcd", id="several strings are joined as a resolver joins them"),
        pytest.param('"a\\"b"', 'a"b', id="an escaped quote is part of the value"),
        pytest.param('"abc', '"abc', id="an unbalanced quote is taken as written"),
    ],
)
def test_unquote_txt(content: str, value: str) -> None:
    assert unquote_txt(content) == value


def test_a_value_is_sent_as_one_quoted_string() -> None:
    value = "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo"
    assert unquote_txt(txt_content(value)) == value
    assert txt_content(value) == f'"{value}"'


SECRET = "cert-manager/cf key 'api-token'"


@pytest.mark.parametrize(
    ("error", "scheme", "reason", "retryable", "hint_words"),
    [
        pytest.param(
            APIError(403, ((9109, "Invalid access token"),)),
            "token",
            "Unauthorized",
            False,
            ["cert-manager/cf key 'api-token'", "Zone:Zone:Read and Zone:DNS:Edit"],
            id="an unknown token names the Secret and the scopes",
        ),
        pytest.param(
            APIError(400, ((6003, "Invalid request headers"), (6103, "Invalid format"))),
            "key",
            "Unauthorized",
            False,
            ["Global API Key", "email"],
            id="a malformed Global API Key points at the key and the email",
        ),
        pytest.param(
            APIError(403, ((10000, "Authentication error"),)),
            "token",
            "Forbidden",
            False,
            ["Zone:Zone:Read and Zone:DNS:Edit", "Zone Resources"],
            id="a token without the permission is told which scopes to add",
        ),
        pytest.param(
            APIError(429, ((971, "Please wait and consider throttling your request speed"),)),
            "token",
            "Throttled",
            True,
            ["1200 API requests per 5 minutes"],
            id="throttling is retryable and says the limit",
        ),
        pytest.param(
            APIError(503, ()),
            "token",
            "Failed",
            True,
            ["cloudflarestatus.com"],
            id="a server error is retryable",
        ),
        pytest.param(
            APIError(400, ((1004, "DNS Validation Error"),)),
            "token",
            "Failed",
            False,
            ["--debug"],
            id="another refusal quotes Cloudflare's code and is final",
        ),
    ],
)
def test_describe_error(
    error: APIError, scheme: str, reason: str, retryable: bool, hint_words: list[str]
) -> None:
    described = describe_error(error, what="do it", secret=SECRET, scheme=scheme)

    assert described.reason == reason
    assert described.retryable is retryable
    assert described.exit_code == 1
    assert error.text() in described.message
    assert "\n" not in described.message
    for words in hint_words:
        assert words in described.hint
