"""Count messages agree with their number: ``1 certificate``, ``2 certificates``."""

from __future__ import annotations

import pytest

from certctl.cli.render import format_count
from tests.cli.conftest import SELFSIGNED, Cli, certificate, describe, issuer
from tests.cli.test_convert import ingress
from tests.cli.test_inject import webhook_configuration


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [
        pytest.param(1, "certificate", "1 certificate", id="one takes the singular"),
        pytest.param(2, "certificate", "2 certificates", id="two take the plural"),
        pytest.param(0, "Issuer", "0 Issuers", id="zero takes the plural"),
        pytest.param(2, "Ingress", "2 Ingresses", id="a noun ending in ss takes es"),
        pytest.param(3, "NetworkPolicy", "3 NetworkPolicies", id="a consonant and y become ies"),
        pytest.param(2, "Gateway", "2 Gateways", id="a vowel and y take s"),
        pytest.param(2, "Endpoints", "2 Endpoints", id="a kind already plural stays"),
        pytest.param(2, "HTTP-01 token", "2 HTTP-01 tokens", id="the last word is inflected"),
    ],
)
def test_format_count(count: int, noun: str, expected: str) -> None:
    assert format_count(count, noun) == expected


@pytest.mark.parametrize(
    ("names", "summary"),
    [
        pytest.param(["web"], "issue: 1 certificate: 1 issued", id="one certificate"),
        pytest.param(["web", "api"], "issue: 2 certificates: 2 issued", id="two certificates"),
    ],
)
def test_the_issue_summary_counts_in_words(cli: Cli, names: list[str], summary: str) -> None:
    path = cli.manifest("certs.yaml", SELFSIGNED, *[certificate(name) for name in names])

    result = cli.run("issue", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert summary in result.stderr


@pytest.mark.parametrize(
    ("names", "summary"),
    [
        pytest.param(["web"], "Nothing to renew: 1 certificate up to date", id="one certificate"),
        pytest.param(
            ["web", "api"], "Nothing to renew: 2 certificates up to date", id="two certificates"
        ),
    ],
)
def test_the_renew_summary_counts_in_words(cli: Cli, names: list[str], summary: str) -> None:
    path = cli.manifest("certs.yaml", SELFSIGNED, *[certificate(name) for name in names])
    cli.ok("issue", "-f", path)

    result = cli.run("renew", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert summary in result.stderr


@pytest.mark.parametrize(
    ("issuers", "summary"),
    [
        pytest.param(
            1,
            "Valid: 1 Certificate, 1 Issuer, 1 ClusterIssuer; ignored: 1 ConfigMap.",
            id="one of each",
        ),
        pytest.param(
            2,
            "Valid: 2 Certificates, 2 Issuers, 2 ClusterIssuers; ignored: 2 ConfigMaps.",
            id="two of each",
        ),
    ],
)
def test_the_validate_summary_counts_in_words(cli: Cli, issuers: int, summary: str) -> None:
    documents = []
    for index in range(issuers):
        documents.append(issuer(f"cluster{index}", {"selfSigned": {}}))
        documents.append(
            issuer(f"local{index}", {"selfSigned": {}}, kind="Issuer", namespace="default")
        )
        documents.append(certificate(f"web{index}", issuer=f"cluster{index}"))
        documents.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"config{index}"}}
        )
    path = cli.manifest("all.yaml", *documents)

    result = cli.run("validate", "-f", path)

    assert result.exit_code == 0, describe(result)
    assert result.stdout.strip() == summary


@pytest.mark.parametrize(
    ("ingresses", "summary"),
    [
        pytest.param(1, "Nothing to convert: 1 Ingress read", id="one Ingress"),
        pytest.param(2, "Nothing to convert: 2 Ingresses read", id="two Ingresses"),
    ],
)
def test_the_convert_note_counts_in_words(cli: Cli, ingresses: int, summary: str) -> None:
    path = cli.manifest(
        "ingresses.yaml", *[ingress(f"web{i}", annotations={}) for i in range(ingresses)]
    )

    result = cli.ok("convert", "-f", path)

    assert summary in result.stderr


@pytest.mark.parametrize(
    ("objects", "summary"),
    [
        pytest.param(1, "inject: 1 object in the manifests", id="one object"),
        pytest.param(2, "inject: 2 objects in the manifests", id="two objects"),
    ],
)
def test_the_inject_summary_counts_in_words(cli: Cli, objects: int, summary: str) -> None:
    path = cli.manifest(
        "webhooks.yaml", *[webhook_configuration({}, name=f"plain{i}") for i in range(objects)]
    )

    result = cli.ok("inject", "-f", path)

    assert summary in result.stderr
