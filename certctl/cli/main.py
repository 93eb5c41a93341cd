"""The certctl command line: global options and command registration.

Command modules import only Typer at load time; the library is imported inside
each command, so ``certctl --help`` stays as fast as a bare Typer app.
"""

from __future__ import annotations

from pathlib import Path

import typer

from certctl import __version__
from certctl.cli import acme, convert, describe, get, inject, inspect, reconcile, sync, validate
from certctl.cli.context import AppContext, default_state_dir
from certctl.cli.typerapp import CertctlTyper

app = CertctlTyper(
    name="certctl",
    help=(
        "cert-manager's certificate lifecycle for every place a command can run: "
        "reads cert-manager.io/v1 manifests and keeps certificates issued and renewed."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"certctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    store: str = typer.Option(
        "dir:./certs",
        "--store",
        metavar="STORE",
        envvar="CERTCTL_STORE",
        help="Where secrets live: dir:PATH, kubernetes, manifest (stdout) or manifest:FILE.",
    ),
    state_dir: Path = typer.Option(
        None,
        "--state-dir",
        metavar="DIR",
        envvar="CERTCTL_STATE_DIR",
        help="SQLite history and backoff [default: $XDG_STATE_HOME/certctl].",
        show_default=False,
    ),
    kubeconfig: str = typer.Option(
        None,
        "--kubeconfig",
        metavar="FILE",
        envvar=["CERTCTL_KUBECONFIG", "KUBECONFIG"],
        help="Kubeconfig for --store kubernetes [default: ~/.kube/config, else in-cluster].",
        show_default=False,
    ),
    context: str = typer.Option(
        None,
        "--context",
        metavar="NAME",
        envvar="CERTCTL_CONTEXT",
        help="Kubeconfig context for --store kubernetes.",
    ),
    cluster_resource_namespace: str = typer.Option(
        "cert-manager",
        "--cluster-resource-namespace",
        metavar="NAMESPACE",
        envvar="CERTCTL_CLUSTER_RESOURCE_NAMESPACE",
        help="Namespace of ClusterIssuer secrets.",
    ),
    concurrency: int = typer.Option(
        8,
        "--concurrency",
        metavar="N",
        envvar="CERTCTL_CONCURRENCY",
        min=1,
        max=256,
        help="Certificates issued at once.",
    ),
    lock_timeout: str = typer.Option(
        "0s",
        "--lock-timeout",
        metavar="DURATION",
        envvar="CERTCTL_LOCK_TIMEOUT",
        help="How long to wait for another run's lock before exiting 3.",
    ),
    dns01_recursive_nameservers: str = typer.Option(
        "",
        "--dns01-recursive-nameservers",
        metavar="HOST:PORT,...",
        envvar="CERTCTL_DNS01_RECURSIVE_NAMESERVERS",
        help="Resolvers for DNS-01 zone lookup and checks [default: /etc/resolv.conf].",
        show_default=False,
    ),
    dns01_recursive_nameservers_only: bool = typer.Option(
        False,
        "--dns01-recursive-nameservers-only",
        envvar="CERTCTL_DNS01_RECURSIVE_NAMESERVERS_ONLY",
        help="Check DNS-01 propagation on those resolvers only, not on every authoritative "
        "nameserver.",
    ),
    acme_http01_solver_nameservers: str = typer.Option(
        "",
        "--acme-http01-solver-nameservers",
        metavar="HOST:PORT,...",
        envvar="CERTCTL_ACME_HTTP01_SOLVER_NAMESERVERS",
        help="Resolvers for the HTTP-01 self-check [default: the system resolver].",
        show_default=False,
    ),
    acme_http01_check_port: int = typer.Option(
        80,
        "--acme-http01-check-port",
        metavar="PORT",
        envvar="CERTCTL_ACME_HTTP01_CHECK_PORT",
        min=1,
        max=65535,
        help="Port of the HTTP-01 self-check; only lab CAs (Pebble's httpPort) use another.",
    ),
    dns01_authoritative_port: int = typer.Option(
        53,
        "--dns01-authoritative-port",
        metavar="PORT",
        envvar="CERTCTL_DNS01_AUTHORITATIVE_PORT",
        min=1,
        max=65535,
        help="Port authoritative nameservers are checked on; only lab setups use another.",
    ),
    acme_timeout: str = typer.Option(
        "2m",
        "--acme-timeout",
        metavar="DURATION",
        envvar="CERTCTL_ACME_TIMEOUT",
        help="How long self-checks, validation and finalization may take per order.",
    ),
    log_format: str = typer.Option(
        "text",
        "--log-format",
        metavar="FORMAT",
        envvar="CERTCTL_LOG_FORMAT",
        help="text or json (stderr).",
    ),
    verbose: int = typer.Option(
        0,
        "-v",
        "--verbose",
        count=True,
        envvar="CERTCTL_VERBOSE",
        help="More detail on stderr.",
    ),
    quiet: bool = typer.Option(
        False, "-q", "--quiet", envvar="CERTCTL_QUIET", help="Only errors on stderr."
    ),
    no_color: bool = typer.Option(
        False, "--no-color", envvar=["CERTCTL_NO_COLOR", "NO_COLOR"], help="No colours."
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="CERTCTL_DEBUG", help="Tracebacks with errors."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    if log_format not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    if not debug:
        _quiet_known_library_warnings()
    ctx.obj = AppContext(
        store_spec=store,
        kubeconfig=kubeconfig,
        kube_context=context,
        state_dir=state_dir or default_state_dir(),
        cluster_resource_namespace=cluster_resource_namespace,
        concurrency=concurrency,
        lock_timeout=lock_timeout,
        log_format=log_format,
        verbosity=-1 if quiet else verbose,
        color=not no_color,
        debug=debug,
        acme_options={
            "dns01_recursive_nameservers": dns01_recursive_nameservers,
            "dns01_recursive_nameservers_only": dns01_recursive_nameservers_only,
            "http01_solver_nameservers": acme_http01_solver_nameservers,
            "http01_self_check_port": acme_http01_check_port,
            "authoritative_dns_port": dns01_authoritative_port,
            "timeout": acme_timeout,
        },
    )


reconcile.register(app)
sync.register(app)
validate.register(app)
convert.register(app)
inject.register(app)
app.command("inspect")(inspect.inspect_command)
app.add_typer(get.app, name="get")
app.add_typer(describe.app, name="describe")
app.add_typer(acme.app, name="challenge")


def _quiet_known_library_warnings() -> None:
    """Keep cryptography's note on a subject attribute of the wrong length off stderr.

    cert-manager accepts ``subject.countries: [USA]`` and so does certctl, but
    cryptography warns each time such a name is read. ``--debug`` shows it.
    """
    import warnings

    warnings.filterwarnings("ignore", message="Attribute's length must be", category=UserWarning)


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM (a CronJob deadline, systemd stop) like Ctrl-C: finish cleanly, exit 130."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run() -> None:
    """The console script entry point."""
    _interrupt_on_sigterm()
    app()
