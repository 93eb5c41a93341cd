"""Builders for engine tests: Certificates, Issuers and issued Secrets in a few words."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from certctl.api.models import (
    Certificate,
    CertificateSpec,
    Issuer,
    IssuerRef,
    IssuerSpec,
    ObjectMeta,
    PrivateKeySpec,
    Source,
)
from certctl.engine.issuance import issue_certificate
from certctl.stores.base import SecretRecord

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
SELF_SIGNED = Issuer(
    metadata=ObjectMeta(name="selfsigned"),
    spec=IssuerSpec(type="selfSigned", config={}),
    source=Source("issuers.yaml", 1),
    cluster_scoped=True,
)


def certificate(name: str = "web", namespace: str = "default", **fields: Any) -> Certificate:
    """A Certificate named ``name`` with an ECDSA key, signed by the selfSigned ClusterIssuer."""
    fields.setdefault("secret_name", f"{name}-tls")
    fields.setdefault("issuer_ref", IssuerRef("selfsigned", kind="ClusterIssuer"))
    fields.setdefault("dns_names", (f"{name}.example.test",))
    fields.setdefault("private_key", PrivateKeySpec(algorithm="ECDSA", size=256))
    spec = CertificateSpec(**fields)
    raw = {"metadata": {"name": name}, "spec": {"repr": repr(spec)}}
    return Certificate(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=spec,
        source=Source("certificates.yaml", 1),
        raw=raw,
    )


def with_spec(original: Certificate, **fields: Any) -> Certificate:
    """The same Certificate with some spec fields changed."""
    spec = dataclasses.replace(original.spec, **fields)
    raw = {"metadata": {"name": original.name}, "spec": {"repr": repr(spec)}}
    return dataclasses.replace(original, spec=spec, raw=raw)


def issued_secret(
    cert: Certificate, *, issuer: Issuer = SELF_SIGNED, now: dt.datetime = NOW
) -> SecretRecord:
    """The Secret certctl writes after issuing ``cert`` at ``now``."""
    outcome = issue_certificate(
        cert,
        issuer,
        existing=None,
        read_secret=lambda namespace, name: None,
        issuer_secret_namespace="cert-manager",
        now=now,
    )
    return outcome.secret
