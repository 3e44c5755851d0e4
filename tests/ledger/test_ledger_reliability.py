"""Ten concurrent writer processes lose nothing; a SIGKILL mid-import leaves the ledger as it was."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

import pytest

from safemed.ledger import Ledger, load_keys

from .factory import item_events
from .workers import append_reviews, open_fresh_sqlite

WRITERS, ROUNDS = 10, 15
REPO = Path(__file__).resolve().parents[2]


def _importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``spawn`` children (which copy ``sys.path``) import this test package under whatever
    name pytest gave it (``ledger.workers`` or ``tests.ledger.workers``)."""
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    monkeypatch.syspath_prepend(str(REPO))


def test_ten_concurrent_writers_lose_no_event(db_url: str, key_file: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _importable_tests(monkeypatch)
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        ledger.append(item_events(0, prefix="seed"))
        ledger.checkpoint()
    # fork where there is one (no re-import per child, so the ten really overlap); else spawn
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=append_reviews, args=(db_url, w, ROUNDS, barrier)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        expected = 4 + WRITERS * ROUNDS * 4
        assert ledger.size() == expected
        assert [row.seq for row in ledger.iter_events()] == list(range(expected))
        for w in range(WRITERS):
            for r in range(ROUNDS):
                assert len(ledger.seqs_for_item(f"w{w}-{r:07d}")) == 4
        ledger.checkpoint()
        report = ledger.verify()
        assert report.ok, report.lines()


def test_sigkill_mid_import_leaves_ledger_unchanged(db_url: str, key_file: Path,
                                                    kill_mid_import: Callable[[list[str], str, int], None]) -> None:
    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        ledger.append(ev for i in range(3) for ev in item_events(i))
        before = ledger.checkpoint()
    kill_mid_import(["tests.ledger.workers", db_url], db_url, before.tree_size)

    with Ledger.open(db_url, keys=load_keys(key_file)) as ledger:
        assert ledger.size() == before.tree_size
        assert ledger.root() == before.root_hash
        assert ledger.seqs_for_item("killed-0000000") == []
        assert ledger.verify().ok
        assert ledger.append(item_events(7)) == range(12, 16)  # the lock was released
        ledger.checkpoint()
        assert ledger.verify().ok


def test_processes_opening_a_fresh_sqlite_file_at_once_all_connect(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The WAL switch on a new file needs it alone; the others wait instead of "database is locked"
    (seen in CI when four app workers started on a fresh file). Six rounds of twelve processes."""
    _importable_tests(monkeypatch)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    for round_ in range(6):
        url = f"sqlite:///{tmp_path / f'fresh{round_}.db'}"
        barrier = ctx.Barrier(12)
        procs = [ctx.Process(target=open_fresh_sqlite, args=(url, barrier)) for _ in range(12)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0] * 12, f"round {round_}"
