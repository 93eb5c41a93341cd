"""``http01.ingress`` (cert-manager §4.1): answer HTTP-01 through the cluster's ingress.

As cert-manager does, ``present`` creates three objects in the Certificate's
namespace, all with ``generateName: cm-acme-http-solver-``:

* a **Pod** running cert-manager's ``acmesolver`` image, which answers the key
  authorization on port 8089;
* a **Service** selecting that Pod (``NodePort`` unless ``serviceType: ClusterIP``);
* an **Ingress** routing ``/.well-known/acme-challenge/<token>`` (``pathType: Exact``)
  for the domain to the Service, or, with ``name``, that path added to an existing
  Ingress in place.

Every object carries cert-manager's labels (``acme.cert-manager.io/http-domain`` and
``…/http-token``, Adler-32 hashes, and ``…/http01-solver: "true"``) plus certctl's
own mark, so ``cleanup`` (and ``certctl challenge cleanup``) finds exactly what one
challenge created and nothing else.

The object bodies are built by pure functions (``build_pod``, ``build_service``,
``build_ingress``, ``add_challenge_path``, ``remove_challenge_path``); only
`IngressSolver` talks to the API, through the Kubernetes store's client and its
error translation.

The image is cert-manager's controller flag ``--acme-http01-solver-image``; certctl
takes it from the environment variable ``CERTCTL_ACME_HTTP01_SOLVER_IMAGE``.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from certctl.acme.solvers.base import SolverContext
from certctl.errors import IssuanceError, StoreError
from certctl.stores.base import MANAGED_LABEL

if TYPE_CHECKING:
    from certctl.stores.kubernetes import KubernetesStore

__all__ = [
    "DEFAULT_RESOURCES",
    "DEFAULT_SOLVER_IMAGE",
    "DOMAIN_LABEL",
    "INGRESS_CLASS_ANNOTATION",
    "OVERRIDE_CLASS_ANNOTATION",
    "OVERRIDE_INGRESS_CLASS_NAME_ANNOTATION",
    "OVERRIDE_NAME_ANNOTATION",
    "SOLVER_IMAGE_ENV",
    "SOLVER_LABEL",
    "SOLVER_NAME_PREFIX",
    "SOLVER_PORT",
    "TOKEN_LABEL",
    "WHITELIST_ANNOTATION",
    "IngressSettings",
    "IngressSolver",
    "add_challenge_path",
    "build_ingress",
    "build_pod",
    "build_service",
    "challenge_path",
    "ingress_path",
    "label_selector",
    "remove_challenge_path",
    "resolve_settings",
    "routes_to",
    "solver_image",
    "solver_labels",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

SOLVER_NAME_PREFIX = "cm-acme-http-solver-"
DOMAIN_LABEL = "acme.cert-manager.io/http-domain"
TOKEN_LABEL = "acme.cert-manager.io/http-token"
SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
#: The acmesolver's listen port (cert-manager's ``acmeSolverListenPort``).
SOLVER_PORT = 8089
DEFAULT_SOLVER_IMAGE = "quay.io/jetstack/cert-manager-acmesolver:v1.21.1"
SOLVER_IMAGE_ENV = "CERTCTL_ACME_HTTP01_SOLVER_IMAGE"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
WHITELIST_ANNOTATION = "nginx.ingress.kubernetes.io/whitelist-source-range"
#: cert-manager opens the challenge path to everyone: the CA validates from anywhere.
WHITELIST_EVERYONE = "0.0.0.0/0,::/0"
OVERRIDE_NAME_ANNOTATION = "acme.cert-manager.io/http01-override-ingress-name"
OVERRIDE_CLASS_ANNOTATION = "acme.cert-manager.io/http01-override-ingress-class"
OVERRIDE_INGRESS_CLASS_NAME_ANNOTATION = (
    "acme.cert-manager.io/http01-override-ingress-ingressclassname"
)
#: cert-manager's ``--acme-http01-solver-resource-{request,limits}-{cpu,memory}`` defaults.
DEFAULT_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"cpu": "100m", "memory": "64Mi"},
}
SERVICE_TYPES = ("NodePort", "ClusterIP")
#: RFC 8555 §8.3: the path the ACME server fetches.
CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
#: The podTemplate.spec fields cert-manager copies onto the solver Pod; others are ignored.
_POD_SECURITY_FIELDS = (
    "seLinuxOptions",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "supplementalGroups",
    "fsGroup",
    "sysctls",
    "fsGroupChangePolicy",
    "seccompProfile",
)
#: How often ``present`` looks again for objects it created.
_POLL_INTERVAL = 0.25
#: How often a compare-and-swap edit of a named Ingress is tried before giving up.
_EDIT_ATTEMPTS = 5


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngressSettings:
    """The ``http01.ingress`` block after the Certificate's override annotations.

    Attributes:
        service_type: ``NodePort`` or ``ClusterIP``.
        ingress_class: ``class``: written as the ``kubernetes.io/ingress.class`` annotation.
        ingress_class_name: ``ingressClassName``: written as ``spec.ingressClassName``.
        name: ``name``: an existing Ingress to add the challenge path to.
        pod_template: ``podTemplate`` (``metadata`` and ``spec``).
        ingress_template: ``ingressTemplate`` (``metadata``).
    """

    service_type: str = "NodePort"
    ingress_class: str | None = None
    ingress_class_name: str | None = None
    name: str | None = None
    pod_template: Mapping[str, Any] = field(default_factory=dict)
    ingress_template: Mapping[str, Any] = field(default_factory=dict)


def resolve_settings(
    config: Mapping[str, Any], annotations: Mapping[str, str] | None = None
) -> IngressSettings:
    """Read the ``ingress`` block and apply the Certificate's override annotations.

    cert-manager copies ``acme.cert-manager.io/http01-override-ingress-name``,
    ``…-class`` and ``…-ingressclassname`` from the Certificate to the Order, and the
    one that is set replaces whichever of ``name``, ``class`` and ``ingressClassName``
    the solver had (cert-manager §1.2).

    Raises:
        IssuanceError: more than one of them is set, or ``serviceType`` is unknown.
    """
    service_type = str(config.get("serviceType") or "NodePort")
    if service_type not in SERVICE_TYPES:
        raise IssuanceError(
            f"http01.ingress.serviceType is {service_type!r}; it must be NodePort "
            "(the default) or ClusterIP",
            reason="InvalidSolver",
        )
    chosen = {
        key: str(config[key])
        for key in ("class", "ingressClassName", "name")
        if config.get(key) not in (None, "")
    }
    if len(chosen) > 1:
        raise IssuanceError(
            f"http01.ingress sets {' and '.join(sorted(chosen))}; at most one of class, "
            "ingressClassName and name may be set",
            reason="InvalidSolver",
        )
    overrides = {
        key: str((annotations or {})[annotation])
        for key, annotation in (
            ("name", OVERRIDE_NAME_ANNOTATION),
            ("class", OVERRIDE_CLASS_ANNOTATION),
            ("ingressClassName", OVERRIDE_INGRESS_CLASS_NAME_ANNOTATION),
        )
        if (annotations or {}).get(annotation)
    }
    if len(overrides) > 1:
        names = {
            "name": OVERRIDE_NAME_ANNOTATION,
            "class": OVERRIDE_CLASS_ANNOTATION,
            "ingressClassName": OVERRIDE_INGRESS_CLASS_NAME_ANNOTATION,
        }
        raise IssuanceError(
            "The Certificate has the annotations "
            f"{' and '.join(names[key] for key in sorted(overrides))}; at most one "
            "HTTP-01 ingress override may be set",
            reason="InvalidSolver",
        )
    if overrides:
        chosen = overrides
    return IngressSettings(
        service_type=service_type,
        ingress_class=chosen.get("class"),
        ingress_class_name=chosen.get("ingressClassName"),
        name=chosen.get("name"),
        pod_template=_mapping(config.get("podTemplate")),
        ingress_template=_mapping(config.get("ingressTemplate")),
    )


def solver_image(environ: Mapping[str, str] | None = None) -> str:
    """``CERTCTL_ACME_HTTP01_SOLVER_IMAGE``, else cert-manager's acmesolver image."""
    environment = os.environ if environ is None else environ
    return environment.get(SOLVER_IMAGE_ENV) or DEFAULT_SOLVER_IMAGE


# --- pure builders --------------------------------------------------------------------------


def solver_labels(domain: str, token: str) -> dict[str, str]:
    """The labels that identify one challenge's objects.

    cert-manager hashes the domain and token with Adler-32 (label values are at most
    63 characters, domains are not), and its ``http01-solver`` label lets network
    policies and ingress controllers recognise solver Pods. certctl's own mark
    (``MANAGED_LABEL``) keeps cleanup away from the solver objects of a cert-manager
    running in the same cluster.
    """
    return {
        DOMAIN_LABEL: str(zlib.adler32(domain.encode())),
        TOKEN_LABEL: str(zlib.adler32(token.encode())),
        SOLVER_LABEL: "true",
        MANAGED_LABEL: "true",
    }


def label_selector(domain: str, token: str) -> str:
    """The label selector that finds one challenge's objects (and only certctl's)."""
    return ",".join(f"{key}={value}" for key, value in solver_labels(domain, token).items())


def challenge_path(token: str) -> str:
    return f"{CHALLENGE_PREFIX}{token}"


def build_pod(
    settings: IngressSettings,
    namespace: str,
    domain: str,
    token: str,
    key_authorization: str,
    image: str = DEFAULT_SOLVER_IMAGE,
) -> dict[str, Any]:
    """The acmesolver Pod, with ``podTemplate`` merged in.

    Template labels and annotations win over the built-in ones, except the labels
    that identify the challenge: the Service selects the Pod and cleanup finds it by
    them. Of the template's spec, cert-manager copies ``nodeSelector`` (merged),
    ``affinity``, ``tolerations``, ``priorityClassName``, ``serviceAccountName``,
    ``imagePullSecrets``, the listed ``securityContext`` fields and ``resources``
    (``limits`` and ``requests`` each replace the default); other fields are ignored.
    """
    identity = solver_labels(domain, token)
    template = settings.pod_template
    metadata = _mapping(template.get("metadata"))
    spec_template = _mapping(template.get("spec"))
    resources = {section: dict(values) for section, values in DEFAULT_RESOURCES.items()}
    template_resources = _mapping(spec_template.get("resources"))
    for section in ("limits", "requests"):
        if template_resources.get(section):
            resources[section] = {
                str(key): str(value) for key, value in _mapping(template_resources[section]).items()
            }
    container: dict[str, Any] = {
        "name": "acmesolver",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # acmesolver's flags, as cert-manager passes them.
        "args": [
            f"--listen-port={SOLVER_PORT}",
            f"--domain={domain}",
            f"--token={token}",
            f"--key={key_authorization}",
        ],
        "ports": [{"name": "http", "containerPort": SOLVER_PORT, "protocol": "TCP"}],
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    spec: dict[str, Any] = {
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "restartPolicy": "OnFailure",
        # The solver only answers HTTP; it has no use for the API.
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
    }
    if spec_template.get("nodeSelector"):
        spec["nodeSelector"] = {**spec["nodeSelector"], **_mapping(spec_template["nodeSelector"])}
    for key in ("affinity", "priorityClassName", "serviceAccountName"):
        if spec_template.get(key):
            spec[key] = copy.deepcopy(spec_template[key])
    for key in ("tolerations", "imagePullSecrets"):
        if spec_template.get(key):
            spec[key] = copy.deepcopy(list(spec_template[key]))
    security = _mapping(spec_template.get("securityContext"))
    for key in _POD_SECURITY_FIELDS:
        if key in security:
            spec["securityContext"][key] = copy.deepcopy(security[key])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": SOLVER_NAME_PREFIX,
            "namespace": namespace,
            "labels": {**_strings(metadata.get("labels")), **identity},
            "annotations": {
                # A sidecar would intercept the solver's traffic (cert-manager sets this).
                "sidecar.istio.io/inject": "false",
                **_strings(metadata.get("annotations")),
            },
        },
        "spec": spec,
    }


def build_service(
    settings: IngressSettings, namespace: str, domain: str, token: str
) -> dict[str, Any]:
    """The Service in front of the solver Pod, selecting it by the challenge's labels."""
    identity = solver_labels(domain, token)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "generateName": SOLVER_NAME_PREFIX,
            "namespace": namespace,
            "labels": dict(identity),
            # Istio must not demand mTLS from the CA (cert-manager sets this too).
            "annotations": {f"auth.istio.io/{SOLVER_PORT}": "NONE"},
        },
        "spec": {
            "type": settings.service_type,
            "ports": [
                {"name": "http", "port": SOLVER_PORT, "targetPort": SOLVER_PORT, "protocol": "TCP"}
            ],
            "selector": dict(identity),
        },
    }


def ingress_path(token: str, service_name: str) -> dict[str, Any]:
    """One ``spec.rules[].http.paths[]`` entry: the challenge path to the Service.

    ``pathType: Exact`` is cert-manager's default (gate ``ACMEHTTP01IngressPathTypeExact``).
    """
    return {
        "path": challenge_path(token),
        "pathType": "Exact",
        "backend": {"service": {"name": service_name, "port": {"number": SOLVER_PORT}}},
    }


def build_ingress(
    settings: IngressSettings, namespace: str, domain: str, token: str, service_name: str
) -> dict[str, Any]:
    """A new Ingress routing the challenge path for ``domain`` to the Service.

    ``class`` becomes the ``kubernetes.io/ingress.class`` annotation and
    ``ingressClassName`` the spec field; with neither, every controller may serve it.
    ``ingressTemplate`` labels and annotations win over the built-in ones (the
    identifying labels excepted). The nginx ``whitelist-source-range`` annotation
    opens the path to the CA unless the template sets a ``…whitelist-source-range``
    annotation of its own.
    """
    metadata = _mapping(settings.ingress_template.get("metadata"))
    template_annotations = _strings(metadata.get("annotations"))
    annotations: dict[str, str] = {}
    if not any(key.endswith("whitelist-source-range") for key in template_annotations):
        annotations[WHITELIST_ANNOTATION] = WHITELIST_EVERYONE
    if settings.ingress_class is not None:
        annotations[INGRESS_CLASS_ANNOTATION] = settings.ingress_class
    annotations.update(template_annotations)
    spec: dict[str, Any] = {}
    if settings.ingress_class_name is not None:
        spec["ingressClassName"] = settings.ingress_class_name
    spec["rules"] = [{"host": domain, "http": {"paths": [ingress_path(token, service_name)]}}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "generateName": SOLVER_NAME_PREFIX,
            "namespace": namespace,
            "labels": {**_strings(metadata.get("labels")), **solver_labels(domain, token)},
            "annotations": annotations,
        },
        "spec": spec,
    }


def add_challenge_path(
    rules: Sequence[Mapping[str, Any]], domain: str, token: str, service_name: str
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Add the challenge path to an existing Ingress's rules (``http01.ingress.name``).

    As in cert-manager: the path goes into the first rule for ``domain``; a path that
    is already there for the token is replaced (two backends for one path confuse
    controllers); with no rule for the domain, a rule is appended.

    Returns:
        The new rules, and the path entry that was replaced (None when none was), so
        that cleanup can put it back.
    """
    wanted = ingress_path(token, service_name)
    new_rules = [copy.deepcopy(dict(rule)) for rule in rules]
    for rule in new_rules:
        if rule.get("host") != domain:
            continue
        http = rule.setdefault("http", {})
        paths = http.setdefault("paths", [])
        for index, path in enumerate(paths):
            if path.get("path") == wanted["path"]:
                replaced = None if path == wanted else copy.deepcopy(path)
                paths[index] = wanted
                return new_rules, replaced
        paths.append(wanted)
        return new_rules, None
    new_rules.append({"host": domain, "http": {"paths": [wanted]}})
    return new_rules, None


def remove_challenge_path(
    rules: Sequence[Mapping[str, Any]],
    domain: str,
    token: str,
    restore: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Take the challenge path out of the rules for ``domain`` again.

    ``restore`` (what `add_challenge_path` replaced) is put back in its place. A rule
    left without paths is dropped, as cert-manager does: it was the solver's.
    """
    target = challenge_path(token)
    new_rules: list[dict[str, Any]] = []
    for rule in rules:
        copied = copy.deepcopy(dict(rule))
        paths = (copied.get("http") or {}).get("paths")
        if copied.get("host") != domain or paths is None:
            new_rules.append(copied)
            continue
        kept = []
        for path in paths:
            if path.get("path") != target:
                kept.append(path)
            elif restore is not None:
                kept.append(copy.deepcopy(dict(restore)))
        if kept:
            copied["http"]["paths"] = kept
            new_rules.append(copied)
    return new_rules


def routes_to(ingress: Mapping[str, Any], domain: str, token: str, service_name: str) -> bool:
    """Whether an Ingress (plain object) sends the challenge path for ``domain`` to the Service."""
    wanted = ingress_path(token, service_name)
    for rule in _mapping(ingress.get("spec")).get("rules") or []:
        if rule.get("host") != domain:
            continue
        for path in (rule.get("http") or {}).get("paths") or []:
            if path.get("path") == wanted["path"]:
                return bool(
                    path.get("pathType") == "Exact"
                    and (path.get("backend") or {}).get("service") == wanted["backend"]["service"]
                )
    return False


# --- the solver -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    """What ``present`` did to a named Ingress: the path entry it replaced, if any."""

    ingress: str
    replaced: dict[str, Any] | None


#: One lock per named Ingress (namespace, name) of this process: the challenges of one
#: order edit it from parallel threads; the resourceVersion guards against other writers.
_EDIT_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_EDIT_LOCKS_GUARD = threading.Lock()


def _edit_lock(namespace: str, name: str) -> threading.Lock:
    with _EDIT_LOCKS_GUARD:
        return _EDIT_LOCKS.setdefault((namespace, name), threading.Lock())


class IngressSolver:
    """``http01.ingress``: a solver Pod, Service and Ingress in the Certificate's namespace.

    The block's fields: ``serviceType``, at most one of ``class``, ``ingressClassName``
    and ``name``, ``podTemplate`` and ``ingressTemplate``.

    Args:
        config: the ``ingress`` block.
        context: the solver context; ``store`` must be the `KubernetesStore`, and
            ``namespace`` and ``annotations`` are the Certificate's.

    Raises:
        IssuanceError: the run has no Kubernetes store, or the block is invalid.
    """

    #: An ingress controller may take a while to pick up the new Ingress, and may
    #: answer from some replicas first: cert-manager wants 5 passes, 2 s apart.
    self_check_passes = 5

    def __init__(self, config: Mapping[str, Any], context: SolverContext) -> None:
        from certctl.stores.kubernetes import KubernetesStore

        if not isinstance(context.store, KubernetesStore):
            raise IssuanceError(
                f"{context.issuer}: the http01.ingress solver creates a Pod, Service and "
                "Ingress in Kubernetes, which needs --store kubernetes",
                reason="InvalidSolver",
            )
        self.settings = resolve_settings(config, context.annotations)
        self.context = context
        self.namespace = context.namespace
        self.image = solver_image()
        self._store: KubernetesStore = context.store
        self._edits: dict[tuple[str, str], _Edit] = {}

    # -- HTTP01Solver ------------------------------------------------------------------------

    def present(self, domain: str, token: str, key_authorization: str) -> None:
        """Create (or find) the Pod, Service and Ingress, and wait until they are there.

        Whatever this created is removed again when it fails, since the caller only
        cleans up challenges that were presented.

        Raises:
            IssuanceError: the API refused (the message names the missing permission),
                the named Ingress does not exist, or the objects did not appear in time.
        """
        _check_token(token)
        try:
            pod = self._ensure(
                "pods",
                domain,
                token,
                build_pod(
                    self.settings, self.namespace, domain, token, key_authorization, self.image
                ),
            )
            service = self._ensure(
                "services",
                domain,
                token,
                build_service(self.settings, self.namespace, domain, token),
            )
            if self.settings.name is not None:
                ingress = self.settings.name
                self._add_path(ingress, domain, token, service)
            else:
                ingress = self._ensure(
                    "ingresses",
                    domain,
                    token,
                    build_ingress(self.settings, self.namespace, domain, token, service),
                )
            self._await_objects(domain, token, pod, service, ingress)
        except BaseException:
            try:
                self._remove(domain, token)
            except IssuanceError as error:
                log.warning("HTTP-01 ingress: could not undo a failed present: %s", error.message)
            raise
        log.info(
            "HTTP-01: presenting %s for %s with Pod %s, Service %s and Ingress %s in %s",
            token,
            domain,
            pod,
            service,
            ingress,
            self.namespace,
        )

    def cleanup(self, domain: str, token: str, key_authorization: str) -> None:
        """Delete this challenge's Ingress, Service and Pod, or take the path out of the
        named Ingress. Objects already gone are fine; other objects are never touched.

        Raises:
            IssuanceError: the API refused a delete or the edit (after trying them all).
        """
        self._remove(domain, token)

    # -- creating ----------------------------------------------------------------------------

    def _ensure(self, resource: str, domain: str, token: str, body: dict[str, Any]) -> str:
        """The name of this challenge's object of one kind, created when there is none."""
        existing = self._list(resource, domain, token)
        if existing:
            return existing[0]
        kind = body["kind"]
        created = self._api(
            "create",
            resource,
            lambda: self._calls(resource).create(self.namespace, body),
            doing=f"create the solver {kind} for {domain}",
        )
        name = str(created.metadata.name)
        log.debug("HTTP-01 ingress: created %s %s/%s", kind, self.namespace, name)
        return name

    def _add_path(self, ingress: str, domain: str, token: str, service: str) -> None:
        def change(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
            new_rules, replaced = add_challenge_path(rules, domain, token, service)
            previous = self._edits.get((domain, token))
            # Present may run twice; what was replaced the first time is what to restore.
            self._edits[(domain, token)] = (
                previous if previous is not None else _Edit(ingress, replaced)
            )
            return new_rules

        if not self._edit_rules(ingress, change, doing=f"add the challenge path for {domain}"):
            raise IssuanceError(
                f"Ingress {self.namespace}/{ingress}, named by http01.ingress.name (or the "
                f"{OVERRIDE_NAME_ANNOTATION} annotation), does not exist; the solver adds "
                "the challenge path to it and does not create it",
                hint="Create that Ingress first, or drop name to let the solver create its own",
                reason="PresentError",
            )

    def _await_objects(self, domain: str, token: str, pod: str, service: str, ingress: str) -> None:
        """Wait until the Pod, the Service and the route exist as created.

        There is no point in waiting for the Pod to run: the self-check that follows
        proves the token is served, which is what matters.
        """
        settings = self.context.settings
        deadline = time.monotonic() + settings.self_check_timeout.total_seconds()
        while True:
            missing = self._missing(domain, token, pod, service, ingress)
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise IssuanceError(
                    f"{domain}: {' and '.join(missing)} did not appear in namespace "
                    f"{self.namespace} within {settings.self_check_timeout}",
                    reason="PresentError",
                    retryable=True,
                )
            if settings.cancel.wait(_POLL_INTERVAL):
                raise IssuanceError(
                    f"{domain}: interrupted while waiting for the HTTP-01 solver objects",
                    reason="Interrupted",
                )

    def _missing(self, domain: str, token: str, pod: str, service: str, ingress: str) -> list[str]:
        doing = f"check the solver objects for {domain}"
        missing = []
        if self._read("pods", pod, doing=doing) is None:
            missing.append(f"Pod {pod}")
        if self._read("services", service, doing=doing) is None:
            missing.append(f"Service {service}")
        current = self._read("ingresses", ingress, doing=doing)
        if current is None or not routes_to(current, domain, token, service):
            missing.append(f"the route of Ingress {ingress} to Service {service}")
        return missing

    # -- removing ----------------------------------------------------------------------------

    def _remove(self, domain: str, token: str) -> None:
        """Undo ``present``: every step is tried; the first failure is raised at the end."""
        failures: list[IssuanceError] = []
        edit = self._edits.get((domain, token))
        ingress = edit.ingress if edit is not None else self.settings.name
        if ingress is not None:
            restore = edit.replaced if edit is not None else None

            def change(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return remove_challenge_path(rules, domain, token, restore)

            try:
                self._edit_rules(ingress, change, doing=f"remove the challenge path for {domain}")
                self._edits.pop((domain, token), None)
            except IssuanceError as error:
                failures.append(error)
        # The route goes first, so nothing is sent to a Service that is going away.
        for resource in ("ingresses", "services", "pods"):
            try:
                for name in self._list(resource, domain, token):
                    self._delete(resource, name, doing=f"delete the solver objects for {domain}")
            except IssuanceError as error:
                failures.append(error)
        if failures:
            raise failures[0]

    # -- calling the API ---------------------------------------------------------------------

    def _list(self, resource: str, domain: str, token: str) -> list[str]:
        """Names of this challenge's objects of one kind (by their labels)."""
        selector = label_selector(domain, token)
        response = self._api(
            "list",
            resource,
            lambda: self._calls(resource).list(self.namespace, label_selector=selector),
            doing=f"find the solver {resource} for {domain}",
        )
        return sorted(
            str(item.metadata.name)
            for item in response.items
            if str(item.metadata.name).startswith(SOLVER_NAME_PREFIX)
        )

    def _edit_rules(
        self,
        ingress: str,
        change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        *,
        doing: str,
    ) -> bool:
        """Change a named Ingress's rules with a compare-and-swap merge patch.

        Returns:
            False when the Ingress does not exist.
        """
        from kubernetes.client.exceptions import ApiException

        calls = self._calls("ingresses")
        with _edit_lock(self.namespace, ingress):
            for _ in range(_EDIT_ATTEMPTS):
                plain = self._read("ingresses", ingress, doing=doing)
                if plain is None:
                    return False
                rules = list(_mapping(plain.get("spec")).get("rules") or [])
                new_rules = change(rules)
                if new_rules == rules:
                    return True
                # A merge patch replaces the whole list; the resourceVersion makes it
                # fail with 409 if someone else changed the Ingress in between.
                body = {
                    "metadata": {"resourceVersion": plain["metadata"]["resourceVersion"]},
                    "spec": {"rules": new_rules or None},
                }

                def patch(body: dict[str, Any] = body) -> bool:
                    try:
                        calls.patch(
                            ingress,
                            self.namespace,
                            body,
                            _content_type="application/merge-patch+json",
                        )
                    except ApiException as error:
                        if error.status == 409:
                            return False
                        raise
                    return True

                if self._api("patch", "ingresses", patch, doing=doing):
                    return True
        raise IssuanceError(
            f"Could not {doing}: Ingress {self.namespace}/{ingress} kept changing under certctl",
            reason="PresentError",
            retryable=True,
        )

    def _api(self, verb: str, resource: str, request: Callable[[], T], *, doing: str) -> T:
        """One request through the store, whose translation names a missing permission."""
        try:
            return self._store.call(verb, resource, self.namespace, request)
        except StoreError as error:
            # An IssuanceError fails this certificate, not the run, and lets cleanup go on.
            raise IssuanceError(
                f"Could not {doing}: {error.message}",
                hint=error.hint,
                reason="Forbidden" if error.reason == "Forbidden" else "PresentError",
                retryable=error.retryable,
            ) from error

    def _read(self, resource: str, name: str, *, doing: str) -> dict[str, Any] | None:
        """One object as plain JSON (camelCase, as the API serves it), or None when absent."""
        item = self._api(
            "get",
            resource,
            _or_none(lambda: self._calls(resource).read(name, self.namespace)),
            doing=doing,
        )
        if item is None:
            return None
        plain: dict[str, Any] = self._store.api_client.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
        return plain

    def _delete(self, resource: str, name: str, *, doing: str) -> None:
        self._api(
            "delete",
            resource,
            _or_none(lambda: self._calls(resource).delete(name, self.namespace)),
            doing=doing,
        )
        log.debug("HTTP-01 ingress: deleted %s %s/%s", resource, self.namespace, name)

    def _calls(self, resource: str) -> _Calls:
        from kubernetes import client as k8s

        api_client = self._store.api_client
        if resource == "ingresses":
            networking = k8s.NetworkingV1Api(api_client)
            return _Calls(
                networking.create_namespaced_ingress,
                networking.list_namespaced_ingress,
                networking.read_namespaced_ingress,
                networking.patch_namespaced_ingress,
                networking.delete_namespaced_ingress,
            )
        core = k8s.CoreV1Api(api_client)
        if resource == "services":
            return _Calls(
                core.create_namespaced_service,
                core.list_namespaced_service,
                core.read_namespaced_service,
                core.patch_namespaced_service,
                core.delete_namespaced_service,
            )
        return _Calls(
            core.create_namespaced_pod,
            core.list_namespaced_pod,
            core.read_namespaced_pod,
            core.patch_namespaced_pod,
            core.delete_namespaced_pod,
        )


@dataclass(frozen=True)
class _Calls:
    """The typed client's methods for one resource."""

    create: Callable[..., Any]
    list: Callable[..., Any]
    read: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., Any]


def _or_none(request: Callable[[], T]) -> Callable[[], T | None]:
    """The request, answering None for 404 (gone already, or not there yet)."""

    def call() -> T | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return request()
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return call


def _check_token(token: str) -> None:
    # RFC 8555 §8.1: a token is base64url; it becomes one path segment and a label hash.
    if not token or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in token):
        raise IssuanceError(
            f"The ACME server sent an HTTP-01 token that is not base64url: {token!r}",
            reason="PresentError",
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> dict[str, str]:
    return {str(key): str(item) for key, item in _mapping(value).items()}
