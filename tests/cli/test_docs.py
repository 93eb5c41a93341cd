"""The READMEs show what certctl does and prints today."""

from __future__ import annotations

import re

import typer

from certctl.cli.main import app
from tests.cli.conftest import REPO, Cli


def test_the_readme_table_has_every_command() -> None:
    readme = (REPO / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `certctl "))
    commands = getattr(typer.main.get_command(app), "commands", {})

    missing = [
        name
        for name, command in commands.items()
        if not command.hidden and f"| `certctl {name}" not in table
    ]

    assert missing == []


def test_the_examples_readme_shows_what_validate_prints(cli: Cli) -> None:
    readme = (REPO / "examples" / "README.md").read_text()
    shown = re.search(r"^\$ certctl validate -f examples/\n(.*)$", readme, re.MULTILINE)
    assert shown is not None, "examples/README.md no longer shows `certctl validate -f examples/`"

    result = cli.ok("validate", "-f", REPO / "examples")

    assert result.stdout.strip() == shown.group(1)
