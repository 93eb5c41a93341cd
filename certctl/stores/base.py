"""The interface every secret store implements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

TLS_SECRET_TYPE = "kubernetes.io/tls"
#: certctl's mark on the secrets it writes: prune and ownership checks touch nothing else.
MANAGED_LABEL = "certctl.io/managed"


@dataclass
class SecretRecord:
    """A Secret as certctl sees it, whatever store holds it.

    ``data`` holds raw bytes (not base64). ``version`` is an opaque token from
    the store that changes whenever the secret is rewritten; it is None for a
    record that has not been written yet.
    """

    namespace: str
    name: str
    data: dict[str, bytes] = field(default_factory=dict)
    type: str = TLS_SECRET_TYPE
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    version: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class SecretStore(Protocol):
    """Where secrets live. Implementations register in ``certctl.stores.registry``."""

    #: A short description for messages, e.g. ``dir:/etc/tls``.
    description: str

    @property
    def identity(self) -> str:
        """Which store this is, for the state: two stores never share history.

        ``dir:`` and the resolved folder, ``kubernetes:CONTEXT@HOST``, ``manifest:`` and
        the resolved FILE, or ``manifest:stdout``. Third-party stores without it are
        keyed by their ``description``.
        """
        ...

    def read(self, namespace: str, name: str) -> SecretRecord | None:
        """Return the secret, or None when it does not exist.

        Raises:
            StoreError: the store could not be read.
        """
        ...

    def version(self, namespace: str, name: str) -> str | None:
        """Return the secret's version token without reading its data, or None if absent.

        This must be cheap: the no-op renewal path calls it once per certificate.
        """
        ...

    def stamp(self, namespace: str, name: str) -> str | None:
        """Return a cheap fingerprint of the secret as stored, or None if absent.

        Unlike ``version`` it also changes when someone edits the secret behind
        certctl's back (a key replaced by hand), so the no-op renewal path can trust
        it without reading the data. It is called once per certificate per run.
        """
        ...

    def write(self, record: SecretRecord) -> str:
        """Replace the whole secret atomically and return its new version token.

        A reader sees either the whole old secret or the whole new one, never a mix.
        """
        ...

    def delete(self, namespace: str, name: str) -> bool:
        """Delete the secret; return whether it existed."""
        ...

    def list(self, namespace: str | None = None) -> Iterator[SecretRecord]:
        """Yield every secret, or those of one namespace."""
        ...

    def lock(self, timeout: dt.timedelta) -> AbstractContextManager[None]:
        """Hold the store-wide lock for one run.

        Raises:
            LockHeldError: another run held it for longer than ``timeout``.
        """
        ...
