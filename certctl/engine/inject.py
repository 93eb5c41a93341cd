"""The cainjector: which CA goes into which ``caBundle`` field (reference §7).

cert-manager's cainjector watches four kinds of *injectables* and fills their
``caBundle`` fields from the source their annotations name:

* ``cert-manager.io/inject-ca-from: <namespace>/<certificate>``: the ``ca.crt`` of
  the Certificate's Secret, which must carry ``cert-manager.io/certificate-name``
  equal to that Certificate;
* ``cert-manager.io/inject-ca-from-secret: <namespace>/<secret>``: the Secret's
  ``ca.crt``, only when the Secret opts in with
  ``cert-manager.io/allow-direct-injection: "true"``;
* ``cert-manager.io/inject-apiserver-ca: "true"``: the API server's own CA.

The decisions here are pure functions over plain objects (annotation → source,
object → the fields to set, old bundle + CA → new bundle, object → JSON patch),
so they can be tested as tables. ``inject_object`` strings them together over a
``CALookup``, the only way this module reaches a store or a cluster.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from certctl.errors import CertctlError, IssuanceError
from certctl.stores.base import SecretRecord

__all__ = [
    "ANNOTATION_ALLOW_DIRECT_INJECTION",
    "ANNOTATION_INJECT_APISERVER_CA",
    "ANNOTATION_INJECT_CA_FROM",
    "ANNOTATION_INJECT_CA_FROM_SECRET",
    "TARGET_KINDS",
    "CALookup",
    "CASource",
    "ClusterReader",
    "InjectionError",
    "InjectionOutcome",
    "StoreCALookup",
    "TargetKind",
    "build_json_patch",
    "ca_bundle_paths",
    "certificate_ca",
    "find_target_kind",
    "format_field_path",
    "inject_object",
    "inject_objects",
    "merge_ca_bundle",
    "read_sources",
    "secret_ca",
    "set_ca_bundles",
]

ANNOTATION_INJECT_CA_FROM = "cert-manager.io/inject-ca-from"
ANNOTATION_INJECT_CA_FROM_SECRET = "cert-manager.io/inject-ca-from-secret"
ANNOTATION_INJECT_APISERVER_CA = "cert-manager.io/inject-apiserver-ca"
ANNOTATION_ALLOW_DIRECT_INJECTION = "cert-manager.io/allow-direct-injection"
ANNOTATION_CERTIFICATE_NAME = "cert-manager.io/certificate-name"
CA_KEY = "ca.crt"

FieldPath = tuple[str | int, ...]
SourceKind = Literal["Certificate", "Secret", "APIServer"]
Status = Literal["injected", "unchanged", "skipped", "failed"]


class InjectionError(IssuanceError):
    """One injectable could not get its CA; the others are still processed (exit 1)."""

    reason = "InjectionFailed"


# --- Targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetKind:
    """One kind of injectable, as cainjector's ``injectables.go`` knows it."""

    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.partition("/")[0]

    @property
    def resource(self) -> str:
        """``validatingwebhookconfigurations.admissionregistration.k8s.io``, as kubectl names it."""
        return f"{self.plural}.{self.group}"


TARGET_KINDS: tuple[TargetKind, ...] = (
    TargetKind(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
    ),
    TargetKind(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
    ),
    TargetKind("apiregistration.k8s.io/v1", "APIService", "apiservices"),
    TargetKind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions"),
)
_BY_KIND = {target.kind: target for target in TARGET_KINDS}


def find_target_kind(api_version: str, kind: str) -> TargetKind | None:
    """The injectable kind of an object, or None when cainjector does not touch it.

    Only the kinds of ``TARGET_KINDS`` count, in their API group; the version is checked
    by ``ca_bundle_paths``, so that an old version is reported rather than ignored.
    """
    target = _BY_KIND.get(kind)
    if target is None or api_version.partition("/")[0] != target.group:
        return None
    return target


def ca_bundle_paths(obj: Mapping[str, Any]) -> tuple[tuple[FieldPath, ...], str]:
    """The ``caBundle`` fields of an injectable, or none and why.

    * Validating/MutatingWebhookConfiguration: ``webhooks[*].clientConfig.caBundle``, every
      webhook of the configuration.
    * APIService: ``spec.caBundle``.
    * CustomResourceDefinition: ``spec.conversion.webhook.clientConfig.caBundle``, only when
      ``spec.conversion.strategy`` is ``Webhook`` (cainjector leaves other CRDs alone).

    Returns:
        The paths, and a sentence saying why there are none when the tuple is empty.
    """
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    target = find_target_kind(api_version, kind)
    if target is None:
        return (), f"{kind or 'an object without kind'} is not a kind cainjector injects into"
    if api_version != target.api_version:
        return (), (
            f"it uses apiVersion {api_version}; cainjector injects into {target.api_version} only"
        )
    if target.plural.endswith("webhookconfigurations"):
        webhooks = obj.get("webhooks")
        if not isinstance(webhooks, list) or not webhooks:
            return (), "it has no webhooks"
        return tuple(
            ("webhooks", index, "clientConfig", "caBundle") for index in range(len(webhooks))
        ), ""
    if kind == "APIService":
        return (("spec", "caBundle"),), ""
    conversion = _mapping_at(obj, ("spec", "conversion"))
    strategy = conversion.get("strategy") if conversion is not None else None
    if strategy != "Webhook":
        # injectables.go: crdConversionTarget.SetCA returns early without a webhook converter.
        return (), (
            f"its conversion strategy is {strategy or 'None'}; only a CRD with "
            "spec.conversion.strategy: Webhook has a caBundle"
        )
    return (("spec", "conversion", "webhook", "clientConfig", "caBundle"),), ""


def format_field_path(path: FieldPath) -> str:
    """``webhooks[0].clientConfig.caBundle``, as kubectl spells a field."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --- Sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CASource:
    """Where an injectable's CA comes from, as one of its annotations names it."""

    kind: SourceKind
    namespace: str = ""
    name: str = ""

    @property
    def annotation(self) -> str:
        return {
            "Certificate": ANNOTATION_INJECT_CA_FROM,
            "Secret": ANNOTATION_INJECT_CA_FROM_SECRET,
            "APIServer": ANNOTATION_INJECT_APISERVER_CA,
        }[self.kind]

    def __str__(self) -> str:
        if self.kind == "APIServer":
            return "the API server"
        return f"{self.kind} {self.namespace}/{self.name}"


def read_sources(annotations: Mapping[str, Any]) -> tuple[CASource, ...]:
    """The CA sources an injectable's annotations name, in cainjector's order.

    cainjector runs one reconciler per source kind, and since v1.21 each appends its CA to
    the bundle, so an object with several annotations ends up with all their CAs: every
    source is returned. ``inject-apiserver-ca`` counts only with the value ``"true"``.

    Raises:
        InjectionError: ``inject-ca-from`` or ``inject-ca-from-secret`` is not
            ``<namespace>/<name>`` (cainjector ignores such a value, with an error in its log).
    """
    sources: list[CASource] = []
    for annotation, kind in (
        (ANNOTATION_INJECT_CA_FROM, "Certificate"),
        (ANNOTATION_INJECT_CA_FROM_SECRET, "Secret"),
    ):
        value = annotations.get(annotation)
        if value is None:
            continue
        namespace, name = _split_reference(annotation, value, kind)
        sources.append(CASource(kind, namespace, name))  # type: ignore[arg-type]
    if annotations.get(ANNOTATION_INJECT_APISERVER_CA) == "true":
        sources.append(CASource("APIServer"))
    return tuple(sources)


def _split_reference(annotation: str, value: Any, kind: str) -> tuple[str, str]:
    text = value if isinstance(value, str) else ""
    namespace, slash, name = text.strip().partition("/")
    if not slash or not namespace or not name or "/" in name:
        raise InjectionError(
            f"{annotation}: {value!r} is not <namespace>/<{kind.lower()} name>; cert-manager's "
            "cainjector ignores such a value",
            hint=f"Write the {kind}'s namespace and name, as in {annotation}: "
            f"default/my-{kind.lower()}",
            reason="InvalidAnnotation",
        )
    return namespace, name


def certificate_ca(
    source: CASource, secret_name: str | None, record: SecretRecord | None, where: str
) -> bytes:
    """The CA an ``inject-ca-from`` Certificate provides: its Secret's ``ca.crt``.

    Args:
        source: the Certificate.
        secret_name: the Certificate's ``spec.secretName``; None when it was not found.
        record: that Secret, or None when it does not exist.
        where: where the Certificate and Secret were looked for, for messages.

    Raises:
        InjectionError: the Certificate or its Secret does not exist, the Secret belongs to
            another Certificate (cainjector ignores it), or it holds no usable ``ca.crt``.
    """
    if secret_name is None:
        raise InjectionError(
            f"{source} named by {source.annotation} was not found {where}",
            hint="Pass the manifest that defines it with -f, or fix the annotation",
            reason="DoesNotExist",
        )
    secret = f"Secret {source.namespace}/{secret_name} of {source}"
    if record is None:
        raise InjectionError(
            f"{secret} does not exist in the store",
            hint="Issue the Certificate first (certctl issue -f ...), then run inject again",
            reason="DoesNotExist",
        )
    owner = record.annotations.get(ANNOTATION_CERTIFICATE_NAME)
    if owner != source.name:
        # sources.go: a Secret whose certificate-name annotation names another Certificate
        # (or none) is not that Certificate's, and cainjector injects nothing from it.
        found = f"is {owner!r}" if owner else "is missing"
        raise InjectionError(
            f"{secret} does not belong to it: its {ANNOTATION_CERTIFICATE_NAME} annotation "
            f"{found}, so cert-manager's cainjector ignores it",
            hint="Issue the Certificate with certctl (it writes the annotation), or point the "
            "annotation at the Certificate that owns the Secret",
            reason="IncorrectCertificate",
        )
    return _ca_of(record, secret)


def secret_ca(source: CASource, record: SecretRecord | None) -> bytes:
    """The CA an ``inject-ca-from-secret`` Secret provides, if it allows direct injection.

    Raises:
        InjectionError: the Secret does not exist, lacks
            ``cert-manager.io/allow-direct-injection: "true"``, or holds no usable ``ca.crt``.
    """
    if record is None:
        raise InjectionError(
            f"{source} named by {source.annotation} does not exist in the store",
            hint="Create or issue it first, or fix the annotation",
            reason="DoesNotExist",
        )
    if record.annotations.get(ANNOTATION_ALLOW_DIRECT_INJECTION) != "true":
        raise InjectionError(
            f"{source} does not allow direct injection: cert-manager's cainjector injects from "
            f'a Secret only when it carries {ANNOTATION_ALLOW_DIRECT_INJECTION}: "true"',
            hint=f'Add {ANNOTATION_ALLOW_DIRECT_INJECTION}: "true" to the Secret (for a '
            "Certificate's Secret, under spec.secretTemplate.annotations), or use "
            f"{ANNOTATION_INJECT_CA_FROM} with its Certificate",
            reason="DirectInjectionNotAllowed",
        )
    return _ca_of(record, str(source))


def _ca_of(record: SecretRecord, what: str) -> bytes:
    from certctl.pki.certificates import parse_pem_certificates

    data = record.data.get(CA_KEY, b"")
    if not data.strip():
        raise InjectionError(
            f"{what} has no {CA_KEY}, so there is no CA to inject (cert-manager's cainjector "
            "injects nothing then)",
            hint="Use an issuer that provides a CA (CA, SelfSigned, Vault); ACME issuers "
            f"write no {CA_KEY}",
            reason="MissingData",
        )
    try:
        parse_pem_certificates(data)
    except ValueError as exc:
        raise InjectionError(
            f"{what} has a {CA_KEY} that is not a PEM certificate: {exc}",
            hint="Reissue the certificate (certctl issue --force) or fix the Secret",
            reason="InvalidData",
        ) from exc
    return data


# --- Bundles and patches -------------------------------------------------------------------


def merge_ca_bundle(existing: bytes, additional: bytes, now: dt.datetime) -> bytes:
    """Append ``additional`` to the ``existing`` bundle, as cainjector has done since v1.21.

    Mirrors ``AppendCertificatesToBundle`` (``internal/cainjector/bundle``): certificates
    keep their order (existing first), duplicates are dropped, and certificates expired at
    ``now`` are removed, so a CA can be rotated without breaking clients that still hold
    the old one. When either side cannot be parsed, the result is ``additional`` as it is
    (cainjector's fallback to its old replace-only behaviour).
    """
    from certctl.pki.certificates import encode_pem, parse_pem_certificates

    try:
        old = parse_pem_certificates(existing) if existing else []
        new = parse_pem_certificates(additional) if additional else []
    except ValueError:
        return additional
    merged = []
    for certificate in [*old, *new]:
        # Certificates compare by their DER encoding: the same bytes are the same CA.
        if certificate in merged or now > certificate.not_valid_after_utc:
            continue
        merged.append(certificate)
    return encode_pem(merged)


def set_ca_bundles(
    obj: Mapping[str, Any],
    paths: Sequence[FieldPath],
    cas: Sequence[bytes],
    now: dt.datetime,
) -> tuple[dict[str, Any], tuple[FieldPath, ...]]:
    """A copy of ``obj`` with every ``caBundle`` in ``paths`` merged with ``cas``.

    Each field keeps its own existing bundle (webhooks of one configuration may differ), and
    the new value is base64 of the PEM bundle, as Kubernetes writes ``[]byte`` fields in JSON.

    Returns:
        The patched copy, and the paths whose value changed.
    """
    patched: dict[str, Any] = copy.deepcopy(dict(obj))
    changed: list[FieldPath] = []
    for path in paths:
        current = _value_at(patched, path)
        bundle = _decode_bundle(current)
        for ca in cas:
            bundle = merge_ca_bundle(bundle, ca, now)
        value = base64.b64encode(bundle).decode("ascii")
        if value != current:
            _set_at(patched, path, value)
            changed.append(path)
    return patched, tuple(changed)


def build_json_patch(
    obj: Mapping[str, Any], patched: Mapping[str, Any], paths: Sequence[FieldPath]
) -> list[dict[str, Any]]:
    """An RFC 6902 JSON patch that sets just ``paths`` of ``obj`` to their value in ``patched``.

    A ``test`` of each webhook's name comes first, so that a configuration whose webhooks
    were reordered since it was read is refused instead of patched at the wrong index.
    Missing parents (a CRD without ``conversion.webhook.clientConfig``) are added whole.
    """
    tests: list[dict[str, Any]] = []
    operations: list[dict[str, Any]] = []
    for path in paths:
        if path[0] == "webhooks" and isinstance(path[1], int):
            name = _value_at(obj, (*path[:2], "name"))
            test = {"op": "test", "path": _pointer((*path[:2], "name")), "value": name}
            if isinstance(name, str) and test not in tests:
                tests.append(test)
        depth = 0
        node: Any = obj
        while depth < len(path) - 1:
            child = _child(node, path[depth])
            if not isinstance(child, Mapping | list):
                break
            node = child
            depth += 1
        value: Any = _value_at(patched, path)
        for part in reversed(path[depth + 1 :]):
            value = {part: value}
        operations.append({"op": "add", "path": _pointer(path[: depth + 1]), "value": value})
    return [*tests, *operations]


def _decode_bundle(value: Any) -> bytes:
    """The PEM bytes of a ``caBundle`` as found; undecodable values give bytes that won't parse."""
    if value is None:
        return b""
    if isinstance(value, bytes):  # YAML !!binary
        return value
    if not isinstance(value, str):
        return b"\x00"
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b"\x00"


def _child(node: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and 0 <= part < len(node) else None
    return node.get(part) if isinstance(node, Mapping) else None


def _value_at(obj: Any, path: FieldPath) -> Any:
    node = obj
    for part in path:
        node = _child(node, part)
        if node is None:
            return None
    return node


def _mapping_at(obj: Any, path: FieldPath) -> Mapping[str, Any] | None:
    node = _value_at(obj, path)
    return node if isinstance(node, Mapping) else None


def _set_at(obj: dict[str, Any], path: FieldPath, value: Any) -> None:
    node: Any = obj
    for part in path[:-1]:
        child = _child(node, part)
        if not isinstance(child, dict | list):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value


def _pointer(path: FieldPath) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


# --- Putting it together -------------------------------------------------------------------


class CALookup(Protocol):
    """What injection needs to read: Certificates, Secrets and the API server's CA."""

    def resolve(self, source: CASource) -> bytes:
        """The PEM CA of ``source``.

        Raises:
            InjectionError: there is none to inject, with the reason why.
        """
        ...


@runtime_checkable
class ClusterReader(Protocol):
    """The reads the Kubernetes store offers beyond Secrets."""

    def read_certificate(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def apiserver_ca(self) -> bytes | None: ...


class SecretReader(Protocol):
    description: str

    def read(self, namespace: str, name: str) -> SecretRecord | None: ...


@dataclass
class StoreCALookup:
    """CA sources from the store, Certificates from manifests and (if any) the cluster.

    Attributes:
        store: where Secrets are read (the run's ``--store``).
        certificates: ``spec.secretName`` of the Certificates given with ``-f``, by
            ``(namespace, name)``; they are looked up before the cluster's.
        cluster: the cluster, with ``--store kubernetes``; None otherwise.
    """

    store: SecretReader
    certificates: Mapping[tuple[str, str], str] = field(default_factory=dict)
    cluster: ClusterReader | None = None
    _cache: dict[CASource, bytes | InjectionError] = field(default_factory=dict)

    def resolve(self, source: CASource) -> bytes:
        cached = self._cache.get(source)
        if cached is None:
            try:
                cached = self._resolve(source)
            except InjectionError as error:
                cached = error
            self._cache[source] = cached
        if isinstance(cached, InjectionError):
            raise cached
        return cached

    def _resolve(self, source: CASource) -> bytes:
        if source.kind == "APIServer":
            return self._apiserver_ca()
        if source.kind == "Secret":
            return secret_ca(source, self.store.read(source.namespace, source.name))
        secret_name = self._secret_name_of(source)
        record = self.store.read(source.namespace, secret_name) if secret_name else None
        where = "in the manifests given with -f" + (
            " or in the cluster" if self.cluster is not None else ""
        )
        return certificate_ca(source, secret_name, record, where)

    def _secret_name_of(self, source: CASource) -> str | None:
        found = self.certificates.get((source.namespace, source.name))
        if found is not None or self.cluster is None:
            return found
        certificate = self.cluster.read_certificate(source.namespace, source.name)
        spec = certificate.get("spec") if certificate is not None else None
        name = spec.get("secretName") if isinstance(spec, Mapping) else None
        return name if isinstance(name, str) and name else None

    def _apiserver_ca(self) -> bytes:
        if self.cluster is None:
            raise InjectionError(
                f"{ANNOTATION_INJECT_APISERVER_CA} needs --store kubernetes: the API server's "
                "CA comes from the kubeconfig or the in-cluster service account",
                hint="Run with --store kubernetes (and --kubeconfig/--context), or use "
                f"{ANNOTATION_INJECT_CA_FROM} instead",
                reason="NoAPIServerCA",
            )
        data = self.cluster.apiserver_ca()
        if not data:
            raise InjectionError(
                "The kubeconfig gives no CA for the API server (insecure-skip-tls-verify?), "
                f"so there is nothing for {ANNOTATION_INJECT_APISERVER_CA} to inject",
                hint="Set certificate-authority or certificate-authority-data in the kubeconfig",
                reason="NoAPIServerCA",
            )
        return data


@dataclass(frozen=True)
class InjectionOutcome:
    """What happened to one injectable.

    Attributes:
        target: its kind, or None for an object cainjector does not handle.
        name: ``metadata.name``.
        status: ``injected`` (a field changed), ``unchanged``, ``skipped`` (nothing to
            inject: no annotation, no field) or ``failed``.
        message: one sentence for the log.
        sources: the CA sources its annotations name.
        patched: the object with its ``caBundle`` fields set (``injected`` and ``unchanged``).
        changed: the fields whose value changed.
        patch: the RFC 6902 JSON patch that makes those changes.
        error: why it failed.
    """

    target: TargetKind
    name: str
    status: Status
    message: str
    sources: tuple[CASource, ...] = ()
    patched: Mapping[str, Any] | None = field(default=None, repr=False)
    changed: tuple[FieldPath, ...] = ()
    patch: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    error: CertctlError | None = None

    @property
    def label(self) -> str:
        return f"{self.target.kind} {self.name}"


def inject_object(
    obj: Mapping[str, Any], target: TargetKind, lookup: CALookup, now: dt.datetime
) -> InjectionOutcome:
    """Decide and build the injection of one object of an injectable kind."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = str(metadata.get("name") or "")
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, Mapping) else {}
    try:
        sources = read_sources(annotations)
    except InjectionError as error:
        return InjectionOutcome(target, name, "failed", error.message, error=error)
    if not sources:
        return InjectionOutcome(
            target,
            name,
            "skipped",
            f"no {ANNOTATION_INJECT_CA_FROM}, {ANNOTATION_INJECT_CA_FROM_SECRET} or "
            f'{ANNOTATION_INJECT_APISERVER_CA}: "true" annotation',
        )
    paths, why = ca_bundle_paths(obj)
    if not paths:
        return InjectionOutcome(target, name, "skipped", why, sources)
    try:
        cas = [lookup.resolve(source) for source in sources]
    except InjectionError as error:
        return InjectionOutcome(target, name, "failed", error.message, sources, error=error)
    patched, changed = set_ca_bundles(obj, paths, cas, now)
    what = ", ".join(map(str, sources))
    fields = f"{len(paths)} caBundle field{'s' if len(paths) != 1 else ''}"
    if not changed:
        return InjectionOutcome(
            target,
            name,
            "unchanged",
            f"{fields} already hold{'s' if len(paths) == 1 else ''} the CA of {what}",
            sources,
            patched,
        )
    return InjectionOutcome(
        target,
        name,
        "injected",
        f"the CA of {what} into {', '.join(format_field_path(path) for path in changed)}",
        sources,
        patched,
        changed,
        tuple(build_json_patch(obj, patched, changed)),
    )


def inject_objects(
    objects: Iterable[Mapping[str, Any]], lookup: CALookup, now: dt.datetime
) -> list[InjectionOutcome]:
    """``inject_object`` over every object of an injectable kind; other objects are left out."""
    outcomes: list[InjectionOutcome] = []
    for obj in objects:
        target = find_target_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if target is not None:
            outcomes.append(inject_object(obj, target, lookup, now))
    return outcomes
