"""The admin dashboard (paper: physician review at scale — progress, agreement, quality control).

* ``GET /admin`` — progress per specialty and per reviewer (items done, median seconds per item,
  agreement α per rubric dimension, gold-item accuracy with its 95 % Wilson interval), the
  curation funnel, and the ledger's latest signed checkpoint with a "verify now" button;
* ``GET /admin/fragment/progress`` — the progress part alone, as an HTML fragment ``admin.js``
  polls every few seconds so the dashboard updates live (no inline script: CSP);
* ``POST /admin/verify`` — recompute the ledger's hash tree and signatures now
  (:func:`safemed.curate.integrity.verify_now`), show the result and write an audit row;
* ``GET /admin/audit`` — the latest audit events;
* ``GET /admin/ratings`` and ``/admin/ratings/{task_id}/export.csv|export.jsonl`` — rating tasks
  with their counts; the CSV is exactly what ``safemed judges calibrate --human`` reads.

The dashboard numbers are cached per worker process and reused for :data:`CACHE_SECONDS`, or for
:data:`LOAD_FACTOR` times as long as they took to compute when that is longer: a demo ledger
updates within seconds, while a 362K-item ledger (whose per-reviewer agreement takes seconds to
compute) is aggregated at most ~1/LOAD_FACTOR of the time however many admins poll. Stale figures
that are slow to compute are refreshed in a background thread while the stale ones are shown, so
no poll waits on the aggregation; the page says how old the figures are.

"Verify now" replays the whole hash tree, which takes minutes at ~1.5M events: it runs in a
background thread (one at a time per worker); the request waits up to :data:`VERIFY_WAIT_S` for
it, and otherwise the page says it is running. Each result is an audit row (``verify``), which is
where the dashboard reads the latest result from, so every worker shows it.
"""

from __future__ import annotations

import tempfile
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from safemed.app.auth import User, require_roles
from safemed.app.context import AppContext, get_ctx
from safemed.app.render import render
from safemed.app.security import client_ip
from safemed.curate import integrity, progress
from safemed.curate.funnel import status as funnel_status
from safemed.curate.view import open_view

router = APIRouter()

ADMIN = require_roles("admin")
CACHE_SECONDS = 5.0
"""The least time (seconds) the dashboard's figures are reused before they are computed again."""
LOAD_FACTOR = 10.0
"""Figures that took t seconds to compute are reused for at least LOAD_FACTOR × t seconds."""
BACKGROUND_AFTER_S = 0.5
"""Stale figures that took longer than this to compute are refreshed in the background."""
VERIFY_WAIT_S = 5.0
"""How long ``POST /admin/verify`` waits for the verification before answering "running"."""
AUDIT_LIMIT = 200


@dataclass(frozen=True)
class Snapshot:
    """The dashboard's figures as computed at ``at`` (monotonic clock) from ``tree_size`` events."""

    at: float
    tree_size: int
    figures: dict[str, Any]
    seconds: float = 0.0

    def fresh(self, now: float) -> bool:
        """Whether these figures may still be shown without computing them again."""
        if CACHE_SECONDS <= 0:
            return False
        return now - self.at < max(CACHE_SECONDS, LOAD_FACTOR * self.seconds)


_cache: dict[int, Snapshot] = {}
_refreshing: set[int] = set()
_verifying: dict[int, Future[dict[str, Any]]] = {}
_lock = threading.Lock()


def _reviewer_names(ctx: AppContext) -> dict[str, str]:
    """Pseudonym → app user name, so admins (only they) see who is behind each row."""
    return {ctx.keys.pseudonym(u.name): u.name for u in ctx.store.list_users()}


def compute_figures(ctx: AppContext) -> Snapshot:
    """Every number the dashboard shows, read from one curation snapshot and the rating store."""
    started = time.monotonic()
    with open_view(ctx.ledger) as view:
        specialties = progress.specialty_progress(view)
        reviewers = progress.reviewer_progress(view)
        state = funnel_status(view)
        size = view.tree_size
    gold = ctx.ratings.gold_accuracy()
    names = _reviewer_names(ctx)
    dimensions = sorted({dim for row in reviewers for dim in row.get("alpha", {})})
    listed = {row["pseudonym"] for row in reviewers}
    reviewers += [{"pseudonym": who, "specialties": [], "reviews": 0, "open": 0, "median_seconds": None,
                   "rejects": 0, "edits": 0, "alpha": {}} for who in sorted(set(gold) - listed)]
    for row in reviewers:
        row["name"] = names.get(row["pseudonym"], "")
        row["gold"] = gold.get(row["pseudonym"])
    figures = {"specialties": specialties, "reviewers": reviewers, "dimensions": dimensions,
               "funnel": state["funnel"], "queues": state["queues"],
               "checkpoint": integrity.latest_checkpoint(ctx.ledger)}
    now = time.monotonic()
    return Snapshot(now, size, figures, now - started)


def _store_figures(ctx: AppContext) -> Snapshot:
    snap = compute_figures(ctx)
    with _lock:
        _cache[id(ctx)] = snap
    return snap


def _refresh_in_background(ctx: AppContext) -> None:
    key = id(ctx)
    try:
        _store_figures(ctx)
    finally:
        with _lock:
            _refreshing.discard(key)


def figures(ctx: AppContext) -> Snapshot:
    """The cached figures while fresh (:meth:`Snapshot.fresh`); stale ones that are slow to
    compute while a background thread computes new ones; otherwise freshly computed ones."""
    key = id(ctx)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.fresh(time.monotonic()):
            return cached
        if cached is not None and CACHE_SECONDS > 0 and cached.seconds > BACKGROUND_AFTER_S:
            if key not in _refreshing:
                _refreshing.add(key)
                threading.Thread(target=_refresh_in_background, args=(ctx,), daemon=True,
                                 name="safemed-dashboard").start()
            return cached
    return _store_figures(ctx)


def _dashboard_context(ctx: AppContext) -> dict[str, Any]:
    snap = figures(ctx)
    reuse = max(CACHE_SECONDS, LOAD_FACTOR * snap.seconds)
    return {**snap.figures, "tree_size": snap.tree_size, "age": int(time.monotonic() - snap.at),
            "cache_seconds": round(reuse), "last_verify": _last_verify(ctx), "verify_running": _running(ctx)}


def _last_verify(ctx: AppContext) -> dict[str, str] | None:
    """The latest ``verify`` audit row as ``at``, ``user`` and its ``key=value`` fields."""
    rows = ctx.store.recent_audit(1, event="verify")
    if not rows:
        return None
    fields = dict(part.split("=", 1) for part in rows[0].detail.split() if "=" in part)
    return {"at": datetime.fromtimestamp(rows[0].at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "user": rows[0].user_name or "", **fields}


def _running(ctx: AppContext) -> bool:
    with _lock:
        job = _verifying.get(id(ctx))
    return job is not None and not job.done()


def _verify_job(ctx: AppContext, who: str, ip: str | None) -> dict[str, Any]:
    result = integrity.verify_now(ctx.ledger)
    problems = result.get("problems", [])
    ctx.store.audit(who, "verify",
                    f"ok={result.get('ok')} tree_size={result.get('tree_size')} problems={len(problems)} "
                    f"seconds={float(result.get('seconds', 0.0)):.2f} read_model_ok={result.get('read_model_ok')}", ip)
    with _lock:
        _cache.pop(id(ctx), None)
    return result


def start_verify(ctx: AppContext, who: str, ip: str | None) -> Future[dict[str, Any]]:
    """The running verification of this worker, or a new one started in a background thread."""
    with _lock:
        job = _verifying.get(id(ctx))
        if job is None or job.done():
            job = Future()
            _verifying[id(ctx)] = job

            def run(target: Future[dict[str, Any]] = job) -> None:
                try:
                    target.set_result(_verify_job(ctx, who, ip))
                except BaseException as exc:  # reported to the waiting request, never lost silently
                    target.set_exception(exc)

            threading.Thread(target=run, daemon=True, name="safemed-verify").start()
    return job


@router.get("/admin")
def dashboard(request: Request, user: Annotated[User, ADMIN]) -> Response:
    """The whole dashboard; its progress section then refreshes itself through the fragment."""
    return render(request, "admin/dashboard.html", {**_dashboard_context(get_ctx(request)), "verify": None})


@router.get("/admin/fragment/progress")
def progress_fragment(request: Request, user: Annotated[User, ADMIN]) -> Response:
    """The live part of the dashboard (progress tables and funnel) as an HTML fragment."""
    return render(request, "admin/_progress.html", _dashboard_context(get_ctx(request)))


@router.post("/admin/verify")
def verify(request: Request, user: Annotated[User, ADMIN]) -> Response:
    """Verify the ledger now (hash tree, signatures, read model), show the result, audit it."""
    ctx = get_ctx(request)
    job = start_verify(ctx, user.name, client_ip(request.scope))
    try:
        result: dict[str, Any] | None = job.result(timeout=VERIFY_WAIT_S)
    except FutureTimeout:
        result = None  # still running: the page says so, and the audit row will carry the result
    page = _dashboard_context(ctx)
    if result is None and job.done():  # it finished while the page was being put together
        result = job.result()
    return render(request, "admin/dashboard.html", {**page, "verify": result, "verify_running": result is None})


@router.get("/admin/audit")
def audit(request: Request, user: Annotated[User, ADMIN]) -> Response:
    """The most recent audit events, newest first."""
    rows = get_ctx(request).store.recent_audit(AUDIT_LIMIT)
    events = [{"at": datetime.fromtimestamp(r.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), "user": r.user_name,
               "event": r.event, "detail": r.detail, "ip": r.ip} for r in rows]
    return render(request, "admin/audit.html", {"events": events})


@router.get("/admin/ratings")
def ratings(request: Request, user: Annotated[User, ADMIN]) -> Response:
    """Every rating task with its unit and label counts, and links to its exports."""
    return render(request, "admin/ratings.html", {"tasks": get_ctx(request).ratings.tasks()})


def _export(request: Request, task_id: str, suffix: str, media_type: str) -> Response:
    ctx = get_ctx(request)
    task = next((task for task in ctx.ratings.tasks() if task.id == task_id), None)
    if task is None:
        raise HTTPException(status_code=404)
    if suffix == ".csv" and task.kind != "msb":
        raise HTTPException(status_code=409)  # id,score on the MSB scale exists for msb tasks only
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"labels{suffix}"
        if suffix == ".csv":
            ctx.ratings.export_human_csv(task_id, path)
        else:
            ctx.ratings.export_jsonl(task_id, path)
        body = path.read_bytes()
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in task_id)
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{safe}-labels{suffix}"'})


@router.get("/admin/ratings/{task_id}/export.csv")
def export_csv(request: Request, task_id: str, user: Annotated[User, ADMIN]) -> Response:
    """The task's labels as ``id,score`` — the file ``safemed judges calibrate --human`` reads."""
    return _export(request, task_id, ".csv", "text/csv; charset=utf-8")


@router.get("/admin/ratings/{task_id}/export.jsonl")
def export_jsonl(request: Request, task_id: str, user: Annotated[User, ADMIN]) -> Response:
    """Every label of the task with rater pseudonym, time spent and chain hash, one JSON per line."""
    return _export(request, task_id, ".jsonl", "application/x-ndjson")
