"""The route53 provider against moto in server mode, with IAM access control on."""

from __future__ import annotations

import pytest

from tests.integration.dns_providers.harness import ProviderHarness
from tests.integration.servers.moto_route53 import MotoRoute53

#: A key moto never issued: STS and Route 53 answer InvalidClientTokenId.
UNKNOWN_KEY_ID = "AKIAUNKNOWNUNKNOWN00"
UNKNOWN_SECRET = "not-a-secret-moto-knows-0123456789abcdef"


def point_boto3_at(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send boto3 to ``server_url`` through the standard AWS environment, nothing else."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", server_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server_url)
    # No ambient credentials of the machine running the tests, and no metadata service.
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/certctl-tests/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/certctl-tests/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def route53_block(access_key_id: str, **extra: object) -> dict[str, object]:
    return {
        "region": "us-east-1",
        "accessKeyID": access_key_id,
        "secretAccessKeySecretRef": {"name": "route53", "key": "secret-access-key"},
        **extra,
    }


@pytest.fixture
def route53_harness(moto_route53: MotoRoute53, monkeypatch: pytest.MonkeyPatch) -> ProviderHarness:
    point_boto3_at(moto_route53.url, monkeypatch)
    key = moto_route53.keys["dns"]
    return ProviderHarness(
        key="dns01.route53",
        zone="example.test.",
        block=route53_block(key.id),
        secrets={"route53": {"secret-access-key": key.secret.encode()}},
        bad_credentials=(
            route53_block(UNKNOWN_KEY_ID),
            {"route53": {"secret-access-key": UNKNOWN_SECRET.encode()}},
        ),
        txt_values=moto_route53.txt_values,
        credentials=(key.secret, UNKNOWN_SECRET),
    )
