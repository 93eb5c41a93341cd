"""``inspect TARGET``: decode a file, a secret, a folder or a live endpoint and report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from certctl.cli.context import get_app, handles_errors
from certctl.cli.render import check_output_format, print_data

if TYPE_CHECKING:
    from certctl.inspection import CertificateReport, InspectionReport

# Field titles in the text report are padded to this width so values line up; the
# widest title is "  Extended key usages:" (22 characters).
_WIDTH = 24


@handles_errors
def inspect_command(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="A PEM/DER/PKCS#12 file, a secret folder, secret/NAME, or HOST:PORT "
            "([V6]:PORT). An existing path wins over HOST:PORT.",
            metavar="TARGET",
            show_default=False,
        ),
    ],
    namespace: Annotated[
        str,
        typer.Option("-n", "--namespace", metavar="NAMESPACE", help="Namespace for secret/NAME."),
    ] = "default",
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="FORMAT", help="text, json or yaml.")
    ] = "text",
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            metavar="PASSWORD",
            help="PKCS#12 or encrypted key password [default: empty].",
        ),
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(
            "--password-file", metavar="FILE", help="Read the password from this file (first line)."
        ),
    ] = None,
    servername: Annotated[
        str | None,
        typer.Option(
            "--servername",
            metavar="NAME",
            help="SNI for HOST:PORT [default: HOST unless it is an IP].",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            metavar="FILE",
            help="Verify the chain against the roots in this PEM file [default: ca.crt, "
            "else the system trust store].",
        ),
    ] = None,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout", metavar="DURATION", help="Connect and handshake timeout for HOST:PORT."
        ),
    ] = "10s",
) -> None:
    """Decode certificates and report names, validity, chain, key match and annotations."""
    # table and wide are the other commands' human formats; here they mean text.
    output = check_output_format(output, ("text", "table", "wide", "json", "yaml"))
    application = get_app(ctx)

    from certctl.inspection import InspectRequest, inspect_target

    request = InspectRequest(
        target=target,
        namespace=namespace,
        password=_password(password, password_file),
        server_name=servername or None,
        ca_file=ca_file,
        timeout=_timeout_seconds(timeout),
    )
    report = inspect_target(
        request, open_store=lambda: application.store, now=application.clock.now()
    )
    if output in ("text", "table", "wide"):
        typer.echo("\n".join(render_report(report)))
    else:
        print_data(report.to_dict(), output)
    for note in report.notes:
        application.warn(f"Warning: {note}")


def render_report(report: InspectionReport) -> list[str]:
    """The text report: aligned ``Title: value`` lines, one block per certificate."""
    lines = [_field("Target", report.target), _field("Kind", report.kind)]
    if report.format:
        lines.append(_field("Format", report.format))
    if report.secret_type:
        lines.append(_field("Type", report.secret_type))
    if report.kind in ("secret", "directory"):
        lines.append(_field("Data keys", ", ".join(report.data_keys) or "<none>"))
    if report.endpoint is not None:
        endpoint = report.endpoint
        sni = endpoint.server_name or "none (IP address)"
        lines.append(_field("Server name (SNI)", sni))
        if endpoint.tls_version:
            cipher = f", {endpoint.cipher}" if endpoint.cipher else ""
            lines.append(_field("Protocol", f"{endpoint.tls_version}{cipher}"))
        lines.append(_field("Chain read with", endpoint.method))
    total = len(report.certificates)
    for index, certificate in enumerate(report.certificates, start=1):
        lines.append("")
        lines.append(f"Certificate {index} of {total} ({certificate.role})")
        lines.extend(f"  {line}" for line in _certificate_lines(certificate))

    lines.append("")
    lines.append("Chain")
    chain = report.chain
    order = " -> ".join(_short_name(c) for c in report.certificates)
    lines.append("  " + _field("Order", order, _WIDTH - 2))
    if not chain.presented_in_order:
        lines.append("  " + _field("", "(not in this order as given)", _WIDTH - 2))
    verdict = "yes" if chain.verified else "NO"
    lines.append("  " + _field("Verified", f"{verdict}, against {chain.trusted_by}", _WIDTH - 2))
    if chain.problem:
        lines.append("  " + _field("Problem", chain.problem, _WIDTH - 2))
    if report.endpoint is not None:
        endpoint = report.endpoint
        name = endpoint.server_name or endpoint.host
        verdict = "matches" if endpoint.hostname_matches else "does NOT match"
        lines.append("  " + _field("Hostname", f"{name} {verdict} the leaf's SANs", _WIDTH - 2))

    lines.append("")
    if report.key_matches is None and report.private_key is None:
        if report.kind in ("secret", "directory"):
            lines.append(_field("Private key", "<none> (no tls.key)"))
    else:
        kind = report.private_key or "present but undecodable"
        verdict = (
            "matches the leaf certificate"
            if report.key_matches
            else "does NOT match the leaf certificate"
        )
        lines.append(_field("Private key", f"{kind}, {verdict}"))
    if report.kind in ("secret", "directory"):
        lines.extend(_mapping_lines("Annotations", report.annotations))
        lines.extend(_mapping_lines("Labels", report.labels))
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _certificate_lines(certificate: CertificateReport) -> list[str]:
    from certctl.cli.render import format_time

    info = certificate.info
    width = _WIDTH - 2
    lines = [_field("Subject", info.subject or "<empty>", width)]
    sans = [
        ("DNS names", info.dns_names),
        ("IP addresses", info.ip_addresses),
        ("URIs", info.uris),
        ("Email addresses", info.email_addresses),
    ]
    shown = [(title, values) for title, values in sans if values]
    if not shown and not certificate.info.is_ca:
        lines.append(_field("SANs", "<none>", width))
    lines.extend(_field(title, ", ".join(values), width) for title, values in shown)
    lines.append(_field("Issuer", info.issuer or "<empty>", width))
    lines.append(_field("Not before", format_time(info.not_before), width))
    lines.append(
        _field("Not after", f"{format_time(info.not_after)} ({certificate.time_left})", width)
    )
    lines.append(_field("Public key", info.public_key, width))
    lines.append(_field("Signature algorithm", info.signature_algorithm, width))
    lines.append(_field("Key usages", ", ".join(info.key_usages) or "<none>", width))
    if info.extended_key_usages:
        lines.append(_field("Extended key usages", ", ".join(info.extended_key_usages), width))
    lines.append(_field("Serial", info.serial, width))
    lines.append(_field("SHA-256", info.sha256_fingerprint, width))
    lines.append(_field("SHA-1", info.sha1_fingerprint, width))
    ca = "yes" if info.is_ca else "no"
    if info.self_signed:
        ca += " (self-signed)"
    lines.append(_field("CA", ca, width))
    return lines


def _field(title: str, value: str, width: int = _WIDTH) -> str:
    label = f"{title}:" if title else ""
    width = max(width, len(label) + 2)
    return f"{label:<{width}}{value}".rstrip()


def _mapping_lines(title: str, values: dict[str, str]) -> list[str]:
    """``key=value`` per line under one title, as ``kubectl describe`` shows labels."""
    if not values:
        return [_field(title, "<none>")]
    items = [f"{key}={value}" for key, value in sorted(values.items())]
    return [_field(title, items[0])] + [_field("", item) for item in items[1:]]


def _short_name(certificate: CertificateReport) -> str:
    info = certificate.info
    return info.common_name or info.subject or "<empty subject>"


def _password(password: str | None, password_file: Path | None) -> bytes | None:
    from certctl.errors import UsageError

    if password is not None and password_file is not None:
        raise UsageError(
            "--password and --password-file were both given",
            hint="Use one of them",
        )
    if password is not None:
        return password.encode()
    if password_file is None:
        return None
    try:
        data = password_file.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"Cannot read --password-file {password_file}: {exc.strerror or exc}",
            hint="Check the path and its permissions",
        ) from exc
    # Like openssl's file: source, the first line is the password; the newline is not.
    return data.splitlines()[0] if data else b""


def _timeout_seconds(text: str) -> float:
    from certctl.api.duration import parse_go_duration
    from certctl.errors import UsageError

    try:
        seconds = parse_go_duration(text).total_seconds()
    except ValueError as exc:
        raise UsageError(
            f"--timeout {text!r} is not a duration: {exc}",
            hint="Use a Go duration such as 10s or 1m",
        ) from exc
    if seconds <= 0:
        raise UsageError(f"--timeout {text!r} must be positive", hint="Use, say, 10s")
    return seconds
