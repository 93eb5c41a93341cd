"""A wildcard certificate from Pebble through the route53 provider, end to end.

certctl writes the challenge records in moto's Route 53 (through a forwarding proxy);
after each ChangeResourceRecordSets the test copies moto's TXT records under the test's
label into BIND with signed DNS UPDATEs, standing in for Route 53's own nameservers. The
shared code finds the zone by SOA on BIND, the propagation check asks BIND, and Pebble
validates against BIND: order, present, GetChange until INSYNC, propagation,
validation, cleanup and a chain that verifies, through the real provider.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset
import dns.tsig
import dns.update
import pytest
from cryptography import x509

from certctl.acme.solvers import route53
from certctl.acme.solvers.route53 import normalize_name, parse_txt_value
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.integration.acme_helpers import ACMERun, acme_issuer, certificate, describe
from tests.integration.dns_providers.route53 import point_boto3_at, route53_block
from tests.integration.servers.bind import BindServer
from tests.integration.servers.moto_route53 import FaultProxy, MotoRoute53
from tests.integration.servers.pebble import PebbleServer
from tests.integration.test_acme_issue import verifies_to


class RecordBridge:
    """Mirrors moto's TXT records under one name into BIND, as Route 53's servers would."""

    def __init__(self, moto: MotoRoute53, bind: BindServer, suffix: str) -> None:
        self.moto, self.bind, self.suffix = moto, bind, normalize_name(suffix)
        self.mirrored: set[str] = set()
        self.copies = 0
        self._lock = threading.Lock()
        key_name, secret = bind.tsig_keys["hmac-sha256"]
        self._key = dns.tsig.Key(key_name, secret, dns.tsig.HMAC_SHA256)

    def sync(self) -> None:
        with self._lock:
            wanted: dict[str, list[str]] = {}
            for record in self.moto.records(self.moto.zones[self.bind.zone]):
                name = normalize_name(record["Name"])
                if record["Type"] == "TXT" and name.endswith("." + self.suffix):
                    wanted[name] = [
                        parse_txt_value(item["Value"]) for item in record["ResourceRecords"]
                    ]
            update = dns.update.UpdateMessage(self.bind.zone)
            update.use_tsig(self._key)
            for name in self.mirrored | set(wanted):
                update.delete(dns.name.from_text(name), dns.rdatatype.TXT)
                for value in wanted.get(name, []):
                    rdata = dns.rdtypes.ANY.TXT.TXT(
                        dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()]
                    )
                    update.add(dns.name.from_text(name), 10, rdata)
            dns.query.tcp(update, self.bind.host, timeout=5, port=self.bind.port)
            self.mirrored = set(wanted)
            self.copies += 1


@pytest.fixture
def bridged(
    moto_route53: MotoRoute53,
    bind_server: BindServer,
    dns_label: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[FaultProxy, RecordBridge]]:
    point_boto3_at(moto_route53.url, monkeypatch)
    bridge = RecordBridge(moto_route53, bind_server, f"{dns_label}.{bind_server.zone}")
    with FaultProxy(moto_route53.url, on_change=bridge.sync) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", proxy.url)
        monkeypatch.setattr(route53, "CHANGE_POLL_INTERVAL", 0.05)
        yield proxy, bridge


def route53_run(
    tmp_path: Path, moto: MotoRoute53, bind: BindServer, pebble: PebbleServer, user: str
) -> tuple[ACMERun, dict[str, object]]:
    """A run whose store holds ``user``'s secret access key, and its ClusterIssuer."""
    acme = ACMERun(tmp_path, bind, pebble.http_port)
    key = moto.keys[user]
    DirectoryStore(acme.store).write(
        SecretRecord(
            namespace="cert-manager",
            name="route53",
            type="Opaque",
            data={"secret-access-key": key.secret.encode()},
        )
    )
    return acme, acme_issuer(pebble, [{"dns01": {"route53": route53_block(key.id)}}])


def test_route53_issues_a_wildcard_with_its_base_domain_from_pebble(
    tmp_path: Path,
    moto_route53: MotoRoute53,
    bind_server: BindServer,
    pebble_server: PebbleServer,
    bridged: tuple[FaultProxy, RecordBridge],
    dns_label: str,
) -> None:
    proxy, bridge = bridged
    proxy.pending = 1  # the first change reports PENDING once before INSYNC
    acme, issuer = route53_run(tmp_path, moto_route53, bind_server, pebble_server, "dns")
    key = moto_route53.keys["dns"]
    base = f"{dns_label}.{bind_server.zone.rstrip('.')}"
    path = acme.manifest(issuer, certificate("wild", [f"*.{base}", base]))

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    chain = acme.chain("wild-tls")
    names = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted([f"*.{base}", base])
    assert verifies_to(chain, pebble_server.issuance_roots())
    assert bridge.copies >= 4, "every change reached BIND through the bridge"
    fqdn = f"_acme-challenge.{base}."
    # Both values went through Route 53 and were waited for, then cleaned up there.
    assert proxy.calls.count("ChangeResourceRecordSets") >= 4
    assert "GetChange" in proxy.calls
    assert moto_route53.txt_values(fqdn) == set(), "TXT records cleaned up in Route 53"
    assert bind_server.query_txt(fqdn) == [], "and in the copy Pebble saw"
    assert key.secret not in result.stdout + result.stderr


def test_challenge_check_writes_reads_back_and_removes_the_record(
    tmp_path: Path,
    moto_route53: MotoRoute53,
    bind_server: BindServer,
    pebble_server: PebbleServer,
    bridged: tuple[FaultProxy, RecordBridge],
    dns_label: str,
) -> None:
    acme, issuer = route53_run(tmp_path, moto_route53, bind_server, pebble_server, "dns")
    domain = f"check.{dns_label}.{bind_server.zone.rstrip('.')}"
    path = acme.manifest(issuer)

    result = acme.run("challenge", "check", domain, "--issuer", "pebble", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "Result:      passed" in result.stdout
    assert "(dns01.route53)" in result.stdout
    assert moto_route53.txt_values(f"_acme-challenge.{domain}.") == set()


def test_challenge_check_without_the_change_permission_names_the_iam_action(
    tmp_path: Path,
    moto_route53: MotoRoute53,
    bind_server: BindServer,
    pebble_server: PebbleServer,
    bridged: tuple[FaultProxy, RecordBridge],
    dns_label: str,
) -> None:
    acme, issuer = route53_run(tmp_path, moto_route53, bind_server, pebble_server, "readonly")
    domain = f"check.{dns_label}.{bind_server.zone.rstrip('.')}"
    path = acme.manifest(issuer)

    result = acme.run("challenge", "check", domain, "--issuer", "pebble", "-f", path)

    assert result.exit_code == 1, describe(result)
    output = result.stdout + result.stderr
    assert "route53:ChangeResourceRecordSets" in output
    assert "Traceback" not in output
    assert moto_route53.keys["readonly"].secret not in output
