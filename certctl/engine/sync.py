"""``sync``: the reconcile loop over everything a deploy folder (or a cluster) declares.

On top of ``reconcile`` it derives Certificates from annotated Ingresses
(ingress-shim, done by the caller) and, with ``prune``, deletes the Secrets certctl
created for Certificates that are gone. Leftovers of killed ACME runs are removed by
``certctl challenge cleanup``, which takes the lock, not by sync.
Prune touches only Secrets that carry certctl's mark and name a Certificate:
a Secret written by anyone else is never a candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certctl.api.models import ManifestSet
from certctl.clock import Clock
from certctl.engine.policies import ANNOTATION_CERTIFICATE_NAME
from certctl.engine.reconcile import (
    ProgressCallback,
    ReconcileOptions,
    ReconcileReport,
    reconcile,
)
from certctl.errors import EXIT_OK, CertctlError
from certctl.stores.base import MANAGED_LABEL, SecretRecord

if TYPE_CHECKING:
    from certctl.state.database import StateDatabase
    from certctl.stores.base import SecretStore


@dataclass(frozen=True)
class SyncOptions:
    """What ``sync`` adds to ``reconcile``.

    Attributes:
        reconcile: the options of the issue/renew part.
        prune: delete the Secrets certctl created for Certificates that are gone.
        prune_namespaces: where to look for such Secrets; None means every namespace.
    """

    reconcile: ReconcileOptions
    prune: bool = False
    prune_namespaces: frozenset[str] | None = None


@dataclass
class PruneResult:
    namespace: str
    name: str
    certificate: str
    outcome: str  # "deleted", "would delete" or "failed"
    error: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "certificate": self.certificate,
            "outcome": self.outcome,
            "error": self.error,
        }


@dataclass
class SyncReport:
    reconciled: ReconcileReport
    pruned: list[PruneResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = {self.reconciled.exit_code}
        if any(item.outcome == "failed" for item in self.pruned):
            codes.add(1)
        codes.discard(EXIT_OK)
        return max(codes) if codes else EXIT_OK


def find_orphans(
    manifests: ManifestSet, secrets: Iterable[SecretRecord]
) -> list[tuple[SecretRecord, str]]:
    """Secrets certctl wrote for Certificates no longer in ``manifests``: (secret, certificate).

    A Secret is an orphan only if it carries certctl's mark and names its Certificate,
    and that Certificate is absent; a Secret still named by a Certificate's secretName
    (a renamed Certificate keeping its Secret) is kept.
    """
    wanted = {(c.namespace, c.name) for c in manifests.certificates}
    in_use = {(c.namespace, c.spec.secret_name) for c in manifests.certificates}
    orphans = []
    for secret in secrets:
        if secret.labels.get(MANAGED_LABEL) != "true":
            continue
        certificate = secret.annotations.get(ANNOTATION_CERTIFICATE_NAME)
        if not certificate:
            continue
        if (secret.namespace, certificate) in wanted or (secret.namespace, secret.name) in in_use:
            continue
        orphans.append((secret, certificate))
    return orphans


def sync(
    manifests: ManifestSet,
    store: SecretStore,
    state: StateDatabase,
    clock: Clock,
    options: SyncOptions,
    on_result: ProgressCallback | None = None,
    lock: Callable[[], AbstractContextManager[object]] | None = None,
) -> SyncReport:
    """Reconcile every Certificate, then prune what certctl created for Certificates gone."""
    report = SyncReport(
        reconcile(manifests, store, state, clock, options.reconcile, on_result, lock)
    )
    if not options.prune:
        return report
    namespaces = options.prune_namespaces
    secrets: list[SecretRecord] = []
    unreadable: list[PruneResult] = []
    for namespace in [None] if namespaces is None else sorted(namespaces):
        try:
            secrets.extend(store.list(namespace))
        except CertctlError as error:
            unreadable.append(PruneResult(namespace or "*", "", "", "failed", error.paragraph()))
    report.pruned = unreadable
    orphans = find_orphans(manifests, secrets)
    if not orphans:
        return report
    if options.reconcile.dry_run or lock is None:
        report.pruned += [_prune(store, secret, name, options) for secret, name in orphans]
        return report
    with lock():
        report.pruned += [_prune(store, secret, name, options) for secret, name in orphans]
    return report


def _prune(
    store: SecretStore, secret: SecretRecord, certificate: str, options: SyncOptions
) -> PruneResult:
    result = PruneResult(secret.namespace, secret.name, f"{secret.namespace}/{certificate}", "")
    if options.reconcile.dry_run:
        result.outcome = "would delete"
        return result
    try:
        store.delete(secret.namespace, secret.name)
        result.outcome = "deleted"
    except CertctlError as error:
        result.outcome = "failed"
        result.error = error.paragraph()
    return result
