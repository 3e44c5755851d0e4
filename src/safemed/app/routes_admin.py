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

The dashboard numbers are cached for :data:`CACHE_SECONDS` (per worker process), so a 362K-item
ledger is aggregated at most once per interval however many admins poll; the page says how old
the figures are.
"""

from __future__ import annotations

import tempfile
import threading
import time
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
"""How long (seconds) the dashboard's figures are reused before they are computed again."""
AUDIT_LIMIT = 200


@dataclass(frozen=True)
class Snapshot:
    """The dashboard's figures as computed at ``at`` (monotonic clock) from ``tree_size`` events."""

    at: float
    tree_size: int
    figures: dict[str, Any]


_cache: dict[int, Snapshot] = {}
_lock = threading.Lock()


def _reviewer_names(ctx: AppContext) -> dict[str, str]:
    """Pseudonym → app user name, so admins (only they) see who is behind each row."""
    return {ctx.keys.pseudonym(u.name): u.name for u in ctx.store.list_users()}


def compute_figures(ctx: AppContext) -> Snapshot:
    """Every number the dashboard shows, read from one curation snapshot and the rating store."""
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
    return Snapshot(time.monotonic(), size, {
        "specialties": specialties, "reviewers": reviewers, "dimensions": dimensions,
        "funnel": state["funnel"], "queues": state["queues"], "checkpoint": integrity.latest_checkpoint(ctx.ledger)})


def figures(ctx: AppContext) -> Snapshot:
    """The cached figures when younger than :data:`CACHE_SECONDS`, else freshly computed ones."""
    key = id(ctx)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached.at < CACHE_SECONDS:
        return cached
    fresh = compute_figures(ctx)
    with _lock:
        _cache[key] = fresh
    return fresh


def _dashboard_context(ctx: AppContext) -> dict[str, Any]:
    snap = figures(ctx)
    return {**snap.figures, "tree_size": snap.tree_size, "age": int(time.monotonic() - snap.at),
            "cache_seconds": int(CACHE_SECONDS)}


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
    result = integrity.verify_now(ctx.ledger)
    problems = result.get("problems", [])
    ctx.store.audit(user.name, "verify",
                    f"ok={result.get('ok')} tree_size={result.get('tree_size')} problems={len(problems)}",
                    client_ip(request.scope))
    with _lock:
        _cache.pop(id(ctx), None)
    return render(request, "admin/dashboard.html", {**_dashboard_context(ctx), "verify": result})


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
