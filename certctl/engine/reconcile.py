"""The reconcile loop: manifests (desired) + store (observed) -> plan -> issue -> store.

``reconcile`` is what ``issue`` and ``renew`` run. It works in three steps:

1. **Evaluate** every selected Certificate. When the Certificate's spec and its
   Secret's version are what the state recorded last time, and the recorded
   renewal time is still ahead, the answer is known without reading the Secret
   (the cron path). Otherwise the Secret is read and the reissue chain decides.
2. **Plan**: order what must be issued so that issuers get their secrets first.
3. **Apply** level by level, concurrently within a level. A failure leaves the
   old Secret untouched, is recorded for backoff, and does not stop the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from certctl.api.models import Certificate, Issuer, ManifestSet
from certctl.clock import Clock
from certctl.engine.backoff import compute_next_attempt, starts_backoff
from certctl.engine.ordering import order_by_secret_dependencies
from certctl.engine.policies import (
    PolicyInput,
    SecretView,
    Trigger,
    evaluate_reissue_chain,
    format_rfc3339,
)
from certctl.errors import (
    EXIT_CERTIFICATE_FAILED,
    EXIT_OK,
    CertctlError,
    IssuanceError,
    IssuerNotReadyError,
    StoreError,
    UsageError,
)

if TYPE_CHECKING:
    from certctl.acme.settings import ACMESettings
    from certctl.state.database import Fingerprint, StateDatabase
    from certctl.stores.base import SecretRecord, SecretStore

log = logging.getLogger("certctl")

#: The action of a Certificate that needs nothing, and the fingerprint verdict that skips it.
UP_TO_DATE = "UpToDate"


@dataclass(frozen=True)
class ReconcileOptions:
    """What the user asked for.

    Attributes:
        names: only these Certificates (by name); empty means all.
        force: reissue even when nothing is due, and ignore backoff.
        dry_run: decide and report, change nothing.
        concurrency: how many certificates to issue at once.
        cluster_resource_namespace: where ClusterIssuer secrets live.
        acme: resolvers, deadlines and cancellation for ACME orders.
    """

    names: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False
    concurrency: int = 8
    cluster_resource_namespace: str = "cert-manager"
    acme: ACMESettings | None = None


@dataclass
class CertificateResult:
    """The outcome for one Certificate; the ``-o json`` schema of issue/renew."""

    name: str
    namespace: str
    secret_name: str
    action: str
    reason: str
    message: str
    outcome: str
    not_after: dt.datetime | None = None
    renewal_time: dt.datetime | None = None
    error: str = ""
    exit_code: int = EXIT_OK
    debug_trace: str = field(default="", repr=False)
    #: False for a failure that does not back off (the issuer is not ready yet).
    starts_backoff: bool = field(default=True, repr=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "secretName": self.secret_name,
            "action": self.action,
            "reason": self.reason,
            "message": self.message,
            "outcome": self.outcome,
            "notAfter": format_rfc3339(self.not_after) if self.not_after else None,
            "renewalTime": format_rfc3339(self.renewal_time) if self.renewal_time else None,
            "error": self.error or None,
        }


@dataclass
class ReconcileReport:
    results: list[CertificateResult]

    @property
    def exit_code(self) -> int:
        codes = {result.exit_code for result in self.results} - {EXIT_OK}
        # Infrastructure trouble (3) outranks a plain certificate failure (1).
        return max(codes) if codes else EXIT_OK

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)


@dataclass
class _Evaluation:
    certificate: Certificate
    trigger: Trigger | None
    record: SecretRecord | None = None
    view: SecretView | None = None
    not_after: dt.datetime | None = None
    renewal_time: dt.datetime | None = None
    spec_hash: str = ""
    secret_version: str | None = None
    drift: list[str] = field(default_factory=list)
    from_fingerprint: bool = False
    #: The store could not be read for this Certificate (a namespace certctl may not list).
    error: StoreError | None = None
    #: Why the store would refuse to write this Certificate's Secret (not certctl's, or
    #: behind a symlink out of the store), found before anything is issued.
    refusal: IssuanceError | None = None


ProgressCallback = Callable[[CertificateResult], None]


class Reconciler:
    """Runs one reconcile over a set of manifests against one store."""

    def __init__(
        self,
        manifests: ManifestSet,
        store: SecretStore,
        state: StateDatabase,
        clock: Clock,
        options: ReconcileOptions,
        on_result: ProgressCallback | None = None,
        lock: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self.manifests = manifests
        self.lock = lock
        self.store = store
        self.state = state
        self.clock = clock
        self.options = options
        self.on_result = on_result or (lambda result: None)
        self.now = clock.now()
        # Issuer secrets (a CA keypair) are read once per run, not once per certificate.
        self._issuer_secrets: dict[tuple[str, str], SecretRecord | None] = {}
        self._being_issued: set[tuple[str, str]] = set()

    # -- step 1: evaluate -------------------------------------------------------------------

    def select(self) -> list[Certificate]:
        certificates = list(self.manifests.certificates)
        if not self.options.names:
            return certificates
        wanted = set(self.options.names)
        selected = [c for c in certificates if c.name in wanted]
        missing = wanted - {c.name for c in selected}
        if missing:
            known = ", ".join(sorted(c.name for c in certificates)) or "none"
            raise UsageError(
                f"No Certificate named {', '.join(sorted(missing))} in the given manifests",
                hint=f"Certificates found: {known}",
            )
        return selected

    def evaluate(self, certificates: Sequence[Certificate]) -> list[_Evaluation]:
        self._check_secret_names(certificates)
        fingerprints = self.state.load_fingerprints()
        evaluations = []
        for certificate in certificates:
            spec_hash = hash_certificate_spec(certificate)
            try:
                version = self.store.stamp(certificate.namespace, certificate.spec.secret_name)
            except StoreError as error:
                # One unreadable namespace fails its own Certificates, not the whole run.
                evaluations.append(_Evaluation(certificate, None, spec_hash=spec_hash, error=error))
                continue
            fingerprint = fingerprints.get(certificate.key)
            if not self.options.force and _fingerprint_still_valid(
                fingerprint, spec_hash, version, self.now
            ):
                assert fingerprint is not None
                evaluations.append(
                    _Evaluation(
                        certificate,
                        None,
                        not_after=fingerprint.not_after,
                        renewal_time=fingerprint.renewal_time,
                        spec_hash=spec_hash,
                        secret_version=version,
                        from_fingerprint=True,
                    )
                )
                continue
            evaluations.append(self._evaluate_safely(certificate, spec_hash))
        errors = [e.error for e in evaluations if e.error is not None]
        if evaluations and len(errors) == len(evaluations):
            # Nothing could be read: the store itself is unreachable, one error says it all.
            raise errors[0]
        return evaluations

    def _check_secret_names(self, certificates: Sequence[Certificate]) -> None:
        """Refuse names the store cannot hold before anything is written (exit 2).

        Validation knows Kubernetes' rules; a store may have tighter ones (the dir store's
        file-name length). A Secret an Issuer or a keystore refers to would otherwise be
        found only while issuing, after other certificates were written.
        """
        check_name = getattr(self.store, "check_name", None)
        if check_name is None:
            return
        seen: set[tuple[str, str]] = set()
        issuers_seen: set[int] = set()
        for certificate in certificates:
            references: list[tuple[str, str, str]] = []
            keystores = certificate.spec.keystores
            for kind in ("pkcs12", "jks"):
                config = getattr(keystores, kind) if keystores else None
                if config is not None and config.password_secret_ref is not None:
                    references.append(
                        (
                            f"Certificate {certificate.key} spec.keystores.{kind}"
                            ".passwordSecretRef.name",
                            certificate.namespace,
                            config.password_secret_ref.name,
                        )
                    )
            issuer = self.manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace)
            if issuer is not None and id(issuer) not in issuers_seen:
                issuers_seen.add(id(issuer))
                namespace = self._issuer_secret_namespace(issuer)
                references.extend(
                    (f"{issuer.key} spec.{issuer.spec.type}", namespace, name)
                    for namespace, name in issuer_secret_references(issuer, namespace)
                )
            for where, namespace, name in references:
                if (namespace, name) in seen:
                    continue
                seen.add((namespace, name))
                try:
                    check_name(namespace, name)
                except UsageError as error:
                    raise UsageError(
                        f"{where} refers to Secret {namespace}/{name}, which "
                        f"{self.store.description} cannot hold: {error.message}",
                        hint=f"Use a shorter Secret name there ({where})",
                    ) from error

    def _evaluate_safely(self, certificate: Certificate, spec_hash: str) -> _Evaluation:
        try:
            return self._evaluate_from_store(certificate, spec_hash)
        except StoreError as error:
            return _Evaluation(certificate, None, spec_hash=spec_hash, error=error)

    def _evaluate_from_store(self, certificate: Certificate, spec_hash: str) -> _Evaluation:
        record = self.store.read(certificate.namespace, certificate.spec.secret_name)
        view = decode_secret(certificate, record)
        not_after = renewal_time = None
        if view.certificate_info is not None:
            not_after = view.certificate_info.not_after
            renewal_time = compute_renewal(certificate, view.certificate_info)
        trigger = evaluate_reissue_chain(
            PolicyInput(certificate, view, self.now, renewal_time, self._exact_issuer(certificate))
        )
        if trigger is None and self.options.force:
            trigger = Trigger("ManuallyTriggered", "Certificate re-issuance manually triggered")
        evaluation = _Evaluation(
            certificate,
            trigger,
            record=record,
            view=view,
            not_after=not_after,
            renewal_time=renewal_time,
            spec_hash=spec_hash,
            secret_version=self.store.stamp(certificate.namespace, certificate.spec.secret_name),
        )
        if trigger is None and record is not None and view.certificate_info is not None:
            from certctl.engine.secretdata import find_drift

            evaluation.drift = find_drift(certificate, record, view.certificate_info)
        if trigger is not None or evaluation.drift:
            evaluation.refusal = self._write_refusal(certificate, record)
        return evaluation

    def _write_refusal(
        self, certificate: Certificate, record: SecretRecord | None
    ) -> IssuanceError | None:
        """The store's refusal to write this Secret, known before issuing anything.

        The stores check again when they write; asking first means no certificate is
        ordered (an ACME order, a rate-limit slot) only to be thrown away.
        """
        from certctl.stores.base import belongs_to, foreign_secret_error

        check_writable = getattr(self.store, "check_writable", None)
        if check_writable is not None:
            try:
                check_writable(certificate.namespace, certificate.spec.secret_name)
            except IssuanceError as refusal:
                return refusal
        if (
            record is not None
            and not self.options.force
            and not belongs_to(record, certificate.name)
        ):
            return foreign_secret_error(record, self.store.description)
        return None

    # -- steps 2 and 3: plan and apply ---------------------------------------------------------

    def run(self) -> ReconcileReport:
        certificates = self.select()
        evaluations = self.evaluate(certificates)
        if self.lock is None or self.options.dry_run:
            return self._run_evaluated(certificates, evaluations)
        if not any(e.trigger is not None or e.drift for e in evaluations):
            # Nothing to write: no lock either, so a no-op run changes nothing anywhere
            # (in Kubernetes, not even a Lease).
            return self._run_evaluated(certificates, evaluations)
        with self.lock():
            # Another run may have written while this one waited for the lock: decide again
            # from the store for everything this run was about to change.
            refresh = getattr(self.store, "refresh", None)
            if refresh is not None:
                refresh()
            evaluations = [
                self._evaluate_safely(e.certificate, e.spec_hash)
                if e.trigger is not None or e.drift
                else e
                for e in evaluations
            ]
            return self._run_evaluated(certificates, evaluations)

    def _run_evaluated(
        self, certificates: list[Certificate], evaluations: list[_Evaluation]
    ) -> ReconcileReport:
        results: dict[str, CertificateResult] = {}
        to_issue: list[_Evaluation] = []
        fingerprints: list[Fingerprint] = []
        # Secrets this run is about to (re)write: a Certificate waiting for one of them
        # (a leaf whose CA failed before) gets a fresh attempt instead of backing off.
        self._being_issued = {
            (e.certificate.namespace, e.certificate.spec.secret_name)
            for e in evaluations
            if e.trigger is not None
        }
        with self.state.batch():
            for evaluation in evaluations:
                outcome = self._settle_without_issuing(evaluation, fingerprints)
                if outcome is None:
                    to_issue.append(evaluation)
                else:
                    results[evaluation.certificate.key] = outcome
                    self.on_result(outcome)
            if to_issue:
                try:
                    for level in self._plan(to_issue):
                        for result in self._apply_level(level, fingerprints):
                            results[result.key] = result
                            self.on_result(result)
                except BaseException:
                    # Ctrl-C or SIGTERM: ACME waits stop, and every solver cleans up.
                    if self.options.acme is not None:
                        self.options.acme.cancel.set()
                    raise
            if not self.options.dry_run and fingerprints:
                self.state.save_fingerprints(fingerprints)
        return ReconcileReport([results[c.key] for c in certificates])

    def _settle_without_issuing(
        self, evaluation: _Evaluation, fingerprints: list[Fingerprint]
    ) -> CertificateResult | None:
        """Return a result for a Certificate that needs no issuance, or None if it does."""
        certificate = evaluation.certificate
        if evaluation.error is not None:
            error = evaluation.error
            return self._failure(evaluation, error.reason, error.paragraph(), error.exit_code)
        if evaluation.refusal is not None and evaluation.trigger is not None:
            return self._refused(evaluation, evaluation.trigger, evaluation.refusal)
        if evaluation.trigger is not None:
            return self._backing_off(evaluation)
        if (
            evaluation.drift
            and evaluation.refusal is None
            and evaluation.record is not None
            and evaluation.view is not None
        ):
            # A Secret that is not certctl's and still matches its Certificate needs no
            # write: it is simply up to date, whatever metadata it lacks.
            return self._repair(evaluation, fingerprints)
        if not evaluation.from_fingerprint and not self.options.dry_run:
            self.state.record_observed(
                certificate.key,
                not_before=evaluation.view.certificate_info.not_before
                if evaluation.view and evaluation.view.certificate_info
                else None,
                not_after=evaluation.not_after,
                renewal_time=evaluation.renewal_time,
            )
            fingerprints.append(self._fingerprint(evaluation, evaluation.secret_version))
        return self._result(
            evaluation,
            UP_TO_DATE,
            "Ready",
            "Certificate is up to date and has not expired",
            "unchanged",
        )

    def _refused(
        self, evaluation: _Evaluation, trigger: Trigger, refusal: IssuanceError
    ) -> CertificateResult:
        """The Secret needs a new certificate, but the store would refuse to write it.

        Nothing is issued and no backoff starts: the fix is the user's (move the
        foreign secret away, or --force), and the next run acts on it at once.
        """
        paragraph = refusal.paragraph()
        if self.options.dry_run:
            result = self._failure(
                evaluation,
                trigger.reason,
                f"{trigger.message}; the write would be refused: {paragraph}",
                refusal.exit_code,
            )
            result.action = "WouldRefuse"
        else:
            result = self._failure(
                evaluation,
                refusal.reason,
                f"{paragraph} It needs a new certificate ({trigger.reason}: {trigger.message}).",
                refusal.exit_code,
            )
            result.action = "Refused"
            self.state.record_event(
                "Certificate", evaluation.certificate.key, "Warning", refusal.reason, result.error
            )
        result.outcome = "refused"
        return result

    def _backing_off(self, evaluation: _Evaluation) -> CertificateResult | None:
        """A BackingOff result while cert-manager's backoff (§1.11) holds, else None.

        The backoff holds only while nothing that could change the outcome changed:
        the Certificate's spec, its Issuer's spec, and every Secret the issuer reads
        (see ``_failure_key``). Only failed issuance backs off; an issuer that is not
        ready is retried on every run (``starts_backoff``). Backing off is still a
        failure for the exit code, so cron keeps reporting a certificate that is not
        being renewed.
        """
        if self.options.force:
            return None
        needed = self._needed_secrets(evaluation.certificate)
        if any(secret in self._being_issued for secret in needed):
            return None
        status = self.state.get_status(evaluation.certificate.key)
        if status is None or status.last_failure_spec_hash != self._failure_key(evaluation):
            return None
        until = compute_next_attempt(status.failed_issuance_attempts, status.last_failure_time)
        if until is None or until <= self.now:
            return None
        assert evaluation.trigger is not None
        attempts = status.failed_issuance_attempts
        result = self._failure(
            evaluation,
            status.last_failure_reason or evaluation.trigger.reason,
            f"{evaluation.trigger.message}. {attempts} attempt{'s' if attempts > 1 else ''} "
            f"failed, the last at {format_rfc3339(status.last_failure_time or self.now)} "
            f"({status.last_failure_message.rstrip('.')}); certctl backs off and will not retry "
            f"before {format_rfc3339(until)}. Fix the cause and run with --force to retry now",
            EXIT_CERTIFICATE_FAILED,
        )
        result.action = "BackingOff"
        result.outcome = "backoff"
        return result

    def _failure_key(self, evaluation: _Evaluation) -> str:
        """What a failure depended on; a change to any part ends its backoff.

        The parts are the Certificate's spec, its Issuer's spec, and the stamp of every
        Secret the issuer reads (CA keypair, ACME account key, EAB key, DNS credentials),
        so that fixing the Issuer or one of its Secrets retries at once, as a spec edit
        does in cert-manager.
        """
        certificate = evaluation.certificate
        issuer = self.manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace)
        parts = [evaluation.spec_hash, hash_issuer_spec(issuer)]
        if issuer is not None:
            namespace = self._issuer_secret_namespace(issuer)
            for secret_namespace, name in issuer_secret_references(issuer, namespace):
                try:
                    stamp = self.store.stamp(secret_namespace, name) or "-"
                except StoreError:
                    stamp = "?"
                parts.append(f"{secret_namespace}/{name}={stamp}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def _exact_issuer(self, certificate: Certificate) -> bool:
        issuer = self.manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace)
        return issuer_is_exact(issuer)

    def _needed_secrets(self, certificate: Certificate) -> list[tuple[str, str]]:
        issuer = self.manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace)
        if issuer is None:
            return []
        return issuer_secret_dependencies(issuer, self._issuer_secret_namespace(issuer))

    def _plan(self, evaluations: list[_Evaluation]) -> list[list[_Evaluation]]:
        def produces(evaluation: _Evaluation) -> tuple[str, str]:
            certificate = evaluation.certificate
            return certificate.namespace, certificate.spec.secret_name

        def needs(evaluation: _Evaluation) -> list[tuple[str, str]]:
            return self._needed_secrets(evaluation.certificate)

        def describe(evaluation: _Evaluation) -> tuple[str, str]:
            return str(evaluation.certificate.source), evaluation.certificate.key

        return order_by_secret_dependencies(evaluations, produces, needs, describe)

    def _apply_level(
        self, level: list[_Evaluation], fingerprints: list[Fingerprint]
    ) -> Iterator[CertificateResult]:
        """Issue one level concurrently, yielding each result as it completes."""
        from certctl.engine.parallel import issue_in_processes, plan_workers

        processes = plan_workers(self, level)
        if processes:
            yield from issue_in_processes(
                self,
                level,
                processes,
                lambda evaluation, result, stamp: self._settle_issued(
                    evaluation, result, stamp, fingerprints
                ),
            )
            return
        workers = max(1, min(self.options.concurrency, len(level)))
        if workers == 1:
            for evaluation in level:
                yield self._settle_issued(evaluation, *self._issue_one(evaluation), fingerprints)
            return
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="issue")
        try:
            futures = {pool.submit(self._issue_one, evaluation): evaluation for evaluation in level}
            for future in as_completed(futures):
                yield self._settle_issued(futures[future], *future.result(), fingerprints)
        finally:
            # On Ctrl-C or SIGTERM the certificates being written finish (each write is
            # atomic anyway), and no new ones start.
            pool.shutdown(wait=True, cancel_futures=True)

    def _settle_issued(
        self,
        evaluation: _Evaluation,
        result: CertificateResult,
        stamp: str | None,
        fingerprints: list[Fingerprint],
    ) -> CertificateResult:
        self._record(evaluation, result)
        if stamp is not None:
            settled = replace(
                evaluation, not_after=result.not_after, renewal_time=result.renewal_time
            )
            fingerprints.append(self._fingerprint(settled, stamp))
        return result

    def _issue_one(self, evaluation: _Evaluation) -> tuple[CertificateResult, str | None]:
        trigger = evaluation.trigger
        assert trigger is not None
        if self.options.dry_run:
            return (
                self._result(evaluation, "WouldIssue", trigger.reason, trigger.message, "planned"),
                None,
            )
        try:
            return self._issue(evaluation, trigger)
        except CertctlError as exc:
            log.debug("issuing %s failed", evaluation.certificate.key, exc_info=True)
            result = self._failure(evaluation, exc.reason, exc.paragraph(), exc.exit_code)
            result.starts_backoff = starts_backoff(exc)
            return result, None
        except Exception as exc:  # a bug must not stop the other certificates
            log.debug("issuing %s crashed", evaluation.certificate.key, exc_info=True)
            result = self._failure(
                evaluation,
                "InternalError",
                f"certctl hit an internal error while issuing {evaluation.certificate.key}: "
                f"{type(exc).__name__}: {exc}. Run again with --debug for the traceback and "
                "report it.",
                EXIT_CERTIFICATE_FAILED,
            )
            result.debug_trace = traceback.format_exc()
            return result, None

    def _issue(
        self, evaluation: _Evaluation, trigger: Trigger
    ) -> tuple[CertificateResult, str | None]:
        from certctl.engine.issuance import issue_certificate

        certificate = evaluation.certificate
        issuer = self.manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace)
        if issuer is None:
            # cert-manager keeps the request Pending (IssuerNotFound) rather than failed.
            raise IssuerNotReadyError(
                f"Certificate {certificate.key} refers to {certificate.spec.issuer_ref}, "
                "which is not among the given manifests",
                reason="IssuerNotFound",
                hint="Pass the file holding that Issuer or ClusterIssuer with -f, or fix "
                "spec.issuerRef",
            )
        outcome = issue_certificate(
            certificate,
            issuer,
            existing=evaluation.record,
            read_secret=self._read_issuer_secret,
            issuer_secret_namespace=self._issuer_secret_namespace(issuer),
            now=self.clock.now(),
            write_secret=self._write,
            acme=self.options.acme,
            recorder=self.state,
            store=self.store,
        )
        for reason, message in outcome.warnings:
            self.state.record_event("Certificate", certificate.key, "Warning", reason, message)
        version = self._write(outcome.secret)
        action = "Issued" if evaluation.record is None else "Reissued"
        if trigger.reason in ("Renewing", "Expired"):
            action = "Renewed"
        result = self._result(evaluation, action, trigger.reason, trigger.message, "issued")
        result.not_after = outcome.not_after
        result.renewal_time = compute_renewal(certificate, outcome.info)
        return result, version

    def _repair(
        self, evaluation: _Evaluation, fingerprints: list[Fingerprint]
    ) -> CertificateResult:
        message = "Secret metadata or derived data drifted and will be repaired: " + ", ".join(
            evaluation.drift
        )
        if self.options.dry_run:
            return self._result(evaluation, "WouldRepair", "SecretDrift", message, "planned")
        from certctl.engine.issuance import repair_certificate_secret

        assert evaluation.record is not None and evaluation.view is not None
        try:
            secret = repair_certificate_secret(
                evaluation.certificate, evaluation.record, evaluation.view, self._read_issuer_secret
            )
            version = self._write(secret)
        except CertctlError as exc:
            result = self._failure(evaluation, exc.reason, exc.paragraph(), exc.exit_code)
            result.starts_backoff = starts_backoff(exc)
            self._record(evaluation, result)
            return result
        result = self._result(evaluation, "Repaired", "SecretDrift", message, "repaired")
        self._record(evaluation, result)
        fingerprints.append(self._fingerprint(evaluation, version))
        return result

    # -- helpers ----------------------------------------------------------------------------

    def _read_issuer_secret(self, namespace: str, name: str) -> SecretRecord | None:
        key = (namespace, name)
        if key not in self._issuer_secrets:
            self._issuer_secrets[key] = self.store.read(namespace, name)
        return self._issuer_secrets[key]

    def _write(self, secret: SecretRecord) -> str | None:
        """Write a secret and return its stamp, for the next run's fingerprint."""
        self.store.write(secret)
        # A later level may sign with this secret (a CA keypair): forget any stale copy.
        self._issuer_secrets.pop((secret.namespace, secret.name), None)
        return self.store.stamp(secret.namespace, secret.name)

    def _issuer_secret_namespace(self, issuer: Issuer) -> str:
        if issuer.cluster_scoped:
            return self.options.cluster_resource_namespace
        assert issuer.namespace is not None
        return issuer.namespace

    def _record(self, evaluation: _Evaluation, result: CertificateResult) -> None:
        key = evaluation.certificate.key
        if result.outcome == "issued":
            self.state.record_event(
                "Certificate",
                key,
                "Normal",
                "Issuing",
                evaluation.trigger.message if evaluation.trigger else result.message,
            )
            self.state.record_event(
                "Certificate",
                key,
                "Normal",
                "Issuing",
                "The certificate has been successfully issued",
            )
            self.state.record_issued(
                key,
                not_before=None,
                not_after=result.not_after,
                renewal_time=result.renewal_time,
                issuer=str(evaluation.certificate.spec.issuer_ref),
            )
        elif result.outcome == "repaired":
            self.state.record_event("Certificate", key, "Normal", "Repaired", result.message)
        elif result.outcome == "failed" and not result.starts_backoff:
            # cert-manager keeps such a request Pending (IssuerNotReady): no failed
            # attempt is counted, and the next run issues as soon as the issuer is fixed.
            self.state.record_event(
                "Certificate",
                key,
                "Warning",
                "IssuerNotReady",
                "The issuer is not ready, so no certificate was requested; the next run "
                "requests it as soon as the issuer is fixed: " + result.error,
            )
        elif result.outcome == "failed":
            self.state.record_event(
                "Certificate",
                key,
                "Warning",
                "Failed",
                "The certificate request has failed to complete and will be retried: "
                + result.error,
            )
            self.state.record_failure(
                key,
                reason=result.reason,
                message=result.error,
                spec_hash=self._failure_key(evaluation),
            )

    def _fingerprint(self, evaluation: _Evaluation, version: str | None) -> Fingerprint:
        from certctl.state.database import Fingerprint

        return Fingerprint(
            key=evaluation.certificate.key,
            spec_hash=evaluation.spec_hash,
            secret_version=version or "",
            renewal_time=evaluation.renewal_time,
            not_after=evaluation.not_after,
            verdict=UP_TO_DATE,
        )

    def _result(
        self, evaluation: _Evaluation, action: str, reason: str, message: str, outcome: str
    ) -> CertificateResult:
        certificate = evaluation.certificate
        return CertificateResult(
            name=certificate.name,
            namespace=certificate.namespace,
            secret_name=certificate.spec.secret_name,
            action=action,
            reason=reason,
            message=message,
            outcome=outcome,
            not_after=evaluation.not_after,
            renewal_time=evaluation.renewal_time,
        )

    def _failure(
        self, evaluation: _Evaluation, reason: str, error: str, exit_code: int
    ) -> CertificateResult:
        result = self._result(evaluation, "Failed", reason, error, "failed")
        result.error = error
        result.exit_code = exit_code
        return result


def reconcile(
    manifests: ManifestSet,
    store: SecretStore,
    state: StateDatabase,
    clock: Clock,
    options: ReconcileOptions,
    on_result: ProgressCallback | None = None,
    lock: Callable[[], AbstractContextManager[object]] | None = None,
) -> ReconcileReport:
    """Bring every selected Certificate's Secret up to date. See the module docstring.

    ``lock`` is taken only when something must be written, and the decisions for those
    certificates are made again once it is held, so two overlapping runs never issue twice.
    """
    return Reconciler(manifests, store, state, clock, options, on_result, lock).run()


def _fingerprint_still_valid(
    fingerprint: Fingerprint | None, spec_hash: str, version: str | None, now: dt.datetime
) -> bool:
    if fingerprint is None or version is None:
        return False
    if fingerprint.verdict != UP_TO_DATE:
        return False
    if fingerprint.spec_hash != spec_hash or fingerprint.secret_version != version:
        return False
    if fingerprint.not_after is None or now >= fingerprint.not_after:
        return False
    return fingerprint.renewal_time is None or now < fingerprint.renewal_time


def hash_certificate_spec(certificate: Certificate) -> str:
    """A digest of everything about a Certificate that can change the reissue verdict."""
    payload = json.dumps(
        [
            certificate.namespace,
            certificate.raw.get("metadata", {}).get("name"),
            certificate.raw.get("spec"),
        ],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def issuer_is_exact(issuer: Issuer | None) -> bool:
    """Whether the issuer builds certificates from the request field by field."""
    return issuer is None or issuer.spec.type in ("selfSigned", "ca")


def issuer_secret_dependencies(issuer: Issuer, secret_namespace: str) -> list[tuple[str, str]]:
    """The secrets an issuer reads before it can sign, as (namespace, name)."""
    if issuer.spec.type == "ca":
        return [(secret_namespace, str(issuer.spec.config["secretName"]))]
    return []


def issuer_secret_references(issuer: Issuer, secret_namespace: str) -> list[tuple[str, str]]:
    """Every Secret an issuer's spec refers to, as (namespace, name), sorted.

    That is the CA keypair (``ca.secretName``) and every ``*SecretRef`` and
    ``credentialsRef`` in the issuer block, at any depth: the ACME account key
    (``privateKeySecretRef``), the EAB key (``keySecretRef``), the solvers' DNS
    credentials (``tsigSecretSecretRef``, ``apiTokenSecretRef``, ...), and Vault's
    and Venafi's credentials. They all live in ``secret_namespace``.
    """
    names: set[str] = set()
    if issuer.spec.type == "ca" and issuer.spec.config.get("secretName"):
        names.add(str(issuer.spec.config["secretName"]))
    stack: list[Any] = [issuer.spec.config]
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple):
            stack.extend(value)
            continue
        if not isinstance(value, Mapping):
            continue
        for field_name, item in value.items():
            refers = str(field_name).endswith(("SecretRef", "secretRef", "credentialsRef"))
            if refers and isinstance(item, Mapping) and isinstance(item.get("name"), str):
                names.add(item["name"])
            else:
                stack.append(item)
    return [(secret_namespace, name) for name in sorted(names) if name]


def hash_issuer_spec(issuer: Issuer | None) -> str:
    """A digest of an Issuer's identity and spec as written, or ``-`` for no issuer."""
    if issuer is None:
        return "-"
    payload = json.dumps(
        [issuer.kind, issuer.key, issuer.raw.get("spec")],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def decode_secret(certificate: Certificate, record: SecretRecord | None) -> SecretView:
    """Decode the key and certificate of a Secret once, for the reissue chain."""
    if record is None:
        return SecretView(record=None)
    from certctl.pki.certificates import describe_certificate, parse_pem_certificates
    from certctl.pki.keys import key_spec_mismatches, load_private_key, public_keys_equal

    key = info = leaf = None
    key_error = certificate_error = ""
    key_pem, crt_pem = record.data.get("tls.key"), record.data.get("tls.crt")
    if key_pem:
        try:
            # The key is only compared with the certificate here, never used to sign, so
            # the cheap consistency check suffices (cert-manager's); signing reloads it.
            key = load_private_key(key_pem, thorough=False)
        except ValueError as exc:
            key_error = str(exc)
    if crt_pem:
        try:
            leaf = parse_pem_certificates(crt_pem, source="tls.crt")[0]
            info = describe_certificate(leaf)
        except ValueError as exc:
            certificate_error = str(exc)
    matches = bool(key and leaf and public_keys_equal(leaf.public_key(), key))
    mismatches = tuple(key_spec_mismatches(key, certificate.spec.private_key)) if key else ()
    return SecretView(
        record=record,
        key=key,
        key_error=key_error,
        certificate=leaf,
        certificate_info=info,
        certificate_error=certificate_error,
        key_matches=matches,
        key_mismatches=mismatches,
    )


def compute_renewal(certificate: Certificate, info: Any) -> dt.datetime | None:
    from certctl.pki.renewal import compute_renewal_time

    spec = certificate.spec
    decision = compute_renewal_time(
        info.not_before,
        info.not_after,
        renew_before=spec.renew_before,
        renew_before_percentage=spec.renew_before_percentage,
        renewal=spec.renewal,
    )
    renewal_time: dt.datetime | None = decision.renewal_time
    return renewal_time
