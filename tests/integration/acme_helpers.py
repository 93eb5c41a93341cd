"""Helpers for the ACME tests: manifests for a Pebble issuer, and running certctl."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from typer.testing import CliRunner, Result

from certctl.cli.main import app
from certctl.stores.base import SecretRecord
from certctl.stores.directory import DirectoryStore
from tests.integration.servers.bind import BindServer
from tests.integration.servers.pebble import PebbleServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def acme_issuer(
    pebble: PebbleServer,
    solvers: list[dict[str, Any]],
    *,
    name: str = "pebble",
    **extra: Any,
) -> dict[str, Any]:
    """A ClusterIssuer for ``pebble`` trusting its HTTPS certificate through caBundle."""
    spec: dict[str, Any] = {
        "server": pebble.directory_url,
        "caBundle": pebble.ca_bundle_base64,
        "privateKeySecretRef": {"name": f"{name}-account"},
        "solvers": solvers,
        **extra,
    }
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {"acme": spec},
    }


def certificate(
    name: str, dns_names: list[str], *, issuer: str = "pebble", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": "default", **spec.pop("metadata", {})},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": dns_names,
            "privateKey": {"algorithm": "ECDSA"},
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer"},
            **spec,
        },
    }


def standalone(port: int, **extra: Any) -> dict[str, Any]:
    return {"http01": {"standalone": {"port": port, "address": "127.0.0.1"}}, **extra}


def rfc2136(bind: BindServer, algorithm: str = "hmac-sha256", **extra: Any) -> dict[str, Any]:
    key_name, _ = bind.tsig_keys[algorithm]
    return {
        "dns01": {
            "rfc2136": {
                "nameserver": bind.address,
                "tsigKeyName": key_name.rstrip("."),
                "tsigAlgorithm": algorithm.replace("-", "").upper(),
                "tsigSecretSecretRef": {"name": "tsig", "key": algorithm},
            }
        },
        **extra,
    }


@dataclass
class ACMERun:
    """One test's certctl against Pebble and BIND: its own store, state and manifests."""

    root: Path
    bind: BindServer
    http_port: int
    runner: CliRunner = field(default_factory=CliRunner)

    @property
    def store(self) -> Path:
        return self.root / "certs"

    def write_tsig_secret(self) -> None:
        """The TSIG secrets, where an rfc2136 solver of a ClusterIssuer reads them."""
        DirectoryStore(self.store).write(
            SecretRecord(
                namespace="cert-manager",
                name="tsig",
                type="Opaque",
                data={alg: secret.encode() for alg, (_, secret) in self.bind.tsig_keys.items()},
            )
        )

    def manifest(self, *documents: dict[str, Any], name: str = "manifests.yaml") -> Path:
        path = self.root / name
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        return path

    def global_args(self) -> list[str]:
        return [
            "--store",
            f"dir:{self.store}",
            "--state-dir",
            str(self.root / "state"),
            "--dns01-recursive-nameservers",
            self.bind.address,
            "--dns01-authoritative-port",
            str(self.bind.port),
            "--acme-http01-solver-nameservers",
            self.bind.address,
            "--acme-http01-check-port",
            str(self.http_port),
            "--acme-timeout",
            "30s",
        ]

    def run(self, *args: str | Path) -> Result:
        return self.runner.invoke(app, [*self.global_args(), *map(str, args)])

    def results(self, result: Result) -> dict[str, dict[str, Any]]:
        return {item["name"]: item for item in json.loads(result.stdout)["results"]}

    def secret(self, name: str, namespace: str = "default") -> Path:
        return self.store / namespace / name

    def chain(self, name: str) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates((self.secret(name) / "tls.crt").read_bytes())


def describe(result: Result) -> str:
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
