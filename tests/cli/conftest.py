"""Fixtures for the CLI tests: a private store and state dir per test, and manifest builders.

Every command runs in-process through ``typer.testing.CliRunner`` against
``certctl.cli.main.app``. Typer 0.29 ships its own copy of Click, whose runner
always keeps the streams apart: ``result.stdout`` is data, ``result.stderr`` is
logs and errors, and ``result.output`` is both interleaved (used only in failure
messages).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner, Result

from certctl.cli.main import app
from certctl.clock import Clock
from certctl.state.database import StateDatabase
from certctl.stores.directory import DirectoryStore

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"
CORPUS = REPO / "tests" / "corpus" / "malformed"

#: The two Certificates of the quick start, as (namespace, certificate name, secret name).
ROOT_CA = ("cert-manager", "root-ca", "root-ca-secret")
API_BACKEND = ("default", "api-backend", "api-backend-tls")


def certificate(
    name: str,
    *,
    issuer: str = "selfsigned",
    issuer_kind: str = "ClusterIssuer",
    namespace: str | None = "default",
    **spec: Any,
) -> dict[str, Any]:
    """A Certificate with secret ``<name>-tls`` and one DNS name; ``spec`` adds fields."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    body: dict[str, Any] = {
        "secretName": f"{name}-tls",
        "dnsNames": [f"{name}.example.com"],
        "issuerRef": {"name": issuer, "kind": issuer_kind},
    }
    body.update(spec)
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": metadata,
        "spec": body,
    }


def issuer(
    name: str,
    spec: Mapping[str, Any],
    *,
    kind: str = "ClusterIssuer",
    namespace: str | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": kind,
        "metadata": metadata,
        "spec": dict(spec),
    }


SELFSIGNED = issuer("selfsigned", {"selfSigned": {}})


class Cli:
    """One test's certctl: its own store (``certs/``) and state dir (``state/``) under tmp."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "certs"
        self.state = root / "state"
        self.runner = CliRunner()

    # -- running -----------------------------------------------------------------------

    def global_args(self) -> list[str]:
        return ["--store", f"dir:{self.store}", "--state-dir", str(self.state)]

    def run(
        self,
        *args: str | Path,
        input: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
        global_args: list[str] | None = None,
    ) -> Result:
        """Run ``certctl [global args] args...`` with this test's store and state dir."""
        options = self.global_args() if global_args is None else global_args
        return self.runner.invoke(
            app,
            [*options, *(str(arg) for arg in args)],
            input=input,
            env=dict(env) if env is not None else None,
            catch_exceptions=True,
        )

    def ok(self, *args: str | Path, **kwargs: Any) -> Result:
        """Run and insist on exit 0, showing both streams if it was not."""
        result = self.run(*args, **kwargs)
        assert result.exit_code == 0, describe(result)
        return result

    # -- manifests ---------------------------------------------------------------------

    def manifest(self, filename: str, *documents: Mapping[str, Any]) -> Path:
        """Write ``documents`` as one multi-document YAML file under ``manifests/``."""
        path = self.root / "manifests" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False))
        return path

    def quickstart(self) -> Path:
        """Copy examples/quickstart/ into tmp and return the copy."""
        target = self.root / "quickstart"
        shutil.copytree(QUICKSTART, target)
        return target

    # -- the state ---------------------------------------------------------------------

    def open_state(self, clock: Clock, store: Path | None = None) -> StateDatabase:
        """The state database as a run with ``--store dir:STORE`` (default ``certs/``) sees it."""
        identity = DirectoryStore(store or self.store).identity
        return StateDatabase.open(self.state, clock, store=identity)

    # -- the store ---------------------------------------------------------------------

    def secret(self, namespace: str, name: str) -> Path:
        """The secret's folder as users see it: ``certs/NS/NAME`` (a symlink)."""
        return self.store / namespace / name

    def generation(self, namespace: str, name: str) -> Path:
        """The generation folder the secret's symlink points at."""
        return Path(os.path.realpath(self.secret(namespace, name)))

    def link_target(self, namespace: str, name: str) -> str:
        return os.readlink(self.secret(namespace, name))

    def leaf(self, namespace: str, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(
            (self.secret(namespace, name) / "tls.crt").read_bytes()
        )

    def key(self, namespace: str, name: str) -> Any:
        return serialization.load_pem_private_key(
            (self.secret(namespace, name) / "tls.key").read_bytes(), password=None
        )

    def metadata(self, namespace: str, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.secret(namespace, name) / "..metadata.json").read_text()
        )
        return data

    def snapshot(self, namespace: str, name: str) -> dict[str, bytes | str]:
        """Every file of the secret by name, plus the symlink target under ``"->"``."""
        folder = self.generation(namespace, name)
        files: dict[str, bytes | str] = {
            path.name: path.read_bytes() for path in sorted(folder.iterdir())
        }
        files["->"] = self.link_target(namespace, name)
        return files


def describe(result: Result) -> str:
    """Both streams and any exception, for assertion messages."""
    text = f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"\n--- exception\n{result.exception!r}"
    return text


def public_der(key_or_certificate: Any) -> bytes:
    """SubjectPublicKeyInfo DER of a private key, public key or certificate."""
    public = key_or_certificate
    if hasattr(public, "public_key"):
        public = public.public_key()
    data: bytes = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def results_by_name(result: Result) -> dict[str, dict[str, Any]]:
    """``-o json`` of issue/renew, keyed by Certificate name."""
    document = json.loads(result.stdout)
    return {item["name"]: item for item in document["results"]}


def table(stdout: str) -> list[dict[str, str]]:
    """Parse a kubectl-style table (columns three or more spaces apart) into row dicts."""
    import re

    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return []
    headers = re.split(r" {3,}", lines[0].strip())
    rows = []
    for line in lines[1:]:
        cells = re.split(r" {3,}", line.strip())
        rows.append(dict(zip(headers, cells, strict=False)))
    return rows


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def quickstart(cli: Cli) -> Path:
    """The quick start copied into tmp and issued once."""
    path = cli.quickstart()
    cli.ok("issue", "-f", path)
    return path
