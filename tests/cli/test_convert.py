"""``certctl convert``: the Certificates ingress-shim derives, as YAML or a JSON List."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.cli.conftest import REPO, Cli, certificate, describe

EXAMPLE = REPO / "examples" / "ingress-shim"


def ingress(
    name: str = "web",
    *,
    annotations: dict[str, str] | None = None,
    tls: list[dict[str, Any]] | None = None,
    namespace: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "annotations": {"cert-manager.io/cluster-issuer": "ca"}
        if annotations is None
        else annotations,
        **metadata,
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta,
        "spec": {
            "tls": [{"hosts": [f"{name}.example.com"], "secretName": f"{name}-tls"}]
            if tls is None
            else tls
        },
    }


def test_the_example_converts_to_yaml_that_validates(cli: Cli) -> None:
    result = cli.ok("convert", "-f", EXAMPLE)

    documents = list(yaml.safe_load_all(result.stdout))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("Certificate", "shop-tls"),
        ("Certificate", "shop-admin-tls"),
    ]
    assert documents[0]["spec"]["privateKey"] == {"algorithm": "ECDSA", "size": 384}
    assert documents[0]["metadata"]["namespace"] == "ingress-demo"

    validated = cli.run(
        "validate", "-f", "-", "-f", EXAMPLE / "00-issuer.yaml", input=result.stdout
    )
    assert validated.exit_code == 0, describe(validated)
    assert validated.stdout.strip() == "Valid: 2 Certificates, 1 Issuer, 0 ClusterIssuers."
    assert validated.stderr == ""


def test_json_is_a_v1_list_of_certificates(cli: Cli) -> None:
    path = cli.manifest("ingress.yaml", ingress(uid="0b1c"))

    result = cli.ok("convert", "-f", path, "-o", "json")

    listing = json.loads(result.stdout)
    assert listing["apiVersion"] == "v1"
    assert listing["kind"] == "List"
    [item] = listing["items"]
    assert item == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {
            "name": "web-tls",
            "namespace": "default",
            "ownerReferences": [
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "name": "web",
                    "uid": "0b1c",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "secretName": "web-tls",
            "issuerRef": {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "dnsNames": ["web.example.com"],
            "usages": ["digital signature", "key encipherment"],
        },
    }
    # With a uid the owner reference is kept, so there is nothing to say.
    assert "ownerReferences left out" not in result.stderr


def test_owner_references_without_uid_are_left_out_with_a_note(cli: Cli) -> None:
    path = cli.manifest("ingress.yaml", ingress())

    result = cli.ok("convert", "-f", path)

    [document] = yaml.safe_load_all(result.stdout)
    assert "ownerReferences" not in document["metadata"]
    assert "ownerReferences left out of default/web-tls" in result.stderr


def test_namespace_option_applies_to_ingresses_without_one(cli: Cli) -> None:
    path = cli.manifest("ingress.yaml", ingress(), ingress("api", namespace="api"))

    result = cli.ok("convert", "-f", path, "-n", "shop")

    keys = [
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in yaml.safe_load_all(result.stdout)
    ]
    assert keys == [("shop", "web-tls"), ("api", "api-tls")]


def test_a_bad_annotation_exits_2_naming_the_file_line_and_annotation(cli: Cli) -> None:
    path = cli.manifest(
        "ingress.yaml",
        ingress(
            annotations={
                "cert-manager.io/cluster-issuer": "ca",
                "cert-manager.io/duration": "90d",
            }
        ),
    )

    result = cli.run("convert", "-f", path)

    assert result.exit_code == 2, describe(result)
    assert result.stdout == ""
    line = next(
        number
        for number, text in enumerate(path.read_text().splitlines(), start=1)
        if "cert-manager.io/duration" in text
    )
    assert (
        f"{path}:{line}: metadata.annotations[cert-manager.io/duration]: "
        'Ingress "default/web": invalid ingress annotation "cert-manager.io/duration"'
    ) in result.stderr
    assert "write 2160h for 90 days" in result.stderr


def test_both_issuer_annotations_exit_2(cli: Cli) -> None:
    path = cli.manifest(
        "ingress.yaml",
        ingress(annotations={"cert-manager.io/issuer": "a", "cert-manager.io/cluster-issuer": "b"}),
    )

    result = cli.run("convert", "-f", path)

    assert result.exit_code == 2, describe(result)
    assert "may not be set" in result.stderr


def test_a_certificate_also_in_the_manifests_exits_2_naming_both(cli: Cli) -> None:
    path = cli.manifest("all.yaml", ingress(), certificate("web-tls"))

    result = cli.run("convert", "-f", path)

    assert result.exit_code == 2, describe(result)
    assert 'Certificate "default/web-tls" is derived by ingress-shim' in result.stderr
    assert f"also defined in {path}:" in result.stderr


@pytest.mark.parametrize(
    "documents",
    [
        pytest.param([certificate("api")], id="no Ingress at all"),
        pytest.param([ingress(annotations={})], id="an Ingress without annotations"),
    ],
)
def test_nothing_to_convert_exits_0_with_a_note(cli: Cli, documents: list[Any]) -> None:
    path = cli.manifest("manifests.yaml", *documents)

    result = cli.ok("convert", "-f", path)

    assert result.stdout == ""
    assert "Nothing to convert" in result.stderr


def test_tls_acme_uses_the_default_issuer_options(cli: Cli) -> None:
    path = cli.manifest("ingress.yaml", ingress(annotations={"kubernetes.io/tls-acme": "true"}))

    skipped = cli.ok("convert", "-f", path)
    assert skipped.stdout == ""
    assert "no default issuer is configured" in skipped.stderr

    result = cli.ok(
        "convert",
        "-f",
        path,
        "--default-issuer",
        "letsencrypt",
        "--default-issuer-kind",
        "ClusterIssuer",
    )
    [document] = yaml.safe_load_all(result.stdout)
    assert document["spec"]["issuerRef"] == {
        "name": "letsencrypt",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }


def test_yaml_from_stdin_converts(cli: Cli) -> None:
    result = cli.ok("convert", "-f", "-", input=yaml.safe_dump(ingress()))
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout)] == ["web-tls"]


def test_an_unknown_output_format_is_a_usage_error(cli: Cli) -> None:
    path = cli.manifest("ingress.yaml", ingress())

    result = cli.run("convert", "-f", path, "-o", "table")

    assert result.exit_code == 2, describe(result)
    assert "-o 'table' is not an output format here" in result.stderr


def test_without_files_convert_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("convert")
    assert result.exit_code == 2, describe(result)
    assert "No manifests given" in result.stderr
