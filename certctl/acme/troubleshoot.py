"""Troubleshooting ACME challenges without an order (``certctl challenge check|serve|cleanup``).

``check_challenge`` answers the question users ask most (cert-manager §4.5, and the
top complaint in its issue tracker): *would the ACME server see my token or TXT
record?* It picks the solver an order would pick, presents a random token or TXT
value through it, runs the same self-check issuance runs, and always cleans up.
No ACME server is contacted, so no rate limit is spent.

``cleanup_leftovers`` removes what an interrupted run left presented: the state
records every Challenge with its solver configuration and ``presented`` flag, so
the TXT record or token file can be found and removed again.

``pending_http01_tokens`` and ``parse_token_pairs`` feed ``challenge serve``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from certctl.acme.picker import CHALLENGE_TYPES, describe_no_solver, pick_solver
from certctl.acme.settings import ACMESettings
from certctl.acme.solvers.base import DNS01Provider, HTTP01Solver, SecretReader, SolverContext
from certctl.acme.solvers.registry import build_solver, solver_key
from certctl.api.models import Issuer, ManifestSet
from certctl.errors import IssuanceError, UsageError
from certctl.state.database import AcmeObject

__all__ = [
    "DEFAULT_CHECK_TIMEOUT",
    "ChallengeCheckReport",
    "ChallengeRecorder",
    "CleanupItem",
    "CleanupReport",
    "SolverPick",
    "check_challenge",
    "cleanup_leftovers",
    "find_issuer",
    "parse_token_pairs",
    "pending_http01_tokens",
    "solver_context",
]

log = logging.getLogger(__name__)

#: How long ``challenge check`` waits for a TXT record to show on every nameserver.
DEFAULT_CHECK_TIMEOUT = dt.timedelta(seconds=60)
#: First and longest pause between two propagation checks.
_CHECK_FIRST_PAUSE = 0.25
_CHECK_LONGEST_PAUSE = 5.0
#: cert-manager waits 2 s between the passes of the HTTP-01 self-check.
_HTTP01_PASS_INTERVAL = 2.0

SolverBuilder = Callable[[Mapping[str, Any], SolverContext], HTTP01Solver | DNS01Provider]
Progress = Callable[[str], None]


class ChallengeRecorder(Protocol):
    """The part of the state database ``cleanup_leftovers`` uses."""

    def acme_objects(self, kind: str, namespace: str | None = None) -> list[AcmeObject]: ...

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


# --- challenge check ---


def find_issuer(manifests: ManifestSet, name: str, kind: str | None, namespace: str) -> Issuer:
    """The Issuer (in ``namespace``) or ClusterIssuer called ``name``.

    Without ``kind`` an Issuer is looked for first, as cert-manager's ``issuerRef``
    defaults its kind to Issuer, then a ClusterIssuer.

    Raises:
        UsageError: ``kind`` is neither, or no such issuer is in the manifests.
    """
    if kind is not None and kind not in ("Issuer", "ClusterIssuer"):
        raise UsageError(f"--kind {kind!r} is not Issuer or ClusterIssuer")
    kinds = [kind] if kind else ["Issuer", "ClusterIssuer"]
    for wanted in kinds:
        for issuer in manifests.issuers:
            if issuer.name != name or issuer.kind != wanted:
                continue
            if issuer.cluster_scoped or issuer.namespace == namespace:
                return issuer
    where = " or ".join(kinds)
    raise UsageError(
        f'{where} "{name}" not found in the given manifests'
        + ("" if kind == "ClusterIssuer" else f" (Issuers in namespace {namespace})"),
        hint="Check --issuer, --kind, the namespace (-n) and the files given with -f",
    )


def solver_context(
    issuer: Issuer,
    read_secret: SecretReader,
    cluster_resource_namespace: str,
    settings: ACMESettings,
    *,
    store: object | None = None,
    namespace: str = "default",
) -> SolverContext:
    """What the issuer's solvers get, as issuance builds it: secrets of a ClusterIssuer live
    in the cluster resource namespace, those of an Issuer in its own namespace. ``store``
    and ``namespace`` are for the ingress solver, which creates objects in the cluster."""
    secrets = issuer.namespace if issuer.namespace is not None else cluster_resource_namespace
    return SolverContext(
        secret_namespace=secrets,
        read_secret=read_secret,
        settings=settings,
        issuer=f"{issuer.kind}/{issuer.name}",
        store=store,
        namespace=namespace,
    )


@dataclass(frozen=True)
class SolverPick:
    """The ``spec.acme.solvers[]`` entry the check used, and why.

    Attributes:
        index: its position in ``spec.acme.solvers``.
        key: ``http01.standalone``, ``dns01.rfc2136``, ...
        challenge_type: ``http-01`` or ``dns-01``.
        config: the entry itself.
        why: one sentence saying why an order would pick it.
    """

    index: int
    key: str
    challenge_type: str
    config: Mapping[str, Any]
    why: str


@dataclass
class ChallengeCheckReport:
    """What ``check_challenge`` did and found.

    Attributes:
        domain: the name checked, as given (``*.example.com`` for a wildcard).
        issuer: ``Kind/name`` of the issuer.
        solver: the solver used.
        target: the URL fetched (HTTP-01) or the TXT record name (DNS-01).
        zone: the DNS zone the TXT record went to (DNS-01).
        passed: whether the self-check passed.
        stage: where it ended: ``present`` (the solver could not present) or ``self-check``.
        detail: what the last check saw, or why presenting failed.
        hint: what to try when it failed.
        attempts: how many checks ran.
        seconds: how long presenting and checking took.
        notes: remarks worth showing (``waitInsteadOfSelfCheck``, ...).
        cleanup_error: why cleaning up failed; empty when it worked.
    """

    domain: str
    issuer: str
    solver: SolverPick
    target: str = ""
    zone: str = ""
    passed: bool = False
    stage: str = "present"
    detail: str = ""
    hint: str = ""
    attempts: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    cleanup_error: str = ""

    @property
    def challenge_type(self) -> str:
        """``HTTP-01`` or ``DNS-01``, as cert-manager's Challenge spells it."""
        return self.solver.challenge_type.upper()


def check_challenge(
    issuer: Issuer,
    domain: str,
    context: SolverContext,
    *,
    challenge_type: str | None = None,
    labels: Mapping[str, str] | None = None,
    timeout: dt.timedelta = DEFAULT_CHECK_TIMEOUT,
    progress: Progress | None = None,
    build: SolverBuilder = build_solver,
) -> ChallengeCheckReport:
    """Present a random challenge for ``domain`` through the issuer's solver and self-check it.

    The solver is the one an order would pick (cert-manager's solver picker). For
    HTTP-01 a random token with a random key authorization is presented and fetched
    as the ACME server would fetch it (as many passes as the solver needs). For
    DNS-01 a random TXT value is added through the provider and looked for on every
    authoritative nameserver (or the recursive ones with
    ``--dns01-recursive-nameservers-only``) until it shows or ``timeout`` passes.
    Whatever was presented is removed again, also when the check fails or is
    interrupted (Ctrl-C, SIGTERM).

    Args:
        issuer: an ACME Issuer or ClusterIssuer.
        domain: the name to check; ``*.example.com`` checks the wildcard (DNS-01 only).
        context: the issuer's secrets (TSIG keys, credentials) and the run's settings.
        challenge_type: ``http-01`` or ``dns-01`` to consider only solvers of that type.
        labels: a Certificate's labels, for solvers whose selector has ``matchLabels``.
        timeout: how long DNS-01 propagation may take.
        progress: receives one line per step, for stderr.
        build: builds a solver from its ``solvers[]`` entry.

    Returns:
        The report; ``passed`` says whether the ACME server should see the challenge.

    Raises:
        UsageError: the issuer is not ACME, or the name or type cannot be checked.
        IssuanceError: no solver of the issuer can validate the name.
    """
    say = progress or (lambda _line: None)
    if issuer.spec.type != "acme":
        raise UsageError(
            f"{issuer.kind} {issuer.name!r} is a {issuer.spec.type} issuer; only ACME issuers "
            "solve challenges",
            hint="Pass an issuer with spec.acme to --issuer",
        )
    name, wildcard, is_ip = _parse_domain(domain)
    offered = _offered_types(domain, wildcard, is_ip, challenge_type)
    solvers: Sequence[Mapping[str, Any]] = tuple(issuer.spec.config.get("solvers") or ())
    choice = pick_solver(
        solvers, domain=name, wildcard=wildcard, offered_types=offered, labels=labels or {}
    )
    if choice is None:
        raise IssuanceError(
            describe_no_solver(name, wildcard, solvers, offered, labels=labels),
            reason="NoSolver",
            hint="Add or fix a solver in the issuer's spec.acme.solvers (or pass the "
            "Certificate's labels with --label for matchLabels selectors)",
        )
    key = solver_key(choice.solver)
    pick = SolverPick(
        index=choice.index,
        key=key,
        challenge_type=choice.challenge_type,
        config=choice.solver,
        why=_why_chosen(choice.index, key, choice.solver, domain, offered, challenge_type),
    )
    report = ChallengeCheckReport(domain=domain, issuer=context.issuer, solver=pick)
    if choice.solver.get("waitInsteadOfSelfCheck") is not None:
        report.notes.append(
            f"This solver sets waitInsteadOfSelfCheck "
            f"({choice.solver['waitInsteadOfSelfCheck']}), so issuance skips this self-check "
            "and lets the ACME server find out; it was run here anyway."
        )
    started = time.monotonic()
    try:
        if choice.challenge_type == "http-01":
            _check_http01(report, name, context, build, say)
        else:
            _check_dns01(report, name, context, build, timeout, say)
    finally:
        report.seconds = time.monotonic() - started
    return report


def _parse_domain(domain: str) -> tuple[str, bool, bool]:
    """``(name without "*.", wildcard, is an IP address)``."""
    text = domain.strip().rstrip(".").lower()
    wildcard = text.startswith("*.")
    name = text[2:] if wildcard else text
    if not name or "*" in name or " " in name:
        raise UsageError(
            f"{domain!r} is not a DNS name or IP address",
            hint="Give a name such as www.example.com, or *.example.com for a wildcard",
        )
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return name, wildcard, False
    if wildcard:
        raise UsageError(f"{domain!r} is not a DNS name or IP address")
    return name.strip("[]"), False, True


def _offered_types(domain: str, wildcard: bool, is_ip: bool, forced: str | None) -> frozenset[str]:
    """The challenge types an ACME server would offer for the name (RFC 8555 §7.1.3, RFC 8738)."""
    possible = {"http-01", "dns-01"}
    if wildcard:
        possible = {"dns-01"}
    if is_ip:
        possible = {"http-01"}
    if forced is None:
        return frozenset(possible)
    wanted = forced.lower()
    if wanted not in CHALLENGE_TYPES.values():
        raise UsageError(f"--type {forced!r} is not a challenge type", hint="Use http-01 or dns-01")
    if wanted not in possible:
        why = (
            "wildcard names can only be validated with DNS-01"
            if wildcard
            else "IP addresses can only be validated with HTTP-01"
        )
        raise UsageError(f"{domain} cannot be checked with {wanted}: {why}")
    return frozenset({wanted})


def _why_chosen(
    index: int,
    key: str,
    solver: Mapping[str, Any],
    domain: str,
    offered: Iterable[str],
    forced: str | None,
) -> str:
    selector = solver.get("selector")
    if selector is None:
        sentence = f"it has no selector, and no solver's selector matches {domain}"
    else:
        parts = []
        if selector.get("dnsNames"):
            parts.append(f"dnsNames lists {domain}")
        zones = [str(zone) for zone in selector.get("dnsZones") or ()]
        if zones:
            parts.append(f"dnsZones [{', '.join(zones)}] contains it")
        match_labels = selector.get("matchLabels") or {}
        if match_labels:
            labels = ", ".join(f"{k}={v}" for k, v in match_labels.items())
            parts.append(f"matchLabels {labels} are given")
        sentence = "its selector is the most specific match: " + ", ".join(parts or ["empty"])
    types = " and ".join(sorted(offered))
    if forced:
        sentence += f" (only {types} solvers were considered, as --type asked)"
    elif domain.startswith("*."):
        sentence += " (wildcards can only be validated with DNS-01)"
    else:
        sentence += f" (solvers for {types} were considered)"
    return sentence


def _random_key_authorization() -> tuple[str, str]:
    """A token and a key authorization shaped like real ones (RFC 8555 §8.1), both random."""
    token = secrets.token_urlsafe(32)
    thumbprint = secrets.token_urlsafe(32)
    return token, f"{token}.{thumbprint}"


def _check_http01(
    report: ChallengeCheckReport,
    domain: str,
    context: SolverContext,
    build: SolverBuilder,
    say: Progress,
) -> None:
    from certctl.acme.http01 import challenge_url, check_http01

    settings = context.settings
    token, key_authorization = _random_key_authorization()
    report.target = challenge_url(domain, token, settings.http01_self_check_port)
    solver: Any = None
    presented = False
    try:
        try:
            solver = build(report.solver.config, context)
            solver.present(domain, token, key_authorization)
            presented = True
        except IssuanceError as error:
            report.detail, report.hint = error.message, error.hint
            return
        report.stage = "self-check"
        passes = int(getattr(solver, "self_check_passes", 1))
        needed = f"{passes} consecutive passes needed" if passes > 1 else "1 pass needed"
        say(f"Presented a test token; fetching {report.target} ({needed})")
        for attempt in range(passes):
            report.attempts += 1
            result = check_http01(domain, token, key_authorization, settings)
            report.detail = result.detail
            if not result.ok:
                report.hint = _http01_hint(report, domain)
                return
            if attempt + 1 < passes:
                time.sleep(_HTTP01_PASS_INTERVAL)
        report.passed = True
        if passes > 1:
            report.detail = f"{report.detail} ({passes} passes in a row)"
    finally:
        if presented:
            try:
                solver.cleanup(domain, token, key_authorization)
            except IssuanceError as error:
                report.cleanup_error = error.message
                log.warning("Could not remove the test token %s: %s", token, error.message)


def _check_dns01(
    report: ChallengeCheckReport,
    domain: str,
    context: SolverContext,
    build: SolverBuilder,
    timeout: dt.timedelta,
    say: Progress,
) -> None:
    from certctl.acme.dns01 import (
        check_propagation,
        cleanup_dns01,
        present_dns01,
        solver_settings,
    )

    _, key_authorization = _random_key_authorization()
    value = _dns01_value(key_authorization)
    dns01_config: Mapping[str, Any] = report.solver.config.get("dns01") or {}
    provider: Any = None
    record: tuple[str, str] | None = None
    try:
        try:
            settings = solver_settings(dns01_config, context.settings)
            provider = build(report.solver.config, context)
            record = present_dns01(provider, domain, value, dns01_config, context.settings)
        except IssuanceError as error:
            report.detail, report.hint = error.message, error.hint
            return
        report.stage = "self-check"
        report.target, report.zone = record
        say(
            f"Added a test TXT record at {report.target} (zone {report.zone}); waiting up to "
            f"{_seconds_text(timeout)} for it to show on the nameservers"
        )
        deadline = time.monotonic() + timeout.total_seconds()
        pause = _CHECK_FIRST_PAUSE
        while True:
            report.attempts += 1
            result = check_propagation(report.target, value, report.zone, settings)
            report.detail = result.detail
            if result.ok:
                report.passed = True
                return
            if time.monotonic() + pause > deadline:
                report.detail = (
                    f"not visible after {_seconds_text(timeout)} ({report.attempts} checks): "
                    f"{result.detail}"
                )
                report.hint = _dns01_hint(report)
                return
            # Ctrl-C raises here (SIGTERM too, through the CLI's handler); cleanup still runs.
            if context.settings.cancel.wait(pause):
                report.detail = f"interrupted: {result.detail}"
                return
            pause = min(pause * 2, _CHECK_LONGEST_PAUSE)
    finally:
        if record is not None:
            try:
                cleanup_dns01(provider, record[0], record[1], value)
            except IssuanceError as error:
                report.cleanup_error = error.message
                log.warning("Could not remove the test TXT record %s: %s", record[0], error.message)


def _dns01_value(key_authorization: str) -> str:
    """RFC 8555 §8.4: base64url(SHA-256(key authorization)), unpadded."""
    digest = hashlib.sha256(key_authorization.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _seconds_text(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds():g}s"


def _http01_hint(report: ChallengeCheckReport, domain: str) -> str:
    config: Mapping[str, Any] = report.solver.config.get("http01") or {}
    if "webroot" in config:
        path = Path(str(config["webroot"].get("path", ""))) / ".well-known" / "acme-challenge"
        return (
            f"The web server answering http://{domain}/ on port 80 must serve the files in "
            f"{path} as /.well-known/acme-challenge/ over plain HTTP: check that it runs, that "
            "its document root is the webroot path, and that no redirect or rewrite hides the "
            f"path; check that {domain}'s A/AAAA records point at it"
        )
    if "standalone" in config:
        standalone = config["standalone"]
        port = int(standalone.get("port") or 80)
        forward = "" if port == 80 else f" and forwarded to port {port}"
        return (
            f"Port 80 of {domain} must reach certctl's listener: check that {domain}'s A/AAAA "
            f"records point at this host, that port 80 is open in every firewall{forward}, and "
            "that no other web server or proxy answers first; `certctl challenge serve` keeps a "
            "responder running while you test from outside"
        )
    return (
        f"http://{domain}/.well-known/acme-challenge/ must reach the {report.solver.key} "
        "solver: check DNS records, port 80, firewalls and redirects"
    )


def _dns01_hint(report: ChallengeCheckReport) -> str:
    return (
        f"Check that the {report.solver.key} provider writes to the zone {report.zone} that the "
        "public nameservers serve (credentials, zone delegation, NS records), and that those "
        "nameservers are reachable on port 53; behind split-horizon DNS use "
        "--dns01-recursive-nameservers HOST:PORT (with --dns01-recursive-nameservers-only); "
        "if _acme-challenge is a CNAME, set cnameStrategy: Follow"
    )


# --- challenge cleanup ---


@dataclass(frozen=True)
class CleanupItem:
    """One presented Challenge that ``cleanup_leftovers`` looked at.

    Attributes:
        namespace: the Challenge's namespace.
        name: the Challenge's name.
        domain: ``spec.dnsName``.
        challenge_type: ``HTTP-01`` or ``DNS-01``.
        solver: ``http01.webroot``, ``dns01.rfc2136``, ...
        what: what was left behind, in words (the TXT record, the token file).
        outcome: ``removed``, ``would remove``, ``nothing left`` or ``failed``.
        detail: why it failed, or why nothing was left.
    """

    namespace: str
    name: str
    domain: str
    challenge_type: str
    solver: str
    what: str
    outcome: str
    detail: str = ""


@dataclass
class CleanupReport:
    """Every leftover found, and what happened to it."""

    dry_run: bool
    items: list[CleanupItem] = field(default_factory=list)

    @property
    def failed(self) -> list[CleanupItem]:
        return [item for item in self.items if item.outcome == "failed"]


def cleanup_leftovers(
    state: ChallengeRecorder,
    *,
    read_secret: SecretReader,
    cluster_resource_namespace: str,
    settings: ACMESettings,
    namespace: str | None = None,
    issuer: str | None = None,
    dry_run: bool = False,
    build: SolverBuilder = build_solver,
    store: object | None = None,
) -> CleanupReport:
    """Remove what Challenges recorded as ``presented: true`` left behind.

    A run that was killed (SIGKILL, power loss) before its cleanup ran leaves TXT
    records and token files in place. Each such Challenge's solver is rebuilt from
    the configuration recorded with it (what was presented, even if the issuer has
    changed since), with the issuer's secrets read from the store: the Issuer's
    namespace, or the cluster resource namespace for a ClusterIssuer. Removed
    leftovers are recorded as ``presented: false`` with a ``CleanedUp`` event.

    Args:
        state: the state database.
        read_secret: reads the issuers' secrets from the store.
        cluster_resource_namespace: where ClusterIssuer secrets live.
        settings: the run's ACME settings (resolvers for finding the zone).
        namespace: only Challenges of this namespace; None for all.
        issuer: only Challenges of this issuer (``name`` or ``Kind/name``).
        dry_run: list what would be removed and change nothing.
        build: builds a solver from its ``solvers[]`` entry.
    """
    report = CleanupReport(dry_run=dry_run)
    for challenge in state.acme_objects("Challenge", namespace):
        status = challenge.body.get("status") or {}
        spec = challenge.body.get("spec") or {}
        if not status.get("presented"):
            continue
        if issuer is not None and not _same_issuer(str(spec.get("issuerRef", "")), issuer):
            continue
        item = _clean_one(
            challenge,
            spec,
            read_secret=read_secret,
            cluster_resource_namespace=cluster_resource_namespace,
            settings=settings,
            dry_run=dry_run,
            build=build,
            store=store,
        )
        report.items.append(item)
        if not dry_run and item.outcome in ("removed", "nothing left"):
            _mark_cleaned(state, challenge, item)
    return report


def _same_issuer(recorded: str, wanted: str) -> bool:
    if "/" in wanted:
        return recorded.lower() == wanted.lower()
    return recorded.partition("/")[2] == wanted


def _clean_one(
    challenge: AcmeObject,
    spec: Mapping[str, Any],
    *,
    read_secret: SecretReader,
    cluster_resource_namespace: str,
    settings: ACMESettings,
    dry_run: bool,
    build: SolverBuilder,
    store: object | None = None,
) -> CleanupItem:
    domain = str(spec.get("dnsName", ""))
    challenge_type = str(spec.get("type", ""))
    block: Mapping[str, Any] = spec.get("solver") or {}
    token, key = str(spec.get("token", "")), str(spec.get("key", ""))
    issuer_ref = str(spec.get("issuerRef", ""))
    kind = issuer_ref.partition("/")[0]

    def item(solver: str, what: str, outcome: str, detail: str = "") -> CleanupItem:
        return CleanupItem(
            challenge.namespace,
            challenge.name,
            domain,
            challenge_type,
            solver,
            what,
            outcome,
            detail,
        )

    try:
        key_name = solver_key(block)
    except IssuanceError as error:
        return item("<unknown>", "the presented challenge", "failed", error.message)
    context = SolverContext(
        secret_namespace=(
            cluster_resource_namespace if kind == "ClusterIssuer" else challenge.namespace
        ),
        read_secret=read_secret,
        settings=settings,
        issuer=issuer_ref,
        store=store,
        namespace=challenge.namespace,
    )
    if challenge_type == "HTTP-01":
        return _clean_http01(item, key_name, block, context, domain, token, key, dry_run, build)
    return _clean_dns01(item, key_name, block, context, domain, key, dry_run, build)


def _clean_http01(
    item: Callable[..., CleanupItem],
    key_name: str,
    block: Mapping[str, Any],
    context: SolverContext,
    domain: str,
    token: str,
    key_authorization: str,
    dry_run: bool,
    build: SolverBuilder,
) -> CleanupItem:
    if key_name == "http01.standalone":
        # The listener lived in the interrupted process and ended with it.
        return item(
            key_name,
            f"the token {token} of the http01.standalone listener",
            "nothing left",
            "the listener ended with the run that started it",
        )
    what = f"the HTTP-01 token {token} ({key_name})"
    if key_name == "http01.webroot":
        path = Path(str(block["http01"]["webroot"].get("path", "")))
        target = path / ".well-known" / "acme-challenge" / token
        what = f"the token file {target}"
        if not target.exists():
            return item(key_name, what, "nothing left", "the file is already gone")
    if dry_run:
        return item(key_name, what, "would remove")
    try:
        solver: Any = build(block, context)
        solver.cleanup(domain, token, key_authorization)
    except IssuanceError as error:
        return item(key_name, what, "failed", error.paragraph())
    return item(key_name, what, "removed")


def _clean_dns01(
    item: Callable[..., CleanupItem],
    key_name: str,
    block: Mapping[str, Any],
    context: SolverContext,
    domain: str,
    value: str,
    dry_run: bool,
    build: SolverBuilder,
) -> CleanupItem:
    from certctl.acme.dns01 import (
        challenge_record_name,
        cleanup_dns01,
        find_zone,
        follow_cnames,
        solver_settings,
    )

    config: Mapping[str, Any] = block.get("dns01") or {}
    what = f'the TXT record "{value}" for {domain} ({key_name})'
    try:
        # Find the record as present_dns01 did: the same name, CNAMEs and zone.
        settings = solver_settings(config, context.settings)
        fqdn = challenge_record_name(domain)
        if config.get("cnameStrategy") == "Follow":
            fqdn = follow_cnames(fqdn, settings)
        zone = find_zone(fqdn, settings)
        what = f'the TXT record "{value}" at {fqdn} (zone {zone}, {key_name})'
        if dry_run:
            return item(key_name, what, "would remove")
        provider: Any = build(block, context)
        cleanup_dns01(provider, fqdn, zone, value)
    except IssuanceError as error:
        return item(key_name, what, "failed", error.paragraph())
    return item(key_name, what, "removed")


def _mark_cleaned(state: ChallengeRecorder, challenge: AcmeObject, item: CleanupItem) -> None:
    body = {
        "spec": dict(challenge.body.get("spec") or {}),
        "status": {**dict(challenge.body.get("status") or {}), "presented": False},
    }
    state.save_acme_object(
        "Challenge",
        challenge.namespace,
        challenge.name,
        certificate=challenge.certificate,
        state=challenge.state,
        body=body,
    )
    message = (
        f"Removed {item.what}, left by an interrupted run (certctl challenge cleanup)"
        if item.outcome == "removed"
        else f"Marked as cleaned up: {item.detail} (certctl challenge cleanup)"
    )
    state.record_event(
        "Challenge", f"{challenge.namespace}/{challenge.name}", "Normal", "CleanedUp", message
    )


# --- challenge serve ---


def parse_token_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``TOKEN=KEYAUTH`` arguments as a mapping of key authorization by token.

    Raises:
        UsageError: an argument has no ``=``, or an empty side.
    """
    tokens: dict[str, str] = {}
    for pair in pairs:
        token, sep, key_authorization = pair.partition("=")
        if not sep or not token or not key_authorization:
            raise UsageError(
                f"{pair!r} is not TOKEN=KEYAUTH",
                hint="Give each token with its key authorization, e.g. "
                "abc123=abc123.Pq0Th4mbpr1nt (certctl describe challenge shows both)",
            )
        tokens[token] = key_authorization
    return tokens


def pending_http01_tokens(
    challenges: Iterable[AcmeObject],
) -> dict[str, str]:
    """The tokens of recorded HTTP-01 Challenges still pending (key authorization by token)."""
    tokens: dict[str, str] = {}
    for challenge in challenges:
        spec = challenge.body.get("spec") or {}
        if spec.get("type") != "HTTP-01" or challenge.state not in ("pending", "processing"):
            continue
        token, key_authorization = spec.get("token"), spec.get("key")
        if token and key_authorization:
            tokens[str(token)] = str(key_authorization)
    return tokens
