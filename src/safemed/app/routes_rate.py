"""Judge labelling, pairwise comparison and Likert rating (paper: judge validation against clinicians).

The paper validates its safety judges against physicians: clinicians score model responses on
the Med-Safety-Bench 1–5 harmfulness scale, blind to any judge score, and ``safemed judges
calibrate --human`` compares the judges with those labels. The same screens serve pairwise
comparisons (A vs B, sources hidden, order randomised by the rating store) and multi-dimension
Likert ratings — the blinded packets of the coming study stage are just another rating task.

* ``GET /rate`` — the tasks open to this user, with what remains for them;
* ``GET /rate/{task_id}/next`` — lease the next unit and go to it;
* ``GET /rate/{task_id}/{unit_id}`` — the unit (403 and an audit row when it is not theirs);
* ``POST /rate/{task_id}/{unit_id}`` — record the label (idempotent), then the next unit.

Ownership always comes from :meth:`RatingStore.unit_for` with the logged-in user's pseudonym;
nothing the browser sends names the rater.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from safemed.app.auth import PermissionDenied, User, deny, require_roles
from safemed.app.context import get_ctx
from safemed.app.render import render
from safemed.errors import DataError

router = APIRouter()

RATER = require_roles("reviewer", "adjudicator")
SCALE = (1, 2, 3, 4, 5)
CHOICES = ("A", "B", "tie")
MAX_REASON = 4000
MAX_SECONDS = 6 * 3600
"""Time on one unit is capped here (a tab left open overnight is not six hours of rating)."""
NOTICES = frozenset({"recorded", "already", "done"})


def _forbidden(request: Request, user: User, what: str) -> PermissionDenied:
    """The 403 to raise, its ``permission_denied`` audit row written (a unit or task not theirs)."""
    return deny(request, user, what)


def _lease_s(request: Request) -> float:
    """How long a leased unit stays reserved for its rater (the app's lease setting)."""
    return float(get_ctx(request).settings.lease_minutes * 60)


def _task(request: Request, user: User, task_id: str) -> Any | None:
    """The task summary when this user may rate in it (it is listed among their tasks)."""
    for task in get_ctx(request).ratings.tasks(rater=user.pseudonym, specialties=user.specialties):
        if task.id == task_id:
            return task
    return None


@router.get("/rate")
def tasks(request: Request, user: Annotated[User, RATER], notice: str | None = None) -> Response:
    """The rating tasks open to this user, with how many units remain for them."""
    listed = get_ctx(request).ratings.tasks(rater=user.pseudonym, specialties=user.specialties)
    return render(request, "rate/tasks.html", {"tasks": listed, "notice": notice if notice in NOTICES else None})


@router.get("/rate/{task_id}/next")
def next_unit(request: Request, task_id: str, user: Annotated[User, RATER]) -> Response:
    """Lease the next unit of the task for this rater and open it (the task list when none is left)."""
    ctx = get_ctx(request)
    if _task(request, user, task_id) is None:
        raise _forbidden(request, user, f"rate task {task_id}")
    unit = ctx.ratings.next_unit(task_id, user.pseudonym, lease_s=_lease_s(request), specialties=user.specialties)
    if unit is None:
        return RedirectResponse("/rate?notice=done", status_code=303)
    return RedirectResponse(f"/rate/{task_id}/{unit.unit_id}", status_code=303)


def _unit_page(request: Request, task: Any, unit: Any, *, status: int = 200, form: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, notice: str | None = None) -> Response:
    return render(request, f"rate/{unit.kind}.html", {
        "task": task, "unit": unit, "scale": SCALE, "choices": CHOICES, "form": form or {},
        "errors": errors or {}, "shown_at": int(time.time()), "notice": notice if notice in NOTICES else None},
        status=status)


@router.get("/rate/{task_id}/{unit_id}")
def show_unit(request: Request, task_id: str, unit_id: str, user: Annotated[User, RATER],
              notice: str | None = None) -> Response:
    """One unit to rate, blind to judge scores and to which model wrote which response."""
    task = _task(request, user, task_id)
    unit = (get_ctx(request).ratings.unit_for(task_id, unit_id, user.pseudonym, specialties=user.specialties)
            if task is not None else None)
    if task is None or unit is None:
        raise _forbidden(request, user, f"rate unit {task_id}/{unit_id}")
    return _unit_page(request, task, unit, notice=notice)


def _score(raw: Any) -> int | None:
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if value in SCALE else None


def parse_label(kind: str, form: dict[str, Any], dimensions: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """The label a form describes, in the rating store's shape, and field → error key for what is wrong."""
    if kind == "msb":
        score = _score(form.get("score"))
        return ({"score": score}, {}) if score is not None else ({}, {"score": "panel.rate.error.score"})
    if kind == "pairwise":
        choice = str(form.get("choice", ""))
        reason = str(form.get("reason", "")).strip()
        if choice not in CHOICES:
            return {}, {"choice": "panel.rate.error.choice"}
        if len(reason) > MAX_REASON:
            return {}, {"reason": "panel.rate.error.too_long"}
        return ({"choice": choice, "reason": reason} if reason else {"choice": choice}), {}
    scores = {dim: _score(form.get(f"score_{dim}")) for dim in dimensions}
    missing = {f"score_{dim}": "panel.rate.error.score" for dim, value in scores.items() if value is None}
    return ({"scores": scores}, {}) if not missing else ({}, missing)


def seconds_since(shown_at: Any) -> int:
    """Whole seconds since the page was served (its ``shown_at`` stamp), clamped to ``0..MAX_SECONDS``."""
    try:
        start = int(str(shown_at))
    except ValueError:
        return 0
    return max(0, min(MAX_SECONDS, int(time.time()) - start))


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as plain strings (the Likert form's fields depend on the task's dimensions)."""
    return {key: value for key, value in (await request.form()).items() if isinstance(value, str)}


@router.post("/rate/{task_id}/{unit_id}")
def record(request: Request, task_id: str, unit_id: str, user: Annotated[User, RATER],
           form: Annotated[dict[str, str], Depends(form_fields)]) -> Response:
    """Record this rater's label of the unit, then lease the next unit.

    A repeat (a retry, a second tab) records nothing and says so; a unit the rater may not label
    (someone else's, unknown, full) is a 403 with an audit row — the rating store decides, from
    the signed-in user's pseudonym, never from anything the form claims.
    """
    ctx = get_ctx(request)
    task = _task(request, user, task_id)
    if task is None:
        raise _forbidden(request, user, f"rate task {task_id} (submit)")
    label, errors = parse_label(task.kind, form, tuple(task.dimensions))
    if errors:
        unit = ctx.ratings.unit_for(task_id, unit_id, user.pseudonym, specialties=user.specialties)
        if unit is None:
            raise _forbidden(request, user, f"rate unit {task_id}/{unit_id} (submit)")
        return _unit_page(request, task, unit, status=422, form=form, errors=errors)
    try:
        created = ctx.ratings.record(task_id, unit_id, user.pseudonym, label, specialties=user.specialties,
                                     seconds_spent=seconds_since(form.get("shown_at")))
    except DataError as exc:
        raise _forbidden(request, user, f"rate unit {task_id}/{unit_id} (submit): {exc.problem}") from None
    notice = "recorded" if created else "already"
    following = ctx.ratings.next_unit(task_id, user.pseudonym, lease_s=_lease_s(request),
                                      specialties=user.specialties)
    if following is None:
        return RedirectResponse(f"/rate?notice={notice}", status_code=303)
    return RedirectResponse(f"/rate/{task_id}/{following.unit_id}?notice={notice}", status_code=303)
