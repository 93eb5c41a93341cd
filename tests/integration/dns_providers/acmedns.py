"""The acmeDNS provider against the strict fake of acme-dns's /update API.

Not in the contract suite's HARNESSES: acme-dns has no delete (cleanup is a no-op) and
keeps the two most recent values of a subdomain, so "cleanup removes the value" cannot
hold. ``tests/integration/test_dns01_acmedns.py`` asserts its documented behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.integration.dns_providers.harness import ProviderHarness
from tests.integration.servers.acmedns import AcmeDNSServer, Registration

#: The domain whose _acme-challenge name is a CNAME to the account's fulldomain.
DOMAIN = "example.com"


@pytest.fixture
def acmedns_server() -> Iterator[AcmeDNSServer]:
    with AcmeDNSServer() as server:
        yield server


def accounts_json(accounts: dict[str, Registration]) -> bytes:
    """The Secret's JSON: what /register answered, keyed by domain (as cert-manager reads it)."""
    return json.dumps({domain: account.as_json() for domain, account in accounts.items()}).encode()


@pytest.fixture
def acmedns_harness(acmedns_server: AcmeDNSServer) -> ProviderHarness:
    account = acmedns_server.register()
    wrong = Registration(account.username, "x" * 40, account.subdomain, account.fulldomain)
    block = {
        "host": acmedns_server.url,
        "accountSecretRef": {"name": "acme-dns", "key": "acmedns.json"},
    }
    return ProviderHarness(
        key="dns01.acmeDNS",
        # The zone and FQDN acme-dns answers for: the CNAME target of _acme-challenge.
        zone=f"{acmedns_server.domain}.",
        block=block,
        secrets={"acme-dns": {"acmedns.json": accounts_json({DOMAIN: account})}},
        bad_credentials=(block, {"acme-dns": {"acmedns.json": accounts_json({DOMAIN: wrong})}}),
        txt_values=lambda fqdn: acmedns_server.txt_values(account.fulldomain),
        credentials=(account.password, wrong.password),
    )
