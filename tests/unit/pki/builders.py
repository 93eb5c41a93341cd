"""Builders shared by the certctl.pki unit tests (imported as a plain module)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from certctl.api.models import CertificateSpec, IssuerRef, PrivateKeySpec
from certctl.pki.csr import build_csr
from certctl.pki.keys import PrivateKey, generate_private_key
from certctl.pki.signing import sign_certificate

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def certificate_spec(**fields: Any) -> CertificateSpec:
    """A CertificateSpec with only what a test cares about; the rest defaulted."""
    fields.setdefault("secret_name", "web-tls")
    fields.setdefault("issuer_ref", IssuerRef("ca"))
    return CertificateSpec(**fields)


@functools.cache
def cached_key(algorithm: str = "ECDSA", size: int = 256) -> PrivateKey:
    """A key per (algorithm, size), generated once per session (RSA 4096 is slow)."""
    return generate_private_key(PrivateKeySpec(algorithm=algorithm, size=size))  # type: ignore[arg-type]


@dataclass
class Authority:
    """A CA key pair that can issue certificates for tests."""

    key: PrivateKey
    certificate: x509.Certificate

    def issue(
        self,
        spec: CertificateSpec,
        *,
        key: PrivateKey | None = None,
        not_before: dt.datetime = NOW,
        duration: dt.timedelta = dt.timedelta(days=90),
        **options: Any,
    ) -> x509.Certificate:
        key = key or cached_key()
        return sign_certificate(
            build_csr(spec, key),
            signing_key=self.key,
            issuer_certificate=self.certificate,
            not_before=not_before,
            duration=duration,
            is_ca=spec.is_ca,
            usages=spec.usages,
            **options,
        )


def self_signed(
    spec: CertificateSpec,
    key: PrivateKey,
    *,
    not_before: dt.datetime = NOW,
    duration: dt.timedelta = dt.timedelta(days=365),
) -> x509.Certificate:
    """A certificate signed with its own key, as the SelfSigned issuer makes it."""
    return sign_certificate(
        build_csr(spec, key),
        signing_key=key,
        issuer_certificate=None,
        not_before=not_before,
        duration=duration,
        is_ca=spec.is_ca,
        usages=spec.usages,
    )


def make_authority(
    name: str = "Test Root CA", key: PrivateKey | None = None, *, not_before: dt.datetime = NOW
) -> Authority:
    key = key or generate_private_key(PrivateKeySpec(algorithm="ECDSA", size=384))
    spec = certificate_spec(common_name=name, is_ca=True, usages=("cert sign", "crl sign"))
    return Authority(key, self_signed(spec, key, not_before=not_before))


def make_intermediate(
    parent: Authority, name: str = "Test Intermediate CA", *, not_before: dt.datetime = NOW
) -> Authority:
    key = generate_private_key(PrivateKeySpec(algorithm="ECDSA", size=256))
    spec = certificate_spec(common_name=name, is_ca=True, usages=("cert sign", "crl sign"))
    certificate = parent.issue(
        spec, key=key, not_before=not_before, duration=dt.timedelta(days=365)
    )
    return Authority(key, certificate)
