"""Solvers clean up after themselves, even when a run is interrupted; the exec provider works."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.entrypoint import certctl_binary
from tests.integration.acme_helpers import (
    ACMERun,
    acme_issuer,
    certificate,
    describe,
    free_port,
    rfc2136,
)
from tests.integration.servers.bind import BindServer
from tests.integration.servers.pebble import PebbleServer


@pytest.fixture
def acme(tmp_path: Path, bind_server: BindServer, pebble_server: PebbleServer) -> ACMERun:
    run = ACMERun(tmp_path, bind_server, pebble_server.http_port)
    run.write_tsig_secret()
    return run


@pytest.mark.parametrize(
    "signal_number",
    [
        pytest.param(signal.SIGTERM, id="sigterm removes the TXT record and exits 130"),
        pytest.param(signal.SIGINT, id="ctrl-c removes the TXT record and exits 130"),
    ],
)
def test_an_interrupted_dns01_order_removes_its_txt_record(
    acme: ACMERun,
    pebble_server: PebbleServer,
    bind_server: BindServer,
    dns_label: str,
    signal_number: int,
) -> None:
    name = f"stuck.{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [rfc2136(bind_server)]), certificate("stuck", [name])
    )
    # The propagation check asks a port where nothing answers, so the order waits forever.
    args = acme.global_args()
    args[args.index("--dns01-authoritative-port") + 1] = str(free_port())
    process = subprocess.Popen(
        [certctl_binary(), *args, "issue", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    record = f"_acme-challenge.{name}."
    deadline = time.monotonic() + 30
    while not bind_server.query_txt(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bind_server.query_txt(record), "the TXT record was never presented"

    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert bind_server.query_txt(record) == []
    assert not (acme.secret("stuck-tls")).exists()


EXEC_HOOK = '''#!{python}
"""lego's exec contract: present|cleanup FQDN VALUE, here as TSIG-signed RFC 2136 updates."""
import sys

import dns.query
import dns.tsigkeyring
import dns.update

action, fqdn, value = sys.argv[1:4]
keyring = dns.tsigkeyring.from_text({{"{key_name}": ("hmac-sha256", "{secret}")}})
update = dns.update.UpdateMessage("example.test.", keyring=keyring,
                                  keyname="{key_name}", keyalgorithm="hmac-sha256")
if action == "present":
    update.add(fqdn, 60, "TXT", value)
else:
    update.delete(fqdn, "TXT", value)
response = dns.query.tcp(update, "{host}", port={port}, timeout=5)
sys.exit(0 if response.rcode() == 0 else 1)
'''


def test_the_exec_provider_issues_through_a_hook(
    acme: ACMERun, pebble_server: PebbleServer, bind_server: BindServer, dns_label: str
) -> None:
    key_name, secret = bind_server.tsig_keys["hmac-sha256"]
    hook = acme.root / "dns-hook"
    hook.write_text(
        EXEC_HOOK.format(
            python=sys.executable,
            key_name=key_name,
            secret=secret,
            host=bind_server.host,
            port=bind_server.port,
        )
    )
    hook.chmod(0o755)
    base = f"{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [{"dns01": {"exec": {"command": [str(hook)]}}}]),
        certificate("hooked", [f"*.{base}"]),
    )

    result = acme.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    assert bind_server.query_txt(f"_acme-challenge.{base}.") == []
    assert (acme.secret("hooked-tls") / "tls.crt").exists()


def test_a_failing_exec_hook_fails_the_certificate_with_its_stderr(
    acme: ACMERun, pebble_server: PebbleServer, dns_label: str
) -> None:
    hook = acme.root / "broken-hook"
    hook.write_text("#!/bin/sh\necho 'zone example.test is read-only' >&2\nexit 3\n")
    hook.chmod(0o755)
    path = acme.manifest(
        acme_issuer(pebble_server, [{"dns01": {"exec": {"command": [str(hook)]}}}]),
        certificate("broken", [f"broken.{dns_label}.example.test"]),
    )

    result = acme.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1
    assert "zone example.test is read-only" in acme.results(result)["broken"]["error"]


def test_a_killed_run_leaves_a_txt_record_that_challenge_cleanup_removes(
    acme: ACMERun, pebble_server: PebbleServer, bind_server: BindServer, dns_label: str
) -> None:
    name = f"killed.{dns_label}.example.test"
    path = acme.manifest(
        acme_issuer(pebble_server, [rfc2136(bind_server)]), certificate("killed", [name])
    )
    args = acme.global_args()
    args[args.index("--dns01-authoritative-port") + 1] = str(free_port())
    process = subprocess.Popen(
        [certctl_binary(), *args, "issue", "-f", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record = f"_acme-challenge.{name}."
    deadline = time.monotonic() + 30
    while not bind_server.query_txt(record) and time.monotonic() < deadline:
        time.sleep(0.02)
    # SIGKILL: no cleanup can run; only what the state recorded remains to find it.
    process.kill()
    process.wait(timeout=30)
    assert bind_server.query_txt(record), "the killed run left its TXT record"

    result = acme.run("challenge", "cleanup")

    assert result.exit_code == 0, describe(result)
    assert bind_server.query_txt(record) == []
