"""One ACME order, from identifiers to certificate chain (RFC 8555 §7.4, cert-manager §4.3/§4.4).

The flow: create the order; for every authorization not already valid
(authorization reuse), pick a solver, present, self-check, answer and poll, all
authorizations in parallel; then finalize with the CSR and download the chain,
choosing ``preferredChain`` among the alternates. Cleanup of every presented
challenge always runs: on success, on failure, and when the run is interrupted.

Orders and Challenges are recorded as cert-manager would show them (states,
reasons, events) so that ``get``/``describe order|challenge`` can explain a run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from certctl.acme.client import (
    ACMEClient,
    AuthorizationState,
    ChallengeState,
    Identifier,
    OrderState,
    Problem,
)
from certctl.acme.settings import ACMESettings
from certctl.acme.solvers.base import DNS01Provider, HTTP01Solver, SolverContext
from certctl.errors import IssuanceError, IssuerNotReadyError

#: First and longest pause between polls when the server gives no Retry-After.
POLL_FIRST = 0.1
POLL_LONGEST = 2.0
#: cert-manager re-runs failed self-checks on a 10 s period; a local run starts faster.
SELF_CHECK_FIRST = 0.25
SELF_CHECK_LONGEST = 5.0


class Interrupted(IssuanceError):
    """The run was interrupted (Ctrl-C, SIGTERM) while an order was in flight."""

    reason = "Interrupted"


class ACMERecorder(Protocol):
    """Where Orders, Challenges and their events go (the state database)."""

    def save_acme_object(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        certificate: str,
        state: str,
        body: Mapping[str, Any],
    ) -> None: ...

    def record_event(self, kind: str, key: str, type_: str, reason: str, message: str) -> None: ...


@dataclass(frozen=True)
class OrderRequest:
    """Everything one order needs.

    Attributes:
        name: the Order's name (``<certificate>-<hash>``), also the prefix of its Challenges.
        namespace: the Certificate's namespace.
        certificate: ``namespace/name`` of the Certificate.
        issuer: ``Kind/name`` of the issuer.
        identifiers: DNS names and IP addresses to authorize.
        csr_der: the CSR to finalize with.
        solvers: ``spec.acme.solvers``.
        labels: the Certificate's labels, for ``matchLabels`` selectors.
        preferred_chain: ``spec.acme.preferredChain``.
        profile: ``spec.acme.profile``.
        not_after: the requested ``notAfter`` (``enableDurationFeature``), or None.
    """

    name: str
    namespace: str
    certificate: str
    issuer: str
    identifiers: tuple[Identifier, ...]
    csr_der: bytes
    solvers: tuple[Mapping[str, Any], ...]
    labels: Mapping[str, str]
    solver_context: SolverContext
    preferred_chain: str = ""
    profile: str = ""
    not_after: dt.datetime | None = None


SolverBuilder = Callable[[Mapping[str, Any], SolverContext], HTTP01Solver | DNS01Provider]


@dataclass
class _Challenge:
    """One authorization being solved: what cert-manager's Challenge resource holds."""

    name: str
    authorization: AuthorizationState
    challenge: ChallengeState
    solver_block: Mapping[str, Any]
    key: str
    solver: HTTP01Solver | DNS01Provider | None = None
    presented: bool = False
    presented_at: dt.datetime | None = None
    state: str = "pending"
    reason: str = ""
    dns_record: tuple[str, str] | None = None  # (fqdn, zone) after CNAME following
    body_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "HTTP-01" if self.challenge.type == "http-01" else "DNS-01"


class OrderRunner:
    """Drives one order to a certificate chain. Not reusable across orders."""

    def __init__(
        self,
        client: ACMEClient,
        request: OrderRequest,
        recorder: ACMERecorder,
        settings: ACMESettings,
        build_solver: SolverBuilder,
    ) -> None:
        self.client = client
        self.request = request
        self.recorder = recorder
        self.settings = settings
        self.build_solver = build_solver
        self.order: OrderState | None = None
        self.authorizations: list[AuthorizationState] = []
        self.state = "pending"
        self.reason = ""
        self._lock = threading.Lock()

    # -- the flow ----------------------------------------------------------------------------

    def run(self) -> str:
        """Return the chosen PEM chain (leaf first) or raise ``IssuanceError``."""
        request = self.request
        try:
            self.order = self.client.new_order(
                request.identifiers, profile=request.profile, not_after=request.not_after
            )
            self.authorizations = [
                self.client.fetch_authorization(url) for url in self.order.authorization_urls
            ]
            self._save_order("pending", "")
            self._event("Normal", "Created", f"Created Order {request.name}")
            pending = [a for a in self.authorizations if a.status != "valid"]
            self._solve(pending)
            chain = self._finalize()
        except IssuanceError as error:
            # cert-manager: "invalid" when the CA refused an authorization or the order,
            # "errored" for everything else (4xx such as rate limits, local failures).
            state = "invalid" if error.reason == "Failed" else "errored"
            self._save_order(state, error.message)
            self._event("Warning", "Failed", error.message)
            raise
        self._save_order("valid", "")
        self._event("Normal", "Complete", "Order completed successfully")
        return chain

    def _solve(self, authorizations: Sequence[AuthorizationState]) -> None:
        if not authorizations:
            return
        challenges = [self._prepare(authorization) for authorization in authorizations]
        pool = ThreadPoolExecutor(
            max_workers=min(len(challenges), 16), thread_name_prefix="challenge"
        )
        try:
            failures = [
                error for error in pool.map(self._solve_one, challenges) if error is not None
            ]
        except BaseException:
            # Ctrl-C or SIGTERM reached this thread: stop the challenge threads' waits now,
            # so that cleanup below runs without waiting for their deadlines.
            self.settings.cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._cleanup(challenges)
        if failures:
            messages = "; ".join(error.message for error in failures)
            # Only when every failure is the issuer's (its DNS credentials are missing)
            # is the issuer not ready; any other failure is a failed issuance.
            not_ready = all(isinstance(error, IssuerNotReadyError) for error in failures)
            raise (IssuerNotReadyError if not_ready else IssuanceError)(
                f"{len(failures)} of {len(challenges)} authorizations failed: {messages}",
                reason=failures[0].reason,
                hint=(f"{failures[0].hint.rstrip('.')}. " if failures[0].hint else "")
                + f"certctl get challenges -n {self.request.namespace} lists the challenges, "
                "and certctl describe challenge NAME explains each",
            )

    def _prepare(self, authorization: AuthorizationState) -> _Challenge:
        from certctl.acme.picker import describe_no_solver, pick_solver

        domain = authorization.identifier
        choice = pick_solver(
            self.request.solvers,
            domain=domain,
            wildcard=authorization.wildcard,
            offered_types=authorization.offered_types,
            labels=self.request.labels,
        )
        if choice is None:
            sentence = describe_no_solver(
                domain,
                authorization.wildcard,
                self.request.solvers,
                authorization.offered_types,
                labels=self.request.labels,
            )
            self._event(
                "Warning",
                "Solver",
                "Failed to determine a valid solver configuration for the set of domains on "
                f"the Order: {sentence}",
            )
            raise IssuanceError(sentence, reason="NoSolver")
        challenge = next(c for c in authorization.challenges if c.type == choice.challenge_type)
        key_authorization = self.client.key_authorization(challenge.token)
        key = (
            key_authorization
            if challenge.type == "http-01"
            else self.client.dns01_value(challenge.token)
        )
        suffix = hashlib.sha256(authorization.url.encode()).hexdigest()[:10]
        return _Challenge(
            name=f"{self.request.name}-{suffix}",
            authorization=authorization,
            challenge=challenge,
            solver_block=choice.solver,
            key=key,
        )

    def _solve_one(self, item: _Challenge) -> IssuanceError | None:
        """Present, self-check, answer, wait. Returns the failure instead of raising it."""
        try:
            self._save_challenge(item, processing=True)
            self._challenge_event(item, "Normal", "Started", "Challenge scheduled for processing")
            self._present(item)
            self._wait_until_ready(item)
            self.client.answer(item.challenge.url)
            self._await_validation(item)
            return None
        except IssuanceError as error:
            if item.state not in ("invalid", "expired", "errored"):
                item.state = "errored"
            item.reason = error.message
            self._save_challenge(item, processing=False)
            return error

    def _present(self, item: _Challenge) -> None:
        kind = "http01" if item.challenge.type == "http-01" else "dns01"
        try:
            item.solver = self.build_solver(item.solver_block, self.request.solver_context)
        except IssuanceError as error:
            self._challenge_event(item, "Warning", "PresentError", error.message)
            raise
        # Recorded (and committed) before the solver acts: if this process is killed
        # mid-way, `challenge cleanup` still finds what may have been presented.
        item.presented = True
        self._save_challenge(item, processing=True)
        try:
            domain = item.authorization.identifier
            if kind == "http01":
                solver: Any = item.solver
                solver.present(domain, item.challenge.token, item.key)
            else:
                from certctl.acme.dns01 import present_dns01

                item.dns_record = present_dns01(
                    item.solver,
                    domain,
                    item.key,
                    item.solver_block.get("dns01", {}),
                    self.settings,
                )
        except IssuanceError as error:
            self._challenge_event(item, "Warning", "PresentError", error.message)
            raise
        item.presented_at = dt.datetime.now(dt.UTC)
        self._save_challenge(item, processing=True)
        self._challenge_event(
            item,
            "Normal",
            "Presented",
            f"Presented challenge using {item.kind} challenge mechanism",
        )

    def _wait_until_ready(self, item: _Challenge) -> None:
        """The self-check (cert-manager §4.5), or ``waitInsteadOfSelfCheck``."""
        wait = item.solver_block.get("waitInsteadOfSelfCheck")
        if wait is not None:
            from certctl.api.duration import parse_go_duration

            seconds = parse_go_duration(str(wait)).total_seconds()
            self._sleep(seconds)
            return
        deadline = time.monotonic() + self.settings.self_check_timeout.total_seconds()
        pause = SELF_CHECK_FIRST
        while True:
            ok, detail = self._self_check(item)
            if ok:
                return
            item.reason = f"Waiting for {item.kind} challenge propagation: {detail}"
            self._save_challenge(item, processing=True)
            if time.monotonic() + pause > deadline:
                raise IssuanceError(
                    f"{item.authorization.identifier}: the self-check did not pass within "
                    f"{_duration(self.settings.self_check_timeout)}: {detail}",
                    reason="SelfCheckFailed",
                    hint=_self_check_hint(item.kind),
                )
            self._sleep(pause)
            pause = min(pause * 2, SELF_CHECK_LONGEST)

    def _self_check(self, item: _Challenge) -> tuple[bool, str]:
        if item.challenge.type == "http-01":
            from certctl.acme.http01 import check_http01

            passes = getattr(item.solver, "self_check_passes", 1)
            for attempt in range(passes):
                result = check_http01(
                    item.authorization.identifier, item.challenge.token, item.key, self.settings
                )
                if not result.ok:
                    return False, result.detail
                if attempt + 1 < passes:
                    self._sleep(2.0)
            return True, ""
        from certctl.acme.dns01 import check_propagation, solver_settings

        assert item.dns_record is not None
        fqdn, zone = item.dns_record
        settings = solver_settings(item.solver_block.get("dns01", {}), self.settings)
        propagation = check_propagation(fqdn, item.key, zone, settings)
        return propagation.ok, propagation.detail

    def _await_validation(self, item: _Challenge) -> None:
        deadline = time.monotonic() + self.settings.validation_timeout.total_seconds()
        pause = POLL_FIRST
        while True:
            authorization = self.client.fetch_authorization(item.authorization.url)
            if authorization.status == "valid":
                item.state = "valid"
                item.reason = "Successfully authorized domain"
                self._save_challenge(item, processing=False)
                self._challenge_event(
                    item,
                    "Normal",
                    "DomainVerified",
                    f'Domain "{authorization.identifier}" verified with "{item.kind}" validation',
                )
                return
            if authorization.status not in ("pending", "processing"):
                problem = authorization.problem() or Problem(
                    type="", detail=f"authorization is {authorization.status}"
                )
                item.state = "invalid"
                detail = "; ".join(problem.sentences())
                item.reason = f"Error accepting authorization: {detail}"
                self._save_challenge(item, processing=False)
                self._challenge_event(item, "Warning", "Failed", item.reason)
                raise IssuanceError(
                    f"{authorization.identifier}: the ACME server could not validate the "
                    f"{item.kind} challenge: {detail}",
                    reason="Failed",
                    hint=_validation_hint(item.kind),
                )
            if time.monotonic() > deadline:
                raise IssuanceError(
                    f"{authorization.identifier}: the ACME server did not validate the "
                    f"challenge within {_duration(self.settings.validation_timeout)}",
                    reason="Timeout",
                    retryable=True,
                )
            self._sleep(_pause(authorization.retry_after, pause))
            pause = min(pause * 2, POLL_LONGEST)

    def _finalize(self) -> str:
        assert self.order is not None
        order = self._await_order({"ready", "valid", "processing"})
        if order.status == "ready":
            self._save_order("ready", "")
            order = self.client.finalize(order, self.request.csr_der)
            self._save_order("processing", "")
        order = self._await_order({"valid"})
        if not order.certificate_url:
            raise IssuanceError(
                "The ACME order is valid but names no certificate", reason="ACMEError"
            )
        default, alternates = self.client.download(order.certificate_url)
        return choose_chain(default, alternates, self.request.preferred_chain)

    def _await_order(self, wanted: set[str]) -> OrderState:
        assert self.order is not None
        deadline = time.monotonic() + self.settings.validation_timeout.total_seconds()
        pause = POLL_FIRST
        while True:
            order = self.client.fetch_order(self.order.url)
            if order.status in wanted:
                return order
            if order.status == "invalid":
                problem = order.error
                detail = "; ".join(problem.sentences()) if problem else "no reason given"
                raise IssuanceError(f"The ACME order became invalid: {detail}", reason="Failed")
            if time.monotonic() > deadline:
                raise IssuanceError(
                    f"The ACME order stayed {order.status} for "
                    f"{_duration(self.settings.validation_timeout)}",
                    reason="Timeout",
                    retryable=True,
                )
            self._sleep(_pause(order.retry_after, pause))
            pause = min(pause * 2, POLL_LONGEST)

    def _cleanup(self, challenges: Sequence[_Challenge]) -> None:
        """Remove every presented token and TXT record; a failure here never hides another."""
        for item in challenges:
            if not item.presented or item.solver is None:
                continue
            try:
                if item.challenge.type == "http-01":
                    solver: Any = item.solver
                    solver.cleanup(item.authorization.identifier, item.challenge.token, item.key)
                else:
                    from certctl.acme.dns01 import cleanup_dns01

                    # No record means the zone was never found, so nothing was written.
                    if item.dns_record is not None:
                        fqdn, zone = item.dns_record
                        cleanup_dns01(item.solver, fqdn, zone, item.key)
                item.presented = False
                self._save_challenge(item, processing=False)
            except IssuanceError as error:
                self._challenge_event(item, "Warning", "CleanUpError", error.message)

    # -- waiting -------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.settings.cancel.wait(seconds):
            raise Interrupted("Interrupted while waiting for the ACME server")
        if self.settings.cancel.is_set():
            raise Interrupted("Interrupted while waiting for the ACME server")

    # -- records ---------------------------------------------------------------------------------

    def _save_order(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        order = self.order
        request = self.request
        status: dict[str, Any] = {}
        body = {
            "spec": {
                "issuerRef": request.issuer,
                "dnsNames": [i.value for i in request.identifiers if i.type == "dns"],
                "ipAddresses": [i.value for i in request.identifiers if i.type == "ip"],
                **({"profile": request.profile} if request.profile else {}),
            },
            "status": status,
        }
        status.update(
            {
                "url": order.url if order else "",
                "finalizeURL": order.finalize_url if order else "",
                "state": state,
                "reason": reason,
                "authorizations": [
                    {
                        "url": a.url,
                        "identifier": a.identifier,
                        "wildcard": a.wildcard,
                        "initialState": a.status,
                        "challenges": [
                            {"type": c.type, "url": c.url, "token": c.token} for c in a.challenges
                        ],
                    }
                    for a in self.authorizations
                ],
            }
        )
        if state in ("invalid", "errored", "expired"):
            status["failureTime"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            self.recorder.save_acme_object(
                "Order",
                request.namespace,
                request.name,
                certificate=request.certificate,
                state=state,
                body=body,
            )

    def _save_challenge(self, item: _Challenge, *, processing: bool) -> None:
        request = self.request
        body = {
            "spec": {
                "url": item.challenge.url,
                "authorizationURL": item.authorization.url,
                "dnsName": item.authorization.identifier,
                "wildcard": item.authorization.wildcard,
                "type": item.kind,
                "token": item.challenge.token,
                "key": item.key,
                "solver": dict(item.solver_block),
                "issuerRef": request.issuer,
                "order": request.name,
            },
            "status": {
                "processing": processing,
                "presented": item.presented,
                "presentedAt": item.presented_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                if item.presented_at
                else None,
                "reason": item.reason,
                "state": item.state,
            },
        }
        with self._lock:
            self.recorder.save_acme_object(
                "Challenge",
                request.namespace,
                item.name,
                certificate=request.certificate,
                state=item.state,
                body=body,
            )

    def _event(self, type_: str, reason: str, message: str) -> None:
        key = f"{self.request.namespace}/{self.request.name}"
        with self._lock:
            self.recorder.record_event("Order", key, type_, reason, message)

    def _challenge_event(self, item: _Challenge, type_: str, reason: str, message: str) -> None:
        key = f"{self.request.namespace}/{item.name}"
        with self._lock:
            self.recorder.record_event("Challenge", key, type_, reason, message)


def choose_chain(default: str, alternates: Sequence[str], preferred: str) -> str:
    """``preferredChain``: the first chain (default, then alternates) whose top is issued by
    a certificate with that common name; the default chain when none is (cert-manager §3.2).

    The returned chain is ``tls.crt``: the leaf and intermediates, never a self-signed root.
    """
    from certctl.pki.certificates import describe_certificate, encode_pem, parse_pem_certificates

    chains = [default, *alternates]
    chosen = default
    if preferred:
        for candidate in chains:
            certificates = parse_pem_certificates(candidate.encode())
            if describe_certificate(certificates[-1]).issuer_common_name == preferred:
                chosen = candidate
                break
    certificates = parse_pem_certificates(chosen.encode())
    kept = [cert for cert in certificates if cert.issuer != cert.subject or cert is certificates[0]]
    return encode_pem(kept).decode()


def _duration(value: dt.timedelta) -> str:
    from certctl.api.duration import format_go_duration

    return format_go_duration(value)


def _pause(retry_after: float | None, fallback: float) -> float:
    if retry_after is None:
        return fallback
    return min(max(retry_after, 0.0), 60.0)


def _self_check_hint(kind: str) -> str:
    if kind == "HTTP-01":
        return (
            "Make sure http://DOMAIN/.well-known/acme-challenge/ reaches this solver (port 80, "
            "DNS, firewall, proxies); `certctl challenge check DOMAIN --issuer NAME` tests it "
            "without an order; waitInsteadOfSelfCheck skips the check behind NAT"
        )
    return (
        "The TXT record is not visible on every authoritative nameserver yet; check the "
        "provider's credentials and zone, or use --dns01-recursive-nameservers(-only) when "
        "split-horizon DNS hides it"
    )


def _validation_hint(kind: str) -> str:
    if kind == "HTTP-01":
        return (
            "The CA must reach http://DOMAIN/.well-known/acme-challenge/TOKEN on port 80 from "
            "the internet; check DNS records, firewalls and redirects"
        )
    return "The CA must see the _acme-challenge TXT record through public DNS"
