"""The contract every DNS-01 provider passes, run over each provider's harness.

lego's lesson: a provider only adds and removes one TXT value. These tests say what
that means, the same way for every provider, against its real server or strict fake:
the value appears and disappears at the FQDN, other values at the same name survive
(a wildcard and its base name share one record), both calls are idempotent, cleanup
never raises for what is already gone, and refused credentials are one sentence with
a hint that never quotes the credential. Adding a provider: write its harness fixture
under ``tests/integration/dns_providers/`` and add its name to ``HARNESSES``.
"""

from __future__ import annotations

import secrets

import pytest

from certctl.errors import CertctlError
from tests.integration.dns_providers.cloudflare import (  # noqa: F401
    cloudflare_harness,
    cloudflare_server,
)
from tests.integration.dns_providers.digitalocean import (  # noqa: F401
    digitalocean_harness,
    digitalocean_server,
)
from tests.integration.dns_providers.harness import ProviderHarness
from tests.integration.dns_providers.rfc2136 import rfc2136_harness  # noqa: F401
from tests.integration.dns_providers.route53 import route53_harness  # noqa: F401

#: The harness fixtures, one per provider.
HARNESSES = [
    "rfc2136_harness",
    "cloudflare_harness",
    "digitalocean_harness",
    "route53_harness",
]


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest) -> ProviderHarness:
    value: ProviderHarness = request.getfixturevalue(request.param)
    return value


@pytest.fixture
def fqdn(harness: ProviderHarness) -> str:
    return f"_acme-challenge.contract-{secrets.token_hex(4)}.{harness.zone}"


def token() -> str:
    return secrets.token_urlsafe(32)


def test_present_adds_the_value_and_cleanup_removes_it(harness: ProviderHarness, fqdn: str) -> None:
    provider, value = harness.build(), token()

    provider.present(fqdn, harness.zone, value)
    assert harness.txt_values(fqdn) == {value}

    provider.cleanup(fqdn, harness.zone, value)
    assert harness.txt_values(fqdn) == set()


def test_present_twice_leaves_one_value(harness: ProviderHarness, fqdn: str) -> None:
    provider, value = harness.build(), token()

    provider.present(fqdn, harness.zone, value)
    provider.present(fqdn, harness.zone, value)

    assert harness.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, harness.zone, value)


def test_a_wildcard_and_its_base_name_share_the_record(harness: ProviderHarness, fqdn: str) -> None:
    provider, wildcard, base = harness.build(), token(), token()

    provider.present(fqdn, harness.zone, wildcard)
    provider.present(fqdn, harness.zone, base)
    assert harness.txt_values(fqdn) == {wildcard, base}

    provider.cleanup(fqdn, harness.zone, wildcard)
    assert harness.txt_values(fqdn) == {base}
    provider.cleanup(fqdn, harness.zone, base)
    assert harness.txt_values(fqdn) == set()


def test_cleanup_never_raises_for_what_is_already_gone(harness: ProviderHarness, fqdn: str) -> None:
    provider, value = harness.build(), token()

    provider.cleanup(fqdn, harness.zone, value)  # never presented
    provider.present(fqdn, harness.zone, value)
    provider.cleanup(fqdn, harness.zone, value)
    provider.cleanup(fqdn, harness.zone, value)  # twice

    assert harness.txt_values(fqdn) == set()


def test_refused_credentials_are_one_sentence_that_never_quotes_them(
    harness: ProviderHarness, fqdn: str
) -> None:
    if harness.bad_credentials is None:
        pytest.fail(f"{harness.key}: the harness must give credentials the server refuses")
    provider = harness.build(bad=True)

    with pytest.raises(CertctlError) as caught:
        provider.present(fqdn, harness.zone, token())

    error = caught.value
    assert error.exit_code == 1
    assert error.hint, "a refusal says what to try"
    text = f"{error.message} {error.hint}"
    assert "\n" not in error.message and "Traceback" not in text
    for credential in harness.credentials:
        assert credential not in text
    assert harness.txt_values(fqdn) == set()
