"""``get certificates|issuers|clusterissuers|orders|challenges``: kubectl-style lists.

Certificates and issuers come from ``-f`` manifests joined with the store; ACME
Orders and Challenges come from the state history and need no manifests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from certctl.cli.acme_views import list_acme
from certctl.cli.context import AppContext, get_app, handles_errors
from certctl.cli.render import (
    check_output_format,
    format_age,
    format_time,
    list_document,
    print_data,
    print_listing,
)
from certctl.cli.typerapp import CertctlTyper

if TYPE_CHECKING:
    from certctl.api.models import ManifestSet
    from certctl.engine.status import CertificateView, IssuerView

app = CertctlTyper(
    help="List Certificates, Issuers, ClusterIssuers, Orders or Challenges with their status.",
    no_args_is_help=True,
)

FILENAME = typer.Option(
    None, "-f", "--filename", metavar="PATH", help="Manifest file or directory (repeatable)."
)
NAMESPACE = typer.Option(
    "default", "-n", "--namespace", metavar="NAMESPACE", help="Namespace to list."
)
ALL_NAMESPACES = typer.Option(False, "-A", "--all-namespaces", help="List every namespace.")
OUTPUT = typer.Option(
    "table", "-o", "--output", metavar="FORMAT", help="table, wide, json or yaml."
)


@app.command("certificates")
@handles_errors
def get_certificates(
    ctx: typer.Context,
    name: str = typer.Argument(None, metavar="NAME", help="Only this Certificate."),
    filename: list[str] = FILENAME,
    namespace: str = NAMESPACE,
    all_namespaces: bool = ALL_NAMESPACES,
    output: str = OUTPUT,
) -> None:
    """List Certificates (aliases: certificate, cert, certs)."""
    from certctl.engine.status import view_certificate

    check_output_format(output)
    application = get_app(ctx)
    manifests = application.load_certificates(filename, namespace)
    now = application.clock.now()
    views = [
        view_certificate(
            certificate,
            application.store,
            now,
            application.state,
            issuer=manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace),
        )
        for certificate in manifests.certificates
        if (all_namespaces or certificate.namespace == namespace)
        and (name is None or certificate.name == name)
    ]
    _not_found(name, "certificate", views)
    if output in ("json", "yaml"):
        print_data(list_document([_certificate_item(view) for view in views]), output)
        return
    headers = ["NAME", "READY", "SECRET", "ISSUER", "NOT AFTER", "RENEWAL", "AGE"]
    if output == "wide":
        headers.append("STATUS")
    rows = []
    for view in views:
        spec = view.certificate.spec
        row = [
            view.certificate.name,
            view.ready.status,
            spec.secret_name,
            spec.issuer_ref.name,
            format_time(view.info.not_after if view.info else None),
            format_time(view.renewal_time),
            format_age(now - view.info.not_before) if view.info else "<unknown>",
        ]
        if output == "wide":
            row.append(view.ready.message)
        rows.append(row)
    print_listing(
        headers, rows, views, all_namespaces, lambda v: v.certificate.namespace, namespace
    )


@app.command("issuers")
@handles_errors
def get_issuers(
    ctx: typer.Context,
    name: str = typer.Argument(None, metavar="NAME", help="Only this Issuer."),
    filename: list[str] = FILENAME,
    namespace: str = NAMESPACE,
    all_namespaces: bool = ALL_NAMESPACES,
    output: str = OUTPUT,
) -> None:
    """List Issuers (aliases: issuer, iss)."""
    _get_issuers(get_app(ctx), name, filename, namespace, all_namespaces, output, cluster=False)


@app.command("clusterissuers")
@handles_errors
def get_cluster_issuers(
    ctx: typer.Context,
    name: str = typer.Argument(None, metavar="NAME", help="Only this ClusterIssuer."),
    filename: list[str] = FILENAME,
    output: str = OUTPUT,
) -> None:
    """List ClusterIssuers (aliases: clusterissuer, ciss)."""
    _get_issuers(get_app(ctx), name, filename, "default", True, output, cluster=True)


def _get_issuers(
    application: AppContext,
    name: str | None,
    filename: list[str] | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
    *,
    cluster: bool,
) -> None:
    from certctl.engine.status import view_issuer

    check_output_format(output)
    manifests: ManifestSet = application.load(filename, namespace)
    views = [
        view_issuer(
            issuer, application.store, application.cluster_resource_namespace, application.state
        )
        for issuer in manifests.issuers
        if issuer.cluster_scoped == cluster
        and (cluster or all_namespaces or issuer.namespace == namespace)
        and (name is None or issuer.name == name)
    ]
    _not_found(name, "clusterissuer" if cluster else "issuer", views)
    if output in ("json", "yaml"):
        print_data(list_document([_issuer_item(view) for view in views]), output)
        return
    headers = ["NAME", "TYPE", "READY"]
    if output == "wide":
        headers.extend(["REASON", "STATUS"])
    rows = []
    for view in views:
        row = [view.issuer.name, view.issuer.spec.type, view.ready.status]
        if output == "wide":
            row.extend([view.ready.reason, view.ready.message])
        rows.append(row)
    print_listing(
        headers,
        rows,
        views,
        all_namespaces and not cluster,
        lambda v: v.issuer.namespace or "",
        namespace,
    )


@app.command("orders")
@handles_errors
def get_orders(
    ctx: typer.Context,
    name: str = typer.Argument(None, metavar="NAME", help="Only this Order."),
    namespace: str = NAMESPACE,
    all_namespaces: bool = ALL_NAMESPACES,
    output: str = OUTPUT,
) -> None:
    """List the ACME Orders recorded in the state (alias: order)."""
    list_acme(get_app(ctx), "Order", name, namespace, all_namespaces, output)


@app.command("challenges")
@handles_errors
def get_challenges(
    ctx: typer.Context,
    name: str = typer.Argument(None, metavar="NAME", help="Only this Challenge."),
    namespace: str = NAMESPACE,
    all_namespaces: bool = ALL_NAMESPACES,
    output: str = OUTPUT,
) -> None:
    """List the ACME Challenges recorded in the state (alias: challenge)."""
    list_acme(get_app(ctx), "Challenge", name, namespace, all_namespaces, output)


def _not_found(name: str | None, kind: str, views: list[Any]) -> None:
    if name is not None and not views:
        from certctl.errors import UsageError

        raise UsageError(
            f'{kind} "{name}" not found in the given manifests',
            hint="Check the name, the namespace (-n) and the files given with -f",
        )


def _certificate_item(view: CertificateView) -> dict[str, Any]:
    raw = dict(view.certificate.raw)
    metadata = dict(raw.get("metadata") or {})
    metadata["namespace"] = view.certificate.namespace
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata,
        "spec": raw.get("spec", {}),
        "status": view.status_json(),
    }


def _issuer_item(view: IssuerView) -> dict[str, Any]:
    raw = dict(view.issuer.raw)
    metadata = dict(raw.get("metadata") or {})
    if view.issuer.namespace:
        metadata["namespace"] = view.issuer.namespace
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": view.issuer.kind,
        "metadata": metadata,
        "spec": raw.get("spec", {}),
        "status": view.status_json(),
    }


# kubectl's short names and singular forms, hidden from --help.
for _alias in ("certificate", "cert", "certs"):
    app.command(_alias, hidden=True)(get_certificates)
for _alias in ("issuer", "iss"):
    app.command(_alias, hidden=True)(get_issuers)
for _alias in ("clusterissuer", "ciss"):
    app.command(_alias, hidden=True)(get_cluster_issuers)
app.command("order", hidden=True)(get_orders)
app.command("challenge", hidden=True)(get_challenges)
