"""``sync --dry-run`` over thousands of Certificates and Secrets against the fake Kubernetes API.

Run from the repository root: ``python benchmarks/sync_kubernetes.py [--count 2000]``.

Setup (not timed) issues ``--count`` leaves into the fake cluster. The timed run is a
``sync --dry-run`` over the same manifests: it must use list calls (one per namespace),
not one GET per Secret, and change nothing. The script prints the time, the number of
requests by verb, and the number of mutating requests (goal: 0).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.servers.kubeapi import KubeAPIServer  # noqa: E402


def write_manifests(path: Path, count: int) -> None:
    documents = [
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: selfsigned}\n"
        "spec: {selfSigned: {}}\n"
    ]
    documents += [
        f"apiVersion: cert-manager.io/v1\nkind: Certificate\n"
        f"metadata: {{name: c{index}, namespace: default}}\n"
        f"spec:\n  secretName: c{index}-tls\n  dnsNames: [c{index}.example.test]\n"
        "  privateKey: {algorithm: ECDSA}\n  issuerRef: {name: selfsigned, kind: ClusterIssuer}\n"
        for index in range(count)
    ]
    path.write_text("---\n".join(documents))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    certctl = shutil.which("certctl")
    if certctl is None:
        sys.exit("certctl is not installed: run `pip install -e .` first")
    with tempfile.TemporaryDirectory() as temporary, KubeAPIServer() as api:
        root = Path(temporary)
        kubeconfig = api.write_kubeconfig(root / "kubeconfig")
        manifests = root / "certificates.yaml"
        write_manifests(manifests, args.count)
        base = [
            certctl,
            "--store",
            "kubernetes",
            "--kubeconfig",
            str(kubeconfig),
            "--state-dir",
            str(root / "state"),
            "-q",
        ]
        started = time.perf_counter()
        subprocess.run(
            [*base, "issue", "-f", str(manifests)], check=True, stdout=subprocess.DEVNULL
        )
        setup = time.perf_counter() - started
        api.reset_log()
        started = time.perf_counter()
        subprocess.run(
            [*base, "sync", "-f", str(manifests), "--dry-run"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        verbs = collections.Counter(f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in api.requests)
        print(f"setup: issued {args.count} certificates into the fake cluster in {setup:.1f} s")
        print(
            f"sync --dry-run over {args.count} Certificates and Secrets: {elapsed:.2f} s, "
            f"{len(api.requests)} requests ({dict(verbs)}), "
            f"{len(api.mutating_requests())} mutating (goal: 0)"
        )


if __name__ == "__main__":
    main()
