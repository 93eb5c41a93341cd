"""ingress-shim: the Certificates cert-manager derives from annotated Ingresses.

This mirrors ``pkg/controller/certificate-shim`` (``sync.go``, ``helper.go``) as
described in ``shared/reference/cert-manager.md`` §5:

* an Ingress is processed when it has ``cert-manager.io/issuer``,
  ``cert-manager.io/cluster-issuer``, or an auto-certificate annotation
  (``kubernetes.io/tls-acme``) with a true value, and is not being deleted;
* the issuer starts from the default issuer (``--default-issuer-*``) and is
  overridden by the annotations; conflicting issuer annotations are an error;
* one Certificate per ``spec.tls[]`` entry, named after its ``secretName``, with
  the hosts split into DNS names and IP addresses; entries without hosts or
  secretName are skipped; a secretName used twice rejects the whole Ingress;
* every ``cert-manager.io/*`` field annotation of §5.3 is translated, and an
  invalid value rejects the whole Ingress ("invalid ingress annotation ...");
* the Certificate is then validated like any manifest Certificate (the webhook).

Where cert-manager only emits a warning event, certctl reports a problem
(exit 2) or, where cert-manager itself skips without complaint, a note in
``ShimResult.skipped``. Everything here is pure: Ingresses in, Certificates,
problems and notes out.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from certctl.api import convert, resources
from certctl.api.duration import DurationError, format_go_duration, parse_go_duration
from certctl.api.models import (
    CERT_MANAGER_GROUP,
    DEFAULT_USAGES,
    Certificate,
    FieldPath,
    IngressResource,
    IssuerRef,
    ManifestSet,
    Source,
)
from certctl.api.schema import AnyValue, Field, ListOf, Obj, Problems, Str, format_path
from certctl.api.validation import ALL_USAGES, ip_address
from certctl.errors import ManifestError, ManifestProblem

__all__ = [
    "DEFAULT_AUTO_CERTIFICATE_ANNOTATIONS",
    "INGRESS",
    "INGRESS_API_VERSION",
    "ShimResult",
    "derive_certificates",
    "manifests_for_apply",
    "merge_with_shim",
]

INGRESS_API_VERSION = "networking.k8s.io/v1"
DEFAULT_AUTO_CERTIFICATE_ANNOTATIONS: tuple[str, ...] = ("kubernetes.io/tls-acme",)

# --- Annotation keys (pkg/apis/certmanager/v1/types.go, pkg/apis/acme/v1/types.go) ---

ISSUER = "cert-manager.io/issuer"
CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
ISSUER_KIND = "cert-manager.io/issuer-kind"
ISSUER_GROUP = "cert-manager.io/issuer-group"
COMMON_NAME = "cert-manager.io/common-name"
ALT_NAMES = "cert-manager.io/alt-names"
IP_SANS = "cert-manager.io/ip-sans"
EMAIL_SANS = "cert-manager.io/email-sans"
SUBJECT_ORGANIZATIONS = "cert-manager.io/subject-organizations"
SUBJECT_ORGANIZATIONAL_UNITS = "cert-manager.io/subject-organizationalunits"
SUBJECT_COUNTRIES = "cert-manager.io/subject-countries"
SUBJECT_PROVINCES = "cert-manager.io/subject-provinces"
SUBJECT_LOCALITIES = "cert-manager.io/subject-localities"
SUBJECT_POSTAL_CODES = "cert-manager.io/subject-postalcodes"
SUBJECT_STREET_ADDRESSES = "cert-manager.io/subject-streetaddresses"
SUBJECT_SERIAL_NUMBER = "cert-manager.io/subject-serialnumber"
DURATION = "cert-manager.io/duration"
RENEW_BEFORE = "cert-manager.io/renew-before"
RENEW_BEFORE_PERCENTAGE = "cert-manager.io/renew-before-percentage"
USAGES = "cert-manager.io/usages"
REVISION_HISTORY_LIMIT = "cert-manager.io/revision-history-limit"
PRIVATE_KEY_ALGORITHM = "cert-manager.io/private-key-algorithm"
PRIVATE_KEY_ENCODING = "cert-manager.io/private-key-encoding"
PRIVATE_KEY_SIZE = "cert-manager.io/private-key-size"
PRIVATE_KEY_ROTATION_POLICY = "cert-manager.io/private-key-rotation-policy"
SECRET_TEMPLATE = "cert-manager.io/secret-template"
EDIT_IN_PLACE = "acme.cert-manager.io/http01-edit-in-place"
INGRESS_CLASS = "acme.cert-manager.io/http01-ingress-class"
INGRESS_CLASS_NAME = "acme.cert-manager.io/http01-ingress-ingressclassname"
# Written on the Certificate.
OVERRIDE_INGRESS_NAME = "acme.cert-manager.io/http01-override-ingress-name"
OVERRIDE_INGRESS_CLASS = "acme.cert-manager.io/http01-override-ingress-class"
OVERRIDE_INGRESS_CLASS_NAME = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
ISSUE_TEMPORARY_CERTIFICATE = "cert-manager.io/issue-temporary-certificate"

# Dropped from the labels copied onto Certificates (cert-manager issue #7306).
APPLYSET_LABEL = "applyset.kubernetes.io/part-of"
_FOREGROUND_DELETION = "foregroundDeletion"

_SUBJECT_ANNOTATIONS: tuple[tuple[str, str], ...] = (
    (SUBJECT_ORGANIZATIONS, "organizations"),
    (SUBJECT_ORGANIZATIONAL_UNITS, "organizationalUnits"),
    (SUBJECT_COUNTRIES, "countries"),
    (SUBJECT_PROVINCES, "provinces"),
    (SUBJECT_LOCALITIES, "localities"),
    (SUBJECT_POSTAL_CODES, "postalCodes"),
    (SUBJECT_STREET_ADDRESSES, "streetAddresses"),
)

# Which annotation a webhook problem on a derived Certificate's spec field came from.
_SPEC_FIELD_ANNOTATIONS: dict[str, str] = {
    "commonName": COMMON_NAME,
    "emailAddresses": EMAIL_SANS,
    "duration": DURATION,
    "renewBefore": RENEW_BEFORE,
    "renewBeforePercentage": RENEW_BEFORE_PERCENTAGE,
    "usages": USAGES,
    "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
    "secretTemplate": SECRET_TEMPLATE,
    "ipAddresses": IP_SANS,
}
_SUBFIELD_ANNOTATIONS: dict[tuple[str, str], str] = {
    **{("subject", name): key for key, name in _SUBJECT_ANNOTATIONS},
    ("subject", "serialNumber"): SUBJECT_SERIAL_NUMBER,
    ("privateKey", "algorithm"): PRIVATE_KEY_ALGORITHM,
    ("privateKey", "encoding"): PRIVATE_KEY_ENCODING,
    ("privateKey", "size"): PRIVATE_KEY_SIZE,
    ("privateKey", "rotationPolicy"): PRIVATE_KEY_ROTATION_POLICY,
    ("issuerRef", "kind"): ISSUER_KIND,
    ("issuerRef", "group"): ISSUER_GROUP,
}

# The order fields are written in, the one a reader of a Certificate expects.
_SPEC_ORDER = (
    "secretName",
    "issuerRef",
    "commonName",
    "dnsNames",
    "ipAddresses",
    "emailAddresses",
    "subject",
    "duration",
    "renewBefore",
    "renewBeforePercentage",
    "usages",
    "privateKey",
    "revisionHistoryLimit",
    "secretTemplate",
)

# --- The Ingress schema: only what ingress-shim reads is checked ---

INGRESS_TLS = Obj({"hosts": Field(ListOf(Str())), "secretName": Field(Str())})

INGRESS = Obj(
    {
        "apiVersion": Field(Str(), required=True),
        "kind": Field(Str(), required=True),
        "metadata": Field(resources.METADATA, required=True),
        # The rest of the spec (rules, defaultBackend, ingressClassName) is the user's business.
        "spec": Field(Obj({"tls": Field(ListOf(INGRESS_TLS))}, open=True)),
        "status": Field(AnyValue()),
    },
    open=True,
)


def ingress_line_paths(document: Mapping[str, Any]) -> list[FieldPath]:
    """The paths whose lines ingress-shim may report, for the loader to locate.

    Args:
        document: an Ingress document that passed ``INGRESS``.
    """
    paths: list[FieldPath] = []
    metadata = document.get("metadata") or {}
    for key in metadata.get("annotations") or {}:
        paths.append(("metadata", "annotations", key))
    spec = document.get("spec") or {}
    for index, _ in enumerate(spec.get("tls") or ()):
        paths.extend(
            [
                ("spec", "tls", index),
                ("spec", "tls", index, "hosts"),
                ("spec", "tls", index, "secretName"),
            ]
        )
    return paths


# --- Results ---


@dataclass(frozen=True)
class ShimResult:
    """What ingress-shim made of a set of Ingresses.

    Attributes:
        certificates: the derived Certificates, validated and defaulted, in
            Ingress and ``spec.tls`` order. Each ``source`` points into its Ingress.
        problems: bad configuration that cert-manager would refuse (exit 2).
        skipped: one sentence per Ingress or TLS entry cert-manager would pass
            over without creating anything (for stderr).
    """

    certificates: tuple[Certificate, ...] = ()
    problems: tuple[ManifestProblem, ...] = ()
    skipped: tuple[str, ...] = ()


def derive_certificates(
    ingresses: Iterable[IngressResource],
    *,
    default_issuer: IssuerRef | None = None,
    auto_certificate_annotations: Sequence[str] = DEFAULT_AUTO_CERTIFICATE_ANNOTATIONS,
    extra_certificate_annotations: Sequence[str] = (),
) -> ShimResult:
    """Derive the Certificates cert-manager's ingress-shim would create.

    Args:
        ingresses: the Ingresses, as the loader returns them.
        default_issuer: cert-manager's ``--default-issuer-name/-kind/-group``; an
            empty kind means ``Issuer`` and an empty group ``cert-manager.io``,
            the controller's flag defaults.
        auto_certificate_annotations: ``--auto-certificate-annotations``: keys
            that trigger the shim, with the default issuer, when their value is true.
        extra_certificate_annotations: ``--extra-certificate-annotations``: keys
            copied from the Ingress onto its Certificates as they are.

    Returns:
        The Certificates, the problems and the notes; nothing is raised.
    """
    certificates: list[Certificate] = []
    problems: list[ManifestProblem] = []
    skipped: list[str] = []
    owners: dict[str, tuple[Certificate, IngressResource]] = {}
    for ingress in ingresses:
        shim = _IngressShim(
            ingress,
            default_issuer,
            tuple(auto_certificate_annotations),
            tuple(extra_certificate_annotations),
        )
        shim.run()
        problems.extend(shim.problems)
        skipped.extend(shim.skipped)
        for certificate in shim.certificates:
            first = owners.get(certificate.key)
            if first is not None:
                problems.append(_two_ingresses(certificate, ingress, *first))
                continue
            owners[certificate.key] = (certificate, ingress)
            certificates.append(certificate)
    return ShimResult(tuple(certificates), tuple(problems), tuple(skipped))


def merge_with_shim(manifests: ManifestSet, result: ShimResult) -> ManifestSet:
    """Add the derived Certificates to the manifests' own, refusing two owners.

    ingress-shim owns the Certificates it creates. A Certificate written in the
    manifests under the same namespace and name would be a second owner (in a
    cluster, cert-manager leaves such a Certificate alone and the Ingress gets
    nothing), so certctl refuses the pair instead of picking one.

    Args:
        manifests: what ``load_manifests`` returned.
        result: what ``derive_certificates`` returned for ``manifests.ingresses``.

    Returns:
        ``manifests`` with the derived Certificates appended to ``certificates``.

    Raises:
        ManifestError: ``result`` has problems, or a derived Certificate clashes
            with one in the manifests.
    """
    if result.problems:
        raise ManifestError(list(result.problems))
    explicit = {certificate.key: certificate for certificate in manifests.certificates}
    problems: list[ManifestProblem] = []
    for derived in result.certificates:
        other = explicit.get(derived.key)
        if other is None:
            continue
        owner = _owner_name(derived)
        problems.append(
            ManifestProblem(
                derived.source.path,
                derived.source.line,
                "spec.tls.secretName",
                f'Certificate "{derived.key}" is derived by ingress-shim from Ingress '
                f'"{derived.namespace}/{owner}" ({derived.source}) and also defined in '
                f"{other.source}; a Certificate can have only one owner: rename the "
                "secretName in the Ingress or delete the Certificate manifest",
            )
        )
    if problems:
        raise ManifestError(problems)
    return dataclasses.replace(
        manifests, certificates=(*manifests.certificates, *result.certificates)
    )


def with_ingress_certificates(
    manifests: ManifestSet, *, default_issuer: IssuerRef | None = None
) -> ManifestSet:
    """The manifests with the Certificates their annotated Ingresses derive added.

    This is the set every command that acts on Certificates sees (``issue``,
    ``renew``, ``sync``, ``get certificates``, ``describe certificate``): the
    explicit ones and ingress-shim's, as ``validate`` counts them.

    Raises:
        ManifestError: an Ingress has bad annotations, or a derived Certificate
            clashes with one in the manifests.
    """
    if not manifests.ingresses:
        return manifests
    return merge_with_shim(
        manifests, derive_certificates(manifests.ingresses, default_issuer=default_issuer)
    )


def manifests_for_apply(
    certificates: Iterable[Certificate],
) -> tuple[list[dict[str, Any]], list[str]]:
    """The derived Certificates as documents ``kubectl apply`` accepts, with notes.

    The API server rejects an owner reference without a ``uid``, and an Ingress
    written by hand has none, so such references are left out (with a note);
    an Ingress taken from ``kubectl get ingress -o yaml`` keeps them.
    """
    documents: list[dict[str, Any]] = []
    unlinked: list[str] = []
    for certificate in certificates:
        document = copy.deepcopy(dict(certificate.raw))
        metadata = document.get("metadata") or {}
        references = metadata.get("ownerReferences") or []
        kept = [reference for reference in references if reference.get("uid")]
        if len(kept) != len(references):
            unlinked.append(certificate.key)
            if kept:
                metadata["ownerReferences"] = kept
            else:
                metadata.pop("ownerReferences", None)
        documents.append(document)
    notes = []
    if unlinked:
        notes.append(
            f"ownerReferences left out of {', '.join(unlinked)}: their Ingresses have no "
            "metadata.uid, which kubectl apply needs (convert the Ingresses as "
            "`kubectl get ingress -o yaml` prints them to keep the link)"
        )
    return documents, notes


# --- One Ingress ---


@dataclass
class _IngressShim:
    ingress: IngressResource
    default_issuer: IssuerRef | None
    auto_annotations: tuple[str, ...]
    extra_annotations: tuple[str, ...]
    certificates: list[Certificate] = field(default_factory=list)
    problems: list[ManifestProblem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.ingress.metadata.annotations

    def run(self) -> None:
        """``SyncFnFor``: trigger, deletion, issuer, duplicates, blocks, annotations."""
        if not self._triggered():
            return
        if self._being_deleted():
            self._skip("it is being deleted (deletionTimestamp or foregroundDeletion finalizer)")
            return
        issuer = self._issuer()
        if issuer is None or not self._secret_names_unique():
            return
        blocks = self._valid_blocks()
        if not blocks:
            return
        # cert-manager translates the annotations once per Certificate and aborts the
        # sync on the first bad one; they are the same for every block, so certctl
        # translates them once and reports every bad one.
        translation = _translate(self.annotations)
        if translation.errors:
            for key, message in translation.errors:
                self._problem(("metadata", "annotations", key), message)
            return
        for index, secret_name, hosts in blocks:
            self._derive(index, secret_name, hosts, issuer, translation)

    # -- triggering and issuer selection (§5.1) -------------------------------------

    def _triggered(self) -> bool:
        """``hasShimAnnotation``: an issuer annotation, or an auto annotation that is true."""
        if ISSUER in self.annotations or CLUSTER_ISSUER in self.annotations:
            return True
        return any(
            _go_parse_bool(self.annotations[key])
            for key in self.auto_annotations
            if key in self.annotations
        )

    def _being_deleted(self) -> bool:
        raw_metadata = self.ingress.raw.get("metadata") or {}
        finalizers = raw_metadata.get("finalizers") or ()
        return raw_metadata.get("deletionTimestamp") is not None or (
            isinstance(finalizers, list) and _FOREGROUND_DELETION in finalizers
        )

    def _issuer(self) -> IssuerRef | None:
        """``issuerForIngressLike``: the default issuer overridden by the annotations."""
        default = self.default_issuer
        name = default.name if default else ""
        kind = (default.kind if default else "") or "Issuer"
        group = (default.group if default else "") or CERT_MANAGER_GROUP
        annotations = self.annotations
        if ISSUER in annotations:
            name, kind = annotations[ISSUER], "Issuer"
        if CLUSTER_ISSUER in annotations:
            name, kind = annotations[CLUSTER_ISSUER], "ClusterIssuer"
        if ISSUER_KIND in annotations:
            kind = annotations[ISSUER_KIND]
        if ISSUER_GROUP in annotations:
            group = annotations[ISSUER_GROUP]

        errors: list[tuple[str, str]] = []
        named = ISSUER in annotations or CLUSTER_ISSUER in annotations
        if not name:
            if not named:
                # Only an auto annotation asked for a Certificate and no default issuer
                # was given: cert-manager would log BadConfig and create nothing.
                self._skip(
                    f"{', '.join(k for k in self.auto_annotations if k in annotations)} asks "
                    "for a certificate, but no default issuer is configured (pass "
                    f"--default-issuer NAME, or annotate the Ingress with {ISSUER} or "
                    f"{CLUSTER_ISSUER})"
                )
                return None
            errors.append(
                (
                    CLUSTER_ISSUER if CLUSTER_ISSUER in annotations else ISSUER,
                    "failed to determine issuer name to be used for ingress resource",
                )
            )
        for other in (ISSUER, ISSUER_GROUP, ISSUER_KIND):
            if CLUSTER_ISSUER in annotations and other in annotations:
                errors.append((other, f'both "{CLUSTER_ISSUER}" and "{other}" may not be set'))
        for key, message in errors:
            self._problem(
                ("metadata", "annotations", key),
                f"could not determine issuer for ingress due to bad annotations: {message}",
            )
        return None if errors else IssuerRef(name=name, kind=kind, group=group)

    # -- TLS blocks (§5.2) ----------------------------------------------------------

    def _tls(self) -> list[Mapping[str, Any]]:
        tls = self.ingress.spec.get("tls") or []
        return [entry if isinstance(entry, Mapping) else {} for entry in tls]

    def _secret_names_unique(self) -> bool:
        """``checkForDuplicateSecretNames``: one Certificate per secretName, so no repeats.

        As in cert-manager, every entry counts, even one without a secretName.
        """
        positions: dict[str, list[int]] = {}
        for index, entry in enumerate(self._tls()):
            positions.setdefault(entry.get("secretName") or "", []).append(index)
        unique = True
        for name, indexes in positions.items():
            if len(indexes) > 1:
                self._problem(
                    ("spec", "tls", indexes[0], "secretName"),
                    f"Invalid value: {_quote(name)}: this secret name must only appear in a "
                    f"single TLS entry but is also used in spec.tls[{indexes[1]}].secretName",
                )
                unique = False
        return unique

    def _valid_blocks(self) -> list[tuple[int, str, list[str]]]:
        """Entries with hosts and a secretName; the others are skipped with a note."""
        blocks: list[tuple[int, str, list[str]]] = []
        for index, entry in enumerate(self._tls()):
            hosts = list(entry.get("hosts") or [])
            secret_name = entry.get("secretName") or ""
            missing = [
                f"spec.tls[{index}].{name}: Required value"
                for name, value in (("hosts", hosts), ("secretName", secret_name))
                if not value
            ]
            if missing:
                shown = missing[0] if len(missing) == 1 else f"[{', '.join(missing)}]"
                self._skip(f"skipped a TLS block: {shown}", ("spec", "tls", index))
                continue
            blocks.append((index, secret_name, hosts))
        return blocks

    # -- one Certificate ------------------------------------------------------------

    def _derive(
        self,
        index: int,
        secret_name: str,
        hosts: list[str],
        issuer: IssuerRef,
        translation: _Translation,
    ) -> None:
        ingress = self.ingress
        dns_names = [host for host in hosts if ip_address(host) is not None]
        ip_addresses = [host for host in hosts if ip_address(host) is None]
        dns_names = _unique(dns_names + translation.alt_names, lambda name: name)
        ip_addresses = _unique(ip_addresses + translation.ip_sans, _normal_ip)

        issuer_ref = {"name": issuer.name}
        if issuer.kind:
            issuer_ref["kind"] = issuer.kind
        if issuer.group:
            issuer_ref["group"] = issuer.group
        values: dict[str, Any] = {
            **translation.fields,
            "secretName": secret_name,
            "issuerRef": issuer_ref,
            "dnsNames": dns_names,
            "ipAddresses": ip_addresses,
        }
        values.setdefault("usages", list(DEFAULT_USAGES))
        spec = {name: values[name] for name in _SPEC_ORDER if values.get(name) not in (None, [])}

        metadata: dict[str, Any] = {"name": secret_name, "namespace": ingress.namespace}
        labels = {k: v for k, v in ingress.metadata.labels.items() if k != APPLYSET_LABEL}
        if labels:
            metadata["labels"] = labels
        annotations = self._certificate_annotations()
        if annotations:
            metadata["annotations"] = annotations
        metadata["ownerReferences"] = [self._owner_reference()]
        document: dict[str, Any] = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": metadata,
            "spec": spec,
        }

        problems = Problems()
        resources.CERTIFICATE.check(document, (), problems)
        if problems:
            key = f"{ingress.namespace}/{secret_name}"
            for path, message in problems.items:
                self._problem(
                    self._origin(path, index),
                    f'Certificate "{key}" derived from spec.tls[{index}] is invalid: '
                    f"{format_path(path)}: {message}",
                )
            return
        source = Source(ingress.source.path, ingress.line_of(("spec", "tls", index)))
        self.certificates.append(convert.to_certificate(document, ingress.namespace, source))

    def _certificate_annotations(self) -> dict[str, str]:
        """``setIssuerSpecificConfig`` plus ``--extra-certificate-annotations``."""
        annotations = self.annotations
        result = {key: annotations[key] for key in self.extra_annotations if key in annotations}
        if annotations.get(EDIT_IN_PLACE) == "true":
            result[OVERRIDE_INGRESS_NAME] = self.ingress.name
            # Behaves better with ingress-gce, which serves one IP per Ingress.
            result[ISSUE_TEMPORARY_CERTIFICATE] = "true"
        if annotations.get(INGRESS_CLASS):
            result[OVERRIDE_INGRESS_CLASS] = annotations[INGRESS_CLASS]
        if annotations.get(INGRESS_CLASS_NAME):
            result[OVERRIDE_INGRESS_CLASS_NAME] = annotations[INGRESS_CLASS_NAME]
        return result

    def _owner_reference(self) -> dict[str, Any]:
        """``metav1.NewControllerRef(ingress, networking.k8s.io/v1 Ingress)``."""
        reference: dict[str, Any] = {
            "apiVersion": INGRESS_API_VERSION,
            "kind": "Ingress",
            "name": self.ingress.name,
        }
        uid = (self.ingress.raw.get("metadata") or {}).get("uid")
        if isinstance(uid, str) and uid:
            reference["uid"] = uid
        reference["controller"] = True
        reference["blockOwnerDeletion"] = True
        return reference

    def _origin(self, path: FieldPath, index: int) -> FieldPath:
        """The Ingress field a problem of the derived Certificate at ``path`` came from."""
        annotations = self.annotations
        tls: FieldPath = ("spec", "tls", index)
        if path[:1] == ("metadata",):
            return (*tls, "secretName") if path[1:2] == ("name",) else tls
        rest = path[1:]
        key: str | None = None
        if len(rest) >= 2:
            key = _SUBFIELD_ANNOTATIONS.get((str(rest[0]), str(rest[1])))
        if key is None and rest:
            key = _SPEC_FIELD_ANNOTATIONS.get(str(rest[0]))
        if rest[:2] in (("issuerRef", "kind"), ("issuerRef", "name")) and key not in annotations:
            key = CLUSTER_ISSUER if CLUSTER_ISSUER in annotations else ISSUER
        if key is not None and key in annotations:
            return ("metadata", "annotations", key)
        if rest[:1] == ("secretName",):
            return (*tls, "secretName")
        if rest[:1] in (("dnsNames",), ("ipAddresses",)):
            return (*tls, "hosts")
        return tls

    # -- reporting ------------------------------------------------------------------

    def _problem(self, path: FieldPath, message: str) -> None:
        self.problems.append(
            ManifestProblem(
                self.ingress.source.path,
                self.ingress.line_of(path),
                _show_path(path),
                f'Ingress "{self.ingress.key}": {message}',
            )
        )

    def _skip(self, reason: str, path: FieldPath = ()) -> None:
        line = self.ingress.line_of(path) if path else self.ingress.source.line
        where = Source(self.ingress.source.path, line)
        self.skipped.append(f"{where}: Ingress {self.ingress.key}: {reason}")


def _two_ingresses(
    certificate: Certificate,
    ingress: IngressResource,
    first: Certificate,
    first_ingress: IngressResource,
) -> ManifestProblem:
    return ManifestProblem(
        certificate.source.path,
        certificate.source.line,
        "spec.tls.secretName",
        f'Ingress "{ingress.key}": Certificate "{certificate.key}" is also derived from '
        f'Ingress "{first_ingress.key}" ({first.source}); a Certificate can have only one '
        "owner: give each Ingress its own secretName",
    )


def _owner_name(certificate: Certificate) -> str:
    metadata = certificate.raw.get("metadata") or {}
    for reference in metadata.get("ownerReferences") or ():
        if reference.get("kind") == "Ingress":
            return str(reference.get("name", ""))
    return ""


def _show_path(path: FieldPath) -> str:
    """kubectl's field path, with map keys in brackets: ``metadata.annotations[a/b]``."""
    if path[:2] == ("metadata", "annotations") and len(path) == 3:
        return f"metadata.annotations[{path[2]}]"
    return format_path(path)


# --- Annotation translation (translateAnnotations, §5.3) ---


@dataclass
class _Translation:
    #: Certificate spec fields, camelCase, as the manifest would spell them.
    fields: dict[str, Any] = field(default_factory=dict)
    alt_names: list[str] = field(default_factory=list)
    ip_sans: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, key: str, message: str) -> None:
        self.errors.append((key, f"invalid ingress annotation {_quote(key)}: {message}"))


def _translate(annotations: Mapping[str, str]) -> _Translation:
    result = _Translation()
    fields = result.fields
    if COMMON_NAME in annotations:
        fields["commonName"] = annotations[COMMON_NAME]
    if ALT_NAMES in annotations:
        result.alt_names = [n.strip() for n in annotations[ALT_NAMES].split(",") if n.strip()]
    if IP_SANS in annotations:
        for item in annotations[IP_SANS].split(","):
            value = item.strip()
            if not value:
                continue
            if ip_address(value) is not None:
                result.fail(IP_SANS, f"invalid IP address {_quote(value)}")
            else:
                result.ip_sans.append(value)
    if EMAIL_SANS in annotations:
        # Split without trimming, as cert-manager does; the webhook then checks each.
        fields["emailAddresses"] = annotations[EMAIL_SANS].split(",")
    subject: dict[str, Any] = {}
    for key, name in _SUBJECT_ANNOTATIONS:
        if key in annotations:
            try:
                subject[name] = split_with_escape_csv(annotations[key])
            except ValueError as exc:
                result.fail(key, str(exc))
    if SUBJECT_SERIAL_NUMBER in annotations:
        subject["serialNumber"] = annotations[SUBJECT_SERIAL_NUMBER]
    if any(subject.values()):
        fields["subject"] = {k: v for k, v in subject.items() if v}
    for key, name in ((DURATION, "duration"), (RENEW_BEFORE, "renewBefore")):
        if key in annotations:
            try:
                fields[name] = format_go_duration(parse_go_duration(annotations[key]))
            except DurationError as exc:
                result.fail(key, f"time: {exc}")
    if RENEW_BEFORE_PERCENTAGE in annotations:
        try:
            fields["renewBeforePercentage"] = _go_parse_int(
                annotations[RENEW_BEFORE_PERCENTAGE], bits=32
            )
        except ValueError as exc:
            result.fail(RENEW_BEFORE_PERCENTAGE, str(exc))
    if USAGES in annotations:
        usages: list[str] = []
        for item in annotations[USAGES].split(","):
            usage = item.strip(" ")
            if usage not in ALL_USAGES:
                result.fail(USAGES, f"invalid key usage name {_quote(item)}")
                continue
            usages.append(usage)
        fields["usages"] = usages
    if REVISION_HISTORY_LIMIT in annotations:
        text = annotations[REVISION_HISTORY_LIMIT]
        try:
            limit = _go_parse_int(text, bits=32)
        except ValueError as exc:
            result.fail(REVISION_HISTORY_LIMIT, str(exc))
        else:
            if limit < 1:
                result.fail(
                    REVISION_HISTORY_LIMIT,
                    f"revision history limit must be a positive number {_quote(text)}",
                )
            else:
                fields["revisionHistoryLimit"] = limit
    private_key = _translate_private_key(annotations, result)
    if private_key:
        fields["privateKey"] = private_key
    if SECRET_TEMPLATE in annotations:
        try:
            template = _parse_secret_template(annotations[SECRET_TEMPLATE])
        except ValueError as exc:
            result.fail(SECRET_TEMPLATE, str(exc))
        else:
            if template:
                fields["secretTemplate"] = template
    return result


def _translate_private_key(annotations: Mapping[str, str], result: _Translation) -> dict[str, Any]:
    private_key: dict[str, Any] = {}
    algorithm = annotations.get(PRIVATE_KEY_ALGORITHM)
    if algorithm is not None:
        if algorithm in ("RSA", "ECDSA", "Ed25519"):
            private_key["algorithm"] = algorithm
        else:
            result.fail(PRIVATE_KEY_ALGORITHM, f"invalid private key algorithm {_quote(algorithm)}")
    encoding = annotations.get(PRIVATE_KEY_ENCODING)
    if encoding is not None:
        if encoding in ("PKCS1", "PKCS8"):
            private_key["encoding"] = encoding
        else:
            result.fail(PRIVATE_KEY_ENCODING, f"invalid private key encoding {_quote(encoding)}")
    size_text = annotations.get(PRIVATE_KEY_SIZE)
    if size_text is not None:
        try:
            size = _go_parse_int(size_text, bits=64, function="Atoi")
        except ValueError as exc:
            result.fail(PRIVATE_KEY_SIZE, str(exc))
        else:
            # The algorithm defaults to RSA for this check, as in cert-manager.
            effective = private_key.get("algorithm", "RSA")
            if effective == "RSA" and not 2048 <= size <= 8192:
                result.fail(
                    PRIVATE_KEY_SIZE,
                    f"invalid private key size for RSA algorithm {_quote(size_text)}",
                )
            elif effective == "ECDSA" and size not in (256, 384, 521):
                result.fail(
                    PRIVATE_KEY_SIZE,
                    f"invalid private key size for ECDSA algorithm {_quote(size_text)}",
                )
            else:
                private_key["size"] = size
    policy = annotations.get(PRIVATE_KEY_ROTATION_POLICY)
    if policy is not None:
        if policy in ("Never", "Always"):
            private_key["rotationPolicy"] = policy
        else:
            result.fail(
                PRIVATE_KEY_ROTATION_POLICY,
                f"invalid private key rotation policy {_quote(policy)}",
            )
    return private_key


def _parse_secret_template(text: str) -> dict[str, Any]:
    """A ``CertificateSecretTemplate`` decoded like Go's strict JSON decoder."""
    prefix = "error parsing secret template JSON: "
    try:
        # Go's Decoder.Decode reads the first value and ignores what follows it.
        value, _ = json.JSONDecoder().raw_decode(text.lstrip(" \t\r\n"))
    except json.JSONDecodeError as exc:
        raise ValueError(prefix + exc.msg) from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(
            prefix + "json: cannot unmarshal a non-object into CertificateSecretTemplate"
        )
    template: dict[str, Any] = {}
    for name, item in value.items():
        if name not in ("annotations", "labels"):
            raise ValueError(prefix + f"json: unknown field {_quote(name)}")
        if item is None:
            continue
        if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
            raise ValueError(
                prefix + f"json: cannot unmarshal {name} into a map of strings to strings"
            )
        if item:
            template[name] = dict(item)
    for key in template.get("annotations", {}):
        if key.startswith("cert-manager.io/"):
            raise ValueError(
                f"secretTemplate must not have cert-manager.io/ annotations: {_quote(key)}"
            )
    return template


# --- Go parsing helpers ---

_GO_INT = re.compile(r"[+-]?[0-9]+")


def _go_parse_int(text: str, *, bits: int, function: str = "ParseInt") -> int:
    """``strconv.ParseInt(text, 10, bits)`` (or ``Atoi``), with Go's error text."""
    if not _GO_INT.fullmatch(text):
        raise ValueError(f"strconv.{function}: parsing {_quote(text)}: invalid syntax")
    value = int(text)
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise ValueError(f"strconv.{function}: parsing {_quote(text)}: value out of range")
    return value


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def _go_parse_bool(text: str) -> bool:
    """``strconv.ParseBool``; anything that is not a true spelling counts as false."""
    return text in _GO_TRUE


def split_with_escape_csv(text: str) -> list[str]:
    """cert-manager's ``SplitWithEscapeCSV``: one line of CSV, quotes allowed.

    ``"10 Downing Street, Westminster",Manchester`` gives two values. Parsed like
    Go's ``encoding/csv`` with its defaults: no trimming, no bare quotes in an
    unquoted field, empty lines skipped.

    Raises:
        ValueError: the text is not exactly one CSV record.
    """
    records: list[list[str]] = []
    record: list[str] = []
    position = 0
    length = len(text)
    at_line_start = True

    def error(detail: str) -> ValueError:
        return ValueError(f"failed to parse {_quote(text)} as CSV: {detail}")

    while position <= length:
        if at_line_start and position < length and text[position] in "\r\n":
            position += 1  # empty lines are skipped
            continue
        if at_line_start and position == length:
            break
        at_line_start = False
        if position < length and text[position] == '"':
            position += 1
            value: list[str] = []
            while True:
                if position >= length:
                    raise error('extraneous or missing " in quoted-field')
                char = text[position]
                if char == '"':
                    if position + 1 < length and text[position + 1] == '"':
                        value.append('"')
                        position += 2
                        continue
                    position += 1
                    break
                value.append(char)
                position += 1
            if position < length and text[position] not in ",\r\n":
                raise error('extraneous or missing " in quoted-field')
            field_text = "".join(value)
        else:
            end = position
            while end < length and text[end] not in ",\r\n":
                end += 1
            field_text = text[position:end]
            if '"' in field_text:
                raise error('bare " in non-quoted-field')
            position = end
        record.append(field_text)
        if position < length and text[position] == ",":
            position += 1
            continue
        records.append(record)
        record = []
        at_line_start = True
        if position < length and text[position] == "\r":
            position += 1
        position += 1
    if not records:
        raise ValueError(f"no values found after parsing {_quote(text)}")
    if len(records) > 1:
        raise ValueError(
            f"refusing to use {_quote(text)} as input as it parses as multiple lines of CSV"
        )
    return records[0]


def _unique(values: list[str], key: Any) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        identity = key(value)
        if identity not in seen:
            seen.add(identity)
            result.append(value)
    return result


def _normal_ip(value: str) -> str:
    return str(ipaddress.ip_address(value))


def _quote(text: str) -> str:
    """Go's ``%q``, close enough for messages."""
    return json.dumps(text, ensure_ascii=False)


def ingress_from_cluster(obj: Mapping[str, Any], cluster: str) -> IngressResource:
    """An Ingress read from the cluster (``--from-cluster``), shaped like one from a file."""
    metadata = obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default")
    return IngressResource(
        metadata=convert.to_metadata(metadata, namespace),
        spec=dict(obj.get("spec") or {}),
        source=Source(f"{cluster}/ingress/{namespace}/{metadata.get('name', '')}"),
        raw=dict(obj),
    )
