"""ingress-shim: Ingress annotations to Certificates, as cert-manager's certificate-shim does.

Each case states the annotations and TLS entries that matter; ``derive`` runs the
shim over Ingresses built in memory (as the loader would give them), and the
loader cases at the end check that problems point at the Ingress file and line.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml

from certctl.api.ingress import (
    ShimResult,
    derive_certificates,
    manifests_for_apply,
    merge_with_shim,
    split_with_escape_csv,
)
from certctl.api.loader import load_manifests
from certctl.api.models import (
    Certificate,
    IngressResource,
    IssuerRef,
    ManifestSet,
    ObjectMeta,
    PrivateKeySpec,
    SecretTemplate,
    Source,
    X509Subject,
)
from certctl.errors import ManifestError

from .builders import certificate as certificate_document

ISSUER = "cert-manager.io/issuer"
CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
TLS_ACME = "kubernetes.io/tls-acme"
DEFAULT_ISSUER = IssuerRef("default-ca", "ClusterIssuer", "cert-manager.io")


def ingress(
    name: str = "web",
    *,
    annotations: Mapping[str, str] | None = None,
    tls: list[dict[str, Any]] | None = None,
    labels: Mapping[str, str] | None = None,
    namespace: str = "default",
    **metadata: Any,
) -> IngressResource:
    """An Ingress with one TLS entry (``web.example.com`` into ``web-tls``) by default."""
    annotations = {CLUSTER_ISSUER: "ca"} if annotations is None else dict(annotations)
    tls = [{"hosts": [f"{name}.example.com"], "secretName": f"{name}-tls"}] if tls is None else tls
    raw_metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": dict(labels or {}),
        "annotations": annotations,
        **metadata,
    }
    spec = {"tls": tls, "rules": [{"host": f"{name}.example.com"}]}
    return IngressResource(
        metadata=ObjectMeta(name, namespace, dict(labels or {}), annotations),
        spec=spec,
        source=Source("ingress.yaml", 1),
        raw={
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": raw_metadata,
            "spec": spec,
        },
    )


def derive(*ingresses: IngressResource, **options: Any) -> ShimResult:
    return derive_certificates(ingresses, **options)


def only_certificate(result: ShimResult) -> Certificate:
    assert not result.problems, result.problems
    assert len(result.certificates) == 1, result.certificates
    return result.certificates[0]


def with_annotations(**extra: str) -> IngressResource:
    """The default Ingress with more annotations (keyword keys use __ for / and _ for -)."""
    return ingress(annotations={CLUSTER_ISSUER: "ca", **extra})


# --- §5.1 triggering and issuer selection ---


TRIGGER_CASES = [
    pytest.param(
        {ISSUER: "ca"},
        None,
        IssuerRef("ca", "Issuer", "cert-manager.io"),
        id="the issuer annotation selects a namespaced Issuer",
    ),
    pytest.param(
        {CLUSTER_ISSUER: "ca"},
        None,
        IssuerRef("ca", "ClusterIssuer", "cert-manager.io"),
        id="the cluster-issuer annotation selects a ClusterIssuer",
    ),
    pytest.param(
        {TLS_ACME: "true"},
        DEFAULT_ISSUER,
        DEFAULT_ISSUER,
        id="tls-acme true uses the default issuer",
    ),
    pytest.param(
        {TLS_ACME: "True"},
        IssuerRef("default-ca"),
        IssuerRef("default-ca", "Issuer", "cert-manager.io"),
        id="tls-acme accepts Go's spellings of true and defaults kind and group",
    ),
    pytest.param(
        {ISSUER: "ca", TLS_ACME: "true"},
        DEFAULT_ISSUER,
        IssuerRef("ca", "Issuer", "cert-manager.io"),
        id="an issuer annotation wins over the default issuer",
    ),
    pytest.param(
        {
            ISSUER: "pca",
            "cert-manager.io/issuer-kind": "AWSPCAIssuer",
            "cert-manager.io/issuer-group": "awspca.cert-manager.io",
        },
        None,
        IssuerRef("pca", "AWSPCAIssuer", "awspca.cert-manager.io"),
        id="issuer-kind and issuer-group select an external issuer",
    ),
    pytest.param(
        {TLS_ACME: "true", "cert-manager.io/issuer-kind": "ClusterIssuer"},
        IssuerRef("default-ca", "Issuer", "cert-manager.io"),
        IssuerRef("default-ca", "ClusterIssuer", "cert-manager.io"),
        id="issuer-kind overrides the default issuer's kind",
    ),
]


@pytest.mark.parametrize(("annotations", "default", "expected"), TRIGGER_CASES)
def test_issuer_selection(
    annotations: dict[str, str], default: IssuerRef | None, expected: IssuerRef
) -> None:
    result = derive(ingress(annotations=annotations), default_issuer=default)
    assert only_certificate(result).spec.issuer_ref == expected


NOT_TRIGGERED_CASES = [
    pytest.param({}, id="an Ingress without cert-manager annotations is left alone"),
    pytest.param({TLS_ACME: "false"}, id="tls-acme false does not trigger"),
    pytest.param({TLS_ACME: "yes"}, id="tls-acme with a value Go does not parse as true"),
    pytest.param(
        {"cert-manager.io/issuer-kind": "ClusterIssuer", "cert-manager.io/duration": "24h"},
        id="field annotations alone do not trigger",
    ),
]


@pytest.mark.parametrize("annotations", NOT_TRIGGERED_CASES)
def test_ingresses_that_do_not_ask_for_a_certificate(annotations: dict[str, str]) -> None:
    result = derive(ingress(annotations=annotations), default_issuer=DEFAULT_ISSUER)
    assert result == ShimResult()


def test_tls_acme_without_a_default_issuer_is_skipped_with_a_note() -> None:
    result = derive(ingress(annotations={TLS_ACME: "true"}))
    assert not result.certificates
    assert not result.problems
    assert len(result.skipped) == 1
    assert "no default issuer is configured" in result.skipped[0]
    assert "ingress.yaml:1: Ingress default/web" in result.skipped[0]


def test_custom_auto_certificate_annotations_replace_tls_acme() -> None:
    custom = {"auto_certificate_annotations": ("example.com/certify",)}
    assert not derive(
        ingress(annotations={TLS_ACME: "true"}), default_issuer=DEFAULT_ISSUER, **custom
    ).certificates
    result = derive(
        ingress(annotations={"example.com/certify": "1"}), default_issuer=DEFAULT_ISSUER, **custom
    )
    assert only_certificate(result).spec.issuer_ref == DEFAULT_ISSUER


@pytest.mark.parametrize(
    ("metadata", "note"),
    [
        pytest.param(
            {"deletionTimestamp": "2026-01-01T00:00:00Z"},
            "being deleted",
            id="an Ingress with a deletionTimestamp is skipped",
        ),
        pytest.param(
            {"finalizers": ["foregroundDeletion"]},
            "being deleted",
            id="an Ingress under foreground deletion is skipped",
        ),
    ],
)
def test_ingresses_being_deleted_are_skipped(metadata: dict[str, Any], note: str) -> None:
    result = derive(ingress(**metadata))
    assert not result.certificates and not result.problems
    assert note in result.skipped[0]


ISSUER_ERROR_CASES = [
    pytest.param(
        {ISSUER: "a", CLUSTER_ISSUER: "b"},
        'both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer" may not be set',
        id="both issuer annotations are an error",
    ),
    pytest.param(
        {CLUSTER_ISSUER: "b", "cert-manager.io/issuer-kind": "Issuer"},
        'both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-kind" may not be set',
        id="cluster-issuer with issuer-kind is an error",
    ),
    pytest.param(
        {CLUSTER_ISSUER: "b", "cert-manager.io/issuer-group": "example.com"},
        'both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-group" may not be set',
        id="cluster-issuer with issuer-group is an error",
    ),
    pytest.param(
        {ISSUER: ""},
        "failed to determine issuer name to be used for ingress resource",
        id="an empty issuer name is an error",
    ),
]


@pytest.mark.parametrize(("annotations", "message"), ISSUER_ERROR_CASES)
def test_issuer_annotation_errors(annotations: dict[str, str], message: str) -> None:
    result = derive(ingress(annotations=annotations))
    assert not result.certificates
    assert any(message in problem.message for problem in result.problems), result.problems
    assert all(
        "could not determine issuer for ingress due to bad annotations" in problem.message
        for problem in result.problems
    )
    assert all(problem.field.startswith("metadata.annotations[") for problem in result.problems)


# --- §5.2 derivation ---


def test_one_certificate_per_tls_entry_named_after_its_secret() -> None:
    result = derive(
        ingress(
            tls=[
                {"hosts": ["a.example.com"], "secretName": "a-tls"},
                {"hosts": ["b.example.com", "c.example.com"], "secretName": "b-tls"},
            ]
        )
    )
    assert [(c.name, c.spec.secret_name, c.spec.dns_names) for c in result.certificates] == [
        ("a-tls", "a-tls", ("a.example.com",)),
        ("b-tls", "b-tls", ("b.example.com", "c.example.com")),
    ]


def test_hosts_are_split_into_names_and_ip_addresses_without_duplicates() -> None:
    hosts = ["www.example.com", "10.0.0.1", "www.example.com", "2001:db8::1", "10.0.0.1"]
    spec = only_certificate(derive(ingress(tls=[{"hosts": hosts, "secretName": "s"}]))).spec
    assert spec.dns_names == ("www.example.com",)
    assert spec.ip_addresses == ("10.0.0.1", "2001:db8::1")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param(
            {"secretName": "s"},
            "spec.tls[0].hosts: Required value",
            id="a tls entry without hosts is skipped with a note",
        ),
        pytest.param(
            {"hosts": ["a.example.com"]},
            "spec.tls[0].secretName: Required value",
            id="a tls entry without secretName is skipped with a note",
        ),
        pytest.param(
            {"hosts": []},
            "[spec.tls[0].hosts: Required value, spec.tls[0].secretName: Required value]",
            id="a tls entry with neither lists both reasons",
        ),
    ],
)
def test_incomplete_tls_entries_are_skipped(entry: dict[str, Any], reason: str) -> None:
    result = derive(ingress(tls=[entry]))
    assert not result.certificates and not result.problems
    assert result.skipped == (
        f"ingress.yaml:1: Ingress default/web: skipped a TLS block: {reason}",
    )


def test_the_same_secret_name_in_two_entries_rejects_the_whole_ingress() -> None:
    tls = [
        {"hosts": ["a.example.com"], "secretName": "shared"},
        {"hosts": ["b.example.com"], "secretName": "other"},
        {"hosts": ["c.example.com"], "secretName": "shared"},
    ]
    result = derive(ingress(tls=tls))
    assert not result.certificates
    [problem] = result.problems
    assert problem.field == "spec.tls[0].secretName"
    assert "also used in spec.tls[2].secretName" in problem.message


def test_certificates_carry_labels_owner_and_default_usages() -> None:
    result = derive(
        ingress(labels={"app": "web", "applyset.kubernetes.io/part-of": "set"}, uid="1234")
    )
    certificate = only_certificate(result)
    assert certificate.metadata.labels == {"app": "web"}
    assert certificate.spec.usages == ("digital signature", "key encipherment")
    assert certificate.raw["spec"]["usages"] == ["digital signature", "key encipherment"]
    assert certificate.raw["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "name": "web",
            "uid": "1234",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert certificate.source == Source("ingress.yaml", 1)
    assert certificate.namespace == "default"


def test_two_ingresses_deriving_one_certificate_is_an_error() -> None:
    first = ingress("a", tls=[{"hosts": ["a.example.com"], "secretName": "shared"}])
    second = ingress("b", tls=[{"hosts": ["b.example.com"], "secretName": "shared"}])
    result = derive(first, second)
    assert [c.name for c in result.certificates] == ["shared"]
    [problem] = result.problems
    assert 'also derived from Ingress "default/a"' in problem.message


def test_the_same_secret_name_in_other_namespaces_is_fine() -> None:
    tls = [{"hosts": ["a.example.com"], "secretName": "shared"}]
    result = derive(ingress("a", tls=tls), ingress("a", tls=tls, namespace="other"))
    assert [c.key for c in result.certificates] == ["default/shared", "other/shared"]


# --- §5.3 annotations ---

H = dt.timedelta(hours=1)

ANNOTATION_CASES: list[Any] = [
    pytest.param(
        {"cert-manager.io/common-name": "www.example.com"},
        lambda c: c.spec.common_name == "www.example.com",
        id="common-name becomes spec.commonName",
    ),
    pytest.param(
        {"cert-manager.io/alt-names": "x.example.com, y.example.com,web.example.com"},
        lambda c: c.spec.dns_names == ("web.example.com", "x.example.com", "y.example.com"),
        id="alt-names are appended to the hosts without duplicates",
    ),
    pytest.param(
        {"cert-manager.io/ip-sans": "10.0.0.1, 2001:db8::1"},
        lambda c: c.spec.ip_addresses == ("10.0.0.1", "2001:db8::1"),
        id="ip-sans are trimmed and appended to ipAddresses",
    ),
    pytest.param(
        {"cert-manager.io/email-sans": "a@example.com,b@example.com"},
        lambda c: c.spec.email_addresses == ("a@example.com", "b@example.com"),
        id="email-sans become spec.emailAddresses",
    ),
    pytest.param(
        {"cert-manager.io/subject-organizations": 'Example Inc,"Example, Ltd"'},
        lambda c: c.spec.subject == X509Subject(organizations=("Example Inc", "Example, Ltd")),
        id="subject-organizations is CSV with quotes",
    ),
    pytest.param(
        {"cert-manager.io/subject-organizationalunits": "Ops,Dev"},
        lambda c: c.spec.subject.organizational_units == ("Ops", "Dev"),
        id="subject-organizationalunits becomes subject.organizationalUnits",
    ),
    pytest.param(
        {"cert-manager.io/subject-countries": "GB,FR"},
        lambda c: c.spec.subject.countries == ("GB", "FR"),
        id="subject-countries becomes subject.countries",
    ),
    pytest.param(
        {"cert-manager.io/subject-provinces": "Essex"},
        lambda c: c.spec.subject.provinces == ("Essex",),
        id="subject-provinces becomes subject.provinces",
    ),
    pytest.param(
        {"cert-manager.io/subject-localities": "London"},
        lambda c: c.spec.subject.localities == ("London",),
        id="subject-localities becomes subject.localities",
    ),
    pytest.param(
        {"cert-manager.io/subject-postalcodes": "SW1A 2AA"},
        lambda c: c.spec.subject.postal_codes == ("SW1A 2AA",),
        id="subject-postalcodes becomes subject.postalCodes",
    ),
    pytest.param(
        {"cert-manager.io/subject-streetaddresses": '"10 Downing Street, Westminster",Manchester'},
        lambda c: (
            c.spec.subject.street_addresses == ("10 Downing Street, Westminster", "Manchester")
        ),
        id="subject-streetaddresses keeps commas inside quotes",
    ),
    pytest.param(
        {"cert-manager.io/subject-serialnumber": "1234"},
        lambda c: c.spec.subject == X509Subject(serial_number="1234"),
        id="subject-serialnumber becomes subject.serialNumber",
    ),
    pytest.param(
        {"cert-manager.io/duration": "720h"},
        lambda c: (
            c.spec.duration == 720 * H
            and c.spec.duration_set
            and c.raw["spec"]["duration"] == "720h0m0s"
        ),
        id="duration annotation becomes spec.duration",
    ),
    pytest.param(
        {"cert-manager.io/renew-before": "360h"},
        lambda c: c.spec.renew_before == 360 * H,
        id="renew-before becomes spec.renewBefore",
    ),
    pytest.param(
        {"cert-manager.io/renew-before-percentage": "25"},
        lambda c: c.spec.renew_before_percentage == 25,
        id="renew-before-percentage becomes spec.renewBeforePercentage",
    ),
    pytest.param(
        {"cert-manager.io/usages": "server auth, client auth"},
        lambda c: c.spec.usages == ("server auth", "client auth"),
        id="usages replace the default usages",
    ),
    pytest.param(
        {"cert-manager.io/revision-history-limit": "3"},
        lambda c: c.spec.revision_history_limit == 3,
        id="revision-history-limit becomes spec.revisionHistoryLimit",
    ),
    pytest.param(
        {"cert-manager.io/private-key-algorithm": "ECDSA"},
        lambda c: c.spec.private_key == PrivateKeySpec("ECDSA", 256, "PKCS1", "Always"),
        id="private-key-algorithm ECDSA defaults the size to 256",
    ),
    pytest.param(
        {
            "cert-manager.io/private-key-algorithm": "ECDSA",
            "cert-manager.io/private-key-size": "384",
        },
        lambda c: c.spec.private_key.size == 384,
        id="private-key-size is checked against the annotated algorithm",
    ),
    pytest.param(
        {"cert-manager.io/private-key-size": "4096"},
        lambda c: c.spec.private_key == PrivateKeySpec("RSA", 4096),
        id="private-key-size alone is an RSA size",
    ),
    pytest.param(
        {"cert-manager.io/private-key-encoding": "PKCS8"},
        lambda c: c.spec.private_key.encoding == "PKCS8",
        id="private-key-encoding becomes privateKey.encoding",
    ),
    pytest.param(
        {"cert-manager.io/private-key-rotation-policy": "Never"},
        lambda c: c.spec.private_key.rotation_policy == "Never",
        id="private-key-rotation-policy becomes privateKey.rotationPolicy",
    ),
    pytest.param(
        {
            "cert-manager.io/secret-template": (
                '{"labels": {"team": "web"}, "annotations": {"a": "b"}}'
            )
        },
        lambda c: c.spec.secret_template == SecretTemplate({"a": "b"}, {"team": "web"}),
        id="secret-template JSON becomes spec.secretTemplate",
    ),
    pytest.param(
        {"cert-manager.io/secret-template": "{}"},
        lambda c: c.spec.secret_template is None,
        id="an empty secret-template sets nothing",
    ),
    pytest.param(
        {"acme.cert-manager.io/http01-edit-in-place": "true"},
        lambda c: (
            c.metadata.annotations
            == {
                "acme.cert-manager.io/http01-override-ingress-name": "web",
                "cert-manager.io/issue-temporary-certificate": "true",
            }
        ),
        id="http01-edit-in-place names the Ingress and asks for a temporary certificate",
    ),
    pytest.param(
        {"acme.cert-manager.io/http01-edit-in-place": "True"},
        lambda c: c.metadata.annotations == {},
        id="http01-edit-in-place must be exactly true",
    ),
    pytest.param(
        {"acme.cert-manager.io/http01-ingress-class": "traefik"},
        lambda c: (
            c.metadata.annotations
            == {"acme.cert-manager.io/http01-override-ingress-class": "traefik"}
        ),
        id="http01-ingress-class becomes the override-ingress-class annotation",
    ),
    pytest.param(
        {"acme.cert-manager.io/http01-ingress-ingressclassname": "nginx"},
        lambda c: (
            c.metadata.annotations
            == {"acme.cert-manager.io/http01-override-ingress-ingressclassname": "nginx"}
        ),
        id="http01-ingress-ingressclassname becomes the override-ingressclassname annotation",
    ),
    pytest.param(
        {"cert-manager.io/uri-sans": "spiffe://example.com/web"},
        lambda c: c.spec.uris == (),
        id="uri-sans is not read by ingress-shim",
    ),
]


@pytest.mark.parametrize(("annotations", "check"), ANNOTATION_CASES)
def test_annotations_become_certificate_fields(
    annotations: dict[str, str], check: Callable[[Certificate], bool]
) -> None:
    certificate = only_certificate(
        derive(ingress(annotations={CLUSTER_ISSUER: "ca", **annotations}))
    )
    assert check(certificate), certificate


def test_extra_certificate_annotations_are_copied() -> None:
    annotations = {CLUSTER_ISSUER: "ca", "example.com/team": "web", "example.com/other": "x"}
    result = derive(
        ingress(annotations=annotations), extra_certificate_annotations=("example.com/team",)
    )
    assert only_certificate(result).metadata.annotations == {"example.com/team": "web"}


BAD_ANNOTATION_CASES = [
    pytest.param(
        "cert-manager.io/duration",
        "90d",
        'time: unknown unit "d" in duration "90d"',
        id="a duration in days is an invalid annotation",
    ),
    pytest.param(
        "cert-manager.io/duration",
        "30m",
        "certificate duration must be greater than 1h0m0s",
        id="a duration under an hour fails the webhook rule",
    ),
    pytest.param(
        "cert-manager.io/renew-before",
        "soon",
        'time: invalid duration "soon"',
        id="an unparsable renew-before is an invalid annotation",
    ),
    pytest.param(
        "cert-manager.io/renew-before",
        "1m",
        "certificate renewBefore must be greater than 5m0s",
        id="a renew-before under five minutes fails the webhook rule",
    ),
    pytest.param(
        "cert-manager.io/renew-before-percentage",
        "ten",
        'strconv.ParseInt: parsing "ten": invalid syntax',
        id="a renew-before-percentage that is not a number is invalid",
    ),
    pytest.param(
        "cert-manager.io/usages",
        "server auth,server-auth",
        'invalid key usage name "server-auth"',
        id="an unknown usage is an invalid annotation",
    ),
    pytest.param(
        "cert-manager.io/revision-history-limit",
        "0",
        'revision history limit must be a positive number "0"',
        id="a revision-history-limit of zero is invalid",
    ),
    pytest.param(
        "cert-manager.io/private-key-algorithm",
        "rsa",
        'invalid private key algorithm "rsa"',
        id="private-key-algorithm is case-sensitive",
    ),
    pytest.param(
        "cert-manager.io/private-key-encoding",
        "PEM",
        'invalid private key encoding "PEM"',
        id="an unknown private-key-encoding is invalid",
    ),
    pytest.param(
        "cert-manager.io/private-key-size",
        "1024",
        'invalid private key size for RSA algorithm "1024"',
        id="an RSA private-key-size under 2048 is invalid",
    ),
    pytest.param(
        "cert-manager.io/private-key-size",
        "big",
        'strconv.Atoi: parsing "big": invalid syntax',
        id="a private-key-size that is not a number is invalid",
    ),
    pytest.param(
        "cert-manager.io/private-key-rotation-policy",
        "Sometimes",
        'invalid private key rotation policy "Sometimes"',
        id="an unknown private-key-rotation-policy is invalid",
    ),
    pytest.param(
        "cert-manager.io/ip-sans",
        "10.0.0.1,not-an-ip",
        'invalid IP address "not-an-ip"',
        id="an ip-sans entry that is not an IP is invalid",
    ),
    pytest.param(
        "cert-manager.io/email-sans",
        "Web <web@example.com>",
        "make sure the supplied value only contains the email address itself",
        id="an email-sans entry with a display name fails the webhook rule",
    ),
    pytest.param(
        "cert-manager.io/common-name",
        "x" * 65,
        "Too long: may not be more than 64 bytes",
        id="a common-name over 64 bytes fails the webhook rule",
    ),
    pytest.param(
        "cert-manager.io/subject-organizations",
        'a"b',
        'bare " in non-quoted-field',
        id="a bare quote in a subject annotation is invalid CSV",
    ),
    pytest.param(
        "cert-manager.io/subject-countries",
        "",
        'no values found after parsing ""',
        id="an empty subject annotation is invalid CSV",
    ),
    pytest.param(
        "cert-manager.io/secret-template",
        '{"labels": {"a": "b"}, "extra": {}}',
        'json: unknown field "extra"',
        id="a secret-template with an unknown field is invalid",
    ),
    pytest.param(
        "cert-manager.io/secret-template",
        '{"annotations": {"cert-manager.io/x": "y"}}',
        "secretTemplate must not have cert-manager.io/ annotations",
        id="a secret-template with a cert-manager.io annotation is invalid",
    ),
    pytest.param(
        "cert-manager.io/issuer-kind",
        "AWSPCAClusterIssuer",
        "must be one of Issuer or ClusterIssuer",
        id="an external issuer-kind without issuer-group fails the webhook rule",
    ),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_ANNOTATION_CASES)
def test_bad_annotations_are_problems_naming_the_annotation(
    key: str, value: str, message: str
) -> None:
    annotations = {ISSUER: "ca", key: value}
    result = derive(ingress(annotations=annotations))
    assert not result.certificates
    assert result.problems, "expected a problem"
    problem = result.problems[0]
    assert problem.field == f"metadata.annotations[{key}]"
    assert message in problem.message
    assert problem.path == "ingress.yaml"
    assert problem.message.startswith('Ingress "default/web": ')


def test_annotations_are_not_read_when_no_tls_entry_is_usable() -> None:
    # cert-manager translates annotations per Certificate, so with none there is no error.
    result = derive(
        ingress(annotations={ISSUER: "ca", "cert-manager.io/duration": "90d"}, tls=[{"hosts": []}])
    )
    assert not result.problems and not result.certificates


@pytest.mark.parametrize(
    ("text", "values"),
    [
        pytest.param("a,b", ["a", "b"], id="plain values split on commas"),
        pytest.param("a, b", ["a", " b"], id="spaces are kept as Go's csv does"),
        pytest.param('"a,b",c', ["a,b", "c"], id="quoted values keep their commas"),
        pytest.param('"say ""hi"""', ['say "hi"'], id="doubled quotes escape a quote"),
        pytest.param("a,", ["a", ""], id="a trailing comma gives an empty value"),
        pytest.param("a\n", ["a"], id="a trailing newline is one record"),
    ],
)
def test_split_with_escape_csv(text: str, values: list[str]) -> None:
    assert split_with_escape_csv(text) == values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a\nb", "multiple lines of CSV", id="two lines are refused"),
        pytest.param('"open', 'extraneous or missing " in quoted-field', id="an open quote"),
        pytest.param('"a"b', 'extraneous or missing " in quoted-field', id="text after a quote"),
    ],
)
def test_split_with_escape_csv_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_with_escape_csv(text)


# --- Merging with the manifests' own Certificates ---


def test_merge_adds_the_derived_certificates() -> None:
    loaded = load_manifests(["-"], stdin=io.StringIO(yaml.safe_dump(certificate_document("api"))))
    merged = merge_with_shim(loaded, derive(ingress()))
    assert [c.key for c in merged.certificates] == ["default/api", "default/web-tls"]


def test_a_derived_certificate_that_is_also_in_the_manifests_is_an_error() -> None:
    document = certificate_document("web-tls")
    loaded = load_manifests(["-"], stdin=io.StringIO(yaml.safe_dump(document)))
    with pytest.raises(ManifestError) as caught:
        merge_with_shim(loaded, derive(ingress()))
    [problem] = caught.value.problems
    assert 'Certificate "default/web-tls" is derived by ingress-shim from Ingress' in str(problem)
    assert "also defined in -:1" in problem.message
    assert problem.path == "ingress.yaml"


def test_merge_refuses_shim_problems() -> None:
    result = derive(ingress(annotations={ISSUER: "a", CLUSTER_ISSUER: "b"}))
    with pytest.raises(ManifestError):
        merge_with_shim(ManifestSet(), result)


def test_manifests_for_apply_leave_out_owner_references_without_uid() -> None:
    result = derive(ingress("a"), ingress("b", uid="42"))
    documents, notes = manifests_for_apply(result.certificates)
    assert "ownerReferences" not in documents[0]["metadata"]
    assert documents[1]["metadata"]["ownerReferences"][0]["uid"] == "42"
    assert len(notes) == 1 and "default/a-tls" in notes[0]
    # The Certificates themselves are untouched.
    assert "ownerReferences" in result.certificates[0].raw["metadata"]


# --- Through the loader: lines, namespaces, other API versions ---

INGRESS_YAML = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    cert-manager.io/cluster-issuer: ca
    cert-manager.io/duration: 90d
spec:
  tls:
    - hosts: [web.example.com]
      secretName: web-tls
"""


def load(text: str, namespace: str = "default") -> ManifestSet:
    return load_manifests(["-"], default_namespace=namespace, stdin=io.StringIO(text))


def test_a_bad_annotation_names_the_ingress_file_line_and_annotation() -> None:
    result = derive_certificates(load(INGRESS_YAML).ingresses)
    [problem] = result.problems
    assert str(problem).startswith(
        "-:7: metadata.annotations[cert-manager.io/duration]: "
        'Ingress "default/web": invalid ingress annotation "cert-manager.io/duration": '
        'time: unknown unit "d" in duration "90d"'
    )


def test_derived_certificates_point_at_their_tls_entry() -> None:
    text = INGRESS_YAML.replace("90d", "2160h")
    certificate = only_certificate(derive_certificates(load(text, "shop").ingresses))
    assert certificate.source == Source("-", 10)
    assert certificate.key == "shop/web-tls"


def test_v1_ingresses_are_kept_and_still_listed_as_ignored() -> None:
    loaded = load(INGRESS_YAML)
    assert [(i.key, i.source.line) for i in loaded.ingresses] == [("default/web", 1)]
    assert [(d.kind, d.name) for d in loaded.ignored] == [("Ingress", "web")]
    assert loaded.ingresses[0].line_of(("spec", "tls", 0, "secretName")) == 11


def test_ingresses_of_other_api_versions_are_only_ignored() -> None:
    loaded = load(INGRESS_YAML.replace("networking.k8s.io/v1", "extensions/v1beta1"))
    assert loaded.ingresses == ()
    assert [(d.api_version, d.kind) for d in loaded.ignored] == [("extensions/v1beta1", "Ingress")]


@pytest.mark.parametrize(
    ("tls", "field"),
    [
        pytest.param("tls: {hosts: [a]}", "spec.tls", id="tls must be a list"),
        pytest.param(
            "tls: [{hosts: a.example.com}]", "spec.tls[0].hosts", id="hosts must be a list"
        ),
        pytest.param("tls: [{hosts: [1]}]", "spec.tls[0].hosts[0]", id="hosts must be strings"),
        pytest.param(
            "tls: [{secretName: [a]}]", "spec.tls[0].secretName", id="secretName must be a string"
        ),
        pytest.param(
            "tls: [{secretname: a}]", "spec.tls[0].secretname", id="a misspelt tls field is unknown"
        ),
    ],
)
def test_ingress_tls_is_checked_structurally(tls: str, field: str) -> None:
    text = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n"
    text += f"  {tls}\n"
    with pytest.raises(ManifestError) as caught:
        load(text)
    assert [problem.field for problem in caught.value.problems] == [field]


def test_other_ingress_fields_are_not_checked() -> None:
    text = (
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n"
        "spec: {ingressClassName: nginx, rules: whatever, anything: 1}\nstatus: {x: 1}\n"
    )
    assert load(text).ingresses[0].spec["ingressClassName"] == "nginx"


def test_an_ingress_defined_twice_is_an_error() -> None:
    with pytest.raises(ManifestError, match="defined more than once"):
        load(INGRESS_YAML + "---\n" + INGRESS_YAML)
