"""The interface every secret store implements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from certctl.errors import IssuanceError

TLS_SECRET_TYPE = "kubernetes.io/tls"
#: certctl's mark on the secrets it writes: prune and ownership checks touch nothing else.
MANAGED_LABEL = "certctl.io/managed"
#: The annotation cert-manager (and certctl) put on a Secret to name its Certificate.
CERTIFICATE_NAME_ANNOTATION = "cert-manager.io/certificate-name"

#: The data keys certctl owns on a certificate Secret (cert-manager's own keys, its
#: additionalOutputFormats and keystores). A rewrite replaces these and carries every
#: other key over, as server-side apply keeps the fields of other managers.
OWNED_DATA_KEYS = frozenset(
    {
        "tls.crt",
        "tls.key",
        "ca.crt",
        "tls-combined.pem",
        "key.der",
        "keystore.p12",
        "truststore.p12",
        "keystore.jks",
        "truststore.jks",
    }
)
#: Label and annotation prefixes certctl owns; anything else on a Secret is someone else's.
OWNED_LABEL_PREFIXES = ("controller.cert-manager.io/", "certctl.io/")
OWNED_ANNOTATION_PREFIXES = ("cert-manager.io/",)


class ForeignSecretError(IssuanceError):
    """A Secret of the wanted name exists and belongs to something else."""

    reason = "ForeignSecret"


class UnsafeStorePathError(IssuanceError):
    """Writing the secret would follow a symlink out of the store."""

    reason = "SymlinkOutsideStore"


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


def belongs_to(existing: SecretRecord, certificate_name: str | None) -> bool:
    """Whether certctl may rewrite ``existing`` for the Certificate ``certificate_name``.

    A Secret is the Certificate's when its ``cert-manager.io/certificate-name`` names
    it (cert-manager wrote it, or certctl did), or when certctl created it (its
    managed mark) and no other Certificate's name is on it. Anything else, a folder
    made by hand or a Secret of another tool, is foreign (DESIGN.md §5).
    """
    current = existing.annotations.get(CERTIFICATE_NAME_ANNOTATION)
    if certificate_name is not None and current == certificate_name:
        return True
    return existing.labels.get(MANAGED_LABEL) == "true" and current in (None, certificate_name)


def foreign_secret_error(existing: SecretRecord, store: str) -> ForeignSecretError:
    """The refusal for a Secret that :func:`belongs_to` says is not certctl's."""
    owner = existing.annotations.get(CERTIFICATE_NAME_ANNOTATION)
    why = (
        f"it was issued for Certificate {owner!r}"
        if owner
        else "it carries no cert-manager.io/certificate-name annotation and was not "
        "created by certctl"
    )
    return ForeignSecretError(
        f"Secret {existing.key} already exists in {store} and belongs to something else: "
        f"{why}; certctl leaves it alone",
        hint="Point spec.secretName at another Secret, or run with --force to take it over",
    )


def carry_over(existing: SecretRecord | None, record: SecretRecord) -> SecretRecord:
    """``record`` plus every data key, label and annotation of ``existing`` certctl does not own.

    The file stores write whole secrets; this gives them server-side apply's rule: the
    keys certctl owns are replaced (or removed when ``record`` no longer has them) and
    every other key (a person's ``extra.conf``, another tool's label) is kept.
    """
    if existing is None:
        return record
    data = {k: v for k, v in existing.data.items() if k not in OWNED_DATA_KEYS}
    data.update(record.data)
    labels = {k: v for k, v in existing.labels.items() if not k.startswith(OWNED_LABEL_PREFIXES)}
    labels.update(record.labels)
    annotations = {
        k: v for k, v in existing.annotations.items() if not k.startswith(OWNED_ANNOTATION_PREFIXES)
    }
    annotations.update(record.annotations)
    return SecretRecord(
        namespace=record.namespace,
        name=record.name,
        data=data,
        type=record.type,
        labels=labels,
        annotations=annotations,
        version=record.version,
    )
