"""What the contract suite needs to know about a provider and the server behind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from certctl.acme.settings import ACMESettings
from certctl.acme.solvers.base import DNS01Provider, SolverContext
from certctl.stores.base import SecretRecord

#: Where issuer secrets live in the harnesses (a ClusterIssuer's cluster resource namespace).
SECRET_NAMESPACE = "cert-manager"


@dataclass
class ProviderHarness:
    """A provider, configured as a manifest would, against its server.

    Attributes:
        key: the registry key, as the manifest spells it (``dns01.route53``).
        zone: the zone the server holds (absolute, with a trailing dot).
        block: the solver's configuration block (under ``dns01.<name>``), good credentials.
        secrets: the Secrets in the store, by name: {name: {key: bytes}}.
        bad_credentials: the same block and secrets with credentials the server refuses,
            or None when the provider has no credentials.
        txt_values: reads the TXT values at an FQDN from the server itself.
        credentials: strings that must never appear in a message (tokens, keys).
        settings: the run's ACME settings (resolvers for the shared propagation check).
    """

    key: str
    zone: str
    block: Mapping[str, Any]
    secrets: Mapping[str, Mapping[str, bytes]]
    txt_values: Callable[[str], set[str]]
    bad_credentials: tuple[Mapping[str, Any], Mapping[str, Mapping[str, bytes]]] | None = None
    credentials: tuple[str, ...] = ()
    settings: ACMESettings = field(default_factory=ACMESettings)

    def build(self, *, bad: bool = False) -> DNS01Provider:
        """The provider, built through the solver registry as a run builds it."""
        from certctl.acme.solvers.registry import build_solver

        block, secrets = self.block, self.secrets
        if bad:
            assert self.bad_credentials is not None
            block, secrets = self.bad_credentials
        kind, _, name = self.key.partition(".")
        provider = build_solver({kind: {name: dict(block)}}, context(self.settings, secrets))
        assert hasattr(provider, "present") and hasattr(provider, "cleanup")
        return provider


def context(settings: ACMESettings, secrets: Mapping[str, Mapping[str, bytes]]) -> SolverContext:
    """A solver context whose store holds ``secrets`` in the cluster resource namespace."""

    def read_secret(namespace: str, name: str) -> SecretRecord | None:
        if namespace != SECRET_NAMESPACE or name not in secrets:
            return None
        return SecretRecord(namespace, name, dict(secrets[name]), type="Opaque")

    return SolverContext(SECRET_NAMESPACE, read_secret, settings, "ClusterIssuer/letsencrypt")
