"""GRPO prompt rows: red-team attack prompts, their benign twins and retained medical questions.

SafeMed-R1 §3 runs GRPO on red-team prompts, a judge scoring every sampled response. A policy
rewarded only for refusing harm learns to refuse everything, so each attack prompt comes with its
**benign twin** (the same attack applied to a harmless request, from ``safemed redteam
generate``), rewarded for helping, and optionally with retained medical questions (``safemed
curate export --format grpo``), rewarded for the right answer.

Sources (``prompts:`` in the GRPO config, :class:`~safemed.train.config.DataSource`):

* ``redteam``: a ``redteam generate`` folder (``manifest.json`` kind ``redteam-prompts``) or its
  JSONL; each row ``{"id", "seed_id", "attack", "prompt", "benign_twin", ...}`` gives a
  ``harmful`` row (the attack prompt) and, with ``include_benign_twins``, a ``benign`` row (its twin);
* ``curated-grpo``: a ``curate export --format grpo`` folder (kind ``curated-dataset``) or its
  ``grpo.jsonl``; each row ``{"prompt", "answer", "provenance"}`` gives a ``medical`` row.

``kind: auto`` reads the manifest's kind, else the first row's fields. ``limit`` keeps the first
N rows of a source file. With ``mix_rows`` the sources share that many prompt rows in proportion to
their ``proportion``s (largest remainders); a source's share is drawn from its rows with
``data_seed`` (whole red-team rows, so an attack keeps its twin; cycled when the share exceeds the
rows there are). Without ``mix_rows`` every row of every source is used. The rows are then
shuffled with ``data_seed``.

Each prompt row has the columns TRL passes to the reward functions::

    prompt     [{"role": "user", "content": ...}]  (conversational; an attack's own messages as they are)
    row_kind   harmful | benign | medical
    row_id     "<red-team id>" | "<red-team id>:benign" | the curated item id
    seed_id    the harmful seed (red-team) or the item id (medical)
    attack     the attack name; None for medical rows
    answer     the gold letter(s) of a medical row; None otherwise
    category, language, source_id (the artifact id), source_line (line in the source file)

A malformed row is a :class:`~safemed.errors.DataError` naming the file, the line and the field.
This module imports no torch.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from safemed.artifacts import MANIFEST, read_manifest
from safemed.datasets.base import read_jsonl
from safemed.errors import ConfigError, DataError
from safemed.train.artifact import DatasetUse, dataset_use
from safemed.train.config import DataSource

ROW_KINDS = ("harmful", "benign", "medical")
COLUMNS = ("prompt", "row_kind", "row_id", "seed_id", "attack", "answer", "category", "language", "source_id",
           "source_line")
MANIFEST_KINDS = {"redteam-prompts": "redteam", "curated-dataset": "curated-grpo"}
ROLES = ("system", "user", "assistant")
_LETTERS = re.compile(r"[A-Z]+")


@dataclass
class PromptSet:
    """The GRPO prompt rows and the sources they came from (for the manifests)."""

    rows: list[dict[str, Any]]
    sources: list[DatasetUse] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Rows per ``row_kind``."""
        out = dict.fromkeys(ROW_KINDS, 0)
        for row in self.rows:
            out[row["row_kind"]] += 1
        return out


def resolve_source(src: DataSource) -> tuple[str, Path]:
    """(kind, data file) of one source: a folder is read through its manifest, a file through the
    manifest beside it or its first row."""
    path = Path(src.path).expanduser()
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise ConfigError(f"prompts: {path} is a folder without {MANIFEST}; give the JSONL file or an artifact "
                              "folder from `safemed redteam generate` / `safemed curate export --format grpo`")
        manifest = read_manifest(path)
        files = [d.path for d in manifest.outputs if d.path.endswith(".jsonl")]
        if manifest.kind == "curated-dataset" and manifest.config.get("format") != "grpo":
            raise ConfigError(f"prompts: {path} is a curated export with format {manifest.config.get('format')!r}; "
                              "GRPO needs `safemed curate export --format grpo`")
        if len(files) != 1:
            raise ConfigError(f"prompts: {path / MANIFEST} names {len(files)} JSONL outputs; expected one")
        kind = MANIFEST_KINDS.get(manifest.kind)
        if kind is None:
            raise ConfigError(f"prompts: {path} is a {manifest.kind!r} artifact; expected one of "
                              f"{', '.join(sorted(MANIFEST_KINDS))}")
        return _checked_kind(src, kind, path), path / files[0]
    if not path.is_file():
        raise ConfigError(f"prompts: {path} not found")
    if (path.parent / MANIFEST).is_file():
        manifest = read_manifest(path.parent)
        if manifest.kind in MANIFEST_KINDS and any(d.path == path.name for d in manifest.outputs):
            return _checked_kind(src, MANIFEST_KINDS[manifest.kind], path), path
    return (src.kind if src.kind != "auto" else _sniff(path)), path


def _checked_kind(src: DataSource, found: str, path: Path) -> str:
    if src.kind not in ("auto", found):
        raise ConfigError(f"prompts: {path} is a {found!r} source (its manifest says so), not {src.kind!r}")
    return found


def _sniff(path: Path) -> str:
    """The kind of a bare JSONL from its first row."""
    for lineno, row in _jsonl(path):
        if "benign_twin" in row or "attack" in row:
            return "redteam"
        if "answer" in row:
            return "curated-grpo"
        raise DataError(str(path), lineno, None, "neither a red-team row (id, seed_id, attack, prompt, benign_twin) "
                        "nor a curated GRPO row (prompt, answer, provenance); set the source's kind")
    raise DataError(str(path), None, None, "no rows")


def _jsonl(path: Path, limit: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of each non-empty line; a line that is not a JSON object is a DataError."""
    return islice(read_jsonl(path, None), limit)


def _text(row: dict[str, Any], key: str, path: Path, lineno: int, *, optional: bool = False) -> str | None:
    value = row.get(key)
    if value is None and optional:
        return None
    if value is None:
        raise DataError(str(path), lineno, key, "missing")
    if not isinstance(value, str):
        raise DataError(str(path), lineno, key, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(str(path), lineno, key, "empty string")
    return value


def _messages(value: Any, path: Path, lineno: int, key: str) -> list[dict[str, str]]:
    """An attack prompt as chat messages: a string is one user turn; a list must end with a user turn."""
    if isinstance(value, str):
        if not value.strip():
            raise DataError(str(path), lineno, key, "empty prompt")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise DataError(str(path), lineno, key, "expected a string or a non-empty list of {role, content} messages")
    out = []
    for i, m in enumerate(value):
        if not (isinstance(m, dict) and m.get("role") in ROLES and isinstance(m.get("content"), str)):
            raise DataError(str(path), lineno, f"{key}[{i}]", f"expected {{role: {'|'.join(ROLES)}, content: str}}")
        out.append({"role": m["role"], "content": m["content"]})
    if out[-1]["role"] != "user":
        raise DataError(str(path), lineno, key, "the last message must be the user's (the policy answers it)")
    return out


def redteam_rows(path: Path, source_id: str, *, limit: int | None = None,
                 include_benign_twins: bool = True) -> Iterator[list[dict[str, Any]]]:
    """Per red-team row, its prompt rows: ``[harmful]`` or ``[harmful, benign]``."""
    for lineno, row in _jsonl(path, limit):
        rid = _text(row, "id", path, lineno)
        seed_id = _text(row, "seed_id", path, lineno)
        attack = _text(row, "attack", path, lineno)
        prompt = _messages(row.get("prompt"), path, lineno, "prompt")
        twin = _text(row, "benign_twin", path, lineno, optional=not include_benign_twins)
        category = _optional_str(row, "category", path, lineno)
        language = _optional_str(row, "language", path, lineno)
        common = {"seed_id": seed_id, "attack": attack, "answer": None, "category": category, "language": language,
                  "source_id": source_id, "source_line": lineno}
        rows = [{"prompt": prompt, "row_kind": "harmful", "row_id": rid, **common}]
        if include_benign_twins and twin is not None:
            rows.append({"prompt": [{"role": "user", "content": twin}], "row_kind": "benign",
                         "row_id": f"{rid}:benign", **common})
        yield rows


def _optional_str(row: dict[str, Any], key: str, path: Path, lineno: int) -> str | None:
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(str(path), lineno, key, f"expected a string or null, got {type(value).__name__}")
    return value


def curated_rows(path: Path, source_id: str, *, limit: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Per ``curate export --format grpo`` row, its one ``medical`` prompt row."""
    for lineno, row in _jsonl(path, limit):
        prompt = _text(row, "prompt", path, lineno)
        answer = _text(row, "answer", path, lineno)
        if answer is None or not _LETTERS.fullmatch(answer):
            raise DataError(str(path), lineno, "answer", f"expected the gold option letter(s) A-Z, got {answer!r}")
        prov = row.get("provenance")
        if not isinstance(prov, dict) or not isinstance(prov.get("item_id"), str):
            raise DataError(str(path), lineno, "provenance", "missing, or without an item_id")
        language = prov.get("language") if isinstance(prov.get("language"), str) else None
        specialty = prov.get("specialty") if isinstance(prov.get("specialty"), str) else None
        yield [{"prompt": [{"role": "user", "content": prompt}], "row_kind": "medical", "row_id": prov["item_id"],
                "seed_id": prov["item_id"], "attack": None, "answer": answer, "category": specialty,
                "language": language, "source_id": source_id, "source_line": lineno}]


def shares(total: int, proportions: list[float]) -> list[int]:
    """``total`` split in proportion to ``proportions`` (largest remainders, ties to the earlier source).

    >>> shares(10, [1.0, 1.0, 2.0])
    [3, 2, 5]
    """
    weights = [p / sum(proportions) * total for p in proportions]
    base = [math.floor(w) for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(weights[i] - base[i]), i))
    for i in order[:total - sum(base)]:
        base[i] += 1
    return base


def _draw(groups: list[list[dict[str, Any]]], share: int, rng: random.Random) -> list[dict[str, Any]]:
    """``share`` prompt rows from whole groups, drawn in a seeded order, cycling when short."""
    if not groups:
        return []
    order = list(range(len(groups)))
    rng.shuffle(order)
    out: list[dict[str, Any]] = []
    k = 0
    while len(out) < share:
        out.extend(groups[order[k % len(order)]])
        k += 1
    return out[:share]


def load_prompts(sources: list[DataSource], *, include_benign_twins: bool = True, mix_rows: int | None = None,
                 data_seed: int = 0) -> PromptSet:
    """The GRPO prompt rows of ``sources`` (see the module docstring for kinds, limits and the mix)."""
    if not sources:
        raise ConfigError("prompts: at least one source is needed")
    uses: list[DatasetUse] = []
    grouped: list[list[list[dict[str, Any]]]] = []
    for src in sources:
        kind, file = resolve_source(src)
        use = dataset_use(Path(src.path).expanduser(), file, kind, proportion=src.proportion)
        if kind == "redteam":
            groups = list(redteam_rows(file, use.id, limit=src.limit, include_benign_twins=include_benign_twins))
        elif kind == "curated-grpo":
            groups = list(curated_rows(file, use.id, limit=src.limit))
        else:
            raise ConfigError(f"prompts: {src.path}: kind {kind!r} is not a GRPO prompt source "
                              "(valid: auto, curated-grpo, redteam)")
        if not groups:
            raise DataError(str(file), None, None, "no rows")
        uses.append(use)
        grouped.append(groups)
    rng = random.Random(data_seed)
    rows: list[dict[str, Any]] = []
    if mix_rows is None:
        for use, groups in zip(uses, grouped, strict=True):
            use.rows_used = sum(len(g) for g in groups)
            rows.extend(r for g in groups for r in g)
    else:
        for use, groups, share in zip(uses, grouped, shares(mix_rows, [s.proportion for s in sources]), strict=True):
            drawn = _draw(groups, share, rng)
            use.rows_used = len(drawn)
            rows.extend(drawn)
    rng.shuffle(rows)
    return PromptSet(rows=rows, sources=uses)
