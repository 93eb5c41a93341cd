"""The installed ``certctl`` console script, for the tests that run it in a subprocess."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def find_certctl() -> str | None:
    """The ``certctl`` script beside the running interpreter, else the one on PATH.

    ``.venv-test/bin/python -m pytest`` works without that folder on PATH: pip puts the
    console script next to the interpreter it installed into, so look there first.
    """
    beside = Path(sys.executable).parent / "certctl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("certctl")


def certctl_binary() -> str:
    """The path of the ``certctl`` entry point; fails the test when it is not installed."""
    path = find_certctl()
    if path is None:
        pytest.fail(
            f"the certctl entry point is neither next to {sys.executable} nor on PATH: "
            "run `pip install -e .` first"
        )
    return path
