"""Issuer plugins, keyed by the spec block that selects them (``spec.selfSigned``, ``spec.ca``...).

Entries are dotted paths imported on first use, so loading certctl stays cheap and
an issuer's SDK is imported only when a manifest uses that issuer. Third-party
issuers register through the ``certctl.issuers`` entry point group.
"""

from __future__ import annotations

import importlib
import threading
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


_BACKENDS: dict[str, IssuerBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def get_issuer_backend(issuer_type: str) -> IssuerBackend:
    """Return the one backend for an issuer block name such as ``ca``, built on first use.

    Certificates are issued from worker threads: the lock makes the first calls share one
    backend (one ACME account, one decoded CA keypair) instead of each building its own.
    """
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(issuer_type)
        if backend is None:
            backend = _BACKENDS[issuer_type] = _build_backend(issuer_type)
        return backend


def _build_backend(issuer_type: str) -> IssuerBackend:
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
