"""The filled rating sheets, read back and checked cell by cell before anything is analysed.

A sheet is a packet CSV (:mod:`.packets`) with the dimension columns filled. Errors name the file,
the row (spreadsheet numbering: the header is row 1) and the column, and one bad file stops the
whole analysis (nothing is analysed from it):

- a missing column (``packet_item``, ``rater`` or a planned dimension);
- an unknown ``packet_item`` or ``rater``;
- a rating that is empty (a missing dimension), not a whole number, or outside the plan's scale;
- the same rater rating the same packet item twice (in one file or across files);
- a rater who left packet items of their packet unrated (rows deleted).

Labels from the review app are accepted too: ``safemed ratings export TASK --format jsonl`` of the
likert task ``study packets --ratings-db`` created (a ``.jsonl`` file; its raters are the app's
pseudonyms; every one must have rated every item, as on paper).

A sheet is *simulated* when any row's ``comment`` starts with ``SIMULATED`` or a
``simulation.json`` lies next to it (what ``safemed study simulate`` writes); the analysis
carries that mark into every output.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.artifacts import sha256_file
from safemed.errors import ConfigError, DataError
from safemed.jsonl import iter_jsonl_objects
from safemed.study.packets import COMMENT
from safemed.study.plan import dimension_names

SIMULATED_MARK = "SIMULATED"
SIMULATION_FILE = "simulation.json"


@dataclass
class RatingFile:
    """One checked sheet: who rated, how many rows, whether it was simulated."""

    path: Path
    sha256: str
    raters: list[str]
    rows: int
    simulated: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``rater``: the one rater, or several joined with commas)."""
        return {"path": str(self.path), "sha256": self.sha256, "rater": ",".join(self.raters), "rows": self.rows,
                "simulated": self.simulated}


@dataclass
class Ratings:
    """Every checked rating: ``scores[rater][packet_item][dimension]``."""

    scores: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    files: list[RatingFile] = field(default_factory=list)
    from_app: bool = False

    @property
    def simulated(self) -> bool:
        """Any sheet came from ``safemed study simulate``."""
        return any(f.simulated for f in self.files)

    @property
    def n_rows(self) -> int:
        """Rating rows read."""
        return sum(f.rows for f in self.files)


def _score(path: Path, row: int, column: str, value: str | None, lo: int, hi: int) -> int:
    text = (value or "").strip()
    if not text:
        raise DataError(str(path), row, column, "missing rating (every planned dimension must be rated)")
    try:
        number = float(text)
    except ValueError:
        raise DataError(str(path), row, column, f"{text!r} is not a number on the scale {lo}-{hi}") from None
    if not number.is_integer():
        raise DataError(str(path), row, column, f"{text!r} is not a whole number on the scale {lo}-{hi}")
    if not lo <= number <= hi:
        raise DataError(str(path), row, column, f"{text!r} is outside the scale {lo}-{hi}")
    return int(number)


def read_ratings(paths: Sequence[Path], plan: Mapping[str, Any], key: Mapping[str, Any]) -> Ratings:
    """Read and check every sheet against the plan and the key (see the module docstring)."""
    if not paths:
        raise ConfigError("--ratings: name at least one filled rating CSV")
    dims = dimension_names(plan)
    lo, hi = int(plan["scale"]["min"]), int(plan["scale"]["max"])
    items: Mapping[str, Any] = key["items"]
    raters: list[str] = list(key["raters"])
    out = Ratings()
    where: dict[tuple[str, str], str] = {}
    for raw in paths:
        path = Path(raw)
        if path.suffix == ".jsonl":
            out.files.append(_read_app_export(path, dims, lo, hi, items, key, out, where))
            out.from_app = True
            continue
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the ratings file {path}: {exc}") from exc
        seen_raters: list[str] = []
        simulated = (path.parent / SIMULATION_FILE).is_file()
        n = 0
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        for column in ("packet_item", "rater", *dims):
            if column not in header:
                raise DataError(str(path), 1, column, "column missing from the header")
        for n, record in enumerate(reader, 1):
            row = n + 1
            if None in record:
                raise DataError(str(path), row, None, "more cells than header columns")
            item = (record.get("packet_item") or "").strip()
            rater = (record.get("rater") or "").strip()
            if item not in items:
                raise DataError(str(path), row, "packet_item", f"unknown packet item {item!r} (not in the key)")
            if rater not in raters:
                raise DataError(str(path), row, "rater", f"unknown rater {rater!r}; valid: {', '.join(raters)}")
            if (rater, item) in where:
                raise DataError(str(path), row, "packet_item", f"rater {rater!r} rated {item} twice (also at "
                                f"{where[rater, item]})")
            scores = {d: _score(path, row, d, record.get(d), lo, hi) for d in dims}
            where[rater, item] = f"{path}:{row}"
            out.scores.setdefault(rater, {})[item] = scores
            if rater not in seen_raters:
                seen_raters.append(rater)
            if (record.get(COMMENT) or "").strip().startswith(SIMULATED_MARK):
                simulated = True
        if n == 0:
            raise DataError(str(path), None, None, "no rating rows")
        out.files.append(RatingFile(path, sha256_file(path), seen_raters, n, simulated))
    for rater, rated in out.scores.items():
        missing = sorted(set(items) - set(rated))
        if missing:
            files = ", ".join(str(f.path) for f in out.files if rater in f.raters)
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise DataError(files, None, "packet_item", f"rater {rater!r} left {len(missing)} of {len(items)} packet "
                            f"items unrated: {shown}")
    return out


def _read_app_export(path: Path, dims: Sequence[str], lo: int, hi: int, items: Mapping[str, Any],
                     key: Mapping[str, Any], out: Ratings, where: dict[tuple[str, str], str]) -> RatingFile:
    task = key.get("ratings_task") or {}
    if not task:
        raise ConfigError(f"{path}: these packets were made without a review-app task (--ratings-db); "
                          "give the filled CSV sheets")
    raters: list[str] = []
    n = 0
    for lineno, row in iter_jsonl_objects(path):
        if row.get("task_id") != task["id"]:
            raise DataError(str(path), lineno, "task_id", f"{row.get('task_id')!r} is not this study's rating task "
                            f"{task['id']} ({task['name']})")
        item, rater = str(row.get("unit_id", "")), str(row.get("rater", ""))
        if item not in items:
            raise DataError(str(path), lineno, "unit_id", f"unknown packet item {item!r} (not in the key)")
        if (rater, item) in where:
            raise DataError(str(path), lineno, "unit_id", f"rater {rater!r} rated {item} twice (also at "
                            f"{where[rater, item]})")
        label = row.get("label")
        given = label.get("scores") if isinstance(label, dict) else None
        if not isinstance(given, dict):
            raise DataError(str(path), lineno, "label", "not a likert label ({\"scores\": {...}})")
        scores = {d: _score(path, lineno, f"label.scores.{d}", None if given.get(d) is None else str(given[d]), lo, hi)
                  for d in dims}
        where[rater, item] = f"{path}:{lineno}"
        out.scores.setdefault(rater, {})[item] = scores
        if rater not in raters:
            raters.append(rater)
        n += 1
    if n == 0:
        raise DataError(str(path), None, None, "no labels")
    return RatingFile(path, sha256_file(path), raters, n, False)


def simulation_info(ratings: Ratings) -> list[dict[str, Any]]:
    """The ``simulation.json`` descriptions next to simulated sheets (deduplicated)."""
    found: dict[str, dict[str, Any]] = {}
    for f in ratings.files:
        side = f.path.parent / SIMULATION_FILE
        if side.is_file() and str(side) not in found:
            try:
                found[str(side)] = json.loads(side.read_text(encoding="utf-8"))
            except ValueError:
                found[str(side)] = {"simulated": True, "unreadable": str(side)}
    return list(found.values())
