"""Solver plugins keyed by the manifest's own words (``http01.standalone``, ``dns01.rfc2136``).

Entries are dotted paths imported on first use; third-party providers come in
through the ``certctl.solvers`` entry point group.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

from certctl.acme.solvers.base import DNS01Provider, HTTP01Solver, SolverContext
from certctl.errors import IssuanceError

SOLVERS: dict[str, str] = {
    "http01.standalone": "certctl.acme.solvers.standalone:StandaloneSolver",
    "http01.webroot": "certctl.acme.solvers.webroot:WebrootSolver",
    "dns01.rfc2136": "certctl.acme.solvers.rfc2136:RFC2136Provider",
    "dns01.cloudflare": "certctl.acme.solvers.cloudflare:CloudflareProvider",
    "dns01.route53": "certctl.acme.solvers.route53:Route53Provider",
    "dns01.exec": "certctl.acme.solvers.exec:ExecProvider",
    "dns01.digitalocean": "certctl.acme.solvers.digitalocean:DigitalOceanProvider",
    "dns01.acmeDNS": "certctl.acme.solvers.acmedns:AcmeDNSProvider",
    "http01.ingress": "certctl.acme.solvers.ingress:IngressSolver",
}

#: Solvers that only work with ``--store kubernetes`` (they create objects in the cluster).
KUBERNETES_ONLY = frozenset({"http01.ingress"})

#: Solver blocks that validate but need something this run does not have.
UNAVAILABLE: dict[str, str] = {
    "http01.ingress": (
        "the http01.ingress solver creates a Pod, Service and Ingress in Kubernetes, which "
        "needs --store kubernetes (this run writes elsewhere); use the certctl "
        "extensions http01.standalone or http01.webroot, or a dns01 solver"
    ),
    "http01.gatewayHTTPRoute": (
        "the http01.gatewayHTTPRoute solver needs a Kubernetes cluster with the Gateway API; "
        "use http01.standalone or http01.webroot, or a dns01 solver"
    ),
}


def solver_key(block: Mapping[str, Any]) -> str:
    """``http01.standalone`` for ``{"http01": {"standalone": {...}}}``, and so on."""
    for kind in ("http01", "dns01"):
        config = block.get(kind)
        if isinstance(config, Mapping):
            for name, value in config.items():
                if isinstance(value, Mapping):
                    return f"{kind}.{name}"
    raise IssuanceError("A solver has neither an http01 nor a dns01 block", reason="InvalidSolver")


def build_solver(block: Mapping[str, Any], context: SolverContext) -> HTTP01Solver | DNS01Provider:
    """Build the solver a ``solvers[]`` entry configures.

    Raises:
        IssuanceError: no plugin implements it, or it cannot work with this store.
    """
    key = solver_key(block)
    if key in UNAVAILABLE and (key not in KUBERNETES_ONLY or not _kubernetes_store(context)):
        raise IssuanceError(f"{context.issuer}: {UNAVAILABLE[key]}", reason="InvalidSolver")
    target = SOLVERS.get(key) or _entry_points().get(key)
    if target is None:
        raise IssuanceError(
            f"{context.issuer}: the {key} solver is not supported yet in this version of "
            f"certctl (supported: {', '.join(sorted(SOLVERS))})",
            reason="InvalidSolver",
        )
    kind, _, name = key.partition(".")
    module_name, _, class_name = target.partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    solver: HTTP01Solver | DNS01Provider = factory(block[kind][name], context)
    return solver


def _kubernetes_store(context: SolverContext) -> bool:
    """Whether the run writes to Kubernetes, without importing the client when it does not."""
    # The store's module is imported by whoever built a KubernetesStore; not imported
    # means there is none, and the check costs no import of ``kubernetes``.
    module = sys.modules.get("certctl.stores.kubernetes")
    return module is not None and isinstance(context.store, module.KubernetesStore)


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {entry.name: entry.value for entry in entry_points(group="certctl.solvers")}
