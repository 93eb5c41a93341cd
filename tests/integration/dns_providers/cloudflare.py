"""The cloudflare provider against the strict fake of the Cloudflare API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certctl.acme.solvers.cloudflare import API_URL_ENV
from tests.integration.dns_providers.harness import ProviderHarness
from tests.integration.servers.cloudflare import CloudflareServer, new_token


@pytest.fixture
def cloudflare_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudflareServer]:
    """The fake, holding ``example.test``, with the provider pointed at it."""
    with CloudflareServer(zones=("example.test",)) as server:
        monkeypatch.setenv(API_URL_ENV, server.url)
        yield server


@pytest.fixture
def cloudflare_harness(cloudflare_server: CloudflareServer) -> ProviderHarness:
    token = cloudflare_server.add_token(zone_read=["example.test"], dns_edit=["example.test"])
    # A token in Cloudflare's format that the server does not know: 403, code 9109.
    wrong = new_token()
    block = {"apiTokenSecretRef": {"name": "cloudflare-api-token", "key": "api-token"}}
    return ProviderHarness(
        key="dns01.cloudflare",
        zone="example.test.",
        block=block,
        # A trailing newline, as `kubectl create secret --from-file` often leaves it.
        secrets={"cloudflare-api-token": {"api-token": f"{token}\n".encode()}},
        bad_credentials=(block, {"cloudflare-api-token": {"api-token": wrong.encode()}}),
        txt_values=cloudflare_server.txt_values,
        credentials=(token, wrong),
    )
