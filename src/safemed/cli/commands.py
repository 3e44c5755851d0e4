"""The list of subcommands attached to ``safemed`` (one import per command module)."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    """Every top-level subcommand, in the order ``safemed --help`` lists them."""
    from safemed.cli.benchmarks_cmd import benchmarks
    from safemed.cli.compare_cmd import compare_command
    from safemed.cli.eval_cmd import eval_command
    from safemed.cli.quickstart_cmd import quickstart_command

    return [quickstart_command, eval_command, benchmarks, compare_command]
