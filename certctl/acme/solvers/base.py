"""The interfaces every solver implements.

As in lego, a DNS-01 provider only adds and removes one TXT record: finding the
zone, following CNAMEs and waiting for propagation are shared code
(``certctl.acme.dns01``). An HTTP-01 solver only makes the key authorization
answer at ``/.well-known/acme-challenge/<token>`` for a domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from certctl.acme.settings import ACMESettings
from certctl.errors import IssuerNotReadyError
from certctl.stores.base import SecretRecord

#: Reads a secret (credentials, TSIG keys) from the store: (namespace, name) -> record or None.
SecretReader = Callable[[str, str], SecretRecord | None]


@dataclass(frozen=True)
class SolverContext:
    """What a solver gets besides its own configuration block.

    Attributes:
        secret_namespace: where the issuer's secrets live (the Issuer's namespace, or
            the cluster resource namespace for a ClusterIssuer).
        read_secret: reads those secrets from the store.
        settings: the run's ACME settings.
        issuer: ``Kind/name`` of the issuer, for messages.
    """

    secret_namespace: str
    read_secret: SecretReader
    settings: ACMESettings
    issuer: str
    #: The run's store; the Kubernetes one gives solvers its API client.
    store: object | None = None
    #: The namespace of the Certificate being issued (where ingress solvers create objects).
    namespace: str = "default"
    #: Certificate annotations that override the HTTP-01 solver (cert-manager §1.2).
    annotations: Mapping[str, str] = field(default_factory=dict)


class HTTP01Solver(Protocol):
    """Serves key authorizations over HTTP for the HTTP-01 challenge (RFC 8555 §8.3)."""

    #: How many consecutive self-check passes prove the token is served (cert-manager
    #: needs 5 for an ingress that propagates; a local listener or file needs 1).
    self_check_passes: int

    def present(self, domain: str, token: str, key_authorization: str) -> None:
        """Start answering ``key_authorization`` for ``token`` on ``domain``. Idempotent."""
        ...

    def cleanup(self, domain: str, token: str, key_authorization: str) -> None:
        """Stop answering; never raises for something already gone."""
        ...


class DNS01Provider(Protocol):
    """Adds and removes the TXT record of the DNS-01 challenge (RFC 8555 §8.4)."""

    def present(self, fqdn: str, zone: str, value: str) -> None:
        """Add a TXT record ``value`` at ``fqdn`` (absolute, with a trailing dot) in ``zone``.

        Other TXT values at the same name (a wildcard and its base domain share one)
        must be kept.
        """
        ...

    def cleanup(self, fqdn: str, zone: str, value: str) -> None:
        """Remove that one TXT value; never raises for something already gone."""
        ...


#: Builds a solver from its configuration block (camelCase keys, as validated).
SolverFactory = Callable[[Mapping[str, Any], SolverContext], Any]


def read_credential(context: SolverContext, name: str, key: str, *, what: str, holds: str) -> bytes:
    """The bytes under ``key`` of the issuer's Secret ``name`` (a token, a TSIG key...).

    A missing Secret or key means the issuer is not ready yet: the Certificate fails
    this run without backing off (certctl.engine.backoff), and the next run after the
    Secret is created issues at once.

    Args:
        what: the Secret's role in messages, e.g. ``"rfc2136 TSIG"``.
        holds: what belongs under the key, for the hint, e.g. ``"the API token"``.
    """
    namespace = context.secret_namespace
    where = f"{namespace}/{name}"
    record = context.read_secret(namespace, name) if name else None
    if record is None:
        raise IssuerNotReadyError(
            f"{context.issuer}: the {what} secret {where} does not exist",
            reason="SecretMissing",
            hint=f"Create it with {holds} under the key {key!r}",
        )
    raw = record.data.get(key)
    if raw is None:
        raise IssuerNotReadyError(
            f"{context.issuer}: the {what} secret {where} has no key {key!r}",
            reason="SecretInvalidData",
            hint=f"Put {holds} under the key {key!r}",
        )
    return raw


def unquote_txt(content: str) -> str:
    """The TXT value a record's ``content`` holds, quoted (``"a" "b"``) or not (legacy).

    The strings of a quoted content are joined, as a resolver joins them.
    """
    text = content.strip()
    if not text.startswith('"'):
        return text
    strings: list[str] = []
    current: list[str] = []
    inside = escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif inside and char == "\\":
            escaped = True
        elif char == '"':
            if inside:
                strings.append("".join(current))
                current = []
            inside = not inside
        elif inside:
            current.append(char)
    if inside:  # an unbalanced quote: take the text as it is
        return text
    return "".join(strings)
