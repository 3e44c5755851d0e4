"""``safemed``: the root command group.

Subcommands live in modules named after them (``cli/eval_cmd.py`` …) and are attached here, so
this file stays a table of contents. User-facing :class:`~safemed.errors.SafemedError` s become a
one-line ``error: …`` and their exit code instead of a traceback.
"""

from __future__ import annotations

import importlib

import click

from safemed import __version__
from safemed.cli.commands import COMMANDS
from safemed.cli.common import ErrorPrintingGroup


class SafemedGroup(ErrorPrintingGroup):
    """A click group that loads subcommands lazily and prints SafemedErrors cleanly."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=SafemedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="safemed")
def cli() -> None:
    """safemed: curate, evaluate and red-team a medical language model, with evidence.

    Implements the SafeMed-R1 method: clinical-trust-signal curation in a tamper-evident ledger,
    capability and safety evaluation with confidence intervals, judge panels validated against
    each other and against humans, and adversarial stress tests.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="safemed")
