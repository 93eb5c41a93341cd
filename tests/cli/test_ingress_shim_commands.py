"""Every command that acts on Certificates sees the ones ingress-shim derives from Ingresses.

Run on a copy of ``examples/ingress-shim/``: one selfSigned Issuer and one annotated
Ingress with two ``spec.tls`` entries, so two derived Certificates and no explicit one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from tests.cli.conftest import REPO, Cli, describe, results_by_name, table

NAMESPACE = "ingress-demo"
DERIVED = {"shop-tls", "shop-admin-tls"}


@pytest.fixture
def example(cli: Cli) -> Path:
    target = cli.root / "ingress-shim"
    shutil.copytree(REPO / "examples" / "ingress-shim", target)
    return target


def test_validate_counts_the_derived_certificates(cli: Cli, example: Path) -> None:
    result = cli.run("validate", "-f", example)

    assert result.exit_code == 0, describe(result)
    assert "2 Certificates from Ingress annotations" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["sync", "--dry-run"], id="sync plans both derived Certificates"),
        pytest.param(["issue", "--dry-run"], id="issue plans both derived Certificates"),
        pytest.param(["renew", "--dry-run"], id="renew plans both derived Certificates"),
    ],
)
def test_every_plan_holds_the_derived_certificates(
    cli: Cli, example: Path, command: list[str]
) -> None:
    result = cli.run(*command, "-f", example, "-o", "json")

    assert result.exit_code == 0, describe(result)
    items = json.loads(result.stdout)["results"]
    assert {item["name"] for item in items} == DERIVED
    assert {(item["namespace"], item["action"]) for item in items} == {(NAMESPACE, "WouldIssue")}
    assert not cli.store.exists() or not any(cli.store.rglob("tls.crt"))


def test_issue_issues_the_derived_certificates_and_renew_finds_them_up_to_date(
    cli: Cli, example: Path
) -> None:
    issued = cli.run("issue", "-f", example, "-o", "json")
    renewed = cli.run("renew", "-f", example)

    assert issued.exit_code == 0, describe(issued)
    by_name = results_by_name(issued)
    assert set(by_name) == DERIVED
    assert {item["action"] for item in by_name.values()} == {"Issued"}
    leaf = cli.leaf(NAMESPACE, "shop-tls")
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == [
        "shop.example.com",
        "www.shop.example.com",
    ]
    assert cli.metadata(NAMESPACE, "shop-admin-tls")["annotations"][
        "cert-manager.io/certificate-name"
    ] == ("shop-admin-tls")
    assert renewed.exit_code == 0, describe(renewed)
    assert "Nothing to renew: 2 certificates up to date" in renewed.stderr


def test_issue_selects_a_derived_certificate_by_name(cli: Cli, example: Path) -> None:
    result = cli.run("issue", "-f", example, "--name", "shop-admin-tls", "-o", "json")

    assert result.exit_code == 0, describe(result)
    assert set(results_by_name(result)) == {"shop-admin-tls"}
    assert (cli.secret(NAMESPACE, "shop-admin-tls") / "tls.crt").is_file()
    assert not cli.secret(NAMESPACE, "shop-tls").exists()


def test_get_and_describe_show_the_derived_certificates(cli: Cli, example: Path) -> None:
    cli.ok("issue", "-f", example)

    listed = cli.run("get", "certificates", "-A", "-f", example)
    described = cli.run("describe", "certificate", "shop-tls", "-n", NAMESPACE, "-f", example)

    assert listed.exit_code == 0, describe(listed)
    rows = {row["NAME"]: row for row in table(listed.stdout)}
    assert set(rows) == DERIVED
    assert {row["READY"] for row in rows.values()} == {"True"}
    assert {row["NAMESPACE"] for row in rows.values()} == {NAMESPACE}
    assert described.exit_code == 0, describe(described)
    assert "01-ingress.yaml" in described.stdout
    assert "Ready" in described.stdout
    assert "shop.example.com" in described.stdout


def test_an_ingress_with_a_bad_annotation_stops_issue_before_anything_changes(
    cli: Cli, example: Path
) -> None:
    ingress = example / "01-ingress.yaml"
    ingress.write_text(
        ingress.read_text().replace(
            'cert-manager.io/private-key-size: "384"', 'cert-manager.io/private-key-size: "big"'
        )
    )

    result = cli.run("issue", "-f", example)

    assert result.exit_code == 2, describe(result)
    assert "01-ingress.yaml" in result.stderr
    assert "cert-manager.io/private-key-size" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.store.exists() or not any(cli.store.rglob("tls.crt"))
