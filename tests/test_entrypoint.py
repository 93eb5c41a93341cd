"""The shared lookup of the installed ``certctl`` entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.entrypoint import certctl_binary


def test_the_entry_point_is_found_next_to_the_interpreter_without_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `.venv-test/bin/python -m pytest` from a shell whose PATH lacks .venv-test/bin.
    monkeypatch.setenv("PATH", "/nonexistent")

    found = certctl_binary()

    assert Path(found).parent == Path(sys.executable).parent
    result = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("certctl ")
