"""``certctl get certificates -A -f examples/`` over a store holding the examples' Secrets.

Run: ``python benchmarks/get_certificates.py [--runs 10]``.
Goal: the listing in at most 0.4 s. Listing needs no private key operation beyond the
ready check's "key matches certificate", which compares public keys.

Setup (not timed) issues every example that can issue offline (all of ``examples/``
but the ACME, Vault and Venafi ones, so nothing contacts a CA) into a temporary
``dir:`` store. The timed command then lists all of ``examples/``, as a user would.
Printed side by side: a bare ``python -c "import certctl"`` and ``certctl --version``
(the floor every command pays), and the in-process time of decoding the Secrets
(the private keys included), which is the part this benchmark watches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import certctl_command, median, time_command

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
#: Example folders whose issuers need a server; the setup leaves them out.
#: Example folders whose issuers need a network (the dns01-* ones too).
ONLINE = {"acme", "vault", "venafi"}
GOAL = 0.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    certctl = certctl_command()
    # Bytecode is written and read as for an installed package, whatever the shell says.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        env = {"CERTCTL_STATE_DIR": str(root / "state"), "CERTCTL_STORE": f"dir:{root / 'certs'}"}
        issued = issue_offline_examples(certctl, env)
        listing = [*certctl, "get", "certificates", "-A", "-f", str(EXAMPLES)]
        commands = {
            'python -c "import certctl"': [sys.executable, "-c", "import certctl"],
            "certctl --version": [*certctl, "--version"],
            "certctl get certificates -A -f examples/": listing,
        }
        for argv in commands.values():
            time_command(argv, runs=1, env=env)  # warm the bytecode and file caches
        print(f"{'':<42} wall-clock median (min, max); CPU median")
        for label, argv in commands.items():
            walls, cpus = time_with_cpu(argv, runs=args.runs, env=env)
            verdict = f"; goal <= {GOAL:.1f} s" if argv is listing else ""
            print(
                f"{label:<42} {median(walls):.3f} s ({min(walls):.3f}, {max(walls):.3f}); "
                f"CPU {median(cpus):.3f} s{verdict}"
            )
        keys, seconds = time_decoding(root / "certs")
        print(
            f"{'of which decoding the Secrets':<42} {seconds:.3f} s in-process "
            f"({keys} private keys; {issued} certificates issued by the setup)"
        )


def time_with_cpu(
    argv: list[str], *, runs: int, env: dict[str, str]
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + system) seconds of each run.

    On a shared machine the wall clock also counts waiting for a core; the CPU time
    is what the command itself costs.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def issue_offline_examples(certctl: list[str], env: dict[str, str]) -> int:
    folders = sorted(
        p
        for p in EXAMPLES.iterdir()
        if p.is_dir() and p.name not in ONLINE and not p.name.startswith("dns01-")
    )
    argv = [*certctl, "issue", "-o", "json"]
    for folder in folders:
        argv += ["-f", str(folder)]
    done = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"setup failed (exit {done.returncode}):\n{done.stderr}")
    return sum(1 for item in json.loads(done.stdout)["results"] if item["outcome"] == "issued")


def time_decoding(store_path: Path) -> tuple[int, float]:
    """Decode every Certificate's Secret as the listing does, in this process."""
    from certctl.api.ingress import with_ingress_certificates
    from certctl.api.loader import load_manifests
    from certctl.engine.reconcile import decode_secret
    from certctl.stores.directory import DirectoryStore

    manifests = with_ingress_certificates(
        load_manifests([str(EXAMPLES)], default_namespace="default")
    )
    store = DirectoryStore(store_path)
    records = [
        (certificate, store.read(certificate.namespace, certificate.spec.secret_name))
        for certificate in manifests.certificates
    ]
    # Imports (cryptography) happen on the first Secret with data: outside the measurement.
    decode_secret(*next((c, r) for c, r in records if r is not None))
    started = time.perf_counter()
    views = [decode_secret(certificate, record) for certificate, record in records]
    seconds = time.perf_counter() - started
    return sum(1 for view in views if view.key is not None), seconds


if __name__ == "__main__":
    main()
