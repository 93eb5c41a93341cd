"""Helpers shared by the benchmark scripts (not part of the test run)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

#: Let certctl write bytecode (PYTHONDONTWRITEBYTECODE may be set) to a cache outside the
#: source tree, as an installed certctl has it; otherwise every timed run compiles certctl.
BYTECODE_CACHE = {
    "PYTHONDONTWRITEBYTECODE": "",
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "certctl-bench-pycache"),
}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, to print next to the figures."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def certctl_command() -> list[str]:
    path = shutil.which("certctl")
    if path is None:
        sys.exit("certctl is not installed: run `pip install -e .` first")
    return [path]


def time_command(
    argv: Sequence[str], *, runs: int, cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[float]:
    """Run a command ``runs`` times and return the wall-clock seconds of each run."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            list(argv),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - started)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def write_ca_bootstrap(directory: Path) -> None:
    """A selfSigned ClusterIssuer, a root CA Certificate and a CA ClusterIssuer."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "issuers.yaml").write_text(
        """apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: bootstrap}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: root, namespace: cert-manager}
spec:
  isCA: true
  commonName: bench root
  secretName: root
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: bootstrap, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: ca}
spec: {ca: {secretName: root}}
"""
    )


def write_leaves(directory: Path, count: int) -> None:
    """``count`` ECDSA leaf Certificates from the CA ClusterIssuer, in one file."""
    documents = [
        f"""apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: leaf-{index}, namespace: default}}
spec:
  secretName: leaf-{index}-tls
  dnsNames: [leaf-{index}.example.test]
  privateKey: {{algorithm: ECDSA}}
  issuerRef: {{name: ca, kind: ClusterIssuer}}
"""
        for index in range(count)
    ]
    (directory / "leaves.yaml").write_text("---\n".join(documents))
