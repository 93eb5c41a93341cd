"""dns01.acmeDNS end to end: certctl, the acme-dns fake, BIND and Pebble.

The fake serves names below ``acme-dns.example.test``; each update is copied into BIND
(the older value of the two replaced, as acme-dns's DNS side serves them) before the API
answers. The test makes ``_acme-challenge.<name>.example.test`` a CNAME to the account's
``fulldomain``, the one-time setup acme-dns asks for, and the solver follows it.

The acme-dns names sit in BIND's own ``example.test`` zone, not in ``other.test``: BIND
without recursion does not chase a CNAME into another zone in its answer, and Pebble asks
BIND directly, so a target in another zone would stay invisible to the CA (a public
recursive resolver, which a real CA uses, follows it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.tsigkeyring
import dns.update
import pytest
from cryptography import x509

from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.integration.acme_helpers import ACMERun, acme_issuer, certificate, describe
from tests.integration.servers.acmedns import AcmeDNSServer, Registration
from tests.integration.servers.bind import BindServer
from tests.integration.servers.pebble import PebbleServer


def send(bind: BindServer, zone: str, build: Any) -> None:
    key_name, secret = bind.tsig_keys["hmac-sha256"]
    keyring = dns.tsigkeyring.from_text({key_name: secret})
    update = dns.update.UpdateMessage(zone, keyring=keyring, keyalgorithm=dns.tsig.HMAC_SHA256)
    build(update)
    response = dns.query.tcp(update, bind.host, timeout=5, port=bind.port)
    assert response.rcode() == dns.rcode.NOERROR, "BIND refused the update"


def bridge_to(bind: BindServer) -> Any:
    """An ``on_change`` for the fake: serve the subdomain's two newest values from BIND."""

    def apply(fulldomain: str, old: str, new: str) -> None:
        def build(update: dns.update.UpdateMessage) -> None:
            txt = dns.rdataclass.IN, dns.rdatatype.TXT
            if old:
                update.delete(f"{fulldomain}.", dns.rdtypes.ANY.TXT.TXT(*txt, [old.encode()]))
            update.add(f"{fulldomain}.", 60, dns.rdtypes.ANY.TXT.TXT(*txt, [new.encode()]))

        send(bind, bind.zone, build)

    return apply


@pytest.fixture
def acmedns(bind_server: BindServer) -> Iterator[AcmeDNSServer]:
    with AcmeDNSServer(
        domain=f"acme-dns.{bind_server.zone.rstrip('.')}", on_change=bridge_to(bind_server)
    ) as server:
        yield server


def delegate(bind: BindServer, domain: str, account: Registration) -> None:
    """The one-time CNAME from the domain's challenge name to the account's fulldomain."""

    def build(update: dns.update.UpdateMessage) -> None:
        target = dns.name.from_text(account.fulldomain)
        rdata = dns.rdtypes.ANY.CNAME.CNAME(dns.rdataclass.IN, dns.rdatatype.CNAME, target)
        update.add(f"_acme-challenge.{domain}.", 60, rdata)

    send(bind, bind.zone, build)


def test_a_wildcard_and_its_base_domain_are_issued_through_acme_dns(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_server: PebbleServer,
    acmedns: AcmeDNSServer,
    dns_label: str,
) -> None:
    base = f"{dns_label}.example.test"
    account = acmedns.register()
    delegate(bind_server, base, account)
    run = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    DirectoryStore(run.store).write(
        SecretRecord(
            namespace="cert-manager",
            name="acme-dns",
            type="Opaque",
            data={"acmedns.json": json.dumps({base: account.as_json()}).encode()},
        )
    )
    solver = {
        "dns01": {
            "cnameStrategy": "Follow",
            "acmeDNS": {
                "host": acmedns.url,
                "accountSecretRef": {"name": "acme-dns", "key": "acmedns.json"},
            },
        }
    }
    path = run.manifest(
        acme_issuer(pebble_server, [solver]), certificate("wild", [f"*.{base}", base])
    )

    result = run.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    leaf = run.chain("wild-tls")[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted([f"*.{base}", base])
    updates = [call for call in acmedns.calls if call.path == "/update"]
    assert [call.status for call in updates] == [200, 200]
    # acme-dns has no delete: both values stay until the next two updates replace them.
    assert len(acmedns.txt_values(account.fulldomain)) == 2
