"""Load benchmark of the review app: simulated clinicians submitting concurrently at the paper's scale.

SafeMed-R1's 160 physicians scored and edited chains of thought for two months (paper, "physician
review" step); the review app must keep up with dozens of them at once without losing or duplicating
a single review. This script checks that against a running server, not a test client:

1. a ledger of N generated items (default 362,000, the paper's CTS size) built by
   ``curation_bench.build`` (the same generator: two assignments per item, 4 % of the items with both
   open, 2 % with one), cached between runs (``--keep``);
2. the app's users ``physician-000`` … for the first R reviewers of that roster (their specialties);
3. ``safemed app --workers W`` against it (a subprocess; PostgreSQL by default);
4. R simulated reviewers (asyncio + aiohttp, one cookie session each) for S seconds: log in, then
   repeatedly ``GET /queue``, ``GET /review/next`` (→ the item page), ``POST`` the submission with
   the page's CSRF token, landing on the next item;
5. afterwards: the ledger's new review events are counted against the submissions the clients saw
   succeed (zero lost, zero duplicated), the ledger is verified, and p50/p95/p99 latency per route is
   printed beside the target (p95 < 150 ms for the queue, item and submit routes) with PASS/FAIL.

    python benchmarks/app_load.py                      # 362,000 items, 50 reviewers, 60 s, 4 workers, PostgreSQL
    python benchmarks/app_load.py --quick              # ~1 minute on SQLite: 3,000 items, 8 reviewers, 15 s
    python benchmarks/app_load.py --items 36200 --reviewers 20 --seconds 30 --db-url sqlite

Exit status 0 when every check passed. Not a timed test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import curation_bench as cb  # the ledger generator, beside this script

from safemed.ledger import LedgerKeys, load_keys

DEFAULT_PG = os.environ.get("SAFEMED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "safemed-bench" / "app-load"


# -- the ledger (built once, reused) ---------------------------------------------------------------


@dataclass(frozen=True)
class LedgerSpec:
    """Where the benchmark ledger lives and how it was made."""

    url: str
    key_path: Path
    items: int
    events: int
    built_s: float  # 0 when reused


def ensure_ledger(backend_url: str, items: int, folder: Path, *, fresh: bool = False, chunk: int = 2000) -> LedgerSpec:
    """The cached ledger of ``items`` generated items on ``backend_url`` ("sqlite" or a PostgreSQL URL).

    A ledger is reused when ``build.json`` in ``folder`` records it (and it still exists): the
    benchmark's submissions stay in it, so each rerun starts with fewer open assignments (printed).
    """
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "keys" / "ledger.key"
    if not key_path.exists():
        LedgerKeys.generate().save(key_path)
    keys = load_keys(key_path)
    registry_path = folder / "build.json"
    registry: dict[str, Any] = json.loads(registry_path.read_text()) if registry_path.exists() else {}
    if backend_url == "sqlite":
        name, url = f"sqlite-{items}", str(folder / f"app-load-{items}.db")
        present = Path(url).exists()
        pg = None
    else:
        pg = cb.Postgres(backend_url.replace("postgresql+psycopg://", "postgresql://"))
        schema = f"app_load_{items}"
        name, url = f"pg-{schema}", pg.url(schema)
        present = pg.exists(schema)
    if present and not fresh and name in registry:
        return LedgerSpec(url, key_path, items, int(registry[name]["events"]), 0.0)
    if pg is None:
        for suffix in ("", "-wal", "-shm"):
            Path(url + suffix).unlink(missing_ok=True)
    else:
        pg.create(schema)
    start = time.perf_counter()
    built = cb.build(url, items, keys, chunk)
    registry[name] = {"url": url, "events": built.events}
    registry_path.write_text(json.dumps(registry, indent=2))
    return LedgerSpec(url, key_path, items, built.events, time.perf_counter() - start)


def reviewers(n: int) -> list[tuple[str, str]]:
    """The first ``n`` of curation_bench's roster (name, specialty); its ledger assigns them work."""
    if n > len(cb.REVIEWERS):
        raise SystemExit(f"--reviewers: at most {len(cb.REVIEWERS)} (the generated roster)")
    return cb.REVIEWERS[:n]


def create_users(url: str, roster: list[tuple[str, str]], password: str) -> int:
    """The app users of ``roster`` (role reviewer, their specialty); existing ones keep their row
    but get ``password``. Returns how many were added. One argon2 hash serves them all."""
    from safemed.app.security import hash_password
    from safemed.app.store import AppStore
    from safemed.ledger import Ledger

    digest = hash_password(password)
    added = 0
    with Ledger.open(url, create=False) as ledger:
        store = AppStore(ledger.engine)
        for name, specialty in roster:
            found = store.get_user(name)
            if found is None:
                store.add_user(name, digest, "reviewer", [specialty])
                added += 1
            else:
                store.set_password(found.id, digest)
    return added


def work_available(url: str, keys: LedgerKeys, roster: list[tuple[str, str]], per_item: int) -> tuple[int, int]:
    """(open assignments, slots in all) of the roster's reviewers: ``curate.workbench.queue_remaining``,
    the count their queue pages show (claimable items count when ``per_item`` leaves a slot free)."""
    from sqlalchemy import func, select

    from safemed.curate import open_view
    from safemed.curate.workbench import queue_remaining
    from safemed.ledger import Ledger
    from safemed.ledger.tables import cur_assignments

    own = total = 0
    with Ledger.open(url, create=False) as ledger, open_view(ledger) as view:
        for name, specialty in roster:
            p = keys.pseudonym(name)
            own += int(view.execute(select(func.count()).select_from(cur_assignments).where(
                cur_assignments.c.reviewer == p, cur_assignments.c.state == "open")).scalar_one())
            total += queue_remaining(view, p, [specialty], per_item=per_item)
    return own, total


# -- the server ------------------------------------------------------------------------------------


@dataclass
class AppServer:
    """``safemed app`` in a subprocess (its own process group, so the workers go with it)."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_app(url: str, key_path: Path, workers: int, log: Path, *, per_item: int = 2,
              timeout: float = 60.0) -> AppServer:
    """Start ``safemed app --workers N`` on a free loopback port and wait for ``/healthz``.

    Sign-in throttling is raised for the run (50 reviewers sign in from one address at once) and
    hidden gold units are off (they are rated outside the ledger; the counts here are the ledger's).
    ``per_item`` above the generated ledger's two reviewers per item lets reviewers claim a further
    slot of any open item of their specialty (the app's claim path: a lease, then assignment and
    review in one transaction).
    """
    port = free_port()
    env = {**os.environ, "SAFEMED_APP_LOGIN_RATE_PER_MINUTE": "100000", "SAFEMED_APP_GOLD_EVERY": "0",
           "SAFEMED_APP_SECRET": secrets.token_urlsafe(32), "SAFEMED_APP_COOKIE_SECURE": "false",
           "SAFEMED_APP_PER_ITEM": str(per_item), "SAFEMED_APP_CLAIM": "true"}
    cmd = [sys.executable, "-m", "safemed", "app", "--db", url, "--key", str(key_path), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = AppServer(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"safemed app exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"safemed app did not answer /healthz within {timeout:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


# -- the simulated reviewers -----------------------------------------------------------------------


class FormFields(HTMLParser):
    """The hidden inputs and radio groups of the review page's form (what a browser would send)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.textareas: dict[str, str] = {}
        self.action: str | None = None
        self._in_form = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "review-form":
            self._in_form, self.action = True, a.get("action")
        elif self._in_form and tag == "input":
            kind, name = a.get("type", "text"), a.get("name", "")
            if kind == "hidden":
                self.hidden[name] = a.get("value", "")
            elif kind == "radio":
                self.radios.setdefault(name, []).append(a.get("value", ""))
        elif self._in_form and tag == "textarea":
            self._textarea = a.get("name", "")
            self.textareas[self._textarea] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.textareas[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def parse_form(html: str) -> FormFields:
    parser = FormFields()
    parser.feed(html)
    return parser


def login_fields(html: str) -> dict[str, str]:
    """Hidden inputs of the sign-in page (its CSRF token, if any)."""
    return dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))


@dataclass
class LoadResult:
    """What the clients saw: latencies (ms) per route, successes, failures."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    submitted: int = 0
    edits: int = 0
    retries: int = 0  # re-posts of an already submitted form (a double submit / network retry)
    errors: Counter[str] = field(default_factory=Counter)
    empty_queues: int = 0
    logins: int = 0
    seconds: float = 0.0


@dataclass
class Start:
    """Every reviewer signs in first; the timed window opens once all have (argon2 sign-ins of 50
    people at once would otherwise be measured as page latency)."""

    expected: int
    ready: int = 0
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)
    stop_at: float = 0.0

    def signed_in(self) -> None:
        self.ready += 1
        if self.ready == self.expected:
            self.all_in.set()


async def reviewer(base: str, name: str, password: str, start: Start, result: LoadResult, seed: int,
                   retry_share: float, think: float = 0.0) -> None:
    """One simulated clinician: sign in, then queue → next item → submit until the window closes."""
    rng = random.Random(seed)
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for a bare IP host (127.0.0.1)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, cookie_jar=jar, timeout=timeout) as http:

        async def timed(route: str, method: str, path: str, **kw: Any) -> tuple[int, str, str]:
            start = time.perf_counter()
            async with http.request(method, path, allow_redirects=False, **kw) as resp:
                body = await resp.text()
                result.latencies[route].append((time.perf_counter() - start) * 1000)
                return resp.status, resp.headers.get("Location", ""), body

        try:
            _, _, page = await timed("GET /login", "GET", "/login")
            form = {**login_fields(page), "name": name, "password": password}
            status, _, _ = await timed("POST /login", "POST", "/login", data=form)
            failed = "" if status == 303 else str(status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            failed = type(exc).__name__
        start.signed_in()
        if failed:
            result.errors[f"login {failed}"] += 1
            return
        result.logins += 1
        await start.go.wait()
        if think:  # people do not all click at the same instant: arrivals spread over one reading time
            await asyncio.sleep(rng.uniform(0.0, think))
        while time.monotonic() < start.stop_at:
            status, _, _ = await timed("GET /queue", "GET", "/queue")
            if status != 200:
                result.errors[f"queue {status}"] += 1
                continue
            status, location, _ = await timed("GET /review/next", "GET", "/review/next")
            if status not in (302, 303) or not urlsplit(location).path.startswith("/review/"):
                result.empty_queues += 1
                await asyncio.sleep(0.5)
                continue
            path = urlsplit(location).path
            status, _, page = await timed("GET /review/{token}", "GET", path)
            if status != 200:
                result.errors[f"item {status}"] += 1
                continue
            fields = parse_form(page)
            data = dict(fields.hidden)
            for group, values in fields.radios.items():
                if group.startswith("score_"):
                    data[group] = rng.choice([v for v in values if v in ("3", "4", "5")] or values)
            original = fields.textareas.get("edited_reasoning", "").strip("\n")
            u = rng.random()
            if u < 0.2:
                data["verdict"], data["edited_reasoning"] = "fix", original + "\n\nAdded by the reviewer: " \
                    "confirm the diagnosis before treating."
            else:
                data["verdict"], data["edited_reasoning"] = ("reject" if u < 0.3 else "accept"), original
            data["comment"] = f"load test review by {name}"
            if think:  # reading and scoring the item (0: submit at once, the closed-loop worst case)
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            status, location, _ = await timed("POST /review/{token}", "POST", fields.action or path, data=data)
            if status != 303 or "notice=submitted" not in location:
                result.errors[f"submit {status} {urlsplit(location).query}".strip()] += 1
                continue
            result.submitted += 1
            result.edits += data["verdict"] == "fix"
            if rng.random() < retry_share:  # the same form posted again (a second tab, a retry): no new event
                result.retries += 1
                status, location, _ = await timed("POST /review/{token} (again)", "POST", fields.action or path,
                                                  data=data)
                if status != 303 or "notice=already_submitted" not in location:
                    result.errors[f"double submit {status} {urlsplit(location).query}".strip()] += 1


async def run_clients(base: str, roster: list[tuple[str, str]], password: str, seconds: float, *,
                      retry_share: float = 0.05, think: float = 0.0, seed: int = 0) -> LoadResult:
    """Every simulated reviewer at once for ``seconds`` (after signing in); their combined result."""
    result = LoadResult()
    start = Start(len(roster))
    clients = [asyncio.create_task(reviewer(base, name, password, start, result, seed + k, retry_share, think))
               for k, (name, _) in enumerate(roster)]
    await start.all_in.wait()
    opened = time.monotonic()
    start.stop_at = opened + seconds
    start.go.set()
    await asyncio.gather(*clients)
    result.seconds = time.monotonic() - opened
    return result


# -- checks afterwards ------------------------------------------------------------------------------


@dataclass
class LedgerCheck:
    """The ledger's side of the run: new review and edit events, duplicates, verification."""

    reviews: int
    distinct: int
    edits: int
    verified: bool
    problems: list[str]
    covered: bool
    verify_s: float
    skipped: bool = False
    """The full verification was not run (--no-verify): reported as skipped, never as a pass."""


VERIFY_WORK_MEM = "256MB"
"""work_mem of the verifying connection on PostgreSQL. Before c2224e5 the read-model check ended with
``… WHERE item_id NOT IN (SELECT item_id FROM cur_items)``, which PostgreSQL cannot hash in the default
4 MB at 362K ids (it re-scanned the subquery per row, still running after 10 minutes here); it is
``NOT EXISTS`` now, and the setting stays for checking ledgers built by older versions."""


def check_ledger(url: str, keys: LedgerKeys, start_size: int, pseudonyms: set[str], *,
                 verify: bool = True) -> LedgerCheck:
    """Count the review/edit events appended since ``start_size`` by ``pseudonyms`` and verify the ledger."""
    from sqlalchemy import select

    from safemed.ledger import Ledger
    from safemed.ledger.tables import events

    pairs: list[tuple[str, str]] = []
    edits = 0
    if "://" in url:  # PostgreSQL: see VERIFY_WORK_MEM
        url = url.replace("options=", f"options=-cwork_mem%3D{VERIFY_WORK_MEM}%20", 1) if "options=" in url else \
            f"{url}{'&' if '?' in url else '?'}options=-cwork_mem%3D{VERIFY_WORK_MEM}"
    with Ledger.open(url, keys=keys, create=False) as ledger:
        stmt = select(events.c.event_type, events.c.canonical).where(
            events.c.seq >= start_size, events.c.event_type.in_(("review_submitted", "edit_made")))
        with ledger.engine.connect() as conn:
            for event_type, canonical in conn.execute(stmt):
                doc = json.loads(canonical)
                if doc["actor"] not in pseudonyms:
                    continue
                if event_type == "edit_made":
                    edits += 1
                else:
                    pairs.append((doc["payload"]["reviewer"], doc["payload"]["trace_id"]))
        t0 = time.perf_counter()
        problems: list[str] = []
        ok = True
        if verify:
            report = ledger.verify(keys.public_key_bytes() if hasattr(keys, "public_key_bytes") else None)
            ok, problems = report.ok, [str(p) for p in report.problems[:10]]
        verify_s = time.perf_counter() - t0
        cp, size = ledger.latest_checkpoint(), ledger.size()
        covered = cp is not None and cp.tree_size == size and cp.root_hash == ledger.root()
    return LedgerCheck(len(pairs), len(set(pairs)), edits, ok, problems, covered, verify_s, skipped=not verify)


# -- the report ------------------------------------------------------------------------------------

TARGET_MS = 150.0
TARGET_ROUTES = ("GET /queue", "GET /review/{token}", "POST /review/{token}")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def report_load(load: LoadResult) -> bool:
    """Print the latency table and what the clients saw; True when every latency target passed."""
    print(f"\n{'route':<32}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}   target")
    ok = True
    for route in sorted(load.latencies, key=lambda r: (r not in TARGET_ROUTES, r)):
        values = load.latencies[route]
        p95 = percentile(values, 0.95)
        target = ""
        if route in TARGET_ROUTES:
            passed = p95 < TARGET_MS
            ok = ok and passed
            target = f"p95 < {TARGET_MS:g} ms: {'PASS' if passed else 'FAIL'}"
        print(f"{route:<32}{len(values):>9}{percentile(values, 0.5):>9.1f}{p95:>9.1f}{percentile(values, 0.99):>9.1f}"
              f"{max(values):>9.1f}   {target}")
    rate = load.submitted / load.seconds if load.seconds else 0.0
    print(f"\n{load.logins} reviewers signed in; {load.submitted:,} submissions in {load.seconds:.1f} s "
          f"({rate:.1f}/s), {load.edits:,} with an edit, {load.retries:,} re-posted as a double submit; "
          f"{load.empty_queues} empty-queue turns; errors: {dict(load.errors) or 'none'}", flush=True)
    return ok


def report_ledger(load: LoadResult, check: LedgerCheck) -> bool:
    """Print the ledger's side against the clients' (counts, verification); True when all passed."""
    ok = True
    print()
    checks = [
        ("no lost submission: review events = submissions", check.reviews == load.submitted,
         f"{check.reviews:,} events / {load.submitted:,} submissions"),
        ("no duplicate: one review per (reviewer, trace)", check.distinct == check.reviews,
         f"{check.reviews - check.distinct} duplicates"),
        ("edit events = fix & accept submissions", check.edits == load.edits, f"{check.edits:,} / {load.edits:,}"),
        ("no failed request", not load.errors, ", ".join(f"{k}: {v}" for k, v in load.errors.items()) or "none"),
        ("ledger verifies", check.verified,
         f"{check.verify_s:.1f} s" + (f"; {check.problems}" if check.problems else "")),
        ("latest signed checkpoint covers the whole tree", check.covered, "yes" if check.covered else "NO"),
    ]
    for name, passed, detail in checks:
        if name == "ledger verifies" and check.skipped:
            print(f"{name:<52}{'not run (--no-verify)':<40}SKIPPED")
            continue
        ok = ok and passed
        print(f"{name:<52}{detail:<40}{'PASS' if passed else 'FAIL'}")
    return ok


def report(load: LoadResult, check: LedgerCheck) -> bool:
    """Both reports; True when every check passed."""
    return report_load(load) & report_ledger(load, check)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=None, help="ledger size [default: 362,000; --quick 3,000]")
    parser.add_argument("--reviewers", type=int, default=None, help="simulated reviewers [default: 50; --quick 8]")
    parser.add_argument("--seconds", type=float, default=None, help="length of the run [default: 60; --quick 15]")
    parser.add_argument("--workers", type=int, default=None, help="app worker processes [default: 4; --quick 2]")
    parser.add_argument("--per-item", type=int, default=None,
                        help="reviewers per item the app allows [default: 2, as generated: own assignments only; "
                             "--quick 3: one more claimable slot per item]")
    parser.add_argument("--db-url", default=None,
                        help=f"'sqlite' or a PostgreSQL URL [default: {DEFAULT_PG}; --quick: sqlite]")
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run on SQLite")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a reviewer spends on an item page before submitting [default: 0, "
                             "the closed-loop worst case: every reviewer submits as fast as the server answers]")
    parser.add_argument("--retry-share", type=float, default=0.05, help="share of submissions posted twice")
    parser.add_argument("--keep", type=Path, default=CACHE, help="cache folder for ledgers and keys [%(default)s]")
    parser.add_argument("--fresh", action="store_true", help="rebuild the ledger even when cached")
    parser.add_argument("--no-verify", action="store_true", help="skip the full ledger verification afterwards")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the ledger and stop")
    args = parser.parse_args(argv)
    items = args.items or (3_000 if args.quick else 362_000)
    n_reviewers = args.reviewers or (8 if args.quick else 50)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    db_url = args.db_url or ("sqlite" if args.quick else DEFAULT_PG)
    workers = args.workers or (2 if args.quick else 4)
    per_item = args.per_item or (3 if args.quick else 2)
    print(f"app load benchmark: {items:,} items on {'SQLite' if db_url == 'sqlite' else 'PostgreSQL'}, "
          f"{n_reviewers} reviewers for {seconds:g} s (think {args.think:g} s), {workers} workers, "
          f"per item {per_item}; {os.cpu_count()} CPUs; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; Python {sys.version.split()[0]}", flush=True)
    spec = ensure_ledger(db_url, items, args.keep, fresh=args.fresh)
    print(f"ledger: {spec.items:,} items, {spec.events:,} events at build "
          f"({f'built in {spec.built_s:.0f} s' if spec.built_s else f'reused from {args.keep}'})", flush=True)
    if args.build_only:
        return 0
    load, check = run_benchmark(spec, n_reviewers, seconds, workers, per_item=per_item,
                                retry_share=args.retry_share, think=args.think, verify=not args.no_verify,
                                log=args.keep / "app.log",
                                on_load=report_load)
    ok = report_ledger(load, check) and all(percentile(load.latencies[r], 0.95) < TARGET_MS for r in TARGET_ROUTES)
    print(f"\nload average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


def run_benchmark(spec: LedgerSpec, n_reviewers: int, seconds: float, workers: int, *, per_item: int = 2,
                  retry_share: float = 0.05, think: float = 0.0, verify: bool = True, log: Path,
                  on_load: Callable[[LoadResult], Any] | None = None) -> tuple[LoadResult, LedgerCheck]:
    """Users, server, clients and the checks: the benchmark's core (the quick test calls it too)."""
    from safemed.ledger import Ledger

    keys = load_keys(spec.key_path)
    roster = reviewers(n_reviewers)
    password = secrets.token_urlsafe(16)
    added = create_users(spec.url, roster, password)
    own, slots = work_available(spec.url, keys, roster, per_item)
    with Ledger.open(spec.url, create=False) as ledger:
        start_size = ledger.size()
    print(f"{len(roster)} reviewer accounts ({added} new); their queues: {own:,} open assignments, {slots:,} slots "
          f"in all; ledger at {start_size:,} events", flush=True)
    server = start_app(spec.url, spec.key_path, workers, log, per_item=per_item)
    try:
        load = asyncio.run(run_clients(server.url, roster, password, seconds, retry_share=retry_share,
                                           think=think))
    finally:
        server.stop()
    if on_load is not None:  # the latencies are printed before the (long) verification at 362K
        on_load(load)
    print("counting the ledger's new events and verifying it …", flush=True)
    check = check_ledger(spec.url, keys, start_size, {keys.pseudonym(name) for name, _ in roster}, verify=verify)
    return load, check


if __name__ == "__main__":
    sys.exit(main())
