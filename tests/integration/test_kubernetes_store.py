"""``--store kubernetes`` against the strict fake API server, through the real client."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from certctl.cli.main import app
from tests.integration.servers.kubeapi import KubeAPIServer

REPO = Path(__file__).resolve().parents[2]


class Cluster:
    def __init__(self, root: Path, api: KubeAPIServer, token: str | None = None) -> None:
        self.root = root
        self.api = api
        self.kubeconfig = api.write_kubeconfig(root / f"kubeconfig-{token or 'admin'}", token=token)

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

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.api.get("secrets", namespace, name)


@pytest.fixture
def cluster(tmp_path: Path, kube_api: KubeAPIServer) -> Cluster:
    return Cluster(tmp_path, kube_api)


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    target = tmp_path / "quickstart"
    shutil.copytree(REPO / "examples" / "quickstart", target)
    return target


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_secrets_have_cert_managers_shape_and_annotations(
    cluster: Cluster, quickstart: Path
) -> None:
    result = cluster.run("issue", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    secret = cluster.secret("default", "api-backend-tls")
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    annotations = secret["metadata"]["annotations"]
    assert annotations["cert-manager.io/certificate-name"] == "api-backend"
    assert annotations["cert-manager.io/issuer-name"] == "ca-issuer"
    assert annotations["cert-manager.io/issuer-kind"] == "ClusterIssuer"
    assert (
        annotations["cert-manager.io/alt-names"] == "api.backend.svc,api.backend.svc.cluster.local"
    )
    assert secret["metadata"]["labels"]["controller.cert-manager.io/fao"] == "true"
    managers = {entry["manager"] for entry in secret["metadata"]["managedFields"]}
    assert managers == {"certctl"}
    # The CA ClusterIssuer read its keypair from the cluster resource namespace.
    root = cluster.secret("cert-manager", "root-ca-secret")
    assert root is not None
    assert secret["data"]["ca.crt"] == root["data"]["tls.crt"]


def test_a_run_with_nothing_to_do_sends_no_mutating_request(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    assert cluster.run("issue", "-f", quickstart).exit_code == 0
    kube_api.reset_log()

    result = cluster.run("renew", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    assert kube_api.mutating_requests() == []
    lists = [r for r in kube_api.requests if r.method == "GET" and r.path.endswith("/secrets")]
    assert len(lists) == len(kube_api.requests), "reads are namespace lists, not GETs per Secret"


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(409, id="a 409 conflict is retried"),
        pytest.param(500, id="a 500 error is retried"),
    ],
)
def test_transient_api_errors_are_retried(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer, status: int
) -> None:
    kube_api.fail_next("PATCH", r"/secrets/api-backend-tls$", status, times=2)

    result = cluster.run("issue", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    assert cluster.secret("default", "api-backend-tls") is not None


def foreign_secret(name: str, namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(b"someone else's").decode(),
            "tls.key": base64.b64encode(b"their key").decode(),
        },
    }


def test_a_foreign_secret_is_refused_unless_forced(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    kube_api.create(foreign_secret("api-backend-tls"))

    refused = cluster.run("issue", "-f", quickstart, "-o", "json")

    assert refused.exit_code == 1, describe(refused)
    items = {item["name"]: item for item in json.loads(refused.stdout)["results"]}
    assert items["api-backend"]["reason"] == "ForeignSecret"
    assert "default/api-backend-tls" in items["api-backend"]["error"]
    assert items["root-ca"]["outcome"] == "issued"
    untouched = cluster.secret("default", "api-backend-tls")
    assert untouched is not None
    assert base64.b64decode(untouched["data"]["tls.crt"]) == b"someone else's"

    forced = cluster.run("issue", "-f", quickstart, "--force")

    assert forced.exit_code == 0, describe(forced)
    taken = cluster.secret("default", "api-backend-tls")
    assert taken is not None
    assert taken["metadata"]["annotations"]["cert-manager.io/certificate-name"] == "api-backend"


def test_a_403_names_the_missing_rbac_permission(
    tmp_path: Path, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    kube_api.grant("narrow", ["get", "list"], ["secrets", "leases"])
    kube_api.grant("narrow", ["create", "update", "delete"], ["leases"])
    cluster = Cluster(tmp_path, kube_api, token="narrow")

    result = cluster.run("issue", "-f", quickstart)

    assert result.exit_code == 3, describe(result)
    assert "needs RBAC permission to patch secrets in namespace cert-manager" in result.stderr
    assert "Traceback" not in result.stderr


def lease(holder: str, renewed: dt.datetime) -> dict[str, Any]:
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "certctl-lock", "namespace": "cert-manager"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 60,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }


def test_a_held_lease_makes_a_second_run_exit_3_naming_the_holder(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    kube_api.create(lease("cronjob-pod-7", dt.datetime.now(dt.UTC)))

    result = cluster.run("--lock-timeout", "1s", "issue", "-f", quickstart)

    assert result.exit_code == 3, describe(result)
    assert "cronjob-pod-7" in result.stderr
    assert cluster.secret("default", "api-backend-tls") is None


def test_a_lease_left_by_a_crashed_run_expires(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    kube_api.create(lease("crashed-run", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)))

    result = cluster.run("issue", "-f", quickstart)

    assert result.exit_code == 0, describe(result)
    assert kube_api.get("leases", "cert-manager", "certctl-lock") is None, "released after"


def test_a_dry_run_sync_mutates_nothing(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    result = cluster.run("sync", "-f", quickstart, "--dry-run")

    assert result.exit_code == 0, describe(result)
    assert "WouldIssue" in result.stdout
    assert kube_api.mutating_requests() == []


INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "shop",
        "namespace": "default",
        "annotations": {"cert-manager.io/cluster-issuer": "selfsigned"},
    },
    "spec": {
        "rules": [
            {
                "host": "shop.example.test",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "shop", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
        "tls": [{"hosts": ["shop.example.test"], "secretName": "shop-tls"}],
    },
}
SELFSIGNED = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "ClusterIssuer",
    "metadata": {"name": "selfsigned"},
    "spec": {"selfSigned": {}},
}


def test_sync_from_cluster_turns_annotated_ingresses_into_secrets(
    cluster: Cluster, kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    kube_api.create(INGRESS)
    issuers = tmp_path / "issuers.yaml"
    issuers.write_text(yaml.safe_dump(SELFSIGNED))

    result = cluster.run("sync", "-f", issuers, "--from-cluster")

    assert result.exit_code == 0, describe(result)
    secret = cluster.secret("default", "shop-tls")
    assert secret is not None
    assert secret["metadata"]["annotations"]["cert-manager.io/certificate-name"] == "shop-tls"


def test_prune_deletes_orphans_and_never_a_foreign_secret(
    cluster: Cluster, kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    def certificate(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "secretName": f"{name}-tls",
                "dnsNames": [f"{name}.example.test"],
                "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"},
            },
        }

    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump_all([SELFSIGNED, certificate("web"), certificate("old")]))
    assert cluster.run("sync", "-f", both).exit_code == 0
    foreign = foreign_secret("legacy-tls")
    foreign["metadata"]["annotations"] = {"cert-manager.io/certificate-name": "legacy"}
    kube_api.create(foreign)
    only_web = tmp_path / "web.yaml"
    only_web.write_text(yaml.safe_dump_all([SELFSIGNED, certificate("web")]))

    result = cluster.run("sync", "-f", only_web, "--prune", "-o", "json")

    assert result.exit_code == 0, describe(result)
    assert json.loads(result.stdout)["pruned"][0]["name"] == "old-tls"
    assert cluster.secret("default", "old-tls") is None
    assert cluster.secret("default", "web-tls") is not None
    assert cluster.secret("default", "legacy-tls") is not None


def test_metadata_drift_is_repaired_without_reissuing_and_others_keys_are_left_alone(
    cluster: Cluster, quickstart: Path, kube_api: KubeAPIServer
) -> None:
    assert cluster.run("issue", "-f", quickstart).exit_code == 0
    secret = cluster.secret("default", "api-backend-tls")
    assert secret is not None
    certificate_before = secret["data"]["tls.crt"]
    # Someone else's annotation is not drift; a missing cert-manager one is.
    kube_api.delete("secrets", "default", "api-backend-tls")
    annotations = dict(secret["metadata"]["annotations"])
    del annotations["cert-manager.io/common-name"]
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    kube_api.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": secret["type"],
            "data": secret["data"],
            "metadata": {
                "name": "api-backend-tls",
                "namespace": "default",
                "labels": secret["metadata"]["labels"],
                "annotations": annotations,
            },
        }
    )
    kube_api.reset_log()

    repaired = cluster.run("renew", "-f", quickstart, "-o", "json")
    kube_api.reset_log()
    again = cluster.run("renew", "-f", quickstart)

    assert repaired.exit_code == 0, describe(repaired)
    actions = {item["name"]: item["action"] for item in json.loads(repaired.stdout)["results"]}
    assert actions["api-backend"] == "Repaired"
    after = cluster.secret("default", "api-backend-tls")
    assert after is not None
    assert after["data"]["tls.crt"] == certificate_before
    assert after["metadata"]["annotations"]["cert-manager.io/common-name"] == "api.backend.svc"
    assert "kubectl.kubernetes.io/last-applied-configuration" in after["metadata"]["annotations"]
    assert again.exit_code == 0, describe(again)
    assert kube_api.mutating_requests() == []


def test_a_namespace_certctl_may_not_read_fails_only_its_certificates(
    tmp_path: Path, kube_api: KubeAPIServer
) -> None:
    for namespace in ("default", "cert-manager"):
        kube_api.grant(
            "scoped", ["get", "list", "create", "patch", "delete"], ["secrets"], namespace=namespace
        )
    kube_api.grant(
        "scoped", ["get", "create", "update", "delete"], ["leases"], namespace="cert-manager"
    )
    cluster = Cluster(tmp_path, kube_api, token="scoped")

    def certificate(name: str, namespace: str) -> dict[str, Any]:
        return {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "secretName": f"{name}-tls",
                "dnsNames": [f"{name}.example.test"],
                "issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"},
            },
        }

    manifests = tmp_path / "two-namespaces.yaml"
    manifests.write_text(
        yaml.safe_dump_all(
            [SELFSIGNED, certificate("allowed", "default"), certificate("denied", "kube-system")]
        )
    )

    result = cluster.run("sync", "-f", manifests, "-o", "json")

    assert result.exit_code == 3, describe(result)
    items = {item["name"]: item for item in json.loads(result.stdout)["results"]}
    assert items["allowed"]["outcome"] == "issued"
    assert items["denied"]["outcome"] == "failed"
    assert "list secrets in namespace kube-system" in items["denied"]["error"]
    assert cluster.secret("default", "allowed-tls") is not None


def test_challenge_cleanup_removes_ingress_solver_objects_a_killed_run_left(
    cluster: Cluster, kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    from kubernetes.config import new_client_from_config

    from certctl.acme.settings import ACMESettings
    from certctl.acme.solvers.base import SolverContext
    from certctl.acme.solvers.ingress import IngressSolver
    from certctl.clock import SystemClock
    from certctl.state.database import StateDatabase
    from certctl.stores.kubernetes import KubernetesStore

    block = {"http01": {"ingress": {"ingressClassName": "nginx"}}}
    token, key = "leftovertoken0", "leftovertoken0.thumbprint"
    with new_client_from_config(config_file=str(cluster.kubeconfig)) as api_client:
        store = KubernetesStore(api_client=api_client)
        context = SolverContext(
            secret_namespace="cert-manager",
            read_secret=store.read,
            store=store,
            settings=ACMESettings(),
            issuer="ClusterIssuer/letsencrypt",
            namespace="default",
        )
        # A run presented the challenge, then was killed before its cleanup.
        IngressSolver(block["http01"]["ingress"], context).present("web.example.test", token, key)
    assert len(kube_api.objects("pods", "default")) == 1
    # The state of the store the command below opens (same kubeconfig, same context).
    identity = KubernetesStore(kubeconfig=str(cluster.kubeconfig)).identity
    with StateDatabase.open(tmp_path / "state", SystemClock(), store=identity) as state:
        state.save_acme_object(
            "Challenge",
            "default",
            "web-1-abc",
            certificate="default/web",
            state="pending",
            body={
                "spec": {
                    "type": "HTTP-01",
                    "dnsName": "web.example.test",
                    "token": token,
                    "key": key,
                    "solver": block,
                    "issuerRef": "ClusterIssuer/letsencrypt",
                },
                "status": {"presented": True, "state": "pending"},
            },
        )

    result = cluster.run("challenge", "cleanup")

    assert result.exit_code == 0, describe(result)
    assert kube_api.objects("pods", "default") == []
    assert kube_api.objects("services", "default") == []
    assert kube_api.objects("ingresses", "default") == []


def test_a_rewrite_keeps_a_data_key_another_field_manager_added(
    cluster: Cluster, quickstart: Path
) -> None:
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    assert cluster.run("issue", "-f", quickstart).exit_code == 0
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    # A person adds a key with kubectl edit, as its own field manager.
    api.patch_namespaced_secret(
        "api-backend-tls",
        "default",
        {"data": {"extra.conf": base64.b64encode(b"listen 443;\n").decode()}},
        field_manager="kubectl-edit",
    )
    before = cluster.secret("default", "api-backend-tls")
    assert before is not None

    result = cluster.run("issue", "-f", quickstart, "--force", "--name", "api-backend")

    assert result.exit_code == 0, describe(result)
    after = cluster.secret("default", "api-backend-tls")
    assert after is not None
    assert after["data"]["tls.crt"] != before["data"]["tls.crt"]
    assert base64.b64decode(after["data"]["extra.conf"]) == b"listen 443;\n"
