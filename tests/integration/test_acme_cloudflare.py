"""A wildcard certificate from Pebble through the cloudflare provider, end to end.

certctl writes the TXT records through the Cloudflare API (the strict fake); the test
bridges each record the fake creates or deletes into BIND with a signed DNS UPDATE, as
Cloudflare's edge would serve it, so the whole chain runs: order, present through the
API, the propagation check on the authoritative server, Pebble's validation, cleanup.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certctl.acme.solvers.cloudflare import API_URL_ENV
from certctl.acme.solvers.rfc2136 import RFC2136Provider
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.integration.acme_helpers import ACMERun, acme_issuer, certificate, describe
from tests.integration.dns_providers.harness import context
from tests.integration.servers.bind import BindServer
from tests.integration.servers.cloudflare import CloudflareServer, unquote
from tests.integration.servers.pebble import PebbleServer


@pytest.fixture
def bridged(monkeypatch: pytest.MonkeyPatch, bind_server: BindServer) -> Iterator[CloudflareServer]:
    """The Cloudflare fake for ``example.test``, its records copied into BIND."""
    key_name, secret = bind_server.tsig_keys["hmac-sha256"]
    block = {
        "nameserver": bind_server.address,
        "tsigKeyName": key_name,
        "tsigAlgorithm": "HMACSHA256",
        "tsigSecretSecretRef": {"name": "tsig", "key": "k"},
    }
    bind = RFC2136Provider(
        block, context(bind_server.acme_settings(), {"tsig": {"k": secret.encode()}})
    )

    def copy(action: str, name: str, content: str) -> None:
        if action == "add":
            bind.present(f"{name}.", "example.test.", unquote(content))
        else:
            bind.cleanup(f"{name}.", "example.test.", unquote(content))

    with CloudflareServer(zones=("example.test",)) as server:
        server.on_change.append(copy)
        monkeypatch.setenv(API_URL_ENV, server.url)
        yield server


def test_a_wildcard_and_its_base_name_are_issued_through_cloudflare(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_server: PebbleServer,
    bridged: CloudflareServer,
    dns_label: str,
) -> None:
    acme = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    token = bridged.add_token(zone_read=["example.test"], dns_edit=["example.test"])
    DirectoryStore(acme.store).write(
        SecretRecord("cert-manager", "cloudflare-api-token", {"api-token": token.encode()})
    )
    solver = {
        "dns01": {
            "cloudflare": {
                "apiTokenSecretRef": {"name": "cloudflare-api-token", "key": "api-token"}
            }
        }
    }
    base = f"{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [solver]), certificate("wild", [f"*.{base}", base])
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    leaf = acme.chain("wild-tls")[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted([f"*.{base}", base])
    posts = bridged.requests("POST")
    assert len(posts) == 2, "one record per value: the wildcard's and the base name's"
    assert len(bridged.requests("DELETE")) == 2
    assert bridged.txt_values(f"_acme-challenge.{base}.") == set()
    assert bind_server.query_txt(f"_acme-challenge.{base}.") == [], "cleaned up"
    assert token not in result.stdout + result.stderr
