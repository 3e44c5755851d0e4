"""Curation benchmark: the curate commands on the read model at the paper's scale (362K items).

Builds a ledger of N generated items through the real API (``Ledger.open(url, keys=...)`` and
``Ledger.append`` per chunk of 2,000 items, each item's events consecutive): the item, a ~600-character
trace, a correct attempt, two assignments to reviewers of its specialty (160 reviewers, ~11 per
specialty) and, for most items, their two reviews. 4 % of the items keep both assignments open, 2 %
one; 3 % have reviews scored 1 vs 5 (the adjudication queue), 4 % low scores; 60 % of the items with
two agreeing reviews already carry the retention decision ``safemed curate retain`` would record
(``curate.retain.decide``), so the export has rows and ``retain`` still has work.

Then, at N and at N/10 items, on SQLite and PostgreSQL, it measures what the curation issue asks:

* ``curate status`` < 2 s, as a subprocess: wall time from spawn to reap, peak RSS from ``os.wait4``;
* the next assignment of a reviewer, p95 < 10 ms: ``with open_view(ledger): next_assignment(...)``
  for ~1,000 random reviewers, each in a fresh snapshot;
* one review appended (events + read model + signed checkpoint), p95 < 30 ms: ``submit_review`` for
  ~200 random open assignments with the ledger key loaded; afterwards the latest checkpoint must
  cover the whole tree (size, root, signature);
* peak RSS < 300 MB for every curate command (subprocesses: status, status --json, export-queue,
  adjudicate, retain --dry-run, import, assign, retain, export) and flat: RSS at N / RSS at N/10 ≤ 1.5.

Beside each figure, the replay path measured in the same run at the same size: what every curate
command did before the read model (stream all events, ``LedgerEvent.from_document``, fold with
``all_states``, count the funnel from the states), in a subprocess so its RSS is honest. Its
status counts must equal the read model's.

    python benchmarks/curation_bench.py --quick                      # 20,000 items, both backends
    python benchmarks/curation_bench.py                              # 362,000 items, both backends
    python benchmarks/curation_bench.py --backend sqlite --keep DIR  # keep (and reuse) the ledgers

Exit status 0 when every target passed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.curate import next_assignment, open_assignments, open_view, submit_review
from safemed.curate.adjudicate import panel_reasons
from safemed.curate.retain import RetentionRule, decide
from safemed.curate.reviews import review_id
from safemed.ledger import ItemState, Ledger, LedgerKeys, all_states, load_keys
from safemed.records.curation import (
    RUBRIC_DIMENSIONS,
    Assignment,
    Attempt,
    CurationRecord,
    Item,
    LedgerEvent,
    NewEvent,
    Review,
    RubricScores,
    Trace,
    event_for,
)

SPECIALTIES = ("cardiology", "neurology", "oncology", "pediatrics", "emergency", "endocrinology",
               "infectious disease", "nephrology", "pulmonology", "gastroenterology", "psychiatry",
               "obstetrics", "surgery", "dermatology")  # the paper's 14 specialties (names illustrative)
REVIEWERS = [(f"physician-{r:03d}", SPECIALTIES[r % len(SPECIALTIES)]) for r in range(160)]
OPEN, HALF, WIDE, LOW, DECIDED = 0.04, 0.02, 0.03, 0.04, 0.60  # shares of items (DECIDED: of the agreeing ones)
MB = 1e6
RSS_LIMIT_MIB, FLAT_LIMIT, STATUS_LIMIT_S, NEXT_LIMIT_MS, SUBMIT_LIMIT_MS = 300 * MB / 2**20, 1.5, 2.0, 10.0, 30.0
REASONING = ("The patient is a {age}-year-old with finding {i}. Start from the presentation: the history and "
             "examination point to a process that needs confirmation before treatment, and nothing suggests "
             "instability that would justify acting first. Observation alone (A) would miss a treatable cause "
             "and delay care. Imaging (B) answers the question directly, is widely available and carries little "
             "risk. Starting treatment empirically (C) exposes the patient to harm without a diagnosis, and "
             "referral (D) adds delay without new information at this stage. Weighing benefit, risk and timing, "
             "the most appropriate next step is the one that establishes the diagnosis safely and promptly, "
             "consistent with current guidance for this specialty.")


# -- the generated ledger -----------------------------------------------------------------------


def pools(keys: LedgerKeys) -> dict[str, list[str]]:
    """Reviewer pseudonyms by specialty."""
    out: dict[str, list[str]] = {}
    for rid, specialty in REVIEWERS:
        out.setdefault(specialty, []).append(keys.pseudonym(rid))
    return out


def scores(rng: random.Random, low: bool) -> tuple[dict[str, int], dict[str, int]]:
    """Two reviewers' scores at most one apart on every dimension."""
    first = {d: rng.choice((1, 2, 2, 3) if low else (3, 4, 4, 5)) for d in RUBRIC_DIMENSIONS}
    second = {d: min(5, max(1, v + rng.choice((-1, 0, 0, 1)))) for d, v in first.items()}
    return first, second


def item_events(i: int, who: dict[str, list[str]], rng: random.Random, rule: RetentionRule) -> list[NewEvent]:
    """Item ``i`` and its trace, attempt, assignments, reviews (and decision), through the records."""
    item_id, specialty, gold = f"cts-{i:07d}", SPECIALTIES[i % len(SPECIALTIES)], "BC"[i % 2]
    item = Item(id=item_id, question=f"A {40 + i % 40}-year-old presents with finding {i}. What is the most "
                "appropriate next step?", options={"A": "observe", "B": "order imaging", "C": "start treatment",
                                                   "D": "refer"}, gold=gold, specialty=specialty, source="synthetic")
    trace = Trace(id=f"{item_id}-t1", item_id=item_id, model="bench/generator",
                  parameters={"temperature": 0.0, "max_new_tokens": 512},
                  reasoning=REASONING.format(age=40 + i % 40, i=i), answer=gold)
    reviewers = rng.sample(who[specialty], 2)
    records: list[tuple[CurationRecord, str]] = [
        (item, "system"), (trace, trace.model),
        (Attempt(item_id=item_id, trace_id=trace.id, number=1, answer=gold, correct=True), trace.model),
        *((Assignment(item_id=item_id, trace_id=trace.id, reviewer=p, specialty=specialty, round=k), "system")
          for k, p in enumerate(reviewers, start=1))]
    u = rng.random()
    n_reviews = 0 if u < OPEN else 1 if u < OPEN + HALF else 2
    wide, low = OPEN + HALF <= u < OPEN + HALF + WIDE, OPEN + HALF + WIDE <= u < OPEN + HALF + WIDE + LOW
    pair = scores(rng, low)
    if wide:
        pair[0]["medical_correctness"], pair[1]["medical_correctness"] = 1, 5
    for p, given in zip(reviewers[:n_reviews], pair, strict=False):
        records.append((Review(id=review_id(trace.id, p), item_id=item_id, trace_id=trace.id, reviewer=p,
                               specialty=specialty, scores=RubricScores(**given), seconds_spent=rng.randint(30, 900),
                               comment="Sound reasoning; name the contraindication."), p))
    events = [event_for(record, actor=actor) for record, actor in records]
    if n_reviews == 2 and not wide and rng.random() < DECIDED:
        state = ItemState(item_id)
        for seq, (event, (record, _)) in enumerate(zip(events, records, strict=True)):
            state.apply_record(record, seq, event.event_type.value)
        decision = decide(state, rule)
        if decision is not None:
            events.append(event_for(decision, actor="system"))
    return events


@dataclass
class Built:
    """One generated ledger (``seconds``: records and appends; 0 when reused)."""

    url: str
    items: int
    events: int
    records_s: float = 0.0
    append_s: float = 0.0
    reused: bool = False


def build(url: str, items: int, keys: LedgerKeys, chunk: int) -> Built:
    """Generate ``items`` items into a fresh ledger, ``chunk`` items per ``Ledger.append``."""
    who, rule, out = pools(keys), RetentionRule(), Built(url, items, 0)
    with Ledger.open(url, keys=keys) as ledger:
        for start in range(0, items, chunk):
            t0 = time.perf_counter()
            rng = random.Random(start)
            events = [e for i in range(start, min(start + chunk, items)) for e in item_events(i, who, rng, rule)]
            t1 = time.perf_counter()
            ledger.append(events)
            t2 = time.perf_counter()
            out.records_s, out.append_s, out.events = out.records_s + t1 - t0, out.append_s + t2 - t1, \
                out.events + len(events)
            print(f"\r  {url.rsplit('/', 1)[-1][:60]}: {out.events:,} events", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


# -- the replay path (the fold every curate command did before the read model) --------------------


def replay_status(states: dict[str, ItemState], tree_size: int, max_spread: int = 1) -> dict[str, Any]:
    """``curate status`` computed from folded states, as before the read model."""
    items = [s for s in states.values() if s.item is not None]
    opened = [(s, a) for s in items if not s.closed for a in s.assignments
              if (a.trace_id, a.reviewer) not in {(r.trace_id, r.reviewer) for r in s.reviews}]
    panel = [s for s in items if panel_reasons(s, max_spread)]
    funnel = {
        "imported": sum(s.item is not None and s.item.derived_from is None for s in items),
        "derived": sum(s.item is not None and s.item.derived_from is not None for s in items),
        "flagged_near_duplicate": sum(any(f.kind == "near_duplicate" for f in s.flags) for s in items),
        "flagged_contamination": sum(any(f.kind == "contamination" for f in s.flags) for s in items),
        "deduplicated": sum(not s.excluded for s in items),
        "generated": sum(bool(s.traces) for s in items),
        "correct_trace": sum(s.accepted_trace is not None for s in items),
        "reviewed": sum(bool(s.reviews) for s in items),
        "escalated": sum(bool(s.escalations) for s in items),
        "adjudicated": sum(s.adjudication is not None for s in items),
        "retained": sum(s.retention is not None and s.retention.retained for s in items),
        "rejected": sum(s.retention is not None and not s.retention.retained for s in items),
    }
    queues = {
        "awaiting_assignment": sum(s.accepted_trace is not None and not s.assignments and not s.closed
                                   and not s.excluded for s in items),
        "awaiting_review": len(opened), "awaiting_review_items": len({s.item_id for s, _ in opened}),
        "awaiting_adjudication": len(panel), "escalated_awaiting_panel": sum(bool(s.escalations) for s in panel),
    }
    return {"tree_size": tree_size, "funnel": funnel, "queues": queues}


def replay_main(url: str, reviewer: str) -> int:
    """``--replay-status URL``: fold the whole ledger, print the status and the timings as JSON."""
    t0 = time.perf_counter()
    with Ledger.open(url, create=False) as ledger:
        size = ledger.size()
        states = all_states(LedgerEvent.from_document(json.loads(row.canonical)) for row in ledger.iter_events(size))
    t1 = time.perf_counter()
    status = replay_status(states, size)
    t2 = time.perf_counter()
    mine = [(seq, s.item_id) for s in states.values() if not s.closed
            for seq, a in zip(s.seqs.get("assigned", []), s.assignments, strict=True)
            if a.reviewer == reviewer and not any(r.trace_id == a.trace_id and r.reviewer == reviewer
                                                  for r in s.reviews)]
    first = min(mine, default=None)
    t3 = time.perf_counter()
    print(json.dumps({"fold_s": t1 - t0, "status_s": t2 - t1, "next_s": t3 - t2, "next": first, "status": status}))
    return 0


# -- measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A finished subprocess: wall seconds spawn→reap, peak RSS (MiB), exit code, output."""

    wall: float
    rss_mib: float
    rc: int
    stdout: str
    stderr: str


# A child's ru_maxrss counts the memory of the process it was spawned from (Linux carries the old
# mm's high-water mark across exec, and Python spawns with vfork), so a command started straight from
# this script would report this script's RSS. A small launcher forks and execs the command instead,
# times it from fork to reaping and writes its wall time, ru_maxrss and exit code to a file.
LAUNCHER = """import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run(args: list[str], env: dict[str, str], timeout: float = 7200) -> Run:
    """Run ``args`` under :data:`LAUNCHER`: wall time from fork to reaping, peak RSS from ``wait4``."""
    with tempfile.TemporaryDirectory() as tmp:
        result, out_path, err_path = Path(tmp) / "result", Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, str(result), *args], env=env,
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        wall, rss_kib, rc = result.read_text().split() if result.exists() else ("nan", "0", "124")
        return Run(float(wall), int(rss_kib) / 1024, int(rc), out_path.read_text(errors="replace"),
                   err_path.read_text(errors="replace"))


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


@dataclass
class SizeResult:
    """Everything measured on one ledger."""

    built: Built
    commands: dict[str, Run] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    replay: Run | None = None
    replay_data: dict[str, Any] = field(default_factory=dict)
    status_runs: list[float] = field(default_factory=list)
    next_ms: list[float] = field(default_factory=list)
    next_found: int = 0
    submit_ms: list[float] = field(default_factory=list)
    covered: bool = False
    agree: bool = False


def measure(built: Built, keys: LedgerKeys, files: Path, env: dict[str, str], args: argparse.Namespace) -> SizeResult:
    """Every measurement on one ledger, read-only steps first, then the appending commands."""
    url, key, res = built.url, str(keys.path), SizeResult(built)
    cli = [sys.executable, "-m", "safemed", "curate"]
    rng = random.Random(built.items)
    print(f"  replaying {built.events:,} events (the old path) …", file=sys.stderr)
    res.replay = run([sys.executable, __file__, "--replay-status", url, "--replay-reviewer",
                      keys.pseudonym(REVIEWERS[7][0])], env)
    if res.replay.rc != 0:
        raise RuntimeError(f"replay failed:\n{res.replay.stderr[-3000:]}")
    res.replay_data = json.loads(res.replay.stdout)

    def command(name: str, *rest: str) -> Run:
        print(f"  {name} …", file=sys.stderr)
        got = run([*cli, *rest], env)
        if got.rc != 0:
            raise RuntimeError(f"`{' '.join(rest)}` failed ({got.rc}):\n{got.stderr[-3000:]}")
        res.commands[name] = got
        return got

    runs = [command("status", "status", "--db", url) for _ in range(args.repeats)]
    res.status_runs = [r.wall for r in runs]  # in the order run
    res.commands["status"] = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]  # the median run
    as_json = command("status --json", "status", "--json", "--db", url)
    res.agree = json.loads(as_json.stdout) == res.replay_data["status"]
    res.notes["status --json"] = "= replay" if res.agree else "DIFFERS from replay"
    got = command("export-queue --reviewer", "export-queue", "--db", url, "--key", key, "--out",
                  str(files / "queue-one.jsonl"), "--reviewer", REVIEWERS[7][0])
    res.notes["export-queue --reviewer"] = got.stdout.strip().split(" to ")[0].removeprefix("wrote ")
    got = command("export-queue (all)", "export-queue", "--db", url, "--out", str(files / "queue.jsonl"))
    res.notes["export-queue (all)"] = got.stdout.strip().split(" to ")[0].removeprefix("wrote ")
    got = command("adjudicate (list)", "adjudicate", "--db", url, "--out", str(files / "panel.jsonl"))
    res.notes["adjudicate (list)"] = got.stdout.strip().splitlines()[-1]
    got = command("retain --dry-run", "retain", "--dry-run", "--db", url)
    res.notes["retain --dry-run"] = got.stdout.strip().splitlines()[-1]

    real_id = {keys.pseudonym(rid): rid for rid, _ in REVIEWERS}
    pseudonyms = list(real_id)
    with Ledger.open(url, keys=keys, create=False) as ledger:
        def one_next(p: str) -> object:
            with open_view(ledger) as view:
                return next_assignment(view, p)

        for p in pseudonyms[:10]:  # warm the connection pool and the statement caches
            one_next(p)
        for _ in range(args.queries):
            p = rng.choice(pseudonyms)
            start = time.perf_counter()
            res.next_found += one_next(p) is not None
            res.next_ms.append((time.perf_counter() - start) * 1000)
        with open_view(ledger) as view:
            queue = open_assignments(view)
        for a in rng.sample(queue, min(args.reviews, len(queue))):
            row = {"item_id": a["item_id"], "trace_id": a["trace_id"], "reviewer_id": real_id[a["reviewer"]],
                   "scores": {d: rng.randint(3, 5) for d in RUBRIC_DIMENSIONS}, "comment": "benchmark review",
                   "seconds_spent": rng.randint(30, 900)}
            start = time.perf_counter()
            submit_review(ledger, row, keys)
            res.submit_ms.append((time.perf_counter() - start) * 1000)
        cp, size = ledger.latest_checkpoint(), ledger.size()
        res.covered = (cp is not None and cp.tree_size == size and cp.root_hash == ledger.root()
                       and cp.signed_by(keys.public_key))
    print(f"  next assignment p95 {p95(res.next_ms):.2f} ms, submit p95 {p95(res.submit_ms):.2f} ms", file=sys.stderr)

    seeds = files / f"new-seeds-{uuid.uuid4().hex[:8]}.jsonl"
    with seeds.open("w") as fh:
        for k in range(100):
            fh.write(json.dumps({"id": f"{seeds.stem}-{k:03d}", "question": f"New seed question {k}: what next?",
                                 "options": {"A": "wait", "B": "test"}, "answer": "B",
                                 "specialty": SPECIALTIES[k % len(SPECIALTIES)]}) + "\n")
    res.notes["import (100 seeds)"] = command("import (100 seeds)", "import", "--db", url, "--key", key,
                                              str(seeds)).stdout.strip().split(";")[0]
    res.notes["assign --roster"] = command("assign --roster", "assign", "--db", url, "--key", key, "--roster",
                                           str(files / "roster.csv")).stdout.strip().splitlines()[0]
    res.notes["retain"] = command("retain", "retain", "--db", url, "--key", key).stdout.strip().splitlines()[-1]
    out = files / "export"
    got = command("export --format sft", "export", "--db", url, "--key", key, "--out", str(out), "--format", "sft")
    res.notes["export --format sft"] = got.stdout.strip().splitlines()[0].split(" to ")[0].removeprefix("wrote ")
    shutil.rmtree(out, ignore_errors=True)
    return res


# -- backends, reuse and the report ---------------------------------------------------------------


class Postgres:
    """Schemas on the PostgreSQL server, one per ledger (``search_path`` in the URL)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.base = url
        self.admin = psycopg.connect(url, autocommit=True, connect_timeout=5)

    def url(self, schema: str) -> str:
        return f"{self.base}{'&' if '?' in self.base else '?'}options=-csearch_path%3D{schema}"

    def exists(self, schema: str) -> bool:
        found = self.admin.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND "
                                   "table_name = 'ledger_events'", (schema,)).fetchone()
        return found is not None

    def create(self, schema: str) -> None:
        self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.admin.execute(f'CREATE SCHEMA "{schema}"')

    def drop(self, schema: str) -> None:
        self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def size_mib(self, schema: str) -> float:
        row = self.admin.execute("SELECT sum(pg_total_relation_size(format('%%I.%%I', table_schema, table_name))) "
                                 "FROM information_schema.tables WHERE table_schema = %s", (schema,)).fetchone()
        return float(row[0] or 0) / 2**20 if row else 0.0


def sqlite_size_mib(url: str) -> float:
    return sum(p.stat().st_size for p in Path(url).parent.glob(Path(url).name + "*")) / 2**20


def report(backend: str, large: SizeResult, small: SizeResult, db_mib: float) -> bool:
    """Print one backend's tables; True when its every target passed."""
    b = large.built
    print(f"\n== {backend}: {b.items:,} items, {b.events:,} events ({db_mib:,.0f} MiB); small ledger "
          f"{small.built.items:,} items, {small.built.events:,} events ==")
    for g in (small.built, large.built):
        if g.reused:
            print(f"generation {g.items:,} items: reused (--keep)")
        else:
            total = g.records_s + g.append_s
            print(f"generation {g.items:,} items: {total:.0f} s = records {g.records_s:.0f} s + Ledger.append "
                  f"{g.append_s:.0f} s; {g.events / total:,.0f} events/s ({g.events / g.append_s:,.0f} appended/s)")
    rp, rps, rd = large.replay, small.replay, large.replay_data
    assert rp is not None and rps is not None
    status = large.commands["status"]
    peak = max(r.rss_mib for r in large.commands.values())
    ratios = {n: r.rss_mib / small.commands[n].rss_mib for n, r in large.commands.items()}
    worst = max(ratios, key=ratios.__getitem__)
    fold_s = rd["fold_s"]
    checks = [
        (f"curate status < {STATUS_LIMIT_S:g} s (whole command)", statistics.median(large.status_runs) < STATUS_LIMIT_S,
         f"{statistics.median(large.status_runs):.2f} s, {status.rss_mib:.0f} MiB (runs in order "
         + " ".join(f"{s:.2f}" for s in large.status_runs) + ")", f"{rp.wall:.1f} s, {rp.rss_mib:,.0f} MiB"),
        (f"next assignment p95 < {NEXT_LIMIT_MS:g} ms", p95(large.next_ms) < NEXT_LIMIT_MS,
         f"p95 {p95(large.next_ms):.2f} ms, median {statistics.median(large.next_ms):.2f} ms "
         f"({large.next_found}/{len(large.next_ms)} found)",
         f"a full fold per query: {(fold_s + rd['next_s']) * 1000:,.0f} ms"),
        (f"one review appended p95 < {SUBMIT_LIMIT_MS:g} ms", p95(large.submit_ms) < SUBMIT_LIMIT_MS and large.covered,
         f"p95 {p95(large.submit_ms):.1f} ms, median {statistics.median(large.submit_ms):.1f} ms, max "
         f"{max(large.submit_ms):.1f} ms; signed checkpoint of whole tree: {'yes' if large.covered else 'NO'}",
         f"a full fold per submit: {fold_s * 1000:,.0f} ms"),
        ("peak RSS of any curate command < 300 MB", peak < RSS_LIMIT_MIB,
         f"{peak:.0f} MiB ({max(large.commands, key=lambda n: large.commands[n].rss_mib)})",
         f"{rp.rss_mib:,.0f} MiB (status)"),
        (f"peak RSS flat: RSS(N) / RSS(N/10) <= {FLAT_LIMIT:g}", ratios[worst] <= FLAT_LIMIT,
         f"max {ratios[worst]:.2f}x ({worst})", f"{rp.rss_mib / rps.rss_mib:.2f}x (status)"),
        ("status counts = replay's", large.agree and small.agree, "equal" if large.agree and small.agree else "DIFFER",
         "(reference)"),
    ]
    width = max(len(measured) for _, _, measured, _ in checks) + 2
    print(f"{'target':<46}{'measured (read model)':<{width}}{'replay path (same run, same size)':<40}result")
    for name, ok, measured, replay in checks:
        print(f"{name:<46}{measured:<{width}}{replay:<40}{'PASS' if ok else 'FAIL'}")
    print(f"replay: fold {fold_s:.1f} s + funnel {rd['status_s']:.1f} s; at {small.built.items:,} items "
          f"{rps.wall:.1f} s, {rps.rss_mib:,.0f} MiB")
    n_s, n_l = f"{small.built.items:,} items", f"{b.items:,} items"
    print(f"\n{'command (subprocess)':<26}{n_s + ': s / MiB':>22}{n_l + ': s / MiB':>24}{'RSS ratio':>11}   "
          f"at {b.items:,} items")
    rows = [("(replay: old status)", rps, rp, "full fold of the ledger")] + [
        (n, small.commands[n], r, large.notes.get(n, "")) for n, r in large.commands.items()]
    for name, s, r, note in rows:
        print(f"{name:<26}{s.wall:>13.2f} s {s.rss_mib:>5.0f}{r.wall:>15.2f} s {r.rss_mib:>5.0f}"
              f"{r.rss_mib / s.rss_mib:>10.2f}x   {note}")
    return all(ok for _, ok, _, _ in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=362_000)
    parser.add_argument("--small", type=int, default=None, help="the second, smaller ledger [default: items/10]")
    parser.add_argument("--quick", action="store_true", help="20,000 items (and 2,000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("SAFEMED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--chunk", type=int, default=2000, help="items per Ledger.append")
    parser.add_argument("--queries", type=int, default=1000, help="next-assignment queries")
    parser.add_argument("--reviews", type=int, default=200, help="reviews submitted one by one")
    parser.add_argument("--repeats", type=int, default=3, help="runs of `curate status` (median reported)")
    parser.add_argument("--keep", type=Path, default=None, help="build the ledgers here, keep them, reuse them")
    parser.add_argument("--replay-status", metavar="URL", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--replay-reviewer", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay_status:
        return replay_main(args.replay_status, args.replay_reviewer)
    if args.quick:
        args.items = 20_000
    sizes = sorted({args.small or max(1, args.items // 10), args.items})
    folder = args.keep or Path(tempfile.mkdtemp(prefix="curation-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "ledger.key"
    if not key_path.exists():
        LedgerKeys.generate().save(key_path)
    keys = load_keys(key_path)
    (folder / "roster.csv").write_text("reviewer_id,specialty\n" + "".join(f"{r},{s}\n" for r, s in REVIEWERS))
    registry_path = folder / "build.json"
    registry: dict[str, Any] = json.loads(registry_path.read_text()) if args.keep and registry_path.exists() else {}
    env = {**os.environ, "SAFEMED_CACHE_DIR": str(folder / "cache"), "XDG_CONFIG_HOME": str(folder / "config")}
    env.pop("SAFEMED_LEDGER_KEY", None)
    run_tag = "keep" if args.keep else uuid.uuid4().hex[:8]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    load_before = os.getloadavg()
    print(f"curation benchmark: {', '.join(f'{n:,}' for n in sizes)} items on {', '.join(backends)}; "
          f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"Python {sys.version.split()[0]}; files in {folder}", flush=True)
    pg: Postgres | None = None
    schemas: list[str] = []
    ok = True
    try:
        for backend in backends:
            results: list[SizeResult] = []
            for n in sizes:
                name = f"{backend}-{n}"
                if backend == "sqlite":
                    url, present = str(folder / f"{name}.db"), (folder / f"{name}.db").exists()
                else:
                    pg = pg or Postgres(args.pg_url)
                    schema = f"curation_bench_{run_tag}_{n}"
                    schemas.append(schema)
                    url, present = pg.url(schema), pg.exists(schema)
                if present and name in registry:
                    built = Built(url, n, int(registry[name]["events"]), reused=True)
                else:
                    if backend == "sqlite":
                        for suffix in ("", "-wal", "-shm"):
                            Path(url + suffix).unlink(missing_ok=True)
                    else:
                        assert pg is not None
                        pg.create(schemas[-1])
                    built = build(url, n, keys, args.chunk)
                    registry[name] = {"url": url, "events": built.events}
                    if args.keep:
                        registry_path.write_text(json.dumps(registry, indent=2))
                files = folder / f"files-{name}"
                files.mkdir(exist_ok=True)
                shutil.copy(folder / "roster.csv", files / "roster.csv")
                results.append(measure(built, keys, files, env, args))
            size_mib = sqlite_size_mib(results[-1].built.url) if backend == "sqlite" else \
                (pg.size_mib(schemas[-1]) if pg else 0.0)
            ok = report(backend, results[-1], results[0], size_mib) and ok
    finally:
        if pg is not None and not args.keep:
            for schema in schemas:
                pg.drop(schema)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\nload average at start {' '.join(f'{x:.2f}' for x in load_before)}, at end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}" + (f"; ledgers kept in {folder}" if args.keep else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
