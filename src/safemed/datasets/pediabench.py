"""PediaBench (MC): Chinese paediatrics multiple-choice questions, single and multi answer.

SafeMed-R1 reports "PediaBench (MC)", the multiple-choice part of PediaBench (Zhang et al.
2024): ``pediabench/Multiple_Choice.jsonl``, rows ``{"Disease Groups", "questions", "options",
"answers", "explanations"}``. The disease group (e.g. 儿科感染性疾病) becomes the subject; ids
are ``pediabench-mc-<line>``.

The options are free exam text, so they are parsed tolerantly
(:func:`~safemed.datasets.options.parse_option_text`). Known quirks, handled:

* options on one line (``"A.xxB.yy"``), ``。`` or nothing after the letter, lower-case ``c.``,
  chemical formulas wrapped over lines (``"H+\\n-K+\\n-ATP酶"``), ideographic-space indents;
* lines 430 and 449 begin their options with the end of the question (``"L.中性粒细胞78％…"``):
  that text is put back at the end of the question;
* line 2574 has the stray line ``天猫`` among its options: dropped;
* line 2489 has no option B: the options keep their printed letters;
* answers with trailing spaces (``"B "``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.datasets.base import (
    BadRowHandler,
    BenchmarkInfo,
    FileBenchmark,
    make_item,
    read_jsonl,
    report,
    text_field,
)
from safemed.datasets.options import parse_option_text
from safemed.errors import DataError
from safemed.records.eval import MCQItem

JUNK_LINES = frozenset({"天猫"})


def pediabench_item(row: dict[str, Any], path: Path, line: int) -> MCQItem:
    """One PediaBench multiple-choice row as an MCQItem."""
    question = text_field(row, "questions", path, line)
    raw = text_field(row, "options", path, line)
    try:
        parsed = parse_option_text(raw, JUNK_LINES)
    except ValueError as exc:
        raise DataError(str(path), line, "options", str(exc)) from None
    if parsed.prefix:
        question += parsed.prefix
    answer = text_field(row, "answers", path, line).replace(" ", "")
    group = row.get("Disease Groups")
    subject = group.strip() if isinstance(group, str) and group.strip() else None
    return make_item(
        path,
        line,
        id=f"pediabench-mc-{line:04d}",
        question=question,
        options=parsed.options,
        answer=answer,
        subject=subject,
        language="zh",
    )


class PediaBenchMC(FileBenchmark):
    """``Multiple_Choice.jsonl`` of PediaBench."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        for line, row in read_jsonl(path, on_bad_row):
            try:
                yield pediabench_item(row, path, line)
            except DataError as err:
                report(err, on_bad_row)


PEDIABENCH_INFO = BenchmarkInfo(
    name="pediabench",
    title="PediaBench (MC)",
    language="zh",
    license="none stated by the authors; cite the paper",
    relpath="pediabench/Multiple_Choice.jsonl",
    size=3576,
    description="Chinese paediatrics multiple-choice questions across 12 disease groups, single and multi answer.",
    citation="Zhang et al., PediaBench: A Comprehensive Chinese Pediatric Dataset for Benchmarking LLMs, 2024",
)

PEDIABENCH = PediaBenchMC(PEDIABENCH_INFO)
