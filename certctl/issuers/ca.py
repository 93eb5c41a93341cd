"""The CA issuer (``spec.ca``): signs with a CA keypair kept in a Secret."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from cryptography import x509

from certctl.errors import IssuanceError, IssuerNotReadyError
from certctl.issuers.base import CertificateRequest, IssuedCertificate
from certctl.pki.certificates import ChainParts, encode_pem, order_chain, parse_pem_certificates
from certctl.pki.keys import PrivateKey, load_private_key, public_keys_equal
from certctl.pki.signing import sign_certificate
from certctl.stores.base import SecretRecord


@dataclass(frozen=True)
class _Keypair:
    """A decoded, checked CA secret, with the chain and ca.crt every leaf gets."""

    signer: x509.Certificate
    key: PrivateKey
    #: Certificates that follow the leaf in tls.crt (the signer and its intermediates).
    chain_tail: bytes
    #: ca.crt: the root when present, else the highest intermediate.
    ca_pem: bytes


class CAIssuer:
    def __init__(self) -> None:
        # Decoding and checking a keypair costs more than signing a leaf; runs that issue
        # hundreds of leaves from one CA decode it once per distinct secret content.
        self._keypairs: dict[tuple[str, str, str], _Keypair] = {}
        self._lock = threading.Lock()

    def issue(self, request: CertificateRequest) -> IssuedCertificate:
        config = request.issuer.spec.config
        keypair = self._keypair(request, str(config["secretName"]))
        try:
            certificate = sign_certificate(
                request.csr,
                signing_key=keypair.key,
                issuer_certificate=keypair.signer,
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
        return IssuedCertificate(
            chain_pem=encode_pem([certificate]) + keypair.chain_tail, ca_pem=keypair.ca_pem
        )

    def _keypair(self, request: CertificateRequest, secret_name: str) -> _Keypair:
        namespace = request.issuer_secret_namespace
        secret = request.read_secret(namespace, secret_name)
        where = f"{request.issuer.kind} {request.issuer.name!r}"
        if secret is None:
            raise IssuerNotReadyError(
                f"{where} signs with the CA keypair in secret {namespace}/{secret_name}, "
                "which does not exist",
                reason="SecretMissing",
                hint=(
                    "Issue the CA Certificate that writes this secret first (include its "
                    "manifest in the same -f set), or create the secret with tls.crt and tls.key"
                ),
                retryable=True,
            )
        # Keyed by content, not by the store's version token: a resourceVersion is unique
        # only within one cluster, and a process may talk to several.
        digest = hashlib.sha256()
        for data_key in ("tls.crt", "tls.key", "ca.crt"):
            digest.update(secret.data.get(data_key, b"") + b"\0")
        cache_key = (namespace, secret_name, digest.hexdigest())
        with self._lock:
            cached = self._keypairs.get(cache_key)
            if cached is None:
                cached = _decode_keypair(secret, where)
                self._keypairs[cache_key] = cached
        return cached


def _decode_keypair(secret: SecretRecord, where: str) -> _Keypair:
    name = secret.key
    crt, key = secret.data.get("tls.crt"), secret.data.get("tls.key")
    if not crt or not key:
        missing = "tls.crt" if not crt else "tls.key"
        raise IssuerNotReadyError(
            f"{where}: secret {name} has no {missing}",
            reason="SecretInvalidData",
            hint="The CA secret needs both tls.crt and tls.key",
        )
    try:
        chain = parse_pem_certificates(crt, source="tls.crt")
        ca_crt = secret.data.get("ca.crt")
        extra = parse_pem_certificates(ca_crt, source="ca.crt") if ca_crt else []
        private_key = load_private_key(key, source="tls.key")
    except ValueError as exc:
        raise IssuerNotReadyError(
            f"{where}: secret {name} cannot be decoded: {exc}",
            reason="SecretInvalidData",
            hint="Check that tls.crt and tls.key hold PEM data",
        ) from exc
    signer = chain[0]
    if not public_keys_equal(signer.public_key(), private_key):
        raise IssuerNotReadyError(
            f"{where}: in secret {name}, tls.key does not match tls.crt",
            reason="ErrInvalidKeyPair",
            hint="Reissue the CA Certificate or restore a matching key",
        )
    try:
        is_ca = signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise IssuerNotReadyError(
            f"{where}: the certificate in secret {name} is not a CA",
            reason="ErrInvalidKeyPair",
            hint="Set isCA: true on the Certificate that produces this secret and reissue it",
        )
    # cert-manager appends the CA secret's own ca.crt to the chain it builds.
    try:
        parts = order_chain([*chain, *extra])
    except ValueError as exc:
        raise IssuerNotReadyError(
            f"{where}: secret {name} holds certificates that do not form one chain: {exc}",
            reason="SecretInvalidData",
            hint="Put the CA certificate first in tls.crt, followed by its issuers",
        ) from exc
    if parts.leaf != signer:
        raise IssuerNotReadyError(
            f"{where}: in secret {name}, the first certificate of tls.crt is not the bottom "
            "of its chain",
            reason="SecretInvalidData",
            hint="Put the CA certificate first in tls.crt, followed by its issuers",
        )
    return _Keypair(
        signer=signer,
        key=private_key,
        chain_tail=encode_pem(_chain_above_leaf(parts)),
        ca_pem=encode_pem([parts.top]),
    )


def _chain_above_leaf(parts: ChainParts) -> list[x509.Certificate]:
    """What follows a new leaf in tls.crt: the signer and intermediates, never a root."""
    return [cert for cert in parts.chain if cert is not parts.root]
