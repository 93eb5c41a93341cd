"""Many CA-signed leaves at once: issued by worker processes, recorded by the run."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certctl.engine import parallel
from certctl.engine.parallel import MIN_PER_WORKER
from tests.cli.conftest import Cli, certificate, describe, issuer, results_by_name

#: Enough leaves in one level for the run to fork workers.
COUNT = 2 * MIN_PER_WORKER + 10


def ca_set(cli: Cli, **key: object) -> Path:
    """A selfSigned root, a CA issuer, and ``COUNT`` ECDSA leaves (``key`` adds to privateKey)."""
    return cli.manifest(
        "many.yaml",
        issuer("bootstrap", {"selfSigned": {}}),
        certificate(
            "root",
            issuer="bootstrap",
            namespace="cert-manager",
            secretName="root",
            isCA=True,
            commonName="many root",
        ),
        issuer("ca", {"ca": {"secretName": "root"}}),
        *(
            certificate(f"leaf-{i}", issuer="ca", privateKey={"algorithm": "ECDSA", **key})
            for i in range(COUNT)
        ),
    )


def writer_pids(cli: Cli) -> set[str]:
    """The pids in the generation folders' names (``.NAME.<pid>-<hex>``): who wrote them."""
    return {
        re.fullmatch(r"\.leaf-\d+-tls\.(\d+)-[0-9a-f]+", cli.generation("default", name).name)[1]  # type: ignore[index]
        for name in (f"leaf-{i}-tls" for i in range(COUNT))
    }


def test_a_large_level_is_issued_by_several_processes_and_recorded_once(cli: Cli) -> None:
    path = ca_set(cli)

    result = cli.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    by_name = results_by_name(result)
    assert {by_name[f"leaf-{i}"]["action"] for i in range(COUNT)} == {"Issued"}
    assert len(writer_pids(cli)) >= 2, "the leaves were written by worker processes"
    root = x509.load_pem_x509_certificate(
        (cli.secret("cert-manager", "root") / "tls.crt").read_bytes()
    )
    for i in (0, COUNT // 2, COUNT - 1):
        cli.leaf("default", f"leaf-{i}-tls").verify_directly_issued_by(root)
    described = cli.ok("describe", "certificate", f"leaf-{COUNT - 1}", "-f", path)
    assert "Revision:  1" in described.stdout
    assert "The certificate has been successfully issued" in described.stdout
    again = cli.ok("renew", "-f", path, "-o", "json")
    assert {item["action"] for item in json.loads(again.stdout)["results"]} == {"UpToDate"}


def test_events_a_worker_raises_reach_the_history(cli: Cli) -> None:
    path = ca_set(cli, rotationPolicy="Never")
    cli.ok("issue", "-f", path)

    result = cli.run("issue", "-f", path, "--force", "-o", "json")

    assert result.exit_code == 0, describe(result)
    described = cli.ok("describe", "certificate", "leaf-7", "-f", path)
    assert "Revision:  2" in described.stdout
    assert "Reusing private key stored in existing Secret default/leaf-7-tls" in described.stdout


def _dying_chunk(indices: Sequence[int]) -> Any:
    """A worker that is killed before it reports anything (as the OOM killer would)."""
    if 1 in indices:
        os._exit(1)
    return _real_issue_chunk(indices)


_real_issue_chunk = parallel._issue_chunk


def test_a_worker_that_dies_does_not_lose_the_level(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ca_set(cli)
    monkeypatch.setattr(parallel, "_issue_chunk", _dying_chunk)

    result = cli.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    by_name = results_by_name(result)
    assert {by_name[f"leaf-{i}"]["outcome"] for i in range(COUNT)} == {"issued"}
    for i in range(COUNT):
        assert (cli.secret("default", f"leaf-{i}-tls") / "tls.key").is_file()
    again = cli.ok("renew", "-f", path, "-o", "json")
    assert {item["action"] for item in json.loads(again.stdout)["results"]} == {"UpToDate"}
