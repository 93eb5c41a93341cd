"""``describe certificate|issuer|clusterissuer|order|challenge NAME``: kubectl-describe views.

Certificates and issuers come from ``-f`` manifests; ACME Orders and Challenges from
the state history (their views are in ``acme_views.py``).
"""

from __future__ import annotations

import typer

from certctl.cli.acme_views import describe_acme
from certctl.cli.context import get_app, handles_errors
from certctl.cli.render import describe_lines, event_lines, header_lines
from certctl.cli.typerapp import CertctlTyper

app = CertctlTyper(
    help="Show one Certificate, Issuer, ClusterIssuer, Order or Challenge in detail, with its "
    "events.",
    no_args_is_help=True,
)

FILENAME = typer.Option(
    None, "-f", "--filename", metavar="PATH", help="Manifest file or directory (repeatable)."
)
NAMESPACE = typer.Option(
    "default", "-n", "--namespace", metavar="NAMESPACE", help="Namespace of the object."
)


@app.command("certificate")
@handles_errors
def describe_certificate(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Certificate name."),
    filename: list[str] = FILENAME,
    namespace: str = NAMESPACE,
) -> None:
    """Describe a Certificate: spec, status, the issued certificate, and events."""
    from certctl.engine.status import view_certificate

    application = get_app(ctx)
    manifests = application.load_certificates(filename, namespace)
    matches = [c for c in manifests.certificates if c.name == name and c.namespace == namespace]
    if not matches:
        _not_found("certificate", name, namespace)
    certificate = matches[0]
    now = application.clock.now()
    view = view_certificate(
        certificate,
        application.store,
        now,
        application.state,
        issuer=manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace),
    )
    lines = header_lines(
        certificate.metadata.name,
        certificate.namespace,
        certificate.raw.get("metadata") or {},
        "Certificate",
        extra=[("Source:", str(certificate.source))],
    )
    lines.append("Spec:")
    lines.extend(describe_lines(certificate.raw.get("spec", {}), 1))
    lines.append("Status:")
    lines.extend(describe_lines(view.status_json(), 1))
    if view.info is not None:
        info = view.info
        lines.append("Issued Certificate:")
        lines.extend(
            describe_lines(
                {
                    "subject": info.subject or "<empty>",
                    "issuer": info.issuer,
                    "serial": info.serial,
                    "dnsNames": list(info.dns_names),
                    "ipAddresses": list(info.ip_addresses),
                    "notBefore": info.not_before.isoformat(),
                    "notAfter": info.not_after.isoformat(),
                    "publicKey": info.public_key,
                    "fingerprintSha256": info.sha256_fingerprint,
                },
                1,
            )
        )
    lines.extend(event_lines(view.events, now))
    typer.echo("\n".join(lines))


@app.command("issuer")
@handles_errors
def describe_issuer(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Issuer name."),
    filename: list[str] = FILENAME,
    namespace: str = NAMESPACE,
) -> None:
    """Describe an Issuer: spec, readiness, and events."""
    _describe_issuer(ctx, name, filename, namespace, cluster=False)


@app.command("clusterissuer")
@handles_errors
def describe_cluster_issuer(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="ClusterIssuer name."),
    filename: list[str] = FILENAME,
) -> None:
    """Describe a ClusterIssuer: spec, readiness, and events."""
    _describe_issuer(ctx, name, filename, "default", cluster=True)


def _describe_issuer(
    ctx: typer.Context, name: str, filename: list[str] | None, namespace: str, *, cluster: bool
) -> None:
    from certctl.engine.status import view_issuer

    application = get_app(ctx)
    manifests = application.load(filename, namespace)
    matches = [
        issuer
        for issuer in manifests.issuers
        if issuer.name == name
        and issuer.cluster_scoped == cluster
        and (cluster or issuer.namespace == namespace)
    ]
    if not matches:
        _not_found("clusterissuer" if cluster else "issuer", name, None if cluster else namespace)
    issuer = matches[0]
    view = view_issuer(
        issuer, application.store, application.cluster_resource_namespace, application.state
    )
    lines = header_lines(
        issuer.name,
        issuer.namespace,
        issuer.raw.get("metadata") or {},
        issuer.kind,
        extra=[("Source:", str(issuer.source))],
    )
    lines.append("Spec:")
    lines.extend(describe_lines(issuer.raw.get("spec", {}), 1))
    lines.append("Status:")
    lines.extend(describe_lines(view.status_json(), 1))
    lines.extend(event_lines(view.events, application.clock.now()))
    typer.echo("\n".join(lines))


@app.command("order")
@handles_errors
def describe_order(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Order name."),
    namespace: str = NAMESPACE,
) -> None:
    """Describe a recorded ACME Order: identifiers, authorizations, state, and events."""
    describe_acme(get_app(ctx), "Order", name, namespace)


@app.command("challenge")
@handles_errors
def describe_challenge(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="Challenge name."),
    namespace: str = NAMESPACE,
) -> None:
    """Describe a recorded ACME Challenge: solver, token, state, reason, and events."""
    describe_acme(get_app(ctx), "Challenge", name, namespace)


def _not_found(kind: str, name: str, namespace: str | None) -> None:
    from certctl.errors import UsageError

    where = f" in namespace {namespace}" if namespace else ""
    raise UsageError(
        f'{kind} "{name}" not found{where} in the given manifests',
        hint="Check the name, the namespace (-n) and the files given with -f",
    )


for _alias in ("certificates", "cert", "certs"):
    app.command(_alias, hidden=True)(describe_certificate)
for _alias in ("issuers", "iss"):
    app.command(_alias, hidden=True)(describe_issuer)
for _alias in ("clusterissuers", "ciss"):
    app.command(_alias, hidden=True)(describe_cluster_issuer)
app.command("orders", hidden=True)(describe_order)
app.command("challenges", hidden=True)(describe_challenge)
