"""The reissue chain, as a table of sentences (cert-manager's trigger policies, §1.7)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest

from certctl.api.models import (
    Certificate,
    IssuerRef,
    PrivateKeySpec,
    RenewalSpec,
    X509Subject,
)
from certctl.engine.policies import PolicyInput, evaluate_reissue_chain
from certctl.engine.reconcile import compute_renewal, decode_secret
from certctl.pki.keys import encode_private_key, generate_private_key
from certctl.stores.base import SecretRecord
from tests.unit.engine.builders import NOW, certificate, issued_secret, with_spec

DAY = dt.timedelta(days=1)
BASE = certificate("web")
SECRET = issued_secret(BASE)

Mutation = Callable[[SecretRecord], SecretRecord | None]


def unchanged(record: SecretRecord) -> SecretRecord:
    return record


def deleted(record: SecretRecord) -> None:
    return None


def without(*keys: str) -> Mutation:
    def mutate(record: SecretRecord) -> SecretRecord:
        return dataclasses.replace(
            record, data={k: v for k, v in record.data.items() if k not in keys}
        )

    return mutate


def with_data(key: str, value: bytes) -> Mutation:
    def mutate(record: SecretRecord) -> SecretRecord:
        return dataclasses.replace(record, data={**record.data, key: value})

    return mutate


def with_annotation(key: str, value: str) -> Mutation:
    def mutate(record: SecretRecord) -> SecretRecord:
        return dataclasses.replace(record, annotations={**record.annotations, key: value})

    return mutate


ISSUER_ANNOTATIONS = (
    "cert-manager.io/issuer-name",
    "cert-manager.io/issuer-kind",
    "cert-manager.io/issuer-group",
)


def without_issuer_annotations(record: SecretRecord) -> SecretRecord:
    kept = {k: v for k, v in record.annotations.items() if k not in ISSUER_ANNOTATIONS}
    return dataclasses.replace(record, annotations=kept)


def only_annotation(key: str, value: str) -> Mutation:
    def mutate(record: SecretRecord) -> SecretRecord:
        return with_annotation(key, value)(without_issuer_annotations(record))

    return mutate


OTHER_KEY = encode_private_key(
    generate_private_key(PrivateKeySpec(algorithm="ECDSA", size=256)), "PKCS1"
)


def evaluate(cert: Certificate, record: SecretRecord | None, now: dt.datetime) -> str | None:
    view = decode_secret(cert, record)
    renewal = compute_renewal(cert, view.certificate_info) if view.certificate_info else None
    trigger = evaluate_reissue_chain(PolicyInput(cert, view, now, renewal))
    return None if trigger is None else trigger.reason


CASES = [
    pytest.param(BASE, unchanged, NOW, None, id="a fresh certificate needs nothing"),
    pytest.param(BASE, deleted, NOW, "DoesNotExist", id="a missing secret is issued"),
    pytest.param(
        BASE,
        without("tls.crt", "tls.key", "ca.crt"),
        NOW,
        "MissingData",
        id="an empty secret is missing data",
    ),
    pytest.param(
        BASE,
        without("tls.key"),
        NOW,
        "MissingData",
        id="a secret without a private key is missing data",
    ),
    pytest.param(
        BASE,
        without("tls.crt"),
        NOW,
        "MissingData",
        id="a secret without a certificate is missing data",
    ),
    pytest.param(
        BASE,
        with_data("tls.key", b"garbage"),
        NOW,
        "InvalidKeyPair",
        id="an undecodable key is an invalid key pair",
    ),
    pytest.param(
        BASE,
        with_data("tls.crt", b"garbage"),
        NOW,
        "InvalidCertificate",
        id="an undecodable certificate is an invalid certificate",
    ),
    pytest.param(
        BASE,
        with_data("tls.key", OTHER_KEY),
        NOW,
        "InvalidKeyPair",
        id="a key that does not match the certificate is an invalid key pair",
    ),
    pytest.param(
        BASE,
        with_annotation("cert-manager.io/issuer-name", "other"),
        NOW,
        "IncorrectIssuer",
        id="a secret from another issuer is reissued",
    ),
    pytest.param(
        BASE,
        with_annotation("cert-manager.io/certificate-name", "api"),
        NOW,
        "IncorrectCertificate",
        id="a secret issued for another certificate is flagged",
    ),
    pytest.param(
        with_spec(BASE, private_key=PrivateKeySpec(algorithm="RSA", size=2048)),
        unchanged,
        NOW,
        "SecretMismatch",
        id="a key algorithm change is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, private_key=PrivateKeySpec(algorithm="ECDSA", size=384)),
        unchanged,
        NOW,
        "SecretMismatch",
        id="a key size change is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, private_key=PrivateKeySpec(algorithm="ECDSA", size=256, encoding="PKCS8")),
        unchanged,
        NOW,
        None,
        id="a key encoding change alone does not reissue",
    ),
    pytest.param(
        with_spec(BASE, dns_names=("web.example.test", "www.example.test")),
        unchanged,
        NOW,
        "SecretMismatch",
        id="an added DNS name is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, ip_addresses=("10.0.0.1",)),
        unchanged,
        NOW,
        "SecretMismatch",
        id="an added IP address is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, subject=X509Subject(organizations=("Example",))),
        unchanged,
        NOW,
        "SecretMismatch",
        id="a subject change is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, is_ca=True),
        unchanged,
        NOW,
        "SecretMismatch",
        id="turning on isCA is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, usages=("digital signature", "key encipherment", "server auth")),
        unchanged,
        NOW,
        "SecretMismatch",
        id="an added usage is a secret mismatch",
    ),
    pytest.param(
        with_spec(BASE, usages=("signing", "key encipherment")),
        unchanged,
        NOW,
        None,
        id="the usage alias signing equals digital signature",
    ),
    pytest.param(
        with_spec(
            BASE, issuer_ref=IssuerRef("selfsigned", kind="ClusterIssuer", group="cert-manager.io")
        ),
        unchanged,
        NOW,
        None,
        id="spelling out the default issuer group changes nothing",
    ),
    pytest.param(
        with_spec(BASE, renew_before=dt.timedelta(days=10)),
        unchanged,
        NOW,
        None,
        id="a renewBefore change only moves the renewal time",
    ),
    pytest.param(
        BASE, unchanged, NOW + 59 * DAY, None, id="before two thirds of the lifetime nothing is due"
    ),
    pytest.param(
        BASE,
        unchanged,
        NOW + 61 * DAY,
        "Renewing",
        id="after two thirds of the lifetime renewal is due",
    ),
    pytest.param(
        BASE,
        unchanged,
        NOW + 91 * DAY,
        "Expired",
        id="an expired certificate is reissued as expired",
    ),
    pytest.param(
        with_spec(BASE, renewal=RenewalSpec(policy="Disabled")),
        unchanged,
        NOW + 61 * DAY,
        None,
        id="with renewal disabled the renewal time never comes",
    ),
    pytest.param(
        with_spec(BASE, renewal=RenewalSpec(policy="Disabled")),
        unchanged,
        NOW + 91 * DAY,
        None,
        id="with renewal disabled even expiry does not reissue, as in cert-manager",
    ),
    pytest.param(
        with_spec(
            BASE,
            renewal=RenewalSpec(policy="Disabled"),
            dns_names=("web.example.test", "www.example.test"),
        ),
        unchanged,
        NOW + 91 * DAY,
        "SecretMismatch",
        id="with renewal disabled a spec change still reissues",
    ),
    pytest.param(
        BASE,
        without_issuer_annotations,
        NOW,
        None,
        id="a matching pair with no issuer annotations at all is kept",
    ),
    pytest.param(
        with_spec(BASE, private_key=PrivateKeySpec(algorithm="RSA", size=2048)),
        without_issuer_annotations,
        NOW,
        "SecretMismatch",
        id="a pair with no issuer annotations and the wrong key algorithm is a secret mismatch",
    ),
    pytest.param(
        BASE,
        only_annotation("cert-manager.io/issuer-kind", "ClusterIssuer"),
        NOW,
        "IncorrectIssuer",
        id="one issuer annotation alone is enough to run the issuer check",
    ),
]


@pytest.mark.parametrize(("cert", "mutate", "now", "reason"), CASES)
def test_reissue_chain(
    cert: Certificate, mutate: Mutation, now: dt.datetime, reason: str | None
) -> None:
    assert evaluate(cert, mutate(SECRET), now) == reason


def test_the_first_failing_check_wins() -> None:
    # Both the key and the issuer annotation are wrong; the key pair check comes first.
    record = with_annotation("cert-manager.io/issuer-name", "other")(
        with_data("tls.key", OTHER_KEY)(SECRET)
    )
    assert evaluate(BASE, record, NOW) == "InvalidKeyPair"


def test_messages_are_cert_managers() -> None:
    view = decode_secret(BASE, None)
    trigger = evaluate_reissue_chain(PolicyInput(BASE, view, NOW, None))
    assert trigger is not None
    assert trigger.message == "Issuing certificate as Secret does not exist"
