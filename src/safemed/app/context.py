"""What every request of the review app works with: the :class:`AppContext` on ``app.state.ctx``.

One context per worker process: the settings, the database engine shared by the ledger (the
CTS provenance log, written only through ``safemed.curate``), the app's own tables
(:class:`~safemed.app.store.AppStore`) and the ratings store (judge labelling and gold units,
kept out of the curation ledger so they never reach training data). Everything durable is in the
database, so any number of workers built from the same settings behave as one.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from safemed.app.settings import AppSettings
from safemed.app.store import AppStore
from safemed.ledger.keys import LedgerKeys, default_key_path, load_keys
from safemed.ledger.store import Ledger
from safemed.ratings import RatingStore


@dataclass
class AppContext:
    """The app's long-lived parts (one per process)."""

    settings: AppSettings
    engine: Engine
    ledger: Ledger
    keys: LedgerKeys
    store: AppStore
    ratings: RatingStore

    def close(self) -> None:
        """Release the database connections."""
        self.ledger.close()


def open_ratings(engine: Engine) -> RatingStore:
    """The ratings store (judge labelling, gold units) on ``engine``; creates its tables if missing."""
    return RatingStore(engine)


def build_context(settings: AppSettings) -> AppContext:
    """Open the keyed ledger (created and migrated when new), the app tables and the ratings store.

    The app requires the ledger key: every submission ends with a signed checkpoint, and reviewers
    appear in the ledger only as ``keys.pseudonym(name)``.
    """
    keys = load_keys(settings.key_path or default_key_path())
    ledger = Ledger.open(settings.db_url, keys=keys)
    ledger.check_key()
    store = AppStore(ledger.engine)
    ratings = open_ratings(ledger.engine)
    return AppContext(settings=settings, engine=ledger.engine, ledger=ledger, keys=keys, store=store,
                      ratings=ratings)


def get_ctx(request: Request) -> AppContext:
    """The context of the app serving ``request``."""
    ctx: AppContext = request.app.state.ctx
    return ctx
