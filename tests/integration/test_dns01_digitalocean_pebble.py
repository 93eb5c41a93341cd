"""dns01.digitalocean end to end: certctl, the DigitalOcean fake, BIND and Pebble.

The fake serves the domain ``example.test``; every record created or deleted through its
API is copied into BIND with a signed DNS UPDATE before the API answers, the way
DigitalOcean's own nameservers publish a record. So the whole chain runs as in real life:
order, present through the API, propagation check on the authoritative server, Pebble's
validation, cleanup through the API, and a chain that verifies.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
from cryptography import x509

from certctl.acme.solvers.digitalocean import API_URL_ENV
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.integration.acme_helpers import ACMERun, acme_issuer, certificate, describe
from tests.integration.servers.bind import BindServer
from tests.integration.servers.digitalocean import DigitalOceanServer
from tests.integration.servers.pebble import PebbleServer


def bridge_to(bind: BindServer) -> Any:
    """An ``on_change`` for the fake that applies each record change to BIND."""
    key_name, secret = bind.tsig_keys["hmac-sha256"]
    keyring = dns.tsigkeyring.from_text({key_name: secret})

    def apply(action: str, fqdn: str, data: str) -> None:
        update = dns.update.UpdateMessage(
            bind.zone, keyring=keyring, keyalgorithm=dns.tsig.HMAC_SHA256
        )
        rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [data.encode()])
        if action == "add":
            update.add(f"{fqdn}.", 60, rdata)
        else:
            update.delete(f"{fqdn}.", rdata)
        response = dns.query.tcp(update, bind.host, timeout=5, port=bind.port)
        assert response.rcode() == dns.rcode.NOERROR, f"BIND refused the {action} of {fqdn}"

    return apply


@pytest.fixture
def digitalocean(
    bind_server: BindServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DigitalOceanServer]:
    with DigitalOceanServer(on_change=bridge_to(bind_server)) as server:
        server.add_domain(bind_server.zone)
        monkeypatch.setenv(API_URL_ENV, server.url)
        yield server


@pytest.fixture
def acme(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_server: PebbleServer,
    digitalocean: DigitalOceanServer,
) -> ACMERun:
    run = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    token = f"dop_v1_{secrets.token_hex(32)}"
    digitalocean.add_token(token)
    DirectoryStore(run.store).write(
        SecretRecord(
            namespace="cert-manager",
            name="digitalocean-dns",
            type="Opaque",
            data={"access-token": token.encode()},
        )
    )
    return run


SOLVER = {
    "dns01": {
        "digitalocean": {"tokenSecretRef": {"name": "digitalocean-dns", "key": "access-token"}}
    }
}


def test_a_wildcard_and_its_base_domain_are_issued_through_the_digitalocean_api(
    acme: ACMERun,
    pebble_server: PebbleServer,
    bind_server: BindServer,
    digitalocean: DigitalOceanServer,
    dns_label: str,
) -> None:
    base = f"{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [SOLVER]), certificate("wild", [f"*.{base}", base])
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    chain = acme.chain("wild-tls")
    names = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted([f"*.{base}", base])
    for child, parent in itertools.pairwise(chain):
        child.verify_directly_issued_by(parent)
    roots = [x509.load_pem_x509_certificate(pem) for pem in pebble_server.issuance_roots()]
    assert any(chain[-1].issuer == root.subject for root in roots)
    # Both authorizations shared the name: two records were created and both deleted.
    creates = [call for call in digitalocean.calls if call.method == "POST"]
    deletes = [call for call in digitalocean.calls if call.method == "DELETE"]
    assert len(creates) == 2 and len(deletes) == 2
    assert {call.body["name"] for call in creates} == {f"_acme-challenge.{dns_label}"}
    assert digitalocean.txt_values(f"_acme-challenge.{base}") == set()
    assert bind_server.query_txt(f"_acme-challenge.{base}.") == []


def test_challenge_check_writes_reads_back_and_removes_the_record(
    acme: ACMERun,
    pebble_server: PebbleServer,
    bind_server: BindServer,
    digitalocean: DigitalOceanServer,
    dns_label: str,
) -> None:
    path = acme.manifest(acme_issuer(pebble_server, [SOLVER]))
    domain = f"*.{dns_label}.example.test"

    result = acme.run("challenge", "check", domain, "--issuer", "pebble", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert report["solver"]["key"] == "dns01.digitalocean"
    assert report["zone"] == "example.test."
    assert "authoritative nameserver" in report["detail"]
    assert [call.method for call in digitalocean.calls].count("POST") == 1
    assert digitalocean.txt_values(f"_acme-challenge.{dns_label}.example.test") == set()
    assert bind_server.query_txt(f"_acme-challenge.{dns_label}.example.test.") == []
