"""``sync --prune`` finds what its source set wrote in any namespace, not only in ``-n``,
and never what another source set wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certctl.clock import SystemClock
from certctl.engine.sync import source_set
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.cli.conftest import SELFSIGNED, Cli, certificate


def deploy(cli: Cli, folder: str = "deploy", *, backend: bool = True) -> Path:
    """A deploy folder: one Certificate in default and (optionally) one in backend."""
    root = cli.root / folder
    root.mkdir(exist_ok=True)
    cli.manifest("issuer.yaml", SELFSIGNED).rename(root / "issuer.yaml")
    cli.manifest("web.yaml", certificate("web")).rename(root / "web.yaml")
    api = root / "api.yaml"
    if backend:
        cli.manifest("api.yaml", certificate("api", namespace="backend")).rename(api)
    else:
        api.unlink(missing_ok=True)
    return root


def pruned(output: str) -> list[tuple[str, str, str]]:
    return [
        (item["namespace"], item["name"], item["outcome"]) for item in json.loads(output)["pruned"]
    ]


def test_a_certificate_removed_from_its_namespace_has_its_secret_pruned(cli: Cli) -> None:
    folder = deploy(cli)
    cli.ok("sync", "-f", folder)
    assert (cli.secret("backend", "api-tls") / "tls.crt").is_file()
    # Someone else's Secret in that namespace: never a candidate.
    DirectoryStore(cli.store).write(
        SecretRecord(
            namespace="backend",
            name="foreign-tls",
            data={"tls.crt": b"x"},
            annotations={"cert-manager.io/certificate-name": "gone"},
        )
    )
    deploy(cli, backend=False)

    planned = cli.ok("sync", "-f", folder, "--prune", "--dry-run", "-o", "json")
    result = cli.ok("sync", "-f", folder, "--prune", "-o", "json")
    again = cli.ok("sync", "-f", folder, "--prune", "-o", "json")

    assert pruned(planned.stdout) == [("backend", "api-tls", "would delete")]
    assert pruned(result.stdout) == [("backend", "api-tls", "deleted")]
    assert not cli.secret("backend", "api-tls").exists()
    assert (cli.secret("default", "web-tls") / "tls.crt").is_file()
    assert (cli.secret("backend", "foreign-tls") / "tls.crt").read_bytes() == b"x"
    assert pruned(again.stdout) == []


def test_the_same_folder_spelled_another_way_is_the_same_source_set(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cli.root)
    deploy(cli)
    cli.ok("sync", "-f", "./deploy")
    deploy(cli, backend=False)

    result = cli.ok("sync", "-f", f"{cli.root}/deploy/", "--prune", "-o", "json")

    assert pruned(result.stdout) == [("backend", "api-tls", "deleted")]


def test_another_source_set_does_not_prune_where_only_the_first_one_wrote(cli: Cli) -> None:
    first = deploy(cli, "team-a")
    cli.ok("sync", "-f", first)
    other = cli.manifest("team-b.yaml", SELFSIGNED, certificate("shop"))

    result = cli.ok("sync", "-f", other, "--prune", "-o", "json")

    # team-b wrote only to default; backend belongs to team-a's source set alone.
    assert ("backend", "api-tls", "deleted") not in pruned(result.stdout)
    assert (cli.secret("backend", "api-tls") / "tls.crt").is_file()


def test_a_pruned_secret_is_forgotten_and_a_dry_run_remembers_nothing(cli: Cli) -> None:
    folder = deploy(cli)
    cli.ok("sync", "-f", folder, "--dry-run")
    sources = source_set([str(folder)])
    with cli.open_state(SystemClock()) as state:
        assert state.sync_secrets(sources) == set()
    cli.ok("sync", "-f", folder)
    with cli.open_state(SystemClock()) as state:
        assert state.sync_secrets(sources) == {("default", "web-tls"), ("backend", "api-tls")}
    deploy(cli, backend=False)

    cli.ok("sync", "-f", folder, "--prune")

    with cli.open_state(SystemClock()) as state:
        assert state.sync_secrets(sources) == {("default", "web-tls")}


def test_a_source_set_never_prunes_what_another_wrote_in_a_namespace_both_used(
    cli: Cli,
) -> None:
    team_a = deploy(cli, "team-a")
    cli.ok("sync", "-f", team_a)
    # team-b also had a Certificate in backend, then removed it.
    team_b = cli.root / "team-b"
    team_b.mkdir()
    cli.manifest("issuer.yaml", SELFSIGNED).rename(team_b / "issuer.yaml")
    cli.manifest("shop.yaml", certificate("shop", namespace="backend")).rename(team_b / "shop.yaml")
    cli.ok("sync", "-f", team_b)
    (team_b / "shop.yaml").unlink()
    cli.manifest("other.yaml", certificate("other", namespace="elsewhere")).rename(
        team_b / "other.yaml"
    )
    api_before = (cli.secret("backend", "api-tls") / "tls.crt").read_bytes()

    result = cli.ok("sync", "-f", team_b, "--prune", "-n", "elsewhere", "-o", "json")

    assert pruned(result.stdout) == [("backend", "shop-tls", "deleted")]
    assert (cli.secret("backend", "api-tls") / "tls.crt").read_bytes() == api_before
