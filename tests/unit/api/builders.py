"""Small builders for manifest documents, so each test case states only what matters."""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from certctl.api.loader import load_manifests
from certctl.api.models import ManifestSet
from certctl.errors import ManifestError

DELETE = object()
"""Patch value that removes a key."""


def merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into a copy of ``base``; ``DELETE`` removes a key."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is DELETE:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def certificate(name: str = "web", namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    """A valid Certificate document; keyword arguments patch its spec."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    base = {
        "secretName": f"{name}-tls",
        "dnsNames": [f"{name}.example.com"],
        "issuerRef": {"name": "ca", "kind": "ClusterIssuer"},
    }
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata,
        "spec": merge(base, spec),
    }


def issuer(
    spec: Mapping[str, Any] | None = None,
    *,
    name: str = "ca",
    kind: str = "Issuer",
    namespace: str | None = None,
) -> dict[str, Any]:
    """A valid Issuer (or ClusterIssuer with ``kind=``); ``spec`` replaces its spec."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": dict(spec) if spec is not None else {"ca": {"secretName": "ca-key"}},
    }


def acme(**fields: Any) -> dict[str, Any]:
    """An ``acme`` issuer spec; keyword arguments patch the acme block."""
    base = {
        "server": "https://acme-v02.api.letsencrypt.org/directory",
        "privateKeySecretRef": {"name": "account-key"},
        "solvers": [{"http01": {"standalone": {}}}],
    }
    return {"acme": merge(base, fields)}


def solver(**fields: Any) -> dict[str, Any]:
    """An ``acme`` issuer spec with one solver built from ``fields``."""
    return acme(solvers=[fields])


def dump(*documents: Any) -> str:
    """YAML text with one document per argument."""
    return str(yaml.safe_dump_all(documents, sort_keys=False))


def load_text(text: str, **kwargs: Any) -> ManifestSet:
    """Load manifests from a string, as ``-f -`` would."""
    return load_manifests(["-"], stdin=io.StringIO(text), **kwargs)


def load_documents(*documents: Any) -> ManifestSet:
    return load_text(dump(*documents))


def problems_of(text: str) -> list[str]:
    """The rendered problems (``path:line: field: message``) loading ``text`` raises."""
    with pytest.raises(ManifestError) as caught:
        load_text(text)
    return [str(problem) for problem in caught.value.problems]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
