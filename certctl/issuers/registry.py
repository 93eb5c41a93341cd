"""Issuer plugins, keyed by the spec block that selects them (``spec.selfSigned``, ``spec.ca``...).

Entries are dotted paths imported on first use, so loading certctl stays cheap and
an issuer's SDK is imported only when a manifest uses that issuer. Third-party
issuers register through the ``certctl.issuers`` entry point group.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from certctl.errors import UsageError

if TYPE_CHECKING:
    from certctl.issuers.base import IssuerBackend

ISSUER_BACKENDS: dict[str, str] = {
    "selfSigned": "certctl.issuers.selfsigned:SelfSignedIssuer",
    "ca": "certctl.issuers.ca:CAIssuer",
    "acme": "certctl.issuers.acme:ACMEIssuer",
    "vault": "certctl.issuers.unsupported:VaultIssuer",
    "venafi": "certctl.issuers.unsupported:VenafiIssuer",
}


def _entry_point_backends() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {entry.name: entry.value for entry in entry_points(group="certctl.issuers")}


@cache
def get_issuer_backend(issuer_type: str) -> IssuerBackend:
    """Return the backend for an issuer block name such as ``ca``, importing it on first use."""
    target = ISSUER_BACKENDS.get(issuer_type) or _entry_point_backends().get(issuer_type)
    if target is None:
        raise UsageError(
            f"No issuer plugin handles spec.{issuer_type}",
            hint=f"Known issuer types: {', '.join(sorted(ISSUER_BACKENDS))}",
        )
    module_name, _, class_name = target.partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: IssuerBackend = backend_class()
    return backend
