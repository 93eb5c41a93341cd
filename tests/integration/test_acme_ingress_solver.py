"""``http01.ingress`` end to end: Pebble, BIND, the fake API server, and an ingress controller.

Nothing here serves the token directly. The ingress-controller stand-in answers
``GET /.well-known/acme-challenge/<token>`` only by reading the fake cluster the way
a controller would: an Ingress with that host and an ``Exact`` path, its backend
Service, a Pod the Service selects, and that Pod's ``--key=`` argument. So the
certificate is issued only if the solver's objects fit together.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from typer.testing import CliRunner, Result

from certctl.cli.main import app
from tests.integration.acme_helpers import acme_issuer, certificate, describe
from tests.integration.servers.bind import BindServer
from tests.integration.servers.kubeapi import KubeAPIServer
from tests.integration.servers.pebble import PebbleServer

PREFIX = "/.well-known/acme-challenge/"
SOLVER_KINDS = ("pods", "services", "ingresses")


@dataclass
class Served:
    """What the controller saw when it answered a token: the objects on the route."""

    host: str
    ingress: dict[str, Any]
    service: dict[str, Any]
    pod: dict[str, Any]


@dataclass
class IngressController:
    """Routes challenge requests through the fake cluster's Ingresses, Services and Pods."""

    api: KubeAPIServer
    refuse: bool = False
    served: list[Served] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def answer(self, host: str, path: str) -> str | None:
        if self.refuse or not path.startswith(PREFIX):
            return None
        for ingress in self.api.objects("ingresses"):
            namespace = ingress["metadata"]["namespace"]
            for rule in ingress["spec"].get("rules") or []:
                if rule.get("host") != host:
                    continue
                for entry in (rule.get("http") or {}).get("paths") or []:
                    if entry.get("path") != path or entry.get("pathType") != "Exact":
                        continue
                    backend = entry["backend"]["service"]
                    key = self._follow(namespace, backend, ingress, host)
                    if key is not None:
                        return key
        self.misses.append(f"{host}{path}")
        return None

    def _follow(
        self, namespace: str, backend: dict[str, Any], ingress: dict[str, Any], host: str
    ) -> str | None:
        service = self.api.get("services", namespace, backend["name"])
        if service is None:
            return None
        ports = [port["port"] for port in service["spec"].get("ports") or []]
        if backend["port"].get("number") not in ports:
            return None
        selector = service["spec"].get("selector") or {}
        for pod in self.api.objects("pods", namespace):
            labels = pod["metadata"].get("labels") or {}
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                continue
            for container in pod["spec"]["containers"]:
                for argument in container.get("args") or []:
                    if argument.startswith("--key="):
                        snapshot = Served(host, *map(copy.deepcopy, (ingress, service, pod)))
                        self.served.append(snapshot)
                        return str(argument.removeprefix("--key="))
        return None


@pytest.fixture
def controller(kube_api: KubeAPIServer, pebble_server: PebbleServer) -> Iterator[IngressController]:
    """The stand-in, listening where Pebble's VA and the self-check connect."""
    stand_in = IngressController(kube_api)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            host = self.headers.get("Host", "").rsplit(":", 1)[0]
            key = stand_in.answer(host, self.path)
            body = (key or "no route").encode()
            self.send_response(200 if key is not None else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", pebble_server.http_port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Run:
    root: Path
    api: KubeAPIServer
    bind: BindServer
    http_port: int

    def manifest(self, *documents: dict[str, Any]) -> Path:
        path = self.root / "manifests.yaml"
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        return path

    def run(self, *args: str | Path, store: str = "kubernetes", timeout: str = "30s") -> Result:
        kubeconfig = self.api.write_kubeconfig(self.root / "kubeconfig")
        return CliRunner().invoke(
            app,
            [
                "--store",
                store,
                "--kubeconfig",
                str(kubeconfig),
                "--state-dir",
                str(self.root / "state"),
                "--acme-http01-solver-nameservers",
                self.bind.address,
                "--acme-http01-check-port",
                str(self.http_port),
                "--acme-timeout",
                timeout,
                *map(str, args),
            ],
        )

    def leftovers(self) -> list[str]:
        return [
            f"{kind}/{obj['metadata']['name']}"
            for kind in SOLVER_KINDS
            for obj in self.api.objects(kind)
            if obj["metadata"]["name"].startswith("cm-acme-http-solver-")
        ]


@pytest.fixture
def cluster(
    tmp_path: Path, kube_api: KubeAPIServer, bind_server: BindServer, pebble_server: PebbleServer
) -> Run:
    return Run(tmp_path, kube_api, bind_server, pebble_server.http_port)


def ingress_solver(**ingress: Any) -> dict[str, Any]:
    return {"http01": {"ingress": ingress}}


def existing_ingress(host: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def test_the_solver_objects_route_the_token_and_the_certificate_is_issued(
    cluster: Run, controller: IngressController, pebble_server: PebbleServer, dns_label: str
) -> None:
    name = f"shop.{dns_label}.example.test"
    solver = ingress_solver(
        **{
            "class": "nginx",
            "serviceType": "ClusterIP",
            "podTemplate": {
                "metadata": {"labels": {"team": "shop"}},
                "spec": {"nodeSelector": {"pool": "edge"}, "priorityClassName": "low"},
            },
            "ingressTemplate": {"metadata": {"annotations": {"example.com/owner": "shop"}}},
        }
    )
    path = cluster.manifest(acme_issuer(pebble_server, [solver]), certificate("shop", [name]))

    result = cluster.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    secret = cluster.api.get("secrets", "default", "shop-tls")
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"
    leaf = x509.load_pem_x509_certificates(base64.b64decode(secret["data"]["tls.crt"]))[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [name]
    # The objects as the controller saw them while the challenge was presented.
    assert controller.served, controller.misses
    seen = controller.served[-1]
    assert seen.host == name
    for obj in (seen.ingress, seen.service, seen.pod):
        assert obj["metadata"]["name"].startswith("cm-acme-http-solver-")
        assert obj["metadata"]["generateName"] == "cm-acme-http-solver-"
        assert obj["metadata"]["namespace"] == "default"
        assert obj["metadata"]["labels"]["acme.cert-manager.io/http01-solver"] == "true"
        assert obj["metadata"]["labels"]["acme.cert-manager.io/http-domain"].isdigit()
        assert obj["metadata"]["labels"]["acme.cert-manager.io/http-token"].isdigit()
    annotations = seen.ingress["metadata"]["annotations"]
    assert annotations["kubernetes.io/ingress.class"] == "nginx"
    assert annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] == "0.0.0.0/0,::/0"
    assert annotations["example.com/owner"] == "shop"
    assert "ingressClassName" not in seen.ingress["spec"]
    assert seen.service["spec"]["type"] == "ClusterIP"
    assert seen.service["spec"]["ports"][0]["port"] == 8089
    container = seen.pod["spec"]["containers"][0]
    assert container["image"] == "quay.io/jetstack/cert-manager-acmesolver:v1.21.1"
    assert container["args"][:2] == ["--listen-port=8089", f"--domain={name}"]
    assert container["resources"]["requests"] == {"cpu": "10m", "memory": "64Mi"}
    assert seen.pod["metadata"]["labels"]["team"] == "shop"
    assert seen.pod["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "edge"}
    assert seen.pod["spec"]["priorityClassName"] == "low"
    # Five self-check passes and Pebble's validation all went through the route.
    assert len(controller.served) >= 6
    assert cluster.leftovers() == []


@pytest.mark.parametrize(
    "solver, annotations",
    [
        pytest.param(ingress_solver(name="web"), {}, id="name edits the existing Ingress"),
        pytest.param(
            ingress_solver(**{"class": "nginx"}),
            {"acme.cert-manager.io/http01-override-ingress-name": "web"},
            id="the override-ingress-name annotation edits the existing Ingress",
        ),
    ],
)
def test_a_named_ingress_gets_the_path_during_the_run_and_is_restored_after(
    cluster: Run,
    controller: IngressController,
    pebble_server: PebbleServer,
    dns_label: str,
    monkeypatch: pytest.MonkeyPatch,
    solver: dict[str, Any],
    annotations: dict[str, str],
) -> None:
    monkeypatch.setenv("CERTCTL_ACME_HTTP01_SOLVER_IMAGE", "registry.test/acmesolver:dev")
    name = f"web.{dns_label}.example.test"
    cluster.api.create(existing_ingress(name))
    before = cluster.api.get("ingresses", "default", "web")
    assert before is not None
    path = cluster.manifest(
        acme_issuer(pebble_server, [solver]),
        certificate("web", [name], metadata={"annotations": annotations}),
    )

    result = cluster.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result) + pebble_server.log_tail()
    assert controller.served, controller.misses
    assert {seen.ingress["metadata"]["name"] for seen in controller.served} == {"web"}
    paths = controller.served[-1].ingress["spec"]["rules"][0]["http"]["paths"]
    assert [entry["pathType"] for entry in paths] == ["Prefix", "Exact"]
    assert controller.served[-1].pod["spec"]["containers"][0]["image"] == (
        "registry.test/acmesolver:dev"
    )
    after = cluster.api.get("ingresses", "default", "web")
    assert after is not None
    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert cluster.leftovers() == []
    assert cluster.api.get("secrets", "default", "web-tls") is not None


def test_a_failed_self_check_still_deletes_the_objects_and_exits_1(
    cluster: Run, controller: IngressController, pebble_server: PebbleServer, dns_label: str
) -> None:
    controller.refuse = True
    name = f"down.{dns_label}.example.test"
    path = cluster.manifest(
        acme_issuer(pebble_server, [ingress_solver()]), certificate("down", [name])
    )

    result = cluster.run("issue", "-f", path, "-o", "json", timeout="5s")

    assert result.exit_code == 1, describe(result)
    error = {item["name"]: item for item in json.loads(result.stdout)["results"]}["down"]["error"]
    assert "self-check did not pass" in error
    posts = [r.path for r in cluster.api.mutating_requests() if r.method == "POST"]
    created = [p for p in posts if p.endswith(("/pods", "/services", "/ingresses"))]
    assert len(created) == 3, posts
    deletes = [r.path for r in cluster.api.mutating_requests() if r.method == "DELETE"]
    assert len([p for p in deletes if "cm-acme-http-solver-" in p]) == 3, deletes
    assert cluster.leftovers() == []
    assert cluster.api.get("secrets", "default", "down-tls") is None


def test_a_forbidden_pod_create_names_the_permission_and_leaves_nothing(
    cluster: Run, controller: IngressController, pebble_server: PebbleServer, dns_label: str
) -> None:
    cluster.api.fail_next("POST", r"/namespaces/default/pods$", 403)
    path = cluster.manifest(
        acme_issuer(pebble_server, [ingress_solver()]),
        certificate("denied", [f"denied.{dns_label}.example.test"]),
    )

    result = cluster.run("issue", "-f", path, "-o", "json")

    assert result.exit_code == 1, describe(result)
    error = {item["name"]: item for item in json.loads(result.stdout)["results"]}["denied"]["error"]
    assert "needs RBAC permission to create pods in namespace default" in error
    assert "Traceback" not in result.stderr
    assert cluster.leftovers() == []


def test_with_the_directory_store_the_ingress_solver_asks_for_the_kubernetes_store(
    cluster: Run, pebble_server: PebbleServer, dns_label: str
) -> None:
    path = cluster.manifest(
        acme_issuer(pebble_server, [ingress_solver(**{"class": "nginx"})]),
        certificate("local", [f"local.{dns_label}.example.test"]),
    )

    result = cluster.run("issue", "-f", path, "-o", "json", store=f"dir:{cluster.root / 'certs'}")

    assert result.exit_code == 1, describe(result)
    error = {item["name"]: item for item in json.loads(result.stdout)["results"]}["local"]["error"]
    assert "http01.ingress" in error
    assert "--store kubernetes" in error
    assert cluster.api.mutating_requests() == []
