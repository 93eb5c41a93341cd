"""``convert``: print the Certificates cert-manager's ingress-shim would derive from Ingresses."""

from __future__ import annotations

import typer

from certctl.cli.context import get_app, handles_errors
from certctl.cli.render import check_output_format, format_count


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_command)


@handles_errors
def convert_command(
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
        help="Namespace for Ingresses without one.",
    ),
    output: str = typer.Option(
        "yaml", "-o", "--output", metavar="FORMAT", help="yaml (a document stream) or json."
    ),
    default_issuer: str = typer.Option(
        "",
        "--default-issuer",
        "--default-issuer-name",
        metavar="NAME",
        help="Issuer for Ingresses with only kubernetes.io/tls-acme (as --default-issuer-name).",
    ),
    default_issuer_kind: str = typer.Option(
        "Issuer", "--default-issuer-kind", metavar="KIND", help="Kind of the default issuer."
    ),
    default_issuer_group: str = typer.Option(
        "cert-manager.io",
        "--default-issuer-group",
        metavar="GROUP",
        help="API group of the default issuer.",
    ),
    auto_certificate_annotations: str = typer.Option(
        "kubernetes.io/tls-acme",
        "--auto-certificate-annotations",
        metavar="KEY,...",
        help="Annotations that ask for a Certificate from the default issuer when true.",
    ),
    extra_certificate_annotations: str = typer.Option(
        "",
        "--extra-certificate-annotations",
        metavar="KEY,...",
        help="Ingress annotations copied onto the Certificates as they are.",
        show_default=False,
    ),
) -> None:
    """Print the Certificates ingress-shim derives from Ingress annotations (kubectl-apply-able)."""
    from certctl.api.ingress import derive_certificates, manifests_for_apply, merge_with_shim
    from certctl.api.models import IssuerRef

    check_output_format(output, ("yaml", "json"))
    application = get_app(ctx)
    manifests = application.load(filename, namespace)
    result = derive_certificates(
        manifests.ingresses,
        default_issuer=IssuerRef(default_issuer, default_issuer_kind, default_issuer_group)
        if default_issuer
        else None,
        auto_certificate_annotations=_keys(auto_certificate_annotations),
        extra_certificate_annotations=_keys(extra_certificate_annotations),
    )
    for note in result.skipped:
        application.info(f"Skipped: {note}")
    # Refuses problems and clashes with Certificates in the same manifests, as sync would.
    merge_with_shim(manifests, result)
    documents, notes = manifests_for_apply(result.certificates)
    for note in notes:
        application.info(f"Note: {note}")
    if not documents:
        read = format_count(len(manifests.ingresses), "Ingress")
        application.info(
            f"Nothing to convert: {read} read, none asks ingress-shim for a Certificate."
        )
        return
    _print(documents, output)


def _keys(text: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in text.split(",") if key.strip())


def _print(documents: list[dict[str, object]], output: str) -> None:
    import sys

    if output == "json":
        import json

        listing = {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": documents,
        }
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return
    import yaml

    sys.stdout.write(
        yaml.safe_dump_all(
            documents,
            explicit_start=True,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
        )
    )
