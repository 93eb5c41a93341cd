"""What the file-based stores share: Kubernetes naming rules and durable writes."""

from __future__ import annotations

import errno
import os
import re

from certctl.errors import UsageError
from certctl.stores.base import SecretRecord

NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DATA_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
MAX_NAMESPACE = 63
MAX_NAME = 253
MAX_DATA_KEY = 253


def check_namespace(namespace: str) -> None:
    """A namespace is a DNS-1123 label; anything else could escape the store's folder."""
    if (
        not isinstance(namespace, str)
        or len(namespace) > MAX_NAMESPACE
        or not NAMESPACE_RE.fullmatch(namespace)
    ):
        raise UsageError(
            f"{namespace!r} is not a valid namespace: it must be a DNS-1123 label "
            f"(lower-case letters, digits and '-', at most {MAX_NAMESPACE} characters)",
            hint="Fix the namespace in the manifest or the -n option",
        )


def check_secret_name(name: str, *, max_length: int = MAX_NAME, store: str = "") -> None:
    """A Secret name is a DNS-1123 subdomain (no '/', no '..': no path traversal)."""
    if not isinstance(name, str) or len(name) > max_length or not SUBDOMAIN_RE.fullmatch(name):
        where = f" for the {store} store" if store else ""
        raise UsageError(
            f"{name!r} is not a valid Secret name{where}: it must be a DNS-1123 subdomain "
            f"(lower-case letters, digits, '-' and '.', at most {max_length} characters)",
            hint="Fix spec.secretName in the Certificate",
        )


def check_data(record: SecretRecord) -> list[tuple[str, bytes]]:
    """The data items, checked as Kubernetes checks Secret keys (and never starting '..')."""
    items: list[tuple[str, bytes]] = []
    for key, value in record.data.items():
        if (
            not isinstance(key, str)
            or len(key) > MAX_DATA_KEY
            or key in (".", "..")
            or key.startswith("..")
            or not DATA_KEY_RE.fullmatch(key)
        ):
            raise UsageError(
                f"Secret {record.key} has an invalid data key {key!r}: keys are made of "
                "letters, digits, '-', '_' and '.', and must not start with '..'",
                hint="Rename the key, for example in spec.keystores or spec.secretTemplate",
            )
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"secret data {key!r} must be bytes, not {type(value).__name__}")
        items.append((key, bytes(value)))
    return items


def write_all(fd: int, payload: bytes) -> None:
    """Write every byte (os.write may write fewer than asked)."""
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems cannot fsync a folder; the rename is as durable as they allow.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)
