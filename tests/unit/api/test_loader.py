"""Loading: files, directories, stdin, multi-document YAML, List, JSON, errors and lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from certctl.api.loader import load_manifests
from certctl.errors import ManifestError
from tests.unit.api.builders import certificate, dump, issuer, load_text, problems_of, write


def test_multi_document_yaml_loads_in_order_and_skips_empty_documents() -> None:
    text = dump(issuer(), certificate("a")) + "---\n---\n" + dump(certificate("b"))
    loaded = load_text(text)
    assert [c.name for c in loaded.certificates] == ["a", "b"]
    assert [i.name for i in loaded.issuers] == ["ca"]


def test_a_list_kind_is_unpacked() -> None:
    document = {"apiVersion": "v1", "kind": "List", "items": [issuer(), certificate("a")]}
    loaded = load_text(dump(document))
    assert [c.name for c in loaded.certificates] == ["a"]
    assert len(loaded.issuers) == 1


def test_a_json_file_with_tabs_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "cert.json", json.dumps(certificate(), indent="\t"))
    assert load_manifests([str(path)]).certificates[0].name == "web"


def test_json_on_stdin_loads() -> None:
    assert load_text(json.dumps(certificate())).certificates[0].name == "web"


def test_directories_are_read_recursively_in_sorted_order_without_hidden_entries(
    tmp_path: Path,
) -> None:
    write(tmp_path, "b.yaml", dump(certificate("b")))
    write(tmp_path, "a/z.yml", dump(certificate("az")))
    write(tmp_path, "a/c.json", json.dumps(certificate("ac")))
    write(tmp_path, "README.md", "not yaml: [")
    write(tmp_path, ".hidden.yaml", "broken: [")
    write(tmp_path, ".git/x.yaml", "broken: [")
    loaded = load_manifests([str(tmp_path)])
    assert [c.name for c in loaded.certificates] == ["ac", "az", "b"]
    assert loaded.certificates[0].source.path == str(tmp_path / "a" / "c.json")


def test_stdin_is_read_for_a_dash() -> None:
    loaded = load_manifests(["-"], stdin=io.StringIO(dump(certificate())))
    assert loaded.certificates[0].source.path == "-"
    assert loaded.certificates[0].source.line == 1


def test_other_kinds_are_ignored_without_validation() -> None:
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {"whatever": 1},
    }
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    request = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "r"},
    }
    loaded = load_text(dump(ingress, secret, request))
    assert [(d.kind, d.name) for d in loaded.ignored] == [
        ("Ingress", "web"),
        ("Secret", "s"),
        ("CertificateRequest", "r"),
    ]


@pytest.mark.parametrize(
    "api_version",
    [
        pytest.param("cert-manager.io/v1alpha2", id="an old cert-manager version is an error"),
        pytest.param("cert-manager.io/v1beta1", id="a beta cert-manager version is an error"),
        pytest.param("certmanager.k8s.io/v1alpha1", id="the pre v0.11 group is an error"),
    ],
)
def test_old_cert_manager_api_versions_are_rejected(api_version: str) -> None:
    document = certificate()
    document["apiVersion"] = api_version
    (found,) = problems_of(dump(document))
    assert "only cert-manager.io/v1 is supported" in found
    assert api_version in found
    assert found.startswith("-:1: apiVersion:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("- a\n- b\n", "must be a mapping", id="a document that is a list is an error"),
        pytest.param(
            "just a string\n", "must be a mapping", id="a document that is a scalar is an error"
        ),
        pytest.param(
            "kind: Certificate\nmetadata: {name: x}\n",
            "apiVersion",
            id="a document without api version is an error",
        ),
        pytest.param(
            "apiVersion: v1\nmetadata: {name: x}\n",
            "kind",
            id="a document without kind is an error",
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems: {}\n",
            "items must be a list",
            id="a list whose items are not a list",
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems: [3]\n",
            "List item must be a mapping",
            id="a list item that is not a mapping",
        ),
    ],
)
def test_malformed_documents_are_errors(text: str, message: str) -> None:
    (found,) = problems_of(text)
    assert message in found


def test_a_path_that_does_not_exist_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(missing)])
    assert str(missing) in str(caught.value)
    assert "no such file or directory" in str(caught.value)


def test_namespaces_default_and_are_kept() -> None:
    loaded = load_text(
        dump(certificate("a"), certificate("b", namespace="prod")), default_namespace="dev"
    )
    assert [c.key for c in loaded.certificates] == ["dev/a", "prod/b"]


def test_duplicate_objects_name_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, "one.yaml", dump(certificate("web")))
    second = write(tmp_path, "two.yaml", dump(issuer(), certificate("web", namespace="default")))
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(first), str(second)])
    (problem,) = caught.value.problems
    assert problem.path == str(second)
    assert problem.field == "metadata.name"
    assert f"first in {first}:1" in problem.message
    assert problem.line == 12  # metadata.name of the second document


def test_same_name_in_other_namespaces_or_kinds_is_not_a_duplicate() -> None:
    loaded = load_text(
        dump(
            certificate("web", namespace="a"),
            certificate("web", namespace="b"),
            issuer(name="web"),
            issuer(name="web", kind="ClusterIssuer"),
        )
    )
    assert len(loaded.certificates) == 2
    assert len(loaded.issuers) == 2


def test_every_file_is_validated_before_raising(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", dump(certificate(duration="90d")))
    write(tmp_path, "b.yaml", "foo: [\n")
    write(tmp_path, "c.yaml", dump(issuer({})))
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(tmp_path)])
    assert [Path(p.path).name for p in caught.value.problems] == ["a.yaml", "b.yaml", "c.yaml"]


LINES_TEXT = """\
# a comment
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web
spec:
  secretName: web-tls
  dnsNames:
  - a.example.com
  - b.example.com
  ipAddresses:
  - 10.0.0.1
  - not-an-ip
  privateKey:
    algorithm: RSA
    size: 1024
  issuerRef:
    name: ca
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: ca
spec:
  acme:
    server: https://acme.example/directory
    privateKeySecretRef: {name: k}
    solvers:
    - dns01:
        rfc2136:
          nameserver: ""
"""


@pytest.mark.parametrize(
    ("field", "line"),
    [
        pytest.param("spec.ipAddresses[1]", 13, id="a list item error points at the item"),
        pytest.param("spec.privateKey.size", 16, id="a nested field error points at the key"),
        pytest.param(
            "spec.acme.solvers[0].dns01.rfc2136.nameserver",
            31,
            id="a deep field in a later document",
        ),
    ],
)
def test_problems_carry_the_line_of_the_field(field: str, line: int) -> None:
    with pytest.raises(ManifestError) as caught:
        load_text(LINES_TEXT)
    lines = {p.field: p.line for p in caught.value.problems}
    assert lines[field] == line, lines


def test_a_missing_field_points_at_its_parent() -> None:
    text = (
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\n"
        "spec:\n  dnsNames: [a]\n  issuerRef: {name: ca}\n"
    )
    (found,) = problems_of(text)
    assert found.startswith("-:5: spec.secretName: Required value")


def test_list_items_report_lines_inside_the_list() -> None:
    text = dump(
        {"apiVersion": "v1", "kind": "List", "items": [issuer(), certificate(duration="1d")]}
    )
    (found,) = problems_of(text)
    line = text.splitlines().index("    duration: 1d") + 1
    assert found.startswith(f"-:{line}: spec.duration:")


def test_manifest_error_lists_every_problem_in_its_message(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", dump(certificate(dnsNames="x", isCA="yes")))
    with pytest.raises(ManifestError) as caught:
        load_manifests([str(path)])
    text = str(caught.value)
    assert "2 problems" in text
    assert f"{path}:" in text
    assert caught.value.exit_code == 2


def test_yaml_flow_style_on_stdin_is_not_mistaken_for_json() -> None:
    text = "{apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    assert load_text(text).ignored[0].name == "s"
