"""``--help`` as a new user reads it, and shell completion."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from certctl.cli.main import app
from tests.entrypoint import certctl_binary

#: Typer's markers that kubectl-style help does not have: ``TARGET <str>``, ``{TARGET}``.
TYPE_MARKER = re.compile(r"<(str|int|float|bool|path|datetime|[a-z]+ range|list\[\w+\])>")
BRACED_ARGUMENT = re.compile(r"\{[A-Z][A-Z0-9_=.-]*\}")


def command_paths(command: Any = None, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group ``certctl --help`` leads to, hidden aliases left out."""
    command = command or typer.main.get_command(app)
    paths = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        if not sub.hidden:
            paths.extend(command_paths(sub, (*path, name)))
    return paths


COMMANDS = command_paths()
GROUPS = [path for path in COMMANDS if path in {(), ("get",), ("describe",), ("challenge",)}]


def show_help(*path: str) -> Result:
    # A fixed width: the help must fit a plain 80-column terminal, as in CI.
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result


def commands_section(text: str) -> list[str]:
    return text.split("\nCommands:\n", 1)[1].splitlines()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(("certctl", *path)))
def test_no_help_shows_typer_type_markers(path: tuple[str, ...]) -> None:
    text = show_help(*path).stdout

    assert not TYPE_MARKER.search(text), text
    assert not BRACED_ARGUMENT.search(text), text


@pytest.mark.parametrize("path", GROUPS, ids=lambda path: " ".join(("certctl", *path)))
def test_command_lists_show_each_whole_summary(path: tuple[str, ...]) -> None:
    lines = commands_section(show_help(*path).stdout)

    assert lines
    assert not [line for line in lines if line.rstrip().endswith("...")], "\n".join(lines)


def test_get_help_shows_every_alias() -> None:
    text = flat(show_help("get").stdout)

    for aliases in (
        "(aliases: certificate, cert, certs)",
        "(aliases: issuer, iss)",
        "(aliases: clusterissuer, ciss)",
        "(alias: order)",
        "(alias: challenge)",
    ):
        assert aliases in text


def test_describe_help_names_every_kind_it_describes() -> None:
    summary = flat(show_help("describe").stdout.split("Options:")[0])

    assert "Certificate, Issuer, ClusterIssuer, Order or Challenge" in summary


def test_inspect_help_writes_its_argument_as_kubectl_does() -> None:
    text = show_help("inspect").stdout

    assert text.startswith("Usage: certctl inspect [OPTIONS] TARGET\n")
    assert "\n  TARGET  A PEM/DER/PKCS#12 file" in text


@pytest.mark.parametrize(
    ("path", "usage"),
    [
        pytest.param(("get", "certificates"), "[OPTIONS] [NAME]", id="an optional argument"),
        pytest.param(("describe", "issuer"), "[OPTIONS] NAME", id="a required argument"),
        pytest.param(
            ("challenge", "serve"), "[OPTIONS] [TOKEN=KEYAUTH...]", id="a repeated argument"
        ),
    ],
)
def test_usage_lines_bracket_optional_arguments_only(path: tuple[str, ...], usage: str) -> None:
    first_line = show_help(*path).stdout.splitlines()[0]

    assert first_line == f"Usage: certctl {' '.join(path)} {usage}"


# -- shell completion ----------------------------------------------------------------------


def test_the_help_offers_shell_completion() -> None:
    text = show_help().stdout

    assert "--install-completion" in text
    assert "--show-completion" in text


def test_show_completion_prints_the_bash_script_in_bash() -> None:
    # Typer finds the shell among certctl's parent processes; `; :` keeps bash as the parent
    # instead of letting it exec certctl.
    result = subprocess.run(
        ["bash", "-c", f"{certctl_binary()} --show-completion; :"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "_CERTCTL_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _certctl_completion certctl" in result.stdout


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        pytest.param("certctl g", ["get"], id="a command from its first letter"),
        pytest.param(
            "certctl describe c",
            ["certificate", "clusterissuer", "challenge"],
            id="the kinds describe takes, without hidden aliases",
        ),
        pytest.param("certctl get cert", ["certificates"], id="a subcommand of get"),
        pytest.param(
            "certctl get certificates --all", ["--all-namespaces"], id="an option of a subcommand"
        ),
        pytest.param("certctl --sto", ["--store"], id="a global option"),
    ],
)
def test_bash_completion_completes_commands_and_options(words: str, expected: list[str]) -> None:
    # What the script printed by --show-completion asks certctl on each Tab.
    result = subprocess.run(
        [certctl_binary()],
        env={
            **os.environ,
            "_CERTCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected
