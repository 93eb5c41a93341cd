"""A strict, in-process fake of the Kubernetes REST API for integration tests.

`KubeAPIServer` serves the slice of the Kubernetes API that certctl's
Kubernetes adapter talks to, over HTTPS on a free loopback port, with a
throw-away CA. Tests drive it through the real ``kubernetes`` client and a
generated kubeconfig::

    with KubeAPIServer() as kube:
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        with kubernetes.config.new_client_from_config(str(kubeconfig)) as client:
            kubernetes.client.CoreV1Api(client).list_namespaced_secret("default")

The point of the fake is to say *no* the way a real API server does, so a
passing test means something. Every refusal is a ``v1.Status`` body with the
code, reason, message and details that kube-apiserver itself would send (the
message formats are copied from ``k8s.io/apimachinery/pkg/api/errors``,
``k8s.io/apimachinery/pkg/util/validation/field`` and the apiserver's
``responsewriters``).

What is enforced:

* Authentication by bearer token (401 ``Unauthorized``) and a tiny RBAC
  (`KubeAPIServer.grant`): a request whose verb, resource and namespace are not
  granted gets 403 ``Forbidden`` with kube-apiserver's sentence, e.g.
  ``secrets "web" is forbidden: User "system:serviceaccount:certctl:certctl"
  cannot update resource "secrets" in API group "" in the namespace
  "default"``. Server-side apply of a missing object needs ``patch`` *and*
  ``create``, as in kube-apiserver's patch handler.
* ``metadata.resourceVersion`` from one global counter; ``uid``,
  ``creationTimestamp``, ``generation`` and ``managedFields`` set by the server.
  A write that changes nothing is a no-op and keeps the resourceVersion.
* 409 ``Conflict`` for a stale resourceVersion on PUT (and on PATCH when the
  patch carries one) and for failed DELETE preconditions; 409
  ``AlreadyExists``; 404 ``NotFound`` (also for a missing namespace on create);
  422 ``Invalid`` with ``details.causes`` for names, labels, annotations, Secret
  and ConfigMap data keys, ``kubernetes.io/tls`` Secrets without ``tls.crt`` or
  ``tls.key``, immutable Secret ``type`` and ``immutable: true`` data, Lease
  spec ranges, Pod, Service and Ingress basics; 400 ``BadRequest`` for bodies
  Go could not decode (bad base64 in ``data``, wrong JSON types in a Lease
  spec, a name or namespace that disagrees with the URL, a wrong
  apiVersion/kind).
* Label selectors (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``,
  ``>``, ``<``) and field selectors (``metadata.name``,
  ``metadata.namespace``, and per-type fields such as a Secret's ``type``).
* PATCH as JSON merge patch (RFC 7386), strategic merge patch, JSON patch
  (RFC 6902, all six operations) and server-side apply with field managers,
  ownership, conflicts and ``force``.
* ``dryRun=All``: validated and answered, never stored.
* Status subresources: the main endpoint ignores ``status`` and ``/status``
  changes only ``status``.
* Finalizers: DELETE of an object with finalizers only sets
  ``deletionTimestamp``; removing the last finalizer deletes it.

What is simplified (on purpose, and listed so nobody relies on it):

* No watch (``watch=true`` is refused with 400), no protobuf or CBOR (406),
  no chunked request bodies (411), no garbage collection through
  ``ownerReferences`` and no ``propagationPolicy``. Deleting a namespace
  removes it and everything in it at once instead of going ``Terminating``.
* RBAC rules name resources by plural only (plurals are unique across the
  groups served here), and a namespaced grant behaves like a RoleBinding.
* Server-side apply treats every list as atomic (kube-apiserver merges
  ``containers``, ``ports`` and a few others by key) and does not track
  ``.`` entries; ``managedFields`` sent by a client are ignored.
* Strategic merge patch knows the merge keys of the types served here
  (``containers``, ``initContainers``, ``volumes``, ``env``,
  ``imagePullSecrets`` by ``name``, ``volumeMounts`` by ``mountPath``,
  ``ports`` by ``containerPort`` or, in a Service, ``port``,
  ``ownerReferences`` by ``uid``), honours ``$patch: replace|delete|merge``
  and ignores ``$setElementOrder``; other directives are a 400. As on a real
  cluster, cert-manager's custom resources refuse it with 415.
* ``generation`` exists for Ingresses, webhook configurations, APIServices,
  CRDs and cert-manager resources, and goes up on any change outside
  ``metadata`` and ``status``.
* Unknown fields are checked at the top level and in ``metadata`` only
  (``fieldValidation=Strict`` → 400, ``Ignore`` → dropped, default ``Warn`` →
  dropped with a ``Warning`` header).
* Defaulting covers what the typed client needs to read objects back: Secret
  ``type``, Namespace phase and ``kubernetes.io/metadata.name`` label, Service
  ``type``/``clusterIP``/port protocol and ``targetPort``, Pod phase and a few
  spec defaults.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import ipaddress
import json
import re
import secrets
import socket
import ssl
import tempfile
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "ADMIN_TOKEN",
    "ADMIN_USER",
    "DEFAULT_SERVICE_ACCOUNT",
    "RESOURCE_TYPES",
    "KubeAPIServer",
    "RecordedRequest",
    "ResourceType",
    "StatusError",
]

ADMIN_TOKEN = "certctl-fake-admin-token"
ADMIN_USER = "kubernetes-admin"
DEFAULT_SERVICE_ACCOUNT = "system:serviceaccount:certctl:certctl"
INITIAL_NAMESPACES = ("default", "cert-manager", "kube-system")
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# kube-apiserver refuses request bodies above 3 MiB (apiserver's MaxRequestBodyBytes).
MAX_BODY_BYTES = 3 * 1024 * 1024
VERSION_INFO = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-certctl-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T00:00:00Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

JSON = dict[str, Any]
Clock = Callable[[], datetime.datetime]
FieldPath = tuple[str, ...]


# --- the resource catalogue ---


@dataclass(frozen=True)
class ResourceType:
    """One REST resource the fake serves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    top_fields: tuple[str, ...]
    name_rule: str = "subdomain"
    has_status: bool = False
    has_generation: bool = False
    custom: bool = False
    field_selectors: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``secrets`` or ``leases.coordination.k8s.io``, as kube-apiserver prints it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()


_SPEC_STATUS = ("spec", "status")
RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "secrets",
        "Secret",
        True,
        ("data", "stringData", "type", "immutable"),
        field_selectors=("type",),
    ),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("data", "binaryData", "immutable")),
    ResourceType(
        "", "v1", "services", "Service", True, _SPEC_STATUS, name_rule="dns1035", has_status=True
    ),
    ResourceType(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        _SPEC_STATUS,
        has_status=True,
        field_selectors=("spec.nodeName", "status.phase"),
    ),
    ResourceType(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        _SPEC_STATUS,
        name_rule="label",
        has_status=True,
        field_selectors=("status.phase",),
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        True,
        _SPEC_STATUS,
        has_status=True,
        has_generation=True,
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, ("spec",)),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
        ("webhooks",),
        has_generation=True,
    ),
    ResourceType(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
        ("webhooks",),
        has_generation=True,
    ),
    ResourceType(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        False,
        _SPEC_STATUS,
        has_status=True,
        has_generation=True,
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        _SPEC_STATUS,
        has_status=True,
        has_generation=True,
    ),
    ResourceType(
        "cert-manager.io",
        "v1",
        "certificates",
        "Certificate",
        True,
        _SPEC_STATUS,
        has_status=True,
        has_generation=True,
        custom=True,
    ),
    ResourceType(
        "cert-manager.io",
        "v1",
        "issuers",
        "Issuer",
        True,
        _SPEC_STATUS,
        has_status=True,
        has_generation=True,
        custom=True,
    ),
    ResourceType(
        "cert-manager.io",
        "v1",
        "clusterissuers",
        "ClusterIssuer",
        False,
        _SPEC_STATUS,
        has_status=True,
        has_generation=True,
        custom=True,
    ),
)
_BY_PLURAL = {rt.plural: rt for rt in RESOURCE_TYPES}
_BY_KIND = {(rt.api_version, rt.kind): rt for rt in RESOURCE_TYPES}
_METADATA_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def resource_type(plural: str) -> ResourceType:
    """The served resource called ``plural`` (``secrets``, ``leases``...)."""
    try:
        return _BY_PLURAL[plural]
    except KeyError:
        raise KeyError(f"the fake Kubernetes API does not serve {plural!r}") from None


# --- Status errors ---


class StatusError(Exception):
    """A refusal, carried as the ``v1.Status`` body kube-apiserver would send."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = dict(headers or {})
        self.injected = False

    def body(self) -> JSON:
        status: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status


def _details(rt: ResourceType, name: str, kind: str | None = None) -> JSON:
    details: JSON = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = kind or rt.plural
    return details


def _not_found(rt: ResourceType, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def _already_exists(rt: ResourceType, name: str) -> StatusError:
    message = f'{rt.qualified} "{name}" already exists'
    return StatusError(409, "AlreadyExists", message, _details(rt, name))


def _conflict(rt: ResourceType, name: str, detail: str) -> StatusError:
    message = f'Operation cannot be fulfilled on {rt.qualified} "{name}": {detail}'
    return StatusError(409, "Conflict", message, _details(rt, name))


_RV_ON_CREATE = "resourceVersion should not be set on objects to be created"
_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def _bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def _decode_error(rt: ResourceType, detail: str) -> StatusError:
    return _bad_request(
        f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {detail}'
    )


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error`` of k8s.io/apimachinery: ``<field>: <type>[: <value>][: <detail>]``."""

    type: str
    field: str
    value: Any = None
    detail: str = ""
    show_value: bool = True

    _REASONS: ClassVar[dict[str, str]] = {
        "Invalid value": "FieldValueInvalid",
        "Required value": "FieldValueRequired",
        "Unsupported value": "FieldValueNotSupported",
        "Forbidden": "FieldValueForbidden",
        "Too long": "FieldValueTooLong",
        "Duplicate value": "FieldValueDuplicate",
    }

    @property
    def body(self) -> str:
        text = self.type
        if self.show_value and self.type in (
            "Invalid value",
            "Unsupported value",
            "Duplicate value",
        ):
            text += f": {json.dumps(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def cause(self) -> JSON:
        return {"reason": self._REASONS[self.type], "message": self.body, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"


def _required(path: str, detail: str = "") -> FieldError:
    return FieldError("Required value", path, detail=detail)


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("Invalid value", path, value, detail)


def _forbidden(path: str, detail: str) -> FieldError:
    return FieldError("Forbidden", path, detail=detail)


def _unsupported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    detail = "supported values: " + ", ".join(f'"{v}"' for v in supported)
    return FieldError("Unsupported value", path, value, detail)


def _invalid_error(kind: str, name: str, errors: list[FieldError], group: str = "") -> StatusError:
    aggregated = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(map(str, errors)) + "]"
    details: JSON = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [error.cause() for error in errors]
    qualified = f"{kind}.{group}" if group else kind
    return StatusError(422, "Invalid", f'{qualified} "{name}" is invalid: {aggregated}', details)


def _check_options(
    kind: str, errors: list[FieldError], query: Mapping[str, str], *, apply: bool | None = None
) -> None:
    """Validate CreateOptions, UpdateOptions, PatchOptions or DeleteOptions."""
    dry_run = query.get("dryRun")
    if dry_run is not None and dry_run != "All":
        errors.append(_unsupported("dryRun", dry_run, ["All"]))
    validation = query.get("fieldValidation")
    if validation is not None and validation not in ("Ignore", "Warn", "Strict"):
        errors.append(_unsupported("fieldValidation", validation, ["Ignore", "Warn", "Strict"]))
    manager = query.get("fieldManager")
    if manager is not None and len(manager) > 128:
        errors.append(FieldError("Too long", "fieldManager", detail="must have at most 128 bytes"))
    if apply is False and "force" in query:
        errors.append(_forbidden("force", "may not be specified for non-apply patch"))
    if apply and not manager:
        errors.append(_required("fieldManager", "is required for apply patch"))
    if errors:
        raise _invalid_error(kind, "", errors, group="meta.k8s.io")


# --- syntax rules of k8s.io/apimachinery/pkg/util/validation ---

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"

_NAME_RULES: dict[str, tuple[str, int, str]] = {
    "subdomain": (
        _DNS1123_SUBDOMAIN,
        253,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        f"regex used for validation is '{_DNS1123_SUBDOMAIN}')",
    ),
    "label": (
        _DNS1123_LABEL,
        63,
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
        f"regex used for validation is '{_DNS1123_LABEL}')",
    ),
    "dns1035": (
        _DNS1035_LABEL,
        63,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        f"'abc-123', regex used for validation is '{_DNS1035_LABEL}')",
    ),
}


def _name_errors(value: str, rule: str, path: str) -> list[FieldError]:
    pattern, limit, message = _NAME_RULES[rule]
    errors = []
    if len(value) > limit:
        errors.append(_invalid(path, value, f"must be no more than {limit} characters"))
    if not re.fullmatch(pattern, value):
        errors.append(_invalid(path, value, message))
    return errors


def _qualified_name_errors(value: str, path: str) -> list[FieldError]:
    """``IsQualifiedName``: an optional DNS-1123 subdomain prefix, ``/``, a 63-character name."""
    prefix, _, name = value.rpartition("/")
    errors = []
    if "/" in value and not prefix:
        errors.append(_invalid(path, value, "prefix part must be non-empty"))
    elif prefix:
        errors += [
            _invalid(path, value, "prefix part " + e.detail)
            for e in _name_errors(prefix, "subdomain", path)
        ]
    if not name:
        errors.append(_invalid(path, value, "name part must be non-empty"))
    elif len(name) > 63:
        errors.append(_invalid(path, value, "name part must be no more than 63 characters"))
    elif not re.fullmatch(_QUALIFIED_NAME, name):
        errors.append(
            _invalid(
                path,
                value,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                f"'123-abc', regex used for validation is '{_QUALIFIED_NAME}')",
            )
        )
    return errors


def _label_value_errors(value: str, path: str) -> list[FieldError]:
    errors = []
    if len(value) > 63:
        errors.append(_invalid(path, value, "must be no more than 63 characters"))
    if not re.fullmatch(_LABEL_VALUE, value):
        errors.append(
            _invalid(
                path,
                value,
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                f"'{_LABEL_VALUE}')",
            )
        )
    return errors


def _config_key_errors(key: str, path: str) -> list[FieldError]:
    if re.fullmatch(_CONFIG_KEY, key) and key not in (".", ".."):
        return []
    return [
        _invalid(
            path,
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
            "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
            f"'{_CONFIG_KEY}')",
        )
    ]


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _expect(rt: ResourceType, value: Any, types: tuple[type, ...], where: str, go: str) -> None:
    """Refuse a JSON value Go's decoder could not put into the struct field (400)."""
    wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
    if value is not None and wrong:
        raise _decode_error(
            rt,
            f"json: cannot unmarshal {_go_type(value)} into Go struct field {where} of type {go}",
        )


def _check_string_map(rt: ResourceType, value: Any, where: str) -> None:
    _expect(rt, value, (dict,), where, "map[string]string")
    for item in (value or {}).values():
        _expect(rt, item, (str,), where, "string")


def _b64_error(value: str) -> str | None:
    """Go's ``encoding/base64`` complaint about ``value``, or None when it decodes."""
    alphabet = re.compile(r"[A-Za-z0-9+/=]")
    for index, char in enumerate(value):
        if not alphabet.match(char):
            return f"illegal base64 data at input byte {index}"
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return f"illegal base64 data at input byte {max(len(value) - 1, 0)}"
    return None


# --- label and field selectors ---


@dataclass(frozen=True)
class _Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if not present or not re.fullmatch(r"-?\d+", value or ""):
            return False
        number, limit = int(value or "0"), int(self.values[0])
        return number > limit if self.operator == "gt" else number < limit


_SELECTOR_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def parse_label_selector(text: str) -> list[_Requirement]:
    """Parse a label selector the way ``k8s.io/apimachinery/pkg/labels.Parse`` does."""
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _SELECTOR_TOKEN.match(text, position)
        if match is None:
            break
        tokens.append(match.group(1))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    requirements: list[_Requirement] = []
    index = 0

    def fail(detail: str) -> StatusError:
        return _bad_request(f"unable to parse requirement: {detail}")

    def peek() -> str | None:
        return tokens[index] if index < len(tokens) else None

    while index < len(tokens):
        if tokens[index] == "!":
            index += 1
            key = peek()
            if key is None or key in "!=(),<>" or key in ("==", "!="):
                raise fail(f"found '{key or ''}', expected: identifier")
            index += 1
            requirement = _Requirement(key, "!")
        else:
            key = tokens[index]
            if key in ("=", "==", "!=", "(", ")", ",", ">", "<"):
                raise fail(f"found '{key}', expected: !, identifier, or 'end of string'")
            index += 1
            op = peek()
            if op is None or op == ",":
                requirement = _Requirement(key, "exists")
            elif op in ("=", "==", "!="):
                index += 1
                value = peek()
                if value is None or value == ",":
                    value = ""
                elif value in ("(", ")", "=", "==", "!=", "!", ">", "<"):
                    raise fail(f"found '{value}', expected: identifier")
                else:
                    index += 1
                requirement = _Requirement(key, "!=" if op == "!=" else "=", (value,))
            elif op in ("in", "notin"):
                index += 1
                if peek() != "(":
                    raise fail(f"found '{peek() or ''}', expected: '('")
                index += 1
                values: list[str] = []
                while True:
                    token = peek()
                    if token is None:
                        raise fail("found '', expected: ')'")
                    if token == ")":
                        index += 1
                        break
                    if token == ",":
                        if not values or tokens[index - 1] in ("(", ","):
                            values.append("")
                        index += 1
                        continue
                    values.append(token)
                    index += 1
                if not values:
                    raise fail(f"for '{op}', 'notin' operators, values set can't be empty")
                requirement = _Requirement(key, op, tuple(values))
            elif op in (">", "<"):
                index += 1
                value = peek()
                if value is None or not re.fullmatch(r"-?\d+", value):
                    raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer: {value}")
                index += 1
                requirement = _Requirement(key, "gt" if op == ">" else "lt", (value,))
            else:
                raise fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        errors = _qualified_name_errors(requirement.key, "key")
        for value in requirement.values:
            if requirement.operator not in ("gt", "lt"):
                errors += _label_value_errors(value, f"values[0][{requirement.key}]")
        if errors:
            raise fail(str(errors[0]))
        requirements.append(requirement)
        if index < len(tokens):
            if tokens[index] != ",":
                raise fail(f"found '{tokens[index]}', expected: ',' or 'end of string'")
            index += 1
            if index == len(tokens):
                raise fail("found '', expected: identifier")
    return requirements


def _parse_field_selector(rt: ResourceType, text: str) -> list[tuple[str, str, str]]:
    terms = []
    supported = ("metadata.name", "metadata.namespace", *rt.field_selectors)
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", part)
        if match is None:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        key, op, value = match.groups()
        if key not in supported:
            raise _bad_request(f"field label not supported: {key}")
        terms.append((key, "!=" if op == "!=" else "=", value))
    return terms


def _field_value(obj: JSON, dotted: str) -> str:
    value: Any = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


# --- patches ---


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ownerReferences": "uid",
}


def _merge_key(rt: ResourceType, path: FieldPath) -> str | None:
    if rt.custom:
        return None
    if path[-1] == "ports":
        return "port" if rt.kind == "Service" and path == ("spec", "ports") else "containerPort"
    return _MERGE_KEYS.get(path[-1])


def strategic_merge_patch(rt: ResourceType, target: Any, patch: Any, path: FieldPath = ()) -> Any:
    """Strategic merge patch for the types served here (see the module notes)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch", "merge")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive not in ("merge", "delete"):
        raise _bad_request(f"Unknown patch type: {directive}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key == "$patch" or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$"):
            raise _bad_request(f"the strategic merge directive {key} is not supported by the fake")
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            if value.get("$patch") == "delete":
                result.pop(key, None)
            else:
                result[key] = strategic_merge_patch(rt, result.get(key), value, (*path, key))
        elif isinstance(value, list) and (merge_key := _merge_key(rt, (*path, key))):
            result[key] = _merge_list(rt, result.get(key) or [], value, merge_key, (*path, key))
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(
    rt: ResourceType, current: list[Any], patch: list[Any], key: str, path: FieldPath
) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise _bad_request(f"map: {item} does not contain declared merge key: {key}")
        index = next(
            (i for i, existing in enumerate(result) if existing.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch(rt, {}, item, path))
        else:
            result[index] = strategic_merge_patch(rt, result[index], item, path)
    return result


class _JSONPatchError(Exception):
    pass


def _pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _JSONPatchError(f'JSON pointer "{pointer}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def _walk(document: Any, parts: list[str], pointer: str) -> Any:
    node = document
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _JSONPatchError(f"missing value at {pointer}")
    return node


def _json_patch_add(document: Any, pointer: str, value: Any, *, replace: bool = False) -> Any:
    parts = _pointer(pointer)
    if not parts:
        return copy.deepcopy(value)
    parent = _walk(document, parts[:-1], pointer)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _JSONPatchError(
                f"replace operation does not apply: doc is missing key: {pointer}"
            )
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if replace:
            if not last.isdigit() or int(last) >= len(parent):
                raise _JSONPatchError(
                    f"replace operation does not apply: doc is missing key: {pointer}"
                )
            parent[int(last)] = copy.deepcopy(value)
        elif last == "-":
            parent.append(copy.deepcopy(value))
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), copy.deepcopy(value))
        else:
            raise _JSONPatchError(f"add operation does not apply: index out of range: {pointer}")
    else:
        raise _JSONPatchError(f"add operation does not apply: doc is missing path: {pointer}")
    return document


def _json_patch_remove(document: Any, pointer: str) -> tuple[Any, Any]:
    parts = _pointer(pointer)
    if not parts:
        raise _JSONPatchError("remove operation does not apply: cannot remove the whole document")
    parent = _walk(document, parts[:-1], pointer)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return document, parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return document, parent.pop(int(last))
    raise _JSONPatchError(f"remove operation does not apply: doc is missing path: {pointer}")


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; raises `_JSONPatchError` when an operation does not apply."""
    document = copy.deepcopy(document)
    for operation in operations:
        op, pointer = operation.get("op"), operation.get("path")
        if not isinstance(pointer, str):
            raise _JSONPatchError(f"operation missing path: {json.dumps(operation)}")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise _JSONPatchError(f"operation missing value: {json.dumps(operation)}")
        if op == "add":
            document = _json_patch_add(document, pointer, operation["value"])
        elif op == "replace":
            document = _json_patch_add(document, pointer, operation["value"], replace=True)
        elif op == "remove":
            document, _ = _json_patch_remove(document, pointer)
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise _JSONPatchError(f"operation missing from: {json.dumps(operation)}")
            if op == "move":
                document, value = _json_patch_remove(document, source)
            else:
                value = copy.deepcopy(_walk(document, _pointer(source), source))
            document = _json_patch_add(document, pointer, value)
        elif op == "test":
            if _walk(document, _pointer(pointer), pointer) != operation["value"]:
                raise _JSONPatchError(f"testing value {pointer} failed: test failed")
        else:
            raise _JSONPatchError(f"Unexpected kind: {op}")
    return document


# --- managed fields (server-side apply) ---

_UNTRACKED: frozenset[FieldPath] = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "generateName"),
        ("metadata", "uid"),
        ("metadata", "resourceVersion"),
        ("metadata", "generation"),
        ("metadata", "creationTimestamp"),
        ("metadata", "deletionTimestamp"),
        ("metadata", "deletionGracePeriodSeconds"),
        ("metadata", "managedFields"),
        ("metadata", "selfLink"),
    }
)


def _leaves(obj: Any, prefix: FieldPath = (), *, skip_status: bool = False) -> set[FieldPath]:
    """The field paths set in ``obj``: scalars, lists (atomic) and empty maps."""
    out: set[FieldPath] = set()
    if not isinstance(obj, dict):
        return out
    for key, value in obj.items():
        path = (*prefix, key)
        if path in _UNTRACKED or (skip_status and path == ("status",)):
            continue
        if isinstance(value, dict) and value:
            out |= _leaves(value, path)
        else:
            out.add(path)
    return out


_MISSING = object()


def _value_at(obj: Any, path: FieldPath) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def _delete_at(obj: JSON, path: FieldPath) -> None:
    node: Any = obj
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _overlaps(a: FieldPath, b: FieldPath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _format_path(path: FieldPath) -> str:
    return "".join(f".{part}" for part in path)


def _fields_v1(paths: Iterable[FieldPath]) -> JSON:
    tree: JSON = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def _paths_from_v1(tree: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    out: set[FieldPath] = set()
    for key, child in tree.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        children = _paths_from_v1(child, path) if isinstance(child, dict) else set()
        out |= children or {path}
    return out


@dataclass
class _Manager:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    subresource: str
    fields: set[FieldPath]
    time: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    @property
    def label(self) -> str:
        # kube-apiserver's printManager(): Update managers are named with their apiVersion.
        if self.operation == "Update":
            return f'"{self.manager}" using {self.api_version}'
        return f'"{self.manager}"'

    def to_json(self) -> JSON:
        entry: JSON = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(self.fields),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _managers(obj: JSON | None) -> list[_Manager]:
    if obj is None:
        return []
    return [
        _Manager(
            entry["manager"],
            entry["operation"],
            entry.get("apiVersion", ""),
            entry.get("subresource", ""),
            _paths_from_v1(entry.get("fieldsV1", {})),
            entry.get("time", ""),
        )
        for entry in obj.get("metadata", {}).get("managedFields", [])
    ]


# --- the store and the API semantics ---


@dataclass(frozen=True)
class _Options:
    dry_run: bool
    field_manager: str
    field_validation: str
    force: bool = False


@dataclass
class _Result:
    code: int
    body: JSON
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake answered, in arrival order."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    user: str | None
    status: int
    content_type: str | None = None
    dry_run: bool = False
    injected: bool = False

    @property
    def mutating(self) -> bool:
        """A write that could change the cluster: POST/PUT/PATCH/DELETE without ``dryRun``."""
        return self.method in MUTATING_METHODS and not self.dry_run


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    reason: str
    message: str
    retry_after: int | None


@dataclass
class _Rule:
    verbs: frozenset[str]
    resources: frozenset[str]
    namespace: str | None


_DEFAULT_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _Cluster:
    """The object store and every rule of the API, without HTTP."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.revision = 0
        self.objects: dict[tuple[str, str, str], JSON] = {}
        self.next_cluster_ip = 10

    # -- helpers

    def timestamp(self) -> str:
        return self.clock().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def bump(self) -> str:
        self.revision += 1
        return str(self.revision)

    def stored(self, rt: ResourceType, namespace: str, name: str) -> JSON | None:
        return self.objects.get((rt.plural, namespace if rt.namespaced else "", name))

    def require(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        obj = self.stored(rt, namespace, name)
        if obj is None:
            raise _not_found(rt, name)
        return obj

    # -- reads

    def get(self, rt: ResourceType, namespace: str, name: str) -> _Result:
        with self.lock:
            return _Result(200, copy.deepcopy(self.require(rt, namespace, name)))

    def list_objects(self, rt: ResourceType, namespace: str, query: Mapping[str, str]) -> _Result:
        selector = parse_label_selector(query.get("labelSelector", ""))
        fields = _parse_field_selector(rt, query.get("fieldSelector", ""))
        limit = query.get("limit", "0")
        if not re.fullmatch(r"\d+", limit):
            raise _bad_request(f"limit: Invalid value: {limit!r}: must be a non-negative integer")
        start = ""
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"].encode()))
                start = str(token["start"])
            except (ValueError, KeyError, TypeError):
                raise _bad_request("continue key is not valid: incorrect encoded start") from None
        with self.lock:
            items = []
            for (plural, ns, name), obj in sorted(self.objects.items()):
                if plural != rt.plural or (namespace and ns != namespace):
                    continue
                if start and f"{ns}/{name}" <= start:
                    continue
                labels = obj["metadata"].get("labels", {})
                if not all(requirement.matches(labels) for requirement in selector):
                    continue
                if not all(
                    (_field_value(obj, key) == value) == (op == "=") for key, op, value in fields
                ):
                    continue
                items.append((f"{ns}/{name}", obj))
            metadata: JSON = {"resourceVersion": str(self.revision)}
            if int(limit) and len(items) > int(limit):
                last = items[int(limit) - 1][0]
                token = {"v": "meta.k8s.io/v1", "rv": self.revision, "start": last}
                metadata["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
                metadata["remainingItemCount"] = len(items) - int(limit)
                items = items[: int(limit)]
            rendered = []
            for _, obj in items:
                item = copy.deepcopy(obj)
                if not rt.custom:
                    # Built-in lists carry apiVersion and kind only on the list, not on items.
                    item.pop("apiVersion", None)
                    item.pop("kind", None)
                rendered.append(item)
        body = {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": metadata,
            "items": rendered,
        }
        return _Result(200, body)

    # -- decoding and validation

    def decode(
        self, rt: ResourceType, body: Any, options: _Options, *, apply: bool = False
    ) -> tuple[JSON, list[str]]:
        """Check the shape of a request body; drop or refuse unknown fields."""
        if not isinstance(body, dict):
            raise _decode_error(
                rt, f"json: cannot unmarshal {_go_type(body)} into Go value of type struct"
            )
        obj = copy.deepcopy(body)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if apply and (not kind or not api_version):
            missing = "Kind" if not kind else "Version"
            raise _bad_request(f"Object '{missing}' is missing in '{json.dumps(body)}'")
        if api_version and api_version != rt.api_version:
            raise _bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rt.api_version})"
            )
        if kind and kind != rt.kind:
            raise _bad_request(f"the kind in the data ({kind}) does not match the expected kind")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        metadata = obj.setdefault("metadata", {})
        _expect(rt, metadata, (dict,), "metadata", "v1.ObjectMeta")
        if metadata is None:
            metadata = obj["metadata"] = {}
        for key in ("name", "generateName", "namespace", "resourceVersion", "uid"):
            _expect(rt, metadata.get(key), (str,), f"ObjectMeta.metadata.{key}", "string")
        _check_string_map(rt, metadata.get("labels"), "ObjectMeta.metadata.labels")
        _check_string_map(rt, metadata.get("annotations"), "ObjectMeta.metadata.annotations")
        unknown = [f"metadata.{key}" for key in metadata if key not in _METADATA_FIELDS]
        allowed = {"apiVersion", "kind", "metadata", *rt.top_fields}
        unknown += [key for key in obj if key not in allowed]
        warnings = []
        if unknown:
            if options.field_validation == "Strict":
                listed = ", ".join(f'unknown field "{key}"' for key in unknown)
                raise _bad_request(f"strict decoding error: {listed}")
            for dotted in unknown:
                _delete_at(obj, tuple(dotted.split(".")))
                if options.field_validation != "Ignore":
                    warnings.append(f'unknown field "{dotted}"')
        if rt.kind == "Secret":
            self._decode_secret(rt, obj)
        elif rt.kind == "ConfigMap":
            _check_string_map(rt, obj.get("data"), "ConfigMap.data")
            for key, value in (obj.get("binaryData") or {}).items():
                _expect(rt, value, (str,), "ConfigMap.binaryData", "[]uint8")
                if error := _b64_error(value):
                    raise _decode_error(rt, f"{error} (binaryData[{key}])")
        elif rt.kind == "Lease":
            self._decode_lease(rt, obj)
        elif "spec" in rt.top_fields:
            _expect(rt, obj.get("spec"), (dict,), f"{rt.kind}.spec", f"v1.{rt.kind}Spec")
        return obj, warnings

    @staticmethod
    def _decode_secret(rt: ResourceType, obj: JSON) -> None:
        _expect(rt, obj.get("type"), (str,), "Secret.type", "v1.SecretType")
        _expect(rt, obj.get("immutable"), (bool,), "Secret.immutable", "bool")
        _expect(rt, obj.get("data"), (dict,), "Secret.data", "map[string][]uint8")
        for value in (obj.get("data") or {}).values():
            _expect(rt, value, (str,), "Secret.data", "[]uint8")
            if error := _b64_error(value):
                raise _decode_error(rt, error)
        _check_string_map(rt, obj.get("stringData"), "Secret.stringData")
        # The API server folds stringData into data (stringData wins) and never stores it.
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {}) or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(value.encode()).decode()
            obj["data"] = data

    @staticmethod
    def _decode_lease(rt: ResourceType, obj: JSON) -> None:
        spec = obj.get("spec")
        _expect(rt, spec, (dict,), "Lease.spec", "v1.LeaseSpec")
        spec = spec or {}
        for key in ("holderIdentity", "strategy", "preferredHolder"):
            _expect(rt, spec.get(key), (str,), f"LeaseSpec.spec.{key}", "string")
        for key in ("leaseDurationSeconds", "leaseTransitions"):
            _expect(rt, spec.get(key), (int,), f"LeaseSpec.spec.{key}", "int32")
        for key in ("acquireTime", "renewTime"):
            value = spec.get(key)
            _expect(rt, value, (str,), f"LeaseSpec.spec.{key}", "v1.MicroTime")
            if value is not None and not re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", value
            ):
                raise _decode_error(
                    rt,
                    f'parsing time "{value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse '
                    f'"{value}" as "2006"',
                )
            if value is not None:
                # MicroTime is stored and served as RFC 3339 in UTC with microseconds.
                moment = datetime.datetime.fromisoformat(value).astimezone(datetime.UTC)
                spec[key] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def validate(self, rt: ResourceType, obj: JSON, old: JSON | None) -> None:
        metadata = obj["metadata"]
        name = metadata.get("name", "")
        errors: list[FieldError] = []
        if not name:
            errors.append(_required("metadata.name", "name or generateName is required"))
        else:
            errors += _name_errors(name, rt.name_rule, "metadata.name")
        for key, value in (metadata.get("labels") or {}).items():
            errors += _qualified_name_errors(key, "metadata.labels")
            errors += _label_value_errors(value, "metadata.labels")
        annotations = metadata.get("annotations") or {}
        for key in annotations:
            errors += _qualified_name_errors(key.lower(), "metadata.annotations")
        if sum(len(k) + len(v) for k, v in annotations.items()) > 256 * 1024:
            errors.append(
                FieldError(
                    "Too long", "metadata.annotations", detail="must have at most 262144 bytes"
                )
            )
        for index, finalizer in enumerate(metadata.get("finalizers") or []):
            errors += _qualified_name_errors(finalizer, f"metadata.finalizers[{index}]")
        validator = getattr(self, f"_validate_{rt.singular}", None)
        if validator is not None:
            errors += validator(obj, old)
        if errors:
            raise _invalid_error(rt.kind, name, errors, rt.group)

    @staticmethod
    def _validate_secret(obj: JSON, old: JSON | None) -> list[FieldError]:
        errors: list[FieldError] = []
        data = obj.get("data") or {}
        for key in data:
            errors += _config_key_errors(key, f"data[{key}]")
        size = sum(len(base64.b64decode(value)) for value in data.values())
        if size > 1024 * 1024:
            errors.append(FieldError("Too long", "data", detail="must have at most 1048576 bytes"))
        if obj.get("type") == "kubernetes.io/tls":
            # ValidateSecret: both keys must exist (they may be empty, as cert-manager relies on).
            errors += [
                _required(f"data[{key}]") for key in ("tls.crt", "tls.key") if key not in data
            ]
        if old is not None:
            errors += _immutable_data_errors(obj, old, ("data",))
            if obj.get("type") != old.get("type"):
                errors.append(_invalid("type", obj.get("type"), "field is immutable"))
        return errors

    @staticmethod
    def _validate_configmap(obj: JSON, old: JSON | None) -> list[FieldError]:
        errors: list[FieldError] = []
        data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
        for key in data:
            errors += _config_key_errors(key, f"data[{key}]")
            if key in binary:
                errors.append(
                    _invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
                )
        for key in binary:
            errors += _config_key_errors(key, f"binaryData[{key}]")
        if old is not None:
            errors += _immutable_data_errors(obj, old, ("data", "binaryData"))
        return errors

    @staticmethod
    def _validate_lease(obj: JSON, old: JSON | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errors = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and duration <= 0:
            errors.append(_invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and transitions < 0:
            errors.append(
                _invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
            )
        return errors

    @staticmethod
    def _validate_pod(obj: JSON, old: JSON | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        containers = spec.get("containers") or []
        errors: list[FieldError] = []
        if not containers:
            errors.append(_required("spec.containers"))
        for index, container in enumerate(containers):
            path = f"spec.containers[{index}]"
            if not container.get("name"):
                errors.append(_required(f"{path}.name"))
            else:
                errors += _name_errors(container["name"], "label", f"{path}.name")
            if not container.get("image"):
                errors.append(_required(f"{path}.image"))
        if old is not None:
            # Pod specs are immutable apart from a few fields; images are the one that matters here.
            def without_images(pod_spec: JSON) -> JSON:
                stripped = copy.deepcopy(pod_spec)
                for container in stripped.get("containers") or []:
                    container.pop("image", None)
                return stripped

            if without_images(spec) != without_images(old.get("spec") or {}):
                errors.append(
                    _forbidden(
                        "spec",
                        "pod updates may not change fields other than `spec.containers[*].image`,"
                        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                        "`spec.tolerations` (only additions to existing tolerations),"
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                        "was previously negative)",
                    )
                )
        return errors

    @staticmethod
    def _validate_service(obj: JSON, old: JSON | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errors: list[FieldError] = []
        kinds = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
        if spec.get("type") not in kinds:
            errors.append(_unsupported("spec.type", spec.get("type"), kinds))
        ports = spec.get("ports") or []
        if not ports and spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
            errors.append(_required("spec.ports"))
        for index, port in enumerate(ports):
            number = port.get("port")
            if not isinstance(number, int) or not 1 <= number <= 65535:
                errors.append(
                    _invalid(
                        f"spec.ports[{index}].port",
                        number,
                        "must be between 1 and 65535, inclusive",
                    )
                )
            if len(ports) > 1 and not port.get("name"):
                errors.append(_required(f"spec.ports[{index}].name"))
        if old is not None:
            previous = (old.get("spec") or {}).get("clusterIP")
            if spec.get("clusterIP") != previous:
                errors.append(
                    _invalid("spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set")
                )
        return errors

    @staticmethod
    def _validate_ingress(obj: JSON, old: JSON | None) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errors: list[FieldError] = []
        rules = spec.get("rules") or []
        if not rules and not spec.get("defaultBackend"):
            errors.append(
                _invalid("spec", spec, "either `defaultBackend` or `rules` must be specified")
            )
        for r, rule in enumerate(rules):
            host = rule.get("host")
            if host:
                errors += _name_errors(
                    host.removeprefix("*."), "subdomain", f"spec.rules[{r}].host"
                )
            for p, path in enumerate((rule.get("http") or {}).get("paths") or []):
                where = f"spec.rules[{r}].http.paths[{p}]"
                path_type = path.get("pathType")
                if not path_type:
                    errors.append(_required(f"{where}.pathType", "pathType must be specified"))
                elif path_type not in ("Exact", "Prefix", "ImplementationSpecific"):
                    supported = ("Exact", "ImplementationSpecific", "Prefix")
                    errors.append(_unsupported(f"{where}.pathType", path_type, supported))
                elif path_type != "ImplementationSpecific" and not str(
                    path.get("path", "")
                ).startswith("/"):
                    errors.append(
                        _invalid(f"{where}.path", path.get("path"), "must be an absolute path")
                    )
                service = (path.get("backend") or {}).get("service")
                if not service:
                    errors.append(
                        _invalid(
                            f"{where}.backend",
                            path.get("backend"),
                            "one backend type must be specified",
                        )
                    )
                elif not service.get("name"):
                    errors.append(_required(f"{where}.backend.service.name"))
        return errors

    # -- defaulting

    def default(self, rt: ResourceType, obj: JSON, old: JSON | None) -> None:
        if rt.kind == "Secret":
            obj.setdefault("type", "Opaque")
            if not obj.get("data"):
                obj.pop("data", None)
        elif rt.kind == "Namespace":
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
                "metadata"
            ]["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = (old or {}).get("status") or {"phase": "Active"}
        elif rt.kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            if old is not None and not spec.get("clusterIP"):
                # Since Kubernetes 1.20 an update without clusterIP keeps the allocated one.
                spec["clusterIP"] = old["spec"].get("clusterIP")
                spec["clusterIPs"] = old["spec"].get("clusterIPs")
            elif old is None and spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
                self.next_cluster_ip += 1
                address = str(ipaddress.ip_address("10.96.0.0") + self.next_cluster_ip)
                spec["clusterIP"], spec["clusterIPs"] = address, [address]
            obj.setdefault("status", {"loadBalancer": {}})
        elif rt.kind == "Pod":
            spec = obj.setdefault("spec", {})
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("schedulerName", "default-scheduler")
            for container in spec.get("containers") or []:
                image = str(container.get("image", ""))
                latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
                container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
                container.setdefault("terminationMessagePath", "/dev/termination-log")
                container.setdefault("terminationMessagePolicy", "File")
            obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
        elif rt.kind == "Ingress":
            obj.setdefault("status", {"loadBalancer": {}})

    # -- writes

    def options(
        self,
        kind: str,
        query: Mapping[str, str],
        *,
        apply: bool | None = None,
        user_agent: str = "",
    ) -> _Options:
        _check_options(kind, [], query, apply=apply)
        # Without fieldManager, kube-apiserver names the manager after the User-Agent's product.
        manager = query.get("fieldManager") or user_agent.split("/")[0] or "unknown"
        return _Options(
            dry_run=query.get("dryRun") == "All",
            field_manager=manager,
            field_validation=query.get("fieldValidation", "Warn"),
            force=query.get("force") == "true",
        )

    def create(
        self,
        rt: ResourceType,
        namespace: str,
        body: Any,
        options: _Options,
        *,
        operation: str = "Update",
        apply: bool = False,
    ) -> _Result:
        obj, warnings = self.decode(rt, body, options, apply=apply)
        metadata = obj["metadata"]
        if rt.namespaced:
            if (metadata.get("namespace") or namespace) != namespace:
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        with self.lock:
            if not metadata.get("name") and metadata.get("generateName"):
                suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
                metadata["name"] = metadata["generateName"] + suffix
            if metadata.get("resourceVersion"):
                # etcd3's storage.ErrResourceVersionSetOnCreate surfaces as an internal error.
                raise StatusError(
                    500,
                    "InternalError",
                    f"Internal error occurred: {_RV_ON_CREATE}",
                    {"causes": [{"message": _RV_ON_CREATE}]},
                )
            if rt.namespaced and self.stored(_BY_PLURAL["namespaces"], "", namespace) is None:
                raise _not_found(_BY_PLURAL["namespaces"], namespace)
            if rt.has_status:
                obj.pop("status", None)
            managers = [
                _Manager(
                    options.field_manager,
                    operation,
                    rt.api_version,
                    "",
                    _leaves(obj, skip_status=rt.has_status),
                    self.timestamp(),
                )
            ]
            stored = self.commit(rt, None, obj, managers, options)
        return _Result(201, stored, warnings)

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        options: _Options,
        subresource: str = "",
    ) -> _Result:
        obj, warnings = self.decode(rt, body, options)
        with self.lock:
            old = self.require(rt, namespace, name)
            self.check_identity(rt, namespace, name, obj, old)
            obj = _split_status(rt, old, obj, subresource)
            managers = self.track_update(rt, old, obj, options.field_manager, subresource)
            stored = self.commit(rt, old, obj, managers, options)
        return _Result(200, stored, warnings)

    def check_identity(
        self, rt: ResourceType, namespace: str, name: str, obj: JSON, old: JSON
    ) -> None:
        """Name, namespace, UID and resourceVersion preconditions of an update."""
        metadata = obj["metadata"]
        if metadata.get("name", name) != name:
            raise _bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        metadata["name"] = name
        if rt.namespaced:
            if (metadata.get("namespace") or namespace) != namespace:
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            metadata["namespace"] = namespace
        uid = metadata.get("uid")
        if uid and uid != old["metadata"]["uid"]:
            raise _conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{old['metadata']['uid']}",
            )
        version = metadata.get("resourceVersion")
        if version and version != old["metadata"]["resourceVersion"]:
            raise _conflict(rt, name, _MODIFIED)

    def track_update(
        self, rt: ResourceType, old: JSON, new: JSON, manager: str, subresource: str
    ) -> list[_Manager]:
        """An Update operation takes over every field it changes, from every other manager."""
        managers = _managers(old)
        if subresource == "status":
            before = _leaves(old.get("status"), ("status",))
            after = _leaves(new.get("status"), ("status",))
        else:
            before = _leaves(old, skip_status=rt.has_status)
            after = _leaves(new, skip_status=rt.has_status)
        changed = {p for p in after if _value_at(old, p) != _value_at(new, p)}
        removed = before - after
        touched = changed | removed
        if not touched:
            return managers
        for entry in managers:
            entry.fields = {p for p in entry.fields if not any(_overlaps(p, t) for t in touched)}
        key = (manager, "Update", subresource)
        mine = next((m for m in managers if m.key == key), None)
        if mine is None:
            mine = _Manager(manager, "Update", rt.api_version, subresource, set(), "")
            managers.append(mine)
        mine.fields |= changed
        mine.time = self.timestamp()
        return [m for m in managers if m.fields]

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        raw: bytes,
        query: Mapping[str, str],
        user_agent: str,
        subresource: str = "",
    ) -> _Result:
        """Apply a PATCH of any of the four patch types."""
        apply = content_type == "application/apply-patch+yaml"
        known = (
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        )
        if content_type not in known or (
            rt.custom and content_type == "application/strategic-merge-patch+json"
        ):
            accepted = [t for t in known if not (rt.custom and "strategic" in t)]
            raise StatusError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(accepted)}",
            )
        options = self.options("PatchOptions", query, apply=apply, user_agent=user_agent)
        try:
            document = yaml.safe_load(raw.decode()) if apply else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise _bad_request(f"error decoding patch: {exc}") from exc
        if apply:
            return self.apply(rt, namespace, name, document, options, subresource)
        with self.lock:
            old = self.require(rt, namespace, name)
            current = copy.deepcopy(old)
            if content_type == "application/json-patch+json":
                if not isinstance(document, list):
                    raise _bad_request(
                        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
                    )
                try:
                    patched = json_patch(current, document)
                except _JSONPatchError as exc:
                    raise StatusError(422, "Invalid", str(exc)) from exc
            else:
                if not isinstance(document, dict):
                    raise _bad_request("error decoding patch: a patch must be a JSON object")
                if content_type == "application/merge-patch+json":
                    patched = merge_patch(current, document)
                else:
                    patched = strategic_merge_patch(rt, current, document)
            # A resourceVersion left in the patched object is a precondition; a patch that does
            # not mention it applies to the latest version (no conflict possible).
            obj, warnings = self.decode(rt, patched, options)
            self.check_identity(rt, namespace, name, obj, old)
            obj = _split_status(rt, old, obj, subresource)
            managers = self.track_update(rt, old, obj, options.field_manager, subresource)
            stored = self.commit(rt, old, obj, managers, options)
        return _Result(200, stored, warnings)

    def apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        document: Any,
        options: _Options,
        subresource: str,
    ) -> _Result:
        """Server-side apply (see the module notes for what is simplified)."""
        config, warnings = self.decode(rt, document, options, apply=True)
        with self.lock:
            old = self.stored(rt, namespace, name)
            metadata = config["metadata"]
            if metadata.get("name", name) != name:
                raise _bad_request(
                    f"the name of the object ({metadata.get('name')}) does not match the name on "
                    f"the URL ({name})"
                )
            if old is None:
                if subresource:
                    raise _not_found(rt, name)
                config["metadata"]["name"] = name
                return self.create(rt, namespace, config, options, operation="Apply", apply=True)
            self.check_identity(rt, namespace, name, config, old)
            if subresource == "status":
                applied = _leaves(config.get("status"), ("status",))
            else:
                applied = _leaves(config, skip_status=rt.has_status)
            managers = _managers(old)
            key = (options.field_manager, "Apply", subresource)
            conflicts: list[tuple[_Manager, FieldPath]] = []
            for entry in managers:
                if entry.key == key:
                    continue
                for owned in sorted(entry.fields):
                    for path in applied:
                        if not _overlaps(owned, path):
                            continue
                        longer = owned if len(owned) >= len(path) else path
                        if _value_at(old, longer) != _value_at(config, longer):
                            conflicts.append((entry, owned))
                            break
            if conflicts and not options.force:
                raise _apply_conflict(conflicts)
            for entry, owned in conflicts:
                entry.fields.discard(owned)
            mine = next((m for m in managers if m.key == key), None)
            previous = mine.fields if mine else set()
            merged = copy.deepcopy(old)
            for path in previous - applied:
                if not any(
                    any(_overlaps(path, other) for other in entry.fields)
                    for entry in managers
                    if entry.key != key
                ):
                    _delete_at(merged, path)
            source = {"status": config.get("status")} if subresource == "status" else config
            if rt.has_status and subresource != "status":
                source = {k: v for k, v in source.items() if k != "status"}
            merged = merge_patch(merged, _without_nulls(source))
            if mine is None:
                mine = _Manager(
                    options.field_manager, "Apply", rt.api_version, subresource, set(), ""
                )
                managers.append(mine)
            if mine.fields != applied or not mine.time:
                mine.time = self.timestamp()
            mine.fields = set(applied)
            managers = [m for m in managers if m.fields]
            stored = self.commit(rt, old, merged, managers, options)
        return _Result(200, stored, warnings)

    def commit(
        self,
        rt: ResourceType,
        old: JSON | None,
        obj: JSON,
        managers: list[_Manager],
        options: _Options,
    ) -> JSON:
        """Default, validate, stamp and (unless dry-run) store ``obj``."""
        self.default(rt, obj, old)
        self.validate(rt, obj, old)
        metadata = obj["metadata"]
        for key in ("selfLink", "generateName") if old is not None else ("selfLink",):
            metadata.pop(key, None)
        if old is not None:
            kept = old["metadata"]
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if key in kept:
                    metadata[key] = kept[key]
                else:
                    metadata.pop(key, None)
            if "generateName" in kept:
                metadata["generateName"] = kept["generateName"]
            if kept.get("deletionTimestamp"):
                added = set(metadata.get("finalizers") or []) - set(kept.get("finalizers") or [])
                if added:
                    raise _invalid_error(
                        rt.kind,
                        metadata["name"],
                        [
                            _forbidden(
                                "metadata.finalizers",
                                "no new finalizers can be added if the object is being deleted",
                            )
                        ],
                        rt.group,
                    )
        else:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = self.timestamp()
        if rt.has_generation:
            if old is None:
                metadata["generation"] = 1
            else:
                generation = old["metadata"].get("generation", 1)
                if _without_metadata_status(obj) != _without_metadata_status(old):
                    generation += 1
                metadata["generation"] = generation
        else:
            metadata.pop("generation", None)
        metadata["managedFields"] = [m.to_json() for m in managers]
        if old is not None:
            metadata["resourceVersion"] = old["metadata"]["resourceVersion"]
            if _without_times(obj) == _without_times(old):
                # A no-op write is not written to etcd and keeps its resourceVersion.
                return copy.deepcopy(old)
        location = (rt.plural, metadata.get("namespace", ""), metadata["name"])
        if old is None and location in self.objects:
            raise _already_exists(rt, metadata["name"])
        if options.dry_run:
            metadata["resourceVersion"] = old["metadata"]["resourceVersion"] if old else ""
            if not metadata["resourceVersion"]:
                metadata.pop("resourceVersion")
            return copy.deepcopy(obj)
        metadata["resourceVersion"] = self.bump()
        if old is not None and metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            del self.objects[location]
        else:
            self.objects[location] = copy.deepcopy(obj)
        return copy.deepcopy(obj)

    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: _Options, body: Any
    ) -> _Result:
        preconditions = (body or {}).get("preconditions") or {} if isinstance(body, dict) else {}
        with self.lock:
            old = self.require(rt, namespace, name)
            uid, version = preconditions.get("uid"), preconditions.get("resourceVersion")
            if uid and uid != old["metadata"]["uid"]:
                raise _conflict(
                    rt,
                    name,
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                    f"{old['metadata']['uid']}",
                )
            if version and version != old["metadata"]["resourceVersion"]:
                raise _conflict(
                    rt,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {version}, "
                    f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}",
                )
            obj = copy.deepcopy(old)
            if old["metadata"].get("finalizers"):
                # Deletion waits for the finalizers; the object stays, marked.
                if not old["metadata"].get("deletionTimestamp"):
                    obj["metadata"]["deletionTimestamp"] = self.timestamp()
                    obj["metadata"]["deletionGracePeriodSeconds"] = 0
                    if not options.dry_run:
                        obj["metadata"]["resourceVersion"] = self.bump()
                        self.objects[(rt.plural, namespace if rt.namespaced else "", name)] = (
                            copy.deepcopy(obj)
                        )
                return _Result(200, obj)
            if not options.dry_run:
                self.revision += 1
                del self.objects[(rt.plural, namespace if rt.namespaced else "", name)]
                if rt.kind == "Namespace":
                    for key in [
                        k for k in self.objects if k[1] == name and _BY_PLURAL[k[0]].namespaced
                    ]:
                        del self.objects[key]
        if rt.kind in ("Pod", "Service", "Namespace"):
            return _Result(200, obj)
        details = _details(rt, name)
        details["uid"] = old["metadata"]["uid"]
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
        return _Result(200, status)


def _split_status(rt: ResourceType, old: JSON, new: JSON, subresource: str) -> JSON:
    """The main resource keeps the stored status; ``/status`` changes nothing else."""
    if subresource == "status":
        result, source = copy.deepcopy(old), new
    elif rt.has_status:
        result, source = new, old
    else:
        return new
    if source.get("status") is None:
        result.pop("status", None)
    else:
        result["status"] = copy.deepcopy(source["status"])
    return result


def _immutable_data_errors(obj: JSON, old: JSON, keys: tuple[str, ...]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    errors = []
    if not obj.get("immutable"):
        errors.append(_forbidden("immutable", "field is immutable when `immutable` is set"))
    for key in keys:
        if (obj.get(key) or {}) != (old.get(key) or {}):
            errors.append(_forbidden(key, "field is immutable when `immutable` is set"))
    return errors


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def _without_metadata_status(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_times(obj: JSON) -> JSON:
    clone = copy.deepcopy(obj)
    for entry in clone["metadata"].get("managedFields", []):
        entry.pop("time", None)
    return clone


def _apply_conflict(conflicts: list[tuple[_Manager, FieldPath]]) -> StatusError:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {entry.label}",
            "field": _format_path(path),
        }
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.label}: {_format_path(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.label, []).append(_format_path(path))
        lines = []
        for label in sorted(by_manager):
            lines.append(f"conflicts with {label}:")
            lines += [f"- {path}" for path in by_manager[label]]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


# --- TLS material ---


def _mint_tls() -> tuple[bytes, bytes, bytes]:
    """A throw-away CA and a server certificate for 127.0.0.1 and localhost (PEM)."""
    now = _utc_now()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certctl fake kube-apiserver CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes.default.svc"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert.public_bytes(serialization.Encoding.PEM),
        key_pem,
    )


# --- HTTP ---


@dataclass(frozen=True)
class _Route:
    rt: ResourceType
    namespace: str
    name: str
    subresource: str


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: KubeAPIServer, context: ssl.SSLContext) -> None:
        self.owner = owner
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(wrapped)
        return wrapped, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-handshake or mid-request are not the fake's failures.
        return

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 10

    def setup(self) -> None:
        super().setup()
        assert isinstance(self.connection, ssl.SSLSocket)
        self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.owner._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.owner._handle(self, "PUT")

    def do_PATCH(self) -> None:
        self.server.owner._handle(self, "PATCH")

    def do_DELETE(self) -> None:
        self.server.owner._handle(self, "DELETE")

    def send_json(
        self, code: int, body: JSON, headers: Mapping[str, str], warnings: list[str]
    ) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        for warning in warnings:
            self.send_header("Warning", f"299 - {json.dumps(warning)}")
        self.end_headers()
        self.wfile.write(payload)


# --- the fixture object ---


class KubeAPIServer:
    """A strict fake kube-apiserver on ``https://127.0.0.1:<free port>`` (see the module notes).

    Args:
        clock: Where timestamps come from; aware UTC datetimes.
        namespaces: The namespaces that exist at start.
    """

    def __init__(
        self,
        *,
        clock: Clock = _utc_now,
        namespaces: Iterable[str] = INITIAL_NAMESPACES,
    ) -> None:
        self._cluster = _Cluster(clock)
        self._tokens: dict[str, str] = {ADMIN_TOKEN: ADMIN_USER}
        self._admins: set[str] = {ADMIN_TOKEN}
        self._rules: dict[str, list[_Rule]] = {}
        self._faults: list[_Fault] = []
        self._log: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        self._state_lock = threading.Lock()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_pem, self._cert_pem, self._key_pem = _mint_tls()
        for namespace in namespaces:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    # -- lifecycle

    def start(self) -> KubeAPIServer:
        """Listen and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("the fake Kubernetes API is already running")
        self._tempdir = tempfile.TemporaryDirectory(prefix="kubeapi-")
        cert_path = Path(self._tempdir.name, "server.pem")
        cert_path.write_bytes(self._cert_pem + self._key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_path)
        self._server = _HTTPServer(self, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kubeapi-fake",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.drop_connections()
            server.server_close()
        if thread is not None:
            thread.join()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Kubernetes API is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- credentials

    def write_kubeconfig(
        self,
        path: Path,
        *,
        token: str | None = None,
        context: str = "fake",
        namespace: str = "default",
    ) -> Path:
        """Write a kubeconfig for this server and return its path.

        Args:
            path: Where to write it.
            token: The bearer token; None means the admin token, "" writes a user without one.
            context: The context name, also made the current context.
            namespace: The context's default namespace.
        """
        user: JSON = {} if token == "" else {"token": ADMIN_TOKEN if token is None else token}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "fake",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [
                {
                    "name": context,
                    "context": {
                        "cluster": "fake",
                        "user": f"{context}-user",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        path = Path(path)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    def add_token(self, token: str, user: str = DEFAULT_SERVICE_ACCOUNT) -> None:
        """Make ``token`` authenticate as ``user``, with no permissions yet."""
        with self._state_lock:
            self._tokens[token] = user
            self._rules.setdefault(token, [])

    def grant(
        self,
        token: str,
        verbs: Iterable[str],
        resources: Iterable[str],
        namespace: str | None = None,
        *,
        user: str | None = None,
    ) -> None:
        """Allow ``token`` the verbs on the resources, in one namespace or (None) everywhere.

        Verbs are RBAC's (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
        ``delete``, ``deletecollection`` or ``*``); resources are plurals, optionally with a
        subresource (``certificates/status``), or ``*``. An unknown token is registered for
        ``user`` (default `DEFAULT_SERVICE_ACCOUNT`).
        """
        with self._state_lock:
            if token not in self._tokens or user is not None:
                self._tokens[token] = user or DEFAULT_SERVICE_ACCOUNT
            self._rules.setdefault(token, []).append(
                _Rule(frozenset(verbs), frozenset(resources), namespace)
            )

    # -- fault injection and the request log

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        reason: str | None = None,
        *,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a Status body.

        ``path_regex`` is searched (``re.search``) in the request path without the query.
        Injected answers come after authentication and authorization and change nothing.
        """
        fault = _Fault(
            method.upper(),
            re.compile(path_regex),
            status,
            times,
            reason or _DEFAULT_REASONS.get(status, "Unknown"),
            message or f"injected failure: the fake answered {status} on purpose",
            retry_after,
        )
        with self._state_lock:
            self._faults.append(fault)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered since the start or the last `reset_log`, oldest first."""
        with self._state_lock:
            return list(self._log)

    def mutating_requests(self) -> list[RecordedRequest]:
        """POST, PUT, PATCH and DELETE requests that were not dry runs, whatever their answer."""
        return [request for request in self.requests if request.mutating]

    def reset_log(self) -> None:
        with self._state_lock:
            self._log.clear()

    # -- direct store access (no auth, no log)

    def create(self, obj: Mapping[str, Any], *, field_manager: str = "kubeapi-fake") -> JSON:
        """Create ``obj`` as a POST would (validated), and return the stored object."""
        rt = _BY_KIND.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
        if rt is None:
            raise KeyError(f"the fake does not serve {obj.get('apiVersion')} {obj.get('kind')}")
        namespace = obj.get("metadata", {}).get("namespace") or ("default" if rt.namespaced else "")
        options = _Options(dry_run=False, field_manager=field_manager, field_validation="Strict")
        return self._cluster.create(rt, namespace, obj, options).body

    def get(self, kind_plural: str, namespace: str | None, name: str) -> JSON | None:
        """The stored object, or None."""
        rt = resource_type(kind_plural)
        with self._cluster.lock:
            obj = self._cluster.stored(rt, namespace or "", name)
            return copy.deepcopy(obj)

    def objects(self, kind_plural: str, namespace: str | None = None) -> list[JSON]:
        """Every stored object of one resource, sorted by namespace and name."""
        rt = resource_type(kind_plural)
        with self._cluster.lock:
            return [
                copy.deepcopy(obj)
                for (plural, ns, _), obj in sorted(self._cluster.objects.items())
                if plural == rt.plural and (namespace is None or ns == namespace)
            ]

    def delete(self, kind_plural: str, namespace: str | None, name: str) -> None:
        """Remove an object at once (finalizers are ignored)."""
        rt = resource_type(kind_plural)
        with self._cluster.lock:
            key = (rt.plural, (namespace or "") if rt.namespaced else "", name)
            if key not in self._cluster.objects:
                raise _not_found(rt, name)
            del self._cluster.objects[key]
            self._cluster.revision += 1

    @property
    def resource_version(self) -> int:
        """The cluster's current resourceVersion."""
        return self._cluster.revision

    # -- request handling

    def _handle(self, handler: _Handler, method: str) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        path = parsed.path
        pairs = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        query = {key: values[-1] for key, values in pairs.items()}
        content_type = (handler.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        user: str | None = None
        body: Any = None
        injected = False
        headers: dict[str, str] = {}
        warnings: list[str] = []
        try:
            raw = self._read_body(handler)
            body = _parse_for_log(raw, content_type)
            token, user = self._authenticate(handler)
            accept = handler.headers.get("Accept")
            if accept:
                accepted = {item.split(";")[0].strip() for item in accept.split(",")}
                if not {"application/json", "*/*", "application/*"} & accepted:
                    raise StatusError(
                        406,
                        "NotAcceptable",
                        "only the following media types are accepted: application/json",
                    )
            result = self._serve(method, path, query, content_type, raw, token, user, handler)
            code, response, warnings = result.code, result.body, result.warnings
        except StatusError as error:
            code, response, headers, injected = (
                error.code,
                error.body(),
                error.headers,
                error.injected,
            )
        except Exception as exc:
            # A bug in the fake must fail the test, not pass as a server answer.
            self.internal_errors.append(f"{method} {handler.path}: {exc!r}")
            internal = StatusError(500, "InternalError", f"Internal error occurred: {exc!r}")
            code, response = internal.code, internal.body()
        dry_run = query.get("dryRun") == "All" or (
            isinstance(body, dict)
            and body.get("kind") == "DeleteOptions"
            and body.get("dryRun") == ["All"]
        )
        record = RecordedRequest(
            method, path, query, body, user, code, content_type or None, dry_run, injected
        )
        with self._state_lock:
            self._log.append(record)
        handler.send_json(code, response, headers, warnings)

    @staticmethod
    def _read_body(handler: _Handler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            handler.close_connection = True
            raise StatusError(411, "BadRequest", "the fake Kubernetes API needs a Content-Length")
        length = int(handler.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            handler.close_connection = True
            raise StatusError(
                413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"
            )
        return handler.rfile.read(length) if length else b""

    def _authenticate(self, handler: _Handler) -> tuple[str, str]:
        scheme, _, token = handler.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        with self._state_lock:
            user = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            raise StatusError(401, "Unauthorized", "Unauthorized")
        return token, user

    def _serve(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        content_type: str,
        raw: bytes,
        token: str,
        user: str,
        handler: _Handler,
    ) -> _Result:
        discovery = self._discovery(path.rstrip("/") or "/")
        if discovery is not None:
            if method != "GET":
                raise StatusError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            return _Result(200, discovery)
        route = _parse_route(path)
        verb = _verb(method, route, query)
        self._authorize(token, user, verb, route)
        if verb == "patch" and content_type == "application/apply-patch+yaml":
            with self._cluster.lock:
                missing = self._cluster.stored(route.rt, route.namespace, route.name) is None
            if missing:
                # kube-apiserver's patch handler also authorizes "create" when apply creates.
                self._authorize(token, user, "create", route)
        fault = self._take_fault(method, path)
        if fault is not None:
            headers = {}
            details = _details(route.rt, route.name) if route.name else {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
                details["retryAfterSeconds"] = fault.retry_after
            error = StatusError(fault.status, fault.reason, fault.message, details or None, headers)
            error.injected = True
            raise error
        return self._dispatch(verb, route, query, content_type, raw, handler)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._state_lock:
            for fault in self._faults:
                if fault.method in (method, "*") and fault.path.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _authorize(self, token: str, user: str, verb: str, route: _Route) -> None:
        if token in self._admins:
            return
        resource = route.rt.plural + (f"/{route.subresource}" if route.subresource else "")
        with self._state_lock:
            rules = list(self._rules.get(token, []))
        for rule in rules:
            if not ({verb, "*"} & rule.verbs and {resource, "*"} & rule.resources):
                continue
            if rule.namespace is None or (
                route.rt.namespaced and rule.namespace == route.namespace
            ):
                return
        if route.namespace and route.rt.namespaced:
            where = f'in the namespace "{route.namespace}"'
        else:
            where = "at the cluster scope"
        reason = (
            f'User "{user}" cannot {verb} resource "{resource}" in API group "{route.rt.group}" '
            f"{where}"
        )
        subject = f'{route.rt.qualified} "{route.name}"' if route.name else route.rt.qualified
        raise StatusError(
            403,
            "Forbidden",
            f"{subject} is forbidden: {reason}",
            _details(route.rt, route.name),
        )

    def _dispatch(
        self,
        verb: str,
        route: _Route,
        query: Mapping[str, str],
        content_type: str,
        raw: bytes,
        handler: _Handler,
    ) -> _Result:
        cluster, rt = self._cluster, route.rt
        user_agent = handler.headers.get("User-Agent", "")
        if verb in ("get", "list", "watch"):
            if query.get("watch") in ("true", "1") or verb == "watch":
                raise _bad_request(
                    "watch is not supported by the fake Kubernetes API "
                    "(tests/integration/servers/kubeapi.py)"
                )
            if verb == "list":
                return cluster.list_objects(rt, route.namespace, query)
            return cluster.get(rt, route.namespace, route.name)
        if verb == "patch":
            return cluster.patch(
                rt,
                route.namespace,
                route.name,
                content_type,
                raw,
                query,
                user_agent,
                route.subresource,
            )
        body = _parse_body(raw, content_type, rt) if raw else None
        if verb == "create":
            if body is None:
                raise _bad_request("the body of the request is empty")
            return cluster.create(
                rt,
                route.namespace,
                body,
                cluster.options("CreateOptions", query, user_agent=user_agent),
            )
        if verb == "update":
            if body is None:
                raise _bad_request("the body of the request is empty")
            options = cluster.options("UpdateOptions", query, user_agent=user_agent)
            return cluster.update(rt, route.namespace, route.name, body, options, route.subresource)
        delete_query = dict(query)
        if isinstance(body, dict) and body.get("dryRun"):
            delete_query["dryRun"] = ",".join(body["dryRun"])
        options = cluster.options("DeleteOptions", delete_query, user_agent=user_agent)
        if verb == "delete":
            return cluster.delete(rt, route.namespace, route.name, options, body)
        listed = cluster.list_objects(rt, route.namespace, query).body
        for item in listed["items"]:
            cluster.delete(
                rt,
                route.namespace or item["metadata"].get("namespace", ""),
                item["metadata"]["name"],
                options,
                None,
            )
        return _Result(200, listed)

    def _discovery(self, path: str) -> JSON | None:
        """``/version``, ``/api``, ``/apis`` and the group-version resource lists."""
        if path == "/version":
            return dict(VERSION_INFO)
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                ],
            }
        groups = sorted({rt.group for rt in RESOURCE_TYPES if rt.group})
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
                    }
                    for group in groups
                ],
            }
        for group_version in ["v1", *(f"{g}/v1" for g in groups)]:
            prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            if path == prefix:
                return _resource_list(group_version)
            if group_version != "v1" and path == prefix.rsplit("/", 1)[0]:
                group = group_version.split("/")[0]
                return {
                    "kind": "APIGroup",
                    "apiVersion": "v1",
                    "name": group,
                    "versions": [{"groupVersion": group_version, "version": "v1"}],
                    "preferredVersion": {"groupVersion": group_version, "version": "v1"},
                }
        return None


def _resource_list(group_version: str) -> JSON:
    resources = []
    for rt in RESOURCE_TYPES:
        if rt.api_version != group_version:
            continue
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
        resources.append(
            {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": verbs,
            }
        )
        if rt.has_status:
            resources.append(
                {
                    "name": f"{rt.plural}/status",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _no_such_path() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def _parse_route(path: str) -> _Route:
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
        if version != "v1":
            raise _no_such_path()
    else:
        raise _no_such_path()
    served = {rt.plural: rt for rt in RESOURCE_TYPES if rt.group == group}
    namespace = ""
    if (
        len(rest) >= 3
        and rest[0] == "namespaces"
        and rest[2] in served
        and served[rest[2]].namespaced
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in served or len(rest) > 3 or "" in rest:
        raise _no_such_path()
    rt = served[rest[0]]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and (subresource != "status" or not rt.has_status):
        raise _no_such_path()
    if rt.namespaced and name and not namespace:
        raise _no_such_path()
    return _Route(rt, namespace, name, subresource)


def _verb(method: str, route: _Route, query: Mapping[str, str]) -> str:
    collection_verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
    item_verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    verbs = item_verbs if route.name else collection_verbs
    if method not in verbs or (route.subresource and method in ("POST", "DELETE")):
        raise StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    if method == "POST" and route.rt.namespaced and not route.namespace:
        raise StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    if method == "GET" and query.get("watch") in ("true", "1"):
        return "watch"
    return verbs[method]


def _parse_body(raw: bytes, content_type: str, rt: ResourceType) -> Any:
    try:
        if content_type in ("application/yaml", "text/yaml"):
            return yaml.safe_load(raw.decode())
        if content_type not in ("application/json", ""):
            raise StatusError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml",
            )
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise _decode_error(rt, f"json: {exc}") from exc


def _parse_for_log(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw.decode())
        return json.loads(raw)
    except (ValueError, yaml.YAMLError):
        return raw.decode(errors="replace")
