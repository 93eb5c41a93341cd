"""DNS-01 against a real BIND: the rfc2136 and exec providers, zones, CNAMEs, propagation."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from certctl.acme import dns01
from certctl.acme.settings import ACMESettings
from certctl.acme.solvers.base import SolverContext
from certctl.acme.solvers.exec import ExecProvider
from certctl.acme.solvers.rfc2136 import RFC2136Provider
from certctl.errors import IssuanceError
from certctl.stores.base import SecretRecord
from tests.integration.servers.bind import BindServer, find_free_port

NAMESPACE = "cert-manager"
SECRET = "tsig"

#: cert-manager's tsigAlgorithm word -> BIND's key algorithm in the fixture.
ALGORITHMS = {
    "HMACMD5": "hmac-md5",
    "HMACSHA1": "hmac-sha1",
    "HMACSHA256": "hmac-sha256",
    "HMACSHA512": "hmac-sha512",
}


def context(settings: ACMESettings, secrets: Mapping[str, bytes] | None = None) -> SolverContext:
    """A solver context whose store holds ``secrets`` as the one Secret ``tsig``."""

    def read_secret(namespace: str, name: str) -> SecretRecord | None:
        if secrets is None or (namespace, name) != (NAMESPACE, SECRET):
            return None
        return SecretRecord(namespace, name, dict(secrets), type="Opaque")

    return SolverContext(NAMESPACE, read_secret, settings, "ClusterIssuer/letsencrypt")


def rfc2136(
    bind: BindServer,
    algorithm: str = "HMACSHA256",
    *,
    protocol: str = "UDP",
    secret: str | None = None,
) -> RFC2136Provider:
    """A provider for the fixture, signing with its key for ``algorithm``."""
    key_name, real_secret = bind.tsig_keys[ALGORITHMS[algorithm.upper()]]
    config: dict[str, Any] = {
        "nameserver": bind.address,
        "tsigKeyName": key_name,
        "tsigSecretSecretRef": {"name": SECRET, "key": "tsig-secret-key"},
        "tsigAlgorithm": algorithm,
        "protocol": protocol,
    }
    # A trailing newline, as `kubectl create secret --from-file` keeps it.
    stored = (secret if secret is not None else real_secret) + "\n"
    return RFC2136Provider(
        config, context(bind.acme_settings(), {"tsig-secret-key": stored.encode()})
    )


# --- rfc2136 ---


@pytest.mark.parametrize(
    ("algorithm", "protocol"),
    [
        pytest.param(algorithm, protocol, id=f"{algorithm} over {protocol} adds then removes")
        for algorithm in ("HMACMD5", "hmacsha1", "HMACSHA256", "HMACSHA512")
        for protocol in ("UDP", "TCP")
    ],
)
def test_rfc2136_present_then_cleanup(
    bind_server: BindServer, dns_label: str, algorithm: str, protocol: str
) -> None:
    provider = rfc2136(bind_server, algorithm, protocol=protocol)
    fqdn = f"_acme-challenge.{dns_label}.example.test."

    provider.present(fqdn, bind_server.zone, "token-value")
    assert bind_server.query_txt(fqdn) == ["token-value"]

    provider.cleanup(fqdn, bind_server.zone, "token-value")
    assert bind_server.query_txt(fqdn) == []


def test_a_wildcard_and_its_base_domain_share_the_name(
    bind_server: BindServer, dns_label: str
) -> None:
    provider = rfc2136(bind_server)
    fqdn = dns01.challenge_record_name(f"*.{dns_label}.example.test")
    assert fqdn == dns01.challenge_record_name(f"{dns_label}.example.test")

    provider.present(fqdn, bind_server.zone, "for-the-wildcard")
    provider.present(fqdn, bind_server.zone, "for-the-base")
    assert sorted(bind_server.query_txt(fqdn)) == ["for-the-base", "for-the-wildcard"]

    provider.cleanup(fqdn, bind_server.zone, "for-the-wildcard")
    assert bind_server.query_txt(fqdn) == ["for-the-base"]
    provider.cleanup(fqdn, bind_server.zone, "for-the-base")
    provider.cleanup(fqdn, bind_server.zone, "for-the-base")  # already gone: no error
    assert bind_server.query_txt(fqdn) == []


def test_a_wrong_tsig_secret_is_rejected_with_a_hint(
    bind_server: BindServer, dns_label: str
) -> None:
    wrong = base64.b64encode(os.urandom(32)).decode()
    provider = rfc2136(bind_server, secret=wrong)
    fqdn = f"_acme-challenge.{dns_label}.example.test."

    with pytest.raises(IssuanceError) as caught:
        provider.present(fqdn, bind_server.zone, "value")

    message = caught.value.paragraph()
    assert "BADSIG" in message
    assert bind_server.address in message
    assert '"example.test."' in message
    assert "tsigSecretSecretRef" in message
    assert not caught.value.retryable
    assert bind_server.query_txt(fqdn) == []


def test_a_missing_tsig_secret_names_the_secret_and_key(bind_server: BindServer) -> None:
    key_name, _ = bind_server.tsig_keys["hmac-sha256"]
    config = {
        "nameserver": bind_server.address,
        "tsigKeyName": key_name,
        "tsigSecretSecretRef": {"name": SECRET, "key": "tsig-secret-key"},
    }
    provider = RFC2136Provider(config, context(bind_server.acme_settings(), secrets=None))

    with pytest.raises(IssuanceError, match=r"cert-manager/tsig does not exist") as caught:
        provider.present("_acme-challenge.x.example.test.", bind_server.zone, "value")
    assert "tsig-secret-key" in caught.value.hint


def test_an_unreachable_nameserver_is_retryable(unused_udp_port: int) -> None:
    config = {"nameserver": f"127.0.0.1:{unused_udp_port}", "protocol": "TCP"}
    provider = RFC2136Provider(config, context(ACMESettings()))

    with pytest.raises(IssuanceError, match=rf"127\.0\.0\.1:{unused_udp_port}") as caught:
        provider.present("_acme-challenge.x.example.test.", "example.test.", "value")
    assert caught.value.retryable


@pytest.fixture
def unused_udp_port() -> int:
    """A loopback port nothing listens on."""
    return find_free_port()


# --- zones and CNAMEs ---


def test_find_zone_finds_the_zone_of_a_deep_name(bind_server: BindServer, dns_label: str) -> None:
    fqdn = f"_acme-challenge.a.b.{dns_label}.example.test."

    assert dns01.find_zone(fqdn, bind_server.acme_settings()) == "example.test."


def test_find_zone_fails_with_a_sentence_when_no_parent_has_an_soa(
    bind_server: BindServer,
) -> None:
    # The fixture is authoritative only: it refuses names outside its zones.
    with pytest.raises(IssuanceError, match=r"no SOA record on any parent") as caught:
        dns01.find_zone("_acme-challenge.example.invalid.", bind_server.acme_settings())
    assert "--dns01-recursive-nameservers" in caught.value.message


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(
            "_acme-challenge.cname.example.test.",
            "_acme-challenge.target.other.test.",
            id="one CNAME leads into other.test",
        ),
        pytest.param(
            "_acme-challenge.chain.example.test.",
            "_acme-challenge.target.other.test.",
            id="two CNAMEs are followed to the end",
        ),
        pytest.param(
            "_acme-challenge.plain.example.test.",
            "_acme-challenge.plain.example.test.",
            id="a name without a CNAME stays as it is",
        ),
    ],
)
def test_follow_cnames(bind_server: BindServer, start: str, end: str) -> None:
    assert dns01.follow_cnames(start, bind_server.acme_settings()) == end


def test_a_cname_loop_is_an_error(bind_server: BindServer) -> None:
    with pytest.raises(IssuanceError, match=r"loop"):
        dns01.follow_cnames("_acme-challenge.loop-a.example.test.", bind_server.acme_settings())


def test_present_follows_cnames_when_the_strategy_says_so(bind_server: BindServer) -> None:
    provider = rfc2136(bind_server)
    settings = bind_server.acme_settings()
    solver: dict[str, Any] = {"cnameStrategy": "Follow", "rfc2136": {}}

    fqdn, zone = dns01.present_dns01(provider, "cname.example.test", "followed", solver, settings)
    try:
        assert (fqdn, zone) == ("_acme-challenge.target.other.test.", "other.test.")
        assert bind_server.query_txt(fqdn) == ["followed"]
    finally:
        dns01.cleanup_dns01(provider, fqdn, zone, "followed")
    assert bind_server.query_txt(fqdn) == []


def test_present_without_follow_writes_at_the_challenge_name(
    bind_server: BindServer, dns_label: str
) -> None:
    provider = rfc2136(bind_server)
    solver: dict[str, Any] = {"dns01": {"rfc2136": {}}}

    fqdn, zone = dns01.present_dns01(
        provider, f"*.{dns_label}.example.test", "v", solver, bind_server.acme_settings()
    )
    try:
        assert (fqdn, zone) == (f"_acme-challenge.{dns_label}.example.test.", "example.test.")
        assert bind_server.query_txt(fqdn) == ["v"]
    finally:
        dns01.cleanup_dns01(provider, fqdn, zone, "v")


# --- propagation ---


@pytest.mark.parametrize(
    "recursive_only",
    [
        pytest.param(False, id="each authoritative nameserver is asked"),
        pytest.param(True, id="only the recursive nameservers are asked"),
    ],
)
def test_check_propagation_before_and_after_present(
    bind_server: BindServer, dns_label: str, recursive_only: bool
) -> None:
    settings = bind_server.acme_settings(dns01_recursive_nameservers_only=recursive_only)
    provider = rfc2136(bind_server)
    fqdn = f"_acme-challenge.{dns_label}.example.test."
    zone = dns01.find_zone(fqdn, settings)

    before = dns01.check_propagation(fqdn, "expected", zone, settings)
    assert not before.ok
    assert before.detail == (
        f'DNS record for "{fqdn[:-1]}" not yet propagated: '
        f"{bind_server.address} has no TXT record there"
    )

    provider.present(fqdn, zone, "another")
    try:
        other = dns01.check_propagation(fqdn, "expected", zone, settings)
        assert not other.ok
        assert f"{bind_server.address} has 1 other TXT value only" in other.detail

        provider.present(fqdn, zone, "expected")
        after = dns01.check_propagation(fqdn, "expected", zone, settings)
        assert after.ok, after.detail
        kind = "recursive" if recursive_only else "authoritative"
        assert after.detail == (
            f'DNS record for "{fqdn[:-1]}" is present on 1 {kind} nameserver '
            f"({bind_server.address})"
        )
    finally:
        provider.cleanup(fqdn, zone, "another")
        provider.cleanup(fqdn, zone, "expected")


def test_check_propagation_reports_nxdomain(bind_server: BindServer) -> None:
    # other.test has no wildcard, so a missing name there is NXDOMAIN.
    fqdn = "_acme-challenge.nothing.other.test."
    result = dns01.check_propagation(fqdn, "v", "other.test.", bind_server.acme_settings())

    assert not result.ok
    assert result.detail == (
        f'DNS record for "{fqdn[:-1]}" not yet propagated: {bind_server.address} answered NXDOMAIN'
    )


def test_a_silent_nameserver_means_not_yet(bind_server: BindServer, unused_udp_port: int) -> None:
    settings = bind_server.acme_settings(authoritative_dns_port=unused_udp_port)
    result = dns01.check_propagation(
        "_acme-challenge.x.example.test.", "v", "example.test.", settings
    )

    assert not result.ok
    assert f"127.0.0.1:{unused_udp_port}" in result.detail


# --- exec ---

HOOK = """\
#!/bin/sh
echo "$@" >> "{log}"
if [ "$1" = present ] && [ "$3" = fail-s3cret ]; then
    echo "starting" >&2
    echo "the DNS API said no" >&2
    exit 3
fi
"""


@pytest.fixture
def hook(tmp_path: Path) -> tuple[Path, Path]:
    """A script that appends its arguments to a log, and fails for the value ``fail-s3cret``."""
    log = tmp_path / "calls.log"
    script = tmp_path / "hook.sh"
    script.write_text(HOOK.format(log=log))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_exec_runs_the_command_with_action_fqdn_and_value(hook: tuple[Path, Path]) -> None:
    script, log = hook
    provider = ExecProvider({"command": [str(script)]}, context(ACMESettings()))

    provider.present("_acme-challenge.a.example.test.", "example.test.", "abc")
    provider.cleanup("_acme-challenge.a.example.test.", "example.test.", "abc")

    assert log.read_text().splitlines() == [
        "present _acme-challenge.a.example.test. abc",
        "cleanup _acme-challenge.a.example.test. abc",
    ]


def test_a_failing_exec_command_reports_its_stderr(hook: tuple[Path, Path]) -> None:
    script, _ = hook
    provider = ExecProvider({"command": ["/bin/sh", str(script)]}, context(ACMESettings()))

    with pytest.raises(IssuanceError) as caught:
        provider.present("_acme-challenge.a.example.test.", "example.test.", "fail-s3cret")

    message = caught.value.message
    assert "exited with status 3" in message
    assert "the DNS API said no" in message
    assert "s3cret" not in message


def test_an_exec_command_that_hangs_is_stopped(tmp_path: Path) -> None:
    provider = ExecProvider(
        {"command": ["/bin/sh", "-c", "sleep 30", "hook"]},
        context(ACMESettings()),
        timeout=0.5,
    )

    with pytest.raises(IssuanceError, match=r"did not finish within 0\.5 s") as caught:
        provider.present("_acme-challenge.a.example.test.", "example.test.", "v")
    assert caught.value.retryable


def test_a_missing_exec_command_says_so(tmp_path: Path) -> None:
    provider = ExecProvider({"command": [str(tmp_path / "absent")]}, context(ACMESettings()))

    with pytest.raises(IssuanceError, match=r"could not be started"):
        provider.cleanup("_acme-challenge.a.example.test.", "example.test.", "v")


def test_the_check_follows_a_cname_even_without_the_follow_strategy(
    bind_server: BindServer,
) -> None:
    # acme-dns style: the provider writes behind the CNAME, the solver does not follow.
    settings = bind_server.acme_settings()
    provider = rfc2136(bind_server)
    target = "_acme-challenge.target.other.test."
    provider.present(target, "other.test.", "delegated")
    try:
        result = dns01.check_propagation(
            "_acme-challenge.cname.example.test.", "delegated", "example.test.", settings
        )
    finally:
        provider.cleanup(target, "other.test.", "delegated")

    assert result.ok, result.detail
    assert "_acme-challenge.target.other.test" in result.detail
