"""The Typer classes certctl's command groups are built from, for help a new user can read.

Typer's default help cuts each command's summary to fit one line (``get --help`` lost
its alias lists) and, since Typer 0.29, writes arguments as ``{TARGET}`` in the usage
line and ``TARGET <str>`` in the Arguments list. These classes print the whole first
sentence of each summary, wrapped, and arguments the way kubectl and Click write them:
``inspect [OPTIONS] TARGET``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

Function = TypeVar("Function", bound=Callable[..., Any])

#: make_default_short_help cuts past this many characters; the first sentence ends sooner.
_WHOLE_SENTENCE = 10_000


class HelpGroup(TyperGroup):
    """A command group that lists its commands with their whole first sentence."""

    # ctx and formatter are Click's own types, which Typer ships privately: Any here.
    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit=_WHOLE_SENTENCE)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class HelpCommand(TyperCommand):
    """A command whose arguments read ``NAME`` (required) and ``[NAME]`` (optional)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(argument_usage(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments = []
        options = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                arguments.append((argument_name(param), record[1]))
            else:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def argument_name(argument: TyperArgument) -> str:
    """``TARGET``, ``TOKEN=KEYAUTH...``: the metavar, with ``...`` when it repeats."""
    name = argument.metavar or (argument.name or "").upper()
    if argument.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name


def argument_usage(argument: TyperArgument) -> str:
    """An argument in the usage line: bare when required, in brackets when optional."""
    name = argument_name(argument)
    return name if argument.required else f"[{name}]"


class CertctlTyper(typer.Typer):
    """A Typer app whose groups are ``HelpGroup`` and whose commands are ``HelpCommand``."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("cls", HelpGroup)
        super().__init__(**options)

    def command(self, name: str | None = None, **options: Any) -> Callable[[Function], Function]:
        options.setdefault("cls", HelpCommand)
        return super().command(name, **options)
