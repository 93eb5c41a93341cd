"""The route53 provider against moto in server mode: zones, credentials, waiting and errors.

The shared contract (test_dns01_provider_contract.py) covers adding and removing values;
these tests cover what is Route 53's own: the longest matching public hosted zone,
``hostedZoneID``, the credential sources cert-manager reads (the block's keys, the AWS
default chain, an assumed role), ``GetChange`` until ``INSYNC``, throttling retried with
backoff, and IAM refusals that name the missing action.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from certctl.acme.settings import ACMESettings
from certctl.acme.solvers import route53
from certctl.acme.solvers.base import DNS01Provider
from certctl.acme.solvers.registry import build_solver
from certctl.errors import IssuanceError, IssuerNotReadyError, NotSupportedError
from tests.integration.dns_providers.harness import context
from tests.integration.dns_providers.route53 import (
    UNKNOWN_KEY_ID,
    UNKNOWN_SECRET,
    point_boto3_at,
    route53_block,
)
from tests.integration.servers.moto_route53 import ROLE_ARN, FaultProxy, MotoRoute53


@pytest.fixture
def moto(moto_route53: MotoRoute53, monkeypatch: pytest.MonkeyPatch) -> MotoRoute53:
    point_boto3_at(moto_route53.url, monkeypatch)
    return moto_route53


@pytest.fixture
def proxy(moto: MotoRoute53, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of moto, which boto3 reaches through the env."""
    with FaultProxy(moto.url) as fault_proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", fault_proxy.url)
        monkeypatch.setattr(route53, "CHANGE_POLL_INTERVAL", 0.05)
        yield fault_proxy


def build(
    block: Mapping[str, Any],
    secret: str = "",
    settings: ACMESettings | None = None,
) -> DNS01Provider:
    secret_store = {"route53": {"secret-access-key": secret.encode()}} if secret else {}
    provider = build_solver(
        {"dns01": {"route53": dict(block)}}, context(settings or ACMESettings(), secret_store)
    )
    assert isinstance(provider, route53.Route53Provider)
    return provider


def dns_provider(moto: MotoRoute53, user: str = "dns", **extra: object) -> DNS01Provider:
    key = moto.keys[user]
    return build(route53_block(key.id, **extra), key.secret)


def name_in(zone: str) -> str:
    return f"_acme-challenge.r53-{secrets.token_hex(4)}.{zone}"


def token() -> str:
    return secrets.token_urlsafe(32)


# --- Zones ---


@pytest.mark.parametrize(
    ("zone", "where"),
    [
        pytest.param(
            "sub.example.test.",
            "sub.example.test.",
            id="a name under sub.example.test goes to that zone, not its parent",
        ),
        pytest.param(
            "example.test.",
            "example.test.",
            id="a name under example.test goes to the public zone, not the private one",
        ),
        pytest.param(
            "deep.er.sub.example.test.",
            "sub.example.test.",
            id="several labels below a zone still find the longest suffix",
        ),
    ],
)
def test_the_record_goes_to_the_longest_matching_public_zone(
    moto: MotoRoute53, zone: str, where: str
) -> None:
    provider, fqdn, value = dns_provider(moto), name_in(zone), token()

    provider.present(fqdn, zone, value)

    assert moto.txt_values(fqdn, moto.zones[where]) == {value}
    others = {name: zone_id for name, zone_id in moto.zones.items() if name != where}
    for other in [*others.values(), moto.private_zone_id]:
        assert moto.txt_values(fqdn, other) == set()
    provider.cleanup(fqdn, zone, value)
    assert moto.txt_values(fqdn, moto.zones[where]) == set()


def test_the_record_has_ttl_10_and_a_quoted_value(moto: MotoRoute53) -> None:
    provider, fqdn, value = dns_provider(moto), name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)

    records = moto.client("route53").list_resource_record_sets(
        HostedZoneId=moto.zones["example.test."], StartRecordName=fqdn, StartRecordType="TXT"
    )["ResourceRecordSets"]
    assert records[0]["TTL"] == 10
    assert records[0]["ResourceRecords"] == [{"Value": f'"{value}"'}]
    provider.cleanup(fqdn, "example.test.", value)


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("{id}", id="hostedZoneID as the bare id"),
        pytest.param("/hostedzone/{id}", id="hostedZoneID with the /hostedzone/ prefix"),
    ],
)
def test_hosted_zone_id_skips_the_lookup(
    moto: MotoRoute53, proxy: FaultProxy, written: str
) -> None:
    zone_id = moto.zones["example.test."]
    # A name under sub.example.test, written in example.test because the block says so.
    provider = dns_provider(moto, hostedZoneID=written.format(id=zone_id))
    fqdn, value = name_in("sub.example.test."), token()

    provider.present(fqdn, "sub.example.test.", value)

    assert moto.txt_values(fqdn, zone_id) == {value}
    assert "ListHostedZonesByName" not in proxy.calls
    provider.cleanup(fqdn, "sub.example.test.", value)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        pytest.param(
            "nowhere.invalid.",
            "no public Route 53 hosted zone holds",
            id="a name in no hosted zone",
        ),
        pytest.param(
            "private.test.",
            "only private zones: private.test.",
            id="a name only in a private zone says so",
        ),
    ],
)
def test_a_name_without_a_public_zone_is_zone_not_found(
    moto: MotoRoute53, zone: str, expected: str
) -> None:
    with pytest.raises(IssuanceError) as caught:
        dns_provider(moto).present(name_in(zone), zone, token())

    assert caught.value.reason == "ZoneNotFound"
    assert expected in caught.value.message
    assert "hostedZoneID" in caught.value.hint


def test_an_unknown_hosted_zone_id_is_zone_not_found(moto: MotoRoute53) -> None:
    provider = dns_provider(moto, hostedZoneID="ZNOSUCHZONE0000")

    with pytest.raises(IssuanceError) as caught:
        provider.present(name_in("example.test."), "example.test.", token())

    assert caught.value.reason == "ZoneNotFound"
    assert "Fix hostedZoneID" in caught.value.hint


# --- Credentials ---


def test_an_assumed_role_writes_with_the_role_s_permissions(moto: MotoRoute53) -> None:
    # "assumer" may only call sts:AssumeRole; the role holds the Route 53 permissions.
    provider = dns_provider(moto, "assumer", role=ROLE_ARN)
    fqdn, value = name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)

    assert moto.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, "example.test.", value)


def test_without_the_role_the_same_keys_are_denied_route53(moto: MotoRoute53) -> None:
    with pytest.raises(IssuanceError) as caught:
        dns_provider(moto, "assumer").present(name_in("example.test."), "example.test.", token())

    assert caught.value.reason == "AccessDenied"
    assert "route53:ListHostedZonesByName" in caught.value.hint


def test_a_user_who_may_not_assume_the_role_is_told_sts_assume_role(moto: MotoRoute53) -> None:
    provider = dns_provider(moto, "readonly", role=ROLE_ARN)

    with pytest.raises(IssuanceError) as caught:
        provider.present(name_in("example.test."), "example.test.", token())

    assert caught.value.reason == "AccessDenied"
    assert ROLE_ARN in caught.value.message
    assert "sts:AssumeRole" in caught.value.hint


def test_missing_change_permission_names_the_iam_action(moto: MotoRoute53) -> None:
    fqdn = name_in("example.test.")

    with pytest.raises(IssuanceError) as caught:
        dns_provider(moto, "readonly").present(fqdn, "example.test.", token())

    assert caught.value.reason == "AccessDenied"
    assert "route53:ChangeResourceRecordSets" in caught.value.hint
    assert "docs/providers/route53.md" in caught.value.hint
    assert moto.txt_values(fqdn) == set()


@pytest.mark.parametrize(
    ("key_id", "secret", "code"),
    [
        pytest.param(
            UNKNOWN_KEY_ID,
            UNKNOWN_SECRET,
            "InvalidClientTokenId",
            id="an unknown access key is InvalidClientTokenId",
        ),
        pytest.param(
            "dns",
            UNKNOWN_SECRET,
            "SignatureDoesNotMatch",
            id="a known key with the wrong secret is SignatureDoesNotMatch",
        ),
    ],
)
def test_refused_credentials_say_which_refusal(
    moto: MotoRoute53, key_id: str, secret: str, code: str
) -> None:
    key_id = moto.keys[key_id].id if key_id in moto.keys else key_id
    provider = build(route53_block(key_id), secret)

    with pytest.raises(IssuanceError) as caught:
        provider.present(name_in("example.test."), "example.test.", token())

    assert caught.value.reason == "InvalidCredentials"
    assert f"({code})" in caught.value.message
    assert secret not in f"{caught.value.message} {caught.value.hint}"


def test_the_access_key_id_can_come_from_a_secret(moto: MotoRoute53) -> None:
    key = moto.keys["dns"]
    block = {
        "accessKeyIDSecretRef": {"name": "route53-id", "key": "access-key-id"},
        "secretAccessKeySecretRef": {"name": "route53", "key": "secret-access-key"},
    }
    store = {
        # A trailing newline, as `echo KEY | kubectl create secret --from-file` leaves.
        "route53-id": {"access-key-id": f"{key.id}\n".encode()},
        "route53": {"secret-access-key": key.secret.encode()},
    }
    provider = build_solver({"dns01": {"route53": block}}, context(ACMESettings(), store))
    fqdn, value = name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)  # type: ignore[union-attr]

    assert moto.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, "example.test.", value)  # type: ignore[union-attr]


def test_no_keys_in_the_block_use_the_environment(
    moto: MotoRoute53, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = moto.keys["dns"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret)
    provider, fqdn, value = build({}), name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)

    assert moto.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, "example.test.", value)


def test_no_keys_in_the_block_use_the_aws_profile(
    moto: MotoRoute53, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = moto.keys["assumer"]
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[dns01]\naws_access_key_id = {key.id}\naws_secret_access_key = {key.secret}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "dns01")
    provider, fqdn, value = build({"role": ROLE_ARN}), name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)

    assert moto.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, "example.test.", value)


def test_a_profile_that_does_not_exist_is_one_sentence(
    moto: MotoRoute53, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")

    with pytest.raises(IssuanceError) as caught:
        build({}).present(name_in("example.test."), "example.test.", token())

    assert "no-such-profile" in caught.value.message
    assert "AWS_PROFILE" in caught.value.hint


def test_no_credentials_anywhere_says_where_they_can_come_from(moto: MotoRoute53) -> None:
    with pytest.raises(IssuanceError) as caught:
        build({}).present(name_in("example.test."), "example.test.", token())

    assert "found none" in caught.value.message
    assert "secretAccessKeySecretRef" in caught.value.hint


@pytest.mark.parametrize(
    ("block", "store", "error", "reason"),
    [
        pytest.param(
            route53_block("AKIAEXAMPLE"),
            {},
            IssuerNotReadyError,
            "SecretMissing",
            id="a missing secret Secret means the issuer is not ready",
        ),
        pytest.param(
            route53_block("AKIAEXAMPLE"),
            {"route53": {"other": b"x"}},
            IssuerNotReadyError,
            "SecretInvalidData",
            id="a Secret without the key means the issuer is not ready",
        ),
        pytest.param(
            {"accessKeyID": "AKIAEXAMPLE"},
            {},
            IssuanceError,
            "InvalidSolver",
            id="an access key id without a secret is refused as cert-manager does",
        ),
    ],
)
def test_credentials_that_cannot_be_read(
    moto: MotoRoute53,
    block: Mapping[str, Any],
    store: Mapping[str, Mapping[str, bytes]],
    error: type[Exception],
    reason: str,
) -> None:
    provider = build_solver({"dns01": {"route53": dict(block)}}, context(ACMESettings(), store))

    with pytest.raises(error) as caught:
        provider.present(name_in("example.test."), "example.test.", token())  # type: ignore[union-attr]

    assert getattr(caught.value, "reason", "") == reason


def test_service_account_auth_says_it_needs_a_cluster(moto: MotoRoute53) -> None:
    block = {"role": ROLE_ARN, "auth": {"kubernetes": {"serviceAccountRef": {"name": "certctl"}}}}

    with pytest.raises(NotSupportedError) as caught:
        build(block)

    assert "--store kubernetes" in caught.value.message
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in caught.value.hint


def test_a_missing_sdk_names_the_extra(moto: MotoRoute53, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)

    with pytest.raises(IssuanceError) as caught:
        dns_provider(moto).present(name_in("example.test."), "example.test.", token())

    assert "pip install 'certctl[route53]'" in caught.value.hint


def test_two_presents_at_once_at_the_same_name_keep_both_values(
    moto: MotoRoute53, proxy: FaultProxy
) -> None:
    # A wildcard and its base name are presented in parallel, each by its own provider;
    # a slow read makes both read the record set before either writes it.
    proxy.delay["ListResourceRecordSets"] = 0.3
    fqdn, values = name_in("example.test."), [token(), token()]
    providers = [dns_provider(moto), dns_provider(moto)]
    errors: list[BaseException] = []

    def present(provider: DNS01Provider, value: str) -> None:
        try:
            provider.present(fqdn, "example.test.", value)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=present, args=pair) for pair in zip(providers, values, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert moto.txt_values(fqdn) == set(values)
    for provider, value in zip(providers, values, strict=True):
        provider.cleanup(fqdn, "example.test.", value)
    assert moto.txt_values(fqdn) == set()


# --- Waiting and throttling ---


def test_present_waits_until_the_change_is_insync(moto: MotoRoute53, proxy: FaultProxy) -> None:
    proxy.pending = 2
    provider, fqdn, value = dns_provider(moto), name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)

    assert proxy.calls.count("GetChange") == 3
    assert proxy.calls[-1] == "GetChange"
    assert moto.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, "example.test.", value)


def test_a_change_still_pending_at_the_deadline_is_a_retryable_failure(
    moto: MotoRoute53, proxy: FaultProxy
) -> None:
    proxy.pending = 1000
    settings = ACMESettings(self_check_timeout=dt.timedelta(seconds=0.3))
    key = moto.keys["dns"]
    provider = build(route53_block(key.id), key.secret, settings)

    with pytest.raises(IssuanceError) as caught:
        provider.present(name_in("example.test."), "example.test.", token())

    assert "still PENDING" in caught.value.message
    assert caught.value.retryable


def test_throttling_is_retried_with_backoff(moto: MotoRoute53, proxy: FaultProxy) -> None:
    proxy.throttle["ChangeResourceRecordSets"] = 1
    provider, fqdn, value = dns_provider(moto), name_in("example.test."), token()

    provider.present(fqdn, "example.test.", value)

    assert proxy.calls.count("ChangeResourceRecordSets") == 2
    assert moto.txt_values(fqdn) == {value}
    provider.cleanup(fqdn, "example.test.", value)


def test_throttling_that_lasts_stops_after_a_bounded_number_of_tries(
    moto: MotoRoute53, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(route53, "MAX_ATTEMPTS", 2)
    proxy.throttle["ListHostedZonesByName"] = 1000

    with pytest.raises(IssuanceError) as caught:
        dns_provider(moto).present(name_in("example.test."), "example.test.", token())

    assert caught.value.reason == "Throttled"
    assert caught.value.retryable
    assert "after 2 tries" in caught.value.message
    assert proxy.calls.count("ListHostedZonesByName") == 2
