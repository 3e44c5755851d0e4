"""The generic MCQ format (``mcq:PATH``) and the bundled samples (``sample``, ``sample-zh``).

Any team can evaluate on its own questions (the paper's private MedSafety/MedEthics sets, a
hospital's exam bank) by writing one JSON object per line::

    {"id": "q1", "question": "...", "options": {"A": "...", "B": "..."}, "answer": "B"}

``answer`` is one letter, or several for multi-answer items (``"ACD"``, scored as an exact
set). Optional keys: ``subject`` (or ``specialty``, used when there is no ``subject``) and
``language`` (``"en"`` or ``"zh"``; detected from the text when absent). Other keys are allowed
and ignored. Each problem is a :class:`~safemed.errors.DataError` naming the line and field:
invalid JSON, a missing or empty ``id`` or ``question``, ``options`` that are not an object of
capital letter → text, answer letters not among the options, an id seen before.

The samples are 20 English and 10 Chinese questions written for this package (not taken from
any dataset), shipped inside the wheel, so ``safemed eval --benchmark sample`` works with no
data folder at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from importlib.abc import Traversable
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
from safemed.errors import DataError
from safemed.records.eval import MCQItem

MCQ_FIELDS = ("id", "question", "options", "answer", "subject", "specialty", "language")


def _options(row: dict[str, Any], path: Path, line: int) -> dict[str, str]:
    options = row.get("options")
    if not isinstance(options, dict) or len(options) < 2:
        raise DataError(str(path), line, "options", 'must be an object like {"A": "text", "B": "text"}')
    for key, value in options.items():
        if len(key) != 1 or not ("A" <= key <= "Z"):
            raise DataError(str(path), line, "options", f"key {key!r} is not a single capital letter")
        if not isinstance(value, str) or not value.strip():
            raise DataError(str(path), line, "options", f"option {key} must be a non-empty string")
    return {key: value.strip() for key, value in options.items()}


def mcq_item(row: dict[str, Any], path: Path, line: int) -> MCQItem:
    """One generic-format row as an MCQItem."""
    raw_id = row.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise DataError(str(path), line, "id", "missing or empty")
    question = text_field(row, "question", path, line)
    options = _options(row, path, line)
    answer = row.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        raise DataError(str(path), line, "answer", 'missing; give option letters, e.g. "B" or "ACD"')
    language: Any = row.get("language") or detect_language(question)
    if language not in ("en", "zh"):
        raise DataError(str(path), line, "language", f"{language!r} is not 'en' or 'zh'")
    subject = row.get("subject") or row.get("specialty")
    if subject is not None and not isinstance(subject, str):
        raise DataError(str(path), line, "subject", "must be a string")
    return make_item(
        path,
        line,
        id=raw_id.strip(),
        question=question,
        options=options,
        answer=answer.strip(),
        subject=subject or None,
        language=language,
    )


class GenericMCQ(FileBenchmark):
    """Questions in the generic MCQ JSONL format, from an explicit path."""

    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        seen: dict[str, int] = {}
        for line, row in read_jsonl(path, on_bad_row):
            try:
                item = mcq_item(row, path, line)
                if item.id in seen:
                    raise DataError(str(path), line, "id", f"duplicate id {item.id!r} (first on line {seen[item.id]})")
            except DataError as err:
                report(err, on_bad_row)
                continue
            seen[item.id] = line
            yield item


def mcq_at(path: Path, language: Language = "en") -> GenericMCQ:
    """The generic loader on a user file (``mcq:PATH``)."""
    info = BenchmarkInfo(
        name=f"mcq:{path}",
        title="Generic MCQ file",
        language=language,
        license="as the file's source states",
        relpath=str(path),
        size=None,
        description="User-supplied questions in the generic MCQ JSONL format.",
    )
    return GenericMCQ(info, path)


class BundledSample(GenericMCQ):
    """A generic-format file shipped inside the package; it needs no data directory."""

    def __init__(self, info: BenchmarkInfo) -> None:
        super().__init__(info)

    def _resource(self) -> Traversable:
        return resources.files("safemed.datasets").joinpath("samples", self.info.relpath)

    def path(self, data_dir: Path | None = None) -> Path:
        """Where the bundled file lies (``data_dir`` is ignored)."""
        return Path(str(self._resource()))

    def load(self, data_dir: Path | None = None, *, on_bad_row: BadRowHandler | None = None) -> Iterator[MCQItem]:
        """Stream the bundled questions (``data_dir`` is ignored)."""
        return self._stream(on_bad_row)

    def _stream(self, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        with resources.as_file(self._resource()) as real:
            yield from self.items(real, on_bad_row)


SAMPLE = BundledSample(
    BenchmarkInfo(
        name="sample",
        title="safemed sample (English)",
        language="en",
        license="Apache-2.0 (written for safemed)",
        relpath="sample_mcq.jsonl",
        size=20,
        description="20 original English medical MCQs for smoke tests and demos; bundled, no data folder needed.",
    )
)

SAMPLE_ZH = BundledSample(
    BenchmarkInfo(
        name="sample-zh",
        title="safemed sample (Chinese)",
        language="zh",
        license="Apache-2.0 (written for safemed)",
        relpath="sample_mcq_zh.jsonl",
        size=10,
        description="10 original Chinese medical MCQs, 2 multi-answer; bundled, no data folder needed.",
    )
)
