"""``sync`` on the directory store: plan, ingress-shim, prune that spares foreign Secrets, watch."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.cli.conftest import SELFSIGNED, Cli, certificate, describe
from tests.entrypoint import certctl_binary

INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "shop",
        "namespace": "default",
        "annotations": {"cert-manager.io/cluster-issuer": "selfsigned"},
    },
    "spec": {"tls": [{"hosts": ["shop.example.test"], "secretName": "shop-tls"}]},
}


def results(output: str) -> dict[str, dict[str, object]]:
    return {item["name"]: item for item in json.loads(output)["results"]}


def test_a_dry_run_prints_the_plan_and_writes_nothing(cli: Cli) -> None:
    path = cli.manifest("all.yaml", SELFSIGNED, certificate("web"), INGRESS)

    result = cli.ok("sync", "-f", path, "--dry-run")

    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["NAMESPACE", "NAME", "SECRET", "ACTION", "REASON"]
    planned = {line.split()[1]: line.split()[3] for line in lines[1:]}
    assert planned == {"web": "WouldIssue", "shop-tls": "WouldIssue"}
    assert not cli.store.exists() or not any(cli.store.rglob("tls.key"))


def test_certificates_from_ingress_annotations_are_issued(cli: Cli) -> None:
    path = cli.manifest("all.yaml", SELFSIGNED, INGRESS)

    cli.ok("sync", "-f", path)

    leaf = cli.leaf("default", "shop-tls")
    assert "shop.example.test" in str(leaf.extensions)
    annotations = json.loads((cli.secret("default", "shop-tls") / "..metadata.json").read_text())
    assert annotations["annotations"]["cert-manager.io/certificate-name"] == "shop-tls"


def test_a_second_sync_changes_nothing(cli: Cli) -> None:
    path = cli.manifest("all.yaml", SELFSIGNED, certificate("web"), INGRESS)
    cli.ok("sync", "-f", path)
    before = cli.link_target("default", "web-tls")

    result = cli.ok("sync", "-f", path, "-o", "json")

    assert {item["action"] for item in results(result.stdout).values()} == {"UpToDate"}
    assert cli.link_target("default", "web-tls") == before


def test_prune_deletes_only_what_certctl_created_for_certificates_that_are_gone(
    cli: Cli,
) -> None:
    both = cli.manifest("both.yaml", SELFSIGNED, certificate("web"), certificate("old"))
    cli.ok("sync", "-f", both)
    # A Secret someone else wrote, in the same namespace: prune must never touch it.
    DirectoryStore(cli.store).write(
        SecretRecord(
            namespace="default",
            name="foreign-tls",
            data={"tls.crt": b"x", "tls.key": b"y"},
            annotations={"cert-manager.io/certificate-name": "gone-long-ago"},
        )
    )
    only_web = cli.manifest("web.yaml", SELFSIGNED, certificate("web"))

    planned = cli.ok("sync", "-f", only_web, "--prune", "--dry-run", "-o", "json")

    assert json.loads(planned.stdout)["pruned"] == [
        {
            "namespace": "default",
            "name": "old-tls",
            "certificate": "default/old",
            "outcome": "would delete",
            "error": "",
        }
    ]
    assert cli.secret("default", "old-tls").is_symlink(), "a dry run deletes nothing"

    pruned = cli.ok("sync", "-f", only_web, "--prune", "-o", "json")

    assert [item["outcome"] for item in json.loads(pruned.stdout)["pruned"]] == ["deleted"]
    assert not cli.secret("default", "old-tls").exists()
    assert (cli.secret("default", "web-tls") / "tls.crt").exists()
    assert (cli.secret("default", "foreign-tls") / "tls.crt").read_bytes() == b"x"


def test_from_cluster_needs_the_kubernetes_store(cli: Cli) -> None:
    result = cli.run("sync", "--from-cluster")

    assert result.exit_code == 2, describe(result)
    assert "--store kubernetes" in result.stderr


def test_watch_keeps_running_until_interrupted(cli: Cli) -> None:
    certctl = certctl_binary()
    path = cli.manifest("web.yaml", SELFSIGNED, certificate("web"))
    process = subprocess.Popen(
        [certctl, *cli.global_args(), "sync", "-f", str(path), "--watch", "--interval", "200ms"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    rounds = stderr.count("sync: ") + stderr.count("Nothing to sync")
    assert rounds >= 3, stderr
    assert "Traceback" not in stderr
