"""The adjudicator's pages (paper: expert-panel adjudication and the five-strike escalation).

Items whose reviews disagree (scores more than one point apart, keep against reject, two
different edits) or that the model failed five times wait for the expert panel. An adjudicator

* ``GET /adjudicate`` sees that queue, paged by item id (keyset, so a long queue costs the same
  per page), with why each item is there;
* ``GET /adjudicate/{item_id}`` sees the question, the gold answer, the trace, the model's
  attempts and every review side by side — scores per dimension highlighted where reviewers
  spread, verdicts, comments, time, each reviewer's edit as a diff. Reviewers are "Reviewer 1",
  "Reviewer 2": their pseudonyms are not shown, so the panel judges the reviews, not the people;
* ``POST /adjudicate/{item_id}`` decides keep / edit / reject with a required reason through
  :func:`safemed.curate.casebook.decide` (one ledger transaction, signed checkpoint; a repeat of
  the same decision appends nothing), then lands on the next case. ``action=preview`` shows the
  diff of an edited reasoning without deciding.

Everything goes through ``safemed.curate``; the app never reads the ledger tables itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from safemed.app.auth import User, require_roles
from safemed.app.context import get_ctx
from safemed.app.render import render
from safemed.app.security import client_ip
from safemed.curate import casebook
from safemed.curate.view import open_view
from safemed.errors import DataError

router = APIRouter()

ADJUDICATOR = require_roles("adjudicator")
PAGE_SIZE = 25
MAX_SPREAD = 1
"""Scores further apart than this on one dimension send an item to the panel (curate's default)."""
MAX_REASON = 4000
MAX_REASONING = 100_000
Decision = Literal["keep", "edit", "reject"]
DECISIONS: tuple[Decision, ...] = ("keep", "edit", "reject")
NOTICES = frozenset({"decided", "already"})
"""The only notices a redirect may ask a page to show (no user text travels in a URL)."""


def spreads(case: casebook.Case) -> dict[str, int]:
    """Per rubric dimension, how far apart the reviewers' scores are (max − min; 0 with one review)."""
    out: dict[str, int] = {}
    for dim in case.dimensions:
        values = [col.scores[dim] for col in case.reviews if dim in col.scores]
        out[dim] = max(values) - min(values) if values else 0
    return out


def _next_case(request: Request, done: str) -> str:
    """Where to go after deciding ``done``: the first case still waiting, else the queue."""
    ctx = get_ctx(request)
    with open_view(ctx.ledger) as view:
        entries = casebook.adjudication_page(view, limit=2, max_spread=MAX_SPREAD)
    following = [e.item_id for e in entries if e.item_id != done]
    return f"/adjudicate/{following[0]}" if following else "/adjudicate"


@router.get("/adjudicate")
def queue(request: Request, user: Annotated[User, ADJUDICATOR], after: str | None = None,
          notice: str | None = None) -> Response:
    """The panel's queue: disagreements and five-strike escalations, oldest first, a page at a time."""
    ctx = get_ctx(request)
    with open_view(ctx.ledger) as view:
        entries = casebook.adjudication_page(view, limit=PAGE_SIZE + 1, after=after, max_spread=MAX_SPREAD)
        total = casebook.adjudication_count(view, max_spread=MAX_SPREAD)
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    rows = [{"item_id": e.item_id, "reasons": e.reasons, "specialty": e.detail.get("specialty", ""),
             "reviews": len(e.detail.get("reviews", [])), "failed": e.detail.get("failed_attempts", 0)}
            for e in entries]
    return render(request, "adjudicate/queue.html", {
        "rows": rows, "total": total, "after": after,
        "next_after": entries[-1].item_id if more and entries else None,
        "notice": notice if notice in NOTICES else None})


def _case_page(request: Request, case: casebook.Case, *, status: int = 200, form: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, preview: bool = False, notice: str | None = None) -> Response:
    form = form or {}
    edited = form.get("edited_reasoning", "")
    context: dict[str, Any] = {
        "case": case, "spreads": spreads(case), "max_spread": MAX_SPREAD, "form": form, "errors": errors or {},
        "preview": preview and bool(edited.strip()), "edited": edited or case.reasoning,
        "decisions": DECISIONS, "notice": notice if notice in NOTICES else None}
    return render(request, "adjudicate/case.html", context, status=status)


def _load_case(request: Request, item_id: str) -> casebook.Case | None:
    with open_view(get_ctx(request).ledger) as view:
        return casebook.case(view, item_id, max_spread=MAX_SPREAD)


@router.get("/adjudicate/{item_id}")
def show_case(request: Request, item_id: str, user: Annotated[User, ADJUDICATOR],
              notice: str | None = None) -> Response:
    """One case with every review side by side (404 when the item is unknown)."""
    found = _load_case(request, item_id)
    if found is None:
        raise HTTPException(status_code=404)
    return _case_page(request, found, notice=notice)


def check_decision(decision: str, reason: str, edited: str, original: str) -> dict[str, str]:
    """Field → error key for a decision form (empty when it may be recorded)."""
    errors: dict[str, str] = {}
    if decision not in DECISIONS:
        errors["decision"] = "panel.adj.error.decision"
    if not reason.strip():
        errors["reason"] = "panel.adj.error.reason_required"
    elif len(reason) > MAX_REASON:
        errors["reason"] = "panel.adj.error.too_long"
    if decision == "edit":
        if not edited.strip():
            errors["edited_reasoning"] = "panel.adj.error.edit_required"
        elif edited.strip() == original.strip():
            errors["edited_reasoning"] = "panel.adj.error.edit_unchanged"
        elif len(edited) > MAX_REASONING:
            errors["edited_reasoning"] = "panel.adj.error.too_long"
    return errors


@router.post("/adjudicate/{item_id}")
def decide_case(request: Request, item_id: str, user: Annotated[User, ADJUDICATOR],
                decision: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                edited_reasoning: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "decide") -> Response:
    """Record the panel's decision (or, with ``action=preview``, show the edit's diff), then the next case."""
    found = _load_case(request, item_id)
    if found is None:
        raise HTTPException(status_code=404)
    form = {"decision": decision, "reason": reason, "edited_reasoning": edited_reasoning}
    if action == "preview":
        return _case_page(request, found, form={**form, "decision": decision or "edit"}, preview=True)
    errors = check_decision(decision, reason, edited_reasoning, found.reasoning)
    if errors:
        return _case_page(request, found, status=422, form=form, errors=errors, preview=decision == "edit")
    ctx = get_ctx(request)
    try:
        created = casebook.decide(ctx.ledger, ctx.keys, item_id, decision=cast(Decision, decision),
                                  reason=reason.strip(), panel_member=user.pseudonym,
                                  edited_reasoning=edited_reasoning.strip() if decision == "edit" else None,
                                  max_spread=MAX_SPREAD)
    except DataError as exc:
        return _case_page(request, found, status=409, form=form,
                          errors={exc.field or "decision": "panel.adj.error.rejected", "_detail": exc.problem})
    ctx.store.audit(user.name, "adjudication", f"{item_id} {decision}{'' if created else ' (repeat)'}",
                    client_ip(request.scope))
    notice = "decided" if created else "already"
    return RedirectResponse(f"{_next_case(request, item_id)}?notice={notice}", status_code=303)
