"""The list of subcommands attached to ``safemed`` (one import per command module)."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    """Every top-level subcommand, in the order ``safemed --help`` lists them."""
    commands: list[click.Command] = []
    return commands
