"""``certctl inject -f``: the cainjector for manifests, with the dir store."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.conftest import REPO, Cli, certificate, describe

EXAMPLE = REPO / "examples" / "inject"


def webhook_configuration(
    annotations: dict[str, str], *, name: str = "api-backend-webhook", hooks: int = 2
) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "annotations": annotations},
        "webhooks": [
            {
                "name": f"hook-{index}.api.backend.svc",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": {"service": {"name": "api", "namespace": "backend"}},
            }
            for index in range(hooks)
        ],
    }


def ca_crt(cli: Cli, namespace: str, secret: str) -> str:
    return base64.b64encode((cli.secret(namespace, secret) / "ca.crt").read_bytes()).decode()


def bundles(document: dict[str, Any]) -> list[str]:
    return [hook["clientConfig"].get("caBundle") for hook in document["webhooks"]]


def test_every_webhook_gets_the_certificates_ca(cli: Cli, quickstart: Path) -> None:
    manifest = cli.manifest(
        "webhook.yaml",
        webhook_configuration({"cert-manager.io/inject-ca-from": "default/api-backend"}, hooks=3),
    )
    before = manifest.read_text()

    result = cli.ok("inject", "-f", quickstart, "-f", manifest)

    (document,) = yaml.safe_load_all(result.stdout)
    expected = ca_crt(cli, "default", "api-backend-tls")
    assert bundles(document) == [expected] * 3
    assert document["webhooks"][0]["clientConfig"]["service"] == {
        "name": "api",
        "namespace": "backend",
    }
    assert manifest.read_text() == before, "files are never rewritten"
    assert (
        "ValidatingWebhookConfiguration api-backend-webhook: injected the CA of Certificate "
        "default/api-backend into webhooks[0].clientConfig.caBundle, "
        "webhooks[1].clientConfig.caBundle, webhooks[2].clientConfig.caBundle." in result.stderr
    )


def test_the_example_injects_the_webhook_and_the_crd(cli: Cli, quickstart: Path) -> None:
    result = cli.ok("inject", "-f", quickstart, "-f", EXAMPLE, "-o", "json")

    listing = json.loads(result.stdout)
    expected = ca_crt(cli, "default", "api-backend-tls")
    kinds = {item["kind"]: item for item in listing["items"]}
    assert set(kinds) == {"ValidatingWebhookConfiguration", "CustomResourceDefinition"}
    assert set(bundles(kinds["ValidatingWebhookConfiguration"])) == {expected}
    conversion = kinds["CustomResourceDefinition"]["spec"]["conversion"]
    assert conversion["webhook"]["clientConfig"]["caBundle"] == expected
    assert "2 injected, 0 unchanged, 0 skipped, 0 failed" in result.stderr


def test_output_name_lists_the_objects(cli: Cli, quickstart: Path) -> None:
    result = cli.ok("inject", "-f", quickstart, "-f", EXAMPLE, "-o", "name")

    assert result.stdout.splitlines() == [
        "validatingwebhookconfigurations.admissionregistration.k8s.io/api-backend-webhook injected",
        "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com injected",
    ]


def issue_direct_ca(cli: Cli, *, allow: bool) -> Path:
    """A CA Certificate whose Secret does (or does not) allow direct injection."""
    template = {"annotations": {"cert-manager.io/allow-direct-injection": "true"}} if allow else {}
    manifest = cli.manifest(
        "webhook-ca.yaml",
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "selfsigned"},
            "spec": {"selfSigned": {}},
        },
        certificate("webhook-ca", isCA=True, commonName="webhook CA", secretTemplate=template)
        if allow
        else certificate("webhook-ca", isCA=True, commonName="webhook CA"),
    )
    cli.ok("issue", "-f", manifest)
    return manifest


@pytest.mark.parametrize(
    "allow",
    [
        pytest.param(True, id="a Secret with allow-direct-injection is injected"),
        pytest.param(False, id="a Secret without allow-direct-injection is refused"),
    ],
)
def test_a_secret_source_needs_allow_direct_injection(cli: Cli, allow: bool) -> None:
    issue_direct_ca(cli, allow=allow)
    target = cli.manifest(
        "webhook.yaml",
        webhook_configuration({"cert-manager.io/inject-ca-from-secret": "default/webhook-ca-tls"}),
    )

    result = cli.run("inject", "-f", target)

    if allow:
        assert result.exit_code == 0, describe(result)
        (document,) = yaml.safe_load_all(result.stdout)
        assert bundles(document) == [ca_crt(cli, "default", "webhook-ca-tls")] * 2
        return
    assert result.exit_code == 1, describe(result)
    assert result.stdout == ""
    assert (
        "ValidatingWebhookConfiguration api-backend-webhook: Secret default/webhook-ca-tls does "
        "not allow direct injection" in result.stderr
    )
    assert 'cert-manager.io/allow-direct-injection: "true"' in result.stderr


def test_a_missing_certificate_fails_that_object_only(cli: Cli, quickstart: Path) -> None:
    broken = webhook_configuration(
        {"cert-manager.io/inject-ca-from": "default/no-such-cert"}, name="broken"
    )
    fine = webhook_configuration(
        {"cert-manager.io/inject-ca-from": "default/api-backend"}, name="fine"
    )
    manifest = cli.manifest("webhooks.yaml", broken, fine)

    result = cli.run("inject", "-f", quickstart, "-f", manifest)

    assert result.exit_code == 1, describe(result)
    assert (
        "ValidatingWebhookConfiguration broken: Certificate default/no-such-cert named by "
        "cert-manager.io/inject-ca-from was not found in the manifests given with -f"
        in result.stderr
    )
    assert "Traceback" not in result.output
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout)]
    assert names == ["fine"]


def test_a_certificate_not_issued_yet_is_named(cli: Cli) -> None:
    path = cli.quickstart()
    manifest = cli.manifest(
        "webhook.yaml",
        webhook_configuration({"cert-manager.io/inject-ca-from": "default/api-backend"}),
    )

    result = cli.run("inject", "-f", path, "-f", manifest)

    assert result.exit_code == 1, describe(result)
    assert (
        "Secret default/api-backend-tls of Certificate default/api-backend does not exist"
        in result.stderr
    )


def test_objects_without_annotations_are_listed_with_verbose(cli: Cli, quickstart: Path) -> None:
    manifest = cli.manifest("webhook.yaml", webhook_configuration({}, name="plain"))

    quiet = cli.ok("inject", "-f", quickstart, "-f", manifest)
    verbose = cli.ok("-v", "inject", "-f", quickstart, "-f", manifest)

    assert quiet.stdout == ""
    assert "plain: skipped" not in quiet.stderr
    assert (
        "ValidatingWebhookConfiguration plain: skipped: no cert-manager.io/inject-ca-from"
        in verbose.stderr
    )
    assert "0 injected, 0 unchanged, 1 skipped, 0 failed" in verbose.stderr


def test_the_apiserver_ca_needs_the_kubernetes_store(cli: Cli) -> None:
    manifest = cli.manifest(
        "webhook.yaml", webhook_configuration({"cert-manager.io/inject-apiserver-ca": "true"})
    )

    result = cli.run("inject", "-f", manifest)

    assert result.exit_code == 1, describe(result)
    assert "cert-manager.io/inject-apiserver-ca needs --store kubernetes" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["--from-cluster"], "--from-cluster needs --store kubernetes", id="cluster"),
        pytest.param(["-f", "x.yaml", "--dry-run"], "--dry-run only applies", id="dry run"),
        pytest.param(["-f", "x.yaml", "-o", "table"], "-o 'table'", id="output format"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: list[str], words: str) -> None:
    result = cli.run("inject", *args)

    assert result.exit_code == 2, describe(result)
    assert words in result.stderr
