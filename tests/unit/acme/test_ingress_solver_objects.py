"""The pure builders of the ``http01.ingress`` solver's Pod, Service and Ingress bodies."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from certctl.acme.solvers.ingress import (
    DEFAULT_SOLVER_IMAGE,
    IngressSettings,
    add_challenge_path,
    build_ingress,
    build_pod,
    build_service,
    label_selector,
    remove_challenge_path,
    resolve_settings,
    routes_to,
    solver_image,
    solver_labels,
)
from certctl.errors import IssuanceError

DOMAIN = "shop.example.com"
TOKEN = "tok-EN_123"
KEY = f"{TOKEN}.thumbprint"
PATH = f"/.well-known/acme-challenge/{TOKEN}"
OVERRIDE = "acme.cert-manager.io/http01-override-ingress-"
WHITELIST = "nginx.ingress.kubernetes.io/whitelist-source-range"
CLASS = "kubernetes.io/ingress.class"


def settings(config: dict[str, Any] | None = None, **annotations: str) -> IngressSettings:
    return resolve_settings(config or {}, {f"{OVERRIDE}{k}": v for k, v in annotations.items()})


def pod(config: dict[str, Any] | None = None) -> dict[str, Any]:
    return build_pod(settings(config), "shop", DOMAIN, TOKEN, KEY)


def ingress(config: dict[str, Any] | None = None, **annotations: str) -> dict[str, Any]:
    return build_ingress(settings(config, **annotations), "shop", DOMAIN, TOKEN, "svc")


def rule(host: str, *paths: dict[str, Any]) -> dict[str, Any]:
    return {"host": host, "http": {"paths": list(paths)}}


def path(value: str, service: str, path_type: str = "Prefix", port: int = 80) -> dict[str, Any]:
    return {
        "path": value,
        "pathType": path_type,
        "backend": {"service": {"name": service, "port": {"number": port}}},
    }


CHALLENGE = path(PATH, "svc", "Exact", 8089)


# --- labels ---


def test_labels_are_cert_managers_adler32_hashes_plus_certctls_mark() -> None:
    assert solver_labels(DOMAIN, TOKEN) == {
        "acme.cert-manager.io/http-domain": str(zlib.adler32(DOMAIN.encode())),
        "acme.cert-manager.io/http-token": str(zlib.adler32(TOKEN.encode())),
        "acme.cert-manager.io/http01-solver": "true",
        "certctl.io/managed": "true",
    }
    assert label_selector(DOMAIN, TOKEN).count(",") == 3


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(pod(), id="the Pod carries the challenge labels"),
        pytest.param(
            build_service(settings(), "shop", DOMAIN, TOKEN), id="the Service carries them"
        ),
        pytest.param(ingress(), id="the Ingress carries them"),
    ],
)
def test_every_object_is_generated_in_the_namespace_with_the_labels(body: dict[str, Any]) -> None:
    metadata = body["metadata"]
    assert metadata["generateName"] == "cm-acme-http-solver-"
    assert "name" not in metadata
    assert metadata["namespace"] == "shop"
    assert solver_labels(DOMAIN, TOKEN).items() <= metadata["labels"].items()


# --- the Pod ---


def test_the_pod_runs_acmesolver_with_cert_managers_arguments_and_resources() -> None:
    body = pod()
    container = body["spec"]["containers"][0]
    assert container["image"] == DEFAULT_SOLVER_IMAGE
    assert container["args"] == [
        "--listen-port=8089",
        f"--domain={DOMAIN}",
        f"--token={TOKEN}",
        f"--key={KEY}",
    ]
    assert container["ports"][0]["containerPort"] == 8089
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "64Mi"},
        "limits": {"cpu": "100m", "memory": "64Mi"},
    }
    assert body["spec"]["restartPolicy"] == "OnFailure"
    assert body["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}


@pytest.mark.parametrize(
    "environment, image",
    [
        pytest.param({}, DEFAULT_SOLVER_IMAGE, id="without the variable the image is v1.21.1"),
        pytest.param(
            {"CERTCTL_ACME_HTTP01_SOLVER_IMAGE": "mirror.test/acmesolver:v1"},
            "mirror.test/acmesolver:v1",
            id="CERTCTL_ACME_HTTP01_SOLVER_IMAGE replaces the image",
        ),
        pytest.param(
            {"CERTCTL_ACME_HTTP01_SOLVER_IMAGE": ""},
            DEFAULT_SOLVER_IMAGE,
            id="an empty variable keeps the default",
        ),
    ],
)
def test_the_solver_image(environment: dict[str, str], image: str) -> None:
    assert solver_image(environment) == image


@pytest.mark.parametrize(
    "template, check",
    [
        pytest.param(
            {"metadata": {"labels": {"team": "shop"}}},
            lambda body: body["metadata"]["labels"]["team"] == "shop",
            id="template labels are added",
        ),
        pytest.param(
            {"metadata": {"annotations": {"sidecar.istio.io/inject": "true"}}},
            lambda body: body["metadata"]["annotations"]["sidecar.istio.io/inject"] == "true",
            id="template annotations win over the built-in ones",
        ),
        pytest.param(
            {"metadata": {"labels": {"acme.cert-manager.io/http-token": "1"}}},
            lambda body: (
                body["metadata"]["labels"]["acme.cert-manager.io/http-token"]
                == str(zlib.adler32(TOKEN.encode()))
            ),
            id="template labels cannot change the labels the Service selects on",
        ),
        pytest.param(
            {"spec": {"nodeSelector": {"pool": "edge"}}},
            lambda body: (
                body["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "edge"}
            ),
            id="a template nodeSelector is merged with the linux one",
        ),
        pytest.param(
            {"spec": {"tolerations": [{"key": "edge", "operator": "Exists"}]}},
            lambda body: body["spec"]["tolerations"] == [{"key": "edge", "operator": "Exists"}],
            id="template tolerations are copied",
        ),
        pytest.param(
            {"spec": {"serviceAccountName": "solver", "priorityClassName": "low"}},
            lambda body: (
                (body["spec"]["serviceAccountName"], body["spec"]["priorityClassName"])
                == ("solver", "low")
            ),
            id="serviceAccountName and priorityClassName are copied",
        ),
        pytest.param(
            {"spec": {"securityContext": {"runAsUser": 1000, "privileged": True}}},
            lambda body: (
                body["spec"]["securityContext"]
                == {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                    "runAsUser": 1000,
                }
            ),
            id="only the pod securityContext fields cert-manager knows are copied",
        ),
        pytest.param(
            {"spec": {"resources": {"limits": {"memory": "128Mi"}}}},
            lambda body: (
                body["spec"]["containers"][0]["resources"]
                == {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
            ),
            id="template limits replace the default limits and keep the default requests",
        ),
        pytest.param(
            {"spec": {"hostNetwork": True}},
            lambda body: "hostNetwork" not in body["spec"],
            id="other template spec fields are ignored",
        ),
    ],
)
def test_the_pod_template_is_merged(template: dict[str, Any], check: Any) -> None:
    assert check(pod({"podTemplate": template}))


# --- the Service ---


@pytest.mark.parametrize(
    "config, service_type",
    [
        pytest.param({}, "NodePort", id="serviceType defaults to NodePort"),
        pytest.param({"serviceType": "ClusterIP"}, "ClusterIP", id="ClusterIP is kept"),
    ],
)
def test_the_service_selects_the_pod_on_port_8089(
    config: dict[str, Any], service_type: str
) -> None:
    body = build_service(settings(config), "shop", DOMAIN, TOKEN)
    assert body["spec"]["type"] == service_type
    assert body["spec"]["selector"] == solver_labels(DOMAIN, TOKEN)
    assert body["spec"]["ports"] == [
        {"name": "http", "port": 8089, "targetPort": 8089, "protocol": "TCP"}
    ]


# --- the Ingress ---


def test_the_ingress_routes_the_exact_challenge_path_for_the_domain() -> None:
    body = ingress()
    assert body["spec"]["rules"] == [rule(DOMAIN, CHALLENGE)]
    assert routes_to(body, DOMAIN, TOKEN, "svc")
    assert not routes_to(body, "other.example.com", TOKEN, "svc")


@pytest.mark.parametrize(
    "config, annotations, class_annotation, class_name",
    [
        pytest.param({}, {}, None, None, id="with no class every controller may serve it"),
        pytest.param({"class": "nginx"}, {}, "nginx", None, id="class becomes the annotation"),
        pytest.param(
            {"ingressClassName": "traefik"},
            {},
            None,
            "traefik",
            id="ingressClassName becomes the spec field",
        ),
        pytest.param(
            {"class": "nginx"},
            {"ingressclassname": "traefik"},
            None,
            "traefik",
            id="the override-ingress-ingressclassname annotation replaces class",
        ),
        pytest.param(
            {"ingressClassName": "traefik"},
            {"class": "haproxy"},
            "haproxy",
            None,
            id="the override-ingress-class annotation replaces ingressClassName",
        ),
    ],
)
def test_the_ingress_class(
    config: dict[str, Any],
    annotations: dict[str, str],
    class_annotation: str | None,
    class_name: str | None,
) -> None:
    body = ingress(config, **annotations)
    assert body["metadata"]["annotations"].get(CLASS) == class_annotation
    assert body["spec"].get("ingressClassName") == class_name


@pytest.mark.parametrize(
    "config, annotations, name",
    [
        pytest.param({"name": "web"}, {}, "web", id="name edits that Ingress"),
        pytest.param(
            {"class": "nginx"},
            {"name": "web"},
            "web",
            id="the override-ingress-name annotation replaces class",
        ),
        pytest.param(
            {"name": "web"},
            {"class": "nginx"},
            None,
            id="the override-ingress-class annotation replaces name",
        ),
    ],
)
def test_the_name_to_edit_in_place(
    config: dict[str, Any], annotations: dict[str, str], name: str | None
) -> None:
    assert settings(config, **annotations).name == name


@pytest.mark.parametrize(
    "template_annotations, expected",
    [
        pytest.param({}, "0.0.0.0/0,::/0", id="the challenge path is opened to everyone"),
        pytest.param(
            {WHITELIST: "10.0.0.0/8"},
            "10.0.0.0/8",
            id="a template whitelist-source-range replaces the built-in one",
        ),
        pytest.param(
            {"custom.nginx.org/whitelist-source-range": "10.0.0.0/8"},
            None,
            id="a whitelist-source-range under another prefix drops the built-in one",
        ),
    ],
)
def test_the_nginx_whitelist_annotation(
    template_annotations: dict[str, str], expected: str | None
) -> None:
    body = ingress({"ingressTemplate": {"metadata": {"annotations": template_annotations}}})
    assert body["metadata"]["annotations"].get(WHITELIST) == expected


def test_ingress_template_labels_and_annotations_win_over_built_ins() -> None:
    body = ingress(
        {
            "class": "nginx",
            "ingressTemplate": {
                "metadata": {
                    "labels": {"team": "shop", "acme.cert-manager.io/http01-solver": "no"},
                    "annotations": {"example.com/owner": "shop"},
                }
            },
        }
    )
    assert body["metadata"]["labels"]["team"] == "shop"
    assert body["metadata"]["labels"]["acme.cert-manager.io/http01-solver"] == "true"
    assert body["metadata"]["annotations"] == {
        WHITELIST: "0.0.0.0/0,::/0",
        CLASS: "nginx",
        "example.com/owner": "shop",
    }


@pytest.mark.parametrize(
    "config, annotations, words",
    [
        pytest.param(
            {"class": "nginx", "name": "web"}, {}, "at most one", id="class and name together"
        ),
        pytest.param(
            {}, {"name": "web", "class": "nginx"}, "at most one", id="two override annotations"
        ),
        pytest.param({"serviceType": "LoadBalancer"}, {}, "NodePort", id="an unknown serviceType"),
    ],
)
def test_invalid_settings_are_refused_with_a_sentence(
    config: dict[str, Any], annotations: dict[str, str], words: str
) -> None:
    with pytest.raises(IssuanceError, match=words):
        settings(config, **annotations)


# --- editing an existing Ingress ---

SITE = path("/", "web")


@pytest.mark.parametrize(
    "rules, expected, replaced",
    [
        pytest.param(
            [rule(DOMAIN, SITE)],
            [rule(DOMAIN, SITE, CHALLENGE)],
            None,
            id="the path is appended to the domain's rule",
        ),
        pytest.param(
            [rule("other.example.com", SITE)],
            [rule("other.example.com", SITE), rule(DOMAIN, CHALLENGE)],
            None,
            id="a rule is added for a domain the Ingress does not serve",
        ),
        pytest.param(
            [rule(DOMAIN, path(PATH, "old", "Prefix"))],
            [rule(DOMAIN, CHALLENGE)],
            path(PATH, "old", "Prefix"),
            id="a path already there for the token is replaced and remembered",
        ),
        pytest.param(
            [rule(DOMAIN, CHALLENGE)],
            [rule(DOMAIN, CHALLENGE)],
            None,
            id="a path already right is left alone",
        ),
    ],
)
def test_adding_the_challenge_path(
    rules: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    replaced: dict[str, Any] | None,
) -> None:
    assert add_challenge_path(rules, DOMAIN, TOKEN, "svc") == (expected, replaced)


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param([rule(DOMAIN, SITE)], id="the domain's rule is restored"),
        pytest.param([rule("other.example.com", SITE)], id="the added rule is dropped again"),
        pytest.param([rule(DOMAIN, path(PATH, "old", "Prefix"))], id="a replaced path is put back"),
    ],
)
def test_removing_the_challenge_path_restores_the_rules(rules: list[dict[str, Any]]) -> None:
    added, replaced = add_challenge_path(rules, DOMAIN, TOKEN, "svc")
    assert remove_challenge_path(added, DOMAIN, TOKEN, replaced) == rules
