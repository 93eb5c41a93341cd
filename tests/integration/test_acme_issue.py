"""ACME issuance end to end: certctl against Pebble (the CA) and BIND (the DNS)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from tests.entrypoint import certctl_binary
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


@pytest.fixture
def acme(tmp_path: Path, bind_server: BindServer, pebble_server: PebbleServer) -> ACMERun:
    run = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    run.write_tsig_secret()
    return run


def verifies_to(chain: list[x509.Certificate], roots_pem: list[bytes]) -> bool:
    """Each certificate is signed by the next, and the last by one of the roots."""
    roots = [x509.load_pem_x509_certificate(pem) for pem in roots_pem]
    for child, parent in itertools.pairwise(chain):
        child.verify_directly_issued_by(parent)
    for root in roots:
        try:
            chain[-1].verify_directly_issued_by(root)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


def sans(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(names.get_values_for_type(x509.DNSName))


def test_http01_standalone_issues_a_chain_that_verifies(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    name = f"web.{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [standalone(pebble_server.http_port)]),
        certificate("web", [name]),
    )

    result = acme.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    chain = acme.chain("web-tls")
    assert sans(chain[0]) == [name]
    assert verifies_to(chain, pebble_server.issuance_roots())
    assert not (acme.secret("web-tls") / "ca.crt").exists(), "ACME secrets carry no ca.crt"
    key = serialization.load_pem_private_key(
        (acme.secret("web-tls") / "tls.key").read_bytes(), password=None
    )
    assert key.public_key() == chain[0].public_key()
    account = acme.secret("pebble-account", "cert-manager") / "tls.key"
    assert account.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")


def test_the_account_key_is_reused_on_the_next_run(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    issuer = acme_issuer(pebble_server, [standalone(pebble_server.http_port)])
    first = acme.manifest(issuer, certificate("one", [f"one.{dns_label}.example.test"]))
    assert acme.run("issue", "-f", first).exit_code == 0
    account = (acme.secret("pebble-account", "cert-manager") / "tls.key").read_bytes()

    second = acme.manifest(
        issuer, certificate("two", [f"two.{dns_label}.example.test"]), name="second.yaml"
    )
    result = acme.run("issue", "-f", second)

    assert result.exit_code == 0, describe(result)
    assert (acme.secret("pebble-account", "cert-manager") / "tls.key").read_bytes() == account


def test_http01_webroot_writes_the_token_where_a_web_server_serves_it(
    acme: ACMERun,
    pebble_server: PebbleServer,
    dns_label: str,
    web_server: Callable[[Path, int], None],
) -> None:
    webroot = acme.root / "www"
    webroot.mkdir()
    web_server(webroot, pebble_server.http_port)
    path = acme.manifest(
        acme_issuer(pebble_server, [{"http01": {"webroot": {"path": str(webroot)}}}]),
        certificate("site", [f"site.{dns_label}.example.test"]),
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert sans(acme.chain("site-tls")[0]) == [f"site.{dns_label}.example.test"]
    assert list((webroot / ".well-known" / "acme-challenge").glob("*")) == [], "cleaned up"


def test_dns01_rfc2136_issues_a_wildcard_with_its_base_domain(
    acme: ACMERun, pebble_server: PebbleServer, bind_server: BindServer, dns_label: str
) -> None:
    base = f"{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [rfc2136(bind_server)]),
        certificate("wild", [f"*.{base}", base]),
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    assert sans(acme.chain("wild-tls")[0]) == sorted([f"*.{base}", base])
    assert bind_server.query_txt(f"_acme-challenge.{base}.") == [], "TXT records cleaned up"


@pytest.mark.parametrize(
    "algorithm",
    [
        pytest.param("hmac-md5", id="tsig hmac-md5"),
        pytest.param("hmac-sha512", id="tsig hmac-sha512"),
    ],
)
def test_dns01_rfc2136_with_other_tsig_algorithms(
    acme: ACMERun,
    pebble_server: PebbleServer,
    bind_server: BindServer,
    dns_label: str,
    algorithm: str,
) -> None:
    path = acme.manifest(
        acme_issuer(pebble_server, [rfc2136(bind_server, algorithm)]),
        certificate("tsig", [f"tsig.{dns_label}.example.test"]),
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)


def test_selectors_send_names_to_different_solvers(
    acme: ACMERun, pebble_server: PebbleServer, bind_server: BindServer, dns_label: str
) -> None:
    # Separate subtrees: a TXT record under one name must not hide the other from the
    # zone's *.example.test wildcard (an empty non-terminal stops wildcard matching).
    http_name = f"http-{dns_label}.example.test"
    dns_name = f"dns-{dns_label}.example.test"
    solvers = [
        standalone(pebble_server.http_port, selector={"dnsNames": [http_name]}),
        rfc2136(bind_server, selector={"dnsZones": [dns_name]}),
    ]
    path = acme.manifest(
        acme_issuer(pebble_server, solvers), certificate("mixed", [http_name, dns_name])
    )

    result = acme.run("issue", "-f", path)
    challenges = acme.run("get", "challenges", "-A", "-o", "json")

    assert result.exit_code == 0, describe(result)
    by_domain = {
        item["spec"]["dnsName"]: item["spec"]["type"]
        for item in json.loads(challenges.stdout)["items"]
    }
    assert by_domain == {http_name: "HTTP-01", dns_name: "DNS-01"}


def test_a_dozen_certificates_in_one_run(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    certificates = [
        certificate(f"c{index}", [f"c{index}.{dns_label}.example.test"]) for index in range(12)
    ]
    path = acme.manifest(
        acme_issuer(pebble_server, [standalone(pebble_server.http_port)]), *certificates
    )

    result = acme.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    results = acme.results(result)
    assert {item["outcome"] for item in results.values()} == {"issued"}
    for index in range(12):
        assert sans(acme.chain(f"c{index}-tls")[0]) == [f"c{index}.{dns_label}.example.test"]


def test_a_wildcard_without_a_dns01_solver_fails_with_a_sentence(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    path = acme.manifest(
        acme_issuer(pebble_server, [standalone(pebble_server.http_port)]),
        certificate("wild", [f"*.{dns_label}.example.test"]),
    )

    result = acme.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1
    error = acme.results(result)["wild"]["error"]
    assert "wildcard" in error
    assert "dns01" in error
    assert "Traceback" not in result.stderr


def test_http01_ingress_needs_the_kubernetes_store(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    path = acme.manifest(
        acme_issuer(pebble_server, [{"http01": {"ingress": {"class": "nginx"}}}]),
        certificate("ing", [f"ing.{dns_label}.example.test"]),
    )

    result = acme.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1
    error = acme.results(result)["ing"]["error"]
    assert "http01.ingress" in error
    assert "--store kubernetes" in error
    assert "http01.standalone" in error


def test_a_failed_validation_keeps_the_old_pair_and_describe_explains_it(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_factory: Callable[..., PebbleServer],
    dns_label: str,
) -> None:
    # A Pebble that never reuses authorizations, so the second order must validate again.
    pebble_server = pebble_factory(authz_reuse=0)
    acme = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    name = f"keep.{dns_label}.example.test"
    good = acme.manifest(
        acme_issuer(pebble_server, [standalone(pebble_server.http_port)]),
        certificate("keep", [name]),
    )
    assert acme.run("issue", "-f", good).exit_code == 0
    before = {p.name: p.read_bytes() for p in acme.secret("keep-tls").iterdir()}
    # The webroot is served by nobody, and the self-check is skipped: Pebble's validation fails.
    broken_root = acme.root / "unserved"
    broken_root.mkdir()
    broken = acme.manifest(
        acme_issuer(
            pebble_server,
            [{"http01": {"webroot": {"path": str(broken_root)}}, "waitInsteadOfSelfCheck": "0s"}],
        ),
        certificate("keep", [name]),
        name="broken.yaml",
    )

    result = acme.run("renew", "-f", broken, "--force", "-o", "json")
    challenges = acme.run("get", "challenges", "-A")

    assert result.exit_code == 1, describe(result)
    after = {p.name: p.read_bytes() for p in acme.secret("keep-tls").iterdir()}
    assert after == before
    assert "invalid" in challenges.stdout
    failed = [line.split()[1] for line in challenges.stdout.splitlines()[1:] if "invalid" in line]
    described = acme.run("describe", "challenge", failed[0], "-n", "default")
    assert described.exit_code == 0, describe(described)
    assert "Connection refused" in described.stdout or "connection refused" in described.stdout
    assert "Failed" in described.stdout


def test_external_account_binding(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_factory: Callable[..., PebbleServer],
    dns_label: str,
) -> None:
    pebble = pebble_factory(
        eab_keys={"kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"}
    )
    acme = ACMERun(tmp_path, bind_server, pebble.http_port)
    from certctl.stores.base import SecretRecord
    from certctl.stores.directory import DirectoryStore

    DirectoryStore(acme.store).write(
        SecretRecord(
            namespace="cert-manager",
            name="eab",
            type="Opaque",
            data={"secret": b"zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"},
        )
    )
    eab = {"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "secret"}}
    with_binding = acme.manifest(
        acme_issuer(pebble, [standalone(pebble.http_port)], externalAccountBinding=eab),
        certificate("eab", [f"eab.{dns_label}.example.test"]),
    )
    without_binding = acme.manifest(
        acme_issuer(pebble, [standalone(pebble.http_port)], name="nobinding"),
        certificate("noeab", [f"noeab.{dns_label}.example.test"], issuer="nobinding"),
        name="nobinding.yaml",
    )

    ok = acme.run("issue", "-f", with_binding)
    refused = acme.run("issue", "-f", without_binding, "-o", "json")

    assert ok.exit_code == 0, describe(ok) + pebble.log_tail()
    assert refused.exit_code == 1
    assert "External Account Binding" in acme.results(refused)["noeab"]["error"]


def test_orders_succeed_while_the_server_rejects_40_percent_of_nonces(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_factory: Callable[..., PebbleServer],
    dns_label: str,
) -> None:
    pebble = pebble_factory(nonce_reject_percent=40)
    acme = ACMERun(tmp_path, bind_server, pebble.http_port)
    certificates = [
        certificate(f"n{index}", [f"n{index}.{dns_label}.example.test"]) for index in range(4)
    ]
    path = acme.manifest(acme_issuer(pebble, [standalone(pebble.http_port)]), *certificates)

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble.log_tail()


def test_preferred_chain_picks_the_alternate_root(
    tmp_path: Path,
    bind_server: BindServer,
    pebble_factory: Callable[..., PebbleServer],
    dns_label: str,
) -> None:
    pebble = pebble_factory(alternate_roots=1)
    acme = ACMERun(tmp_path, bind_server, pebble.http_port)
    roots = [x509.load_pem_x509_certificate(pem) for pem in pebble.issuance_roots()]
    alternate_cn = roots[1].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    path = acme.manifest(
        acme_issuer(pebble, [standalone(pebble.http_port)], preferredChain=str(alternate_cn)),
        certificate("alt", [f"alt.{dns_label}.example.test"]),
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    chain = acme.chain("alt-tls")
    assert verifies_to(chain, [pebble.issuance_roots()[1]])
    assert not verifies_to(chain, [pebble.issuance_roots()[0]])


def test_valid_authorizations_are_reused(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    name = f"reuse.{dns_label}.example.test"
    issuer = acme_issuer(pebble_server, [standalone(pebble_server.http_port)])
    path = acme.manifest(issuer, certificate("reuse", [name]))
    assert acme.run("issue", "-f", path).exit_code == 0

    def challenges_for(domain: str) -> int:
        listing = acme.run("get", "challenges", "-A", "-o", "json")
        return sum(
            1 for item in json.loads(listing.stdout)["items"] if item["spec"]["dnsName"] == domain
        )

    assert challenges_for(name) == 1

    result = acme.run("renew", "-f", path, "--force")

    assert result.exit_code == 0, describe(result)
    assert challenges_for(name) == 1, "the second order found its authorization valid"


def test_an_acme_certificate_is_up_to_date_without_any_state(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    # ACME CAs add usages (server auth, client auth) and drop subject fields; judging the
    # issued certificate by them would reissue every ACME certificate once state is lost.
    path = acme.manifest(
        acme_issuer(pebble_server, [standalone(pebble_server.http_port)]),
        certificate("fresh", [f"fresh.{dns_label}.example.test"]),
    )
    assert acme.run("issue", "-f", path).exit_code == 0
    shutil.rmtree(acme.root / "state")

    renewed = acme.run("renew", "-f", path, "-o", "json")
    listed = acme.run("get", "certificates", "-f", path, "-o", "json")

    assert renewed.exit_code == 0, describe(renewed)
    assert acme.results(renewed)["fresh"]["action"] == "UpToDate"
    [item] = json.loads(listed.stdout)["items"]
    assert item["status"]["conditions"][0]["status"] == "True"


def test_concurrent_orders_of_a_new_issuer_share_one_account(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    # A fresh process, as cron starts one: the first orders race to build the issuer.
    certctl = certctl_binary()
    path = acme.manifest(
        acme_issuer(pebble_server, [standalone(pebble_server.http_port)], name="shared"),
        *[
            certificate(f"s{index}", [f"s{index}.{dns_label}.example.test"], issuer="shared")
            for index in range(4)
        ],
    )
    before = pebble_server.log_path.read_text().count("POST /sign-me-up")

    result = subprocess.run(
        [certctl, *acme.global_args(), "--concurrency", "8", "issue", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert pebble_server.log_path.read_text().count("POST /sign-me-up") - before == 1


@pytest.mark.parametrize(
    ("server_path", "exit_code"),
    [
        pytest.param("", 0, id="an issuance leaves nothing in TMPDIR"),
        pytest.param(
            "/no-such-directory", 1, id="a run that fails after trusting caBundle leaves nothing"
        ),
    ],
)
def test_the_ca_bundle_leaves_no_file_in_tmpdir(
    acme: ACMERun,
    pebble_server: PebbleServer,
    dns_label: str,
    tmp_path: Path,
    server_path: str,
    exit_code: int,
) -> None:
    # requests verifies against a file path only; the file must not outlive the run.
    issuer = acme_issuer(pebble_server, [standalone(pebble_server.http_port)])
    issuer["spec"]["acme"]["server"] += server_path
    path = acme.manifest(issuer, certificate("tmp", [f"tmp.{dns_label}.example.test"]))
    temporary = tmp_path / "tmpdir"
    temporary.mkdir()

    result = subprocess.run(
        [certctl_binary(), *acme.global_args(), "issue", "-f", str(path)],
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == exit_code, result.stderr
    if exit_code:
        assert "ACME directory" in result.stderr
    assert sorted(temporary.iterdir()) == []
