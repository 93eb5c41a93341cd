"""The cainjector decisions: annotation → source, object → caBundle fields, bundle merging."""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from certctl.engine.inject import (
    CASource,
    InjectionError,
    StoreCALookup,
    build_json_patch,
    ca_bundle_paths,
    certificate_ca,
    format_field_path,
    inject_objects,
    merge_ca_bundle,
    read_sources,
    secret_ca,
)
from certctl.stores.base import SecretRecord
from tests.unit.pki.builders import NOW, make_authority

# --- builders -------------------------------------------------------------------------------


@functools.cache
def ca_pem(name: str = "Root A", *, expired: bool = False) -> bytes:
    """A CA certificate as PEM; an expired one ended a year before NOW."""
    start = NOW - dt.timedelta(days=800) if expired else NOW - dt.timedelta(days=1)
    authority = make_authority(name, not_before=start)
    return authority.certificate.public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def webhook_configuration(
    *webhooks: Mapping[str, Any],
    annotations: Mapping[str, str] | None = None,
    kind: str = "ValidatingWebhookConfiguration",
) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {
            "name": "hooks",
            "annotations": dict(
                annotations or {"cert-manager.io/inject-ca-from": "default/api-backend"}
            ),
        },
        "webhooks": [dict(w) for w in webhooks],
    }


def webhook(name: str, **client_config: Any) -> dict[str, Any]:
    return {"name": name, "clientConfig": {"service": {"name": "api"}, **client_config}}


def api_service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": "v1.metrics.example.com",
            "annotations": {"cert-manager.io/inject-ca-from": "default/api-backend"},
        },
        "spec": {"group": "metrics.example.com", "version": "v1", **spec},
    }


def crd(conversion: Mapping[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"group": "example.com"}
    if conversion is not None:
        spec["conversion"] = dict(conversion)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "widgets.example.com",
            "annotations": {"cert-manager.io/inject-ca-from": "default/api-backend"},
        },
        "spec": spec,
    }


def secret(
    name: str = "api-backend-tls",
    *,
    ca: bytes | None = None,
    annotations: Mapping[str, str] | None = None,
) -> SecretRecord:
    data = {"tls.crt": b"leaf", "tls.key": b"key"}
    if ca is not None:
        data["ca.crt"] = ca
    return SecretRecord(
        "default",
        name,
        data=data,
        annotations=dict(
            {"cert-manager.io/certificate-name": "api-backend"}
            if annotations is None
            else annotations
        ),
    )


class FakeStore:
    description = "dir:test"

    def __init__(self, *records: SecretRecord) -> None:
        self.records = {(r.namespace, r.name): r for r in records}

    def read(self, namespace: str, name: str) -> SecretRecord | None:
        return self.records.get((namespace, name))


class FakeCluster:
    def __init__(self, certificates: Mapping[tuple[str, str], str], ca: bytes | None) -> None:
        self.certificates = certificates
        self.ca = ca

    def read_certificate(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        secret_name = self.certificates.get((namespace, name))
        return None if secret_name is None else {"spec": {"secretName": secret_name}}

    def apiserver_ca(self) -> bytes | None:
        return self.ca


def lookup(
    *records: SecretRecord, cluster: FakeCluster | None = None, **certificates: str
) -> StoreCALookup:
    """Certificates from -f by ``name=secretName`` in namespace default."""
    return StoreCALookup(
        FakeStore(*records),
        {("default", name.replace("_", "-")): value for name, value in certificates.items()},
        cluster,
    )


# --- annotations → sources ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        pytest.param({}, (), id="no annotation names no source"),
        pytest.param(
            {"cert-manager.io/inject-ca-from": "default/api-backend"},
            (CASource("Certificate", "default", "api-backend"),),
            id="inject-ca-from names a Certificate",
        ),
        pytest.param(
            {"cert-manager.io/inject-ca-from-secret": "cert-manager/webhook-ca"},
            (CASource("Secret", "cert-manager", "webhook-ca"),),
            id="inject-ca-from-secret names a Secret",
        ),
        pytest.param(
            {"cert-manager.io/inject-apiserver-ca": "true"},
            (CASource("APIServer"),),
            id="inject-apiserver-ca true names the API server's CA",
        ),
        pytest.param(
            {"cert-manager.io/inject-apiserver-ca": "false"},
            (),
            id="inject-apiserver-ca other than true names nothing",
        ),
        pytest.param(
            {
                "cert-manager.io/inject-apiserver-ca": "true",
                "cert-manager.io/inject-ca-from-secret": "a/b",
                "cert-manager.io/inject-ca-from": "c/d",
            },
            (
                CASource("Certificate", "c", "d"),
                CASource("Secret", "a", "b"),
                CASource("APIServer"),
            ),
            id="several annotations name every source, Certificate first",
        ),
        pytest.param(
            {"app.kubernetes.io/name": "api", "cert-manager.io/inject-ca-from": " a/b "},
            (CASource("Certificate", "a", "b"),),
            id="other annotations are ignored and the value is trimmed",
        ),
    ],
)
def test_annotations_name_sources(
    annotations: dict[str, str], expected: tuple[CASource, ...]
) -> None:
    assert read_sources(annotations) == expected


@pytest.mark.parametrize(
    "annotations",
    [
        pytest.param(
            {"cert-manager.io/inject-ca-from": "api-backend"}, id="a name without namespace"
        ),
        pytest.param({"cert-manager.io/inject-ca-from": "/api-backend"}, id="an empty namespace"),
        pytest.param({"cert-manager.io/inject-ca-from": "default/"}, id="an empty name"),
        pytest.param({"cert-manager.io/inject-ca-from-secret": "a/b/c"}, id="two slashes"),
        pytest.param({"cert-manager.io/inject-ca-from-secret": ""}, id="an empty secret value"),
    ],
)
def test_a_malformed_reference_is_refused_with_the_annotation_named(
    annotations: dict[str, str],
) -> None:
    with pytest.raises(InjectionError) as raised:
        read_sources(annotations)

    assert raised.value.reason == "InvalidAnnotation"
    assert next(iter(annotations)) in raised.value.message
    assert "<namespace>/" in raised.value.message


# --- the sources' CA ------------------------------------------------------------------------

CERTIFICATE = CASource("Certificate", "default", "api-backend")
DIRECT = CASource("Secret", "default", "webhook-ca")
ALLOWED = {"cert-manager.io/allow-direct-injection": "true"}


@pytest.mark.parametrize(
    ("secret_name", "record", "reason", "words"),
    [
        pytest.param(
            None,
            None,
            "DoesNotExist",
            "Certificate default/api-backend",
            id="a missing Certificate",
        ),
        pytest.param(
            "api-backend-tls",
            None,
            "DoesNotExist",
            "Secret default/api-backend-tls of Certificate default/api-backend does not exist",
            id="a Certificate whose Secret does not exist",
        ),
        pytest.param(
            "api-backend-tls",
            secret(ca=ca_pem(), annotations={"cert-manager.io/certificate-name": "other"}),
            "IncorrectCertificate",
            "'other'",
            id="a Secret that belongs to another Certificate is ignored",
        ),
        pytest.param(
            "api-backend-tls",
            secret(ca=ca_pem(), annotations={}),
            "IncorrectCertificate",
            "is missing",
            id="a Secret without the certificate-name annotation is ignored",
        ),
        pytest.param(
            "api-backend-tls",
            secret(ca=None),
            "MissingData",
            "has no ca.crt",
            id="a Secret without ca.crt (ACME) has no CA to inject",
        ),
        pytest.param(
            "api-backend-tls",
            secret(ca=b"  \n"),
            "MissingData",
            "has no ca.crt",
            id="an empty ca.crt has no CA to inject",
        ),
        pytest.param(
            "api-backend-tls",
            secret(ca=b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"),
            "InvalidData",
            "not a PEM certificate",
            id="a ca.crt that is not PEM is refused",
        ),
    ],
)
def test_a_certificate_source_without_a_usable_ca_fails(
    secret_name: str | None, record: SecretRecord | None, reason: str, words: str
) -> None:
    with pytest.raises(InjectionError) as raised:
        certificate_ca(CERTIFICATE, secret_name, record, "in the manifests given with -f")

    assert raised.value.reason == reason
    assert words in raised.value.message


def test_a_certificate_source_gives_its_secrets_ca_crt() -> None:
    record = secret(ca=ca_pem())

    assert certificate_ca(CERTIFICATE, "api-backend-tls", record, "") == ca_pem()


@pytest.mark.parametrize(
    ("annotations", "allowed"),
    [
        pytest.param(ALLOWED, True, id="allow-direct-injection true allows it"),
        pytest.param({}, False, id="a Secret without allow-direct-injection is refused"),
        pytest.param(
            {"cert-manager.io/allow-direct-injection": "True"},
            False,
            id="allow-direct-injection must be exactly true",
        ),
        pytest.param(
            {"cert-manager.io/allow-direct-injection": "false"},
            False,
            id="allow-direct-injection false is refused",
        ),
    ],
)
def test_a_secret_source_needs_allow_direct_injection(
    annotations: dict[str, str], allowed: bool
) -> None:
    record = secret("webhook-ca", ca=ca_pem(), annotations=annotations)

    if allowed:
        assert secret_ca(DIRECT, record) == ca_pem()
        return
    with pytest.raises(InjectionError) as raised:
        secret_ca(DIRECT, record)
    assert raised.value.reason == "DirectInjectionNotAllowed"
    assert raised.value.message.startswith(
        "Secret default/webhook-ca does not allow direct injection"
    )
    assert 'cert-manager.io/allow-direct-injection: "true"' in raised.value.message


def test_a_missing_direct_secret_is_named() -> None:
    with pytest.raises(InjectionError) as raised:
        secret_ca(DIRECT, None)

    assert raised.value.reason == "DoesNotExist"
    assert "Secret default/webhook-ca" in raised.value.message


@pytest.mark.parametrize(
    ("cluster", "reason", "words"),
    [
        pytest.param(None, "NoAPIServerCA", "needs --store kubernetes", id="without a cluster"),
        pytest.param(
            FakeCluster({}, None), "NoAPIServerCA", "gives no CA", id="a kubeconfig without a CA"
        ),
    ],
)
def test_the_apiserver_ca_needs_a_cluster_with_a_ca(
    cluster: FakeCluster | None, reason: str, words: str
) -> None:
    with pytest.raises(InjectionError) as raised:
        lookup(cluster=cluster).resolve(CASource("APIServer"))

    assert raised.value.reason == reason
    assert words in raised.value.message


def test_the_apiserver_ca_comes_from_the_cluster() -> None:
    assert lookup(cluster=FakeCluster({}, ca_pem("API"))).resolve(CASource("APIServer")) == (
        ca_pem("API")
    )


@pytest.mark.parametrize(
    ("in_manifests", "in_cluster", "found"),
    [
        pytest.param(True, False, True, id="a Certificate from -f is found"),
        pytest.param(False, True, True, id="a Certificate only in the cluster is found"),
        pytest.param(False, False, False, id="a Certificate in neither is missing"),
    ],
)
def test_certificates_come_from_the_manifests_then_the_cluster(
    in_manifests: bool, in_cluster: bool, found: bool
) -> None:
    cluster = FakeCluster(
        {("default", "api-backend"): "api-backend-tls"} if in_cluster else {}, None
    )
    certificates = {"api_backend": "api-backend-tls"} if in_manifests else {}
    resolver = lookup(secret(ca=ca_pem()), cluster=cluster, **certificates)

    if found:
        assert resolver.resolve(CERTIFICATE) == ca_pem()
        return
    with pytest.raises(
        InjectionError, match="not found in the manifests given with -f or in the cluster"
    ):
        resolver.resolve(CERTIFICATE)


# --- targets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "paths", "why"),
    [
        pytest.param(
            webhook_configuration(webhook("a"), webhook("b"), webhook("c")),
            [
                "webhooks[0].clientConfig.caBundle",
                "webhooks[1].clientConfig.caBundle",
                "webhooks[2].clientConfig.caBundle",
            ],
            "",
            id="a ValidatingWebhookConfiguration gets every webhook's caBundle",
        ),
        pytest.param(
            webhook_configuration(webhook("a"), kind="MutatingWebhookConfiguration"),
            ["webhooks[0].clientConfig.caBundle"],
            "",
            id="a MutatingWebhookConfiguration gets its webhook's caBundle",
        ),
        pytest.param(
            webhook_configuration(), [], "it has no webhooks", id="a configuration without webhooks"
        ),
        pytest.param(api_service(), ["spec.caBundle"], "", id="an APIService gets spec.caBundle"),
        pytest.param(
            crd({"strategy": "Webhook", "webhook": {"clientConfig": {}}}),
            ["spec.conversion.webhook.clientConfig.caBundle"],
            "",
            id="a CRD with webhook conversion gets its conversion webhook's caBundle",
        ),
        pytest.param(
            crd({"strategy": "None"}),
            [],
            "its conversion strategy is None",
            id="a CRD with conversion strategy None is skipped",
        ),
        pytest.param(
            crd(None),
            [],
            "its conversion strategy is None",
            id="a conversion-less CRD is skipped",
        ),
        pytest.param(
            {**crd({"strategy": "Webhook"}), "apiVersion": "apiextensions.k8s.io/v1beta1"},
            [],
            "injects into apiextensions.k8s.io/v1 only",
            id="a v1beta1 CRD is skipped",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
            [],
            "not a kind cainjector injects into",
            id="another kind has no caBundle",
        ),
    ],
)
def test_each_kind_has_its_ca_bundle_fields(
    obj: dict[str, Any], paths: list[str], why: str
) -> None:
    found, reason = ca_bundle_paths(obj)

    assert [format_field_path(path) for path in found] == paths
    assert why in reason


# --- bundles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "additional", "expected"),
    [
        pytest.param(b"", ca_pem("A"), ca_pem("A"), id="an empty bundle becomes the CA"),
        pytest.param(
            ca_pem("A"), ca_pem("A"), ca_pem("A"), id="a CA already in the bundle is not repeated"
        ),
        pytest.param(
            ca_pem("A"),
            ca_pem("B"),
            ca_pem("A") + ca_pem("B"),
            id="a new CA is appended after the old one (rotation)",
        ),
        pytest.param(
            ca_pem("Old", expired=True) + ca_pem("A"),
            ca_pem("B"),
            ca_pem("A") + ca_pem("B"),
            id="expired CAs are dropped from the bundle",
        ),
        pytest.param(
            b"not a bundle", ca_pem("B"), ca_pem("B"), id="an unparsable bundle is replaced"
        ),
    ],
)
def test_bundles_merge_as_cainjector_merges_them(
    existing: bytes, additional: bytes, expected: bytes
) -> None:
    assert merge_ca_bundle(existing, additional, NOW) == expected


# --- whole objects ----------------------------------------------------------------------------


def injected(obj: dict[str, Any], *records: SecretRecord, **certificates: str) -> Any:
    resolver = lookup(*records, **(certificates or {"api_backend": "api-backend-tls"}))
    (outcome,) = inject_objects([obj], resolver, NOW)
    return outcome


def test_every_webhook_of_a_configuration_gets_the_bundle() -> None:
    obj = webhook_configuration(webhook("a"), webhook("b", caBundle=b64(ca_pem("Old"))))

    outcome = injected(obj, secret(ca=ca_pem()))

    assert outcome.status == "injected"
    hooks = outcome.patched["webhooks"]
    assert hooks[0]["clientConfig"]["caBundle"] == b64(ca_pem())
    assert hooks[1]["clientConfig"]["caBundle"] == b64(ca_pem("Old") + ca_pem())
    assert hooks[0]["clientConfig"]["service"] == {"name": "api"}
    assert obj["webhooks"][0]["clientConfig"].get("caBundle") is None, "the input is not changed"
    assert list(outcome.patch) == [
        {"op": "test", "path": "/webhooks/0/name", "value": "a"},
        {"op": "test", "path": "/webhooks/1/name", "value": "b"},
        {"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": b64(ca_pem())},
        {
            "op": "add",
            "path": "/webhooks/1/clientConfig/caBundle",
            "value": b64(ca_pem("Old") + ca_pem()),
        },
    ]


def test_a_bundle_that_already_holds_the_ca_is_unchanged() -> None:
    obj = api_service(caBundle=b64(ca_pem()))

    outcome = injected(obj, secret(ca=ca_pem()))

    assert outcome.status == "unchanged"
    assert outcome.patch == ()


@pytest.mark.parametrize(
    ("obj", "patch"),
    [
        pytest.param(
            api_service(),
            [{"op": "add", "path": "/spec/caBundle", "value": "CA"}],
            id="an APIService is patched at spec.caBundle",
        ),
        pytest.param(
            crd({"strategy": "Webhook"}),
            [
                {
                    "op": "add",
                    "path": "/spec/conversion/webhook",
                    "value": {"clientConfig": {"caBundle": "CA"}},
                }
            ],
            id="a CRD without a webhook clientConfig gets it added whole",
        ),
        pytest.param(
            crd({"strategy": "Webhook", "webhook": {"clientConfig": {"url": "https://x"}}}),
            [
                {
                    "op": "add",
                    "path": "/spec/conversion/webhook/clientConfig/caBundle",
                    "value": "CA",
                }
            ],
            id="a CRD with a clientConfig gets just the caBundle",
        ),
    ],
)
def test_json_patches_touch_only_the_ca_bundle(
    obj: dict[str, Any], patch: list[dict[str, Any]]
) -> None:
    outcome = injected(obj, secret(ca=ca_pem()))
    ca = b64(ca_pem())

    assert outcome.status == "injected"
    expected = [{**op, "value": _replace_ca(op["value"], ca)} for op in patch]
    assert list(outcome.patch) == expected
    assert build_json_patch(obj, outcome.patched, outcome.changed) == expected


def _replace_ca(value: Any, ca: str) -> Any:
    if value == "CA":
        return ca
    if isinstance(value, dict):
        return {key: _replace_ca(item, ca) for key, item in value.items()}
    return value


@pytest.mark.parametrize(
    ("obj", "status", "words"),
    [
        pytest.param(
            {**api_service(), "metadata": {"name": "plain"}},
            "skipped",
            "no cert-manager.io/inject-ca-from",
            id="an object without annotations is skipped",
        ),
        pytest.param(
            crd(None), "skipped", "conversion strategy", id="a conversion-less CRD is skipped"
        ),
        pytest.param(
            webhook_configuration(
                webhook("a"),
                annotations={"cert-manager.io/inject-ca-from-secret": "default/webhook-ca"},
            ),
            "failed",
            "does not allow direct injection",
            id="a Secret without allow-direct-injection fails the object",
        ),
        pytest.param(
            webhook_configuration(
                webhook("a"), annotations={"cert-manager.io/inject-ca-from": "default/nope"}
            ),
            "failed",
            "Certificate default/nope",
            id="a missing Certificate fails the object, naming it",
        ),
        pytest.param(
            webhook_configuration(
                webhook("a"), annotations={"cert-manager.io/inject-ca-from": "nope"}
            ),
            "failed",
            "is not <namespace>/<certificate name>",
            id="a malformed annotation fails the object",
        ),
    ],
)
def test_objects_without_an_injection_are_skipped_or_failed(
    obj: dict[str, Any], status: str, words: str
) -> None:
    outcome = injected(obj, secret("webhook-ca", ca=ca_pem(), annotations={}))

    assert outcome.status == status
    assert words in outcome.message
    assert outcome.patch == ()
    if status == "failed":
        assert outcome.error is not None


def test_a_direct_secret_that_allows_injection_is_injected() -> None:
    obj = webhook_configuration(
        webhook("a"), annotations={"cert-manager.io/inject-ca-from-secret": "default/webhook-ca"}
    )

    outcome = injected(obj, secret("webhook-ca", ca=ca_pem("Direct"), annotations=ALLOWED))

    assert outcome.status == "injected"
    assert outcome.patched["webhooks"][0]["clientConfig"]["caBundle"] == b64(ca_pem("Direct"))


def test_other_kinds_are_left_out() -> None:
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        {"apiVersion": "apps/v1", "kind": "APIService", "metadata": {"name": "y"}},
    ]

    assert inject_objects(objects, lookup(), NOW) == []
