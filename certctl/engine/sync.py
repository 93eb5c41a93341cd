"""``sync``: the reconcile loop over everything a deploy folder (or a cluster) declares.

On top of ``reconcile`` it derives Certificates from annotated Ingresses
(ingress-shim, done by the caller) and, with ``prune``, deletes the Secrets certctl
created for Certificates that are gone. Leftovers of killed ACME runs are removed by
``certctl challenge cleanup``, which takes the lock, not by sync.
Prune touches only Secrets that carry certctl's mark and name a Certificate:
a Secret written by anyone else is never a candidate.

Prune also looks beyond the namespaces of the Certificates still there: the state
remembers, per store and *source set*, the Secrets each sync wrote, so a Certificate
removed together with the last one of its namespace still has its Secret pruned.
Outside the run's own scope (``-n`` and the namespaces of its Certificates) only
those recorded Secrets are candidates, so one source set never prunes what another
wrote in a namespace it merely used to share. The source set is what a run reads
its Certificates from: the sorted, resolved ``-f`` paths (``-`` for stdin), plus
``--from-cluster`` and its namespace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
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
        prune_namespaces: where to look for such Secrets besides the namespaces the
            source set wrote to; None means every namespace.
        source_set: what the run read its Certificates from (see :func:`source_set`);
            None records nothing and prunes only in ``prune_namespaces``.
    """

    reconcile: ReconcileOptions
    prune: bool = False
    prune_namespaces: frozenset[str] | None = None
    source_set: str | None = None


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


def source_set(paths: Sequence[str], from_cluster: str | None = None) -> str:
    """The identity of what a sync run reads, as the state records it.

    Args:
        paths: the ``-f`` paths; each is resolved (``~``, symlinks, relative to the
            working folder), and ``-`` (stdin) stays as it is.
        from_cluster: with ``--from-cluster``, the namespace its Ingresses are read
            from, or ``*`` for ``-A``.

    Returns:
        A JSON list of the sorted, distinct parts, e.g. ``["/srv/deploy"]``.
    """
    parts = {path if path == "-" else os.path.realpath(os.path.expanduser(path)) for path in paths}
    if from_cluster is not None:
        parts.add(f"--from-cluster={from_cluster}")
    return json.dumps(sorted(parts))


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
    current = {(c.namespace, c.spec.secret_name) for c in manifests.certificates}
    recorded = state.sync_secrets(options.source_set) if options.source_set else set()
    # Secrets to look for again next time: those this run could not clean up.
    keep = recorded
    if options.prune:
        keep = _prune_all(manifests, store, options, recorded, lock, report)
    if options.source_set is not None and not options.reconcile.dry_run:
        remembered = current | keep
        if remembered != recorded:
            state.set_sync_secrets(options.source_set, remembered)
    return report


def _prune_all(
    manifests: ManifestSet,
    store: SecretStore,
    options: SyncOptions,
    recorded: set[tuple[str, str]],
    lock: Callable[[], AbstractContextManager[object]] | None,
    report: SyncReport,
) -> set[tuple[str, str]]:
    """Prune the orphans in scope, and the recorded Secrets beyond it, into ``report``.

    Returns the recorded Secrets that may still be orphans: those in unreadable
    namespaces, and those whose deletion failed (or, in a dry run, would have happened).
    """
    wide = options.prune_namespaces is None
    scope = set(options.prune_namespaces or ())
    namespaces = [None] if wide else sorted(scope | {ns for ns, _ in recorded})
    secrets: list[SecretRecord] = []
    unreadable: set[str] = set()
    for namespace in namespaces:
        try:
            secrets.extend(store.list(namespace))
        except CertctlError as error:
            report.pruned.append(PruneResult(namespace or "*", "", "", "failed", error.paragraph()))
            unreadable |= {ns for ns, _ in recorded} if namespace is None else {namespace}
    orphans = [
        (secret, certificate)
        for secret, certificate in find_orphans(manifests, secrets)
        if wide or secret.namespace in scope or (secret.namespace, secret.name) in recorded
    ]
    if orphans:
        if options.reconcile.dry_run or lock is None:
            report.pruned += [_prune(store, secret, name, options) for secret, name in orphans]
        else:
            with lock():
                report.pruned += [_prune(store, secret, name, options) for secret, name in orphans]
    left = {(item.namespace, item.name) for item in report.pruned if item.outcome != "deleted"}
    return {pair for pair in recorded if pair in left or pair[0] in unreadable}


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
