"""What a benchmark is, and the helpers every loader shares.

A benchmark is a small object with an :class:`BenchmarkInfo` (name, licence, where its file is
looked for, how many items it has) and a ``load`` method that streams
:class:`~safemed.records.eval.MCQItem` s from a data directory. SafeMed-R1 reports capability on
MedQA, MedMCQA, MMLU-medical, PubMedQA, CMExam and PediaBench, and safety and ethics on
MedEthicEval and SafetyBench; each has a loader in this package, all producing the same item
shape so that evaluation never needs to know which benchmark it is scoring.

Bad rows follow one rule: a malformed row raises :class:`~safemed.errors.DataError` naming the
file, the line (1-based, the physical line for CSV) and the field, unless the caller passes
``on_bad_row``, in which case the handler receives the error and the row is skipped. A missing
file raises :class:`~safemed.errors.ConfigError` saying where it was looked for.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import ValidationError

from safemed.errors import ConfigError, DataError
from safemed.records.eval import MCQItem

Language = Literal["en", "zh"]
BadRowHandler = Callable[[DataError], None]


@dataclass(frozen=True)
class BenchmarkInfo:
    """Static facts about a benchmark, shown by ``safemed benchmarks`` and cited in reports."""

    name: str
    title: str
    language: Language
    license: str
    relpath: str
    size: int | None
    description: str
    citation: str = ""


@runtime_checkable
class Benchmark(Protocol):
    """Anything with an ``info``, a ``path`` and a streaming ``load`` is a benchmark."""

    info: BenchmarkInfo

    def path(self, data_dir: Path) -> Path:
        """The file or folder the benchmark reads."""
        ...

    def load(self, data_dir: Path, *, on_bad_row: BadRowHandler | None = None) -> Iterator[MCQItem]:
        """Stream the items, in a stable order, with stable unique ids."""
        ...


class FileBenchmark(ABC):
    """A benchmark read from one file or folder under the data directory (or an explicit path).

    Subclasses implement :meth:`items`; ``load`` checks that the data exists first, so a missing
    file fails at once with a :class:`ConfigError` rather than at the first ``next()``.
    """

    def __init__(self, info: BenchmarkInfo, explicit_path: Path | None = None) -> None:
        self.info = info
        self._explicit = explicit_path

    def path(self, data_dir: Path) -> Path:
        """``data_dir / info.relpath``, or the explicit path this benchmark was built with."""
        return self._explicit if self._explicit is not None else Path(data_dir) / self.info.relpath

    def load(self, data_dir: Path, *, on_bad_row: BadRowHandler | None = None) -> Iterator[MCQItem]:
        """Stream the items; raises ConfigError now if the data is missing."""
        path = self.path(data_dir)
        for needed in self.required(path):
            require_exists(needed, self.info.name, explicit=self._explicit is not None)
        return self.items(path, on_bad_row)

    def required(self, path: Path) -> list[Path]:
        """The files that must exist for ``load`` to work (by default just ``path``)."""
        return [path]

    @abstractmethod
    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[MCQItem]:
        """Stream the items from ``path`` (which exists)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.name!r})"


def require_exists(path: Path, name: str, *, explicit: bool = False) -> None:
    """Raise a ConfigError that says where the data of ``name`` was looked for."""
    if path.exists():
        return
    if explicit:
        raise ConfigError(f"benchmark {name!r}: file not found: {path}")
    raise ConfigError(
        f"benchmark {name!r}: data not found at {path}; set the data folder with --data-dir or "
        "SAFEMED_DATA_DIR (the folder that holds the benchmark files)"
    )


def report(error: DataError, on_bad_row: BadRowHandler | None) -> None:
    """Raise ``error``, or hand it to ``on_bad_row`` (the caller then skips the row)."""
    if on_bad_row is None:
        raise error
    on_bad_row(error)


def read_jsonl(path: Path, on_bad_row: BadRowHandler | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream ``(line_number, object)`` pairs; blank lines are skipped, bad JSON is a DataError."""
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                report(DataError(str(path), number, None, f"invalid JSON: {exc.msg}"), on_bad_row)
                continue
            if not isinstance(row, dict):
                report(DataError(str(path), number, None, "expected a JSON object"), on_bad_row)
                continue
            yield number, row


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream ``(line_number, row)`` pairs of a UTF-8 CSV with a header (a BOM is allowed).

    The number is the physical line where the row starts (the header is line 1), so it stays
    right when quoted fields span several lines. Missing trailing cells read as ``""``.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                padded = cells + [""] * (len(header) - len(cells))
                yield start, dict(zip(header, padded, strict=False))
            start = reader.line_num + 1


def text_field(row: dict[str, Any], key: str, path: Path, line: int) -> str:
    """``row[key]`` as a non-empty, stripped string, or a DataError naming the field."""
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        problem = "missing" if value is None else "must be a non-empty string"
        raise DataError(str(path), line, key, problem)
    return value.strip()


def make_item(path: Path, line: int, **fields: Any) -> MCQItem:
    """Build an MCQItem, turning a validation failure into a DataError naming the field."""
    try:
        return MCQItem(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "answer"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DataError(str(path), line, field, message) from None


def is_cjk(char: str) -> bool:
    """True for a CJK ideograph (the letters of Chinese text)."""
    return unicodedata.name(char, "").startswith("CJK ")


def detect_language(text: str) -> Language:
    """``"zh"`` when most letters of ``text`` are CJK ideographs, else ``"en"``.

    >>> detect_language("Which drug is first line?"), detect_language("首选药物是 ACEI")
    ('en', 'zh')
    """
    if text.isascii():  # the common English case, without a per-character scan
        return "en"
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum(1 for ch in letters if is_cjk(ch))
    return "zh" if letters and cjk * 2 > len(letters) else "en"
