"""``certctl get`` and ``certctl describe``: kubectl-style views of manifests and the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Cli, certificate, describe, issuer, table


def namespaced_set(cli: Cli) -> Path:
    """Two namespaces, each with a selfSigned Issuer and one Certificate."""
    return cli.manifest(
        "namespaced.yaml",
        issuer("local", {"selfSigned": {}}, kind="Issuer", namespace="default"),
        issuer("local", {"selfSigned": {}}, kind="Issuer", namespace="team-a"),
        issuer("team-ca", {"ca": {"secretName": "team-ca-key"}}, kind="Issuer", namespace="team-a"),
        certificate("web", issuer="local", issuer_kind="Issuer", namespace="default"),
        certificate("api", issuer="local", issuer_kind="Issuer", namespace="team-a"),
    )


# -- get certificates ------------------------------------------------------------------------


def test_get_certificates_lists_the_namespace_with_readiness(cli: Cli, quickstart: Path) -> None:
    result = cli.run("get", "certificates", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    rows = table(result.stdout)
    assert [row["NAME"] for row in rows] == ["api-backend"]
    row = rows[0]
    assert row["READY"] == "True"
    assert row["SECRET"] == "api-backend-tls"
    assert row["ISSUER"] == "ca-issuer"
    leaf = cli.leaf("default", "api-backend-tls")
    assert row["NOT AFTER"] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "NAMESPACE" not in result.stdout.splitlines()[0]
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["-A"], id="-A lists every namespace"),
        pytest.param(["--all-namespaces", "-o", "wide"], id="-A with -o wide adds STATUS"),
    ],
)
def test_get_certificates_across_namespaces(cli: Cli, quickstart: Path, args: list[str]) -> None:
    result = cli.run("get", "certificates", "-f", quickstart, *args)

    assert result.exit_code == 0, describe(result)
    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert rows["root-ca"]["NAMESPACE"] == "cert-manager"
    assert rows["api-backend"]["NAMESPACE"] == "default"
    if "wide" in args:
        assert rows["root-ca"]["STATUS"] == "Certificate is up to date and has not expired"


def test_get_certificates_n_selects_another_namespace(cli: Cli, quickstart: Path) -> None:
    result = cli.run("get", "certificates", "-f", quickstart, "-n", "cert-manager")

    assert result.exit_code == 0, describe(result)
    assert [row["NAME"] for row in table(result.stdout)] == ["root-ca"]


def test_get_certificates_before_issuing_is_not_ready(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("get", "certificates", "-f", path, "-o", "wide")

    assert result.exit_code == 0, describe(result)
    row = table(result.stdout)[0]
    assert row["READY"] == "False"
    assert row["NOT AFTER"] == "<none>"
    assert "does not exist" in row["STATUS"]
    assert not cli.store.exists() or list(cli.store.rglob("*/*")) == []


def test_get_certificates_json_is_a_kubectl_list(cli: Cli, quickstart: Path) -> None:
    result = cli.run("get", "certificates", "-f", quickstart, "-A", "-o", "json")

    assert result.exit_code == 0, describe(result)
    document = json.loads(result.stdout)
    assert document["apiVersion"] == "v1"
    assert document["kind"] == "List"
    items = {item["metadata"]["name"]: item for item in document["items"]}
    assert set(items) == {"root-ca", "api-backend"}
    item = items["api-backend"]
    assert item["apiVersion"] == "cert-manager.io/v1"
    assert item["kind"] == "Certificate"
    assert item["metadata"]["namespace"] == "default"
    assert item["spec"]["secretName"] == "api-backend-tls"
    ready = [c for c in item["status"]["conditions"] if c["type"] == "Ready"]
    assert ready == [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "Certificate is up to date and has not expired",
        }
    ]
    assert item["status"]["notAfter"].endswith("Z")
    assert item["status"]["renewalTime"] < item["status"]["notAfter"]
    assert item["status"]["revision"] == 1


def test_get_certificates_yaml_matches_json(cli: Cli, quickstart: Path) -> None:
    as_yaml = cli.run("get", "certificates", "-f", quickstart, "-o", "yaml")
    as_json = cli.run("get", "certificates", "-f", quickstart, "-o", "json")

    assert as_yaml.exit_code == 0, describe(as_yaml)
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)


@pytest.mark.parametrize("alias", ["certificate", "cert", "certs"])
def test_get_certificate_aliases(cli: Cli, quickstart: Path, alias: str) -> None:
    result = cli.run("get", alias, "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    assert [row["NAME"] for row in table(result.stdout)] == ["api-backend"]


def test_get_one_certificate_by_name(cli: Cli, quickstart: Path) -> None:
    result = cli.run("get", "cert", "root-ca", "-f", quickstart, "-n", "cert-manager")

    assert result.exit_code == 0, describe(result)
    assert [row["NAME"] for row in table(result.stdout)] == ["root-ca"]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["get", "certificates", "missing"], id="get certificates"),
        pytest.param(["get", "issuers", "missing"], id="get issuers"),
        pytest.param(["get", "clusterissuers", "missing"], id="get clusterissuers"),
        pytest.param(["describe", "certificate", "missing"], id="describe certificate"),
        pytest.param(["describe", "issuer", "missing"], id="describe issuer"),
        pytest.param(["describe", "clusterissuer", "missing"], id="describe clusterissuer"),
        pytest.param(
            ["describe", "certificate", "root-ca"],
            id="describe certificate in the wrong namespace",
        ),
    ],
)
def test_not_found_exits_2(cli: Cli, quickstart: Path, args: list[str]) -> None:
    result = cli.run(*args, "-f", quickstart)

    assert result.exit_code == 2, describe(result)
    assert f'"{args[2]}" not found' in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_an_empty_namespace_says_no_resources_found(cli: Cli, quickstart: Path) -> None:
    result = cli.run("get", "certificates", "-f", quickstart, "-n", "nowhere")

    assert result.exit_code == 0, describe(result)
    assert result.stdout == ""
    assert "No resources found in nowhere namespace." in result.stderr


# -- get issuers and clusterissuers -------------------------------------------------------------


def test_get_issuers_lists_one_namespace(cli: Cli) -> None:
    path = namespaced_set(cli)

    result = cli.run("get", "issuers", "-f", path, "-n", "team-a", "-o", "wide")

    assert result.exit_code == 0, describe(result)
    rows = {row["NAME"]: row for row in table(result.stdout)}
    assert set(rows) == {"local", "team-ca"}
    assert rows["local"]["TYPE"] == "selfSigned"
    assert rows["local"]["READY"] == "True"
    assert rows["team-ca"]["READY"] == "False"
    assert rows["team-ca"]["REASON"] == "ErrGetKeyPair"
    assert "team-a/team-ca-key not found" in rows["team-ca"]["STATUS"]


def test_get_issuers_all_namespaces_and_alias(cli: Cli) -> None:
    path = namespaced_set(cli)

    result = cli.run("get", "iss", "-f", path, "-A")

    assert result.exit_code == 0, describe(result)
    pairs = sorted((row["NAMESPACE"], row["NAME"]) for row in table(result.stdout))
    assert pairs == [("default", "local"), ("team-a", "local"), ("team-a", "team-ca")]


def test_get_issuers_json(cli: Cli) -> None:
    path = namespaced_set(cli)

    result = cli.run("get", "issuers", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result)
    document = json.loads(result.stdout)
    assert document["kind"] == "List"
    [item] = document["items"]
    assert item["kind"] == "Issuer"
    assert item["metadata"] == {"name": "local", "namespace": "default"}
    assert item["status"]["conditions"][0]["status"] == "True"


def test_get_clusterissuers_before_and_after_issuing(cli: Cli) -> None:
    path = cli.quickstart()

    before = cli.run("get", "clusterissuers", "-f", path, "-o", "wide")
    cli.ok("issue", "-f", path)
    after = cli.run("get", "clusterissuers", "-f", path, "-o", "wide")

    assert before.exit_code == 0, describe(before)
    rows = {row["NAME"]: row for row in table(before.stdout)}
    assert rows["ca-issuer"]["READY"] == "False"
    assert rows["ca-issuer"]["REASON"] == "ErrGetKeyPair"
    assert after.exit_code == 0, describe(after)
    rows = {row["NAME"]: row for row in table(after.stdout)}
    assert rows["ca-issuer"]["TYPE"] == "ca"
    assert rows["ca-issuer"]["READY"] == "True"
    assert rows["ca-issuer"]["REASON"] == "KeyPairVerified"
    assert rows["selfsigned-bootstrap"]["READY"] == "True"


def test_get_ciss_alias_json(cli: Cli, quickstart: Path) -> None:
    result = cli.run("get", "ciss", "-f", quickstart, "-o", "json")

    assert result.exit_code == 0, describe(result)
    items = {item["metadata"]["name"]: item for item in json.loads(result.stdout)["items"]}
    assert set(items) == {"selfsigned-bootstrap", "ca-issuer"}
    assert items["ca-issuer"]["kind"] == "ClusterIssuer"
    assert "namespace" not in items["ca-issuer"]["metadata"]
    assert items["ca-issuer"]["status"]["conditions"][0]["reason"] == "KeyPairVerified"


def test_an_unsupported_clusterissuer_is_not_ready(cli: Cli) -> None:
    spec = {"venafi": {"zone": "z", "cloud": {"apiTokenSecretRef": {"name": "t"}}}}
    path = cli.manifest("issuer.yaml", issuer("later", spec))

    result = cli.run("get", "clusterissuers", "-f", path, "-o", "wide")

    assert result.exit_code == 0, describe(result)
    [row] = table(result.stdout)
    assert (row["READY"], row["REASON"]) == ("False", "NotSupported")
    assert "not supported yet" in row["STATUS"]


def test_an_acme_clusterissuer_is_unknown_until_its_account_is_registered(cli: Cli) -> None:
    spec = {
        "acme": {
            "server": "https://acme-v02.api.letsencrypt.org/directory",
            "privateKeySecretRef": {"name": "account"},
            "solvers": [{"http01": {"standalone": {}}}],
        }
    }
    path = cli.manifest("issuer.yaml", issuer("letsencrypt", spec))

    result = cli.run("get", "clusterissuers", "-f", path, "-o", "wide")

    assert result.exit_code == 0, describe(result)
    [row] = table(result.stdout)
    assert (row["READY"], row["REASON"]) == ("Unknown", "NotRegistered")


# -- describe ------------------------------------------------------------------------------------


def test_describe_certificate_after_issuing(cli: Cli, quickstart: Path) -> None:
    result = cli.run("describe", "certificate", "api-backend", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == "Name:         api-backend"
    assert "Namespace:    default" in lines
    assert "Kind:         Certificate" in lines
    assert "Spec:" in lines
    assert "  Secret Name:  api-backend-tls" in lines
    assert "Status:" in lines
    assert "    Status:  True" in lines
    assert "  Revision:  1" in lines
    serial = format(cli.leaf("default", "api-backend-tls").serial_number, "x")
    assert serial in out.replace(":", "").lower()
    events = out.split("\nEvents:\n", 1)[1].splitlines()
    issuing = [line for line in events if "Issuing" in line]
    assert len(issuing) == 2
    assert all(line.split()[0] == "Normal" for line in issuing)
    assert any("successfully issued" in line for line in issuing)
    assert result.stderr == ""


def test_describe_certificate_in_another_namespace(cli: Cli, quickstart: Path) -> None:
    result = cli.run("describe", "cert", "root-ca", "-n", "cert-manager", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    assert "Namespace:    cert-manager" in result.stdout
    assert "  Is CA:  true" in result.stdout


def test_describe_certificate_before_issuing_has_no_events(cli: Cli) -> None:
    path = cli.quickstart()

    result = cli.run("describe", "certificate", "api-backend", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "Events:       <none>" in result.stdout
    assert "    Status:  False" in result.stdout
    assert "Issued Certificate:" not in result.stdout


def test_describe_clusterissuer(cli: Cli, quickstart: Path) -> None:
    result = cli.run("describe", "clusterissuer", "ca-issuer", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "Name:         ca-issuer"
    assert not any(line.startswith("Namespace:") for line in lines)
    assert "Kind:         ClusterIssuer" in lines
    assert "    Secret Name:  root-ca-secret" in lines
    assert "    Reason:  KeyPairVerified" in lines
    assert any(line.startswith("Source:") and "02-ca-clusterissuer.yaml" in line for line in lines)


def test_describe_issuer_in_a_namespace(cli: Cli) -> None:
    path = namespaced_set(cli)

    result = cli.run("describe", "issuer", "team-ca", "-n", "team-a", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert "Namespace:    team-a" in result.stdout
    assert "Kind:         Issuer" in result.stdout
    assert "    Reason:  ErrGetKeyPair" in result.stdout
