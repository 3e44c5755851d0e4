"""SafetyBench (Chinese subset): safety multiple-choice questions in seven categories.

SafeMed-R1 reports SafetyBench (Zhang et al. 2024) as a general-safety check next to the medical
benchmarks. Two files: ``safetybench/test_zh_subset.json`` (a JSON array of ``{"id",
"question", "options": [...], "category"}``) and ``test_answers_zh_subset.json`` (answers keyed
by the id as a string: ``{"2": {"category": ..., "answer": 1}}``, the answer a 0-based option
index). Options become letters A, B, ...; the category (Physical Health, Mental Health, Ethics
and Morality, ...) becomes the subject; ids are ``safetybench-zh-<id>``, in file order. Errors
name the 1-based position in the question array as the row.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, FileBenchmark, make_item, report
from safemed.errors import DataError
from safemed.records.eval import MCQItem

QUESTIONS_FILE = "test_zh_subset.json"
ANSWERS_FILE = "test_answers_zh_subset.json"


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(str(path), exc.lineno, None, f"invalid JSON: {exc.msg}") from None


def safetybench_item(entry: Any, answers: dict[str, Any], path: Path, row: int) -> MCQItem:
    """One SafetyBench question, with its answer looked up by id."""
    if not isinstance(entry, dict):
        raise DataError(str(path), row, None, "expected a JSON object")
    if entry.get("id") is None:
        raise DataError(str(path), row, "id", "missing")
    key = str(entry["id"])
    options = entry.get("options")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise DataError(str(path), row, "options", "must be a list of strings")
    if len(options) > len(string.ascii_uppercase):
        raise DataError(str(path), row, "options", "more than 26 options")
    gold = answers.get(key)
    index = gold.get("answer") if isinstance(gold, dict) else gold
    if not isinstance(index, int) or not 0 <= index < len(options):
        raise DataError(str(path), row, "answer", f"id {key}: no valid answer index in {ANSWERS_FILE}")
    question = entry.get("question")
    if not isinstance(question, str) or not question.strip():
        raise DataError(str(path), row, "question", "missing or empty")
    category = entry.get("category")
    return make_item(
        path,
        row,
        id=f"safetybench-zh-{key}",
        question=question.strip(),
        options={string.ascii_uppercase[i]: text.strip() for i, text in enumerate(options)},
        answer=string.ascii_uppercase[index],
        subject=category if isinstance(category, str) and category else None,
        language="zh",
    )


class SafetyBenchZh(FileBenchmark):
    """The ``safetybench`` folder with the question and answer files."""

    def required(self, path: Path) -> list[Path]:
        """Both JSON files."""
        return [path / QUESTIONS_FILE, path / ANSWERS_FILE]

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        questions_path = path / QUESTIONS_FILE
        questions, answers = _read(questions_path), _read(path / ANSWERS_FILE)
        if not isinstance(questions, list):
            raise DataError(str(questions_path), None, None, "expected a JSON array of questions")
        if not isinstance(answers, dict):
            raise DataError(str(path / ANSWERS_FILE), None, None, "expected a JSON object keyed by id")
        for row, entry in enumerate(questions, start=1):
            try:
                yield safetybench_item(entry, answers, questions_path, row)
            except DataError as err:
                report(err, on_bad_row)


SAFETYBENCH_INFO = BenchmarkInfo(
    name="safetybench",
    title="SafetyBench (zh subset)",
    language="zh",
    license="MIT",
    relpath="safetybench",
    size=2100,
    description=(
        "Chinese safety MCQs, 300 per category: offensiveness, unfairness and bias, physical "
        "health, mental health, illegal activities, ethics and morality, privacy and property."
    ),
    citation="Zhang et al., SafetyBench: Evaluating the Safety of Large Language Models, ACL 2024",
)

SAFETYBENCH = SafetyBenchZh(SAFETYBENCH_INFO)
