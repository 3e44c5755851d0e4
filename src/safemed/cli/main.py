"""``safemed``: the root command group.

Subcommands live in modules named after them (``cli/eval_cmd.py`` …) and are attached here, so
this file stays a table of contents. User-facing :class:`~safemed.errors.SafemedError` s become a
one-line ``error: …`` and their exit code instead of a traceback.
"""

from __future__ import annotations

import sys

import click

from safemed import __version__
from safemed.errors import SafemedError


class SafemedGroup(click.Group):
    """A click group that prints SafemedErrors cleanly."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SafemedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=SafemedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="safemed")
def cli() -> None:
    """safemed: curate, train, evaluate and report on a medical language model, with evidence.

    Implements the SafeMed-R1 method: clinical-trust-signal curation, SFT + GRPO alignment,
    capability and safety evaluation with confidence intervals, and a verifiable evidence package.
    """


def _register() -> None:
    from safemed.cli import commands

    for command in commands.all_commands():
        cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="safemed")
