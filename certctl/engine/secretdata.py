"""The Secret cert-manager writes for a Certificate (reference §2), and its repair (§1.8)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certctl.api.models import Certificate, PKCS12Keystore
from certctl.engine.policies import (
    ANNOTATION_CERTIFICATE_NAME,
    ANNOTATION_ISSUER_GROUP,
    ANNOTATION_ISSUER_KIND,
    ANNOTATION_ISSUER_NAME,
)
from certctl.errors import IssuanceError
from certctl.stores.base import (
    MANAGED_LABEL,
    OWNED_ANNOTATION_PREFIXES,
    OWNED_LABEL_PREFIXES,
    TLS_SECRET_TYPE,
    SecretRecord,
)

if TYPE_CHECKING:
    from cryptography import x509

    from certctl.api.models import SecretKeySelector
    from certctl.pki.certificates import CertificateInfo
    from certctl.pki.keys import PrivateKey

LABEL_FAO = "controller.cert-manager.io/fao"
#: Secret data keys cert-manager derives from tls.crt/tls.key, by additionalOutputFormats type.
OUTPUT_FORMAT_KEYS = {"CombinedPEM": "tls-combined.pem", "DER": "key.der"}
KEYSTORE_KEYS = {
    "pkcs12": ("keystore.p12", "truststore.p12"),
    "jks": ("keystore.jks", "truststore.jks"),
}
#: Reads a secret: (namespace, name) -> record or None.
SecretReader = Callable[[str, str], SecretRecord | None]


@dataclass(frozen=True)
class KeyMaterial:
    """The pieces of a Secret that come from one issuance."""

    key: PrivateKey
    key_pem: bytes
    chain_pem: bytes
    ca_pem: bytes | None
    chain: list[x509.Certificate] = field(default_factory=list)
    #: A description of the leaf, when the caller has one already.
    info: CertificateInfo | None = None


def desired_labels(certificate: Certificate) -> dict[str, str]:
    labels = (
        dict(certificate.spec.secret_template.labels) if certificate.spec.secret_template else {}
    )
    labels[LABEL_FAO] = "true"
    labels[MANAGED_LABEL] = "true"
    return labels


def desired_annotations(certificate: Certificate, leaf: CertificateInfo) -> dict[str, str]:
    """cert-manager's annotations: template ones first, so its own can never be overwritten."""
    from certctl.pki.certificates import certificate_annotations

    annotations = (
        dict(certificate.spec.secret_template.annotations)
        if certificate.spec.secret_template
        else {}
    )
    ref = certificate.spec.issuer_ref
    annotations.update(
        {
            ANNOTATION_CERTIFICATE_NAME: certificate.name,
            ANNOTATION_ISSUER_NAME: ref.name,
            ANNOTATION_ISSUER_KIND: ref.kind,
            ANNOTATION_ISSUER_GROUP: ref.group,
        }
    )
    annotations.update(certificate_annotations(leaf))
    return annotations


def build_secret(
    certificate: Certificate,
    material: KeyMaterial,
    read_secret: SecretReader,
    existing: SecretRecord | None,
) -> SecretRecord:
    """Assemble the whole Secret for ``material``: data keys, labels and annotations."""
    from certctl.pki.certificates import describe_certificate, parse_pem_certificates

    chain = material.chain or parse_pem_certificates(material.chain_pem)
    info = material.info or describe_certificate(chain[0])
    data: dict[str, bytes] = {"tls.crt": material.chain_pem, "tls.key": material.key_pem}
    if material.ca_pem:
        data["ca.crt"] = material.ca_pem
    data.update(_output_formats(certificate, material.key_pem, material.chain_pem))
    data.update(_keystores(certificate, material, chain, read_secret))
    return SecretRecord(
        namespace=certificate.namespace,
        name=certificate.spec.secret_name,
        data=data,
        # The type of an existing Secret is immutable in Kubernetes; keep it.
        type=existing.type if existing is not None else TLS_SECRET_TYPE,
        labels=desired_labels(certificate),
        annotations=desired_annotations(certificate, info),
    )


def find_drift(certificate: Certificate, record: SecretRecord, leaf: CertificateInfo) -> list[str]:
    """List what the Secret's metadata and derived data lack or carry in excess (§1.8)."""
    drift: list[str] = []
    if _differs(record.labels, desired_labels(certificate), OWNED_LABEL_PREFIXES):
        drift.append("labels")
    wanted_annotations = desired_annotations(certificate, leaf)
    if _differs(record.annotations, wanted_annotations, OWNED_ANNOTATION_PREFIXES):
        drift.append("annotations")
    key_pem, chain_pem = record.data.get("tls.key", b""), record.data.get("tls.crt", b"")
    wanted_outputs = _output_formats(certificate, key_pem, chain_pem)
    for data_key in OUTPUT_FORMAT_KEYS.values():
        if record.data.get(data_key) != wanted_outputs.get(data_key):
            drift.append(data_key)
    wanted_keystores = _wanted_keystore_keys(certificate, bool(record.data.get("ca.crt")))
    for keys in KEYSTORE_KEYS.values():
        for data_key in keys:
            if (data_key in record.data) != (data_key in wanted_keystores):
                drift.append(data_key)
    return drift


def _differs(
    actual: Mapping[str, str], wanted: Mapping[str, str], prefixes: tuple[str, ...]
) -> bool:
    """Whether ``actual`` lacks a wanted value, or carries a stale key certctl owns."""
    if any(actual.get(key) != value for key, value in wanted.items()):
        return True
    return any(key.startswith(prefixes) and key not in wanted for key in actual)


def repair_secret(
    certificate: Certificate,
    record: SecretRecord,
    material: KeyMaterial,
    read_secret: SecretReader,
) -> SecretRecord:
    """Rebuild the Secret around its existing key and certificate, issuing nothing new.

    Keystores that exist already are kept as they are: rebuilding one would only
    change its salt.
    """
    repaired = build_secret(certificate, material, read_secret, record)
    for keys in KEYSTORE_KEYS.values():
        for data_key in keys:
            if data_key in repaired.data and data_key in record.data:
                repaired.data[data_key] = record.data[data_key]
    return repaired


def _output_formats(certificate: Certificate, key_pem: bytes, chain_pem: bytes) -> dict[str, bytes]:
    from certctl.pki.keystores import combined_pem, key_der

    outputs: dict[str, bytes] = {}
    for output_type in certificate.spec.additional_output_formats:
        if output_type == "CombinedPEM":
            outputs["tls-combined.pem"] = combined_pem(key_pem, chain_pem)
        elif output_type == "DER":
            outputs["key.der"] = key_der(key_pem)
    return outputs


def _wanted_keystore_keys(certificate: Certificate, has_ca: bool) -> set[str]:
    keystores = certificate.spec.keystores
    wanted: set[str] = set()
    for kind in ("pkcs12", "jks"):
        config = getattr(keystores, kind) if keystores else None
        if config is not None and config.create:
            keystore_key, truststore_key = KEYSTORE_KEYS[kind]
            wanted.add(keystore_key)
            if has_ca:
                wanted.add(truststore_key)
    return wanted


def _keystores(
    certificate: Certificate,
    material: KeyMaterial,
    chain: list[x509.Certificate],
    read_secret: SecretReader,
) -> dict[str, bytes]:
    keystores = certificate.spec.keystores
    if keystores is None:
        return {}
    from certctl.pki.certificates import parse_pem_certificates
    from certctl.pki.keystores import build_jks, build_pkcs12

    ca_certs = parse_pem_certificates(material.ca_pem) if material.ca_pem else []
    data: dict[str, bytes] = {}
    for kind, config in (("pkcs12", keystores.pkcs12), ("jks", keystores.jks)):
        if config is None or not config.create:
            continue
        password = _keystore_password(
            certificate, kind, config.password, config.password_secret_ref, read_secret
        )
        if isinstance(config, PKCS12Keystore):
            keystore, truststore = build_pkcs12(
                material.key, chain, ca_certs, password, config.profile
            )
        else:
            keystore, truststore = build_jks(material.key, chain, ca_certs, password, config.alias)
        keystore_key, truststore_key = KEYSTORE_KEYS[kind]
        data[keystore_key] = keystore
        if truststore is not None:
            data[truststore_key] = truststore
    return data


def _keystore_password(
    certificate: Certificate,
    kind: str,
    literal: str | None,
    reference: SecretKeySelector | None,
    read_secret: SecretReader,
) -> str:
    if literal:
        return literal
    assert reference is not None  # validation demands one of the two
    key = reference.key or "keystorePassword"
    secret = read_secret(certificate.namespace, reference.name)
    value = secret.data.get(key) if secret is not None else None
    if not value:
        raise IssuanceError(
            f"The {kind} keystore password of Certificate {certificate.key} is in secret "
            f"{certificate.namespace}/{reference.name} key {key!r}, which "
            + ("does not exist" if secret is None else "is missing or empty"),
            reason="KeystorePasswordSecretNotFound",
            hint="Create that secret in the store, or set the password field instead",
        )
    return value.decode()
