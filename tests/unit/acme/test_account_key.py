"""An ACME account key that does not decode is named in plain words, before any request."""

from __future__ import annotations

import pytest

from certctl.acme.client import ACMEClient
from certctl.errors import IssuanceError


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"garbage\n",
            "the ACME account key is text that is not PEM (there is no -----BEGIN line)",
            id="a text account key says it is not PEM",
        ),
        pytest.param(
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "has a PEM RSA PRIVATE KEY block whose contents do not decode",
            id="a damaged account key says it is damaged",
        ),
    ],
)
def test_an_undecodable_account_key_is_a_plain_sentence(data: bytes, expected: str) -> None:
    # Port 9 (discard) on loopback: the key is checked before anything is sent.
    with pytest.raises(IssuanceError) as caught:
        ACMEClient.connect("https://127.0.0.1:9/directory", data)
    assert caught.value.reason == "InvalidAccountKey"
    assert expected in caught.value.message
    assert "MalformedFraming" not in caught.value.message
    assert "ParseError" not in caught.value.message
