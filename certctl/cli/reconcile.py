"""``issue`` and ``renew``: bring Certificates' secrets up to date."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from certctl.cli.context import AppContext, get_app, handles_errors
from certctl.cli.render import (
    check_output_format,
    format_count,
    format_time,
    print_data,
    print_table,
)

if TYPE_CHECKING:
    from certctl.engine.reconcile import CertificateResult, ReconcileReport

FILENAME_HELP = "Manifest file or directory (repeatable; - for stdin)."


def register(app: typer.Typer) -> None:
    app.command("issue")(
        _reconcile_command(
            "issue",
            "Ensure each Certificate has a valid, up-to-date certificate in the store.",
            force_help="Reissue even if nothing is due; ignore backoff.",
        )
    )
    app.command("renew")(
        _reconcile_command(
            "renew",
            "The cron entry point: renew what is due; silent and offline when nothing is.",
            force_help="Renew now, like cmctl renew; ignore backoff.",
        )
    )


def _reconcile_command(command: str, summary: str, *, force_help: str) -> Callable[..., None]:
    """``issue`` and ``renew`` share options and engine; they differ in words and output."""

    @handles_errors
    def reconcile_command(
        ctx: typer.Context,
        filename: list[str] = typer.Option(
            None, "-f", "--filename", metavar="PATH", help=FILENAME_HELP
        ),
        namespace: str = typer.Option(
            "default",
            "-n",
            "--namespace",
            metavar="NAMESPACE",
            help="Namespace for manifests without one.",
        ),
        name: list[str] = typer.Option(
            None, "--name", metavar="NAME", help="Only this Certificate (repeatable)."
        ),
        force: bool = typer.Option(False, "--force", help=force_help),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
        output: str = typer.Option(
            "table", "-o", "--output", metavar="FORMAT", help="table, wide, json or yaml."
        ),
    ) -> None:
        _run(get_app(ctx), command, filename, namespace, name, force, dry_run, output)

    reconcile_command.__doc__ = summary
    reconcile_command.__name__ = f"{command}_command"
    return reconcile_command


def _run(
    app: AppContext,
    command: str,
    filename: list[str] | None,
    namespace: str,
    names: list[str] | None,
    force: bool,
    dry_run: bool,
    output: str,
) -> None:
    from certctl.engine.reconcile import ReconcileOptions, reconcile

    check_output_format(output)
    started = time.monotonic()
    # --force reissues, and lets the Kubernetes store take over a Secret someone else owns.
    app.take_over_secrets = force
    manifests = app.load_certificates(filename, namespace)
    options = ReconcileOptions(
        names=tuple(names or ()),
        force=force,
        dry_run=dry_run,
        concurrency=app.concurrency,
        cluster_resource_namespace=app.cluster_resource_namespace,
        acme=app.acme_settings(),
    )

    store = app.store
    lock_timeout = app.lock_timeout_delta()
    report = reconcile(
        manifests,
        store,
        app.state,
        app.clock,
        options,
        progress_printer(app),
        lock=lambda: store.lock(lock_timeout),
    )
    render_report(app, command, report, output, time.monotonic() - started)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def progress_printer(app: AppContext) -> Callable[[CertificateResult], None]:
    """One stderr line per certificate as its result comes in (unchanged ones with -v)."""

    def progress(result: CertificateResult) -> None:
        line = f"{result.key}: {result.action} ({result.reason})"
        if result.outcome in ("failed", "backoff", "refused"):
            app.warn(f"{line}: {result.error}")
            if app.debug and result.debug_trace:
                app.warn(result.debug_trace)
        elif result.outcome == "unchanged":
            app.detail(f"{line}, renews at {format_time(result.renewal_time)}")
        else:
            app.info(f"{line}: {result.message}")

    return progress


def render_report(
    app: AppContext,
    command: str,
    report: ReconcileReport,
    output: str,
    seconds: float,
    *,
    show_all: bool = False,
) -> None:
    """The results on stdout (table, or -o json|yaml) and the summary line on stderr."""
    # With --store manifest the Secret manifests are the data on stdout; the report moves
    # to stderr so that `certctl --store manifest issue ... | kubectl apply -f -` works.
    stream = sys.stderr if getattr(app.store, "writes_to_stdout", False) else sys.stdout
    if output in ("json", "yaml"):
        print_data({"results": [result.to_json() for result in report.results]}, output, stream)
    else:
        shown = [
            result
            for result in report.results
            if show_all or command == "issue" or result.outcome != "unchanged" or output == "wide"
        ]
        if shown:
            headers = ["NAMESPACE", "NAME", "SECRET", "ACTION", "REASON", "NOT AFTER", "RENEWAL"]
            rows = [
                [
                    result.namespace,
                    result.name,
                    result.secret_name,
                    result.action,
                    result.reason,
                    format_time(result.not_after),
                    format_time(result.renewal_time),
                ]
                for result in shown
            ]
            if output == "wide":
                headers.append("MESSAGE")
                for row, result in zip(rows, shown, strict=True):
                    row.append(result.error or result.message)
            print_table(headers, rows, stream)
    counts = {
        outcome: report.count(outcome)
        for outcome in (
            "issued",
            "repaired",
            "unchanged",
            "planned",
            "refused",
            "backoff",
            "failed",
        )
    }
    summary = ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
    total = len(report.results)
    certificates = format_count(total, "certificate")
    if command in ("renew", "sync") and total and counts["unchanged"] == total:
        app.info(f"Nothing to {command}: {certificates} up to date ({seconds:.2f}s).")
    else:
        app.info(f"{command}: {certificates}: {summary or 'none selected'} ({seconds:.2f}s).")
