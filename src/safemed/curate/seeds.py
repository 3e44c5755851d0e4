"""Seed questions into the ledger: ``safemed curate import SEEDS.jsonl`` (paper: the 362K
candidate items the CTS pipeline starts from).

One JSON object per line, the generic MCQ shape plus a specialty::

    {"id": "card-001", "question": "...", "options": {"A": "...", "B": "..."}, "answer": "B",
     "specialty": "cardiology"}

``answer`` is one letter or several (``"ACD"``); ``specialty`` is required (``subject`` is read
when it is absent); optional ``language`` (``en``/``zh``, detected when absent), ``source``,
``kind`` (``item``, ``ethics``, ``safety``) and, for ethics/safety items, ``dimension`` (one of
``ETHICS_SAFETY_DIMENSIONS``). The whole file is checked before anything is written and goes in
as one transaction: a bad row is a :class:`~safemed.errors.DataError` naming line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from safemed.curate.view import CurationView, append_consistent
from safemed.datasets.base import detect_language
from safemed.errors import DataError
from safemed.jsonl import read_jsonl_objects
from safemed.ledger.store import Ledger
from safemed.records.curation import Item, NewEvent, event_for

SEED_FIELDS = frozenset({"id", "question", "options", "answer", "subject", "specialty", "language", "source",
                         "kind", "dimension"})


def validation_error(path: Path, line: int, exc: ValidationError, rename: dict[str, str] | None = None,
                     whole: str | None = None) -> DataError:
    """The first pydantic error as a DataError naming the input field (``whole``: the field to
    name for a check of the whole record)."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    name = (rename or {}).get(loc[0], loc[0]) if loc else whole
    return DataError(str(path), line, name, first["msg"].removeprefix("Value error, "))


def _text(row: dict[str, Any], name: str, path: Path, line: int) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DataError(str(path), line, name, "missing or empty" if value in (None, "") else "must be a string")
    return value.strip()


def seed_item(row: dict[str, Any], path: Path, line: int, default_source: str) -> Item:
    """One seed row as an :class:`Item` (raises DataError naming the field)."""
    unknown = sorted(set(row) - SEED_FIELDS)
    if unknown:
        raise DataError(str(path), line, unknown[0], f"unknown field (valid: {', '.join(sorted(SEED_FIELDS))})")
    raw_id = row.get("id")
    item_id = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else raw_id
    if not isinstance(item_id, str) or not item_id.strip():
        raise DataError(str(path), line, "id", "missing or empty")
    question = _text(row, "question", path, line)
    options = row.get("options")
    if not isinstance(options, dict) or len(options) < 2:
        raise DataError(str(path), line, "options", 'must be an object like {"A": "text", "B": "text"}')
    for key, value in options.items():
        if len(key) != 1 or not "A" <= key <= "Z":
            raise DataError(str(path), line, "options", f"key {key!r} is not a single capital letter")
        if not isinstance(value, str) or not value.strip():
            raise DataError(str(path), line, "options", f"option {key} must be a non-empty string")
    answer = _text(row, "answer", path, line)
    gold = "".join(sorted(set(answer.replace(",", "").replace(" ", "").upper())))
    bad = [ch for ch in gold if ch not in options]
    if bad:
        raise DataError(str(path), line, "answer", f"{answer!r} names options not present: {', '.join(bad)}")
    specialty = row.get("specialty") or row.get("subject")
    if not isinstance(specialty, str) or not specialty.strip():
        raise DataError(str(path), line, "specialty", "missing; every seed needs the specialty that reviews it")
    language = row.get("language") or detect_language(question)
    if language not in ("en", "zh"):
        raise DataError(str(path), line, "language", f"{language!r} is not 'en' or 'zh'")
    source = _text(row, "source", path, line) if row.get("source") is not None else default_source
    try:
        return Item(id=item_id.strip(), question=question, options={k: v.strip() for k, v in sorted(options.items())},
                    gold=gold, specialty=specialty.strip(), source=source, language=language,
                    kind=row.get("kind") or "item", dimension=row.get("dimension"))
    except ValidationError as exc:
        whole = "dimension" if "dimension" in str(exc) else "answer"
        raise validation_error(path, line, exc, {"gold": "answer"}, whole) from exc


def read_seeds(path: Path, *, source: str | None = None) -> list[Item]:
    """Every seed of a file, checked; ids must be unique within the file."""
    seen: dict[str, int] = {}
    items: list[Item] = []
    for line, row in read_jsonl_objects(path):
        item = seed_item(row, path, line, source or path.name)
        if item.id in seen:
            raise DataError(str(path), line, "id", f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = line
        items.append(item)
    if not items:
        raise DataError(str(path), None, None, "no seed questions in the file")
    return items


def import_seeds(ledger: Ledger, path: Path, *, source: str | None = None) -> list[Item]:
    """Check the file, refuse ids already in the ledger, then append every item in ONE transaction."""
    items = read_seeds(path, source=source)

    def build(view: CurationView) -> list[NewEvent]:
        existing = view.existing(item.id for item in items)
        if existing:
            for line, row in read_jsonl_objects(path):
                item_id = str(row.get("id", "")).strip()
                if item_id in existing:
                    raise DataError(str(path), line, "id", f"item {item_id!r} is already in the ledger")
        return [event_for(item, actor="system") for item in items]

    append_consistent(ledger, build)
    return items
