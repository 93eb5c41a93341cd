"""Two stores sharing one state dir keep their own history, revisions and backoff."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import (
    Cli,
    certificate,
    describe,
    issuer,
    results_by_name,
)


@pytest.fixture
def in_root(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run from the test's folder, so ``dir:./certs`` is the quick start's ``./certs``."""
    monkeypatch.chdir(cli.root)
    return cli


def store(cli: Cli, spec: str) -> list[str]:
    return ["--store", spec, "--state-dir", str(cli.state)]


def events_of(described: str) -> list[str]:
    return [line for line in described.split("Events:", 1)[1].splitlines() if "certctl" in line]


def test_the_quick_start_issued_into_two_stores_keeps_two_histories(in_root: Cli) -> None:
    cli = in_root
    path = cli.quickstart()
    cli.ok("issue", "-f", path, global_args=store(cli, "dir:./certs"))
    cli.ok("issue", "-f", path, global_args=store(cli, "dir:other"))

    first = cli.ok(
        "describe", "certificate", "api-backend", "-f", path, global_args=store(cli, "dir:./certs")
    )
    other = cli.ok(
        "describe", "certificate", "api-backend", "-f", path, global_args=store(cli, "dir:other")
    )
    # The same folder spelled as an absolute path is the same store, with the same history.
    spelled = cli.ok(
        "describe",
        "certificate",
        "api-backend",
        "-f",
        path,
        global_args=store(cli, f"dir:{cli.root / 'certs'}"),
    )

    issued = [
        "Issuing certificate as Secret does not exist",
        "The certificate has been successfully issued",
    ]
    for result in (first, other, spelled):
        assert "Revision:  1" in result.stdout, describe(result)
        assert [line.split("certctl", 1)[1].strip() for line in events_of(result.stdout)] == issued
    assert events_of(spelled.stdout) == events_of(first.stdout)


def test_backoff_in_one_store_does_not_hold_the_other(in_root: Cli) -> None:
    cli = in_root
    # A real failed issuance (an ACME server that refuses connections); a missing CA
    # Secret would only make the issuer not ready, which starts no backoff at all.
    acme = {
        "server": "https://127.0.0.1:9/directory",
        "privateKeySecretRef": {"name": "acme-account"},
        "solvers": [{"http01": {"standalone": {}}}],
    }
    path = cli.manifest(
        "broken.yaml",
        issuer("broken-acme", {"acme": acme}),
        certificate("bad", issuer="broken-acme"),
    )
    first = cli.run("issue", "-f", path, "-o", "json", global_args=store(cli, "dir:./certs"))

    other = cli.run("issue", "-f", path, "-o", "json", global_args=store(cli, "dir:other"))
    again = cli.run("issue", "-f", path, "-o", "json", global_args=store(cli, "dir:./certs"))

    assert results_by_name(first)["bad"]["action"] == "Failed", describe(first)
    # The other store's first attempt is an attempt, not a wait on the first store's failure.
    assert results_by_name(other)["bad"]["action"] == "Failed", describe(other)
    backing_off = results_by_name(again)["bad"]
    assert backing_off["action"] == "BackingOff", describe(again)
    assert "1 attempt failed" in backing_off["error"]
    described = cli.ok(
        "describe", "certificate", "bad", "-f", path, global_args=store(cli, "dir:other")
    )
    assert "Failed Issuance Attempts:  1" in described.stdout


def test_orders_and_challenges_belong_to_the_store_of_their_run(in_root: Cli) -> None:
    from certctl.clock import SystemClock

    cli = in_root
    with cli.open_state(SystemClock(), Path("other")) as state:
        state.save_acme_object(
            "Challenge",
            "default",
            "web-1-abc",
            certificate="default/web",
            state="invalid",
            body={"spec": {"dnsName": "web.example.test", "type": "HTTP-01"}, "status": {}},
        )

    mine = cli.ok("get", "challenges", "-A", global_args=store(cli, "dir:./certs"))
    theirs = cli.ok("get", "challenges", "-A", global_args=store(cli, "dir:other"))

    assert "web-1-abc" not in mine.stdout
    assert "web-1-abc" in theirs.stdout
