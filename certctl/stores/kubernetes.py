"""The Kubernetes store (``--store kubernetes``): Secrets in a cluster, as cert-manager writes them.

The only module that imports the ``kubernetes`` client. It connects through a
kubeconfig (``--kubeconfig`` / ``KUBECONFIG``, ``--context``) or the in-cluster
service account, and translates the client's exceptions into certctl errors.

* Reads are list-based: the first read in a namespace lists its Secrets once, so a
  run over thousands of Certificates makes one request per namespace, not one per
  Secret.
* Writes are server-side apply with field manager ``certctl``, retried with backoff
  on 409 and 5xx. A Secret that exists but does not belong to the Certificate being
  written (no matching ``cert-manager.io/certificate-name`` and no certctl mark)
  is someone else's: certctl refuses to touch it unless ``--force``.
* The run lock is a ``coordination.k8s.io`` Lease per store scope, renewed while held;
  a Lease left by a crashed holder expires.
"""

from __future__ import annotations

import base64
import builtins
import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from certctl.errors import LockHeldError, StoreError, UsageError
from certctl.stores.base import (
    CERTIFICATE_NAME_ANNOTATION,
    MANAGED_LABEL,
    ForeignSecretError,
    SecretRecord,
    belongs_to,
    foreign_secret_error,
)

FIELD_MANAGER = "certctl"
LEASE_NAME = "certctl-lock"
LEASE_DURATION = 60
RETRIES = 5
T = TypeVar("T")


class KubernetesStore:
    """Secrets in a Kubernetes cluster (see the module docstring)."""

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        lock_namespace: str = "cert-manager",
        force: bool = False,
        api_client: k8s.ApiClient | None = None,
    ) -> None:
        self._api_client = api_client or _connect(kubeconfig, context)
        self.core = k8s.CoreV1Api(self._api_client)
        self.coordination = k8s.CoordinationV1Api(self._api_client)
        self.lock_namespace = lock_namespace
        self.force = force
        host = self._api_client.configuration.host
        self.description = f"kubernetes ({context + ' at ' if context else ''}{host})"
        self._context_name = context or ("" if api_client else _current_context(kubeconfig))
        self._cache: dict[str, dict[str, SecretRecord]] = {}
        self._cache_lock = threading.Lock()

    @property
    def identity(self) -> str:
        """The API server and the context name (as resolved): what the state is keyed by.

        ``kubernetes:CONTEXT@HOST``, or ``kubernetes:HOST`` in a Pod (no kubeconfig).
        """
        host = self._api_client.configuration.host
        if not self._context_name:
            return f"kubernetes:{host}"
        return f"kubernetes:{self._context_name}@{host}"

    @property
    def api_client(self) -> k8s.ApiClient:
        """The connected API client, for adapters that talk to other resources (ingress solver)."""
        return self._api_client

    @classmethod
    def from_spec(cls, argument: str | None, **options: Any) -> KubernetesStore:
        """Build from ``--store kubernetes`` and the global options.

        Options: ``kubeconfig``, ``context``, ``cluster_resource_namespace`` (where the
        run's Lease lives), ``force`` (take over Secrets that belong to someone else).
        """
        return cls(
            kubeconfig=options.get("kubeconfig"),
            context=options.get("context"),
            lock_namespace=str(options.get("cluster_resource_namespace") or "cert-manager"),
            force=bool(options.get("force", False)),
        )

    def refresh(self) -> None:
        """Forget listed Secrets, so that the next read sees what other runs wrote."""
        with self._cache_lock:
            self._cache.clear()

    # -- reading ---------------------------------------------------------------------------

    def read(self, namespace: str, name: str) -> SecretRecord | None:
        return self._namespace(namespace).get(name)

    def version(self, namespace: str, name: str) -> str | None:
        record = self.read(namespace, name)
        return record.version if record is not None else None

    def stamp(self, namespace: str, name: str) -> str | None:
        # resourceVersion changes on every write, by certctl or by anyone else.
        return self.version(namespace, name)

    def list(self, namespace: str | None = None) -> Iterator[SecretRecord]:
        if namespace is not None:
            yield from self._namespace(namespace).values()
            return
        response = self._call(
            "list", "secrets", None, lambda: self.core.list_secret_for_all_namespaces()
        )
        for item in response.items:
            yield _record(item)

    def prefetch(self, namespaces: set[str]) -> None:
        """List every namespace a run will touch, up front (one request each)."""
        for namespace in sorted(namespaces):
            try:
                self._namespace(namespace)
            except StoreError:
                # Reading it again fails that namespace's Certificates, and only those.
                continue

    def _namespace(self, namespace: str) -> dict[str, SecretRecord]:
        with self._cache_lock:
            cached = self._cache.get(namespace)
        if cached is not None:
            return cached
        response = self._call(
            "list", "secrets", namespace, lambda: self.core.list_namespaced_secret(namespace)
        )
        records = {record.name: record for record in map(_record, response.items)}
        with self._cache_lock:
            self._cache[namespace] = records
        return records

    def list_ingresses(self, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Ingresses of one namespace or of all, as plain objects (for ingress-shim)."""
        networking = k8s.NetworkingV1Api(self._api_client)
        if namespace is None:
            response = self._call(
                "list", "ingresses", None, lambda: networking.list_ingress_for_all_namespaces()
            )
        else:
            response = self._call(
                "list",
                "ingresses",
                namespace,
                lambda: networking.list_namespaced_ingress(namespace),
            )
        items: builtins.list[dict[str, Any]] = []
        for item in response.items:
            plain: dict[str, Any] = self._api_client.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
            plain.setdefault("apiVersion", "networking.k8s.io/v1")
            plain.setdefault("kind", "Ingress")
            items.append(plain)
        return items

    # -- writing ---------------------------------------------------------------------------

    def write(self, record: SecretRecord) -> str:
        existing = self.read(record.namespace, record.name)
        owner = record.annotations.get(CERTIFICATE_NAME_ANNOTATION)
        if existing is not None and not self.force and not belongs_to(existing, owner):
            raise foreign_secret_error(existing, "the cluster")
        labels = {**record.labels, MANAGED_LABEL: "true"}
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": record.name,
                "namespace": record.namespace,
                "labels": labels,
                "annotations": dict(record.annotations),
            },
            # The type of an existing Secret is immutable; keep it.
            "type": existing.type if existing is not None else record.type,
            "data": {key: base64.b64encode(value).decode() for key, value in record.data.items()},
        }
        response = self._call(
            "patch",
            "secrets",
            record.namespace,
            lambda: self.core.patch_namespaced_secret(
                record.name,
                record.namespace,
                body,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
            ),
            retry=True,
        )
        written = _record(response)
        with self._cache_lock:
            self._cache.setdefault(record.namespace, {})[record.name] = written
        return written.version or ""

    def delete(self, namespace: str, name: str) -> bool:
        existing = self.read(namespace, name)
        if existing is None:
            return False
        if existing.labels.get(MANAGED_LABEL) != "true" and not self.force:
            raise ForeignSecretError(
                f"Secret {namespace}/{name} was not created by certctl; it is not deleted",
                hint="Delete it yourself if it really is unused",
            )
        try:
            self._call(
                "delete",
                "secrets",
                namespace,
                lambda: self.core.delete_namespaced_secret(name, namespace),
                retry=True,
            )
        except StoreError as error:
            if "(404)" not in error.message:
                raise
        with self._cache_lock:
            self._cache.get(namespace, {}).pop(name, None)
        return True

    # -- locking ---------------------------------------------------------------------------

    @contextmanager
    def lock(self, timeout: dt.timedelta) -> Iterator[None]:
        holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        lease = LeaseLock(self, holder)
        lease.acquire(timeout)
        try:
            yield
        finally:
            lease.release()

    # -- calling the API ---------------------------------------------------------------------

    def call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        request: Callable[[], T],
        *,
        retry: bool = False,
    ) -> T:
        """Run one request for an adapter (the ingress solver) with this store's retries
        and error translation: a 403 names the missing RBAC verb and resource."""
        return self._call(verb, resource, namespace, request, retry=retry)

    def _call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        request: Callable[[], T],
        *,
        retry: bool = False,
    ) -> T:
        """Run one API request, retrying 409 and 5xx when asked, translating errors."""
        attempts = RETRIES if retry else 1
        for attempt in range(attempts):
            try:
                return request()
            except ApiException as error:
                status = error.status or 0
                if retry and (status == 409 or status >= 500) and attempt < attempts - 1:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise _translate(error, verb, resource, namespace, self.description) from error
            except (OSError, Exception) as error:  # urllib3 wraps socket errors in its own types
                if isinstance(error, StoreError | LockHeldError):
                    raise
                if retry and attempt < attempts - 1:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise StoreError(
                    f"The Kubernetes API at {self.description} could not be reached: "
                    f"{_first_line(error)}",
                    hint="Check --kubeconfig, --context and the network, then run again",
                ) from error
        raise AssertionError("unreachable")

    # -- cainjector ------------------------------------------------------------------------

    def list_injectables(self, plural: str) -> builtins.list[dict[str, Any]]:
        """Every object of one cainjector kind, as the API server sent it (cluster-scoped).

        ``plural`` is ``validatingwebhookconfigurations``, ``mutatingwebhookconfigurations``,
        ``apiservices`` or ``customresourcedefinitions``. Objects are read as plain JSON, not
        through the typed models, so no field the client does not know is lost.
        """
        api_version, kind, listing, _ = self._injectable_calls(plural)
        response = self._call("list", plural, None, lambda: listing(_preload_content=False))
        items: builtins.list[dict[str, Any]] = self._json_body(response).get("items") or []
        for item in items:
            # A list's items carry no apiVersion and kind.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def patch_injectable(
        self, plural: str, name: str, operations: builtins.list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply an RFC 6902 JSON patch (the ``caBundle`` fields) to one cainjector object."""
        _, _, _, patch = self._injectable_calls(plural)
        response = self._call(
            "patch",
            plural,
            None,
            lambda: patch(
                name,
                operations,
                field_manager=FIELD_MANAGER,
                _content_type="application/json-patch+json",
                _preload_content=False,
            ),
            retry=True,
        )
        return self._json_body(response)

    def read_certificate(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A cert-manager.io/v1 Certificate in the cluster, or None (also without the CRD)."""
        custom = k8s.CustomObjectsApi(self._api_client)

        def get() -> dict[str, Any] | None:
            try:
                response = custom.get_namespaced_custom_object(
                    "cert-manager.io",
                    "v1",
                    namespace,
                    "certificates",
                    name,
                    _preload_content=False,
                )
                return self._json_body(response)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise

        return self._call("get", "certificates.cert-manager.io", namespace, get)

    def apiserver_ca(self) -> bytes | None:
        """The API server's CA (PEM) from the kubeconfig or in-cluster credentials, if any."""
        path = self._api_client.configuration.ssl_ca_cert
        if not path:
            return None
        try:
            with open(path, "rb") as stream:
                return stream.read()
        except OSError as error:
            raise StoreError(
                f"The API server's CA file {path} could not be read: {error.strerror or error}",
                hint="Check the kubeconfig's certificate-authority",
            ) from error

    def _injectable_calls(
        self, plural: str
    ) -> tuple[str, str, Callable[..., Any], Callable[..., Any]]:
        if plural in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
            admission = k8s.AdmissionregistrationV1Api(self._api_client)
            if plural.startswith("validating"):
                return (
                    "admissionregistration.k8s.io/v1",
                    "ValidatingWebhookConfiguration",
                    admission.list_validating_webhook_configuration,
                    admission.patch_validating_webhook_configuration,
                )
            return (
                "admissionregistration.k8s.io/v1",
                "MutatingWebhookConfiguration",
                admission.list_mutating_webhook_configuration,
                admission.patch_mutating_webhook_configuration,
            )
        if plural == "apiservices":
            registration = k8s.ApiregistrationV1Api(self._api_client)
            return (
                "apiregistration.k8s.io/v1",
                "APIService",
                registration.list_api_service,
                registration.patch_api_service,
            )
        if plural == "customresourcedefinitions":
            extensions = k8s.ApiextensionsV1Api(self._api_client)
            return (
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                extensions.list_custom_resource_definition,
                extensions.patch_custom_resource_definition,
            )
        raise ValueError(f"{plural!r} is not a kind cainjector injects into")

    @staticmethod
    def _json_body(response: Any) -> dict[str, Any]:
        """The JSON object of a response read with ``_preload_content=False``."""
        import json

        body = json.loads(response.data or b"{}")
        return body if isinstance(body, dict) else {}


class LeaseLock:
    """A coordination.k8s.io Lease held by one run and renewed while it runs."""

    def __init__(self, store: KubernetesStore, holder: str) -> None:
        self.store = store
        self.holder = holder
        self.namespace = store.lock_namespace
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, timeout: dt.timedelta) -> None:
        deadline = time.monotonic() + timeout.total_seconds()
        while True:
            holder = self._try_acquire()
            if holder is None:
                self._renewer = threading.Thread(target=self._renew, name="lease-renewer")
                self._renewer.start()
                return
            if time.monotonic() >= deadline:
                raise LockHeldError(
                    f"Another certctl run ({holder}) holds the Lease "
                    f"{self.namespace}/{LEASE_NAME} on {self.store.description}",
                    hint="Wait for it to finish, or raise --lock-timeout; a Lease left by a "
                    f"crashed run expires {LEASE_DURATION}s after its last renewal",
                )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def _try_acquire(self) -> str | None:
        """Take the Lease if it is free or expired; return the current holder otherwise."""
        api = self.store.coordination
        now = dt.datetime.now(dt.UTC)
        try:
            lease = api.read_namespaced_lease(LEASE_NAME, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise _translate(
                    error, "get", "leases", self.namespace, self.store.description
                ) from error
            body = k8s.V1Lease(
                metadata=k8s.V1ObjectMeta(name=LEASE_NAME, namespace=self.namespace),
                spec=self._spec(now, transitions=0),
            )
            try:
                api.create_namespaced_lease(self.namespace, body)
                return None
            except ApiException as create_error:
                if create_error.status == 409:
                    return "a run that took the Lease a moment ago"
                raise _translate(
                    create_error, "create", "leases", self.namespace, self.store.description
                ) from create_error
        spec = lease.spec or k8s.V1LeaseSpec()
        renewed = spec.renew_time or spec.acquire_time
        duration = spec.lease_duration_seconds or LEASE_DURATION
        held = (
            bool(spec.holder_identity)
            and renewed is not None
            and (_aware(renewed) + dt.timedelta(seconds=duration) > now)
        )
        if held and spec.holder_identity != self.holder:
            return str(spec.holder_identity)
        lease.spec = self._spec(now, transitions=(spec.lease_transitions or 0) + 1)
        try:
            # The resourceVersion in the body makes this a compare-and-swap.
            api.replace_namespaced_lease(LEASE_NAME, self.namespace, lease)
            return None
        except ApiException as error:
            if error.status == 409:
                return "a run that took the Lease a moment ago"
            raise _translate(
                error, "update", "leases", self.namespace, self.store.description
            ) from error

    def _spec(self, now: dt.datetime, *, transitions: int) -> k8s.V1LeaseSpec:
        return k8s.V1LeaseSpec(
            holder_identity=self.holder,
            lease_duration_seconds=LEASE_DURATION,
            acquire_time=now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def _renew(self) -> None:
        api = self.store.coordination
        while not self._stop.wait(LEASE_DURATION / 3):
            try:
                lease = api.read_namespaced_lease(LEASE_NAME, self.namespace)
                if lease.spec is None or lease.spec.holder_identity != self.holder:
                    return
                lease.spec.renew_time = dt.datetime.now(dt.UTC)
                api.replace_namespaced_lease(LEASE_NAME, self.namespace, lease)
            except Exception:  # a missed renewal is retried; the Lease outlives one miss
                continue

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        api = self.store.coordination
        try:
            lease = api.read_namespaced_lease(LEASE_NAME, self.namespace)
            if lease.spec is not None and lease.spec.holder_identity == self.holder:
                api.delete_namespaced_lease(LEASE_NAME, self.namespace)
        except Exception:  # the Lease expires by itself; a failed release is harmless
            return


def _connect(kubeconfig: str | None, context: str | None) -> k8s.ApiClient:
    path = kubeconfig or os.environ.get("KUBECONFIG")
    try:
        if path or os.path.exists(os.path.expanduser("~/.kube/config")):
            api_client: k8s.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context
            )
            return api_client
        configuration = k8s.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return k8s.ApiClient(configuration)
    except (ConfigException, OSError, ValueError) as error:
        raise UsageError(
            f"certctl could not load a Kubernetes configuration: {_first_line(error)}",
            hint="Pass --kubeconfig (or set KUBECONFIG) and --context, run inside a Pod with a "
            "service account, or write elsewhere with --store dir:PATH",
        ) from error


def _current_context(kubeconfig: str | None) -> str:
    """The kubeconfig's current context, as ``_connect`` picks it; "" in a Pod."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if not (path or os.path.exists(os.path.expanduser("~/.kube/config"))):
        return ""
    try:
        _, active = k8s_config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError):
        return ""
    return str((active or {}).get("name") or "")


def _translate(
    error: ApiException, verb: str, resource: str, namespace: str | None, where: str
) -> StoreError:
    status = error.status or 0
    where_ns = f" in namespace {namespace}" if namespace else " cluster-wide"
    detail = _status_message(error)
    if status == 403:
        return StoreError(
            f"The Kubernetes API refused: certctl needs RBAC permission to {verb} {resource}"
            f"{where_ns} ({detail})",
            hint=f"Grant the verb {verb!r} on {resource!r}{where_ns} to certctl's user or "
            "service account (see deploy/base/rbac.yaml)",
            reason="Forbidden",
            retryable=False,
        )
    if status == 401:
        return StoreError(
            f"The Kubernetes API at {where} did not accept certctl's credentials ({detail})",
            hint="Check the kubeconfig's user, token or exec plugin",
            reason="Unauthorized",
            retryable=False,
        )
    if status == 404:
        return StoreError(
            f"The Kubernetes API answered 404 to {verb} {resource}{where_ns}: {detail}",
            hint="Check that the namespace exists (certctl does not create namespaces) and "
            "that --context points at the right cluster",
            retryable=False,
        )
    return StoreError(
        f"The Kubernetes API answered {status} to {verb} {resource}{where_ns}: {detail}",
        hint="Run again; if it persists, check the API server",
    )


def _status_message(error: ApiException) -> str:
    import json

    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return _first_line(error)
    return str(body.get("message") or error.reason or "no message")


def _record(item: Any) -> SecretRecord:
    metadata = item.metadata
    return SecretRecord(
        namespace=str(metadata.namespace),
        name=str(metadata.name),
        data={key: base64.b64decode(value) for key, value in (item.data or {}).items()},
        type=item.type or "Opaque",
        labels=dict(metadata.labels or {}),
        annotations=dict(metadata.annotations or {}),
        version=metadata.resource_version,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:300]
