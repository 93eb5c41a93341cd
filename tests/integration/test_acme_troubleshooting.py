"""Troubleshooting ACME against Pebble and BIND: describe a failed challenge, ``challenge check``,
``challenge cleanup`` and ``challenge serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from certctl.acme.solvers.base import SolverContext
from certctl.acme.solvers.rfc2136 import RFC2136Provider
from certctl.clock import SystemClock
from certctl.state.database import StateDatabase
from certctl.stores.directory import DirectoryStore
from tests.integration.acme_helpers import (
    ACMERun,
    acme_issuer,
    certificate,
    describe,
    free_port,
    rfc2136,
    standalone,
)
from tests.integration.servers.bind import BindServer
from tests.integration.servers.pebble import PebbleServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def acme(tmp_path: Path, bind_server: BindServer, pebble_server: PebbleServer) -> ACMERun:
    run = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    run.write_tsig_secret()
    return run


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        # As servers do: a closed connection in TIME_WAIT does not keep the port taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# -- describe after a failed validation ---------------------------------------------------------


def test_describe_challenge_shows_the_acme_servers_error_after_a_failed_validation(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    # A webroot nobody serves, and no self-check: Pebble's validation itself fails.
    unserved = acme.root / "unserved"
    unserved.mkdir()
    path = acme.manifest(
        acme_issuer(
            pebble_server,
            [{"http01": {"webroot": {"path": str(unserved)}}, "waitInsteadOfSelfCheck": "0s"}],
        ),
        certificate("broken", [f"broken.{dns_label}.example.test"]),
    )

    issued = acme.run("issue", "-f", path)
    challenges = acme.run("get", "challenges", "-A")
    orders = acme.run("get", "orders", "-o", "wide")

    assert issued.exit_code == 1, describe(issued)
    assert challenges.exit_code == 0, describe(challenges)
    failed = [line.split()[1] for line in challenges.stdout.splitlines()[1:] if "invalid" in line]
    assert len(failed) == 1, challenges.stdout
    assert orders.exit_code == 0, describe(orders)
    assert "connection refused" in orders.stdout, "wide shows the whole reason"
    described = acme.run("describe", "challenge", failed[0])
    assert described.exit_code == 0, describe(described)
    events = described.stdout[described.stdout.index("Events:") :]
    assert "Failed" in events
    assert "connection refused" in events.lower(), "Pebble's own error text"
    assert "Presented:  false" in described.stdout, "cleanup ran and was recorded"


# -- challenge check: HTTP-01 -------------------------------------------------------------------


def test_check_http01_standalone_passes_and_stops_its_listener(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    domain = f"check.{dns_label}.example.test"
    path = acme.manifest(acme_issuer(pebble_server, [standalone(pebble_server.http_port)]))

    text = acme.run("challenge", "check", domain, "--issuer", "pebble", "-f", path)
    as_json = acme.run("challenge", "check", domain, "--issuer", "pebble", "-f", path, "-o", "json")

    assert text.exit_code == 0, describe(text)
    assert "Result:      passed" in text.stdout
    assert "solvers[0] (http01.standalone)" in text.stdout
    assert as_json.exit_code == 0, describe(as_json)
    report = json.loads(as_json.stdout)
    assert report["passed"] is True
    assert report["type"] == "HTTP-01"
    assert report["issuer"] == "ClusterIssuer/pebble"
    assert report["solver"]["key"] == "http01.standalone"
    assert report["target"].startswith(f"http://{domain}:{pebble_server.http_port}/")
    assert report["cleanedUp"] is True
    assert port_is_free(pebble_server.http_port), "the test listener was stopped"


def test_check_http01_webroot_that_nobody_serves_fails_with_a_clear_detail(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    webroot = acme.root / "www"
    webroot.mkdir()
    path = acme.manifest(
        acme_issuer(pebble_server, [{"http01": {"webroot": {"path": str(webroot)}}}])
    )

    result = acme.run(
        "challenge", "check", f"site.{dns_label}.example.test", "--issuer", "pebble", "-f", path
    )

    assert result.exit_code == 1, describe(result)
    assert "FAILED at the self-check" in result.stdout
    assert "refused" in result.stdout.lower()
    assert "What to try:" in result.stdout
    assert str(webroot / ".well-known" / "acme-challenge") in result.stdout
    leftovers = list(webroot.rglob("*"))
    assert not [p for p in leftovers if p.is_file()], "the test token file was removed"


def test_check_refuses_an_issuer_that_is_not_acme(acme: ACMERun, dns_label: str) -> None:
    path = acme.manifest(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "selfsigned"},
            "spec": {"selfSigned": {}},
        }
    )

    result = acme.run(
        "challenge", "check", f"x.{dns_label}.example.test", "--issuer", "selfsigned", "-f", path
    )

    assert result.exit_code == 2, describe(result)
    assert "only ACME issuers" in result.stderr


# -- challenge check: DNS-01 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        pytest.param("*.{label}.example.test", [], id="a wildcard picks the dns01 solver"),
        pytest.param("{label}.example.test", ["--type", "dns-01"], id="--type dns-01 forces it"),
    ],
)
def test_check_dns01_rfc2136_passes_against_bind_and_leaves_no_txt_record(
    acme: ACMERun,
    pebble_server: PebbleServer,
    bind_server: BindServer,
    dns_label: str,
    name: str,
    extra: list[str],
) -> None:
    solvers = [standalone(pebble_server.http_port), rfc2136(bind_server)]
    path = acme.manifest(acme_issuer(pebble_server, solvers))
    domain = name.format(label=dns_label)

    result = acme.run(
        "challenge", "check", domain, "--issuer", "pebble", "-f", path, "-o", "json", *extra
    )

    assert result.exit_code == 0, describe(result)
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert report["type"] == "DNS-01"
    assert report["solver"]["index"] == 1
    assert report["solver"]["key"] == "dns01.rfc2136"
    assert report["solver"]["config"]["dns01"]["rfc2136"]["nameserver"] == bind_server.address
    assert report["target"] == f"_acme-challenge.{dns_label}.example.test."
    assert report["zone"] == "example.test."
    assert "authoritative nameserver" in report["detail"]
    assert bind_server.query_txt(f"_acme-challenge.{dns_label}.example.test.") == []


# -- challenge cleanup --------------------------------------------------------------------------


def test_cleanup_removes_a_txt_record_left_by_an_interrupted_run(
    acme: ACMERun, bind_server: BindServer, dns_label: str
) -> None:
    domain = f"{dns_label}.example.test"
    fqdn = f"_acme-challenge.{domain}."
    value = "leftover-from-a-killed-run"
    solver = rfc2136(bind_server)
    # What a run killed between present and cleanup leaves: the record, and a Challenge
    # recorded as presented.
    with StateDatabase.open(
        acme.root / "state", SystemClock(), store=DirectoryStore(acme.store).identity
    ) as state:
        state.save_acme_object(
            "Challenge",
            "default",
            "killed-1234-abc",
            certificate="default/killed",
            state="pending",
            body={
                "spec": {
                    "dnsName": domain,
                    "issuerRef": "ClusterIssuer/pebble",
                    "key": value,
                    "solver": solver,
                    "token": "tok",
                    "type": "DNS-01",
                    "wildcard": False,
                },
                "status": {"presented": True, "processing": True, "state": "pending"},
            },
        )
    context = SolverContext(
        "cert-manager",
        DirectoryStore(acme.store).read,
        bind_server.acme_settings(),
        "ClusterIssuer/pebble",
    )
    RFC2136Provider(solver["dns01"]["rfc2136"], context).present(fqdn, "example.test.", value)
    assert bind_server.query_txt(fqdn) == [value]

    dry = acme.run("challenge", "cleanup", "--dry-run")
    assert dry.exit_code == 0, describe(dry)
    assert "would remove" in dry.stdout
    assert bind_server.query_txt(fqdn) == [value], "--dry-run changes nothing"

    result = acme.run("challenge", "cleanup", "-o", "json")

    assert result.exit_code == 0, describe(result)
    (item,) = json.loads(result.stdout)["items"]
    assert item["outcome"] == "removed"
    assert item["name"] == "killed-1234-abc"
    assert fqdn in item["leftover"]
    assert bind_server.query_txt(fqdn) == []
    described = acme.run("describe", "challenge", "killed-1234-abc")
    assert "Presented:  false" in described.stdout
    assert "CleanedUp" in described.stdout
    again = acme.run("challenge", "cleanup")
    assert again.exit_code == 0, describe(again)
    assert "No presented challenges were left behind." in again.stderr


# -- challenge serve ----------------------------------------------------------------------------


def fetch(url: str, deadline: float) -> tuple[int, bytes]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code), b""
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.parametrize(
    "stop_signal",
    [
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGINT, id="Ctrl-C"),
    ],
)
def test_serve_answers_tokens_until_stopped_and_exits_0(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    # The command runs with the default store, ./certs of this process's folder.
    default_store = DirectoryStore(Path("certs")).identity
    with StateDatabase.open(tmp_path / "state", SystemClock(), store=default_store) as state:
        body: dict[str, Any] = {
            "spec": {"type": "HTTP-01", "token": "fromstate", "key": "fromstate.thumb"},
            "status": {"presented": True, "state": "pending"},
        }
        state.save_acme_object(
            "Challenge", "default", "c1", certificate="default/c", state="pending", body=body
        )
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "certctl",
        "--state-dir",
        str(tmp_path / "state"),
        "challenge",
        "serve",
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--from-state",
        "given=given.thumb",
    ]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            deadline = time.monotonic() + 20
            base = f"http://127.0.0.1:{port}/.well-known/acme-challenge/"
            assert fetch(base + "given", deadline) == (200, b"given.thumb")
            assert fetch(base + "fromstate", deadline) == (200, b"fromstate.thumb")
            assert fetch(base + "unknown", deadline)[0] == 404
        finally:
            process.send_signal(stop_signal)
            _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()
    assert b"Serving 2 HTTP-01 tokens" in stderr
    assert b"Stopped serving" in stderr
    assert port_is_free(port)
