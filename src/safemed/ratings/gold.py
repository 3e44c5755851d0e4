"""Hidden gold items: reviews of traces whose right verdict is known, to measure each reviewer.

SafeMed-R1's review quality rests on physicians catching flawed chains of thought. Gold items are
traces with a known verdict — ``keep`` (sound) or ``reject`` (a deliberate flaw, described in
``note``) — mixed unannounced into a reviewer's queue and shown exactly like a curation item. They
are stored with the ratings, never in the curation ledger, so no gold trace can reach training data.

A reviewer's answer matches when it lands on the same side as the known verdict, the way a review
verdict counts in curation: ``accept`` and ``fix`` keep the trace (a fix retains the edited text),
``reject`` drops it. So a flawed gold trace is answered correctly only by rejecting it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from safemed.errors import ConfigError, DataError
from safemed.ratings.model import GoldUnit
from safemed.records.curation import RUBRICS
from safemed.stats.proportions import wilson_ci

VERDICTS = ("accept", "fix", "reject")
EXPECTED = ("keep", "reject")
TEXT_FIELDS = ("id", "specialty", "question", "gold", "reasoning", "answer")


def numbered(rows: Iterable[Any]) -> Iterator[tuple[int, Any]]:
    """(line, row) pairs: rows from :func:`read_gold` keep their file line, plain rows count from 1."""
    for n, row in enumerate(rows, 1):
        if isinstance(row, tuple):
            line, body = row
            yield int(line), body
        else:
            yield n, row


def validate(row: Mapping[str, Any], source: str, line: int) -> tuple[int, dict[str, Any]]:
    """One gold row in its stored form, or a DataError naming source, line and field."""
    if not isinstance(row, Mapping):
        raise DataError(source, line, None, "a gold item must be a JSON object")
    out: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = row.get(name)
        if not isinstance(value, str) or not value.strip():
            raise DataError(source, line, name, "missing or empty")
        out[name] = value
    if len(out["id"]) > 200:
        raise DataError(source, line, "id", "longer than 200 characters")
    options = row.get("options")
    if not isinstance(options, Mapping) or len(options) < 2 or not all(
            isinstance(k, str) and len(k) == 1 and k.isupper() and isinstance(v, str) for k, v in options.items()):
        raise DataError(source, line, "options", "needs at least two options keyed by capital letters")
    out["options"] = dict(sorted(options.items()))
    missing = [ch for ch in out["gold"] if ch not in out["options"]]
    if missing:
        raise DataError(source, line, "gold", f"letter(s) {''.join(missing)} not among the options")
    if row.get("expected") not in EXPECTED:
        raise DataError(source, line, "expected", f"must be keep or reject, got {row.get('expected')!r}")
    out["expected"] = row["expected"]
    note = row.get("note", "")
    if not isinstance(note, str):
        raise DataError(source, line, "note", "must be text")
    out["note"] = note
    rubric = row.get("rubric", "clinical")
    if rubric not in RUBRICS:
        raise DataError(source, line, "rubric", f"must be one of {', '.join(RUBRICS)}, got {rubric!r}")
    out["rubric"] = rubric
    language = row.get("language", "en")
    if language not in ("en", "zh"):
        raise DataError(source, line, "language", f"must be en or zh, got {language!r}")
    out["language"] = language
    unknown = sorted(set(row) - set(out))
    if unknown:
        raise DataError(source, line, unknown[0], "not a field of a gold item")
    return line, out


def read_gold(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """A gold JSONL file as (line, row) pairs, each row validated (errors name file, line, field)."""
    if not path.is_file():
        raise ConfigError(f"gold file {path} not found")
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                raise DataError(str(path), lineno, None, f"not JSON: {exc}") from exc
            out.append(validate(row, str(path), lineno))
    return out


def as_unit(row: Mapping[str, Any]) -> GoldUnit:
    """What the reviewer sees of a stored gold row (never ``expected`` or ``note``)."""
    return GoldUnit(id=row["id"], specialty=row["specialty"], question=row["question"],
                    options=dict(row["options"]), gold=row["gold"], reasoning=row["reasoning"],
                    answer=row["answer"], rubric=row["rubric"], dimensions=RUBRICS[row["rubric"]],
                    language=row["language"])


def answer(unit: GoldUnit, verdict: str, scores: Mapping[str, Any]) -> dict[str, Any]:
    """A reviewer's gold answer in its stored form (verdict + one 1–5 score per rubric dimension)."""
    where = f"gold answer for {unit.id}"
    if verdict not in VERDICTS:
        raise DataError(where, None, "verdict", f"must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if not isinstance(scores, Mapping):
        raise DataError(where, None, "scores", "must be an object of dimension → 1-5")
    unknown = sorted(set(scores) - set(unit.dimensions))
    if unknown:
        raise DataError(where, None, f"scores.{unknown[0]}", f"not a dimension of the {unit.rubric} rubric")
    clean = {}
    for dim in unit.dimensions:
        value = scores.get(dim)
        if type(value) is not int or not 1 <= value <= 5:
            raise DataError(where, None, f"scores.{dim}", f"must be an integer from 1 to 5, got {value!r}")
        clean[dim] = value
    return {"verdict": verdict, "scores": clean}


def correct(verdict: str, expected: str) -> bool:
    """Whether an answer lands on the known side (module docstring: fix keeps, like accept)."""
    return (verdict == "reject") == (expected == "reject")


def accuracy(answers: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, Any]]:
    """(rater, verdict, expected) triples → rater → n, correct, accuracy, ci95 (Wilson)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for rater, verdict, expected in answers:
        tally[rater][0] += 1
        tally[rater][1] += correct(verdict, expected)
    out = {}
    for rater, (n, k) in sorted(tally.items()):
        low, high = wilson_ci(k, n)
        out[rater] = {"n": n, "correct": k, "accuracy": k / n, "ci95": [low, high]}
    return out
