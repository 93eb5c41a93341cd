"""``challenge list|describe|check|serve|cleanup``: list and troubleshoot ACME challenges.

``challenge list`` and ``challenge describe`` are the views ``get challenges`` and
``describe challenge`` show, from ``acme_views.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import typer

from certctl.cli.acme_views import describe_acme, list_acme
from certctl.cli.context import AppContext, get_app, handles_errors
from certctl.cli.render import check_output_format, format_count, print_data, print_table
from certctl.cli.typerapp import CertctlTyper

if TYPE_CHECKING:
    from certctl.acme.troubleshoot import ChallengeCheckReport, CleanupReport

app = CertctlTyper(
    help="List, describe and troubleshoot ACME challenges: check a solver without ordering, "
    "serve HTTP-01 tokens, clean up leftovers.",
    no_args_is_help=True,
)

NAMESPACE = typer.Option(
    "default", "-n", "--namespace", metavar="NAMESPACE", help="Namespace of the challenges."
)
ALL_NAMESPACES = typer.Option(False, "-A", "--all-namespaces", help="Every namespace.")


# -- challenge list / describe -------------------------------------------------------------------


@app.command("list")
@handles_errors
def list_challenges(
    ctx: typer.Context,
    name: str = typer.Argument(None, metavar="NAME", help="Only this Challenge."),
    namespace: str = NAMESPACE,
    all_namespaces: bool = ALL_NAMESPACES,
    output: str = typer.Option(
        "table", "-o", "--output", metavar="FORMAT", help="table, wide, json or yaml."
    ),
) -> None:
    """List recorded Challenges (the same as get challenges)."""
    list_acme(get_app(ctx), "Challenge", name, namespace, all_namespaces, output)


@app.command("describe")
@handles_errors
def describe_challenge(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Challenge name."),
    namespace: str = NAMESPACE,
) -> None:
    """Describe a recorded Challenge (the same as describe challenge)."""
    describe_acme(get_app(ctx), "Challenge", name, namespace)


# -- challenge check -----------------------------------------------------------------------------


@app.command("check")
@handles_errors
def check(
    ctx: typer.Context,
    domain: str = typer.Argument(
        ..., metavar="DOMAIN", help="The name to check; *.example.com checks a wildcard."
    ),
    issuer: str = typer.Option(..., "--issuer", metavar="NAME", help="The ACME issuer."),
    kind: str = typer.Option(
        None,
        "--kind",
        metavar="KIND",
        help="Issuer or ClusterIssuer [default: the one named, Issuer first].",
        show_default=False,
    ),
    filename: list[str] = typer.Option(
        None, "-f", "--filename", metavar="PATH", help="Manifests holding the issuer."
    ),
    namespace: str = typer.Option(
        "default", "-n", "--namespace", metavar="NAMESPACE", help="Namespace of an Issuer."
    ),
    challenge_type: str = typer.Option(
        None,
        "--type",
        metavar="TYPE",
        help="http-01 or dns-01: only consider solvers of that type.",
        show_default=False,
    ),
    labels: list[str] = typer.Option(
        None,
        "--label",
        metavar="KEY=VALUE",
        help="A Certificate label, for solvers selected by matchLabels (repeatable).",
    ),
    timeout: str = typer.Option(
        "60s", "--timeout", metavar="DURATION", help="How long DNS-01 propagation may take."
    ),
    output: str = typer.Option("text", "-o", "--output", metavar="FORMAT", help="text or json."),
) -> None:
    """Will the ACME server see my token or TXT record? Checks a solver without ordering.

    Presents a random HTTP-01 token or DNS-01 TXT value through the solver an order
    would pick for DOMAIN, runs the self-check, and removes it again (also on Ctrl-C).
    Exit 0 when the check passes, 1 when it fails.
    """
    from certctl.acme.troubleshoot import check_challenge, find_issuer, solver_context

    check_output_format(output, ("text", "json"))
    application = get_app(ctx)
    limit = _duration(timeout, "--timeout")
    manifests = application.load(filename, namespace)
    found = find_issuer(manifests, issuer, kind, namespace)
    context = solver_context(
        found,
        application.store.read,
        application.cluster_resource_namespace,
        application.acme_settings(),
        store=application.store,
        namespace=namespace,
    )
    report = check_challenge(
        found,
        domain,
        context,
        challenge_type=challenge_type,
        labels=_labels(labels or []),
        timeout=limit,
        progress=application.info,
    )
    if output == "json":
        print_data(check_report_json(report), "json")
    else:
        typer.echo("\n".join(check_report_lines(report)))
    if report.cleanup_error:
        application.warn(f"The test challenge could not be removed: {report.cleanup_error}")
    if not report.passed or report.cleanup_error:
        raise typer.Exit(1)


def check_report_json(report: ChallengeCheckReport) -> dict[str, Any]:
    return {
        "domain": report.domain,
        "issuer": report.issuer,
        "type": report.challenge_type,
        "solver": {
            "index": report.solver.index,
            "key": report.solver.key,
            "why": report.solver.why,
            "config": dict(report.solver.config),
        },
        "target": report.target,
        "zone": report.zone,
        "passed": report.passed,
        "stage": report.stage,
        "detail": report.detail,
        "hint": report.hint,
        "attempts": report.attempts,
        "durationSeconds": round(report.seconds, 3),
        "notes": list(report.notes),
        "cleanedUp": not report.cleanup_error,
        "cleanupError": report.cleanup_error,
    }


def check_report_lines(report: ChallengeCheckReport) -> list[str]:
    solver = report.solver
    checks = format_count(report.attempts, "check")
    if report.passed:
        result = f"passed in {report.seconds:.2f}s ({checks})"
    else:
        where = "presenting" if report.stage == "present" else "the self-check"
        result = f"FAILED at {where} after {report.seconds:.2f}s ({checks})"
    checked = report.target or "<nothing: the solver could not present>"
    if report.zone:
        checked = f"TXT {report.target} in zone {report.zone}"
    rows = [
        ("Domain:", report.domain),
        ("Issuer:", report.issuer),
        ("Type:", report.challenge_type),
        ("Solver:", f"solvers[{solver.index}] ({solver.key}): {solver.why}"),
        ("Checked:", checked),
        ("Result:", result),
        ("Detail:", report.detail or "<none>"),
    ]
    rows.extend(("Note:", note) for note in report.notes)
    if not report.passed and report.hint:
        rows.append(("What to try:", report.hint))
    if report.stage == "self-check":
        rows.append(
            ("Cleanup:", f"FAILED: {report.cleanup_error}" if report.cleanup_error else "done")
        )
    return [f"{title:<13}{value}" for title, value in rows]


# -- challenge serve -----------------------------------------------------------------------------


@app.command("serve")
@handles_errors
def serve(
    ctx: typer.Context,
    pairs: list[str] = typer.Argument(
        None, metavar="TOKEN=KEYAUTH...", help="Tokens to answer, with their key authorization."
    ),
    port: int = typer.Option(
        80, "--port", metavar="PORT", min=1, max=65535, help="Port to listen on."
    ),
    address: str = typer.Option(
        "", "--address", metavar="ADDR", help='Address to listen on [default: "" (all)].'
    ),
    from_state: bool = typer.Option(
        False, "--from-state", help="Also serve every pending HTTP-01 Challenge in the state."
    ),
    namespace: str = typer.Option(
        None,
        "-n",
        "--namespace",
        metavar="NAMESPACE",
        help="With --from-state: only this namespace [default: all].",
        show_default=False,
    ),
) -> None:
    """Run a standalone HTTP-01 responder until Ctrl-C or SIGTERM.

    Ctrl-C and SIGTERM are the normal ways to stop it, so they exit 0 (not 130).
    """
    import threading

    from certctl.acme.solvers.standalone import serve_tokens
    from certctl.acme.troubleshoot import parse_token_pairs, pending_http01_tokens
    from certctl.errors import UsageError

    application = get_app(ctx)
    tokens = parse_token_pairs(pairs or [])
    if from_state:
        recorded = application.state.acme_objects("Challenge", namespace)
        tokens = {**pending_http01_tokens(recorded), **tokens}
        application.close()
    if not tokens:
        raise UsageError(
            "No tokens to serve",
            hint="Give TOKEN=KEYAUTH arguments, or --from-state when pending HTTP-01 "
            "challenges are recorded (certctl get challenges -A lists them)",
        )
    where = f"{address or '*'}:{port}"
    served = format_count(len(tokens), "HTTP-01 token")
    application.info(f"Serving {served} on {where}; Ctrl-C stops.")
    for token in tokens:
        application.detail(f"  /.well-known/acme-challenge/{token}")
    try:
        serve_tokens(address, port, tokens, threading.Event())
    except KeyboardInterrupt:
        application.info("Stopped serving HTTP-01 tokens.")


# -- challenge cleanup ---------------------------------------------------------------------------


@app.command("cleanup")
@handles_errors
def cleanup(
    ctx: typer.Context,
    issuer: str = typer.Option(
        None,
        "--issuer",
        metavar="NAME",
        help="Only challenges of this issuer (NAME or Kind/NAME).",
        show_default=False,
    ),
    namespace: str = typer.Option(
        None,
        "-n",
        "--namespace",
        metavar="NAMESPACE",
        help="Only this namespace [default: all].",
        show_default=False,
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List leftovers; remove nothing."),
    output: str = typer.Option(
        "table", "-o", "--output", metavar="FORMAT", help="table, json or yaml."
    ),
) -> None:
    """Remove the TXT records, token files and solver Ingresses that interrupted runs left behind.

    Every Challenge the state records as presented is cleaned up with the solver
    configuration recorded with it, and the issuer's secrets from the store, while
    holding the store's lock, so a running issue is never disturbed.
    """
    from certctl.acme.troubleshoot import cleanup_leftovers

    check_output_format(output, ("table", "json", "yaml"))
    application = get_app(ctx)
    settings = application.acme_settings()

    def run() -> CleanupReport:
        return cleanup_leftovers(
            application.state,
            read_secret=application.store.read,
            cluster_resource_namespace=application.cluster_resource_namespace,
            settings=settings,
            namespace=namespace,
            issuer=issuer,
            dry_run=dry_run,
            store=application.store,
        )

    if dry_run:
        report = run()
    else:
        with application.store.lock(application.lock_timeout_delta()):
            report = run()
    _render_cleanup(application, report, output)
    if report.failed:
        raise typer.Exit(1)


def _render_cleanup(application: AppContext, report: CleanupReport, output: str) -> None:
    if output in ("json", "yaml"):
        items = [
            {
                "namespace": item.namespace,
                "name": item.name,
                "domain": item.domain,
                "type": item.challenge_type,
                "solver": item.solver,
                "leftover": item.what,
                "outcome": item.outcome,
                "detail": item.detail,
            }
            for item in report.items
        ]
        print_data({"dryRun": report.dry_run, "items": items}, output)
    elif report.items:
        print_table(
            ["NAMESPACE", "NAME", "TYPE", "OUTCOME", "LEFTOVER"],
            [
                [item.namespace, item.name, item.challenge_type, item.outcome, item.what]
                for item in report.items
            ],
        )
    for item in report.failed:
        application.warn(f"{item.namespace}/{item.name}: {item.detail}")
    if not report.items:
        application.info("No presented challenges were left behind.")
        return
    counts: dict[str, int] = {}
    for item in report.items:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    presented = format_count(len(report.items), "presented challenge")
    application.info(f"cleanup: {presented}: {summary}.")


# -- option parsing ------------------------------------------------------------------------------


def _duration(text: str, option: str) -> dt.timedelta:
    from certctl.api.duration import parse_go_duration
    from certctl.errors import UsageError

    try:
        value = parse_go_duration(text)
    except ValueError as exc:
        raise UsageError(
            f"{option} {text!r} is not a duration: {exc}", hint="Use a Go duration such as 90s"
        ) from exc
    if value.total_seconds() <= 0:
        raise UsageError(f"{option} must be longer than 0s")
    return value


def _labels(pairs: list[str]) -> dict[str, str]:
    from certctl.errors import UsageError

    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--label {pair!r} is not KEY=VALUE")
        labels[key] = value
    return labels


for _alias in ("ls",):
    app.command(_alias, hidden=True)(list_challenges)
