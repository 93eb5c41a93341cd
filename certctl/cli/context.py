"""The one application context every command receives, and the single error exit path."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from certctl.errors import (
    EXIT_CERTIFICATE_FAILED,
    EXIT_INTERRUPTED,
    CertctlError,
)

if TYPE_CHECKING:
    import datetime as dt

    from rich.console import Console

    from certctl.acme.settings import ACMESettings
    from certctl.api.models import ManifestSet
    from certctl.clock import Clock
    from certctl.state.database import StateDatabase
    from certctl.stores.base import SecretStore

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("certctl")


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "certctl"


@dataclass
class AppContext:
    """Global options, parsed once, plus lazily opened store and state."""

    store_spec: str = "dir:./certs"
    state_dir: Path = field(default_factory=default_state_dir)
    cluster_resource_namespace: str = "cert-manager"
    concurrency: int = 8
    lock_timeout: str = "0s"
    log_format: str = "text"
    verbosity: int = 0
    color: bool = True
    debug: bool = False
    kubeconfig: str | None = None
    kube_context: str | None = None
    #: Set by commands given --force: the Kubernetes store may take over foreign Secrets.
    take_over_secrets: bool = False
    #: The ACME global options as given; ``acme_settings`` parses them when needed.
    acme_options: dict[str, Any] = field(default_factory=dict)
    _store: SecretStore | None = None
    _state: StateDatabase | None = None
    _clock: Clock | None = None
    _stderr: Console | None = None

    # -- shared resources -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            from certctl.clock import SystemClock

            self._clock = SystemClock()
        return self._clock

    @property
    def store(self) -> SecretStore:
        if self._store is None:
            from certctl.stores.registry import open_store

            self._store = open_store(
                self.store_spec,
                kubeconfig=self.kubeconfig,
                context=self.kube_context,
                cluster_resource_namespace=self.cluster_resource_namespace,
                force=self.take_over_secrets,
            )
        return self._store

    @property
    def state(self) -> StateDatabase:
        if self._state is None:
            from certctl.state.database import StateDatabase

            # The state is kept per store: two stores sharing a state dir never mix history.
            store = self.store
            identity = getattr(store, "identity", None) or store.description
            self._state = StateDatabase.open(self.state_dir, self.clock, store=identity)
        return self._state

    def lock_timeout_delta(self) -> dt.timedelta:
        from certctl.api.duration import parse_go_duration
        from certctl.errors import UsageError

        try:
            timeout = parse_go_duration(self.lock_timeout)
            if timeout.total_seconds() < 0:
                raise ValueError("a lock timeout cannot be negative")
            return timeout
        except ValueError as exc:
            raise UsageError(
                f"--lock-timeout {self.lock_timeout!r} is not a duration: {exc}",
                hint="Use a Go duration such as 30s, 5m or 1h",
            ) from exc

    def acme_settings(self) -> ACMESettings:
        """Parse the ACME options (only commands that can reach an ACME server need them)."""
        from certctl.acme.settings import ACMESettings, parse_nameservers
        from certctl.api.duration import parse_go_duration
        from certctl.errors import UsageError

        options = self.acme_options
        try:
            recursive = parse_nameservers(options.get("dns01_recursive_nameservers", ""))
            http_resolvers = parse_nameservers(options.get("http01_solver_nameservers", ""))
        except ValueError as exc:
            raise UsageError(
                f"A nameserver option is malformed: {exc}",
                hint="Write nameservers as HOST:PORT,HOST:PORT (IPv6 as [::1]:53)",
            ) from exc
        try:
            timeout = parse_go_duration(str(options.get("timeout", "2m")))
        except ValueError as exc:
            raise UsageError(
                f"--acme-timeout is not a duration: {exc}",
                hint="Use a Go duration such as 90s or 5m",
            ) from exc
        return ACMESettings(
            dns01_recursive_nameservers=recursive,
            dns01_recursive_nameservers_only=bool(
                options.get("dns01_recursive_nameservers_only", False)
            ),
            http01_solver_nameservers=http_resolvers,
            authoritative_dns_port=int(options.get("authoritative_dns_port", 53)),
            http01_self_check_port=int(options.get("http01_self_check_port", 80)),
            self_check_timeout=timeout,
            validation_timeout=timeout,
        )

    def load(self, paths: list[str] | None, namespace: str) -> ManifestSet:
        from certctl.api.loader import load_manifests
        from certctl.errors import UsageError

        if not paths:
            raise UsageError(
                "No manifests given",
                hint="Pass one or more files or directories with -f (use -f - for stdin)",
            )
        return load_manifests(paths, default_namespace=namespace)

    def load_certificates(self, paths: list[str] | None, namespace: str) -> ManifestSet:
        """``load``, plus the Certificates ingress-shim derives from annotated Ingresses.

        Every command that acts on Certificates loads through this, so that ``issue``,
        ``renew``, ``get`` and ``describe`` see what ``validate`` and ``sync`` see.
        """
        from certctl.api.ingress import with_ingress_certificates

        return with_ingress_certificates(self.load(paths, namespace))

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None

    # -- output ---------------------------------------------------------------------------

    @property
    def stderr(self) -> Console:
        if self._stderr is None:
            from rich.console import Console

            self._stderr = Console(
                stderr=True, no_color=not self.color, highlight=False, soft_wrap=True
            )
        return self._stderr

    def info(self, message: str) -> None:
        """A progress line on stderr, unless -q."""
        if self.verbosity >= 0:
            self._emit("info", message)

    def detail(self, message: str) -> None:
        """A line shown only with -v."""
        if self.verbosity >= 1:
            self._emit("debug", message)

    def warn(self, message: str) -> None:
        self._emit("warning", message, style="yellow")

    def _emit(self, level: str, message: str, style: str = "") -> None:
        if self.log_format == "json":
            import json

            from certctl.engine.policies import format_rfc3339

            record = {"time": format_rfc3339(self.clock.now()), "level": level, "msg": message}
            sys.stderr.write(json.dumps(record) + "\n")
            return
        if not (self.color and sys.stderr.isatty()):
            # cron and CI: plain lines, and no Rich import on the path that runs most often.
            sys.stderr.write(message + "\n")
            return
        self.stderr.print(message, style=style or None, markup=False)

    def fail(self, error: BaseException) -> typer.Exit:
        """Render an error as one paragraph on stderr and return the Exit to raise."""
        if isinstance(error, KeyboardInterrupt):
            self._emit("error", "Interrupted; anything half-written was left as it was before.")
            return typer.Exit(EXIT_INTERRUPTED)
        if isinstance(error, CertctlError):
            text, code = error.paragraph(), error.exit_code
        else:
            text = (
                f"certctl hit an internal error: {type(error).__name__}: {error}. "
                "Nothing was left half-written. Run again with --debug for the traceback "
                "and report it."
            )
            code = EXIT_CERTIFICATE_FAILED
        if self.debug:
            import traceback

            sys.stderr.write("".join(traceback.format_exception(error)))
        if self.log_format == "json":
            self._emit("error", text)
        else:
            self._emit("error", f"Error: {text}", style="red")
        return typer.Exit(code)


def get_app(ctx: Any) -> AppContext:
    app = ctx.find_root().obj
    if not isinstance(app, AppContext):
        app = AppContext()
        ctx.find_root().obj = app
    return app


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """The single exit path: every command is wrapped so errors end as one paragraph."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = kwargs.get("ctx")
        # Typer hands commands its own Click context class, which typer.Context subclasses,
        # so duck-type rather than isinstance.
        app = get_app(ctx) if hasattr(ctx, "find_root") else AppContext()
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            raise app.fail(exc) from None
        finally:
            app.close()

    return wrapper


def exit_with(code: int) -> None:
    if code:
        raise typer.Exit(code)
