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

The folder holds ``<format>.jsonl`` (and ``<format>.parquet`` when ``pyarrow`` is installed,
provenance as a JSON string column), ``datasheet.json`` (Croissant + RAI JSON-LD),
``datasheet.md`` and ``manifest.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from safemed.artifacts import new_manifest, write_manifest
from safemed.curate.datasheet import write_datasheets
from safemed.curate.funnel import funnel
from safemed.curate.prompts import final_answer_line, question_text
from safemed.curate.view import CurationView, read_view
from safemed.ledger.state import ItemState
from safemed.ledger.store import Ledger
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


def training_rows(view: CurationView, fmt: Format, point: LedgerPoint) -> list[dict[str, Any]]:
    """One row per retained item, in ledger order."""
    rows = []
    for state in view.states.values():
        item, retention = state.item, state.retention
        if item is None or retention is None or not retention.retained:
            continue
        trace = next((t for t in state.traces if t.id == retention.trace_id), state.latest_trace)
        if trace is None:
            continue
        prov = provenance(state, trace, view.seqs.get(state.item_id, {}), point)
        prompt = question_text(item)
        if fmt == "sft":
            answer = f"{reasoning_of(state, trace).rstrip()}\n\n{final_answer_line(item, item.gold)}"
            rows.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                         "provenance": prov})
        else:
            rows.append({"prompt": prompt, "answer": item.gold, "provenance": prov})
    return rows


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> bool:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {key: [row[key] for row in rows] for key in rows[0] if key != "provenance"} if rows else {}
    columns["provenance"] = [json.dumps(row["provenance"], ensure_ascii=False, sort_keys=True) for row in rows]
    pq.write_table(pa.table(columns), path)
    return True


def export_dataset(ledger: Ledger, out: Path, fmt: Format, *, name: str = "safemed-curated",
                   sign: bool = False) -> ExportResult:
    """Write the training set, datasheets and manifest to ``out`` (see the module docstring)."""
    if sign:
        cp = ledger.checkpoint()
        size, root, key_id = cp.tree_size, cp.root_hash.hex(), cp.key_id
    else:
        size = ledger.size()
        root, key_id = ledger.root(size).hex(), None
    point = LedgerPoint(size, root, ledger.origin, key_id)
    view = read_view(ledger, stop=size)
    rows = training_rows(view, fmt, point)
    out.mkdir(parents=True, exist_ok=True)
    data = f"{fmt}.jsonl"
    with open(out / data, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    files = [data]
    if rows and _write_parquet(out / f"{fmt}.parquet", rows):
        files.append(f"{fmt}.parquet")
    counts = funnel(view)
    files += write_datasheets(out, name=name, fmt=fmt, view=view, rows=rows, files=list(files),
                              funnel_counts=counts, ledger=point.as_dict())
    manifest = new_manifest("curated-dataset", config={"format": fmt, "ledger": point.as_dict(), "rows": len(rows),
                                                       "funnel": counts})
    write_manifest(out, manifest, outputs=files)
    return ExportResult(out, len(rows), [*files, "manifest.json"], point, counts)
