"""Pieces shared by the command modules: the error-printing group and the ledger options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from safemed.errors import SafemedError


class ErrorPrintingGroup(click.Group):
    """A click group that prints SafemedErrors as one ``error:`` line and exits with their code,
    also when the group is used on its own (tests, embedding)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SafemedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


def db_option(fn: Any) -> Any:
    """``--db URL``: the ledger database (SQLite path or postgresql:// URL)."""
    from safemed.ledger import db

    return click.option("--db", "db_url", default=None, metavar="URL",
                        help=f"SQLite path or postgresql:// URL [default: ${db.DB_ENV} or ./{db.DEFAULT_DB}]")(fn)


def key_option(fn: Any) -> Any:
    """``--key PATH``: the ledger key file (signs checkpoints, pseudonymises reviewer ids)."""
    return click.option("--key", "key_path", type=click.Path(path_type=Path), default=None,
                        help="ledger key file (signs checkpoints, pseudonymises reviewer ids) [default: "
                             "$SAFEMED_LEDGER_KEY or ~/.config/safemed/ledger.key]")(fn)


def load_key_option(key_path: Path | None, required: bool) -> Any:
    """The keys from ``--key`` (or the default file); an absent *default* file is fine where the
    command does not need to sign or pseudonymise, a named file must exist."""
    from safemed.ledger.keys import default_key_path, load_keys

    path = key_path or default_key_path()
    if not required and key_path is None and not path.exists():
        return None
    return load_keys(path)
