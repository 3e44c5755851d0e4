"""``safemed curate export``: the training set, every row linked to its clinical trust signals
(paper: "every training instance linked to its scores and edit history").

Rows are the retained items, in ledger order, as of one tree size read at the start:

* ``sft``: ``{"messages": [{"role": "user", "content": question + options},
  {"role": "assistant", "content": reasoning with edits applied + "Answer: X"}], "provenance": …}``
* ``grpo``: ``{"prompt": question + options, "answer": gold letters, "provenance": …}``

``provenance`` names the item, the trace and its generator, the reviews (ids, pseudonymous
reviewers, rubric scores and their means), the edits, the adjudication, the retention decision,
any flags, the sequence numbers of all of the item's events, and the ledger's tree size, root and
origin at export time (signed as a checkpoint when the key is given), so that
``safemed ledger proof ITEM`` can prove each row against that root.

The folder holds ``<format>.jsonl`` and ``<format>.parquet`` (provenance as a JSON string
column), ``datasheet.json`` (Croissant + RAI JSON-LD),
``datasheet.md`` and ``manifest.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select

from safemed.artifacts import atomic_writer, new_manifest, write_manifest
from safemed.curate.datasheet import RowSummary, write_datasheets
from safemed.curate.funnel import funnel
from safemed.curate.prompts import final_answer_line, question_text
from safemed.curate.view import HAS_ITEM, CurationView, I, open_view
from safemed.ledger.checkpoint import Checkpoint
from safemed.ledger.errors import LedgerError
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
from safemed.ledger.tables import cur_reviews
from safemed.records.curation import Trace

Format = Literal["sft", "grpo"]


@dataclass(frozen=True)
class LedgerPoint:
    """The ledger as the export saw it."""

    tree_size: int
    root: str
    origin: str
    checkpoint_key_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"tree_size": self.tree_size, "root": self.root, "origin": self.origin,
                "checkpoint_key_id": self.checkpoint_key_id}


@dataclass
class ExportResult:
    """Where the files went and what they hold."""

    out: Path
    rows: int
    files: list[str]
    ledger: LedgerPoint
    funnel: dict[str, int]


def reasoning_of(state: ItemState, trace: Trace) -> str:
    """The trace's reasoning with every edit of it applied in ledger order (the last one wins)."""
    text = trace.reasoning
    for edit in state.edits:
        if edit.trace_id == trace.id and edit.field == "reasoning":
            text = edit.after
    return text


_ANSWER_LINE = re.compile(r"\n*[ \t]*(?:\*\*)?(?:final answer|answer|最终答案|答案)(?:\*\*)?\s*[:：].*\Z",
                          re.IGNORECASE)


def without_answer_line(reasoning: str) -> str:
    """The reasoning without a closing ``Answer: X`` line of its own: the row ends with the gold
    answer line instead, once (a trace that wrote its own would otherwise end with two).

    >>> without_answer_line("It is the RCA.\\n\\nAnswer: B")
    'It is the RCA.'
    >>> without_answer_line("推理。\\n答案：C")
    '推理。'
    """
    text = reasoning.rstrip()
    last = text.rsplit("\n", 1)[-1]
    if "\n" in text and _ANSWER_LINE.match("\n" + last):
        text = text[: len(text) - len(last)]
    return text.rstrip()


def provenance(state: ItemState, trace: Trace, seqs: dict[str, list[int]], point: LedgerPoint) -> dict[str, Any]:
    """Everything that links one training row to the ledger."""
    item, retention, adj = state.item, state.retention, state.adjudication
    if item is None or retention is None:
        raise ValueError(f"{state.item_id} is not a decided item")
    reviews = [r for r in state.reviews if r.trace_id == trace.id]
    edits = [e for e in state.edits if e.trace_id == trace.id]
    adj_seq = seqs.get("adjudicated", [None])[-1]
    return {
        "item_id": item.id, "kind": item.kind, "dimension": item.dimension, "specialty": item.specialty,
        "language": item.language, "source": item.source, "derived_from": item.derived_from,
        "trace_id": trace.id, "generator": trace.model, "generation_parameters": trace.parameters,
        "attempts": len(state.attempts),
        "review_ids": [r.id for r in reviews], "reviewers": [r.reviewer for r in reviews],
        "rubric": item.rubric, "scores": {r.id: r.scores.as_dict() for r in reviews},
        "mean_scores": {d: round(v, 4) for d, v in state.mean_scores.items()},
        "edit_count": len(edits), "edit_ids": [e.id for e in edits],
        "adjudication_id": None if adj_seq is None else f"adjudication-{adj_seq}",
        "adjudication": None if adj is None else {"decision": adj.decision, "reason": adj.reason, "panel": adj.panel},
        "retention_reason": retention.reason,
        "flags": [f.model_dump(mode="json") for f in state.flags],
        "event_seqs": sorted(seq for values in seqs.values() for seq in values),
        "ledger": point.as_dict(),
    }


def training_row(state: ItemState, fmt: Format, point: LedgerPoint) -> dict[str, Any] | None:
    """The training row of one retained item (None when it has no trace to train on)."""
    item, retention = state.item, state.retention
    if item is None or retention is None or not retention.retained:
        return None
    trace = next((t for t in state.traces if t.id == retention.trace_id), state.latest_trace)
    if trace is None:
        return None
    prov = provenance(state, trace, state.seqs, point)
    prompt = question_text(item)
    if fmt == "sft":
        answer = f"{without_answer_line(reasoning_of(state, trace))}\n\n{final_answer_line(item, item.gold)}"
        return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                "provenance": prov}
    return {"prompt": prompt, "answer": item.gold, "provenance": prov}


def training_rows(view: CurationView, fmt: Format, point: LedgerPoint) -> Iterator[dict[str, Any]]:
    """One row per retained item, in ledger order, streamed from the read model."""
    for state in view.states_where(HAS_ITEM, I.retained.is_(True)):
        row = training_row(state, fmt, point)
        if row is not None:
            yield row


class _ParquetRows:
    """Rows appended to a Parquet file in row groups (provenance as a JSON string column)."""

    def __init__(self, path: Path, group: int = 1000) -> None:
        self.path, self.group = path, group
        self.buffer: list[dict[str, Any]] = []
        self.writer: Any = None

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= self.group:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows, self.buffer = self.buffer, []
        columns = {key: [row[key] for row in rows] for key in rows[0] if key != "provenance"}
        columns["provenance"] = [json.dumps(row["provenance"], ensure_ascii=False, sort_keys=True) for row in rows]
        table = pa.table(columns)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def close(self) -> bool:
        """Finish the file; False when no row was written (and so no file)."""
        self.flush()
        if self.writer is None:
            return False
        self.writer.close()
        return True


def reviewer_counts(view: CurationView) -> dict[str, int]:
    """Distinct (pseudonymous) reviewers per specialty (the datasheet's annotator counts)."""
    r = cur_reviews.c
    rows = view.execute(select(r.specialty, func.count(func.distinct(r.reviewer))).group_by(r.specialty)).all()
    return {str(k): int(v) for k, v in sorted(rows)}


def _snapshot_point(ledger: Ledger, view: CurationView, cp: Checkpoint | None) -> LedgerPoint:
    if cp is not None:
        return LedgerPoint(cp.tree_size, cp.root_hash.hex(), ledger.origin, cp.key_id)
    return LedgerPoint(view.tree_size, ledger.root(view.tree_size).hex(), ledger.origin, None)


def export_dataset(ledger: Ledger, out: Path, fmt: Format, *, name: str = "safemed-curated",
                   sign: bool = False, simulated: bool = False) -> ExportResult:
    """Write the training set, datasheets and manifest to ``out`` (see the module docstring).

    ``simulated`` says the reviews are simulated (``safemed.curate.simulate``, a demonstration):
    the manifest's config carries ``"simulated": true`` and the datasheets say so first, so that
    every later artifact (a model trained on it, the evidence package) can label it.

    Everything is read in ONE snapshot of the read model, at the tree size the export names
    (signed first with ``sign``; if someone appends between signing and reading, it signs again).
    Rows are streamed to the files, so memory does not grow with the dataset.
    """
    for _ in range(20):
        cp = ledger.checkpoint() if sign else None
        with open_view(ledger) as view:
            if cp is not None and cp.tree_size != view.tree_size:
                continue
            point = _snapshot_point(ledger, view, cp)
            return _write_export(view, out, fmt, name, point, simulated)
    raise LedgerError("the ledger kept growing while the export tried to sign it; try again")


def _write_export(view: CurationView, out: Path, fmt: Format, name: str, point: LedgerPoint,
                  simulated: bool = False) -> ExportResult:
    out.mkdir(parents=True, exist_ok=True)
    data = f"{fmt}.jsonl"
    parquet = _ParquetRows(out / f"{fmt}.parquet")
    n_rows, specialties, kinds = 0, set(), set()
    with atomic_writer(out / data) as fh:
        for row in training_rows(view, fmt, point):
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            parquet.add(row)
            n_rows += 1
            specialties.add(row["provenance"]["specialty"])
            kinds.add(row["provenance"]["kind"])
    files = [data]
    if parquet.close():
        files.append(f"{fmt}.parquet")
    counts = funnel(view)
    summary = RowSummary(n_rows, sorted(specialties), sorted(kinds))
    files += write_datasheets(out, name=name, fmt=fmt, rows=summary, files=list(files), funnel_counts=counts,
                              ledger=point.as_dict(), reviewers=reviewer_counts(view), simulated=simulated)
    config: dict[str, Any] = {"format": fmt, "ledger": point.as_dict(), "rows": n_rows, "funnel": counts}
    if simulated:
        config["simulated"] = True
    manifest = new_manifest("curated-dataset", config=config)
    write_manifest(out, manifest, outputs=files)
    return ExportResult(out, n_rows, [*files, "manifest.json"], point, counts)
