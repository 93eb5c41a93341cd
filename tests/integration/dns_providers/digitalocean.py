"""The digitalocean provider against the strict fake of DigitalOcean's Domain Records API."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from certctl.acme.solvers.digitalocean import API_URL_ENV
from tests.integration.dns_providers.harness import ProviderHarness
from tests.integration.servers.digitalocean import DigitalOceanServer

#: The DigitalOcean domain the harness serves (a zone, as the shared code finds it).
ZONE = "example.com."


@pytest.fixture
def digitalocean_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[DigitalOceanServer]:
    """The fake with the domain ``example.com``, and the provider pointed at it."""
    with DigitalOceanServer() as server:
        server.add_domain(ZONE)
        monkeypatch.setenv(API_URL_ENV, server.url)
        yield server


@pytest.fixture
def digitalocean_harness(digitalocean_server: DigitalOceanServer) -> ProviderHarness:
    token = f"dop_v1_{secrets.token_hex(32)}"
    wrong = f"dop_v1_{secrets.token_hex(32)}"
    digitalocean_server.add_token(token)
    block = {"tokenSecretRef": {"name": "digitalocean-dns", "key": "access-token"}}
    return ProviderHarness(
        key="dns01.digitalocean",
        zone=ZONE,
        block=block,
        secrets={"digitalocean-dns": {"access-token": token.encode()}},
        bad_credentials=(block, {"digitalocean-dns": {"access-token": wrong.encode()}}),
        txt_values=digitalocean_server.txt_values,
        credentials=(token, wrong),
    )
