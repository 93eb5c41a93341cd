"""certctl's one error hierarchy.

Library code raises these and never prints or exits. The CLI renders them in a
single place and maps ``exit_code`` to the process exit status:

* 0 success (including nothing to do)
* 1 at least one certificate failed, the others were still processed
* 2 invalid input or usage; nothing was changed
* 3 infrastructure unreachable (store, state, lock held by another run)
* 130 interrupted
"""

from __future__ import annotations

import unicodedata

EXIT_OK = 0
EXIT_CERTIFICATE_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_INFRASTRUCTURE = 3
EXIT_INTERRUPTED = 130


class CertctlError(Exception):
    """Base of every error certctl raises on purpose.

    Attributes:
        message: what went wrong and why, as one or more sentences.
        hint: one sentence saying what to try.
        reason: a stable CamelCase reason (cert-manager's where one exists).
        exit_code: the process exit status this error leads to.
        retryable: whether running again later may succeed without changes.
    """

    exit_code: int = EXIT_CERTIFICATE_FAILED
    reason: str = "Error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        reason: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if reason is not None:
            self.reason = reason
        if retryable is not None:
            self.retryable = retryable

    def paragraph(self) -> str:
        """Render the error as one readable paragraph: what, why, what to try."""
        text = self.message.rstrip()
        if text and text[-1] not in ".!?:":
            text += "."
        if self.hint:
            hint = self.hint.rstrip()
            if hint[-1] not in ".!?":
                hint += "."
            text = f"{text} {hint}"
        return text


class UsageError(CertctlError):
    """A command line that cannot be acted on."""

    exit_code = EXIT_INVALID_INPUT
    reason = "InvalidUsage"


# What a terminal would act on or hide: C0 and C1 controls (ESC, BEL, NUL, newline),
# format characters (bidi overrides, zero-width, byte-order mark), line separators.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def printable(text: str) -> str:
    r"""``text`` with every control or invisible character escaped (``\x1b``, ``\u2028``).

    Manifest text quoted in a message goes through this, so that a manifest can
    neither rewrite the terminal nor hide characters from the reader.
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if unicodedata.category(char) in _UNPRINTABLE_CATEGORIES:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


class ManifestProblem:
    """One problem found in one manifest document.

    The path, field and message are made ``printable``: they quote manifest text.
    """

    __slots__ = ("field", "line", "message", "path")

    def __init__(self, path: str, line: int | None, field: str, message: str) -> None:
        self.path = printable(path)
        self.line = line
        self.field = printable(field)
        self.message = printable(message)

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        where = self.location()
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def __repr__(self) -> str:
        return f"ManifestProblem({self!s})"


class ManifestError(CertctlError):
    """One or more manifests are malformed or invalid. Nothing was changed."""

    exit_code = EXIT_INVALID_INPUT
    reason = "InvalidManifest"

    def __init__(self, problems: list[ManifestProblem], *, hint: str = "") -> None:
        self.problems = problems
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(
            f"The manifests have {count} {noun}, so nothing was changed:\n{lines}",
            hint=hint
            or "Fix what is named above and run the command again (certctl validate "
            "-f checks manifests without issuing anything)",
        )

    def paragraph(self) -> str:
        # The problems are a list, one per line; the hint gets a line of its own after it.
        return f"{self.message}\n{self.hint.rstrip('.')}."


class IssuanceError(CertctlError):
    """A certificate could not be issued. The old certificate, if any, is untouched."""

    exit_code = EXIT_CERTIFICATE_FAILED
    reason = "Failed"


class NotSupportedError(IssuanceError):
    """A valid configuration that this version of certctl cannot act on yet."""

    reason = "NotSupported"


class IssuerNotReadyError(IssuanceError):
    """The issuer cannot be used yet: a Secret it reads is missing or malformed.

    Like a cert-manager Issuer that is not Ready, this is not a failed issuance:
    the Certificate fails this run (exit 1) but does not back off, so the next run
    issues as soon as the Secret is fixed. ``reason`` names the cause where one is
    known (``SecretMissing``, ``SecretInvalidData``, ``ErrInvalidKeyPair``).
    """

    reason = "IssuerNotReady"
    retryable = True


class StoreError(CertctlError):
    """The secret store could not be read or written."""

    exit_code = EXIT_INFRASTRUCTURE
    reason = "StoreError"
    retryable = True


class StateError(CertctlError):
    """The state database could not be opened or written."""

    exit_code = EXIT_INFRASTRUCTURE
    reason = "StateError"
    retryable = True


class LockHeldError(CertctlError):
    """Another certctl run holds the lock for this store."""

    exit_code = EXIT_INFRASTRUCTURE
    reason = "LockHeld"
    retryable = True


class InspectError(CertctlError):
    """A target given to ``inspect`` could not be read or decoded."""

    exit_code = EXIT_INVALID_INPUT
    reason = "InvalidTarget"


class EndpointError(CertctlError):
    """A live endpoint could not be reached."""

    exit_code = EXIT_INFRASTRUCTURE
    reason = "Unreachable"
    retryable = True
