"""Ledger benchmark: the paper's CTS scale (362K items) imported, verified and proved.

Imports N synthetic items plus R physician reviews each (default 362,000 items × 2 reviews =
1,086,000 events) into a fresh SQLite ledger in batched transactions, signs a checkpoint, runs a
full ``verify`` (every leaf hash and the root recomputed from the stored events), then times
inclusion proofs for random items. The same events are also inserted into a plain SQLite table
(no hashing, no tree) in the same run, as the baseline the ledger's cost is shown against.

Targets (the ledger issue): import + verify < 3 minutes on 2 cores; an item's inclusion proofs
< 5 ms; memory bounded (events are generated, inserted and verified in streamed batches).

    python benchmarks/ledger_bench.py --items 362000            # full size
    python benchmarks/ledger_bench.py --items 20000 --keep DIR  # quick, keep the databases
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from safemed.ledger import Ledger, LedgerKeys, item_proofs
from safemed.records.curation import Item, NewEvent, Review, RubricScores, event_document, event_for

SPECIALTIES = ("cardiology", "neurology", "oncology", "pediatrics", "emergency", "endocrinology",
               "infectious disease", "nephrology", "pulmonology", "gastroenterology", "psychiatry",
               "obstetrics", "surgery", "dermatology")  # the paper's 14 specialties (names illustrative)


def synthetic_events(start: int, stop: int, reviews: int, keys: LedgerKeys) -> Iterator[NewEvent]:
    """Item ``i`` and its ``reviews`` reviews, validated through the pydantic records."""
    rng = random.Random(start)
    for i in range(start, stop):
        item_id = f"cts-{i:07d}"
        specialty = SPECIALTIES[i % len(SPECIALTIES)]
        yield event_for(Item(id=item_id, question=f"A {40 + i % 40}-year-old presents with finding {i}. "
                             "What is the most appropriate next step?",
                             options={"A": "observe", "B": "order imaging", "C": "start treatment",
                                      "D": "refer"}, gold="BC"[i % 2], specialty=specialty,
                             source="synthetic"), actor="system")
        for r in range(reviews):
            who = keys.pseudonym(f"physician-{(i * 7 + r) % 160}")  # 160 physicians
            scores = RubricScores(medical_correctness=rng.randint(1, 5), reasoning_structure=rng.randint(1, 5),
                                  information_sufficiency=rng.randint(1, 5),
                                  terminology_language=rng.randint(1, 5), clinical_utility=rng.randint(1, 5))
            yield event_for(Review(id=f"{item_id}-r{r}", item_id=item_id, trace_id=f"{item_id}-t1",
                                   reviewer=who, specialty=specialty, scores=scores,
                                   comment="Reasoning is sound; add the contraindication.",
                                   seconds_spent=rng.randint(30, 900)), actor=who)


def raw_insert(conn: sqlite3.Connection, first_seq: int, events: list[NewEvent]) -> None:
    """The baseline: the same rows into a plain WAL table, one transaction, no hashing."""
    rows = [(first_seq + k, e.event_type.value, e.item_id, e.created_at,
             json.dumps(event_document(e, first_seq + k), separators=(",", ":")))
            for k, e in enumerate(events)]
    with conn:
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)


def timed_ms(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return (time.perf_counter() - start) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=362_000)
    parser.add_argument("--reviews", type=int, default=2, help="reviews per item")
    parser.add_argument("--chunk", type=int, default=10_000, help="items per import transaction")
    parser.add_argument("--proofs", type=int, default=200, help="random items to prove")
    parser.add_argument("--cores", type=int, default=2, help="pin to this many CPUs (0: leave as is)")
    parser.add_argument("--keep", type=Path, default=None, help="write the databases here and keep them")
    args = parser.parse_args(argv)

    if args.cores and hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, available[:args.cores])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    ledger_db, raw_db = folder / "ledger.db", folder / "raw.db"
    for path in (ledger_db, raw_db):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)

    keys = LedgerKeys.generate()
    raw = sqlite3.connect(raw_db, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, event_type TEXT, item_id TEXT, "
                "created_at TEXT, body TEXT)")
    raw.execute("CREATE INDEX ix_item ON events (item_id, seq)")
    raw.isolation_level = ""  # back to implicit transactions: `with raw:` commits each chunk
    ledger = Ledger.open(str(ledger_db), keys=keys)

    t_gen = t_raw = t_append = 0.0
    n_events = 0
    for start in range(0, args.items, args.chunk):
        t0 = time.perf_counter()
        chunk = list(synthetic_events(start, min(start + args.chunk, args.items), args.reviews, keys))
        t1 = time.perf_counter()
        raw_insert(raw, n_events, chunk)
        t2 = time.perf_counter()
        ledger.append(chunk)
        t3 = time.perf_counter()
        t_gen, t_raw, t_append = t_gen + t1 - t0, t_raw + t2 - t1, t_append + t3 - t2
        n_events += len(chunk)
        print(f"\r  imported {n_events:,} events", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    raw.close()
    t0 = time.perf_counter()
    checkpoint = ledger.checkpoint()
    t_checkpoint = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = ledger.verify()
    t_verify = time.perf_counter() - t0
    if not report.ok:
        print("\n".join(report.lines()))
        return 1

    rng = random.Random(0)
    items = [f"cts-{rng.randrange(args.items):07d}" for _ in range(args.proofs)]
    item_ms = [timed_ms(lambda i: ledger.inclusion_proofs(ledger.seqs_for_item(i)), item) for item in items]
    bundle_ms = [timed_ms(item_proofs, ledger, item) for item in items[:50]]
    one_ms = [timed_ms(ledger.inclusion_proof, rng.randrange(n_events)) for _ in range(args.proofs)]
    assert item_proofs(ledger, items[0])["all_verified"]
    ledger.close()

    def p95(values: list[float]) -> float:
        return sorted(values)[int(0.95 * (len(values) - 1))]

    rows = [("generate records (pydantic)", t_gen), ("raw SQLite insert (baseline)", t_raw),
            ("ledger append (canonical+hash+tree+insert)", t_append),
            ("ledger verify (full recompute)", t_verify)]
    print(f"\nledger benchmark: {args.items:,} items × (1 + {args.reviews} reviews) = {n_events:,} events; "
          f"{cpus} CPUs; SQLite {sqlite3.sqlite_version}; Python {sys.version.split()[0]}")
    print(f"{'phase':<44}{'seconds':>10}{'events/s':>12}{'vs raw':>9}")
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>10.1f}{n_events / seconds:>12,.0f}{seconds / t_raw:>8.1f}×")
    print(f"{'ledger checkpoint (root + Ed25519 signature)':<44}{t_checkpoint * 1000:>8.1f} ms")
    total = t_gen + t_append + t_checkpoint + t_verify
    print(f"{'import + verify, all in (target < 180 s)':<44}{total:>10.1f}")
    print(f"{'inclusion proofs of one item':<44}median {statistics.median(item_ms):.2f} ms, p95 "
          f"{p95(item_ms):.2f} ms, max {max(item_ms):.2f} ms (target < 5 ms)")
    print(f"{'  one event':<44}median {statistics.median(one_ms):.2f} ms, p95 {p95(one_ms):.2f} ms")
    print(f"{'  `proof` bundle (+ consistency, checks)':<44}median {statistics.median(bundle_ms):.2f} ms")
    mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak memory (RSS)':<44}{mib:.0f} MiB")
    sizes = {p.name: sum(f.stat().st_size for f in folder.glob(p.name + '*')) for p in (raw_db, ledger_db)}
    print(f"{'database size':<44}ledger {sizes['ledger.db'] / 2**20:.0f} MiB, raw {sizes['raw.db'] / 2**20:.0f} MiB")
    kept = f"; databases kept in {folder}" if args.keep else ""
    print(f"root {checkpoint.root_hash.hex()} at size {checkpoint.tree_size}{kept}")
    if not args.keep:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
