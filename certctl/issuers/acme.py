"""The ACME issuer (``spec.acme``): Let's Encrypt, ZeroSSL or any RFC 8555 server."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from certctl.acme.client import ACMEClient, Identifier
from certctl.acme.orders import OrderRequest, OrderRunner
from certctl.acme.settings import ACMESettings
from certctl.acme.solvers.base import SolverContext
from certctl.acme.solvers.registry import build_solver
from certctl.errors import IssuanceError, IssuerNotReadyError
from certctl.issuers.base import CertificateRequest, IssuedCertificate
from certctl.stores.base import SecretRecord

#: cert-manager generates RSA 2048 account keys.
ACCOUNT_KEY_SIZE = 2048


class ACMEIssuer:
    def __init__(self) -> None:
        # One registered account per (run, server, key), shared by the run's orders.
        self._clients: dict[tuple[int, str, str], ACMEClient] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def issue(self, request: CertificateRequest) -> IssuedCertificate:
        config = request.issuer.spec.config
        settings = request.acme or ACMESettings()
        if request.recorder is None:
            raise IssuanceError("The ACME issuer needs a state recorder", reason="InternalError")
        identifiers = _identifiers(request)
        client = self._client(request, config, settings)
        _check_profile(client, str(config.get("profile") or ""), request)
        not_after = None
        if config.get("enableDurationFeature"):
            not_after = request.now + request.duration
        issuer = f"{request.issuer.kind}/{request.issuer.name}"
        csr_der = request.csr.public_bytes(serialization.Encoding.DER)
        digest = hashlib.sha256(csr_der + request.now.isoformat().encode()).hexdigest()[:10]
        certificate = request.certificate
        order = OrderRequest(
            name=f"{certificate.name}-{digest}",
            namespace=certificate.namespace,
            certificate=certificate.key,
            issuer=issuer,
            identifiers=identifiers,
            csr_der=csr_der,
            solvers=tuple(config.get("solvers") or ()),
            labels=dict(certificate.metadata.labels),
            solver_context=SolverContext(
                secret_namespace=request.issuer_secret_namespace,
                read_secret=request.read_secret,
                settings=settings,
                issuer=issuer,
                store=request.store,
                namespace=certificate.namespace,
                annotations=dict(certificate.metadata.annotations),
            ),
            preferred_chain=str(config.get("preferredChain") or ""),
            profile=str(config.get("profile") or ""),
            not_after=not_after,
        )
        chain = OrderRunner(client, order, request.recorder, settings, build_solver).run()
        # cert-manager writes the leaf and intermediates and no ca.crt for ACME (§2).
        return IssuedCertificate(chain_pem=chain.encode(), ca_pem=None)

    def _client(
        self, request: CertificateRequest, config: Mapping[str, Any], settings: ACMESettings
    ) -> ACMEClient:
        server = str(config["server"])
        lock_key = (server, request.issuer.key)
        with self._lock:
            lock = self._locks.setdefault(lock_key, threading.Lock())
        # Orders of one issuer wait for its account: generating the key twice would
        # register two accounts.
        with lock:
            account_key = _account_key(request, config)
            cache_key = (id(settings), server, hashlib.sha256(account_key).hexdigest())
            client = self._clients.get(cache_key)
            if client is None:
                eab = config.get("externalAccountBinding") or {}
                _check_account_key(request, config, account_key)
                client = ACMEClient.connect(
                    server,
                    account_key,
                    email=str(config.get("email") or ""),
                    eab_key_id=str(eab.get("keyID") or ""),
                    eab_hmac_key=_eab_key(request, eab) if eab else "",
                    ca_bundle_pem=_ca_bundle(config),
                    skip_tls_verify=bool(config.get("skipTLSVerify")),
                )
                self._clients[cache_key] = client
                if request.recorder is not None:
                    request.recorder.record_event(
                        request.issuer.kind,
                        request.issuer.key,
                        "Normal",
                        "ACMEAccountRegistered",
                        f"The ACME account was registered with the ACME server: "
                        f"{client.account_url}",
                    )
            return client


def _identifiers(request: CertificateRequest) -> tuple[Identifier, ...]:
    spec = request.certificate.spec
    names = list(dict.fromkeys(spec.dns_names))
    addresses = list(dict.fromkeys(spec.ip_addresses))
    if spec.common_name and spec.common_name not in names and spec.common_name not in addresses:
        # cert-manager refuses such an order with reason InvalidOrder (§4.3).
        raise IssuanceError(
            f"Certificate {request.certificate.key} has commonName {spec.common_name!r}, which "
            "is not among its dnsNames or ipAddresses; an ACME order must authorize every name "
            "in the certificate",
            reason="InvalidOrder",
            hint="Add the common name to spec.dnsNames (or remove commonName)",
        )
    if spec.uris or spec.email_addresses or spec.other_names:
        raise IssuanceError(
            f"Certificate {request.certificate.key} asks for URI, email or otherName SANs, "
            "which ACME servers cannot validate",
            reason="InvalidOrder",
            hint="Keep only dnsNames and ipAddresses for ACME certificates",
        )
    if not names and not addresses:
        raise IssuanceError(
            f"Certificate {request.certificate.key} has no dnsNames or ipAddresses for the "
            "ACME order",
            reason="InvalidOrder",
        )
    return tuple(
        [Identifier("dns", name) for name in names] + [Identifier("ip", ip) for ip in addresses]
    )


def _check_profile(client: ACMEClient, profile: str, request: CertificateRequest) -> None:
    if not profile:
        return
    offered = client.profiles()
    if offered is None:
        raise IssuanceError(
            f"{request.issuer.kind} {request.issuer.name!r} asks for ACME profile {profile!r}, "
            "but the server's directory offers no profiles",
            reason="InvalidConfig",
            hint="Remove spec.acme.profile, or use a server that supports ACME profiles",
        )
    if profile not in offered:
        raise IssuanceError(
            f"{request.issuer.kind} {request.issuer.name!r} asks for ACME profile {profile!r}, "
            f"which the server does not offer (it offers: {', '.join(sorted(offered))})",
            reason="InvalidConfig",
        )


def _account_key(request: CertificateRequest, config: Mapping[str, Any]) -> bytes:
    reference = config.get("privateKeySecretRef") or {}
    name = str(reference.get("name"))
    data_key = str(reference.get("key") or "tls.key")
    namespace = request.issuer_secret_namespace
    secret = request.read_secret(namespace, name)
    if secret is not None and secret.data.get(data_key):
        return secret.data[data_key]
    where = f"{request.issuer.kind} {request.issuer.name!r}"
    if config.get("disableAccountKeyGeneration"):
        raise IssuerNotReadyError(
            f"{where} has disableAccountKeyGeneration set, and its account key secret "
            f"{namespace}/{name} (key {data_key!r}) does not exist",
            reason="ErrRegisterACMEAccount",
            hint="Create the secret with the existing account's RSA key, or unset "
            "disableAccountKeyGeneration",
        )
    if request.write_secret is None:
        raise IssuerNotReadyError(
            f"{where}: the account key secret {namespace}/{name} does not exist and this run "
            "cannot write it",
            reason="ErrRegisterACMEAccount",
        )
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=ACCOUNT_KEY_SIZE)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    data = dict(secret.data) if secret is not None else {}
    data[data_key] = pem
    request.write_secret(SecretRecord(namespace=namespace, name=name, data=data, type="Opaque"))
    return pem


def _check_account_key(
    request: CertificateRequest, config: Mapping[str, Any], account_key: bytes
) -> None:
    """A stored account key that is not an RSA PEM key leaves the issuer not ready."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    reference = config.get("privateKeySecretRef") or {}
    where = (
        f"{request.issuer.kind} {request.issuer.name!r}: the ACME account key in secret "
        f"{request.issuer_secret_namespace}/{reference.get('name')} "
        f"(key {str(reference.get('key') or 'tls.key')!r})"
    )
    from certctl.pki.keys import load_private_key

    try:
        key = load_private_key(account_key, source=where)
    except ValueError as exc:
        # load_private_key's sentence names the secret and what it holds, never the
        # parser's own text.
        raise IssuerNotReadyError(
            str(exc),
            reason="InvalidAccountKey",
            hint="Put the account's unencrypted PEM RSA key there, or delete the secret "
            "(without disableAccountKeyGeneration) to have a new account registered",
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise IssuerNotReadyError(
            f"{where} is not an RSA key; cert-manager and certctl use RSA account keys",
            reason="InvalidAccountKey",
            hint="Put the account's RSA key there, or delete the secret (without "
            "disableAccountKeyGeneration) to have a new account registered",
        )


def _eab_key(request: CertificateRequest, eab: Mapping[str, Any]) -> str:
    reference = eab.get("keySecretRef") or {}
    name, data_key = str(reference.get("name")), str(reference.get("key"))
    namespace = request.issuer_secret_namespace
    secret = request.read_secret(namespace, name)
    value = secret.data.get(data_key) if secret is not None else None
    if not value:
        raise IssuerNotReadyError(
            f"{request.issuer.kind} {request.issuer.name!r}: the External Account Binding "
            f"HMAC key secret {namespace}/{name} (key {data_key!r}) does not exist or is empty",
            reason="ErrRegisterACMEAccount",
            hint="Create that secret with the base64url HMAC key your CA gave you",
        )
    text = value.decode(errors="replace").strip()
    # RFC 8555 §7.3.4 and cert-manager: the MAC key is base64url, usually unpadded.
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", text):
        raise IssuerNotReadyError(
            f"{request.issuer.kind} {request.issuer.name!r}: the External Account Binding "
            f"HMAC key in secret {namespace}/{name} (key {data_key!r}) is not base64url",
            reason="ErrRegisterACMEAccount",
            hint="Store the HMAC key exactly as your CA gave it (letters, digits, - and _)",
        )
    return text


def _ca_bundle(config: Mapping[str, Any]) -> bytes | None:
    encoded = config.get("caBundle")
    if not encoded:
        return None
    try:
        return base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IssuanceError(
            f"spec.acme.caBundle is not valid base64: {exc}", reason="InvalidConfig"
        ) from exc
