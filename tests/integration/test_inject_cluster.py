"""``certctl --store kubernetes inject --from-cluster`` against the strict fake API server."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from certctl.cli.main import app
from tests.integration.servers.kubeapi import KubeAPIServer

REPO = Path(__file__).resolve().parents[2]
FROM_CERTIFICATE = {"cert-manager.io/inject-ca-from": "default/api-backend"}


class Cluster:
    def __init__(self, root: Path, api: KubeAPIServer) -> None:
        self.root = root
        self.api = api
        self.kubeconfig = api.write_kubeconfig(root / "kubeconfig")

    def run(self, *args: str | Path) -> Result:
        return CliRunner().invoke(
            app,
            [
                "--store",
                "kubernetes",
                "--kubeconfig",
                str(self.kubeconfig),
                "--state-dir",
                str(self.root / "state"),
                *map(str, args),
            ],
        )

    def ca_crt(self) -> str:
        secret = self.api.get("secrets", "default", "api-backend-tls")
        assert secret is not None
        ca: str = secret["data"]["ca.crt"]
        return ca


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def webhook_configuration(name: str, annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "annotations": annotations},
        "webhooks": [
            {
                "name": f"{hook}.api.backend.svc",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": {"service": {"name": "api", "namespace": "backend"}},
            }
            for hook in ("create", "delete")
        ],
    }


def api_service(annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1.metrics.example.com", "annotations": annotations},
        "spec": {
            "group": "metrics.example.com",
            "version": "v1",
            "groupPriorityMinimum": 100,
            "versionPriority": 100,
            "service": {"name": "metrics", "namespace": "backend"},
        },
    }


def crd_from_example() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (REPO / "examples" / "inject" / "01-crd-conversion.yaml").read_text()
    )
    return document


@pytest.fixture
def cluster(tmp_path: Path, kube_api: KubeAPIServer) -> Cluster:
    """The quick start issued into the cluster, and three injectables plus a plain one."""
    quickstart = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", quickstart)
    cluster = Cluster(tmp_path, kube_api)
    issued = cluster.run("issue", "-f", quickstart)
    assert issued.exit_code == 0, describe(issued)
    kube_api.create(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "api-backend", "namespace": "default"},
            "spec": {
                "secretName": "api-backend-tls",
                "dnsNames": ["api.backend.svc"],
                "issuerRef": {"name": "ca-issuer", "kind": "ClusterIssuer"},
            },
        }
    )
    kube_api.create(webhook_configuration("api-backend-webhook", FROM_CERTIFICATE))
    kube_api.create(webhook_configuration("plain", {}))
    kube_api.create(api_service(FROM_CERTIFICATE))
    kube_api.create(crd_from_example())
    kube_api.reset_log()
    return cluster


def bundles(kube_api: KubeAPIServer) -> dict[str, Any]:
    webhook = kube_api.get("validatingwebhookconfigurations", None, "api-backend-webhook")
    service = kube_api.get("apiservices", None, "v1.metrics.example.com")
    crd = kube_api.get("customresourcedefinitions", None, "widgets.example.com")
    assert webhook is not None and service is not None and crd is not None
    return {
        "webhooks": [hook["clientConfig"].get("caBundle") for hook in webhook["webhooks"]],
        "apiservice": service["spec"].get("caBundle"),
        "crd": crd["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle"),
    }


def test_objects_in_the_cluster_get_their_ca_bundle_patched(
    cluster: Cluster, kube_api: KubeAPIServer
) -> None:
    plain_before = kube_api.get("validatingwebhookconfigurations", None, "plain")

    result = cluster.run("inject", "--from-cluster")

    assert result.exit_code == 0, describe(result)
    ca = cluster.ca_crt()
    assert bundles(kube_api) == {"webhooks": [ca, ca], "apiservice": ca, "crd": ca}
    assert kube_api.get("validatingwebhookconfigurations", None, "plain") == plain_before
    patches = kube_api.mutating_requests()
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in patches] == [
        ("PATCH", "api-backend-webhook"),
        ("PATCH", "v1.metrics.example.com"),
        ("PATCH", "widgets.example.com"),
    ]
    assert sorted(result.stdout.splitlines()) == [
        "apiservices.apiregistration.k8s.io/v1.metrics.example.com patched",
        "customresourcedefinitions.apiextensions.k8s.io/widgets.example.com patched",
        "validatingwebhookconfigurations.admissionregistration.k8s.io/api-backend-webhook patched",
    ]


def test_a_second_run_changes_nothing(cluster: Cluster, kube_api: KubeAPIServer) -> None:
    assert cluster.run("inject", "--from-cluster").exit_code == 0
    kube_api.reset_log()

    result = cluster.run("inject", "--from-cluster")

    assert result.exit_code == 0, describe(result)
    assert kube_api.mutating_requests() == []
    assert "0 patched, 3 unchanged, 1 skipped, 0 failed" in result.stderr


def test_dry_run_sends_no_mutating_request(cluster: Cluster, kube_api: KubeAPIServer) -> None:
    result = cluster.run("inject", "--from-cluster", "--dry-run")

    assert result.exit_code == 0, describe(result)
    assert kube_api.mutating_requests() == []
    assert bundles(kube_api) == {"webhooks": [None, None], "apiservice": None, "crd": None}
    assert (
        "validatingwebhookconfigurations.admissionregistration.k8s.io/api-backend-webhook "
        "patched (dry run)" in result.stdout.splitlines()
    )
    assert "3 would change" in result.stderr


def test_dry_run_yaml_shows_the_objects_as_they_would_be(
    cluster: Cluster, kube_api: KubeAPIServer
) -> None:
    result = cluster.run("inject", "--from-cluster", "--dry-run", "-o", "yaml")

    assert result.exit_code == 0, describe(result)
    assert kube_api.mutating_requests() == []
    documents = {d["metadata"]["name"]: d for d in yaml.safe_load_all(result.stdout)}
    assert set(documents) == {
        "api-backend-webhook",
        "v1.metrics.example.com",
        "widgets.example.com",
    }
    assert documents["v1.metrics.example.com"]["spec"]["caBundle"] == cluster.ca_crt()
    assert "managedFields" not in documents["v1.metrics.example.com"]["metadata"]


def test_certificates_can_come_from_manifests(
    cluster: Cluster, kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    kube_api.delete("certificates", "default", "api-backend")

    without = cluster.run("inject", "--from-cluster", "--dry-run")
    with_manifests = cluster.run("inject", "--from-cluster", "-f", tmp_path / "quickstart")

    assert without.exit_code == 1, describe(without)
    assert (
        "Certificate default/api-backend named by cert-manager.io/inject-ca-from was not found "
        "in the manifests given with -f or in the cluster" in without.stderr
    )
    assert with_manifests.exit_code == 0, describe(with_manifests)
    ca = cluster.ca_crt()
    assert bundles(kube_api) == {"webhooks": [ca, ca], "apiservice": ca, "crd": ca}


def test_the_apiserver_ca_comes_from_the_kubeconfig(
    cluster: Cluster, kube_api: KubeAPIServer
) -> None:
    kube_api.delete("apiservices", None, "v1.metrics.example.com")
    kube_api.create(api_service({"cert-manager.io/inject-apiserver-ca": "true"}))

    result = cluster.run("inject", "--from-cluster")

    assert result.exit_code == 0, describe(result)
    service = kube_api.get("apiservices", None, "v1.metrics.example.com")
    assert service is not None
    assert base64.b64decode(service["spec"]["caBundle"]) == kube_api.ca_pem


def test_a_failed_object_does_not_stop_the_others(
    cluster: Cluster, kube_api: KubeAPIServer
) -> None:
    kube_api.create(
        webhook_configuration(
            "refused", {"cert-manager.io/inject-ca-from-secret": "default/api-backend-tls"}
        )
    )

    result = cluster.run("inject", "--from-cluster")

    assert result.exit_code == 1, describe(result)
    assert (
        "ValidatingWebhookConfiguration refused: Secret default/api-backend-tls does not "
        "allow direct injection" in result.stderr
    )
    refused = kube_api.get("validatingwebhookconfigurations", None, "refused")
    assert refused is not None
    assert all("caBundle" not in hook["clientConfig"] for hook in refused["webhooks"])
    ca = cluster.ca_crt()
    assert bundles(kube_api) == {"webhooks": [ca, ca], "apiservice": ca, "crd": ca}
