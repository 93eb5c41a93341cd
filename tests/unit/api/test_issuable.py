"""What ``validate`` accepts, ``issue`` can issue: the rest is refused up front, with a message.

cert-manager's webhook lets some values through that Go's x509 (or the API
server) then refuses: a Secret name no Secret can have, a DNS name that is not
ASCII, a subject attribute cryptography cannot encode. certctl rejects them while
loading, so a run never stops half way (exit 2, nothing written).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certctl.errors import ManifestError
from certctl.pki.csr import build_csr
from tests.unit.api.builders import (
    DELETE,
    acme,
    certificate,
    dump,
    issuer,
    load_documents,
    load_text,
    solver,
)

SUBDOMAIN = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"


def problems_text(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as caught:
        load_text(text)
    return [(problem.field, problem.message) for problem in caught.value.problems]


def problems(*documents: Any) -> list[tuple[str, str]]:
    return problems_text(dump(*documents))


# --- Secret names: every reference to a Secret must be a name a Secret can have ---

BAD_SECRET_REFERENCES = [
    pytest.param(issuer({"ca": {"secretName": "Root_CA"}}), "spec.ca.secretName", id="a ca secret"),
    pytest.param(
        issuer(acme(privateKeySecretRef={"name": "Account Key"})),
        "spec.acme.privateKeySecretRef.name",
        id="an acme account key secret",
    ),
    pytest.param(
        issuer(
            solver(
                dns01={
                    "rfc2136": {
                        "nameserver": "192.0.2.1",
                        "tsigKeyName": "k",
                        "tsigSecretSecretRef": {"name": "tsig/../../etc", "key": "k"},
                    }
                }
            )
        ),
        "spec.acme.solvers[0].dns01.rfc2136.tsigSecretSecretRef.name",
        id="a tsig secret",
    ),
    pytest.param(
        issuer({"venafi": {"zone": "z", "cloud": {"apiTokenSecretRef": {"name": "Token"}}}}),
        "spec.venafi.cloud.apiTokenSecretRef.name",
        id="a venafi token secret",
    ),
    pytest.param(
        certificate(keystores={"jks": {"create": True, "passwordSecretRef": {"name": "JKS_pw"}}}),
        "spec.keystores.jks.passwordSecretRef.name",
        id="a jks password secret",
    ),
    pytest.param(
        certificate(
            keystores={
                "pkcs12": {"create": True, "passwordSecretRef": {"name": "p12.", "key": "k"}}
            }
        ),
        "spec.keystores.pkcs12.passwordSecretRef.name",
        id="a pkcs12 password secret",
    ),
]


@pytest.mark.parametrize(("document", "field"), BAD_SECRET_REFERENCES)
def test_a_reference_to_an_impossible_secret_name_is_rejected(
    document: dict[str, Any], field: str
) -> None:
    found = problems(document)

    assert [f for f, _ in found] == [field]
    assert SUBDOMAIN in found[0][1]


# --- Names in the certificate: SAN values are IA5Strings, so ASCII ---

NON_ASCII_NAMES = [
    pytest.param(
        {"dnsNames": ["bücher.example"]},
        "spec.dnsNames[0]",
        'Invalid value: "bücher.example": must be ASCII: write an internationalised name in '
        'its A-label (punycode) form, "xn--bcher-kva.example"',
        id="an idn dns name is told its a label",
    ),
    pytest.param(
        {"dnsNames": ["*.BÜCHER.example"]},
        "spec.dnsNames[0]",
        'Invalid value: "*.BÜCHER.example": must be ASCII: write an internationalised name in '
        'its A-label (punycode) form, "*.xn--bcher-kva.example"',
        id="an upper case idn wildcard is told its lower case a label",
    ),
    pytest.param(
        {"dnsNames": ["\ufeffwww.example.com"]},
        "spec.dnsNames[0]",
        'Invalid value: "\\ufeffwww.example.com": contains the invisible character U+FEFF '
        "(ZERO WIDTH NO-BREAK SPACE, a byte-order mark) at position 1; remove it",
        id="a byte order mark in a dns name is named",
    ),
    pytest.param(
        {"dnsNames": ["www\u2028.example.com"]},
        "spec.dnsNames[0]",
        'Invalid value: "www\\u2028.example.com": contains the invisible character U+2028 '
        "(LINE SEPARATOR) at position 4; remove it",
        id="a line separator in a dns name is named",
    ),
    pytest.param(
        {"dnsNames": ["bü..example"]},
        "spec.dnsNames[0]",
        'Invalid value: "bü..example": must be ASCII, and this is not a valid '
        "internationalised domain name (IDNA)",
        id="a non ascii name that is no idn is refused",
    ),
    pytest.param(
        {"dnsNames": DELETE, "emailAddresses": ["ops@bücher.example"]},
        "spec.emailAddresses[0]",
        'Invalid value: "ops@bücher.example": must be ASCII: write the internationalised '
        'domain in its A-label (punycode) form, "ops@xn--bcher-kva.example"',
        id="an email address at an idn domain is told its a label",
    ),
    pytest.param(
        {"dnsNames": DELETE, "emailAddresses": ["josé@example.com"]},
        "spec.emailAddresses[0]",
        'Invalid value: "josé@example.com": must be ASCII: a certificate\'s email address '
        "(rfc822Name) cannot hold a non-ASCII local part",
        id="a non ascii local part cannot be encoded",
    ),
    pytest.param(
        {"dnsNames": DELETE, "uris": ["spiffe://bücher.example/web"]},
        "spec.uris[0]",
        'Invalid value: "spiffe://bücher.example/web": must be ASCII: write the '
        "internationalised host in its A-label (punycode) form, "
        '"spiffe://xn--bcher-kva.example/web"',
        id="a uri with an idn host is told its a label",
    ),
    pytest.param(
        {"dnsNames": DELETE, "uris": ["https://example.com/café"]},
        "spec.uris[0]",
        'Invalid value: "https://example.com/café": must be ASCII: percent-encode other '
        "characters (RFC 3986)",
        id="a uri with a non ascii path must be percent encoded",
    ),
    pytest.param(
        {"isCA": True, "nameConstraints": {"permitted": {"dnsDomains": ["bücher.example"]}}},
        "spec.nameConstraints.permitted.dnsDomains[0]",
        'Invalid value: "bücher.example": must be ASCII: write an internationalised name in '
        'its A-label (punycode) form, "xn--bcher-kva.example"',
        id="a name constraint on an idn domain is told its a label",
    ),
    pytest.param(
        {"isCA": True, "nameConstraints": {"excluded": {"emailAddresses": [".bücher.example"]}}},
        "spec.nameConstraints.excluded.emailAddresses[0]",
        'Invalid value: ".bücher.example": must be ASCII: write the internationalised domain '
        'in its A-label (punycode) form, ".xn--bcher-kva.example"',
        id="an email name constraint on an idn domain is told its a label",
    ),
]


@pytest.mark.parametrize(("spec", "field", "message"), NON_ASCII_NAMES)
def test_a_name_a_certificate_cannot_hold_is_rejected(
    spec: dict[str, Any], field: str, message: str
) -> None:
    assert problems(certificate(**spec)) == [(field, message)]


def test_the_suggested_a_label_issues() -> None:
    """Following the message works: the A-label form loads and makes a CSR."""
    spec = load_documents(certificate(dnsNames=["*.xn--bcher-kva.example"])).certificates[0].spec

    csr = build_csr(spec, ec.generate_private_key(ec.SECP256R1()))

    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["*.xn--bcher-kva.example"]


# --- The subject: what cryptography can put in a name ---

BAD_SUBJECTS = [
    pytest.param(
        {"literalSubject": "CN=web\x00.example.com"},
        'Invalid value: "CN=web\\x00.example.com": must not contain the invisible character '
        "U+0000 (NUL) at position 7",
        id="a nul in a literal subject",
    ),
    pytest.param(
        {"literalSubject": "CN=,O=Example"},
        'Invalid value: "CN=,O=Example": the common name (CN) is empty; give it a value or '
        "leave it out",
        id="an empty common name in a literal subject",
    ),
    pytest.param(
        {"literalSubject": "CN=web,C=DEU"},
        'Invalid value: "CN=web,C=DEU": the country (C) "DEU" must be a two-letter ISO 3166 '
        'code such as "DE"',
        id="a three letter country in a literal subject",
    ),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SUBJECTS)
def test_a_literal_subject_cryptography_cannot_encode_is_rejected(
    spec: dict[str, Any], message: str
) -> None:
    assert problems(certificate(**spec)) == [("spec.literalSubject", message)]


def test_an_empty_country_is_an_error() -> None:
    found = problems(certificate(subject={"countries": [""]}))

    assert found == [
        (
            "spec.subject.countries[0]",
            'Invalid value: "": must not be empty: a country is a two-letter ISO 3166 code '
            'such as "DE"',
        )
    ]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"literalSubject": "CN=web,O=Example,C=DE"}, id="a literal subject"),
        pytest.param(
            {"commonName": "web", "subject": {"countries": ["DE"], "organizations": ["Ex"]}},
            id="subject fields",
        ),
    ],
)
def test_an_accepted_subject_builds_a_csr_without_warnings(spec: dict[str, Any]) -> None:
    loaded = load_documents(certificate(**spec)).certificates[0].spec

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        csr = build_csr(loaded, ec.generate_private_key(ec.SECP256R1()))
        assert csr.subject.rfc4514_string()
