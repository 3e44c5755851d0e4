"""CMExam: questions of the Chinese National Medical Licensing Examination, single and multi answer.

SafeMed-R1 reports CMExam accuracy; multi-answer items (``"Answer": "ABCD"``) count as correct
only when the whole set of letters matches. The default benchmark reads the public validation
split ``cmexam/cmexam_val.jsonl``; ``cmexam:PATH`` reads the same rows from any JSONL file, or
from the upstream CSV release (``Question, Options, Answer, Explanation, ...``, e.g. the test
split). Rows carry ``Question``, ``Options`` (``"A text"`` one per line) and ``Answer``; the
subject is taken from a ``Medical Discipline`` / ``Clinical Department`` / ``Disease Group``
field where the file has one (the validation JSONL has none). Ids are ``cmexam-<line>``.

Known quirks of ``cmexam_val.jsonl``, handled:

* the options are separated by a literal backslash-n (``"A x\\\\nB y"``), not a newline;
* line 5357 has ``"Answer": null``: it cannot be scored and is skipped (6,811 rows, 6,810 items);
* lines 5590 and 5597 lack option A, and line 6028 lacks option C: the options are kept with
  their printed letters (the answer is among them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.datasets.base import (
    BadRowHandler,
    BenchmarkInfo,
    FileBenchmark,
    make_item,
    read_csv,
    read_jsonl,
    report,
    text_field,
)
from safemed.datasets.options import parse_option_lines
from safemed.errors import DataError
from safemed.records.eval import MCQItem

log = logging.getLogger(__name__)
SUBJECT_FIELDS = ("Medical Discipline", "Clinical Department", "Disease Group")


def cmexam_item(row: dict[str, Any], path: Path, line: int) -> MCQItem | None:
    """One CMExam row as an MCQItem, or None for a row without an answer (logged, skipped)."""
    if row.get("Answer") is None:
        log.info("%s:%d: CMExam row without an answer skipped", path, line)
        return None
    question = text_field(row, "Question", path, line)
    raw = text_field(row, "Options", path, line).replace("\\n", "\n")
    try:
        options = parse_option_lines(raw)
    except ValueError as exc:
        raise DataError(str(path), line, "Options", str(exc)) from None
    answer = text_field(row, "Answer", path, line)
    subject = next(
        (str(row[key]).strip() for key in SUBJECT_FIELDS if isinstance(row.get(key), str) and row[key].strip()),
        None,
    )
    return make_item(
        path,
        line,
        id=f"cmexam-{line:04d}",
        question=question,
        options=options,
        answer=answer,
        subject=subject,
        language="zh",
    )


class CMExam(FileBenchmark):
    """CMExam rows from a ``.jsonl`` file, or a ``.csv`` file of the upstream release."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        rows: Iterator[tuple[int, dict[str, Any]]]
        if path.suffix.lower() == ".csv":
            rows = (
                (line, {k: (v if v.strip() or k != "Answer" else None) for k, v in row.items()})
                for line, row in read_csv(path)
            )
        else:
            rows = read_jsonl(path, on_bad_row)
        for line, row in rows:
            try:
                item = cmexam_item(row, path, line)
            except DataError as err:
                report(err, on_bad_row)
                continue
            if item is not None:
                yield item


CMEXAM_INFO = BenchmarkInfo(
    name="cmexam",
    title="CMExam (validation)",
    language="zh",
    license="Apache-2.0 (upstream CMExam)",
    relpath="cmexam/cmexam_val.jsonl",
    size=6810,
    description=(
        "Chinese National Medical Licensing Examination questions, 5 options, single and multi "
        "answer; validation split (6,811 rows, one without an answer skipped)."
    ),
    citation="Liu et al., Benchmarking Large Language Models on CMExam, NeurIPS 2023 Datasets and Benchmarks",
)

CMEXAM = CMExam(CMEXAM_INFO)


def cmexam_at(path: Path) -> CMExam:
    """CMExam-format rows at ``path`` (``.jsonl`` or upstream ``.csv``, e.g. the test split)."""
    info = BenchmarkInfo(
        name=f"cmexam:{path}",
        title="CMExam format (user file)",
        language="zh",
        license="as the file's source states (upstream CMExam: Apache-2.0)",
        relpath=str(path),
        size=None,
        description="CMExam-format rows at a given path (e.g. the CMExam test split).",
        citation=CMEXAM_INFO.citation,
    )
    return CMExam(info, path)
