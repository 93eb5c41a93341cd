"""Read-only status of Certificates and Issuers, shaped like cert-manager's ``status``.

``get`` and ``describe`` use these; nothing here writes to the store or the state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from certctl.api.models import Certificate, Issuer
from certctl.engine.policies import (
    REISSUE_CHAIN,
    PolicyInput,
    check_renewal_due,
    evaluate_reissue_chain,
    format_rfc3339,
)
from certctl.engine.reconcile import compute_renewal, decode_secret, issuer_is_exact

if TYPE_CHECKING:
    from certctl.pki.certificates import CertificateInfo
    from certctl.state.database import CertificateStatus, Event, StateDatabase
    from certctl.stores.base import SecretStore

#: Readiness is the reissue chain without the renewal check: a certificate in its
#: renewal window is still Ready (reference §1.9).
READINESS_CHAIN = tuple(check for check in REISSUE_CHAIN if check is not check_renewal_due)


@dataclass
class Condition:
    type: str
    status: str
    reason: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class CertificateView:
    certificate: Certificate
    ready: Condition
    info: CertificateInfo | None = None
    renewal_time: dt.datetime | None = None
    history: CertificateStatus | None = None
    events: list[Event] = field(default_factory=list)

    def status_json(self) -> dict[str, Any]:
        status: dict[str, Any] = {"conditions": [self.ready.to_json()]}
        if self.info is not None:
            status["notBefore"] = format_rfc3339(self.info.not_before)
            status["notAfter"] = format_rfc3339(self.info.not_after)
        if self.renewal_time is not None:
            status["renewalTime"] = format_rfc3339(self.renewal_time)
        if self.history is not None:
            if self.history.revision:
                status["revision"] = self.history.revision
            if self.history.failed_issuance_attempts:
                status["failedIssuanceAttempts"] = self.history.failed_issuance_attempts
            if self.history.last_failure_time is not None:
                status["lastFailureTime"] = format_rfc3339(self.history.last_failure_time)
        return status


@dataclass
class IssuerView:
    issuer: Issuer
    ready: Condition
    events: list[Event] = field(default_factory=list)

    def status_json(self) -> dict[str, Any]:
        return {"conditions": [self.ready.to_json()]}


def view_certificate(
    certificate: Certificate,
    store: SecretStore,
    now: dt.datetime,
    state: StateDatabase | None = None,
    *,
    issuer: Issuer | None = None,
) -> CertificateView:
    """Readiness of one Certificate, judged as its issuer (when known) allows."""
    exact_issuer = issuer_is_exact(issuer)
    record = store.read(certificate.namespace, certificate.spec.secret_name)
    secret = decode_secret(certificate, record)
    info = secret.certificate_info
    renewal_time = compute_renewal(certificate, info) if info is not None else None
    trigger = evaluate_reissue_chain(
        PolicyInput(certificate, secret, now, renewal_time, exact_issuer),
        READINESS_CHAIN,
    )
    if trigger is None:
        ready = Condition("Ready", "True", "Ready", "Certificate is up to date and has not expired")
    else:
        ready = Condition("Ready", "False", trigger.reason, trigger.message)
    view = CertificateView(certificate, ready, info, renewal_time)
    if state is not None:
        view.history = state.get_status(certificate.key)
        view.events = state.events("Certificate", certificate.key)
    return view


def view_issuer(
    issuer: Issuer,
    store: SecretStore,
    cluster_resource_namespace: str,
    state: StateDatabase | None = None,
) -> IssuerView:
    events = state.events(issuer.kind, issuer.key) if state is not None else []
    if issuer.spec.type == "acme":
        ready = _acme_readiness(events)
    else:
        ready = _issuer_readiness(issuer, store, cluster_resource_namespace)
    return IssuerView(issuer, ready, events)


def _acme_readiness(events: list[Event]) -> Condition:
    """An ACME issuer is Ready once certctl has registered its account (no network here)."""
    for event in reversed(events):
        if event.reason == "ACMEAccountRegistered":
            return Condition(
                "Ready",
                "True",
                "ACMEAccountRegistered",
                "The ACME account was registered with the ACME server",
            )
    return Condition(
        "Ready",
        "Unknown",
        "NotRegistered",
        "certctl registers the ACME account on the first issue or renew with this issuer",
    )


def _issuer_readiness(issuer: Issuer, store: SecretStore, cluster_namespace: str) -> Condition:
    kind = issuer.spec.type
    if kind == "selfSigned":
        return Condition("Ready", "True", "IsReady", "")
    if kind != "ca":
        return Condition(
            "Ready",
            "False",
            "NotSupported",
            f"issuing from spec.{kind} is not supported yet in this version of certctl",
        )
    namespace = cluster_namespace if issuer.cluster_scoped else (issuer.namespace or "default")
    secret_name = str(issuer.spec.config["secretName"])
    record = store.read(namespace, secret_name)
    if record is None:
        return Condition(
            "Ready",
            "False",
            "ErrGetKeyPair",
            f"Error getting keypair for CA issuer: secret {namespace}/{secret_name} not found",
        )
    from certctl.pki.certificates import describe_certificate, parse_pem_certificates
    from certctl.pki.keys import load_private_key, public_keys_equal

    try:
        leaf = parse_pem_certificates(record.data.get("tls.crt", b""))[0]
        # Readiness compares public keys only; the CA issuer checks the key fully to sign.
        key = load_private_key(record.data.get("tls.key", b""), thorough=False)
    except ValueError as exc:
        return Condition(
            "Ready", "False", "ErrGetKeyPair", f"Error getting keypair for CA issuer: {exc}"
        )
    if not public_keys_equal(leaf.public_key(), key):
        return Condition(
            "Ready",
            "False",
            "ErrInvalidKeyPair",
            "Error getting keypair for CA issuer: private key does not match certificate",
        )
    if not describe_certificate(leaf).is_ca:
        return Condition(
            "Ready",
            "False",
            "ErrInvalidKeyPair",
            "Error getting keypair for CA issuer: certificate is not a CA",
        )
    return Condition("Ready", "True", "KeyPairVerified", "Signing CA verified")
