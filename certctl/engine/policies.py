"""The reissue chain: why a Certificate needs a new certificate, if it does.

This mirrors cert-manager's trigger policy chain (reference §1.7): an ordered list
of pure checks over the Certificate, its Secret, and the time; the first check
that fires wins and gives the stable reason string cert-manager uses.

certctl keeps no CertificateRequest objects, so where cert-manager compares the
spec with the current CertificateRequest (step 8) certctl compares the spec with
the issued certificate itself, field by field (the fuzzy comparison of step 8b,
widened to the subject, isCA and usages as DESIGN.md §6 asks).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certctl.api.models import Certificate

if TYPE_CHECKING:
    from cryptography import x509

    from certctl.pki.certificates import CertificateInfo
    from certctl.pki.keys import PrivateKey
    from certctl.stores.base import SecretRecord

ANNOTATION_CERTIFICATE_NAME = "cert-manager.io/certificate-name"
ANNOTATION_ISSUER_NAME = "cert-manager.io/issuer-name"
ANNOTATION_ISSUER_KIND = "cert-manager.io/issuer-kind"
ANNOTATION_ISSUER_GROUP = "cert-manager.io/issuer-group"


@dataclass(frozen=True)
class Trigger:
    """Why a certificate must be (re)issued: cert-manager's reason and message."""

    reason: str
    message: str


@dataclass(frozen=True)
class SecretView:
    """What the chain needs to know about the Secret, decoded once by the caller.

    Attributes:
        record: the secret, or None when it does not exist.
        key: the decoded ``tls.key``, or None when absent or undecodable.
        key_error: why ``tls.key`` could not be decoded ("" when it could, or is absent).
        certificate: the decoded leaf of ``tls.crt``, or None.
        certificate_error: why ``tls.crt`` could not be decoded.
        certificate_info: a description of the leaf, when it decoded.
        key_matches: whether the leaf's public key belongs to ``key``.
        key_mismatches: spec fields the key does not satisfy (algorithm, size).
    """

    record: SecretRecord | None
    key: PrivateKey | None = None
    key_error: str = ""
    certificate: x509.Certificate | None = None
    certificate_info: CertificateInfo | None = None
    certificate_error: str = ""
    key_matches: bool = False
    key_mismatches: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyInput:
    """What the chain decides on.

    ``exact_issuer`` says the issuer builds the certificate from the request field by
    field (selfSigned and ca), so the subject, isCA and usages of what it issued can be
    compared with the spec. Other issuers (ACME, Vault, Venafi) add usages and drop
    subject fields at will; for them only the names are compared, as cert-manager does
    when it has no CertificateRequest to compare with (§1.7 step 8b).
    """

    certificate: Certificate
    secret: SecretView
    now: dt.datetime
    renewal_time: dt.datetime | None
    exact_issuer: bool = True


Check = Callable[[PolicyInput], Trigger | None]


def check_secret_exists(data: PolicyInput) -> Trigger | None:
    if data.secret.record is None:
        return Trigger("DoesNotExist", "Issuing certificate as Secret does not exist")
    return None


def check_secret_has_data(data: PolicyInput) -> Trigger | None:
    record = data.secret.record
    assert record is not None
    if not record.data:
        return Trigger("MissingData", "Issuing certificate as Secret does not contain any data")
    if not record.data.get("tls.key"):
        return Trigger(
            "MissingData", "Issuing certificate as Secret does not contain a private key"
        )
    if not record.data.get("tls.crt"):
        return Trigger(
            "MissingData", "Issuing certificate as Secret does not contain a certificate"
        )
    return None


def check_key_pair(data: PolicyInput) -> Trigger | None:
    secret = data.secret
    if secret.key is None:
        return Trigger(
            "InvalidKeyPair",
            f"Issuing certificate as Secret contains invalid private key data: {secret.key_error}",
        )
    if secret.certificate_info is None:
        return Trigger(
            "InvalidCertificate",
            "Issuing certificate as Secret contains an invalid certificate: "
            f"{secret.certificate_error}",
        )
    if not secret.key_matches:
        return Trigger(
            "InvalidKeyPair",
            "Issuing certificate as Secret contains a private key that does not match the "
            "certificate",
        )
    return None


def check_issuer_annotations(data: PolicyInput) -> Trigger | None:
    record = data.secret.record
    assert record is not None
    annotations = record.annotations
    # cert-manager runs this check only when one of the three annotations is there, so a
    # hand-made or migrated pair without them is judged by the checks that follow.
    if not any(
        key in annotations
        for key in (ANNOTATION_ISSUER_NAME, ANNOTATION_ISSUER_KIND, ANNOTATION_ISSUER_GROUP)
    ):
        return None
    name = annotations.get(ANNOTATION_ISSUER_NAME, "")
    kind = annotations.get(ANNOTATION_ISSUER_KIND, "")
    group = annotations.get(ANNOTATION_ISSUER_GROUP, "")
    if data.certificate.spec.issuer_ref.same_as(name, kind, group):
        return None
    return Trigger(
        "IncorrectIssuer",
        "Issuing certificate as Secret was previously issued by "
        f'"{kind or "Issuer"}.{group or "cert-manager.io"}/{name}"',
    )


def check_certificate_annotation(data: PolicyInput) -> Trigger | None:
    record = data.secret.record
    assert record is not None
    owner = record.annotations.get(ANNOTATION_CERTIFICATE_NAME)
    if owner is None or owner == data.certificate.name:
        return None
    return Trigger(
        "IncorrectCertificate",
        f'Secret was issued for "{owner}". If this message is not transient, you might have two '
        "conflicting Certificates pointing to the same secret.",
    )


def check_private_key_spec(data: PolicyInput) -> Trigger | None:
    if not data.secret.key_mismatches:
        return None
    fields = ", ".join(data.secret.key_mismatches)
    return Trigger("SecretMismatch", f"Existing private key is not up to date for spec: [{fields}]")


def check_issued_matches_spec(data: PolicyInput) -> Trigger | None:
    info = data.secret.certificate_info
    assert info is not None
    fields = spec_fields_differing_from_certificate(
        data.certificate, info, names_only=not data.exact_issuer
    )
    if not fields:
        return None
    return Trigger(
        "SecretMismatch",
        "Issuing certificate as Existing issued Secret is not up to date for spec: "
        f"[{', '.join(fields)}]",
    )


def renewal_disabled(certificate: Certificate) -> bool:
    """``spec.renewal.policy: Disabled``: time never triggers a reissue (reference §1.6)."""
    renewal = certificate.spec.renewal
    return renewal is not None and renewal.policy == "Disabled"


def check_not_expired(data: PolicyInput) -> Trigger | None:
    info = data.secret.certificate_info
    assert info is not None
    # cert-manager returns no time-based trigger at all for Disabled, expiry included;
    # spec changes and Secret problems (the checks above) still reissue.
    if renewal_disabled(data.certificate) or data.now < info.not_after:
        return None
    return Trigger("Expired", f"Certificate expired on {format_rfc1123(info.not_after)}")


def check_renewal_due(data: PolicyInput) -> Trigger | None:
    if data.renewal_time is None or data.now < data.renewal_time:
        return None
    return Trigger(
        "Renewing",
        f"Renewing certificate as renewal was scheduled at {format_rfc3339(data.renewal_time)}",
    )


#: The chain, in cert-manager's order. Each check may assume the earlier ones passed.
REISSUE_CHAIN: tuple[Check, ...] = (
    check_secret_exists,
    check_secret_has_data,
    check_key_pair,
    check_issuer_annotations,
    check_certificate_annotation,
    check_private_key_spec,
    check_issued_matches_spec,
    check_not_expired,
    check_renewal_due,
)


def evaluate_reissue_chain(
    data: PolicyInput, chain: Sequence[Check] = REISSUE_CHAIN
) -> Trigger | None:
    """Return the first trigger that fires, or None when the certificate is up to date."""
    for check in chain:
        trigger = check(data)
        if trigger is not None:
            return trigger
    return None


def spec_fields_differing_from_certificate(
    certificate: Certificate, info: CertificateInfo, *, names_only: bool = False
) -> list[str]:
    """Name the spec fields whose values the issued certificate does not carry.

    Lists compare unordered, as cert-manager does. The common name and DNS names
    compare as one set, because an issuer may move the CN into the SANs. With
    ``names_only`` the subject, isCA and usages are not compared.
    """
    spec = certificate.spec
    differing: list[str] = []
    wanted_names = set(spec.dns_names)
    issued_names = set(info.dns_names)
    if spec.common_name:
        wanted_names.add(spec.common_name)
        if info.common_name:
            issued_names.add(info.common_name)
    elif info.common_name and not spec.literal_subject:
        issued_names.add(info.common_name)
        wanted_names.add(info.common_name)
    if wanted_names != issued_names:
        differing.append(
            "spec.commonName"
            if spec.common_name and spec.common_name not in issued_names
            else "spec.dnsNames"
        )
    if _normalise_ips(spec.ip_addresses) != _normalise_ips(info.ip_addresses):
        differing.append("spec.ipAddresses")
    if set(spec.uris) != set(info.uris):
        differing.append("spec.uris")
    if set(spec.email_addresses) != set(info.email_addresses):
        differing.append("spec.emailAddresses")
    if spec.other_names and {(o.oid, o.utf8_value) for o in spec.other_names} != set(
        info.other_names
    ):
        differing.append("spec.otherNames")
    if names_only:
        return differing
    if spec.literal_subject:
        if not _same_literal_subject(certificate, info.subject):
            differing.append("spec.literalSubject")
    else:
        differing.extend(_subject_differences(certificate, info))
    if spec.is_ca != info.is_ca:
        differing.append("spec.isCA")
    if _wanted_usages(certificate) != set(info.key_usages) | set(info.extended_key_usages):
        differing.append("spec.usages")
    return differing


def _normalise_ips(values: Sequence[str]) -> set[str]:
    result = set()
    for value in values:
        try:
            result.add(str(ipaddress.ip_address(value)))
        except ValueError:
            result.add(value)
    return result


def _subject_differences(certificate: Certificate, info: CertificateInfo) -> list[str]:
    subject = certificate.spec.subject
    pairs: list[tuple[str, tuple[str, ...], Sequence[str]]] = [
        ("organizations", subject.organizations if subject else (), info.organizations),
        ("countries", subject.countries if subject else (), info.countries),
        (
            "organizationalUnits",
            subject.organizational_units if subject else (),
            info.organizational_units,
        ),
        ("localities", subject.localities if subject else (), info.localities),
        ("provinces", subject.provinces if subject else (), info.provinces),
        ("streetAddresses", subject.street_addresses if subject else (), info.street_addresses),
        ("postalCodes", subject.postal_codes if subject else (), info.postal_codes),
    ]
    differing = [
        f"spec.subject.{name}" for name, wanted, issued in pairs if set(wanted) != set(issued)
    ]
    wanted_serial = subject.serial_number if subject else ""
    if wanted_serial != info.subject_serial_number:
        differing.append("spec.subject.serialNumber")
    return differing


def _same_literal_subject(certificate: Certificate, issued_subject: str) -> bool:
    from certctl.pki.csr import build_subject

    try:
        return build_subject(certificate.spec).rfc4514_string() == issued_subject
    except ValueError:
        return False


#: cert-manager's aliases: both spellings name one usage.
_USAGE_ALIASES = {"signing": "digital signature", "s/mime": "email protection"}


def _wanted_usages(certificate: Certificate) -> set[str]:
    usages = {_USAGE_ALIASES.get(usage, usage) for usage in certificate.spec.usages}
    if certificate.spec.is_ca:
        usages.add("cert sign")
    return usages


def format_rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_rfc1123(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")
