"""``validate``: schema and semantic validation of manifests, changing nothing."""

from __future__ import annotations

from collections import Counter

import typer

from certctl.cli.context import get_app, handles_errors
from certctl.cli.render import check_output_format, format_count, print_data


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)


@handles_errors
def validate_command(
    ctx: typer.Context,
    filename: list[str] = typer.Option(
        None,
        "-f",
        "--filename",
        metavar="PATH",
        help="Manifest file or directory (repeatable; - for stdin).",
    ),
    namespace: str = typer.Option(
        "default",
        "-n",
        "--namespace",
        metavar="NAMESPACE",
        help="Namespace for manifests without one.",
    ),
    output: str = typer.Option(
        "table", "-o", "--output", metavar="FORMAT", help="table, json or yaml."
    ),
) -> None:
    """Validate manifests as cert-manager's webhook would; exit 2 on any error."""
    check_output_format(output, ("table", "json", "yaml"))
    application = get_app(ctx)
    from certctl.api.ingress import derive_certificates

    manifests = application.load(filename, namespace)
    # Ingress annotations are checked as ingress-shim reads them (sync and convert would
    # refuse the same mistakes).
    shim = derive_certificates(manifests.ingresses)
    if shim.problems:
        from certctl.errors import ManifestError

        raise ManifestError(list(shim.problems))
    warnings = []
    for certificate in manifests.certificates:
        if manifests.find_issuer(certificate.spec.issuer_ref, certificate.namespace) is None:
            warnings.append(
                f"{certificate.source}: Certificate {certificate.key} refers to "
                f"{certificate.spec.issuer_ref}, which is not among these manifests "
                "(issue will need it)"
            )
    ignored = Counter(document.kind for document in manifests.ignored)
    if output in ("json", "yaml"):
        print_data(
            {
                "valid": True,
                "certificates": [c.key for c in manifests.certificates],
                "issuers": [i.key for i in manifests.issuers],
                "ignored": [
                    {"kind": d.kind, "name": d.name, "source": str(d.source)}
                    for d in manifests.ignored
                ],
                "warnings": warnings,
            },
            output,
        )
    else:
        issuers = sum(1 for issuer in manifests.issuers if not issuer.cluster_scoped)
        cluster_issuers = len(manifests.issuers) - issuers
        summary = (
            f"Valid: {format_count(len(manifests.certificates), 'Certificate')}, "
            f"{format_count(issuers, 'Issuer')}, {format_count(cluster_issuers, 'ClusterIssuer')}"
        )
        if shim.certificates:
            derived = format_count(len(shim.certificates), "Certificate")
            summary += f"; {derived} from Ingress annotations"
        if ignored:
            summary += "; ignored: " + ", ".join(
                format_count(n, kind) for kind, n in sorted(ignored.items())
            )
        typer.echo(summary + ".")
    for warning in warnings:
        application.warn(f"Warning: {warning}")
