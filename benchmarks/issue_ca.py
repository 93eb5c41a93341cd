"""Issuing many ECDSA leaves from a CA issuer into the directory store.

Run: ``python benchmarks/issue_ca.py [--count 1000] [--rounds 3]``.
Goal: at most 1.5x a bare ``cryptography`` loop doing the same work: key generation,
signing, and a durable atomic write of each secret (temp folder, fsync of each file,
rename, fsync of the parent).

The two are measured side by side: each round runs the bare loop and then
``certctl issue`` on fresh folders, and the verdict is the median of the rounds'
ratios, so a burst of load from something else on the machine moves both sides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from _common import (
    BYTECODE_CACHE,
    certctl_command,
    load_average,
    median,
    time_command,
    write_ca_bootstrap,
    write_leaves,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_durably(folder: Path, files: dict[str, bytes]) -> None:
    temporary = folder.with_name(f".{folder.name}.tmp")
    temporary.mkdir(mode=0o700)
    for name, data in files.items():
        descriptor = os.open(temporary / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    os.rename(temporary, folder)
    parent = os.open(folder.parent, os.O_RDONLY)
    try:
        os.fsync(parent)
    finally:
        os.close(parent)


def bare_loop(count: int, root: Path) -> float:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bare root")])
    now = dt.datetime.now(dt.UTC)
    ca_pem = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    os.sync()  # neither side pays for the other's (or the last round's) writeback
    started = time.perf_counter()
    for index in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        name = f"leaf-{index}.example.test"
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        write_durably(
            root / f"leaf-{index}",
            {
                "tls.crt": certificate.public_bytes(serialization.Encoding.PEM),
                "tls.key": key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                ),
                "ca.crt": ca_pem,
            },
        )
    return time.perf_counter() - started


def one_round(certctl: list[str], count: int) -> tuple[float, float]:
    """One bare loop and one ``certctl issue`` of ``count`` leaves: (bare, certctl) seconds."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "bare").mkdir()
        bare = bare_loop(count, root / "bare")
        manifests = root / "manifests"
        write_ca_bootstrap(manifests)
        write_leaves(manifests, count)
        env = {
            "CERTCTL_STATE_DIR": str(root / "state"),
            "CERTCTL_STORE": f"dir:{root / 'certs'}",
            **BYTECODE_CACHE,
        }
        # Untimed: the CA, and the bytecode cache an installed certctl would have.
        time_command([*certctl, "issue", "-f", str(manifests), "--name", "root"], runs=1, env=env)
        os.sync()
        [ours] = time_command([*certctl, "-q", "issue", "-f", str(manifests)], runs=1, env=env)
    return bare, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    certctl = certctl_command()
    print(f"load average before: {load_average()}")
    rounds = [one_round(certctl, args.count) for _ in range(args.rounds)]
    for index, (bare, ours) in enumerate(rounds, 1):
        print(f"round {index}: bare {bare:.2f} s, certctl {ours:.2f} s ({ours / bare:.2f}x)")
    bare = median([b for b, _ in rounds])
    ours = median([o for _, o in rounds])
    ratio = median([o / b for b, o in rounds])
    print(f"load average after: {load_average()}")
    print(f"bare cryptography loop, {args.count} leaves: {bare:.2f} s (median)")
    print(
        f"certctl issue,          {args.count} leaves: {ours:.2f} s (median; median ratio "
        f"{ratio:.2f}x, goal <= 1.50x)"
    )


if __name__ == "__main__":
    main()
