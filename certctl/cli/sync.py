"""``sync``: the reconcile loop over everything, with ingress-shim, plan, prune and watch."""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import TYPE_CHECKING

import typer

from certctl.cli.context import AppContext, get_app, handles_errors
from certctl.cli.reconcile import progress_printer, render_report
from certctl.cli.render import check_output_format, print_data, print_table

if TYPE_CHECKING:
    from certctl.api.models import ManifestSet
    from certctl.engine.sync import SyncReport


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)


@handles_errors
def sync_command(
    ctx: typer.Context,
    filename: list[str] = typer.Option(
        None, "-f", "--filename", metavar="PATH", help="Manifest file or directory (repeatable)."
    ),
    namespace: str = typer.Option(
        "default",
        "-n",
        "--namespace",
        metavar="NAMESPACE",
        help="Namespace for manifests without one, and the scope of --from-cluster and --prune.",
    ),
    all_namespaces: bool = typer.Option(
        False, "-A", "--all-namespaces", help="--from-cluster and --prune cover every namespace."
    ),
    from_cluster: bool = typer.Option(
        False, "--from-cluster", help="Also derive Certificates from the cluster's Ingresses."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
    prune: bool = typer.Option(
        False, "--prune", help="Delete Secrets certctl created for Certificates that are gone."
    ),
    force: bool = typer.Option(
        False, "--force", help="Reissue everything, ignore backoff, take over foreign Secrets."
    ),
    watch: bool = typer.Option(False, "--watch", help="Keep running, every --interval."),
    interval: str = typer.Option(
        "5m", "--interval", metavar="DURATION", help="Time between --watch rounds (±10%)."
    ),
    default_issuer: str = typer.Option(
        None,
        "--default-issuer",
        metavar="NAME",
        help='Issuer for Ingresses with kubernetes.io/tls-acme: "true".',
    ),
    default_issuer_kind: str = typer.Option(
        "Issuer", "--default-issuer-kind", metavar="KIND", help="Kind of --default-issuer."
    ),
    output: str = typer.Option(
        "table", "-o", "--output", metavar="FORMAT", help="table, wide, json or yaml."
    ),
) -> None:
    """Reconcile everything: Certificates, annotated Ingresses, and (--prune) leftovers."""
    from certctl.api.duration import parse_go_duration
    from certctl.errors import UsageError

    check_output_format(output)
    app = get_app(ctx)
    app.take_over_secrets = force
    if not filename and not from_cluster:
        raise UsageError(
            "sync needs manifests", hint="Pass -f PATH, or --from-cluster with --store kubernetes"
        )
    try:
        pause = parse_go_duration(interval).total_seconds()
    except ValueError as exc:
        raise UsageError(f"--interval {interval!r} is not a duration: {exc}") from exc
    from certctl.engine.sync import source_set

    # What this run reads its Certificates from: prune looks wherever it wrote before.
    sources = source_set(
        filename or [], ("*" if all_namespaces else namespace) if from_cluster else None
    )
    stop = threading.Event()
    while True:
        started = time.monotonic()
        refresh = getattr(app.store, "refresh", None)
        if refresh is not None:
            # Each --watch round reads the store afresh: someone may have deleted a Secret.
            refresh()
        manifests = _manifests(
            app,
            filename,
            namespace,
            all_namespaces,
            from_cluster,
            default_issuer,
            default_issuer_kind,
        )
        report = _sync_once(
            app, manifests, namespace, all_namespaces, prune, force, dry_run, sources
        )
        _render(app, report, output, time.monotonic() - started)
        if not watch:
            if report.exit_code:
                raise typer.Exit(report.exit_code)
            return
        # Jitter keeps a fleet of watchers from hitting the CA at the same second.
        stop.wait(pause * random.uniform(0.9, 1.1))


def _manifests(
    app: AppContext,
    filename: list[str] | None,
    namespace: str,
    all_namespaces: bool,
    from_cluster: bool,
    default_issuer: str | None,
    default_issuer_kind: str,
) -> ManifestSet:
    from certctl.api.ingress import derive_certificates, ingress_from_cluster, merge_with_shim
    from certctl.api.models import IssuerRef, ManifestSet
    from certctl.errors import UsageError

    manifests = app.load(filename, namespace) if filename else ManifestSet()
    ingresses = list(manifests.ingresses)
    if from_cluster:
        list_ingresses = getattr(app.store, "list_ingresses", None)
        if list_ingresses is None:
            raise UsageError(
                "--from-cluster reads Ingresses from Kubernetes, so it needs --store kubernetes",
                hint="Add --store kubernetes (with --kubeconfig/--context), or pass the "
                "Ingress manifests with -f",
            )
        cluster = app.store.description
        ingresses += [
            ingress_from_cluster(item, cluster)
            for item in list_ingresses(None if all_namespaces else namespace)
        ]
    issuer = IssuerRef(default_issuer, kind=default_issuer_kind) if default_issuer else None
    return merge_with_shim(manifests, derive_certificates(ingresses, default_issuer=issuer))


def _sync_once(
    app: AppContext,
    manifests: ManifestSet,
    namespace: str,
    all_namespaces: bool,
    prune: bool,
    force: bool,
    dry_run: bool,
    sources: str,
) -> SyncReport:
    from certctl.engine.reconcile import ReconcileOptions
    from certctl.engine.sync import SyncOptions, sync

    scope = (
        None
        if all_namespaces
        else frozenset({namespace, *(c.namespace for c in manifests.certificates)})
    )
    options = SyncOptions(
        reconcile=ReconcileOptions(
            force=force,
            dry_run=dry_run,
            concurrency=app.concurrency,
            cluster_resource_namespace=app.cluster_resource_namespace,
            acme=app.acme_settings(),
        ),
        prune=prune,
        prune_namespaces=scope,
        source_set=sources,
    )
    store = app.store
    prefetch = getattr(store, "prefetch", None)
    if prefetch is not None:
        # One list per namespace instead of one read per Secret.
        prefetch({c.namespace for c in manifests.certificates})
    lock_timeout = app.lock_timeout_delta()
    return sync(
        manifests,
        store,
        app.state,
        app.clock,
        options,
        progress_printer(app),
        lock=lambda: store.lock(lock_timeout),
    )


def _render(app: AppContext, report: SyncReport, output: str, seconds: float) -> None:
    if output in ("json", "yaml"):
        stream = sys.stderr if getattr(app.store, "writes_to_stdout", False) else sys.stdout
        print_data(
            {
                "results": [result.to_json() for result in report.reconciled.results],
                "pruned": [item.to_json() for item in report.pruned],
            },
            output,
            stream,
        )
    else:
        render_report(
            app,
            "sync",
            report.reconciled,
            "table" if output == "table" else output,
            seconds,
            show_all=True,
        )
        if report.pruned:
            print_table(
                ["NAMESPACE", "SECRET", "CERTIFICATE", "PRUNE"],
                [[p.namespace, p.name, p.certificate, p.outcome] for p in report.pruned],
            )
    for item in report.pruned:
        if item.error:
            app.warn(f"{item.namespace}/{item.name}: prune failed: {item.error}")
