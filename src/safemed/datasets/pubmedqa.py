"""PubMedQA PQA-L test set as three-option multiple choice (A yes, B no, C maybe).

SafeMed-R1 reports PubMedQA accuracy in the reasoning-required setting: the model sees the
abstract (without its conclusion) and the question. The test set is the 500 PMIDs of
``pubmedqa/test_ground_truth.json``; their abstracts come from ``pubmedqa/ori_pqal.json`` (the
1,000 expert-labelled PQA-L items). Items follow the order of the ground-truth file, and ids are
``pubmedqa-<PMID>``. The question text is ``"Abstract: ...\\nQuestion: ..."``, as in the
standard PubMedQA prompt, with each context paragraph prefixed by its section label.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, FileBenchmark, make_item, report
from safemed.errors import DataError
from safemed.records.eval import MCQItem

OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
_LETTER = {text: letter for letter, text in OPTIONS.items()}
CONTEXTS_FILE = "ori_pqal.json"
TRUTH_FILE = "test_ground_truth.json"


def _load_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(str(path), exc.lineno, None, f"invalid JSON: {exc.msg}") from None


def abstract_text(entry: dict[str, Any]) -> str:
    """The context paragraphs, each as ``"LABEL: text"`` where the label is known."""
    contexts = entry.get("CONTEXTS")
    if not isinstance(contexts, list) or not contexts:
        raise ValueError("missing")
    labels = entry.get("LABELS")
    labels = labels if isinstance(labels, list) and len(labels) == len(contexts) else [None] * len(contexts)
    parts = [f"{label}: {text}" if label else str(text) for label, text in zip(labels, contexts, strict=True)]
    return "\n".join(parts)


class PubMedQA(FileBenchmark):
    """The folder holding ``ori_pqal.json`` and ``test_ground_truth.json``."""

    def required(self, path: Path) -> list[Path]:
        """Both JSON files of the folder."""
        return [path / TRUTH_FILE, path / CONTEXTS_FILE]

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        truth_path, contexts_path = path / TRUTH_FILE, path / CONTEXTS_FILE
        truth = _load_json(truth_path)
        contexts = _load_json(contexts_path)
        if not isinstance(truth, dict) or not isinstance(contexts, dict):
            raise DataError(str(truth_path), None, None, "expected a JSON object keyed by PMID")
        for row, (pmid, decision) in enumerate(truth.items(), start=1):
            try:
                yield self._item(pmid, decision, contexts, truth_path, contexts_path, row)
            except DataError as err:
                report(err, on_bad_row)

    @staticmethod
    def _item(
        pmid: str, decision: Any, contexts: dict[str, Any], truth_path: Path, contexts_path: Path, row: int
    ) -> MCQItem:
        if decision not in _LETTER:
            raise DataError(str(truth_path), row, pmid, f"answer {decision!r} is not yes/no/maybe")
        entry = contexts.get(pmid)
        if not isinstance(entry, dict):
            raise DataError(str(contexts_path), None, pmid, "PMID of the test set has no entry")
        question = entry.get("QUESTION")
        if not isinstance(question, str) or not question.strip():
            raise DataError(str(contexts_path), None, f"{pmid}.QUESTION", "missing")
        try:
            abstract = abstract_text(entry)
        except ValueError as exc:
            raise DataError(str(contexts_path), None, f"{pmid}.CONTEXTS", str(exc)) from None
        return make_item(
            truth_path,
            row,
            id=f"pubmedqa-{pmid}",
            question=f"Abstract: {abstract}\nQuestion: {question.strip()}",
            options=OPTIONS,
            answer=_LETTER[decision],
            language="en",
        )


PUBMEDQA_INFO = BenchmarkInfo(
    name="pubmedqa",
    title="PubMedQA (PQA-L test)",
    language="en",
    license="MIT",
    relpath="pubmedqa",
    size=500,
    description="Biomedical research questions answered yes/no/maybe from a PubMed abstract.",
    citation="Jin et al., PubMedQA, EMNLP 2019",
)

PUBMEDQA = PubMedQA(PUBMEDQA_INFO)
