"""ACME issuance speed: certctl against certbot and lego, all on the same Pebble.

Run from the repository root: ``python benchmarks/acme_vs_peers.py [--count 50]``.

The script starts BIND (so Pebble resolves every test name to 127.0.0.1) and
Pebble itself, then issues ``--count`` certificates with HTTP-01:

* certctl: one ``certctl issue`` run over ``--count`` Certificates (its normal use);
* certbot (from PyPI, installed into ``benchmarks/.venv-peers`` on first use) and
  lego (Debian's ``lego`` package): one run per certificate, as those tools are used.

It prints the totals, the time for a single certificate, and the ratios. Goals: certctl
at least 10x faster than the faster peer over ``--count`` certificates, and a single
certificate no slower than certbot.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.servers.bind import BindServer  # noqa: E402
from tests.integration.servers.pebble import PebbleServer  # noqa: E402

PEERS_VENV = REPO / "benchmarks" / ".venv-peers"


def certbot_binary() -> str:
    binary = PEERS_VENV / "bin" / "certbot"
    if not binary.exists():
        print("installing certbot from PyPI into benchmarks/.venv-peers ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(PEERS_VENV / "bin" / "pip"), "install", "-q", "certbot"], check=True)
    return str(binary)


def lego_binary() -> str:
    binary = shutil.which("lego")
    if binary is None:
        sys.exit("lego is missing: install it with `apt-get install lego`")
    return binary


def certctl_binary() -> str:
    binary = shutil.which("certctl")
    if binary is None:
        sys.exit("certctl is not installed: run `pip install -e .` first")
    return binary


def names(tool: str, count: int, run: str) -> list[str]:
    return [f"{tool}{index}.{run}.example.test" for index in range(count)]


def time_certctl(pebble: PebbleServer, bind: BindServer, work: Path, domains: list[str]) -> float:
    documents = [
        f"""apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {{name: pebble}}
spec:
  acme:
    server: {pebble.directory_url}
    caBundle: {pebble.ca_bundle_base64}
    privateKeySecretRef: {{name: pebble-account}}
    solvers:
      - http01: {{standalone: {{port: {pebble.http_port}, address: 127.0.0.1}}}}
"""
    ]
    documents += [
        f"""apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: c{index}}}
spec:
  secretName: c{index}-tls
  dnsNames: [{domain}]
  issuerRef: {{name: pebble, kind: ClusterIssuer}}
"""
        for index, domain in enumerate(domains)
    ]
    manifest = work / "certctl.yaml"
    manifest.write_text("---\n".join(documents))
    command = [
        certctl_binary(),
        "--store",
        f"dir:{work / 'certs'}",
        "--state-dir",
        str(work / "state"),
        "--acme-http01-solver-nameservers",
        bind.address,
        "--acme-http01-check-port",
        str(pebble.http_port),
        "--concurrency",
        "16",
        "-q",
        "issue",
        "-f",
        str(manifest),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_certbot(pebble: PebbleServer, work: Path, domains: list[str]) -> float:
    binary = certbot_binary()
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle_path)}
    started = time.perf_counter()
    for domain in domains:
        subprocess.run(
            [
                binary,
                "certonly",
                "--standalone",
                "--non-interactive",
                "--agree-tos",
                "--register-unsafely-without-email",
                "--server",
                pebble.directory_url,
                "--http-01-port",
                str(pebble.http_port),
                "--http-01-address",
                "127.0.0.1",
                "--config-dir",
                str(work / "certbot" / "config"),
                "--work-dir",
                str(work / "certbot" / "work"),
                "--logs-dir",
                str(work / "certbot" / "logs"),
                "-d",
                domain,
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - started


def time_lego(pebble: PebbleServer, work: Path, domains: list[str]) -> float:
    binary = lego_binary()
    env = {**os.environ, "LEGO_CA_CERTIFICATES": str(pebble.ca_bundle_path)}
    started = time.perf_counter()
    for domain in domains:
        subprocess.run(
            [
                binary,
                "--server",
                pebble.directory_url,
                "--accept-tos",
                "--email",
                "bench@example.test",
                "--http",
                "--http.port",
                f"127.0.0.1:{pebble.http_port}",
                "--path",
                str(work / "lego"),
                "--domains",
                domain,
                "run",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--skip-lego", action="store_true")
    parser.add_argument("--skip-certbot", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        (work / "bind").mkdir()
        with BindServer(work / "bind") as bind, PebbleServer(dns_server=bind.address) as pebble:
            figures: dict[str, tuple[float, float]] = {}
            for tool in ("certctl", "certbot", "lego"):
                if getattr(args, f"skip_{tool}", False):
                    continue
                tool_dir = work / tool
                tool_dir.mkdir()
                single_dir = work / f"{tool}-single"
                single_dir.mkdir()
                if tool == "certctl":
                    single = time_certctl(pebble, bind, single_dir, names(tool, 1, "single"))
                    total = time_certctl(pebble, bind, tool_dir, names(tool, args.count, "bulk"))
                elif tool == "certbot":
                    single = time_certbot(pebble, single_dir, names(tool, 1, "single"))
                    total = time_certbot(pebble, tool_dir, names(tool, args.count, "bulk"))
                else:
                    single = time_lego(pebble, single_dir, names(tool, 1, "single"))
                    total = time_lego(pebble, tool_dir, names(tool, args.count, "bulk"))
                figures[tool] = (single, total)
                print(
                    f"{tool:8} 1 certificate: {single:6.2f} s   {args.count} certificates: "
                    f"{total:7.2f} s",
                    flush=True,
                )
    ours_single, ours_total = figures["certctl"]
    peers = {tool: values for tool, values in figures.items() if tool != "certctl"}
    if peers:
        fastest = min(peers, key=lambda tool: peers[tool][1])
        print(
            f"{args.count} certificates: certctl is {peers[fastest][1] / ours_total:.1f}x faster "
            f"than {fastest}, the faster peer (goal: at least 10x)"
        )
    if "certbot" in figures:
        print(
            f"1 certificate: certctl {ours_single:.2f} s, certbot {figures['certbot'][0]:.2f} s "
            "(goal: certctl no slower)"
        )


if __name__ == "__main__":
    main()
