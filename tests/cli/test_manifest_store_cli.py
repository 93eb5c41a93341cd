"""``--store manifest:FILE`` and ``--store manifest`` through the CLI."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from typer.testing import Result

from certctl.stores.manifest import ManifestFileStore
from tests.cli.conftest import API_BACKEND, ROOT_CA, Cli, describe, results_by_name, table


def manifest_args(cli: Cli, spec: str) -> list[str]:
    return ["--store", spec, "--state-dir", str(cli.state)]


def secrets_in(text: str) -> dict[str, dict[str, Any]]:
    """The Secret documents of a YAML stream, keyed by namespace/name."""
    found = {}
    for document in yaml.safe_load_all(text):
        if document and document.get("kind") == "Secret":
            metadata = document["metadata"]
            found[f"{metadata['namespace']}/{metadata['name']}"] = document
    return found


def data_of(document: dict[str, Any], key: str) -> bytes:
    return base64.b64decode(document["data"][key])


@pytest.fixture
def secrets_file(cli: Cli) -> Path:
    return cli.root / "gitops" / "secrets.yaml"


def issue_into(cli: Cli, secrets_file: Path, quickstart: Path, *args: str) -> Result:
    return cli.ok(
        "issue", "-f", quickstart, *args, global_args=manifest_args(cli, f"manifest:{secrets_file}")
    )


def test_issue_writes_both_secrets_into_the_file_and_the_ca_signs_from_it(
    cli: Cli, secrets_file: Path
) -> None:
    result = issue_into(cli, secrets_file, cli.quickstart())

    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert {name: row["ACTION"] for name, row in rows.items()} == {
        "root-ca": "Issued",
        "api-backend": "Issued",
    }
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600
    secrets = secrets_in(secrets_file.read_text())
    root_key = f"{ROOT_CA[0]}/{ROOT_CA[2]}"
    leaf_key = f"{API_BACKEND[0]}/{API_BACKEND[2]}"
    assert set(secrets) == {root_key, leaf_key}
    root = secrets[root_key]
    leaf = secrets[leaf_key]
    assert leaf["type"] == "kubernetes.io/tls"
    assert leaf["metadata"]["annotations"]["cert-manager.io/certificate-name"] == "api-backend"
    # The CA issuer read the root CA's keypair back from the same file.
    assert data_of(leaf, "ca.crt") == data_of(root, "tls.crt")
    certificate = x509.load_pem_x509_certificate(data_of(leaf, "tls.crt"))
    ca = x509.load_pem_x509_certificate(data_of(root, "tls.crt"))
    certificate.verify_directly_issued_by(ca)


def test_a_second_run_is_a_no_op_that_leaves_the_file_untouched(
    cli: Cli, secrets_file: Path
) -> None:
    quickstart = cli.quickstart()
    issue_into(cli, secrets_file, quickstart)
    before = (secrets_file.read_bytes(), os.stat(secrets_file).st_mtime_ns)

    result = issue_into(cli, secrets_file, quickstart, "-o", "json")

    outcomes = {name: item["outcome"] for name, item in results_by_name(result).items()}
    assert outcomes == {"root-ca": "unchanged", "api-backend": "unchanged"}
    assert (secrets_file.read_bytes(), os.stat(secrets_file).st_mtime_ns) == before


def test_a_run_with_fresh_state_reads_the_file_back_instead_of_reissuing(
    cli: Cli, secrets_file: Path
) -> None:
    quickstart = cli.quickstart()
    issue_into(cli, secrets_file, quickstart)
    before = secrets_file.read_bytes()

    result = cli.ok(
        "issue",
        "-f",
        quickstart,
        "-o",
        "json",
        global_args=["--store", f"manifest:{secrets_file}", "--state-dir", str(cli.root / "new")],
    )

    assert {item["action"] for item in results_by_name(result).values()} == {"UpToDate"}
    assert secrets_file.read_bytes() == before


def test_get_certificates_reads_the_file_back(cli: Cli, secrets_file: Path) -> None:
    quickstart = cli.quickstart()
    issue_into(cli, secrets_file, quickstart)

    result = cli.ok(
        "get",
        "certificates",
        "-f",
        quickstart,
        "-A",
        global_args=manifest_args(cli, f"manifest:{secrets_file}"),
    )

    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert set(rows) == {"root-ca", "api-backend"}
    assert {row["READY"] for row in rows.values()} == {"True"}


def test_other_documents_in_the_file_survive_an_issue(cli: Cli, secrets_file: Path) -> None:
    secrets_file.parent.mkdir(parents=True)
    configmap = "# kept as is\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
    secrets_file.write_text(configmap)

    issue_into(cli, secrets_file, cli.quickstart())

    assert secrets_file.read_text().startswith(configmap + "---\n")
    assert len(secrets_in(secrets_file.read_text())) == 2


def test_a_corrupt_file_exits_3_naming_the_file_and_line(cli: Cli, secrets_file: Path) -> None:
    secrets_file.parent.mkdir(parents=True)
    secrets_file.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: root-ca-secret, namespace: cert-manager}\n"
        "data:\n  tls.crt: '%%%'\n"
    )
    before = secrets_file.read_bytes()

    result = cli.run(
        "issue", "-f", cli.quickstart(), global_args=manifest_args(cli, f"manifest:{secrets_file}")
    )

    assert result.exit_code == 3, describe(result)
    assert f"{secrets_file}:5" in result.stderr
    assert "not valid base64" in result.stderr
    assert "untouched" in result.stderr
    assert secrets_file.read_bytes() == before


def test_a_held_lock_exits_3(cli: Cli, secrets_file: Path) -> None:
    with ManifestFileStore(secrets_file).lock(dt.timedelta(0)):
        result = cli.run(
            "issue",
            "-f",
            cli.quickstart(),
            global_args=[*manifest_args(cli, f"manifest:{secrets_file}"), "--lock-timeout", "0s"],
        )

    assert result.exit_code == 3, describe(result)
    assert "holds the lock" in result.stderr


def test_stdout_mode_prints_only_the_secrets_on_stdout(cli: Cli) -> None:
    result = cli.ok("issue", "-f", cli.quickstart(), global_args=manifest_args(cli, "manifest"))

    # stdout is pure Secret manifests (ready for kubectl apply); the report is on stderr.
    assert result.stdout.startswith("---\napiVersion: v1\n")
    secrets = secrets_in(result.stdout)
    assert set(secrets) == {f"{ROOT_CA[0]}/{ROOT_CA[2]}", f"{API_BACKEND[0]}/{API_BACKEND[2]}"}
    leaf = secrets[f"{API_BACKEND[0]}/{API_BACKEND[2]}"]
    assert data_of(leaf, "ca.crt") == data_of(secrets[f"{ROOT_CA[0]}/{ROOT_CA[2]}"], "tls.crt")
    report = result.stderr[result.stderr.index("NAMESPACE ") :].splitlines()
    rows = [line for line in report[1:] if line.split()[:1] in (["cert-manager"], ["default"])]
    assert [line.split()[3] for line in rows] == ["Issued", "Issued"]
    assert not (cli.root / "manifest").exists()


def test_stdout_mode_issues_again_on_every_run(cli: Cli) -> None:
    quickstart = cli.quickstart()
    cli.ok("issue", "-f", quickstart, global_args=manifest_args(cli, "manifest"))

    result = cli.ok(
        "issue", "-f", quickstart, "-o", "json", global_args=manifest_args(cli, "manifest")
    )

    assert len(secrets_in(result.stdout)) == 2
    json_start = result.stderr.index("{\n")
    json_end = result.stderr.index("\n}\n", json_start) + 3
    results = json.loads(result.stderr[json_start:json_end])["results"]
    assert {item["outcome"] for item in results} == {"issued"}
