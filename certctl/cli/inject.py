"""``inject``: cert-manager's cainjector, for manifests (``-f``) or the cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from certctl.cli.context import exit_with, get_app, handles_errors
from certctl.cli.render import check_output_format, format_count

if TYPE_CHECKING:
    from collections.abc import Mapping

    from certctl.cli.context import AppContext
    from certctl.engine.inject import InjectionOutcome


def register(app: typer.Typer) -> None:
    app.command("inject")(inject_command)


@handles_errors
def inject_command(
    ctx: typer.Context,
    filename: list[str] = typer.Option(
        None,
        "-f",
        "--filename",
        metavar="PATH",
        help="Manifests with the objects to inject into and the Certificates they name "
        "(repeatable; - for stdin). With --from-cluster, only their Certificates are used.",
    ),
    namespace: str = typer.Option(
        "default",
        "-n",
        "--namespace",
        metavar="NAMESPACE",
        help="Namespace for Certificates without one.",
    ),
    output: str = typer.Option(
        "",
        "-o",
        "--output",
        metavar="FORMAT",
        help="yaml, json or name [default: yaml with -f, name with --from-cluster].",
        show_default=False,
    ),
    from_cluster: bool = typer.Option(
        False,
        "--from-cluster",
        help="Patch the webhook configurations, APIServices and CRDs in the cluster "
        "(needs --store kubernetes).",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="With --from-cluster: print what would change, patch nothing."
    ),
) -> None:
    """Fill caBundle fields from cert-manager.io/inject-ca-from* annotations (the cainjector).

    Reads webhook configurations, APIServices and CRDs with conversion webhooks, and
    sets their caBundle from the annotated Certificate's Secret, a Secret that allows
    direct injection, or the API server's CA. Files are never rewritten: the injected
    objects are printed, or with --from-cluster patched in place.
    """
    from certctl.engine.inject import ClusterReader, StoreCALookup, inject_objects
    from certctl.errors import EXIT_CERTIFICATE_FAILED, UsageError

    application = get_app(ctx)
    output = check_output_format(output or ("name" if from_cluster else "yaml"), _FORMATS)
    if dry_run and not from_cluster:
        raise UsageError(
            "--dry-run only applies with --from-cluster",
            hint="Without --from-cluster nothing is changed: the objects are only printed",
        )
    if from_cluster and not application.store_spec.strip().startswith("kubernetes"):
        raise UsageError(
            f"--from-cluster needs --store kubernetes, not --store {application.store_spec}",
            hint="Run certctl --store kubernetes inject --from-cluster, or inject into "
            "manifests with -f",
        )
    manifests = application.load(filename, namespace) if filename or not from_cluster else None
    store = application.store
    lookup = StoreCALookup(
        store,
        certificates={
            (certificate.namespace, certificate.name): certificate.spec.secret_name
            for certificate in (manifests.certificates if manifests else ())
        },
        cluster=store if isinstance(store, ClusterReader) else None,
    )
    objects: list[Mapping[str, Any]]
    if from_cluster:
        objects = _cluster_objects(application)
    else:
        assert manifests is not None
        objects = [document.raw for document in manifests.ignored if document.raw]
    outcomes = inject_objects(objects, lookup, application.clock.now())
    if from_cluster and not dry_run:
        outcomes = _patch(application, outcomes)
    failed = _report(application, outcomes, from_cluster=from_cluster, dry_run=dry_run)
    _print(outcomes, output, from_cluster=from_cluster, dry_run=dry_run)
    exit_with(EXIT_CERTIFICATE_FAILED if failed else 0)


_FORMATS = ("yaml", "json", "name")


def _cluster_objects(application: AppContext) -> list[Mapping[str, Any]]:
    from certctl.engine.inject import TARGET_KINDS

    store: Any = application.store
    return [item for target in TARGET_KINDS for item in store.list_injectables(target.plural)]


def _patch(application: AppContext, outcomes: list[InjectionOutcome]) -> list[InjectionOutcome]:
    """Send each change as a JSON patch; a refused patch fails that object only."""
    import dataclasses

    from certctl.errors import StoreError

    store: Any = application.store
    done: list[InjectionOutcome] = []
    for outcome in outcomes:
        if outcome.status == "injected":
            try:
                store.patch_injectable(outcome.target.plural, outcome.name, list(outcome.patch))
            except StoreError as error:
                # Gone (404), changed meanwhile (409) or refused (422): that object only.
                # Anything else (RBAC, an unreachable API) stops the run with exit 3.
                if any(f"({status})" in error.message for status in (404, 409, 422)):
                    outcome = dataclasses.replace(
                        outcome, status="failed", message=error.message, error=error
                    )
                else:
                    raise
        done.append(outcome)
    return done


def _report(
    application: AppContext,
    outcomes: list[InjectionOutcome],
    *,
    from_cluster: bool,
    dry_run: bool,
) -> int:
    """One line per object on stderr (skipped ones with -v); returns how many failed."""
    counts = {"injected": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    for outcome in outcomes:
        counts[outcome.status] += 1
        if outcome.status == "failed":
            assert outcome.error is not None
            application.warn(f"{outcome.label}: {outcome.error.paragraph()}")
        elif outcome.status == "skipped":
            application.detail(f"{outcome.label}: skipped: {outcome.message}.")
        elif outcome.status == "injected":
            verb = "would inject" if dry_run else "injected"
            application.info(f"{outcome.label}: {verb} {outcome.message}.")
        else:
            application.info(f"{outcome.label}: unchanged: {outcome.message}.")
    where = "in the cluster" if from_cluster else "in the manifests"
    if not outcomes:
        application.info(f"Nothing to inject: no webhook configuration, APIService or CRD {where}.")
    else:
        changed = "would change" if dry_run else ("patched" if from_cluster else "injected")
        objects = format_count(len(outcomes), "object")
        application.info(
            f"inject: {objects} {where}: {counts['injected']} {changed}, "
            f"{counts['unchanged']} unchanged, {counts['skipped']} skipped, "
            f"{counts['failed']} failed."
        )
    return counts["failed"]


def _print(
    outcomes: list[InjectionOutcome], output: str, *, from_cluster: bool, dry_run: bool
) -> None:
    import sys

    done = [o for o in outcomes if o.status in ("injected", "unchanged") and o.patched]
    if output == "name":
        for outcome in done:
            state = "unchanged"
            if outcome.status == "injected":
                state = (
                    "patched (dry run)" if dry_run else "patched" if from_cluster else "injected"
                )
            sys.stdout.write(f"{outcome.target.resource}/{outcome.name} {state}\n")
        return
    documents = [_clean(dict(o.patched or {}), from_cluster=from_cluster) for o in done]
    if not documents:
        return
    if output == "json":
        import json

        listing = {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": documents,
        }
        sys.stdout.write(json.dumps(listing, indent=2, default=str) + "\n")
        return
    import yaml

    sys.stdout.write(
        yaml.safe_dump_all(
            documents,
            explicit_start=True,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 16,  # a caBundle stays on one line, as kubectl prints it
        )
    )


def _clean(document: dict[str, Any], *, from_cluster: bool) -> dict[str, Any]:
    """An object from the cluster without its managedFields, as kubectl get -o yaml shows it."""
    if from_cluster and isinstance(document.get("metadata"), dict):
        document["metadata"] = {
            key: value for key, value in document["metadata"].items() if key != "managedFields"
        }
    return document
