"""Issuers whose manifests validate but which this version of certctl cannot issue from yet."""

from __future__ import annotations

from certctl.errors import NotSupportedError
from certctl.issuers.base import CertificateRequest, IssuedCertificate


class _NotYetSupportedIssuer:
    block = ""
    title = ""

    def issue(self, request: CertificateRequest) -> IssuedCertificate:
        issuer = request.issuer
        raise NotSupportedError(
            f"{issuer.kind} {issuer.name!r} uses spec.{self.block} ({self.title}), and issuing "
            f"from {self.title} issuers is not supported yet in this version of certctl",
            hint=(
                "The manifest is valid and was checked; issue this Certificate from a "
                "selfSigned or ca issuer for now, or let cert-manager issue it in a cluster"
            ),
        )


class VaultIssuer(_NotYetSupportedIssuer):
    block = "vault"
    title = "Vault"


class VenafiIssuer(_NotYetSupportedIssuer):
    block = "venafi"
    title = "Venafi"
