"""``certctl renew`` over many certificates with nothing due.

Run: ``python benchmarks/renew_noop.py [--counts 1000 10000] [--runs 5]``.
Goals: 1,000 certificates in at most 1.0 s, 10,000 in at most 3 s, no network.
Setup issues everything once (not timed); the timed runs find nothing due.
"""

from __future__ import annotations

import argparse
import tempfile
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

GOALS = {1000: 1.0, 10000: 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    certctl = certctl_command()
    print(f"load average before: {load_average()}")
    for count in args.counts:
        with tempfile.TemporaryDirectory() as temporary:
            root = Path(temporary)
            manifests = root / "manifests"
            write_ca_bootstrap(manifests)
            write_leaves(manifests, count)
            env = {
                "CERTCTL_STATE_DIR": str(root / "state"),
                "CERTCTL_STORE": f"dir:{root / 'certs'}",
                **BYTECODE_CACHE,
            }
            setup = median(time_command([*certctl, "issue", "-f", str(manifests)], runs=1, env=env))
            times = time_command(
                [*certctl, "-q", "renew", "-f", str(manifests)], runs=args.runs, env=env
            )
            goal = GOALS.get(count)
            verdict = f"goal <= {goal:.1f} s" if goal else "no goal"
            print(
                f"renew, nothing due, {count:>6} certificates: median {median(times):.3f} s "
                f"(min {min(times):.3f}, max {max(times):.3f}; {verdict}); "
                f"initial issue took {setup:.1f} s"
            )


if __name__ == "__main__":
    main()
