"""The interface every issuer implements, and what flows through it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cryptography import x509

    from certctl.acme.orders import ACMERecorder
    from certctl.acme.settings import ACMESettings
    from certctl.api.models import Certificate, Issuer
    from certctl.pki.keys import PrivateKey
    from certctl.stores.base import SecretRecord, SecretStore

#: Reads a secret the issuer needs from the store: (namespace, name) -> record or None.
SecretReader = Callable[[str, str], "SecretRecord | None"]
#: Writes a secret the issuer owns (an ACME account key) to the store.
SecretWriter = Callable[["SecretRecord"], object]


@dataclass(frozen=True)
class CertificateRequest:
    """What cert-manager would put in a CertificateRequest, plus the local context.

    Attributes:
        certificate: the Certificate being issued.
        issuer: the Issuer or ClusterIssuer it refers to.
        csr: the signing request built from the spec with ``private_key``.
        private_key: the key the new certificate is for (self-signed issuers sign with it).
        duration: requested lifetime.
        is_ca: requested CA flag.
        usages: requested usages (also when the CSR does not carry them).
        issuer_secret_namespace: where the issuer's own secrets live.
        read_secret: reads issuer secrets from the store.
        now: the time of issuance.
        write_secret: writes secrets the issuer owns (an ACME account key).
        acme: the run's ACME settings (resolvers, deadlines, cancellation).
        recorder: where ACME Orders, Challenges and their events are recorded.
        store: the run's store (solvers that create objects in a cluster use its client).
    """

    certificate: Certificate
    issuer: Issuer
    csr: x509.CertificateSigningRequest
    private_key: PrivateKey
    duration: dt.timedelta
    is_ca: bool
    usages: tuple[str, ...]
    issuer_secret_namespace: str
    read_secret: SecretReader
    now: dt.datetime
    write_secret: SecretWriter | None = None
    acme: ACMESettings | None = None
    recorder: ACMERecorder | None = None
    store: SecretStore | None = None


@dataclass(frozen=True)
class IssuedCertificate:
    """An issuer's answer: ``tls.crt`` (leaf then intermediates) and ``ca.crt`` if known."""

    chain_pem: bytes
    ca_pem: bytes | None = None
    #: Warning events to record, as (reason, message) pairs.
    warnings: tuple[tuple[str, str], ...] = ()


class IssuerBackend(Protocol):
    """Signs a CertificateRequest. Registered by its spec key in ``certctl.issuers.registry``."""

    def issue(self, request: CertificateRequest) -> IssuedCertificate:
        """Issue the certificate or raise an ``IssuanceError`` subclass saying why."""
        ...
