"""The ``dns01.exec`` provider (a certctl extension): a command adds and removes the record.

The contract is lego's exec provider: the configured ``command`` runs with
``present FQDN VALUE`` or ``cleanup FQDN VALUE`` appended, FQDN absolute (with
its trailing dot) and VALUE the TXT value. No shell is involved, the environment
is inherited, and a non-zero exit status or a timeout fails the challenge with
the last lines the command wrote to stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from certctl.acme.solvers.base import SolverContext
from certctl.errors import IssuanceError

__all__ = ["ExecProvider"]

log = logging.getLogger(__name__)

#: lego's hook timeout: long enough for an API that takes a while, short enough to end.
DEFAULT_TIMEOUT = 120.0
#: How much of the command's stderr an error quotes.
STDERR_LINES = 10


class ExecProvider:
    """Runs ``command + [present|cleanup, fqdn, value]`` for each change."""

    def __init__(
        self,
        config: Mapping[str, Any],
        context: SolverContext,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        command = config.get("command")
        if (
            not isinstance(command, Sequence)
            or isinstance(command, str)
            or not command
            or not all(isinstance(part, str) and part for part in command)
        ):
            raise IssuanceError(
                f"{context.issuer}: dns01.exec needs command, a list of one or more "
                "non-empty strings"
            )
        self.command: tuple[str, ...] = tuple(command)
        self.timeout = timeout
        self._issuer = context.issuer

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Run ``command present FQDN VALUE``."""
        self._run("present", fqdn, value)

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Run ``command cleanup FQDN VALUE``."""
        self._run("cleanup", fqdn, value)

    def _run(self, action: str, fqdn: str, value: str) -> None:
        argv = [*self.command, action, fqdn, value]
        shown = " ".join([*self.command, action, fqdn])
        # The value is a credential for the length of the challenge: never log it.
        log.debug("dns01.exec: running %s <value>", shown)
        try:
            # A session of its own, so a timeout can kill whatever the command started.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise IssuanceError(
                f"{self._issuer}: the dns01.exec command {self.command[0]!r} could not be "
                f"started: {exc.strerror or exc}",
                hint="Check that command names an executable file",
            ) from exc
        with process:
            try:
                stdout, stderr = process.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_session(process)
                process.communicate()
                raise IssuanceError(
                    f"{self._issuer}: the dns01.exec command `{shown}` did not finish within "
                    f"{self.timeout:g} s and was stopped",
                    retryable=True,
                ) from None
        if stdout:
            log.debug("dns01.exec: %s wrote: %s", shown, _tail(stdout))
        if process.returncode != 0:
            said = _tail(stderr) or _tail(stdout)
            status = _status(process.returncode)
            raise IssuanceError(
                f"{self._issuer}: the dns01.exec command `{shown}` {status}"
                + (f"; it said: {said}" if said else " and wrote nothing to stderr"),
            )


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()


def _tail(output: bytes) -> str:
    lines = output.decode(errors="replace").strip().splitlines()
    return "\n".join(lines[-STDERR_LINES:])


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"
