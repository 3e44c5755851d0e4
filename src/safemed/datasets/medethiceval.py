"""MedEthicEval, knowledge part: Chinese medical-ethics single-choice questions.

SafeMed-R1 reports MedEthicEval (Jin et al. 2025); its "medical ethics knowledge" task is
multiple choice and is scored like any MCQ benchmark (the violation-detection and dilemma
tasks are judge-scored and live elsewhere). The file is ``medethiceval/medical_ethics_knowledge.csv``:
UTF-8 with a byte-order mark, 24 columns, quoted fields spanning several lines. The loader uses
``question`` (the bare question, not the prompt-wrapped ``query``), ``options`` (a Python-style
list literal, ``"['A.xxx', 'B.yyy']"``), ``answer`` (a letter), ``uuid`` for the id
(``medethiceval-<uuid>``) and ``other`` (always 医学伦理学) as the subject. Line numbers in
errors are the physical line where the row starts.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, FileBenchmark, make_item, read_csv, report
from safemed.errors import DataError
from safemed.records.eval import MCQItem

_OPTION = re.compile(r"^\s*([A-Z])\s*[.．、:：]\s*(.*)$", re.S)


def parse_option_list(raw: str) -> dict[str, str]:
    """``"['A.x', 'B.y']"`` → ``{"A": "x", "B": "y"}``; ValueError if it is not that shape.

    >>> parse_option_list("['A.同意', 'B.拒绝']")
    {'A': '同意', 'B': '拒绝'}
    """
    try:
        values = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise ValueError("not a list literal like ['A.xxx', 'B.yyy']") from None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("not a list of strings")
    options: dict[str, str] = {}
    for value in values:
        match = _OPTION.match(value)
        if match is None:
            raise ValueError(f"{value[:30]!r} does not start with a letter and '.'")
        if match.group(1) in options:
            raise ValueError(f"option {match.group(1)} appears twice")
        options[match.group(1)] = match.group(2).strip()
    return options


class MedEthicEvalKnowledge(FileBenchmark):
    """``medical_ethics_knowledge.csv`` of MedEthicEval."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        for line, row in read_csv(path):
            try:
                yield self._item(row, path, line)
            except DataError as err:
                report(err, on_bad_row)

    @staticmethod
    def _item(row: dict[str, str], path: Path, line: int) -> MCQItem:
        for key in ("uuid", "question", "options", "answer"):
            if not row.get(key, "").strip():
                raise DataError(str(path), line, key, "missing or empty")
        try:
            options = parse_option_list(row["options"])
        except ValueError as exc:
            raise DataError(str(path), line, "options", str(exc)) from None
        return make_item(
            path,
            line,
            id=f"medethiceval-{row['uuid'].strip()}",
            question=row["question"].strip(),
            options=options,
            answer=row["answer"].strip(),
            subject=row.get("other", "").strip() or None,
            language="zh",
        )


MEDETHICEVAL_INFO = BenchmarkInfo(
    name="medethiceval-mcq",
    title="MedEthicEval (knowledge MCQ)",
    language="zh",
    license="none stated by the authors; cite the paper",
    relpath="medethiceval/medical_ethics_knowledge.csv",
    size=629,
    description="Chinese medical-ethics knowledge questions, single choice, 4-5 options.",
    citation="Jin et al., MedEthicEval: Evaluating Large Language Models Based on Chinese Medical Ethics, 2025",
)

MEDETHICEVAL_MCQ = MedEthicEvalKnowledge(MEDETHICEVAL_INFO)
