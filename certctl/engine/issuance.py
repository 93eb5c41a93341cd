"""One issuance: the next private key, the request, the issuer, checks, and the new Secret.

This mirrors cert-manager's keymanager, requestmanager and issuing controllers
(reference §1.3, §1.6) for a single Certificate, in memory.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certctl.api.models import Certificate, Issuer
from certctl.engine.policies import SecretView
from certctl.engine.secretdata import KeyMaterial, SecretReader, build_secret, repair_secret
from certctl.errors import IssuanceError
from certctl.issuers.base import CertificateRequest, SecretWriter
from certctl.issuers.registry import get_issuer_backend
from certctl.pki.certificates import (
    CertificateInfo,
    describe_certificate,
    parse_pem_certificates,
)
from certctl.pki.csr import build_csr
from certctl.pki.keys import (
    PrivateKey,
    encode_private_key,
    generate_private_key,
    key_spec_mismatches,
    load_private_key,
    public_keys_equal,
)

if TYPE_CHECKING:
    from certctl.acme.orders import ACMERecorder
    from certctl.acme.settings import ACMESettings
    from certctl.stores.base import SecretRecord, SecretStore


@dataclass(frozen=True)
class IssuanceOutcome:
    secret: SecretRecord
    info: CertificateInfo
    not_after: dt.datetime
    warnings: tuple[tuple[str, str], ...]


def issue_certificate(
    certificate: Certificate,
    issuer: Issuer,
    *,
    existing: SecretRecord | None,
    read_secret: SecretReader,
    issuer_secret_namespace: str,
    now: dt.datetime,
    write_secret: SecretWriter | None = None,
    acme: ACMESettings | None = None,
    recorder: ACMERecorder | None = None,
    store: SecretStore | None = None,
) -> IssuanceOutcome:
    """Issue a new certificate for ``certificate`` and build the Secret that holds it.

    Nothing is written here; the caller writes the returned Secret.

    Raises:
        IssuanceError: the issuer refused, or what it returned is unusable.
    """
    key, warnings = next_private_key(certificate, existing)
    spec = certificate.spec
    request = CertificateRequest(
        certificate=certificate,
        issuer=issuer,
        csr=build_csr(spec, key),
        private_key=key,
        duration=spec.duration,
        is_ca=spec.is_ca,
        usages=spec.usages,
        issuer_secret_namespace=issuer_secret_namespace,
        read_secret=read_secret,
        now=now,
        write_secret=write_secret,
        acme=acme,
        recorder=recorder,
        store=store,
    )
    issued = get_issuer_backend(issuer.spec.type).issue(request)
    try:
        chain = parse_pem_certificates(issued.chain_pem)
    except ValueError as exc:
        raise IssuanceError(
            f"{issuer.kind} {issuer.name!r} returned a certificate that cannot be decoded: {exc}",
            reason="InvalidCertificate",
        ) from exc
    info = describe_certificate(chain[0])
    # cert-manager's issuing controller refuses a certificate for another key, or one already
    # expired, rather than storing something unusable (reference §1.6 step 6).
    if not public_keys_equal(chain[0].public_key(), key):
        raise IssuanceError(
            f"{issuer.kind} {issuer.name!r} returned a certificate for a different public key "
            "than the one requested",
            reason="InvalidCertificate",
        )
    if info.not_after <= now:
        raise IssuanceError(
            f"{issuer.kind} {issuer.name!r} returned a certificate that expired on "
            f"{info.not_after.isoformat()}",
            reason="InvalidCertificate",
        )
    material = KeyMaterial(
        key=key,
        key_pem=encode_private_key(key, spec.private_key.encoding),
        chain_pem=issued.chain_pem,
        ca_pem=issued.ca_pem,
        chain=chain,
        info=info,
    )
    secret = build_secret(certificate, material, read_secret, existing)
    return IssuanceOutcome(
        secret=secret,
        info=info,
        not_after=info.not_after,
        warnings=(*warnings, *issued.warnings),
    )


def next_private_key(
    certificate: Certificate, existing: SecretRecord | None
) -> tuple[PrivateKey, tuple[tuple[str, str], ...]]:
    """The key for the next certificate, per ``privateKey.rotationPolicy`` (reference §1.3).

    ``Always`` makes a fresh key every time, the first issuance included. ``Never``
    reuses the Secret's key when it decodes and fits the spec.
    """
    spec = certificate.spec.private_key
    if spec.rotation_policy == "Always" or existing is None or not existing.data.get("tls.key"):
        return generate_private_key(spec), ()
    try:
        key = load_private_key(existing.data["tls.key"])
    except ValueError as exc:
        warning = (
            "DecodeFailed",
            f"Failed to decode private key stored in Secret {existing.key}; generating a new "
            f"one: {exc}",
        )
        return generate_private_key(spec), (warning,)
    mismatches = key_spec_mismatches(key, spec)
    if mismatches:
        raise IssuanceError(
            f"Certificate {certificate.key} has rotationPolicy Never, but the private key in "
            f"secret {existing.key} does not match {', '.join(mismatches)}, so it cannot be "
            "reused. User intervention required",
            reason="CannotRegenerateKey",
            hint="Delete tls.key from the secret, or set privateKey.rotationPolicy to Always",
        )
    return key, (("Reused", f"Reusing private key stored in existing Secret {existing.key}"),)


def repair_certificate_secret(
    certificate: Certificate, record: SecretRecord, view: SecretView, read_secret: SecretReader
) -> SecretRecord:
    """Rebuild a Secret's metadata and derived data around its current key and certificate."""
    assert view.key is not None and view.certificate_info is not None
    key_pem = record.data["tls.key"]
    material = KeyMaterial(
        key=view.key,
        key_pem=key_pem,
        chain_pem=record.data["tls.crt"],
        ca_pem=record.data.get("ca.crt"),
        info=view.certificate_info,
    )
    return repair_secret(certificate, record, material, read_secret)
