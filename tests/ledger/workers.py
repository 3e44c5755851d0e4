"""Code run in child processes by the reliability tests (importable under ``spawn``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

from safemed.ledger import Ledger
from safemed.records.curation import NewEvent

from .factory import item_events


def append_reviews(url: str, worker: int, rounds: int, barrier: Any) -> None:
    """Append ``rounds`` small batches (one item with two reviews each) as fast as possible."""
    with Ledger.open(url) as ledger:
        barrier.wait(timeout=60)
        for r in range(rounds):
            ledger.append(item_events(r, prefix=f"w{worker}"))


def _slow_import(total: int, pause_at: int) -> Iterator[NewEvent]:
    for i in range(total):
        if i == pause_at:
            print("MID-IMPORT", flush=True)
            time.sleep(120)
        yield from item_events(i, reviews=0, prefix="killed")


def killed_import(url: str) -> None:
    """Stream an import that stops half way, after two batches went into the open transaction."""
    with Ledger.open(url) as ledger:
        ledger.append(_slow_import(10_000, 2_500), batch_size=1000)


if __name__ == "__main__":
    killed_import(sys.argv[1])


def open_fresh_sqlite(url: str, barrier: Any) -> None:
    """Open a connection on a fresh SQLite file at the same moment as the other children."""
    from sqlalchemy import text

    from safemed.ledger.db import make_engine

    engine = make_engine(url)
    barrier.wait(timeout=60)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
