"""Certificate defaulting and the webhook rules (reference §1.2-1.4)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from certctl.api.models import DEFAULT_USAGES
from tests.unit.api.builders import DELETE, certificate, dump, load_documents, problems_of

# --- Defaults ---


def load_spec(**spec: Any) -> Any:
    return load_documents(certificate(**spec)).certificates[0].spec


def test_an_empty_spec_gets_cert_managers_defaults() -> None:
    spec = load_spec()
    assert spec.duration == dt.timedelta(hours=2160)
    assert spec.duration_set is False
    assert spec.renew_before is None
    assert spec.usages == DEFAULT_USAGES
    assert spec.private_key.algorithm == "RSA"
    assert spec.private_key.size == 2048
    assert spec.private_key.encoding == "PKCS1"
    assert spec.private_key.rotation_policy == "Always"
    assert spec.encode_usages_in_request is True
    assert spec.is_ca is False
    assert spec.revision_history_limit is None


DEFAULT_CASES = [
    pytest.param(
        {"privateKey": {"algorithm": "ECDSA"}},
        "private_key.size",
        256,
        id="ecdsa defaults to p-256",
    ),
    pytest.param(
        {"privateKey": {"size": 0}}, "private_key.size", 2048, id="rsa size zero means 2048"
    ),
    pytest.param(
        {"privateKey": {"algorithm": "RSA", "size": 3072}},
        "private_key.size",
        3072,
        id="any rsa size between 2048 and 8192 is kept",
    ),
    pytest.param(
        {"privateKey": {"algorithm": "Ed25519", "size": 4096}},
        "private_key.size",
        0,
        id="ed25519 ignores the size",
    ),
    pytest.param(
        {"privateKey": {"algorithm": "Ed25519"}},
        "private_key.encoding",
        "PKCS8",
        id="ed25519 keys are always pkcs8",
    ),
    pytest.param(
        {"privateKey": {"encoding": "PKCS8"}},
        "private_key.encoding",
        "PKCS8",
        id="pkcs8 encoding is kept",
    ),
    pytest.param(
        {"privateKey": {"rotationPolicy": "Never"}},
        "private_key.rotation_policy",
        "Never",
        id="rotation policy never is kept",
    ),
    pytest.param(
        {"privateKey": {}},
        "private_key.rotation_policy",
        "Always",
        id="rotation policy defaults to always",
    ),
    pytest.param(
        {"usages": ["server auth"]},
        "usages",
        ("server auth",),
        id="explicit usages are not merged with the defaults",
    ),
    pytest.param(
        {"usages": []},
        "usages",
        DEFAULT_USAGES,
        id="an empty usages list means the defaults as in go",
    ),
    pytest.param(
        {"duration": "2160h"}, "duration_set", True, id="a written duration is marked as set"
    ),
    pytest.param(
        {"duration": "720h"}, "duration", dt.timedelta(hours=720), id="duration is parsed"
    ),
    pytest.param(
        {"renewBefore": "360h"},
        "renew_before",
        dt.timedelta(hours=360),
        id="renew before is parsed",
    ),
    pytest.param(
        {"renewBeforePercentage": 30},
        "renew_before_percentage",
        30,
        id="renew before percentage is kept",
    ),
    pytest.param(
        {"encodeUsagesInRequest": False},
        "encode_usages_in_request",
        False,
        id="encode usages in request can be turned off",
    ),
    pytest.param(
        {"keystores": {"jks": {"create": True, "password": "x"}}},
        "keystores.jks.alias",
        "certificate",
        id="jks alias defaults to certificate",
    ),
    pytest.param(
        {"keystores": {"pkcs12": {"create": True, "password": "x"}}},
        "keystores.pkcs12.profile",
        "LegacyRC2",
        id="pkcs12 profile defaults to legacy rc2",
    ),
    pytest.param(
        {"keystores": {"pkcs12": {"create": True, "passwordSecretRef": {"name": "p", "key": "k"}}}},
        "keystores.pkcs12.password_secret_ref.key",
        "k",
        id="keystore password secret refs are kept",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"cron": "0 2 * * *", "windowDuration": "2h"}],
            }
        },
        "renewal.windows",
        None,
        id="renewal windows default to utc",
    ),
    pytest.param(
        {"isCA": True}, "usages", DEFAULT_USAGES, id="is ca does not add cert sign in the model"
    ),
    pytest.param(
        {"issuerRef": {"name": "ca", "kind": DELETE}},
        "issuer_ref.effective_kind",
        "Issuer",
        id="issuer ref kind defaults to issuer",
    ),
    pytest.param(
        {"otherNames": [{"oid": "1.3.6.1.4.1.311.20.2.3", "utf8Value": "u@example.com"}]},
        "other_names",
        None,
        id="other names are kept",
    ),
]


def _attribute(value: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("spec", "attribute", "expected"), DEFAULT_CASES)
def test_defaults(spec: dict[str, Any], attribute: str, expected: Any) -> None:
    loaded = load_spec(**spec)
    value = _attribute(loaded, attribute)
    if attribute == "renewal.windows":
        assert value[0].timezone == "UTC"
        assert value[0].window_duration == dt.timedelta(hours=2)
    elif attribute == "other_names":
        assert value[0].oid == "1.3.6.1.4.1.311.20.2.3"
    else:
        assert value == expected


def test_raw_document_is_kept_without_defaults() -> None:
    loaded = load_documents(certificate()).certificates[0]
    assert "duration" not in loaded.raw["spec"]
    assert loaded.raw["metadata"]["name"] == "web"


# --- Rules: each case is a spec patch, the field it names, and part of the message ---

VALID_SPECS = [
    pytest.param({"secretName": "a.b-c"}, id="secret name may contain dots and dashes"),
    pytest.param(
        {"dnsNames": DELETE, "commonName": "example.com"}, id="a common name alone is enough"
    ),
    pytest.param(
        {"dnsNames": DELETE, "literalSubject": "CN=foo,O=Example,DC=example,DC=com"},
        id="a cn in the literal subject is enough",
    ),
    pytest.param(
        {"literalSubject": "O=Example+OU=Web,1.2.3.4=x"},
        id="literal subject accepts multi valued rdns and oids",
    ),
    pytest.param({"literalSubject": "CN=a\\,b"}, id="literal subject accepts escaped commas"),
    pytest.param(
        {"dnsNames": DELETE, "ipAddresses": ["10.0.0.1", "2001:db8::1"]},
        id="ip addresses alone are enough",
    ),
    pytest.param(
        {"dnsNames": DELETE, "uris": ["spiffe://example.com/web"]}, id="uris alone are enough"
    ),
    pytest.param(
        {"dnsNames": DELETE, "emailAddresses": ["a.b+c@example.com"]},
        id="email addresses alone are enough",
    ),
    pytest.param(
        {"dnsNames": ["*.example.com"]}, id="wildcard dns names are not the webhook's business"
    ),
    pytest.param({"duration": "1h"}, id="a duration of exactly one hour is allowed"),
    pytest.param(
        {"duration": "24h", "renewBefore": "5m"},
        id="renew before of exactly five minutes is allowed",
    ),
    pytest.param(
        {"renewBeforePercentage": 150},
        id="percentage alone skips the duration check as in cert-manager",
    ),
    pytest.param({"renewBeforePercentage": 0}, id="percentage zero alone is accepted"),
    pytest.param(
        {"duration": "1h", "renewBeforePercentage": 1},
        id="percentage one with one hour passes the quirky check",
    ),
    pytest.param({"privateKey": {"algorithm": "ECDSA", "size": 521}}, id="ecdsa p-521 is allowed"),
    pytest.param(
        {"privateKey": {"algorithm": "ECDSA"}, "signatureAlgorithm": "ECDSAWithSHA384"},
        id="ecdsa with an ecdsa signature",
    ),
    pytest.param(
        {"signatureAlgorithm": "SHA512WithRSA"}, id="rsa is the default key for the signature check"
    ),
    pytest.param(
        {"usages": ["signing", "s/mime", "ocsp signing", "netscape sgc"]},
        id="every usage alias is known",
    ),
    pytest.param(
        {"secretTemplate": {"annotations": {"cert-manager.io/allow-direct-injection": "true"}}},
        id="the direct injection annotation is allowed",
    ),
    pytest.param(
        {"secretTemplate": {"labels": {"app.kubernetes.io/name": "web"}}},
        id="prefixed label keys are allowed",
    ),
    pytest.param(
        {"isCA": True, "nameConstraints": {"permitted": {"ipRanges": ["10.0.0.0/8"]}}},
        id="name constraints on a ca",
    ),
    pytest.param({"renewal": {"policy": "Disabled"}}, id="renewal disabled without windows"),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [
                    {"cron": "@daily", "windowDuration": "1.5h", "timezone": "Europe/Berlin"}
                ],
            }
        },
        id="cron descriptors and iana zones",
    ),
    pytest.param(
        {"additionalOutputFormats": [{"type": "DER"}, {"type": "CombinedPEM"}]},
        id="both output formats once",
    ),
    pytest.param({"revisionHistoryLimit": 1}, id="revision history limit of one"),
    pytest.param(
        {
            "issuerRef": {
                "name": "x",
                "kind": "AWSPCAClusterIssuer",
                "group": "awspca.cert-manager.io",
            }
        },
        id="external issuer kinds are not checked",
    ),
    pytest.param({"commonName": None}, id="a null field counts as unset"),
]


@pytest.mark.parametrize("spec", VALID_SPECS)
def test_valid_certificates_load(spec: dict[str, Any]) -> None:
    assert len(load_documents(certificate(**spec)).certificates) == 1


INVALID_SPECS = [
    pytest.param(
        {"secretName": DELETE}, "spec.secretName", "Required value", id="secret name is required"
    ),
    pytest.param(
        {"secretName": "../../etc"},
        "spec.secretName",
        "RFC 1123 subdomain",
        id="a path traversal secret name is not a dns subdomain",
    ),
    pytest.param(
        {"secretName": "Web_TLS"},
        "spec.secretName",
        "RFC 1123 subdomain",
        id="upper case secret names are rejected",
    ),
    pytest.param(
        {"issuerRef": DELETE}, "spec.issuerRef", "Required value", id="issuer ref is required"
    ),
    pytest.param(
        {"issuerRef": {"name": ""}},
        "spec.issuerRef.name",
        "Required value",
        id="issuer ref name is required",
    ),
    pytest.param(
        {"issuerRef": {"kind": "AWSPCAClusterIssuer"}},
        "spec.issuerRef.kind",
        "did you forget to set spec.issuerRef.group?",
        id="an external kind without group hints at the group",
    ),
    pytest.param(
        {"issuerRef": {"kind": "Foo", "group": "cert-manager.io"}},
        "spec.issuerRef.kind",
        "must be one of Issuer or ClusterIssuer",
        id="an unknown kind in the cert-manager group",
    ),
    pytest.param(
        {"dnsNames": DELETE},
        "spec",
        "at least one of commonName (from the commonName field or from a literalSubject), "
        "dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set",
        id="a certificate without any name is rejected",
    ),
    pytest.param(
        {"commonName": "a" * 65},
        "spec.commonName",
        "may not be more than 64",
        id="common name longer than 64 characters",
    ),
    pytest.param(
        {"literalSubject": "CN=" + "a" * 65},
        "spec.literalSubject",
        "may not be more than 64",
        id="literal subject cn longer than 64 characters",
    ),
    pytest.param(
        {"literalSubject": "CN=foo", "commonName": "foo"},
        "spec.commonName",
        "no `commonName` may be provided",
        id="literal subject excludes common name",
    ),
    pytest.param(
        {"literalSubject": "CN=foo", "subject": {"organizations": ["x"]}},
        "spec.subject",
        "no `Subject` properties",
        id="literal subject excludes subject fields",
    ),
    pytest.param(
        {"literalSubject": "CN=foo,FOO=bar"},
        "spec.literalSubject",
        "unrecognized key",
        id="literal subject with an unknown attribute key",
    ),
    pytest.param(
        {"literalSubject": "CN=foo,garbage"},
        "spec.literalSubject",
        "incomplete type, value pair",
        id="literal subject that does not parse",
    ),
    pytest.param(
        {"literalSubject": "CN=#0403666f6f"},
        "spec.literalSubject",
        "=#",
        id="literal subject hex values are unsupported",
    ),
    pytest.param(
        {"ipAddresses": ["10.0.0.1", "10.0.0.300"]},
        "spec.ipAddresses[1]",
        "invalid IP address",
        id="an ip address that does not parse",
    ),
    pytest.param(
        {"ipAddresses": ["fe80::1%eth0"]},
        "spec.ipAddresses[0]",
        "invalid IP address",
        id="an ipv6 zone is not an ip address",
    ),
    pytest.param(
        {"emailAddresses": ["Alice <alice@example.com>"]},
        "spec.emailAddresses[0]",
        "only contains the email address itself",
        id="email with display name is rejected",
    ),
    pytest.param(
        {"emailAddresses": ["alice"]},
        "spec.emailAddresses[0]",
        "invalid email address",
        id="email without at sign is rejected",
    ),
    pytest.param(
        {"otherNames": [{"oid": "1.2.x", "utf8Value": "v"}]},
        "spec.otherNames[0].oid",
        "invalid oid syntax",
        id="other name oid must be dotted decimal",
    ),
    pytest.param(
        {"otherNames": [{"oid": "1.2.3", "utf8Value": ""}]},
        "spec.otherNames[0].utf8Value",
        "valid non-empty UTF8",
        id="other name value must not be empty",
    ),
    pytest.param(
        {"otherNames": [{"utf8Value": "v"}]},
        "spec.otherNames[0].oid",
        "Required value",
        id="other name oid is required",
    ),
    pytest.param(
        {"duration": "30m"},
        "spec.duration",
        "certificate duration must be greater than 1h0m0s",
        id="duration below one hour",
    ),
    pytest.param(
        {"duration": "90d"},
        "spec.duration",
        'unknown unit "d"',
        id="duration written in days is rejected",
    ),
    pytest.param(
        {"duration": 3600},
        "spec.duration",
        'expected a duration string like "2160h", got integer',
        id="duration written as a number is rejected",
    ),
    pytest.param(
        {"duration": "-2h"},
        "spec.duration",
        "must not be negative",
        id="negative duration is rejected",
    ),
    pytest.param(
        {"renewBefore": "4m"},
        "spec.renewBefore",
        "certificate renewBefore must be greater than 5m0s",
        id="renew before below five minutes",
    ),
    pytest.param(
        {"renewBefore": "2160h"},
        "spec.renewBefore",
        "certificate duration 2160h0m0s must be greater than renewBefore 2160h0m0s",
        id="renew before equal to the defaulted duration",
    ),
    pytest.param(
        {"duration": "24h", "renewBefore": "48h"},
        "spec.renewBefore",
        "must be greater than renewBefore",
        id="renew before longer than duration",
    ),
    pytest.param(
        {"renewBefore": "1h", "renewBeforePercentage": 10},
        "spec.renewBeforePercentage",
        "mutually exclusive",
        id="renew before and percentage are exclusive",
    ),
    pytest.param(
        {"duration": "1h", "renewBeforePercentage": 95},
        "spec.renewBeforePercentage",
        "renewBefore greater than 5m0s",
        id="percentage leaving less than five minutes",
    ),
    pytest.param(
        {"duration": "24h", "renewBeforePercentage": 0},
        "spec.renewBeforePercentage",
        "renewBefore less than duration",
        id="percentage zero with a duration",
    ),
    pytest.param(
        {"renewBeforePercentage": "30"},
        "spec.renewBeforePercentage",
        "expected integer, got string",
        id="percentage written as a string",
    ),
    pytest.param(
        {"renewal": {"windows": []}},
        "spec.renewal.policy",
        "Required value",
        id="renewal needs a policy",
    ),
    pytest.param(
        {"renewal": {"policy": "Sometimes"}},
        "spec.renewal.policy",
        "Unsupported value",
        id="renewal policy outside the enum",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "Disabled",
                "windows": [{"cron": "0 2 * * *", "windowDuration": "1h"}],
            }
        },
        "spec.renewal.windows",
        "windows cannot be set",
        id="disabled renewal forbids windows",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"cron": "0 2 * *", "windowDuration": "1h"}],
            }
        },
        "spec.renewal.windows[0].cron",
        "invalid cron syntax",
        id="cron with four fields",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"cron": "61 * * * *", "windowDuration": "1h"}],
            }
        },
        "spec.renewal.windows[0].cron",
        "out of range",
        id="cron minute out of range",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [{"cron": "0 2 * * *", "windowDuration": "1d"}],
            }
        },
        "spec.renewal.windows[0].windowDuration",
        "should match",
        id="window duration in days",
    ),
    pytest.param(
        {"renewal": {"policy": "RenewBefore", "windows": [{"cron": "0 2 * * *"}]}},
        "spec.renewal.windows[0].windowDuration",
        "windowDuration must be specified",
        id="window duration is required",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [
                    {"cron": "0 2 * * *", "windowDuration": "1h", "timezone": "Mars/Olympus"}
                ],
            }
        },
        "spec.renewal.windows[0].timezone",
        "IANA",
        id="unknown time zone",
    ),
    pytest.param(
        {
            "renewal": {
                "policy": "RenewBefore",
                "windows": [
                    {"cron": "0 2 * * *", "windowDuration": "1h", "timezone": "../../etc/passwd"}
                ],
            }
        },
        "spec.renewal.windows[0].timezone",
        "IANA",
        id="a time zone path traversal",
    ),
    pytest.param(
        {"secretTemplate": {"annotations": {"cert-manager.io/issuer-name": "x"}}},
        "spec.secretTemplate.annotations.cert-manager.io/issuer-name",
        "cert-manager.io/* annotations are not allowed",
        id="cert-manager annotations in the secret template",
    ),
    pytest.param(
        {"secretTemplate": {"labels": {"bad key!": "x"}}},
        "spec.secretTemplate.labels.bad key!",
        "name part must consist",
        id="an invalid label key",
    ),
    pytest.param(
        {"secretTemplate": {"labels": {"app": "x" * 64}}},
        "spec.secretTemplate.labels.app",
        "no more than 63",
        id="a label value that is too long",
    ),
    pytest.param(
        {"secretTemplate": {"labels": {"replicas": 3}}},
        "spec.secretTemplate.labels.replicas",
        "expected string, got integer",
        id="a label value that is a number",
    ),
    pytest.param(
        {"keystores": {"jks": {"password": "x"}}},
        "spec.keystores.jks.create",
        "Required value",
        id="keystore create is required",
    ),
    pytest.param(
        {"keystores": {"jks": {"create": True}}},
        "spec.keystores.jks",
        "must set exactly one of passwordSecretRef and password",
        id="keystore without any password",
    ),
    pytest.param(
        {
            "keystores": {
                "pkcs12": {
                    "create": True,
                    "password": "x",
                    "passwordSecretRef": {"name": "p", "key": "k"},
                }
            }
        },
        "spec.keystores.pkcs12",
        "cannot set both",
        id="keystore with both passwords",
    ),
    pytest.param(
        {"keystores": {"jks": {"create": True, "password": ""}}},
        "spec.keystores.jks.password",
        "literal password cannot be empty",
        id="keystore literal password empty",
    ),
    pytest.param(
        {"keystores": {"pkcs12": {"create": True, "password": "x", "profile": "modern2023"}}},
        "spec.keystores.pkcs12.profile",
        "did you mean 'Modern2023'?",
        id="pkcs12 profile outside the enum",
    ),
    pytest.param(
        {"usages": ["server auth", "sever auth"]},
        "spec.usages[1]",
        "unknown keyusage (did you mean 'server auth'?)",
        id="a misspelt usage",
    ),
    pytest.param(
        {"usages": "server auth"},
        "spec.usages",
        "expected list of string, got string",
        id="usages written as a string",
    ),
    pytest.param(
        {"privateKey": {"algorithm": "rsa"}},
        "spec.privateKey.algorithm",
        "did you mean 'RSA'?",
        id="key algorithm is case sensitive",
    ),
    pytest.param(
        {"privateKey": {"size": 1024}},
        "spec.privateKey.size",
        "must be between 2048 and 8192",
        id="rsa 1024 is too small",
    ),
    pytest.param(
        {"privateKey": {"size": 16384}},
        "spec.privateKey.size",
        "must be between 2048 and 8192",
        id="rsa 16384 is too large",
    ),
    pytest.param(
        {"privateKey": {"algorithm": "ECDSA", "size": 2048}},
        "spec.privateKey.size",
        'supported values: "256", "384", "521"',
        id="ecdsa with an rsa size",
    ),
    pytest.param(
        {"privateKey": {"size": "2048"}},
        "spec.privateKey.size",
        "expected integer, got string",
        id="key size written as a string",
    ),
    pytest.param(
        {"privateKey": {"encoding": "PEM"}},
        "spec.privateKey.encoding",
        "Unsupported value",
        id="key encoding outside the enum",
    ),
    pytest.param(
        {"privateKey": {"rotationPolicy": "Sometimes"}},
        "spec.privateKey.rotationPolicy",
        "Unsupported value",
        id="rotation policy outside the enum",
    ),
    pytest.param(
        {"signatureAlgorithm": "ECDSAWithSHA256"},
        "spec.signatureAlgorithm",
        "for key algorithm RSA the allowed signature algorithms are",
        id="signature family must match the default rsa key",
    ),
    pytest.param(
        {"privateKey": {"algorithm": "Ed25519"}, "signatureAlgorithm": "SHA256WithRSA"},
        "spec.signatureAlgorithm",
        "PureEd25519",
        id="ed25519 needs pure ed25519",
    ),
    pytest.param(
        {"signatureAlgorithm": "MD5WithRSA"},
        "spec.signatureAlgorithm",
        "Unsupported value",
        id="unknown signature algorithm",
    ),
    pytest.param(
        {"isCA": "true"},
        "spec.isCA",
        "expected boolean, got string",
        id="is ca written as a string",
    ),
    pytest.param(
        {"revisionHistoryLimit": 0},
        "spec.revisionHistoryLimit",
        "must not be less than 1",
        id="revision history limit zero",
    ),
    pytest.param(
        {"additionalOutputFormats": [{"type": "DER"}, {"type": "DER"}]},
        "spec.additionalOutputFormats[1].type",
        'Duplicate value: "DER"',
        id="output formats must be unique",
    ),
    pytest.param(
        {"additionalOutputFormats": [{"type": "PEM"}]},
        "spec.additionalOutputFormats[0].type",
        "Unsupported value",
        id="output format outside the enum",
    ),
    pytest.param(
        {"nameConstraints": {"permitted": {"dnsDomains": ["example.com"]}}},
        "spec.nameConstraints",
        "isCa should be true",
        id="name constraints need is ca",
    ),
    pytest.param(
        {"isCA": True, "nameConstraints": {"critical": True}},
        "spec.nameConstraints",
        "either permitted or excluded must be set",
        id="name constraints need permitted or excluded",
    ),
    pytest.param(
        {"isCA": True, "nameConstraints": {"excluded": {"ipRanges": ["10.0.0.1"]}}},
        "spec.nameConstraints.excluded.ipRanges[0]",
        "must be a CIDR",
        id="name constraint ip ranges must be cidrs",
    ),
    pytest.param(
        {"dnsName": ["a.example.com"]},
        "spec.dnsName",
        "unknown field \"dnsName\" (did you mean 'dnsNames'?)",
        id="a misspelt field suggests the right one",
    ),
    pytest.param(
        {"secretname": "x"},
        "spec.secretname",
        "did you mean 'secretName'?",
        id="a wrongly cased field suggests the right one",
    ),
    pytest.param(
        {"frobnicate": True},
        "spec.frobnicate",
        'unknown field "frobnicate"',
        id="an unknown field with nothing close",
    ),
    pytest.param(
        {"dnsNames": "a.example.com"},
        "spec.dnsNames",
        "expected list of string, got string",
        id="dns names written as a string",
    ),
    pytest.param(
        {"dnsNames": [None]},
        "spec.dnsNames[0]",
        "expected string, got null",
        id="an empty list item",
    ),
    pytest.param(
        {"subject": ["x"]},
        "spec.subject",
        "expected mapping, got list",
        id="subject written as a list",
    ),
]


@pytest.mark.parametrize(("spec", "field", "message"), INVALID_SPECS)
def test_invalid_certificates_are_rejected(spec: dict[str, Any], field: str, message: str) -> None:
    found = problems_of(dump(certificate(**spec)))
    assert any(f": {field}: " in p and message in p for p in found), found


METADATA_CASES = [
    pytest.param(
        {"name": "web/../x"},
        "metadata.name",
        "RFC 1123 subdomain",
        id="a name with slashes is rejected",
    ),
    pytest.param(
        {"name": "Web"}, "metadata.name", "RFC 1123 subdomain", id="an upper case name is rejected"
    ),
    pytest.param({"name": DELETE}, "metadata.name", "Required value", id="a name is required"),
    pytest.param(
        {"namespace": "a.b"},
        "metadata.namespace",
        "RFC 1123 label",
        id="a namespace must be a dns label",
    ),
    pytest.param(
        {"labels": {"a": ["b"]}},
        "metadata.labels.a",
        "expected string, got list",
        id="label values must be strings",
    ),
    pytest.param(
        {"annotations": {"a//b": "x"}},
        "metadata.annotations.a//b",
        "Invalid value",
        id="annotation keys are qualified names",
    ),
    pytest.param(
        {"lables": {}}, "metadata.lables", "did you mean 'labels'?", id="a misspelt metadata field"
    ),
]


@pytest.mark.parametrize(("metadata", "field", "message"), METADATA_CASES)
def test_invalid_metadata_is_rejected(metadata: dict[str, Any], field: str, message: str) -> None:
    document = certificate()
    for key, value in metadata.items():
        if value is DELETE:
            document["metadata"].pop(key)
        else:
            document["metadata"][key] = value
    found = problems_of(dump(document))
    assert any(f": {field}: " in p and message in p for p in found), found


def test_kubectl_metadata_and_status_are_allowed() -> None:
    document = certificate()
    document["metadata"].update(
        uid="0d6f",
        resourceVersion="123",
        generation=4,
        creationTimestamp=None,
        managedFields=[{"manager": "kubectl"}],
        ownerReferences=[],
        finalizers=["x"],
        generateName="web-",
    )
    document["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    assert load_documents(document).certificates[0].name == "web"


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    found = problems_of(dump(certificate(secretName="BAD", duration="90d", usages=["nope"])))
    assert len(found) == 3
