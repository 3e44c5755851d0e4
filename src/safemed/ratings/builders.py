"""Units to rate, built from finished eval runs or from a JSONL file.

Judge validation (SafeMed-R1 §4) needs clinicians to score the very responses the judges scored,
under the same ids, so that ``safemed judges calibrate RUN --human labels.csv`` can pair them:
:func:`units_from_run` reads a run folder's ``samples.jsonl`` (the file ``safemed eval`` writes; the
format is read directly, since the evaluate stage is not importable from here) and keeps each safety
sample's id, prompt and response — never the judges' scores, so raters stay blind to them.
:func:`pairwise_units` pairs two runs' responses to the same prompts for an A-vs-B comparison;
:func:`units_from_jsonl` reads units prepared elsewhere (e.g. a blinded study packet).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.errors import ConfigError, DataError
from safemed.ratings.model import Unit

SAMPLES = "samples.jsonl"  # the run folder's per-sample file (evaluate/run_folder.py)
META_FIELDS = ("benchmark", "category", "subset", "expected", "language")


def _samples(run_dir: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    path = Path(run_dir) / SAMPLES
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a finished run folder: {SAMPLES} is missing")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise DataError(str(path), lineno, None, f"not JSON: {exc}") from exc
                if not isinstance(row, dict):
                    raise DataError(str(path), lineno, None, "not a JSON object")
                yield lineno, row


def _responses(run_dir: Path, judge_kind: str | None) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """id → (prompt, response, meta) of the answered safety samples (of one judge kind, if given)."""
    out: dict[str, tuple[str, str, dict[str, Any]]] = {}
    kinds: set[str] = set()
    path = Path(run_dir) / SAMPLES
    for lineno, row in _samples(run_dir):
        if row.get("kind") != "safety":
            continue
        kinds.add(str(row.get("judge_kind")))
        if judge_kind is not None and row.get("judge_kind") != judge_kind:
            continue
        response = row.get("response")
        if not isinstance(response, str) or not response.strip():
            continue  # the model errored on this prompt: nothing to rate
        for name in ("id", "prompt"):
            if not isinstance(row.get(name), str) or not row[name]:
                raise DataError(str(path), lineno, name, "missing or not text")
        if row["id"] in out:
            raise DataError(str(path), lineno, "id", f"{row['id']!r} appears twice (calibration pairs labels by id)")
        meta = {k: row[k] for k in META_FIELDS if row.get(k) is not None}
        out[row["id"]] = (row["prompt"], response, meta)
    if not out:
        what = f"judged by {judge_kind!r}" if judge_kind else "with a response"
        raise ConfigError(f"{run_dir} has no safety samples {what}; judge kinds in this run: "
                          f"{', '.join(sorted(kinds)) or 'none (not a safety run)'}")
    return out


def _subset(ids: list[str], limit: int | None, seed: int) -> list[str]:
    """All ids, or ``limit`` of them drawn with ``seed`` (kept in run order)."""
    if limit is None or limit >= len(ids):
        return ids
    if limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {limit}")
    keep = set(random.Random(seed).sample(ids, limit))
    return [i for i in ids if i in keep]


def units_from_run(run_dir: Path, *, kind: str = "msb", limit: int | None = None, seed: int = 0) -> list[Unit]:
    """One unit per answered safety sample of judge kind ``kind``: unit id = sample id, the prompt
    and the response; the benchmark, category and expected behaviour go to the hidden meta."""
    found = _responses(Path(run_dir), kind)
    return [Unit(id=i, prompt=found[i][0], responses=(found[i][1],), sources=(str(run_dir),), meta=found[i][2])
            for i in _subset(list(found), limit, seed)]


def pairwise_units(run_a: Path, run_b: Path, *, seed: int = 0, limit: int | None = None) -> list[Unit]:
    """One unit per sample id answered in both runs (run A's order), responses ``(A's, B's)`` with
    the run folders as sources; the task shuffles A/B per unit when it is created."""
    a, b = _responses(Path(run_a), None), _responses(Path(run_b), None)
    shared = [i for i in a if i in b]
    if not shared:
        raise ConfigError(f"{run_a} and {run_b} share no answered safety sample ids")
    name_a, name_b = str(run_a), str(run_b)
    if name_a == name_b:
        raise ConfigError("pairwise needs two different run folders")
    units = []
    for i in _subset(shared, limit, seed):
        if a[i][0] != b[i][0]:
            raise DataError(str(Path(run_b) / SAMPLES), None, "prompt",
                            f"sample {i!r} has another prompt than in {run_a}")
        units.append(Unit(id=i, prompt=a[i][0], responses=(a[i][1], b[i][1]), sources=(name_a, name_b),
                          meta=a[i][2]))
    return units


def units_from_jsonl(path: Path, *, limit: int | None = None, seed: int = 0) -> list[Unit]:
    """Units from a JSONL file, one object per line: ``id``, ``prompt``, ``response`` (one text) or
    ``responses`` (a list), optional ``sources`` (one per response), ``meta`` (object, export only)
    and ``specialty``. Errors name the file, the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"units file {path} not found")
    units: list[Unit] = []
    seen: set[str] = set()
    allowed = {"id", "prompt", "response", "responses", "sources", "meta", "specialty"}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = str(path)
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(where, lineno, None, f"not JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise DataError(where, lineno, None, "not a JSON object")
            extra = sorted(set(row) - allowed)
            if extra:
                raise DataError(where, lineno, extra[0], f"unknown field (fields: {', '.join(sorted(allowed))})")
            for name in ("id", "prompt"):
                if not isinstance(row.get(name), str) or not row[name].strip():
                    raise DataError(where, lineno, name, "missing or empty")
            if row["id"] in seen:
                raise DataError(where, lineno, "id", f"{row['id']!r} appears twice")
            seen.add(row["id"])
            if ("response" in row) == ("responses" in row):
                raise DataError(where, lineno, "response", "give either response (one text) or responses (a list)")
            responses = [row["response"]] if "response" in row else row["responses"]
            if not isinstance(responses, list) or not responses or not all(
                    isinstance(r, str) and r.strip() for r in responses):
                raise DataError(where, lineno, "responses", "must be non-empty texts")
            sources = row.get("sources", [])
            if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources) or (
                    sources and len(sources) != len(responses)):
                raise DataError(where, lineno, "sources", "must be a list of texts, one per response")
            meta = row.get("meta", {})
            if not isinstance(meta, dict):
                raise DataError(where, lineno, "meta", "must be an object")
            specialty = row.get("specialty")
            if specialty is not None and (not isinstance(specialty, str) or not specialty.strip()):
                raise DataError(where, lineno, "specialty", "must be non-empty text")
            units.append(Unit(id=row["id"], prompt=row["prompt"], responses=tuple(responses),
                              sources=tuple(sources), meta=meta, specialty=specialty))
    if not units:
        raise ConfigError(f"units file {path} holds no units")
    keep = set(_subset([u.id for u in units], limit, seed))
    return [u for u in units if u.id in keep]
