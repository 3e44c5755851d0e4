"""Four worker processes starting at once on a fresh database: the tables get created once
without an error, and a one-rater-per-unit task never hands one unit to two of them."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from .workers import open_and_lease

WORKERS = 4
REPO = Path(__file__).resolve().parents[2]


def test_four_workers_create_tables_and_lease_distinct_units(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=open_and_lease, args=(db_url, rank, barrier, results)) for rank in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    got = dict(results.get(timeout=5) for _ in range(WORKERS))
    leased = [u for u in got.values() if u is not None]
    assert sorted(leased) == ["u0", "u1", "u2"]  # three units, three raters, one left without
    assert list(got.values()).count(None) == 1
