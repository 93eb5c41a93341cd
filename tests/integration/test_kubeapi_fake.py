"""The strict fake Kubernetes API, proved through the real ``kubernetes`` client.

Each test drives `KubeAPIServer` with the official client over HTTPS and a generated
kubeconfig, so a rule that holds here holds for certctl's Kubernetes adapter too.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import (
    ApiClient,
    CoordinationV1Api,
    CoreV1Api,
    CustomObjectsApi,
    NetworkingV1Api,
    V1Lease,
    V1LeaseSpec,
    V1ObjectMeta,
    V1Secret,
)
from kubernetes.client.exceptions import ApiException

from tests.integration.servers.kubeapi import DEFAULT_SERVICE_ACCOUNT, KubeAPIServer

TLS = "kubernetes.io/tls"
APPLY = "application/apply-patch+yaml"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(name: str, *, labels: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """A Secret body; ``data`` values are given in clear and encoded here."""
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if labels:
        body["metadata"]["labels"] = labels
    if "data" in fields:
        fields["data"] = {key: b64(value) for key, value in fields["data"].items()}
    body.update(fields)
    return body


def tls_secret(name: str, **fields: Any) -> dict[str, Any]:
    return secret(name, type=TLS, data={"tls.crt": "cert", "tls.key": "key"}, **fields)


def status_of(error: ApiException) -> dict[str, Any]:
    """The v1.Status body the server sent with ``error``."""
    body = json.loads(error.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure" and body["code"] == error.status
    return dict(body)


def send_raw(
    client: ApiClient, method: str, path: str, body: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Send ``body`` as-is, past the typed client's own pydantic checks.

    Returns:
        The HTTP status, the JSON answer and the response headers.
    """
    request = client.param_serialize(
        method,
        path,
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = client.call_api(*request)
    response.read()
    return response.status, json.loads(response.data), dict(response.headers)


@contextmanager
def connect(kube: KubeAPIServer, path: Path, token: str | None = None) -> Iterator[ApiClient]:
    """A real client configured only through a kubeconfig file, closed afterwards."""
    kubeconfig = kube.write_kubeconfig(path, token=token)
    with kubernetes.config.new_client_from_config(config_file=str(kubeconfig)) as client:
        yield client


@pytest.fixture
def client(kube_api: KubeAPIServer, tmp_path: Path) -> Iterator[ApiClient]:
    with connect(kube_api, tmp_path / "admin.kubeconfig") as api_client:
        yield api_client


@pytest.fixture
def core(client: ApiClient) -> CoreV1Api:
    return CoreV1Api(client)


# --- CRUD and resourceVersion ---


def test_secret_crud_round_trip(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    created = core.create_namespaced_secret(
        "default",
        V1Secret(
            metadata=V1ObjectMeta(name="web", annotations={"cert-manager.io/common-name": "a"}),
            type=TLS,
            data={"tls.crt": b64("cert"), "tls.key": b64("key")},
        ),
    )
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.metadata.managed_fields[0].manager == "OpenAPI-Generator"
    first_version = int(created.metadata.resource_version)

    read = core.read_namespaced_secret("web", "default")
    assert read.data == {"tls.crt": b64("cert"), "tls.key": b64("key")}
    read.data["ca.crt"] = b64("ca")
    replaced = core.replace_namespaced_secret("web", "default", read)
    assert int(replaced.metadata.resource_version) > first_version
    assert replaced.metadata.uid == created.metadata.uid

    patched = core.patch_namespaced_secret("web", "default", {"metadata": {"labels": {"a": "1"}}})
    assert patched.metadata.labels == {"a": "1"}
    assert int(patched.metadata.resource_version) > int(replaced.metadata.resource_version)

    listed = core.list_namespaced_secret("default")
    assert [item.metadata.name for item in listed.items] == ["web"]
    assert int(listed.metadata.resource_version) >= int(patched.metadata.resource_version)

    core.delete_namespaced_secret("web", "default")
    assert kube_api.get("secrets", "default", "web") is None


def test_resource_version_is_one_global_counter(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    a = core.create_namespaced_secret("default", secret("a"))
    b = core.create_namespaced_config_map("kube-system", {"metadata": {"name": "b"}})
    assert int(b.metadata.resource_version) == int(a.metadata.resource_version) + 1
    assert kube_api.resource_version == int(b.metadata.resource_version)


def test_stale_resource_version_on_update_is_a_409_conflict(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web", data={"a": "1"}))
    stale = core.read_namespaced_secret("web", "default")
    core.patch_namespaced_secret("web", "default", {"data": {"a": b64("2")}})
    stale.data["a"] = b64("3")
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_secret("web", "default", stale)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on secrets "web": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )
    assert status["details"] == {"name": "web", "kind": "secrets"}


def test_update_without_resource_version_is_last_write_wins(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web", data={"a": "1"}))
    replaced = core.replace_namespaced_secret("web", "default", secret("web", data={"a": "2"}))
    assert replaced.data == {"a": b64("2")}


def test_update_that_changes_nothing_keeps_the_resource_version(core: CoreV1Api) -> None:
    created = core.create_namespaced_secret("default", secret("web", data={"a": "1"}))
    same = core.replace_namespaced_secret("web", "default", created)
    assert same.metadata.resource_version == created.metadata.resource_version


def test_patch_carrying_a_stale_resource_version_is_a_conflict(core: CoreV1Api) -> None:
    created = core.create_namespaced_secret("default", secret("web"))
    core.patch_namespaced_secret("web", "default", {"metadata": {"labels": {"a": "1"}}})
    stale = {"metadata": {"resourceVersion": created.metadata.resource_version, "labels": {}}}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_secret("web", "default", stale)
    assert status_of(caught.value)["reason"] == "Conflict"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda core: core.read_namespaced_secret("nope", "default"), id="get"),
        pytest.param(
            lambda core: core.replace_namespaced_secret("nope", "default", secret("nope")),
            id="put",
        ),
        pytest.param(
            lambda core: core.patch_namespaced_secret("nope", "default", {"data": {}}),
            id="patch",
        ),
        pytest.param(lambda core: core.delete_namespaced_secret("nope", "default"), id="delete"),
    ],
)
def test_a_missing_object_is_a_404_not_found(
    core: CoreV1Api, call: Callable[[CoreV1Api], object]
) -> None:
    with pytest.raises(ApiException) as caught:
        call(core)
    status = status_of(caught.value)
    assert (status["code"], status["reason"]) == (404, "NotFound")
    assert status["message"] == 'secrets "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "secrets"}


def test_creating_an_existing_name_is_a_409_already_exists(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("default", secret("web"))
    status = status_of(caught.value)
    assert (status["reason"], status["message"]) == (
        "AlreadyExists",
        'secrets "web" already exists',
    )


def test_creating_in_a_missing_namespace_is_a_404_for_the_namespace(core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("ghost", secret("web"))
    status = status_of(caught.value)
    assert status["message"] == 'namespaces "ghost" not found'
    assert status["details"] == {"name": "ghost", "kind": "namespaces"}


def test_start_up_namespaces_exist(core: CoreV1Api) -> None:
    names = [item.metadata.name for item in core.list_namespace().items]
    assert names == ["cert-manager", "default", "kube-system"]


# --- validation ---

INVALID_SECRETS = [
    pytest.param(
        secret("web", type=TLS, data={"tls.crt": "cert"}),
        "data[tls.key]",
        'Secret "web" is invalid: data[tls.key]: Required value',
        id="a kubernetes.io/tls Secret without tls.key is invalid",
    ),
    pytest.param(
        secret("web", type=TLS),
        "data[tls.crt]",
        'Secret "web" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]',
        id="a kubernetes.io/tls Secret without data lists both missing keys",
    ),
    pytest.param(
        secret("Web_Cert"),
        "metadata.name",
        'Secret "Web_Cert" is invalid: metadata.name: Invalid value: "Web_Cert": a lowercase RFC '
        "1123 subdomain must consist of",
        id="a name that is not a DNS-1123 subdomain is invalid",
    ),
    pytest.param(
        secret("web", labels={"bad key!": "x"}),
        "metadata.labels",
        'Secret "web" is invalid: metadata.labels: Invalid value: "bad key!": name part must',
        id="a label key with a space and a bang is invalid",
    ),
    pytest.param(
        secret("web", labels={"app": "-bad-"}),
        "metadata.labels",
        'Secret "web" is invalid: metadata.labels: Invalid value: "-bad-": a valid label must',
        id="a label value starting with a dash is invalid",
    ),
    pytest.param(
        secret("web", data={"bad key": "x"}),
        "data[bad key]",
        'Secret "web" is invalid: data[bad key]: Invalid value: "bad key": a valid config key',
        id="a data key with a space is invalid",
    ),
    pytest.param(
        {"metadata": {"name": "web", "annotations": {"/no-name": "x"}}},
        "metadata.annotations",
        'Secret "web" is invalid: metadata.annotations: Invalid value: "/no-name": prefix part',
        id="an annotation key with an empty prefix is invalid",
    ),
]


@pytest.mark.parametrize(("body", "field", "message"), INVALID_SECRETS)
def test_invalid_secrets_are_a_422_with_causes(
    core: CoreV1Api, body: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("default", body)
    status = status_of(caught.value)
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert status["message"].startswith(message)
    assert status["details"]["kind"] == "Secret"
    assert field in [cause["field"] for cause in status["details"]["causes"]]


def test_secret_type_is_immutable(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web", data={"a": "1"}))
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_secret("web", "default", tls_secret("web"))
    status = status_of(caught.value)
    assert status["message"] == (
        'Secret "web" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable'
    )


def test_immutable_secret_data_cannot_change(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web", data={"a": "1"}, immutable=True))
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_secret("web", "default", {"data": {"a": b64("2")}})
    assert status_of(caught.value)["details"]["causes"][0]["reason"] == "FieldValueForbidden"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"metadata": {"name": "web"}, "data": {"a": "not base64!"}},
            'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input '
            "byte 3",
            id="data that is not base64 cannot be decoded (400, as Go's decoder refuses it)",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}},
            "the kind in the data (ConfigMap) does not match the expected kind",
            id="a ConfigMap posted to secrets is refused",
        ),
    ],
)
def test_undecodable_bodies_are_a_400(core: CoreV1Api, body: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("default", body)
    status = status_of(caught.value)
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert message in status["message"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        pytest.param(
            "/api/v1/namespaces/default/secrets",
            {"metadata": {"name": "web", "labels": {"a": 1}}},
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels",
            id="a label value that is a number cannot be decoded",
        ),
        pytest.param(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            {"metadata": {"name": "certctl"}, "spec": {"holderIdentity": 7}},
            "cannot unmarshal number into Go struct field LeaseSpec.spec.holderIdentity",
            id="a lease holder that is not a string cannot be decoded",
        ),
        pytest.param(
            "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            {"metadata": {"name": "certctl"}, "spec": {"renewTime": "yesterday"}},
            'parsing time "yesterday"',
            id="a lease renew time that is not RFC 3339 cannot be decoded",
        ),
    ],
)
def test_wrong_json_types_are_a_400(
    client: ApiClient, path: str, body: dict[str, Any], message: str
) -> None:
    # The typed client's pydantic models catch these first; a raw request reaches the server.
    code, status, _ = send_raw(client, "POST", path, body)
    assert (code, status["code"], status["reason"]) == (400, 400, "BadRequest")
    assert message in status["message"]


def test_string_data_is_folded_into_data(core: CoreV1Api) -> None:
    created = core.create_namespaced_secret(
        "default", {"metadata": {"name": "web"}, "stringData": {"a": "clear"}}
    )
    assert created.data == {"a": b64("clear")} and created.string_data is None


def test_unknown_fields_are_refused_when_strict_and_dropped_with_a_warning_otherwise(
    client: ApiClient,
) -> None:
    body = {"metadata": {"name": "web"}, "spec": {"oops": True}}
    secrets = "/api/v1/namespaces/default/secrets"
    code, status, _ = send_raw(client, "POST", f"{secrets}?fieldValidation=Strict", body)
    assert (code, status["message"]) == (400, 'strict decoding error: unknown field "spec"')
    code, created, headers = send_raw(client, "POST", secrets, body)
    assert code == 201 and "spec" not in created
    assert headers["Warning"] == '299 - "unknown field \\"spec\\""'


def test_post_with_a_resource_version_is_refused(core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(
            "default", {"metadata": {"name": "web", "resourceVersion": "7"}}
        )
    assert "resourceVersion should not be set" in status_of(caught.value)["message"]


# --- selectors ---

LABELLED = {
    "prod-web": {"app": "web", "env": "prod", "tier": "1"},
    "stage-web": {"app": "web", "env": "stage", "tier": "3"},
    "prod-api": {"app": "api", "env": "prod"},
    "bare": {},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("env=prod", ["prod-api", "prod-web"], id="= matches the value"),
        pytest.param("env==stage", ["stage-web"], id="== is the same as ="),
        pytest.param(
            "env!=prod", ["bare", "stage-web"], id="!= also matches objects without the key"
        ),
        pytest.param(
            "env in (prod, stage),app=web",
            ["prod-web", "stage-web"],
            id="in takes a set and commas join requirements",
        ),
        pytest.param(
            "app notin (web)", ["bare", "prod-api"], id="notin matches objects without the key"
        ),
        pytest.param("tier", ["prod-web", "stage-web"], id="a bare key means the key exists"),
        pytest.param("!tier", ["bare", "prod-api"], id="!key means the key is absent"),
        pytest.param("tier>2", ["stage-web"], id="> compares integers"),
        pytest.param("", ["bare", "prod-api", "prod-web", "stage-web"], id="empty selects all"),
    ],
)
def test_label_selectors(
    kube_api: KubeAPIServer, core: CoreV1Api, selector: str, expected: list[str]
) -> None:
    for name, labels in LABELLED.items():
        kube_api.create(secret(name, labels=labels))
    listed = core.list_namespaced_secret("default", label_selector=selector)
    assert sorted(item.metadata.name for item in listed.items) == expected


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param("env in prod", id="in without parentheses is refused"),
        pytest.param("env=prod,", id="a trailing comma is refused"),
        pytest.param("bad key!=x", id="a key with a space is refused"),
    ],
)
def test_malformed_label_selectors_are_a_400(core: CoreV1Api, selector: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_secret("default", label_selector=selector)
    assert status_of(caught.value)["message"].startswith("unable to parse requirement")


def test_field_selectors(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("a"))
    core.create_namespaced_secret("default", tls_secret("b"))
    core.create_namespaced_secret("cert-manager", tls_secret("c"))
    by_name = core.list_namespaced_secret("default", field_selector="metadata.name=b")
    assert [item.metadata.name for item in by_name.items] == ["b"]
    by_type = core.list_secret_for_all_namespaces(field_selector=f"type={TLS}")
    # Namespace, then name: the order of etcd keys, which real list answers follow.
    assert [item.metadata.name for item in by_type.items] == ["c", "b"]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_secret("default", field_selector="spec.nodeName=x")
    assert status_of(caught.value)["message"] == "field label not supported: spec.nodeName"


def test_lists_paginate_with_limit_and_continue(core: CoreV1Api) -> None:
    for name in ("a", "b", "c"):
        core.create_namespaced_secret("default", secret(name))
    first = core.list_namespaced_secret("default", limit=2)
    assert [item.metadata.name for item in first.items] == ["a", "b"]
    rest = core.list_namespaced_secret("default", limit=2, _continue=first.metadata._continue)
    assert [item.metadata.name for item in rest.items] == ["c"]


# --- patches ---


def test_merge_patch_deletes_with_null(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web", labels={"a": "1", "b": "2"}))
    patched = core.patch_namespaced_secret(
        "web",
        "default",
        {"metadata": {"labels": {"a": None, "c": "3"}}},
        _content_type="application/merge-patch+json",
    )
    assert patched.metadata.labels == {"b": "2", "c": "3"}


def pod(name: str, *containers: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"acme.cert-manager.io/http01-solver": "true"}},
        "spec": {"containers": [{"name": c, "image": f"{c}:1"} for c in containers]},
    }


def test_strategic_merge_patch_merges_containers_by_name(core: CoreV1Api) -> None:
    core.create_namespaced_pod("default", pod("solver", "acmesolver", "sidecar"))
    patched = core.patch_namespaced_pod(
        "solver",
        "default",
        {"spec": {"containers": [{"name": "sidecar", "image": "sidecar:2"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert [(c.name, c.image) for c in patched.spec.containers] == [
        ("acmesolver", "acmesolver:1"),
        ("sidecar", "sidecar:2"),
    ]
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod("solver", "default", {"spec": {"restartPolicy": "Never"}})
    assert "pod updates may not change fields" in status_of(caught.value)["message"]


def test_strategic_merge_patch_is_refused_for_custom_resources(client: ApiClient) -> None:
    custom = CustomObjectsApi(client)
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "web"},
        "spec": {"secretName": "web", "issuerRef": {"name": "ca"}},
    }
    custom.create_namespaced_custom_object(
        "cert-manager.io", "v1", "default", "certificates", certificate
    )
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            "cert-manager.io",
            "v1",
            "default",
            "certificates",
            "web",
            {"spec": {"secretName": "other"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415


def test_json_patch_operations(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web", labels={"a": "1"}, data={"x": "1"}))
    operations = [
        {"op": "test", "path": "/metadata/labels/a", "value": "1"},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/data/x", "value": b64("2")},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "copy", "from": "/data/x", "path": "/data/y"},
    ]
    patched = core.patch_namespaced_secret("web", "default", operations)
    assert patched.metadata.labels == {"b": "2"}
    assert patched.data == {"x": b64("2"), "y": b64("2")}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_secret(
            "web", "default", [{"op": "test", "path": "/data/x", "value": b64("1")}]
        )
    assert (caught.value.status, status_of(caught.value)["reason"]) == (422, "Invalid")


# --- server-side apply ---


def apply(core: CoreV1Api, body: dict[str, Any], manager: str, **options: Any) -> V1Secret:
    name = body["metadata"]["name"]
    return core.patch_namespaced_secret(
        name, "default", body, field_manager=manager, _content_type=APPLY, **options
    )


def test_apply_creates_and_records_the_field_manager(core: CoreV1Api) -> None:
    applied = apply(core, tls_secret("web"), "certctl")
    entries = applied.metadata.managed_fields
    assert [(e.manager, e.operation) for e in entries] == [("certctl", "Apply")]
    assert entries[0].fields_v1 == {
        "f:data": {"f:tls.crt": {}, "f:tls.key": {}},
        "f:type": {},
    }


def test_apply_without_a_field_manager_is_a_422(core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_secret("web", "default", tls_secret("web"), _content_type=APPLY)
    status = status_of(caught.value)
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for '
        "apply patch"
    )


def test_apply_conflicts_with_another_manager_unless_forced(core: CoreV1Api) -> None:
    apply(core, tls_secret("web"), "other")
    mine = secret("web", type=TLS, data={"tls.crt": "mine"})
    with pytest.raises(ApiException) as caught:
        apply(core, mine, "certctl")
    status = status_of(caught.value)
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "other": .data.tls.crt'
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "other"',
            "field": ".data.tls.crt",
        }
    ]

    forced = apply(core, mine, "certctl", force=True)
    owners = {e.manager: e.fields_v1 for e in forced.metadata.managed_fields}
    assert owners["certctl"] == {"f:data": {"f:tls.crt": {}}, "f:type": {}}
    assert owners["other"] == {"f:data": {"f:tls.key": {}}, "f:type": {}}


def test_apply_conflicts_with_an_update_manager_named_with_its_api_version(
    core: CoreV1Api,
) -> None:
    core.create_namespaced_secret("default", secret("web", data={"a": "1"}))
    with pytest.raises(ApiException) as caught:
        apply(core, secret("web", data={"a": "2"}), "certctl")
    assert status_of(caught.value)["message"] == (
        'Apply failed with 1 conflict: conflict with "OpenAPI-Generator" using v1: .data.a'
    )


def test_apply_of_the_same_value_shares_ownership_without_conflict(core: CoreV1Api) -> None:
    apply(core, tls_secret("web"), "other")
    shared = apply(core, tls_secret("web"), "certctl")
    assert sorted(e.manager for e in shared.metadata.managed_fields) == ["certctl", "other"]


def test_apply_removes_fields_its_manager_no_longer_sets(core: CoreV1Api) -> None:
    apply(core, secret("web", labels={"a": "1", "b": "2"}), "certctl")
    applied = apply(core, secret("web", labels={"a": "1"}), "certctl")
    assert applied.metadata.labels == {"a": "1"}


# --- dry run ---


def test_dry_run_validates_and_stores_nothing(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    kube_api.create(tls_secret("kept"))
    version = kube_api.resource_version
    kube_api.reset_log()

    created = core.create_namespaced_secret("default", tls_secret("web"), dry_run="All")
    assert created.metadata.uid and created.metadata.resource_version is None
    core.patch_namespaced_secret(
        "kept", "default", {"metadata": {"labels": {"a": "b"}}}, dry_run="All"
    )
    apply(core, tls_secret("new"), "certctl", dry_run="All")
    core.delete_namespaced_secret("kept", "default", dry_run="All")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("default", secret("web", type=TLS), dry_run="All")
    assert caught.value.status == 422

    assert [s["metadata"]["name"] for s in kube_api.objects("secrets")] == ["kept"]
    assert kube_api.get("secrets", "default", "kept")["metadata"].get("labels") is None  # type: ignore[index]
    assert kube_api.resource_version == version
    assert len(kube_api.requests) == 5 and kube_api.mutating_requests() == []


# --- Leases ---


def lease_spec(holder: str) -> V1LeaseSpec:
    now = datetime.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    return V1LeaseSpec(
        holder_identity=holder, lease_duration_seconds=15, acquire_time=now, renew_time=now
    )


def test_lease_update_race_has_one_winner(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    with (
        connect(kube_api, tmp_path / "one.kubeconfig") as one,
        connect(kube_api, tmp_path / "two.kubeconfig") as two,
    ):
        first, second = CoordinationV1Api(one), CoordinationV1Api(two)
        first.create_namespaced_lease(
            "default", V1Lease(metadata=V1ObjectMeta(name="certctl"), spec=lease_spec(""))
        )
        seen_by_first = first.read_namespaced_lease("certctl", "default")
        seen_by_second = second.read_namespaced_lease("certctl", "default")
        seen_by_first.spec.holder_identity = "run-1"
        seen_by_second.spec.holder_identity = "run-2"

        first.replace_namespaced_lease("certctl", "default", seen_by_first)
        with pytest.raises(ApiException) as caught:
            second.replace_namespaced_lease("certctl", "default", seen_by_second)

    assert status_of(caught.value)["message"].startswith(
        'Operation cannot be fulfilled on leases.coordination.k8s.io "certctl"'
    )
    stored = kube_api.get("leases", "default", "certctl")
    assert stored is not None and stored["spec"]["holderIdentity"] == "run-1"
    assert stored["spec"]["acquireTime"] == "2024-01-01T12:00:00.123456Z"


def test_a_lease_duration_must_be_positive(client: ApiClient) -> None:
    with pytest.raises(ApiException) as caught:
        CoordinationV1Api(client).create_namespaced_lease(
            "default", {"metadata": {"name": "certctl"}, "spec": {"leaseDurationSeconds": 0}}
        )
    assert status_of(caught.value)["message"] == (
        'Lease.coordination.k8s.io "certctl" is invalid: spec.leaseDurationSeconds: Invalid '
        "value: 0: must be greater than 0"
    )


# --- authentication and authorization ---


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="a kubeconfig user without a token is unauthorized"),
        pytest.param("stolen", id="an unknown token is unauthorized"),
    ],
)
def test_missing_or_unknown_token_is_a_401(
    kube_api: KubeAPIServer, tmp_path: Path, token: str
) -> None:
    with (
        connect(kube_api, tmp_path / "kubeconfig", token=token) as anonymous,
        pytest.raises(ApiException) as caught,
    ):
        CoreV1Api(anonymous).list_namespaced_secret("default")
    status = status_of(caught.value)
    assert (status["code"], status["reason"], status["message"]) == (
        401,
        "Unauthorized",
        "Unauthorized",
    )
    assert kube_api.requests[-1].user is None


def test_a_narrow_token_is_forbidden_with_a_sentence_naming_verb_resource_and_namespace(
    kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    kube_api.create(secret("web"))
    kube_api.grant("narrow", ["get", "list"], ["secrets"], namespace="default")
    with connect(kube_api, tmp_path / "kubeconfig", token="narrow") as narrow:
        core = CoreV1Api(narrow)
        assert core.read_namespaced_secret("web", "default").metadata.name == "web"
        with pytest.raises(ApiException) as update:
            core.replace_namespaced_secret("web", "default", secret("web"))
        with pytest.raises(ApiException) as elsewhere:
            core.list_namespaced_secret("kube-system")
        with pytest.raises(ApiException) as leases:
            CoordinationV1Api(narrow).list_namespaced_lease("default")

    assert status_of(update.value)["message"] == (
        f'secrets "web" is forbidden: User "{DEFAULT_SERVICE_ACCOUNT}" cannot update resource '
        '"secrets" in API group "" in the namespace "default"'
    )
    assert status_of(update.value)["details"] == {"name": "web", "kind": "secrets"}
    assert status_of(elsewhere.value)["message"] == (
        f'secrets is forbidden: User "{DEFAULT_SERVICE_ACCOUNT}" cannot list resource "secrets" '
        'in API group "" in the namespace "kube-system"'
    )
    assert status_of(leases.value)["message"] == (
        f'leases.coordination.k8s.io is forbidden: User "{DEFAULT_SERVICE_ACCOUNT}" cannot list '
        'resource "leases" in API group "coordination.k8s.io" in the namespace "default"'
    )
    assert kube_api.requests[0].user == DEFAULT_SERVICE_ACCOUNT


def test_apply_that_creates_needs_create_as_well_as_patch(
    kube_api: KubeAPIServer, tmp_path: Path
) -> None:
    kube_api.grant("patcher", ["patch"], ["secrets"])
    with (
        connect(kube_api, tmp_path / "kubeconfig", token="patcher") as patcher,
        pytest.raises(ApiException) as caught,
    ):
        apply(CoreV1Api(patcher), tls_secret("web"), "certctl")
    assert "cannot create resource" in status_of(caught.value)["message"]


# --- fault injection and the request log ---


def test_injected_500_then_success(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    kube_api.fail_next("POST", r"/namespaces/default/secrets$", 500)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret("default", tls_secret("web"))
    assert status_of(caught.value)["reason"] == "InternalError"
    assert kube_api.objects("secrets") == []

    core.create_namespaced_secret("default", tls_secret("web"))
    assert [(r.status, r.injected) for r in kube_api.requests] == [(500, True), (201, False)]


def test_injected_409_carries_the_object_name_and_retry_after(
    kube_api: KubeAPIServer, core: CoreV1Api
) -> None:
    core.create_namespaced_secret("default", tls_secret("web"))
    kube_api.fail_next("PUT", r"/secrets/web$", 409, times=2, retry_after=1)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.replace_namespaced_secret("web", "default", tls_secret("web"))
        assert status_of(caught.value)["details"] == {
            "name": "web",
            "kind": "secrets",
            "retryAfterSeconds": 1,
        }
        assert caught.value.headers["Retry-After"] == "1"
    core.replace_namespaced_secret("web", "default", tls_secret("web"))


def test_request_log_counts_mutating_requests(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", tls_secret("web"))
    core.read_namespaced_secret("web", "default")
    core.list_namespaced_secret("default", label_selector="app=web")
    core.patch_namespaced_secret("web", "default", {"metadata": {"labels": {"app": "web"}}})
    core.delete_namespaced_secret("web", "default")
    assert [(r.method, r.status) for r in kube_api.mutating_requests()] == [
        ("POST", 201),
        ("PATCH", 200),
        ("DELETE", 200),
    ]
    listed = kube_api.requests[2]
    assert (listed.path, listed.query) == (
        "/api/v1/namespaces/default/secrets",
        {"labelSelector": "app=web"},
    )
    assert kube_api.requests[0].body["metadata"]["name"] == "web"
    kube_api.reset_log()
    assert kube_api.requests == []


# --- the rest of the surface ---


def test_watch_is_refused_honestly(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_secret("default", watch=True, _preload_content=False)
    assert "watch is not supported" in status_of(caught.value)["message"]


def test_main_endpoint_ignores_status_and_the_status_subresource_sets_it(
    client: ApiClient,
) -> None:
    custom = CustomObjectsApi(client)
    args = ("cert-manager.io", "v1", "default", "certificates")
    custom.create_namespaced_custom_object(
        *args,
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "web"},
            "spec": {"secretName": "web"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
    )
    created = custom.get_namespaced_custom_object(*args, "web")
    assert "status" not in created and created["metadata"]["generation"] == 1
    custom.patch_namespaced_custom_object_status(*args, "web", {"status": {"revision": 1}})
    changed = custom.patch_namespaced_custom_object(
        *args, "web", {"spec": {"secretName": "other"}, "status": {"revision": 9}}
    )
    assert changed["status"] == {"revision": 1} and changed["metadata"]["generation"] == 2


def test_http01_solver_objects_round_trip(core: CoreV1Api, client: ApiClient) -> None:
    core.create_namespaced_pod("default", pod("cm-acme-http-solver-x", "acmesolver"))
    service = core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "cm-acme-http-solver-x"},
            "spec": {"type": "NodePort", "ports": [{"port": 8089, "name": "http"}]},
        },
    )
    assert service.spec.cluster_ip and service.spec.ports[0].target_port == 8089
    networking = NetworkingV1Api(client)
    ingress = networking.create_namespaced_ingress(
        "default",
        {
            "metadata": {"name": "cm-acme-http-solver-x"},
            "spec": {
                "rules": [
                    {
                        "host": "web.example.test",
                        "http": {
                            "paths": [
                                {
                                    "path": "/.well-known/acme-challenge/token",
                                    "pathType": "ImplementationSpecific",
                                    "backend": {
                                        "service": {
                                            "name": "cm-acme-http-solver-x",
                                            "port": {"number": 8089},
                                        }
                                    },
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    assert ingress.metadata.generation == 1
    with pytest.raises(ApiException) as caught:
        networking.create_namespaced_ingress(
            "default",
            {
                "metadata": {"name": "broken"},
                "spec": {"rules": [{"host": "Bad_Host", "http": {"paths": []}}]},
            },
        )
    assert 'spec.rules[0].host: Invalid value: "Bad_Host"' in status_of(caught.value)["message"]
    solvers = core.list_namespaced_pod(
        "default", label_selector="acme.cert-manager.io/http01-solver=true"
    )
    assert [p.metadata.name for p in solvers.items] == ["cm-acme-http-solver-x"]
    assert solvers.items[0].status.phase == "Pending"
    core.delete_namespaced_pod("cm-acme-http-solver-x", "default")
    core.delete_namespaced_service("cm-acme-http-solver-x", "default")
    networking.delete_namespaced_ingress("cm-acme-http-solver-x", "default")
    assert core.list_namespaced_pod("default").items == []


def test_finalizers_hold_deletion_until_removed(kube_api: KubeAPIServer, core: CoreV1Api) -> None:
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "web", "finalizers": ["example.test/hold"]}}
    )
    core.delete_namespaced_secret("web", "default")
    held = core.read_namespaced_secret("web", "default")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_secret(
        "web",
        "default",
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    assert kube_api.get("secrets", "default", "web") is None


def test_delete_preconditions_conflict(core: CoreV1Api) -> None:
    core.create_namespaced_secret("default", secret("web"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_secret(
            "web", "default", body={"preconditions": {"resourceVersion": "1"}}
        )
    assert (
        "Precondition failed: ResourceVersion in precondition: 1"
        in status_of(caught.value)["message"]
    )


def test_discovery_endpoints(client: ApiClient) -> None:
    assert kubernetes.client.VersionApi(client).get_code().major == "1"
    assert kubernetes.client.CoreApi(client).get_api_versions().versions == ["v1"]
    groups = kubernetes.client.ApisApi(client).get_api_versions().groups
    assert "coordination.k8s.io" in [group.name for group in groups]
    resources = CoordinationV1Api(client).get_api_resources().resources
    assert [r.name for r in resources] == ["leases"]


def test_stopping_closes_connections_the_client_keeps_alive(tmp_path: Path) -> None:
    with KubeAPIServer() as kube, connect(kube, tmp_path / "kubeconfig") as api_client:
        CoreV1Api(api_client).list_namespace()
        kube.stop()
