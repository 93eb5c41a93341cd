"""Validated, defaulted cert-manager.io/v1 objects.

These are the typed outputs of ``certctl.api.loader``: by the time one of these
exists, the document it came from passed schema and semantic validation, and
every default cert-manager applies has been applied. Attribute names are the
manifest's camelCase field names in snake_case.

The raw (validated, not defaulted) document is kept in ``raw`` so that ``get
-o yaml`` can print what the user wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CERT_MANAGER_GROUP = "cert-manager.io"

DEFAULT_DURATION = dt.timedelta(hours=2160)
DEFAULT_USAGES: tuple[str, ...] = ("digital signature", "key encipherment")

KeyAlgorithm = Literal["RSA", "ECDSA", "Ed25519"]
KeyEncoding = Literal["PKCS1", "PKCS8"]
RotationPolicy = Literal["Never", "Always"]


@dataclass(frozen=True)
class Source:
    """Where a document came from: a file (or ``-`` for stdin) and a 1-based line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class ObjectMeta:
    name: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecretKeySelector:
    """A key inside a Secret. ``key`` is None when the manifest left it out."""

    name: str
    key: str | None = None


@dataclass(frozen=True)
class IssuerRef:
    name: str
    kind: str = ""
    group: str = ""

    @property
    def effective_kind(self) -> str:
        return self.kind or "Issuer"

    @property
    def effective_group(self) -> str:
        return self.group or CERT_MANAGER_GROUP

    def same_as(self, name: str, kind: str, group: str) -> bool:
        """Compare with defaults normalised, as cert-manager does (empty == default)."""
        return (
            self.name == name
            and self.effective_kind == (kind or "Issuer")
            and self.effective_group == (group or CERT_MANAGER_GROUP)
        )

    def __str__(self) -> str:
        return f"{self.effective_kind}.{self.effective_group}/{self.name}"


@dataclass(frozen=True)
class X509Subject:
    organizations: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    organizational_units: tuple[str, ...] = ()
    localities: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    street_addresses: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    serial_number: str = ""


@dataclass(frozen=True)
class OtherName:
    oid: str
    utf8_value: str


@dataclass(frozen=True)
class PrivateKeySpec:
    """``spec.privateKey`` after defaulting: size is always concrete (0 for Ed25519)."""

    algorithm: KeyAlgorithm = "RSA"
    size: int = 2048
    encoding: KeyEncoding = "PKCS1"
    rotation_policy: RotationPolicy = "Always"


@dataclass(frozen=True)
class PKCS12Keystore:
    create: bool
    password_secret_ref: SecretKeySelector | None = None
    password: str | None = None
    profile: str = "LegacyRC2"


@dataclass(frozen=True)
class JKSKeystore:
    create: bool
    alias: str = "certificate"
    password_secret_ref: SecretKeySelector | None = None
    password: str | None = None


@dataclass(frozen=True)
class Keystores:
    jks: JKSKeystore | None = None
    pkcs12: PKCS12Keystore | None = None


@dataclass(frozen=True)
class NameConstraintItem:
    dns_domains: tuple[str, ...] = ()
    ip_ranges: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()
    uri_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class NameConstraints:
    critical: bool = False
    permitted: NameConstraintItem | None = None
    excluded: NameConstraintItem | None = None


@dataclass(frozen=True)
class RenewalWindow:
    cron: str
    window_duration: dt.timedelta
    timezone: str = "UTC"


@dataclass(frozen=True)
class RenewalSpec:
    policy: Literal["RenewBefore", "Disabled"]
    windows: tuple[RenewalWindow, ...] = ()


@dataclass(frozen=True)
class SecretTemplate:
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CertificateSpec:
    secret_name: str
    issuer_ref: IssuerRef
    common_name: str = ""
    literal_subject: str = ""
    subject: X509Subject | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    email_addresses: tuple[str, ...] = ()
    other_names: tuple[OtherName, ...] = ()
    duration: dt.timedelta = DEFAULT_DURATION
    #: Whether ``duration`` was written in the manifest (cert-manager compares it only then).
    duration_set: bool = False
    renew_before: dt.timedelta | None = None
    renew_before_percentage: int | None = None
    renewal: RenewalSpec | None = None
    secret_template: SecretTemplate | None = None
    keystores: Keystores | None = None
    is_ca: bool = False
    usages: tuple[str, ...] = DEFAULT_USAGES
    private_key: PrivateKeySpec = field(default_factory=PrivateKeySpec)
    signature_algorithm: str = ""
    encode_usages_in_request: bool = True
    revision_history_limit: int | None = None
    additional_output_formats: tuple[str, ...] = ()
    name_constraints: NameConstraints | None = None


@dataclass(frozen=True)
class Certificate:
    metadata: ObjectMeta
    spec: CertificateSpec
    source: Source
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    kind = "Certificate"

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        # The loader always fills the namespace (from -n when the manifest has none).
        return self.metadata.namespace or "default"

    @property
    def key(self) -> str:
        """``namespace/name``: how certctl names a Certificate in state and output."""
        return f"{self.namespace}/{self.name}"


IssuerType = Literal["selfSigned", "ca", "acme", "vault", "venafi"]
ISSUER_TYPES: tuple[IssuerType, ...] = ("acme", "ca", "vault", "selfSigned", "venafi")


@dataclass(frozen=True)
class IssuerSpec:
    """``spec`` of an Issuer or ClusterIssuer: exactly one issuer block.

    ``config`` is that block after schema validation, as a plain mapping with the
    manifest's own camelCase keys; each issuer plugin reads its own block.
    """

    type: IssuerType
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Issuer:
    """An Issuer (namespaced) or a ClusterIssuer (``cluster_scoped``)."""

    metadata: ObjectMeta
    spec: IssuerSpec
    source: Source
    cluster_scoped: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return "ClusterIssuer" if self.cluster_scoped else "Issuer"

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str | None:
        return None if self.cluster_scoped else (self.metadata.namespace or "default")

    @property
    def key(self) -> str:
        return (
            f"{self.kind}/{self.name}" if self.cluster_scoped else f"{self.namespace}/{self.name}"
        )


#: A field path inside a document, as ``certctl.api.schema.Path`` spells it.
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class IngressResource:
    """A ``networking.k8s.io/v1`` Ingress, as ingress-shim reads it.

    Only ``spec.tls`` and ``metadata`` were checked by the loader; the rest of
    ``spec`` is the user's business and is kept as written. ``field_lines`` maps
    the paths ingress-shim reports problems at (each annotation, each
    ``spec.tls[i]`` with its ``hosts`` and ``secretName``) to their 1-based lines.
    """

    metadata: ObjectMeta
    spec: Mapping[str, Any]
    source: Source
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    field_lines: Mapping[FieldPath, int] = field(default_factory=dict, compare=False, repr=False)

    kind = "Ingress"

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        # The loader always fills the namespace (from -n when the manifest has none).
        return self.metadata.namespace or "default"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def line_of(self, path: FieldPath) -> int | None:
        """The line of ``path`` when the loader located it, else the document's line."""
        return self.field_lines.get(path) or self.source.line


@dataclass(frozen=True)
class IgnoredDocument:
    """A document of a kind certctl reads but does not act on yet (Ingress, Secret, others).

    A ``networking.k8s.io/v1`` Ingress is listed here as well as in
    ``ManifestSet.ingresses``: only ingress-shim (``convert``, ``sync``) acts on it.
    """

    api_version: str
    kind: str
    name: str
    source: Source
    #: The document as written, for commands that act on other kinds (``inject``).
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class ManifestSet:
    certificates: tuple[Certificate, ...] = ()
    issuers: tuple[Issuer, ...] = ()
    ignored: tuple[IgnoredDocument, ...] = ()
    #: ``networking.k8s.io/v1`` Ingresses, for ingress-shim (``certctl.api.ingress``).
    ingresses: tuple[IngressResource, ...] = ()

    def find_issuer(self, ref: IssuerRef, namespace: str) -> Issuer | None:
        """The Issuer or ClusterIssuer a Certificate in ``namespace`` refers to."""
        cluster = ref.effective_kind == "ClusterIssuer"
        for issuer in self.issuers:
            if issuer.name != ref.name or issuer.cluster_scoped != cluster:
                continue
            if cluster or issuer.namespace == namespace:
                return issuer
        return None
