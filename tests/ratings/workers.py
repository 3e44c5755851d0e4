"""Code run in child processes by the concurrency tests (importable under fork/spawn)."""

from __future__ import annotations

from typing import Any


def open_and_lease(url: str, rank: int, barrier: Any, results: Any) -> None:
    """Start like an app worker on a fresh database (tables created on first use, all at once),
    then ask for a unit of the shared task as rater ``r{rank}``."""
    from safemed.ledger.db import make_engine
    from safemed.ratings import RatingStore, Unit

    engine = make_engine(url)
    try:
        barrier.wait(timeout=60)
        store = RatingStore(engine)  # four processes create the tables at the same moment
        barrier.wait(timeout=60)
        if rank == 0:
            store.create_task("race", "msb", [Unit(id=f"u{i}", prompt="p", responses=("r",)) for i in range(3)])
        barrier.wait(timeout=60)
        task = store.task("race").id
        barrier.wait(timeout=60)
        view = store.next_unit(task, f"r{rank}")
        results.put((rank, None if view is None else view.unit_id))
    finally:
        engine.dispose()
