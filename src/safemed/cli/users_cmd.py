"""``safemed users``: the review app's accounts, from the terminal.

The physicians of SafeMed-R1's review (160 in 14 specialties) each get an account with a role
and their specialties; their user name is the roster's ``reviewer_id`` and reaches the ledger
only as a keyed pseudonym. Passwords are read from a file (``--password-file``, first line) or
prompted for without echo — never taken on the command line, where shell history and ``ps``
would see them — and stored only as argon2 hashes::

    safemed users add dr.lee@example.org --role reviewer --specialty cardiology --specialty pediatrics
    safemed users list
    safemed users disable dr.lee@example.org
    safemed users reset-password dr.lee@example.org --password-file new.txt

``--db`` is the app's database (default ``$SAFEMED_APP_DB``, else the ledger default).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from safemed.cli.common import ErrorPrintingGroup
from safemed.errors import ConfigError

if TYPE_CHECKING:
    from safemed.app.store import AppStore


def _db_option(fn: Any) -> Any:
    return click.option("--db", "db_url", default=None, metavar="URL",
                        help="SQLite path or postgresql:// URL [default: $SAFEMED_APP_DB, $SAFEMED_DB or "
                             "./safemed.db]")(fn)


def _store(db_url: str | None) -> AppStore:
    from safemed.app.store import AppStore
    from safemed.ledger import db

    url = db_url or os.environ.get("SAFEMED_APP_DB") or db.default_db_url()
    return AppStore(db.make_engine(url))


def read_password(password_file: Path | None, *, confirm: bool = True) -> str:
    """The password from the first line of ``password_file``, else prompted (hidden, twice);
    refused when it breaks the app's policy (12 to 256 characters)."""
    from safemed.app.i18n import t
    from safemed.app.security import password_problem

    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{password_file}: cannot read the password file ({exc})") from exc
        password = lines[0] if lines else ""
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=confirm)
    problem = password_problem(password)
    if problem:
        raise ConfigError(t(problem))
    return password


@click.group("users", cls=ErrorPrintingGroup)
def users() -> None:
    """Accounts of the review app (reviewers, adjudicators, admins)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["reviewer", "adjudicator", "admin"]), required=True)
@click.option("--specialty", "specialties", multiple=True, help="a specialty the user reviews (repeatable)")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="read the password from the first line of this file (else it is prompted for)")
@click.option("--language", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@_db_option
def add_cmd(name: str, role: str, specialties: tuple[str, ...], password_file: Path | None, language: str,
            db_url: str | None) -> None:
    """Create the account NAME."""
    from safemed.app.i18n import t
    from safemed.app.routes_users import check_name
    from safemed.app.security import hash_password

    if problem := check_name(name):
        raise ConfigError(f"{name!r}: {t(problem)}")
    specs = sorted({s.strip() for s in specialties if s.strip()})
    if role == "reviewer" and not specs:
        raise ConfigError("a reviewer needs at least one --specialty")
    store = _store(db_url)
    if store.get_user(name) is not None:
        raise ConfigError(f"a user named {name!r} already exists")
    password = read_password(password_file)
    try:
        store.add_user(name, hash_password(password), role, specs, language)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    store.audit(None, "user_added", f"{name} role={role} specialties={','.join(specs)} (cli)")
    click.echo(f"added {name} ({role}{': ' + ', '.join(specs) if specs else ''})")


@users.command("list")
@_db_option
def list_cmd(db_url: str | None) -> None:
    """Every account: name, role, specialties, language, state."""
    store = _store(db_url)
    rows = store.list_users()
    if not rows:
        click.echo("no users (add one with `safemed users add NAME --role ROLE`)")
        return
    width = max(len(u.name) for u in rows)
    now = time.time()
    for u in rows:
        state = "disabled" if u.disabled else "locked" if u.locked_until > now else "active"
        click.echo(f"{u.name:<{width}}  {u.role:<11}  {u.language}  {state:<8}  {', '.join(u.specialties)}".rstrip())


def _existing(db_url: str | None, name: str) -> tuple[AppStore, int]:
    store = _store(db_url)
    user = store.get_user(name)
    if user is None:
        raise ConfigError(f"no user named {name!r} (see `safemed users list`)")
    return store, user.id


@users.command("disable")
@click.argument("name")
@_db_option
def disable_cmd(name: str, db_url: str | None) -> None:
    """Disable the account NAME and end its sessions."""
    store, user_id = _existing(db_url, name)
    store.set_disabled(user_id, True)
    store.audit(None, "user_disabled", f"{name} (cli)")
    click.echo(f"disabled {name}")


@users.command("enable")
@click.argument("name")
@_db_option
def enable_cmd(name: str, db_url: str | None) -> None:
    """Re-enable the account NAME."""
    store, user_id = _existing(db_url, name)
    store.set_disabled(user_id, False)
    store.audit(None, "user_enabled", f"{name} (cli)")
    click.echo(f"enabled {name}")


@users.command("reset-password")
@click.argument("name")
@click.option("--password-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="read the new password from the first line of this file (else it is prompted for)")
@_db_option
def reset_cmd(name: str, password_file: Path | None, db_url: str | None) -> None:
    """Set a new password for NAME (clears a lock-out, ends its sessions)."""
    from safemed.app.security import hash_password
    store, user_id = _existing(db_url, name)
    password = read_password(password_file)
    store.set_password(user_id, hash_password(password))
    store.audit(None, "password_reset", f"{name} (cli)")
    click.echo(f"new password set for {name}")
