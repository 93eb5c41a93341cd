"""The CA issuer (``spec.ca``): signs with a CA keypair kept in a Secret."""

from __future__ import annotations

from cryptography import x509

from certctl.errors import IssuanceError, IssuerNotReadyError
from certctl.issuers.base import CertificateRequest, IssuedCertificate
from certctl.pki.certificates import encode_pem, order_chain, parse_pem_certificates
from certctl.pki.keys import PrivateKey, load_private_key, public_keys_equal
from certctl.pki.signing import sign_certificate


class CAIssuer:
    def issue(self, request: CertificateRequest) -> IssuedCertificate:
        config = request.issuer.spec.config
        ca_chain, ca_key = _load_keypair(request, str(config["secretName"]))
        try:
            certificate = sign_certificate(
                request.csr,
                signing_key=ca_key,
                issuer_certificate=ca_chain[0],
                not_before=request.now,
                duration=request.duration,
                is_ca=request.is_ca,
                usages=request.usages,
                crl_distribution_points=tuple(config.get("crlDistributionPoints") or ()),
                ocsp_servers=tuple(config.get("ocspServers") or ()),
                issuing_certificate_urls=tuple(config.get("issuingCertificateURLs") or ()),
                signature_algorithm=request.certificate.spec.signature_algorithm,
                # certctl built this CSR a moment ago; checking its signature again buys nothing.
                check_request_signature=False,
            )
        except ValueError as exc:
            raise IssuanceError(
                f"{request.issuer.kind} {request.issuer.name!r} could not sign "
                f"{request.certificate.key}: {exc}",
                reason="SigningError",
            ) from exc
        try:
            parts = order_chain([certificate, *ca_chain])
        except ValueError as exc:
            raise IssuerNotReadyError(
                f"The CA secret of {request.issuer.kind} {request.issuer.name!r} holds a chain "
                f"that does not lead from the signing certificate to a root: {exc}",
                reason="SecretInvalidData",
                hint="Put the CA certificate first in tls.crt, followed by its issuers",
            ) from exc
        # ca.crt is the top of the chain: the root when present, else the highest intermediate.
        return IssuedCertificate(chain_pem=encode_pem(parts.chain), ca_pem=encode_pem([parts.top]))


def _load_keypair(
    request: CertificateRequest, secret_name: str
) -> tuple[list[x509.Certificate], PrivateKey]:
    issuer = request.issuer
    namespace = request.issuer_secret_namespace
    where = f"{issuer.kind} {issuer.name!r}"
    secret = request.read_secret(namespace, secret_name)
    if secret is None:
        raise IssuerNotReadyError(
            f"{where} signs with the CA keypair in secret {namespace}/{secret_name}, "
            "which does not exist",
            reason="SecretMissing",
            hint=(
                "Issue the CA Certificate that writes this secret first (include its manifest "
                "in the same -f set), or create the secret with tls.crt and tls.key"
            ),
            retryable=True,
        )
    crt, key = secret.data.get("tls.crt"), secret.data.get("tls.key")
    if not crt or not key:
        missing = "tls.crt" if not crt else "tls.key"
        raise IssuerNotReadyError(
            f"{where}: secret {namespace}/{secret_name} has no {missing}",
            reason="SecretInvalidData",
            hint="The CA secret needs both tls.crt and tls.key",
        )
    try:
        chain = parse_pem_certificates(crt)
        extra = parse_pem_certificates(secret.data["ca.crt"]) if secret.data.get("ca.crt") else []
        private_key = load_private_key(key)
    except ValueError as exc:
        raise IssuerNotReadyError(
            f"{where}: secret {namespace}/{secret_name} cannot be decoded: {exc}",
            reason="SecretInvalidData",
            hint="Check that tls.crt and tls.key hold PEM data",
        ) from exc
    signer = chain[0]
    if not public_keys_equal(signer.public_key(), private_key):
        raise IssuerNotReadyError(
            f"{where}: in secret {namespace}/{secret_name}, tls.key does not match tls.crt",
            reason="ErrInvalidKeyPair",
            hint="Reissue the CA Certificate or restore a matching key",
        )
    try:
        is_ca = signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise IssuerNotReadyError(
            f"{where}: the certificate in secret {namespace}/{secret_name} is not a CA",
            reason="ErrInvalidKeyPair",
            hint="Set isCA: true on the Certificate that produces this secret and reissue it",
        )
    # cert-manager appends the CA secret's own ca.crt to the chain it builds.
    return [*chain, *(cert for cert in extra if cert not in chain)], private_key
