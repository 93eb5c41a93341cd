"""The rfc2136 provider against the real BIND of the integration fixtures."""

from __future__ import annotations

import pytest

from tests.integration.dns_providers.harness import ProviderHarness
from tests.integration.servers.bind import BindServer


@pytest.fixture
def rfc2136_harness(bind_server: BindServer) -> ProviderHarness:
    key_name, secret = bind_server.tsig_keys["hmac-sha256"]
    block = {
        "nameserver": bind_server.address,
        "tsigKeyName": key_name,
        "tsigAlgorithm": "HMACSHA256",
        "tsigSecretSecretRef": {"name": "tsig", "key": "tsig-secret-key"},
    }
    # A key BIND does not know: the server answers NOTAUTH (BADKEY).
    wrong = "c2VjcmV0LXRoYXQtYmluZC1kb2VzLW5vdC1rbm93"
    return ProviderHarness(
        key="dns01.rfc2136",
        zone=bind_server.zone,
        block=block,
        secrets={"tsig": {"tsig-secret-key": secret.encode()}},
        bad_credentials=(block, {"tsig": {"tsig-secret-key": wrong.encode()}}),
        txt_values=lambda fqdn: set(bind_server.query_txt(fqdn)),
        credentials=(secret, wrong),
        settings=bind_server.acme_settings(),
    )
