"""SFT data (SafeMed-R1 §3, stage 1): curated rows and public safety demonstrations, mixed in
stated proportions, as TRL conversational prompt–completion rows with a trust weight.

**Sources** (``datasets:`` entries, :class:`~safemed.train.config.DataSource`):

* ``curated``: a ``safemed curate export --format sft`` folder (``manifest.json`` of kind
  ``curated-dataset``, file ``sft.jsonl``) or that ``sft.jsonl`` itself. Each row is
  ``{"messages": [user, assistant], "provenance": {…, "mean_scores": {dim: 1–5}, "ledger": …}}``;
  the assistant message is the (clinician-edited) reasoning, a blank line and the final answer
  line ``Answer: X`` / ``答案：X`` that the export writes last.
* ``msb-demonstrations``: Med-Safety-Bench's safety demonstrations: the Alpaca JSON files
  ``ft_safety_*.json`` (``instruction``, ``input``, ``output``) or the CSVs
  ``med_safety_demonstrations_category_*.csv`` (``harmful_medical_request``, ``safe_response``);
  a file, or a folder holding such files (all of them are read, in name order).
* ``auto`` detects the kind from the manifest or the file names; anything else is an error, and
  so is any malformed row: a :class:`~safemed.errors.DataError` naming file, line and field.

**Rows.** ``prompt`` = ``[{"role": "user", …}]``, ``completion`` = ``[{"role": "assistant", …}]``,
so TRL computes the loss on the completion only, rendered with the model's own chat template.
With ``think_tags`` the completion is ``<think>\\nREASONING\\n</think>\\n\\nANSWER``:

* curated rows: REASONING is everything before the final answer line, ANSWER that line
  (:func:`split_curated`: a trace stored as a reply with its own ``<think>`` block is unwrapped,
  so tags are never nested);
* demonstrations: an **empty** think block, ANSWER the safe response. The public data holds no
  reasoning; a fixed invented one ("this request could harm…") would teach one template sentence
  regardless of the request, and the empty block is Qwen3's own convention for an answer given
  without reasoning, which keeps every completion in the one format GRPO's format reward expects.

Each row also has ``weight`` (:func:`safemed.train.weighting.trust_weight` of its mean rubric
scores), ``source`` (the dataset id the manifests name) and ``row_id`` (``item_id/trace_id`` of a
curated row, ``FILE:LINE`` of a demonstration).

**Mixing** (:func:`mix`). Without ``mix_rows`` every row of every source is used once
(proportions are ignored). With ``mix_rows: N`` the N rows are split between the sources in
proportion to their ``proportion`` values (largest-remainder rounding, so the counts sum to N);
each source's share is drawn from its rows shuffled with ``data_seed``, without replacement
while it lasts: a source smaller than its share is repeated (whole shuffled passes, then part of
one) and the repetition is reported. ``limit`` keeps the first rows of a source, in file order,
before any of this. The mix is finally shuffled with ``data_seed``; the same config and files
always give the same rows in the same order.

This module imports neither torch nor TRL.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.artifacts import MANIFEST, read_manifest
from safemed.datasets.base import read_jsonl
from safemed.errors import DataError
from safemed.train.artifact import DatasetUse, dataset_use
from safemed.train.config import DataSource, SftConfig
from safemed.train.weighting import WeightingError, trust_weight

CURATED_FILE = "sft.jsonl"
MSB_JSON = re.compile(r"^ft_safety_.*\.json$")
MSB_CSV = re.compile(r"^med_safety_demonstrations_category_.*\.csv$")
ANSWER_LINE = re.compile(r"^(?:Answer: |答案：)[A-Z]+$")
"""The final answer line ``curate export`` writes (``curate.prompts.final_answer_line``)."""
MSB_CSV_FIELDS = ("harmful_medical_request", "safe_response")
THINK_TAG = re.compile(r"</?think>", re.IGNORECASE)


@dataclass
class SftData:
    """The mixed rows and, per data file read, what the manifests say about it."""

    rows: list[dict[str, Any]]
    uses: list[DatasetUse]
    notes: list[str] = field(default_factory=list)  # e.g. "msb-demonstrations repeated 1.6×"


@dataclass
class _Source:
    kind: str
    files: list[Path]


def think_completion(reasoning: str, answer: str, think_tags: bool) -> str:
    """The assistant text of a row: ``<think>\\nREASONING\\n</think>\\n\\nANSWER`` (or without tags:
    the reasoning, a blank line and the answer; just the answer when there is no reasoning)."""
    reasoning = reasoning.strip()
    if think_tags:
        return f"<think>\n{reasoning}\n</think>\n\n{answer.strip()}"
    return f"{reasoning}\n\n{answer.strip()}" if reasoning else answer.strip()


def detect(src: DataSource) -> _Source:
    """The kind and data files of a source (see the module docstring)."""
    path = Path(src.path).expanduser()
    if not path.exists():
        raise DataError(str(path), None, None, "no such file or folder")
    if path.is_dir():
        if (path / MANIFEST).is_file():
            manifest = read_manifest(path)
            fmt = manifest.config.get("format")
            if manifest.kind != "curated-dataset" or fmt != "sft":
                raise DataError(str(path / MANIFEST), None, "kind", f"an artifact of kind {manifest.kind!r} "
                                f"(format {fmt!r}); SFT reads curate export --format sft folders")
            found = _Source("curated", [path / CURATED_FILE])
        else:
            msb = sorted(p for p in path.iterdir() if MSB_JSON.match(p.name) or MSB_CSV.match(p.name))
            if not msb:
                raise DataError(str(path), None, None, "not an SFT source: expected a curate export --format sft "
                                "folder (manifest.json) or Med-Safety-Bench demonstration files "
                                "(ft_safety_*.json, med_safety_demonstrations_category_*.csv)")
            found = _Source("msb-demonstrations", msb)
    elif path.name.endswith(".jsonl"):
        found = _Source("curated", [path])
    elif MSB_JSON.match(path.name) or MSB_CSV.match(path.name):
        found = _Source("msb-demonstrations", [path])
    else:
        raise DataError(str(path), None, None, "not an SFT source: expected sft.jsonl from curate export, "
                        "ft_safety_*.json or med_safety_demonstrations_category_*.csv")
    if src.kind not in ("auto", found.kind):
        raise DataError(str(path), None, "kind", f"configured as {src.kind!r} but this is {found.kind!r} data")
    for file in found.files:
        if not file.is_file():
            raise DataError(str(file), None, None, "no such file")
    return found


# --- readers: (line, row) with prompt, completion, weight, row_id -------------------------------------

def _text(row: dict[str, Any], key: str, file: Path, line: int, name: str | None = None) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DataError(str(file), line, name or key, "missing or empty (a non-empty string is required)")
    return value


def read_curated(file: Path, cfg: SftConfig) -> Iterator[dict[str, Any]]:
    """Rows of a ``curate export --format sft`` file."""
    for line, row in read_jsonl(file, None):  # a line that is not a JSON object is a DataError
        yield _curated_row(row, file, line, cfg)


def _curated_row(row: dict[str, Any], file: Path, line: int, cfg: SftConfig) -> dict[str, Any]:
    messages = row.get("messages")
    if not isinstance(messages, list) or len(messages) != 2:
        raise DataError(str(file), line, "messages", "expected [user message, assistant message]")
    for i, (msg, role) in enumerate(zip(messages, ("user", "assistant"), strict=True)):
        if not isinstance(msg, dict) or msg.get("role") != role:
            raise DataError(str(file), line, f"messages[{i}].role", f"expected a {role!r} message")
        _text(msg, "content", file, line, f"messages[{i}].content")
    prov = row.get("provenance")
    if not isinstance(prov, dict):
        raise DataError(str(file), line, "provenance", "missing (rows must come from safemed curate export)")
    for key in ("item_id", "trace_id"):
        _text(prov, key, file, line, f"provenance.{key}")
    scores = prov.get("mean_scores")
    if not isinstance(scores, dict) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                               and 1 <= v <= 5 for v in scores.values()):
        raise DataError(str(file), line, "provenance.mean_scores", "expected a mapping of dimension → score 1–5")
    try:
        weight = trust_weight(scores, cfg.trust_weighting, floor=cfg.trust_floor, unreviewed=cfg.unreviewed_weight)
    except WeightingError as exc:
        raise DataError(str(file), line, "provenance.mean_scores", str(exc)) from None
    reasoning, answer = split_curated(messages[1]["content"])
    if answer is None:
        raise DataError(str(file), line, "messages[1].content", "does not end in the export's final answer line "
                        "('Answer: X' or '答案：X')")
    return {"prompt": [{"role": "user", "content": messages[0]["content"]}],
            "completion": [{"role": "assistant", "content": think_completion(reasoning, answer, cfg.think_tags)}],
            "weight": weight, "row_id": f"{prov['item_id']}/{prov['trace_id']}"}


def split_curated(content: str) -> tuple[str, str | None]:
    """(reasoning, answer) of a curated assistant message; answer None without a final answer line.

    The answer is the final answer line. A trace written as a reply with its own closed think
    block (``<think>R</think> summary``) gives R as the reasoning and keeps the summary in the
    answer before the answer line; a copy of the answer line at the end of the trace is dropped.

    >>> split_curated("<think>R</think>\\n\\nS\\n\\nAnswer: B\\n\\nAnswer: B")
    ('R', 'S\\n\\nAnswer: B')
    """
    body, _, last = content.rstrip().rpartition("\n")
    last = last.strip()
    if not ANSWER_LINE.match(last):
        return content, None
    body = body.rstrip()
    if body.endswith(last):
        body = body[: -len(last)].rstrip()
    summary = ""
    close = body.rfind("</think>")
    if close >= 0:
        body, summary = body[:close], body[close + len("</think>"):].strip()
    reasoning = THINK_TAG.sub("", body).strip()
    return reasoning, f"{summary}\n\n{last}" if summary else last


def _demonstration(prompt: str, answer: str, file: Path, line: int, cfg: SftConfig) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": prompt.strip()}],
            "completion": [{"role": "assistant", "content": think_completion("", answer, cfg.think_tags)}],
            "weight": trust_weight(None, cfg.trust_weighting, floor=cfg.trust_floor,
                                   unreviewed=cfg.unreviewed_weight),
            "row_id": f"{file.name}:{line}"}


def read_msb_json(file: Path, cfg: SftConfig) -> Iterator[dict[str, Any]]:
    """Rows of an Alpaca-style ``ft_safety_*.json`` array (line numbers are those of each object's start)."""
    text = file.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise DataError(str(file), _line(text, pos), None, "expected a JSON array of demonstrations")
    pos = _skip_ws(text, pos + 1)
    while not text.startswith("]", pos):
        line = _line(text, pos)
        if pos >= len(text):
            raise DataError(str(file), line, None, "unexpected end of file (the array is not closed)")
        try:
            row, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(str(file), exc.lineno, None, f"not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(str(file), line, None, "expected an object with instruction, input, output")
        instruction = _text(row, "instruction", file, line)
        extra = row.get("input", "")
        if not isinstance(extra, str):
            raise DataError(str(file), line, "input", "expected a string")
        prompt = f"{instruction.strip()}\n\n{extra.strip()}" if extra.strip() else instruction
        yield _demonstration(prompt, _text(row, "output", file, line), file, line, cfg)
        pos = _skip_ws(text, pos)
        if text.startswith(",", pos):
            pos = _skip_ws(text, pos + 1)
        elif not text.startswith("]", pos):
            raise DataError(str(file), _line(text, pos), None, "expected ',' or ']' between demonstrations")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def read_msb_csv(file: Path, cfg: SftConfig) -> Iterator[dict[str, Any]]:
    """Rows of a ``med_safety_demonstrations_category_*.csv`` (line numbers are each record's first line)."""
    with open(file, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DataError(str(file), 1, None, "empty file")
        for name in MSB_CSV_FIELDS:
            if name not in header:
                raise DataError(str(file), 1, name, f"missing column (columns: {', '.join(header)})")
        cols = {name: header.index(name) for name in MSB_CSV_FIELDS}
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise DataError(str(file), line, None, f"{len(record)} cells, the header has {len(header)}")
            row = {name: record[i] for name, i in cols.items()}
            yield _demonstration(_text(row, "harmful_medical_request", file, line),
                                 _text(row, "safe_response", file, line), file, line, cfg)


def read_source(src: DataSource, cfg: SftConfig) -> tuple[list[dict[str, Any]], list[DatasetUse]]:
    """Every row of one source (its first ``limit`` rows), each tagged with its dataset id."""
    found = detect(src)
    rows: list[dict[str, Any]] = []
    uses: list[DatasetUse] = []
    for file in found.files:
        if src.limit is not None and len(rows) >= src.limit:
            break
        use = dataset_use(Path(src.path).expanduser(), file, found.kind, proportion=src.proportion)
        if file.suffix == ".jsonl":
            reader = read_curated(file, cfg)
        elif file.suffix == ".json":
            reader = read_msb_json(file, cfg)
        else:
            reader = read_msb_csv(file, cfg)
        for row in reader:
            if src.limit is not None and len(rows) >= src.limit:
                break
            row["source"] = use.id
            rows.append(row)
        uses.append(use)
    if not rows:
        raise DataError(src.path, None, None, "no rows")
    return rows, uses


def shares(total: int, proportions: list[float]) -> list[int]:
    """``total`` split in proportion (largest remainder; ties to the earlier source).

    >>> shares(10, [1, 1, 1])
    [4, 3, 3]
    """
    whole = sum(proportions)
    exact = [total * p / whole for p in proportions]
    counts = [int(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mix(sources: list[list[dict[str, Any]]], proportions: list[float], mix_rows: int | None,
        seed: int) -> tuple[list[dict[str, Any]], list[int], list[float]]:
    """(the mixed rows, rows taken from each source, how many times each source was repeated)
    following the rule in the module docstring."""
    picked: list[dict[str, Any]] = []
    taken, repeats = [], []
    counts = [len(rows) for rows in sources] if mix_rows is None else shares(mix_rows, proportions)
    for i, (rows, n) in enumerate(zip(sources, counts, strict=True)):
        rng = random.Random(seed * 1_000_003 + i)
        drawn: list[dict[str, Any]] = []
        while len(drawn) < n:
            order = list(rows)
            rng.shuffle(order)
            drawn += order[: n - len(drawn)]
        picked += drawn
        taken.append(n)
        repeats.append(n / len(rows))
    random.Random(seed).shuffle(picked)
    return picked, taken, repeats


def load_sft_data(cfg: SftConfig) -> SftData:
    """Read, check, weight and mix every source of ``cfg.datasets``."""
    per_source: list[list[dict[str, Any]]] = []
    source_uses: list[list[DatasetUse]] = []
    for src in cfg.datasets:
        rows, uses = read_source(src, cfg)
        per_source.append(rows)
        source_uses.append(uses)
    rows, taken, repeats = mix(per_source, [s.proportion for s in cfg.datasets], cfg.mix_rows, cfg.data_seed)
    notes = []
    for src, n, rep in zip(cfg.datasets, taken, repeats, strict=True):
        if rep > 1:
            notes.append(f"{src.path}: {n} rows from {round(n / rep)} (repeated {rep:.2f}×)")
    uses = [u for group in source_uses for u in group]
    used: dict[str, int] = {}
    for row in rows:
        used[row["source"]] = used.get(row["source"], 0) + 1
    for use in uses:
        use.rows_used = used.get(use.id, 0)
    return SftData(rows=rows, uses=uses, notes=notes)

