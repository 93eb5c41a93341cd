"""Start-up time: ``certctl --help`` and ``--version`` against a bare Typer app.

Run: ``python benchmarks/startup.py [--runs 15]``. Goal: at most 1.3x the bare app.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import certctl_command, median, time_command

BARE_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


app()
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        bare = Path(temporary) / "bare.py"
        bare.write_text(BARE_APP)
        bare_help = median(time_command([sys.executable, str(bare), "--help"], runs=args.runs))
        certctl = certctl_command()
        help_time = median(time_command([*certctl, "--help"], runs=args.runs))
        version_time = median(time_command([*certctl, "--version"], runs=args.runs))
    print(f"bare Typer app --help : {bare_help * 1000:7.1f} ms")
    for label, seconds in (("--help", help_time), ("--version", version_time)):
        ratio = seconds / bare_help
        print(f"certctl {label:<13} : {seconds * 1000:7.1f} ms  ({ratio:.2f}x, goal <= 1.30x)")


if __name__ == "__main__":
    main()
