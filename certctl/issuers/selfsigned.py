"""The selfSigned issuer (``spec.selfSigned``): signs a certificate with its own key."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from certctl.errors import IssuanceError
from certctl.issuers.base import CertificateRequest, IssuedCertificate
from certctl.pki.signing import sign_certificate


class SelfSignedIssuer:
    def issue(self, request: CertificateRequest) -> IssuedCertificate:
        config = request.issuer.spec.config
        try:
            certificate = sign_certificate(
                request.csr,
                signing_key=request.private_key,
                issuer_certificate=None,
                not_before=request.now,
                duration=request.duration,
                is_ca=request.is_ca,
                usages=request.usages,
                crl_distribution_points=tuple(config.get("crlDistributionPoints") or ()),
                signature_algorithm=request.certificate.spec.signature_algorithm,
                # certctl built this CSR a moment ago; checking its signature again buys nothing.
                check_request_signature=False,
            )
        except ValueError as exc:
            raise IssuanceError(
                f"The selfSigned issuer could not sign {request.certificate.key}: {exc}",
                reason="SigningError",
            ) from exc
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        warnings: tuple[tuple[str, str], ...] = ()
        if len(certificate.subject) == 0:
            # RFC 5280 §4.1.2.4 wants a non-empty issuer DN; cert-manager warns and carries on.
            warnings = (
                (
                    "BadConfig",
                    "Certificate will be issued with an empty Issuer DN, which contravenes "
                    "RFC 5280 and could break some strict clients",
                ),
            )
        # cert-manager's selfSigned issuer returns the certificate as its own CA.
        return IssuedCertificate(chain_pem=pem, ca_pem=pem, warnings=warnings)
