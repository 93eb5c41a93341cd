"""Backoff after failed issuance, as cert-manager does (reference §1.11)."""

from __future__ import annotations

import datetime as dt

from certctl.errors import IssuerNotReadyError

MINIMUM_BACKOFF = dt.timedelta(hours=1)
MAXIMUM_BACKOFF = dt.timedelta(hours=32)


def compute_backoff_delay(
    failed_attempts: int,
    *,
    minimum: dt.timedelta = MINIMUM_BACKOFF,
    maximum: dt.timedelta = MAXIMUM_BACKOFF,
) -> dt.timedelta:
    """``minimum × 2^(attempts − 1)``, capped at ``maximum``: 1h, 2h, 4h … 32h, 32h."""
    if failed_attempts <= 0:
        return dt.timedelta(0)
    # Cap the exponent first so a long failure streak cannot overflow timedelta.
    exponent = min(failed_attempts - 1, 62)
    delay = minimum * (2**exponent) if exponent < 40 else maximum
    return min(delay, maximum)


def compute_next_attempt(
    failed_attempts: int,
    last_failure_time: dt.datetime | None,
    *,
    minimum: dt.timedelta = MINIMUM_BACKOFF,
    maximum: dt.timedelta = MAXIMUM_BACKOFF,
) -> dt.datetime | None:
    """When the next issuance attempt may start, or None when there is no backoff."""
    if failed_attempts <= 0 or last_failure_time is None:
        return None
    return last_failure_time + compute_backoff_delay(
        failed_attempts, minimum=minimum, maximum=maximum
    )


def starts_backoff(error: BaseException) -> bool:
    """Whether a failed attempt that raised ``error`` starts (or extends) backoff.

    cert-manager backs off after a CertificateRequest fails. An issuer that is not
    Ready (a Secret it reads is missing or malformed) leaves the request Pending
    instead: nothing failed at the CA, and issuance starts as soon as the issuer
    becomes Ready. Everything else that stops an attempt, including a crash, backs off.
    """
    return not isinstance(error, IssuerNotReadyError)
