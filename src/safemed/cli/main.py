"""``safemed``: the root command group.

Subcommands live in modules named after them (``cli/eval_cmd.py`` …) and are attached here, so
this file stays a table of contents. User-facing :class:`~safemed.errors.SafemedError` s become a
one-line ``error: …`` and their exit code instead of a traceback.
"""

from __future__ import annotations

import gc
import importlib

import click

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


def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the installed version (read only when asked for)."""
    if not value or ctx.resilient_parsing:
        return
    from safemed import __version__

    click.echo(f"safemed, version {__version__}")
    ctx.exit()


@click.group(cls=SafemedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=show_version,
              help="Show the version and exit.")
def cli() -> None:
    """safemed: curate, evaluate and red-team a medical language model, with evidence.

    Implements the SafeMed-R1 method: clinical-trust-signal curation in a tamper-evident ledger,
    capability and safety evaluation with confidence intervals, judge panels validated against
    each other and against humans, and adversarial stress tests.
    """


def main() -> None:
    """Console-script entry point.

    When the command is done the process ends, so whatever is still alive is frozen out of the
    cyclic garbage collector first: the interpreter's collections at exit would otherwise walk
    every object of every imported module (about 0.1 s after an evaluation, as long as its
    scoring and writing together). Outputs are closed and flushed by then; files, sockets and
    memory go back to the OS; module teardown and atexit handlers still run.
    """
    try:
        cli(prog_name="safemed")
    finally:
        gc.freeze()
