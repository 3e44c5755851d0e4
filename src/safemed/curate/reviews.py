"""Bulk import of physician reviews and edits (paper: rubric scoring and editing by clinicians).

``safemed curate import-reviews REVIEWS.jsonl`` reads the rows of a filled-in review queue
(``export-queue``), one review per line::

    {"item_id": "...", "trace_id": "...", "reviewer_id": "dr.lee@example.org",
     "scores": {"medical_correctness": 4, ...}, "verdict": "keep", "comment": "...",
     "edited_reasoning": "...", "seconds_spent": 240}

``reviewer_id`` (a real id) is pseudonymised with the ledger's key before anything is written
(``reviewer``, an existing pseudonym, is accepted instead). Scores are the item's rubric (the
clinical five, or the ethics rubric for ethics/safety items), integers 1–5. The reviewer must be
assigned to that trace and may review it once. ``edited_reasoning`` that differs from the trace
becomes an :class:`Edit` (before, after and their diff kept). The queue's display fields
(question, options, reasoning …) are ignored; any other unknown field is an error.

The whole file is checked first and then appended in ONE transaction: a bad row is a
:class:`~safemed.errors.DataError` naming line and field, and nothing is written.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safemed.curate.seeds import validation_error
from safemed.curate.view import CurationView, append_consistent
from safemed.errors import DataError
from safemed.jsonl import read_jsonl_objects
from safemed.ledger.keys import LedgerKeys
from safemed.ledger.store import Ledger
from safemed.records.curation import (
    PSEUDONYM_PATTERN,
    RUBRICS,
    CurationRecord,
    Edit,
    NewEvent,
    Review,
    event_for,
)

REVIEW_FIELDS = frozenset({"item_id", "trace_id", "reviewer_id", "reviewer", "scores", "verdict", "comment",
                           "edited_reasoning", "seconds_spent", "review_id"})
DISPLAY_FIELDS = frozenset({"specialty", "kind", "rubric", "dimension", "question", "options", "reasoning", "answer"})


def review_id(trace_id: str, reviewer: str) -> str:
    """A stable id for one reviewer's review of one trace."""
    return "rv-" + hashlib.sha256(f"{trace_id}\0{reviewer}".encode()).hexdigest()[:20]


def reviewer_pseudonym(row: dict[str, Any], keys: LedgerKeys | None, path: Path, line: int,
                       field: str = "reviewer_id") -> str:
    """The pseudonym of the row's reviewer: HMAC of ``reviewer_id``, or ``reviewer`` as given."""
    if field == "reviewer_id" and row.get(field) is not None:
        value = row[field]
        if not isinstance(value, str) or not value.strip():
            raise DataError(str(path), line, field, "must be a non-empty string")
        if keys is None:
            raise DataError(str(path), line, field, "real ids need the ledger key to be pseudonymised (--key)")
        return keys.pseudonym(value.strip())
    value = row.get("reviewer")
    if not isinstance(value, str) or not re.match(PSEUDONYM_PATTERN, value):
        raise DataError(str(path), line, field, "missing (give reviewer_id, or reviewer as a p-… pseudonym)")
    return value


def _scores(row: dict[str, Any], rubric: str, path: Path, line: int) -> dict[str, int]:
    scores = row.get("scores")
    names = RUBRICS[rubric]
    if not isinstance(scores, dict):
        raise DataError(str(path), line, "scores", f"must be an object with {', '.join(names)}")
    extra = sorted(set(scores) - set(names))
    if extra:
        raise DataError(str(path), line, f"scores.{extra[0]}", f"not a dimension of the {rubric} rubric "
                        f"({', '.join(names)})")
    for name in names:
        value = scores.get(name)
        if value is None:
            raise DataError(str(path), line, f"scores.{name}", "missing")
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise DataError(str(path), line, f"scores.{name}", f"{value!r} is not an integer from 1 to 5")
    return {name: int(scores[name]) for name in names}


def review_records(row: dict[str, Any], view: CurationView, keys: LedgerKeys | None, path: Path, line: int,
                   seen: set[tuple[str, str]]) -> list[CurationRecord]:
    """A checked review row as a Review (and an Edit when the reasoning was edited)."""
    unknown = sorted(set(row) - REVIEW_FIELDS - DISPLAY_FIELDS)
    if unknown:
        raise DataError(str(path), line, unknown[0], f"unknown field (valid: {', '.join(sorted(REVIEW_FIELDS))})")
    item_id, trace_id = row.get("item_id"), row.get("trace_id")
    state = view.state(item_id) if isinstance(item_id, str) else None
    if state is None or state.item is None:
        raise DataError(str(path), line, "item_id", f"unknown item {item_id!r}")
    trace = next((t for t in state.traces if t.id == trace_id), None)
    if trace is None:
        raise DataError(str(path), line, "trace_id", f"unknown trace {trace_id!r} for item {item_id!r}")
    who = reviewer_pseudonym(row, keys, path, line, "reviewer_id" if "reviewer_id" in row else "reviewer")
    assignment = next((a for a in state.assignments if a.trace_id == trace.id and a.reviewer == who), None)
    if assignment is None:
        raise DataError(str(path), line, "reviewer_id", f"this reviewer is not assigned to trace {trace.id!r}")
    if (trace.id, who) in seen or any(r.trace_id == trace.id and r.reviewer == who for r in state.reviews):
        raise DataError(str(path), line, "reviewer_id", f"this reviewer has already reviewed trace {trace.id!r}")
    if state.adjudication is not None or state.retention is not None:
        raise DataError(str(path), line, "item_id", f"item {item_id!r} is closed (adjudicated or decided)")
    scores = _scores(row, state.item.rubric, path, line)
    seconds = row.get("seconds_spent")
    rid = row.get("review_id") or review_id(trace.id, who)
    try:
        review = Review.model_validate({
            "id": rid, "item_id": state.item_id, "trace_id": trace.id, "reviewer": who,
            "specialty": assignment.specialty, "scores": scores, "comment": row.get("comment") or "",
            "seconds_spent": 0 if seconds is None else seconds, "rubric": state.item.rubric,
            "verdict": row.get("verdict")})
    except ValidationError as exc:
        raise validation_error(path, line, exc, {"id": "review_id"}) from exc
    seen.add((trace.id, who))
    records: list[CurationRecord] = [review]
    edited = row.get("edited_reasoning")
    if edited is not None:
        if not isinstance(edited, str) or not edited.strip():
            raise DataError(str(path), line, "edited_reasoning", "must be a non-empty string (or null)")
        if edited.strip() != trace.reasoning.strip():
            records.append(Edit(id=f"{rid}-edit", item_id=state.item_id, trace_id=trace.id, editor=who,
                                before=trace.reasoning, after=edited.strip()))
    return records


def import_reviews(ledger: Ledger, path: Path, keys: LedgerKeys | None) -> tuple[int, int]:
    """Check every row, then append all reviews and edits in ONE transaction; (reviews, edits)."""
    return record_reviews(ledger, list(read_jsonl_objects(path)), keys, path)


def submit_review(ledger: Ledger, row: dict[str, Any], keys: LedgerKeys | None,
                  source: str = "review submission") -> tuple[int, int]:
    """One reviewer's review of one trace (a row shaped like ``import-reviews``' rows), checked
    against the current state and appended in one transaction that ends with a signed
    checkpoint: what the review app does on submit. Errors name ``source`` and the field."""
    return record_reviews(ledger, [(1, row)], keys, Path(source))


def record_reviews(ledger: Ledger, rows: list[tuple[int, dict[str, Any]]], keys: LedgerKeys | None,
                   path: Path) -> tuple[int, int]:
    """Check ``(line, row)`` pairs, then append their reviews and edits in ONE transaction."""
    records: list[CurationRecord] = []

    def build(view: CurationView) -> list[NewEvent]:
        seen: set[tuple[str, str]] = set()
        records.clear()
        for line, row in view.with_states(rows):
            records.extend(review_records(row, view, keys, path, line, seen))
        if not records:
            raise DataError(str(path), None, None, "no reviews in the file")
        return [event_for(r, actor=r.reviewer if isinstance(r, Review) else _editor(r)) for r in records]

    append_consistent(ledger, build)  # checked against the very state it is appended to
    return sum(isinstance(r, Review) for r in records), sum(isinstance(r, Edit) for r in records)


def _editor(record: CurationRecord) -> str:
    return record.editor if isinstance(record, Edit) else "system"
