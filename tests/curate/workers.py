"""Code run in child processes by the curation reliability tests (importable under fork/spawn)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from safemed.curate.reviews import import_reviews
from safemed.ledger import Ledger, load_keys


def import_reviews_worker(url: str, path: str, key_file: str, barrier: Any) -> None:
    """Wait for the others, then import one reviewer's review file (one transaction)."""
    keys = load_keys(Path(key_file))
    with Ledger.open(url) as ledger:
        barrier.wait(timeout=60)
        import_reviews(ledger, Path(path), keys)


def slow_seed_import(url: str, path: str, pause_at: int) -> None:
    """``safemed curate import`` whose event stream stops after ``pause_at`` items, inside the
    open transaction (two batches already inserted), until the test kills the process."""
    import safemed.curate.seeds as seeds

    original = seeds.event_for
    count = 0

    def slow(record: Any, actor: str, created_at: str | None = None) -> Any:
        nonlocal count
        count += 1
        if count == pause_at:
            print("MID-IMPORT", flush=True)
            time.sleep(120)
        return original(record, actor, created_at)

    seeds.event_for = slow  # type: ignore[assignment]
    with Ledger.open(url) as ledger:
        seeds.import_seeds(ledger, Path(path))


if __name__ == "__main__":
    slow_seed_import(sys.argv[1], sys.argv[2], int(sys.argv[3]))


def import_reviews_or_exit(url: str, path: str, key_file: str, barrier: Any) -> None:
    """Like :func:`import_reviews_worker`, but a refused import exits with code 3 (and says why)."""
    from safemed.errors import DataError

    try:
        import_reviews_worker(url, path, key_file, barrier)
    except DataError as exc:
        print(exc, file=sys.stderr)
        sys.exit(3)
