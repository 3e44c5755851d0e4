"""The reviewer's screens (SafeMed-R1: physicians score model-written chains of thought on the
five-dimension rubric, edit them, and accept or reject them).

* ``GET /queue`` — the reviewer's slots (their open assignments, then items of their specialties
  they may claim), oldest first; how many remain and a time estimate (their median seconds per
  item × remaining, or :data:`DEFAULT_SECONDS` before they have a history); drafts and skips marked.
* ``GET /review/next`` — 303 to the next slot. Every ``settings.gold_every`` items a hidden gold
  unit of the ratings store comes first (where in the cycle is fixed per reviewer by a keyed
  hash, so it is deterministic yet not guessable); it is served through the same URL shape and
  template as a real item, so nothing tells it apart.
* ``GET /review/{token}`` — one item: question, options, gold answer, the reasoning (Markdown,
  ``<think>`` sections collapsible), the rubric as radio groups with anchors, an editor, verdict,
  comment. Opening it reserves a claimable item (``AppStore.lease``) and starts the clock: the
  time is kept server-side in the draft row, so ``seconds_spent`` does not trust the browser.
* ``POST /review/{token}`` — submit through :func:`safemed.curate.workbench.submit` (one ledger
  transaction with a signed checkpoint; a second submit appends nothing and lands on the next
  item with a notice); gold units through :meth:`RatingStore.record_gold` (never the ledger).
  Invalid input re-renders the form with the message and everything typed kept.
* ``POST /review/{token}/preview`` — the escaped diff of the edit (a fragment for review.js, the
  whole page without JavaScript); ``/draft`` saves (autosave every ~20 s); ``/skip`` with a reason
  moves the slot to the end of the queue.
* ``GET /guidelines`` — the rubric anchors.

Tokens (:mod:`safemed.app.tokens`) are encrypted and bound to the user they were issued to; every
request also re-checks ownership with ``resolve_slot`` / ``gold_unit``. Another user's token is
403 with an audit row ``permission_denied``; a garbled or forged token is 404 (also audited).
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from safemed.app import render as rendering
from safemed.app.auth import User, deny, require_roles
from safemed.app.context import AppContext, get_ctx
from safemed.app.render import render
from safemed.app.security import client_ip
from safemed.app.tokens import SlotRef, TokenCodec, gold_key
from safemed.curate import workbench
from safemed.curate.view import open_view
from safemed.errors import DataError
from safemed.records.curation import RUBRICS

router = APIRouter()

REVIEWER = require_roles("reviewer", "adjudicator")
ANYONE = require_roles("reviewer", "adjudicator", "admin")

LEVELS = (1, 2, 3, 4, 5)
VERDICTS: tuple[tuple[str, str, str], ...] = (
    ("accept", "review.item.verdict_accept", "a"),
    ("fix", "review.item.verdict_fix", "f"),
    ("reject", "review.item.verdict_reject", "r"),
)
QUEUE_LIMIT = 20
DEFAULT_SECONDS = 300
"""Assumed seconds per item for the estimate until the reviewer has submitted something."""
PACE_WINDOW = 50
"""The estimate uses the median of this many most recent submissions."""
MAX_COMMENT = 5000
MAX_REASONING = 100_000
MAX_SKIP_REASON = 500
RESUME_GAP_S = 600.0
"""Reopening an item within this many seconds of the last action counts the gap as work (a reload)."""
STATS_KEY = "~stats"
"""The reviewer's own app statistics (submissions so far, recent seconds) kept in the drafts table."""
NOTICES = frozenset({"draft_resumed", "draft_saved", "submitted", "already_submitted", "skipped",
                     "unavailable", "leased", "done"})
"""The only notices a redirect may ask for (no user text travels in a URL)."""


# -- tokens ---------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _codec_for(secret: str) -> TokenCodec:
    return TokenCodec(secret)


def codec(ctx: AppContext) -> TokenCodec:
    """The token codec of this app's secret."""
    return _codec_for(ctx.settings.secret_key)


def _ref(request: Request, user: User, token: str) -> SlotRef:
    """The slot a token names, issued to this user: 404 for a token this app did not make, 403
    (audited) for one issued to someone else."""
    ref = codec(get_ctx(request)).decode(token)
    if ref is None:
        get_ctx(request).store.audit(user.name, "permission_denied", f"{request.method} /review: invalid token",
                                     client_ip(request.scope))
        raise HTTPException(status_code=404)
    if ref.user_id != user.id:
        raise deny(request, user, "review token issued to another user")
    return ref


# -- what a page shows ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """One review page's content, from a curation slot or a gold unit alike (the template sees
    only these fields, so the two cannot be told apart)."""

    key: str
    item_id: str | None
    """The ledger item (leases); None for gold units, which are not leased."""
    assigned: bool
    free: int
    """Reviewer slots of the item not yet taken by an assignment (what a lease may reserve)."""
    specialty: str
    question: str
    options: dict[str, str]
    gold: str
    language: str
    rubric: str
    dimensions: tuple[str, ...]
    reasoning: str
    answer: str

    @property
    def is_gold(self) -> bool:
        """Whether this is a hidden gold unit."""
        return self.item_id is None


def _load(ctx: AppContext, user: User, ref: SlotRef) -> Shown | None:
    """The page of ``ref`` if this reviewer may work on it now (ownership checked here, on the
    server, every time); None when it is not (any more) theirs."""
    if ref.is_gold:
        if ctx.ratings is None:
            return None
        unit = ctx.ratings.gold_unit(ref.gold_id, user.pseudonym)
        if unit is None or _fold(unit.specialty) not in {_fold(s) for s in user.specialties}:
            return None
        return Shown(ref.key, None, False, 1, unit.specialty, unit.question, dict(unit.options), unit.gold,
                     unit.language, unit.rubric, tuple(unit.dimensions), unit.reasoning, unit.answer)
    settings = ctx.settings
    with open_view(ctx.ledger) as view:
        slot = workbench.resolve_slot(view, ref.key, user.pseudonym, user.specialties, per_item=settings.per_item,
                                      claim=settings.claim)
        if slot is None:
            return None
        page = workbench.review_page(view, slot)
        state = view.state(slot.item_id)  # loaded (cached) by review_page
        taken = sum(a.trace_id == slot.trace_id for a in state.assignments) if state is not None else 0
    return Shown(slot.key, slot.item_id, slot.assigned, max(0, settings.per_item - taken), slot.specialty,
                 page.question, dict(page.options), page.gold, page.language, page.rubric, tuple(page.dimensions),
                 page.reasoning, page.answer)


def _fold(specialty: str) -> str:
    return " ".join(specialty.split()).casefold()


def _reasoning_parts(text: str) -> list[dict[str, Any]]:
    """The reasoning as rendered parts: ``think`` sections (collapsible) and the rest, Markdown."""
    return [{"think": block.kind == "think", "html": block.html} for block in rendering.think_blocks(text)]


def _page_view(shown: Shown) -> dict[str, Any]:
    return {"specialty": shown.specialty, "question_html": rendering.markdown(shown.question),
            "options": sorted(shown.options.items()), "gold": shown.gold, "language": shown.language,
            "reasoning_parts": _reasoning_parts(shown.reasoning), "answer": shown.answer,
            "dimensions": shown.dimensions, "rubric": shown.rubric}


# -- the form -------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    """Browsers send textarea lines ending in CRLF; compare and store with LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class FormInput:
    """What the reviewer typed, kept verbatim for re-rendering (scores as the submitted strings)."""

    scores: dict[str, str] = field(default_factory=dict)
    verdict: str = ""
    comment: str = ""
    edited: str = ""
    skip_reason: str = ""

    @classmethod
    def from_form(cls, form: Mapping[str, Any], shown: Shown) -> FormInput:
        """Read the posted fields that belong to this page (unknown fields are ignored)."""
        def text(name: str) -> str:
            value = form.get(name)
            return _norm(value) if isinstance(value, str) else ""
        scores = {dim: text(f"score_{dim}").strip() for dim in shown.dimensions if text(f"score_{dim}").strip()}
        edited = text("edited_reasoning") if "edited_reasoning" in form else shown.reasoning
        return cls(scores=scores, verdict=text("verdict").strip(), comment=text("comment"), edited=edited,
                   skip_reason=text("skip_reason").strip())

    @classmethod
    def from_draft(cls, draft: Mapping[str, Any], shown: Shown) -> FormInput:
        """A saved draft (only the fields a draft keeps; anything malformed is dropped)."""
        raw = draft.get("scores")
        scores = {d: str(v) for d, v in raw.items() if d in shown.dimensions} if isinstance(raw, dict) else {}
        edited = draft.get("edited")
        return cls(scores=scores, verdict=str(draft.get("verdict") or ""), comment=str(draft.get("comment") or ""),
                   edited=edited if isinstance(edited, str) else shown.reasoning,
                   skip_reason=str(draft.get("skip_reason") or ""))

    def has_content(self, shown: Shown) -> bool:
        """Whether anything was entered (a draft worth marking in the queue)."""
        return bool(self.scores or self.verdict or self.comment.strip() or self.changed(shown))

    def changed(self, shown: Shown) -> bool:
        """Whether the reasoning was edited (whitespace at the ends does not count)."""
        return self.edited.strip() != "" and self.edited.strip() != _norm(shown.reasoning).strip()

    def draft_body(self, shown: Shown) -> dict[str, Any]:
        """The draft fields (the edit only when there is one)."""
        return {"scores": self.scores, "verdict": self.verdict, "comment": self.comment[:MAX_COMMENT * 2],
                "edited": self.edited[:MAX_REASONING * 2] if self.changed(shown) else None,
                "skip_reason": self.skip_reason[:MAX_SKIP_REASON]}


@dataclass(frozen=True)
class Problem:
    """A validation message: a locale key and its arguments (``dim`` is translated in the template)."""

    key: str
    args: dict[str, Any] = field(default_factory=dict)
    dim: str | None = None


@dataclass(frozen=True)
class Checked:
    """A valid submission."""

    scores: dict[str, int]
    verdict: Literal["accept", "fix", "reject"]
    comment: str
    edited: str | None


def check(form: FormInput, shown: Shown) -> tuple[Checked | None, list[Problem]]:
    """Validate a submission the way curation will (every dimension 1–5, a verdict, fix needs an
    edit, accept must not carry one), so the reviewer sees every problem at once, translated."""
    problems: list[Problem] = []
    scores: dict[str, int] = {}
    for dim in shown.dimensions:
        raw = form.scores.get(dim)
        if raw is None:
            problems.append(Problem("review.error.score_missing", dim=dim))
        elif raw not in {str(level) for level in LEVELS}:
            problems.append(Problem("review.error.score_range", dim=dim))
        else:
            scores[dim] = int(raw)
    verdict = form.verdict
    if verdict not in ("accept", "fix", "reject"):
        problems.append(Problem("review.error.verdict"))
    changed = form.changed(shown)
    if verdict == "fix" and not changed:
        problems.append(Problem("review.error.fix_needs_edit"))
    if verdict == "accept" and changed:
        problems.append(Problem("review.error.accept_with_edit"))
    if len(form.edited) > MAX_REASONING:
        problems.append(Problem("review.error.too_long", {"n": MAX_REASONING}, dim="edited_reasoning"))
    if len(form.comment) > MAX_COMMENT:
        problems.append(Problem("review.error.too_long", {"n": MAX_COMMENT}, dim="comment"))
    if problems:
        return None, problems
    return Checked(scores, cast(Literal["accept", "fix", "reject"], verdict), form.comment.strip(),
                   form.edited.strip() if verdict == "fix" else None), []


# -- time, drafts, stats ----------------------------------------------------------------------------

def _cap(ctx: AppContext) -> float:
    """A gap between two actions on a page counts at most this long (the lease time): a page left
    open overnight does not count as a night's work."""
    return max(60.0, ctx.settings.lease_minutes * 60.0)


def _open_draft(ctx: AppContext, user: User, shown: Shown) -> tuple[dict[str, Any], bool]:
    """The draft row at opening: the clock starts, or goes on (a reload within
    :data:`RESUME_GAP_S` keeps counting; after a longer absence a new sitting starts).
    Returns the draft and whether it holds the reviewer's earlier input."""
    now = time.time()
    draft = ctx.store.get_draft(user.name, shown.key) or {}
    resumed = bool(draft) and FormInput.from_draft(draft, shown).has_content(shown)
    draft.setdefault("opened_at", now)
    gap = max(0.0, now - float(draft.get("touched") or now))
    draft["spent"] = float(draft.get("spent") or 0.0) + (gap if gap <= RESUME_GAP_S else 0.0)
    draft["touched"] = now
    ctx.store.save_draft(user.name, shown.key, draft)
    return draft, resumed


def _touch(ctx: AppContext, user: User, shown: Shown, form: FormInput | None) -> dict[str, Any]:
    """Count the time since the last action (capped) and keep the form as the draft."""
    draft = _touched(ctx, user, shown, form)
    ctx.store.save_draft(user.name, shown.key, draft)
    return draft


def _touched(ctx: AppContext, user: User, shown: Shown, form: FormInput | None,
             saved: dict[str, Any] | None = None) -> dict[str, Any]:
    """The draft with the time since the last action counted (capped) and the form in it (not
    saved); ``saved``: the stored draft when the caller has read it already."""
    now = time.time()
    draft = saved if saved is not None else ctx.store.get_draft(user.name, shown.key)
    draft = draft or {"opened_at": now, "spent": 0.0, "touched": now}
    touched = float(draft.get("touched") or now)
    draft["spent"] = float(draft.get("spent") or 0.0) + min(max(0.0, now - touched), _cap(ctx))
    draft["touched"] = now
    if form is not None:
        draft.update(form.draft_body(shown))
    return draft


def seconds_spent(draft: Mapping[str, Any]) -> int:
    """Whole seconds the reviewer spent on the item (the draft's counted time)."""
    return max(0, round(float(draft.get("spent") or 0.0)))


def _stats(ctx: AppContext, user: User, saved: dict[str, Any] | None = None) -> dict[str, Any]:
    data = (saved if saved is not None else ctx.store.get_draft(user.name, STATS_KEY)) or {}
    recent = [int(s) for s in data.get("recent", []) if isinstance(s, int | float)]
    return {"n": int(data.get("n") or 0), "recent": recent[-PACE_WINDOW:]}


def pace(recent: list[int]) -> tuple[int, bool]:
    """Seconds per item for the estimate: the median of recent submissions, or the default
    (second value False) before there are any."""
    if not recent:
        return DEFAULT_SECONDS, False
    return max(1, int(statistics.median(recent))), True


def duration(seconds: int) -> tuple[str, dict[str, int]]:
    """A locale key and arguments for a duration (minutes below an hour, else hours and minutes)."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return "review.unit.minutes", {"n": minutes}
    return "review.unit.hours", {"h": minutes // 60, "m": minutes % 60}


# -- gold units -------------------------------------------------------------------------------------

def gold_phase(secret: str, pseudonym: str, every: int) -> int:
    """Where in each cycle of ``every`` items this reviewer's gold unit falls: a keyed hash of the
    pseudonym, so it is fixed per reviewer (deterministic) but not predictable without the secret."""
    digest = hmac.new(secret.encode(), b"gold-phase\0" + pseudonym.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % every


def gold_due(n_done: int, phase: int, every: int) -> bool:
    """Whether the item after ``n_done`` submissions is a gold unit: one per ``every`` items."""
    return every > 0 and (n_done % every) == phase


def _gold_next(ctx: AppContext, user: User, skipped: Mapping[str, str]) -> str | None:
    """The slot key of the gold unit to serve now, if one is due and available."""
    every = ctx.settings.gold_every
    if every <= 0 or ctx.ratings is None:
        return None
    n_done = _stats(ctx, user)["n"]
    if not gold_due(n_done, gold_phase(ctx.settings.secret_key, user.pseudonym, every), every):
        return None
    unit = ctx.ratings.gold_for(user.pseudonym, user.specialties)
    if unit is None or gold_key(unit.id) in skipped:
        return None
    return gold_key(unit.id)


# -- pages ------------------------------------------------------------------------------------------

def _notice(notice: str | None) -> str | None:
    return f"review.notice.{notice}" if notice in NOTICES else None


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _remaining(ctx: AppContext, user: User) -> int:
    with open_view(ctx.ledger) as view:
        return workbench.queue_remaining(view, user.pseudonym, user.specialties, per_item=ctx.settings.per_item,
                                         claim=ctx.settings.claim)


@router.get("/queue")
def queue(request: Request, user: Annotated[User, REVIEWER], notice: str | None = None) -> Response:
    """The reviewer's queue: their own and claimable slots, oldest first, skipped ones last."""
    ctx = get_ctx(request)
    settings = ctx.settings
    skipped = ctx.store.skipped(user.name)
    drafts = set(ctx.store.drafts_of(user.name))
    held = ctx.store.held_by_others(user.name)  # read before the view: one pooled connection per request at a time
    with open_view(ctx.ledger) as view:
        slots = workbench.reviewer_queue(view, user.pseudonym, user.specialties, per_item=settings.per_item,
                                         limit=QUEUE_LIMIT, held=held,
                                         skip=skipped.keys(), claim=settings.claim)
        remaining = workbench.queue_remaining(view, user.pseudonym, user.specialties, per_item=settings.per_item,
                                              claim=settings.claim)
    rows = []
    tokens = codec(ctx)
    for slot in slots:
        draft = ctx.store.get_draft(user.name, slot.key) if slot.key in drafts else None
        has_draft = draft is not None and any(draft.get(k) for k in ("scores", "verdict", "comment", "edited"))
        rows.append({"token": tokens.encode(slot.key, user.id), "specialty": slot.specialty,
                     "assigned": slot.assigned, "draft": has_draft, "skipped": slot.key in skipped})
    seconds, known = pace(_stats(ctx, user)["recent"])
    total_key, total_args = duration(seconds * remaining)
    pace_key, pace_args = duration(seconds)
    return render(request, "review/queue.html", {
        "slots": rows, "remaining": remaining, "notice_key": _notice(notice), "estimate_known": known,
        "estimate": {"total": (total_key, total_args), "pace": (pace_key, pace_args)}})


@router.get("/review/next")
def next_item(request: Request, user: Annotated[User, REVIEWER], notice: str | None = None) -> Response:
    """303 to the reviewer's next item (a gold unit when one is due), or to the queue when done."""
    ctx = get_ctx(request)
    settings = ctx.settings
    skipped = ctx.store.skipped(user.name)
    held = ctx.store.held_by_others(user.name)  # read before the view (see queue)
    with open_view(ctx.ledger) as view:
        slots = workbench.reviewer_queue(view, user.pseudonym, user.specialties, per_item=settings.per_item,
                                         limit=1, held=held, skip=skipped.keys(),
                                         claim=settings.claim)
    suffix = f"?notice={notice}" if notice in NOTICES else ""
    if not slots:
        return _redirect("/queue?notice=" + (notice if notice in NOTICES and notice != "submitted" else "done"))
    key = _gold_next(ctx, user, skipped) or slots[0].key
    return _redirect(f"/review/{codec(ctx).encode(key, user.id)}{suffix}")


def _lease(ctx: AppContext, user: User, shown: Shown) -> bool:
    """Reserve a claimable item while the reviewer works on it (their own assignment and gold
    units need no lease: nobody else can take them)."""
    if shown.is_gold or shown.assigned or shown.item_id is None:
        return True
    return bool(ctx.store.lease(shown.item_id, user.name, shown.free,
                                lease_s=ctx.settings.lease_minutes * 60.0))


def _item_page(request: Request, user: User, token: str, shown: Shown, form: FormInput, *,
               notice: str | None = None, problems: list[Problem] | None = None, diff: bool = False,
               status: int = 200) -> Response:
    ctx = get_ctx(request)
    return render(request, "review/item.html", {
        "token": token, "page": _page_view(shown), "form": form, "levels": LEVELS, "verdicts": VERDICTS,
        "notice_key": notice, "problems": problems or [], "remaining": _remaining(ctx, user),
        "rubrics": [{"name": shown.rubric, "dimensions": RUBRICS[shown.rubric]}],
        "diff": _diff_context(shown, form) if diff else None}, status=status)


def _diff_context(shown: Shown, form: FormInput) -> dict[str, Any]:
    return {"before": _norm(shown.reasoning).strip(), "after": form.edited.strip(), "changed": form.changed(shown)}


def _unavailable(ctx: AppContext, user: User, ref: SlotRef) -> Response:
    """The reviewer's own token names something no longer open to them: drop its draft and skip
    and go on (submitted in another tab, reviewers filled, item closed)."""
    ctx.store.clear_slot(user.name, ref.key)
    return _redirect("/review/next?notice=unavailable")


@router.get("/review/{token}")
def item(request: Request, token: str, user: Annotated[User, REVIEWER], notice: str | None = None) -> Response:
    """One review page; reserves the item and starts the clock; resumes a saved draft."""
    ctx = get_ctx(request)
    ref = _ref(request, user, token)
    shown = _load(ctx, user, ref)
    if shown is None:
        return _unavailable(ctx, user, ref)
    if not _lease(ctx, user, shown):
        return _redirect("/review/next?notice=leased")
    draft, resumed = _open_draft(ctx, user, shown)
    form = FormInput.from_draft(draft, shown) if resumed else FormInput(edited=_norm(shown.reasoning))
    shown_notice = _notice(notice) or ("review.notice.draft_resumed" if resumed else None)
    return _item_page(request, user, token, shown, form, notice=shown_notice)


async def _posted(request: Request, user: User, token: str) -> tuple[AppContext, SlotRef, Shown | None, Any]:
    ctx = get_ctx(request)
    ref = _ref(request, user, token)
    form = await request.form()
    return ctx, ref, _load(ctx, user, ref), form


def _wants_fragment(request: Request) -> bool:
    return request.headers.get("x-requested-with", "").lower() == "fetch"


@router.post("/review/{token}")
async def submit(request: Request, token: str, user: Annotated[User, REVIEWER]) -> Response:
    """Submit a review (or a gold answer) and land on the next item."""
    ctx, ref, shown, posted = await _posted(request, user, token)
    if shown is None:
        return _after_gone(ctx, user, ref, posted)
    form = FormInput.from_form(posted, shown)
    checked, problems = check(form, shown)
    if checked is None:
        _touch(ctx, user, shown, form)
        return _item_page(request, user, token, shown, form, problems=problems, status=400)
    saved = ctx.store.get_drafts(user.name, [shown.key, STATS_KEY])  # one read for the draft and the pace
    draft = _touched(ctx, user, shown, form, saved.get(shown.key, {}))  # saved only if the submission fails
    seconds = seconds_spent(draft)
    try:
        created = _record(ctx, user, shown, checked, seconds)
    except DataError as exc:
        ctx.store.save_draft(user.name, shown.key, draft)
        return _item_page(request, user, token, shown, form, status=400,
                          problems=[Problem("review.error.rejected", {"problem": exc.problem})])
    if not created:
        ctx.store.clear_slot(user.name, shown.key, shown.item_id)
        return _redirect("/review/next?notice=already_submitted")
    stats = _stats(ctx, user, saved.get(STATS_KEY, {}))
    stats["n"] += 1
    stats["recent"] = (stats["recent"] + [seconds])[-PACE_WINDOW:]
    ctx.store.finish_slot(user.name, shown.key, shown.item_id, stats_key=STATS_KEY, stats=stats, event="submission",
                          detail=f"{'gold' if shown.is_gold else 'review'} {shown.key} {checked.verdict} {seconds}s",
                          ip=client_ip(request.scope))
    return _redirect("/review/next?notice=submitted")


def _record(ctx: AppContext, user: User, shown: Shown, checked: Checked, seconds: int) -> bool:
    """Write the submission: a gold answer to the ratings store, a review to the ledger."""
    if shown.is_gold:
        gold_id = shown.key[1:]
        return bool(ctx.ratings.record_gold(gold_id, user.pseudonym, verdict=checked.verdict,
                                            scores=checked.scores, seconds_spent=seconds))
    result = workbench.submit(ctx.ledger, ctx.keys, shown.key, user.pseudonym, user.specialties,
                              scores=checked.scores, verdict=checked.verdict, comment=checked.comment,
                              edited_reasoning=checked.edited, seconds_spent=seconds,
                              per_item=ctx.settings.per_item, claim=ctx.settings.claim)
    return result.created


def _after_gone(ctx: AppContext, user: User, ref: SlotRef, posted: Any) -> Response:
    """A submit for a slot that is no longer open to this reviewer: the typical case is the
    second of two tabs after the first submitted — say so and go on; anything else is
    'unavailable'. Nothing is written either way."""
    if ref.is_gold:
        done = ctx.ratings is not None and ctx.ratings.gold_unit(ref.gold_id, user.pseudonym) is None
    else:
        done = _already_reviewed(ctx, user, ref.key)
    if done:
        return _redirect("/review/next?notice=already_submitted")
    return _unavailable(ctx, user, ref)


def _already_reviewed(ctx: AppContext, user: User, key: str) -> bool:
    """Whether this reviewer's review of the slot is in the ledger (a read, no write lock)."""
    with open_view(ctx.ledger) as view:
        return workbench.reviewed(view, key, user.pseudonym) is not None


@router.post("/review/{token}/preview")
async def preview(request: Request, token: str, user: Annotated[User, REVIEWER]) -> Response:
    """The diff of the edit: a fragment for review.js, or the whole page without JavaScript."""
    ctx, ref, shown, posted = await _posted(request, user, token)
    if shown is None:
        return _unavailable(ctx, user, ref)
    form = FormInput.from_form(posted, shown)
    _touch(ctx, user, shown, form)
    if _wants_fragment(request):
        return render(request, "review/_diff.html", _diff_context(shown, form))
    return _item_page(request, user, token, shown, form, diff=True)


@router.post("/review/{token}/draft")
async def draft(request: Request, token: str, user: Annotated[User, REVIEWER]) -> Response:
    """Save the form as a draft (autosave from review.js, or the button)."""
    ctx, ref, shown, posted = await _posted(request, user, token)
    if shown is None:
        if _wants_fragment(request):
            return JSONResponse({"error": "unavailable"}, status_code=409)
        return _unavailable(ctx, user, ref)
    form = FormInput.from_form(posted, shown)
    _touch(ctx, user, shown, form)
    _lease(ctx, user, shown)  # working on it: keep the reservation
    if _wants_fragment(request):
        return JSONResponse({"saved_at": time.strftime("%H:%M:%S")})
    return _redirect(f"/review/{token}?notice=draft_saved")


@router.post("/review/{token}/skip")
async def skip(request: Request, token: str, user: Annotated[User, REVIEWER]) -> Response:
    """Skip with a reason: the slot goes to the end of the queue; the draft is kept."""
    ctx, ref, shown, posted = await _posted(request, user, token)
    if shown is None:
        return _unavailable(ctx, user, ref)
    form = FormInput.from_form(posted, shown)
    if not form.skip_reason or len(form.skip_reason) > MAX_SKIP_REASON:
        key = "review.error.skip_reason" if not form.skip_reason else "review.error.too_long"
        args = {} if not form.skip_reason else {"n": MAX_SKIP_REASON}
        return _item_page(request, user, token, shown, form, status=400,
                          problems=[Problem(key, args, dim=None if not form.skip_reason else "skip_reason")])
    _touch(ctx, user, shown, form)
    ctx.store.skip(user.name, shown.key, form.skip_reason)
    if shown.item_id is not None:
        ctx.store.release(shown.item_id, user.name)
    return _redirect("/review/next?notice=skipped")


@router.get("/guidelines")
def guidelines(request: Request, user: Annotated[User, ANYONE]) -> Response:
    """The rubric anchors of both rubrics, level by level."""
    return render(request, "review/guidelines.html", {
        "levels": LEVELS, "rubrics": [{"name": name, "dimensions": dims} for name, dims in RUBRICS.items()]})

