"""An ACME issuer whose Secrets are missing is not ready: no backoff, issued once fixed.

cert-manager waits for an Issuer to become Ready and then issues at once. certctl
fails the Certificate for the run (exit 1), records why, and does not back off:
the first run after the Secret is created issues.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.integration.acme_helpers import (
    ACMERun,
    acme_issuer,
    certificate,
    describe,
    rfc2136,
    standalone,
)
from tests.integration.servers.bind import BindServer
from tests.integration.servers.pebble import PebbleServer

EAB_KEY_ID = "kid-1"
EAB_HMAC_KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


def test_a_missing_eab_secret_fails_without_backoff_and_issues_once_created(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_factory: Callable[..., PebbleServer],
    dns_label: str,
) -> None:
    pebble = pebble_factory(eab_keys={EAB_KEY_ID: EAB_HMAC_KEY})
    acme = ACMERun(tmp_path, bind_server, pebble.http_port)
    eab = {"keyID": EAB_KEY_ID, "keySecretRef": {"name": "eab", "key": "secret"}}
    path = acme.manifest(
        acme_issuer(pebble, [standalone(pebble.http_port)], externalAccountBinding=eab),
        certificate("web", [f"web.{dns_label}.example.test"]),
    )

    first = acme.run("issue", "-f", path, "-o", "json")
    again = acme.run("issue", "-f", path, "-o", "json")
    DirectoryStore(acme.store).write(
        SecretRecord(
            namespace="cert-manager",
            name="eab",
            type="Opaque",
            data={"secret": EAB_HMAC_KEY.encode()},
        )
    )
    fixed = acme.run("issue", "-f", path, "-o", "json")

    assert first.exit_code == 1, describe(first)
    web = acme.results(first)["web"]
    assert web["action"] == "Failed"
    assert "External Account Binding HMAC key secret cert-manager/eab" in web["error"]
    assert "does not exist" in web["error"]
    assert again.exit_code == 1, describe(again)
    assert acme.results(again)["web"]["action"] == "Failed"
    assert "backs off" not in again.stderr
    assert fixed.exit_code == 0, describe(fixed) + pebble.log_tail()
    assert acme.results(fixed)["web"]["action"] == "Issued"
    assert acme.chain("web-tls")


def test_a_missing_tsig_secret_fails_without_backoff_and_issues_once_created(
    tmp_path: Path, bind_server: BindServer, pebble_server: PebbleServer, dns_label: str
) -> None:
    acme = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    name = f"tsig.{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [rfc2136(bind_server)]),
        certificate("dns", [name]),
    )

    first = acme.run("issue", "-f", path, "-o", "json")
    again = acme.run("issue", "-f", path, "-o", "json")
    acme.write_tsig_secret()
    fixed = acme.run("issue", "-f", path, "-o", "json")

    assert first.exit_code == 1, describe(first)
    item = acme.results(first)["dns"]
    assert (item["action"], item["reason"]) == ("Failed", "SecretMissing")
    assert "the rfc2136 TSIG secret cert-manager/tsig does not exist" in item["error"]
    assert again.exit_code == 1, describe(again)
    assert acme.results(again)["dns"]["action"] == "Failed"
    assert "backs off" not in again.stderr
    assert fixed.exit_code == 0, describe(fixed) + pebble_server.log_tail()
    assert acme.results(fixed)["dns"]["action"] == "Issued"
