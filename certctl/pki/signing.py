"""Signing a CSR into a certificate, as cert-manager's CA and SelfSigned issuers do.

Mirrors ``CertificateTemplateFromCertificateRequest`` (``pkg/util/pki/
certificatetemplate.go``) followed by Go's ``x509.CreateCertificate`` (reference
§1.13, §3.4, §3.5).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from .csr import (
    SIGNATURE_ALGORITHMS,
    default_hash_for_key,
    extended_key_usage_name,
    key_usage_names,
    split_usages,
)
from .keys import PrivateKey, public_keys_equal

__all__ = ["random_serial_number", "sign_certificate", "signature_hash"]

# Extensions copied verbatim from the CSR into the certificate. cert-manager copies
# the SAN extension (it carries otherNames Go cannot model) and re-encodes the name
# constraints from the CSR; every other requested extension is dropped.
_COPIED_EXTENSIONS = (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.NAME_CONSTRAINTS)


def random_serial_number() -> int:
    """A random positive serial below 2**128, like cert-manager's ``rand.Int(2^128)``."""
    while True:
        serial = secrets.randbits(128)
        if serial:  # RFC 5280 §4.1.2.2: the serial must be positive.
            return serial


def signature_hash(
    signature_algorithm: str, signing_key: PrivateKey
) -> hashes.HashAlgorithm | None:
    """The hash used to sign: the requested one if it fits the key, else the key's default.

    An issuer signs with its own key, whose family may differ from the requested
    certificate key (an ECDSA CA signing a request that asked for SHA256WithRSA),
    so a mismatch falls back to the default for the signing key (§1.13).
    """
    entry = SIGNATURE_ALGORITHMS.get(signature_algorithm)
    default = default_hash_for_key(signing_key)
    if entry is None:
        return default
    family, hash_type = entry
    fits = (
        (family == "Ed25519" and default is None)
        or (family == "RSA" and isinstance(signing_key, rsa.RSAPrivateKey))
        or (family == "ECDSA" and isinstance(signing_key, ec.EllipticCurvePrivateKey))
    )
    if not fits:
        return default
    return hash_type() if hash_type is not None else None


def sign_certificate(
    csr: x509.CertificateSigningRequest,
    *,
    signing_key: PrivateKey,
    issuer_certificate: x509.Certificate | None,
    not_before: dt.datetime,
    duration: dt.timedelta,
    is_ca: bool,
    usages: tuple[str, ...],
    crl_distribution_points: Sequence[str] = (),
    ocsp_servers: Sequence[str] = (),
    issuing_certificate_urls: Sequence[str] = (),
    signature_algorithm: str = "",
    check_request_signature: bool = True,
) -> x509.Certificate:
    """Issue a certificate for ``csr`` the way cert-manager's CA/SelfSigned issuers do.

    * Subject and public key come from the CSR; the SAN extension is copied
      verbatim but marked critical exactly when the subject is empty, and the
      name constraints are copied with their criticality.
    * Issuer name is the issuer certificate's subject, or the CSR subject when
      self-signed (``issuer_certificate`` is None).
    * Serial: random, positive, below 2**128.
    * Validity: ``not_before`` to ``not_before + duration``; cert-manager does
      **not** clamp this to the CA certificate's own expiry.
    * BasicConstraints ``CA=is_ca`` without a path length, critical.
    * KeyUsage (critical) and ExtendedKeyUsage from ``usages`` (+ ``cert sign``
      for a CA). If the CSR carries KeyUsage or ExtendedKeyUsage, both must
      equal the requested ones (``CertificateTemplateValidateAndOverrideKeyUsages``).
    * SubjectKeyIdentifier (RFC 5280 method 1, SHA-1 of the public key) and
      AuthorityKeyIdentifier from the issuer certificate's SKI (or its key when
      it has none), or from the certificate's own key when self-signed.
    * CRL distribution points (one point per URL, as Go writes them) and
      Authority Information Access (OCSP first, then caIssuers).

    Args:
        csr: the signing request.
        signing_key: the issuer's key (for self-signing, the request's own key).
        issuer_certificate: the CA certificate, or None to self-sign.
        not_before: the issuance time (aware).
        duration: the requested lifetime.
        is_ca: the requested CA flag.
        usages: the requested usage names (cert-manager's spelling).
        crl_distribution_points: ``spec.ca/selfSigned.crlDistributionPoints``.
        ocsp_servers: ``spec.ca.ocspServers``.
        issuing_certificate_urls: ``spec.ca.issuingCertificateURLs``.
        signature_algorithm: ``spec.signatureAlgorithm``; used only when it fits
            the signing key's family.
        check_request_signature: verify the CSR's own signature first, as
            cert-manager does (``csr.CheckSignature()``). Callers that built the
            CSR themselves in the same process may skip it.

    Returns:
        The signed certificate.

    Raises:
        ValueError: the CSR signature is invalid, the CSR's usages or CA flag
            contradict the request, the self-signing key does not match the
            CSR, or a usage name is unknown.
    """
    if check_request_signature and not csr.is_signature_valid:
        raise ValueError("the certificate signing request's signature is not valid")
    public_key = csr.public_key()
    if issuer_certificate is None and not public_keys_equal(signing_key, public_key):
        # The SelfSigned issuer signs with the request's own key (ErrorKeyMatch).
        raise ValueError("the private key does not match the public key in the request")

    key_usage, extended = split_usages(usages, is_ca)
    requested_key_usage: x509.KeyUsage | None = None
    requested_extended: x509.ExtendedKeyUsage | None = None
    copied: list[x509.Extension[x509.ExtensionType]] = []
    for extension in csr.extensions:
        value = extension.value
        if isinstance(value, x509.KeyUsage):
            requested_key_usage = value
        elif isinstance(value, x509.ExtendedKeyUsage):
            requested_extended = value
        elif isinstance(value, x509.BasicConstraints):
            requested_ca = value.ca
            if requested_ca != is_ca:
                raise ValueError(
                    f"the request's BasicConstraints say CA={requested_ca}, "
                    f"but the certificate was requested with isCA={is_ca}"
                )
        elif extension.oid in _COPIED_EXTENSIONS:
            copied.append(extension)
    if requested_key_usage is not None or requested_extended is not None:
        _check_usages_match(requested_key_usage, requested_extended, key_usage, extended)

    subject = csr.subject
    issuer_name = issuer_certificate.subject if issuer_certificate is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + duration)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if extended is not None:
        builder = builder.add_extension(extended, critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True)
    subject_key_id = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = builder.add_extension(subject_key_id, critical=False)
    builder = builder.add_extension(
        _authority_key_identifier(issuer_certificate, subject_key_id), critical=False
    )
    access: list[x509.AccessDescription] = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u)
        )
        for u in ocsp_servers
    ]
    access += [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u)
        )
        for u in issuing_certificate_urls
    ]
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    for extension in copied:
        critical = extension.critical
        if extension.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            # CertificateTemplateFromCSR re-derives SAN criticality from the subject
            # (RFC 5280 §4.2.1.6: critical when the subject is empty).
            critical = not subject.rdns
        builder = builder.add_extension(extension.value, critical=critical)
    if crl_distribution_points:
        points = [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
            for url in crl_distribution_points
        ]
        builder = builder.add_extension(x509.CRLDistributionPoints(points), critical=False)
    algorithm = signature_hash(signature_algorithm, signing_key)
    return builder.sign(signing_key, algorithm)  # type: ignore[arg-type]


def _authority_key_identifier(
    issuer_certificate: x509.Certificate | None, own: x509.SubjectKeyIdentifier
) -> x509.AuthorityKeyIdentifier:
    if issuer_certificate is None:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(own)
    try:
        issuer_ski = issuer_certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
    except x509.ExtensionNotFound:
        # Older CAs may lack an SKI: derive it from the CA key the same way.
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_certificate.public_key()  # type: ignore[arg-type]
        )
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)


def _check_usages_match(
    got_key_usage: x509.KeyUsage | None,
    got_extended: x509.ExtendedKeyUsage | None,
    want_key_usage: x509.KeyUsage | None,
    want_extended: x509.ExtendedKeyUsage | None,
) -> None:
    if got_key_usage != want_key_usage:
        raise ValueError(
            f"the key usages in the request ({_describe_ku(got_key_usage)}) do not match "
            f"the requested key usages ({_describe_ku(want_key_usage)})"
        )
    got = list(got_extended) if got_extended is not None else []
    want = list(want_extended) if want_extended is not None else []
    # Go compares the slices in order (slices.Equal).
    if got != want:
        raise ValueError(
            f"the extended key usages in the request ({_describe_oids(got)}) do not match "
            f"the requested extended key usages ({_describe_oids(want)})"
        )


def _describe_ku(value: x509.KeyUsage | None) -> str:
    return ", ".join(key_usage_names(value)) if value is not None else "none"


def _describe_oids(oids: list[x509.ObjectIdentifier]) -> str:
    return ", ".join(extended_key_usage_name(oid) for oid in oids) or "none"
