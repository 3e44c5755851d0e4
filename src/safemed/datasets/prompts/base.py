"""What a prompt set is, and the helpers its loaders share.

A prompt set is the open-ended counterpart of an MCQ benchmark: an :class:`BenchmarkInfo`
(name, licence, where its files are looked for, how many prompts it has) and a ``load`` method
that streams :class:`~safemed.records.eval.PromptItem` s from a data directory. Safety and
ethics evaluation (Med-Safety-Bench, MedEthicEval violations and dilemmas, HarmBench, AdvBench),
red-teaming (the MSB harmful seeds) and over-refusal checks (XSTest, consumer-health questions)
all read prompts this way, so a judge or an attack never needs to know where a prompt came from.

Bad rows follow the MCQ loaders' rule: a malformed row raises :class:`~safemed.errors.DataError`
naming the file, the line (1-based, the physical line for CSV) and the field, unless the caller
passes ``on_bad_row``, in which case the handler receives the error and the row is skipped. A
missing file raises :class:`~safemed.errors.ConfigError` at ``load`` time saying where it was
looked for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from safemed.datasets.base import BadRowHandler, BenchmarkInfo, read_csv, report
from safemed.errors import ConfigError, DataError
from safemed.records.eval import PromptItem


@runtime_checkable
class PromptSet(Protocol):
    """Anything with an ``info``, a ``path`` and a streaming ``load`` is a prompt set."""

    info: BenchmarkInfo

    def path(self, data_dir: Path) -> Path:
        """The file or folder the set reads."""
        ...

    def load(self, data_dir: Path, *, on_bad_row: BadRowHandler | None = None) -> Iterator[PromptItem]:
        """Stream the prompts, in a stable order, with stable unique ids."""
        ...


class FilePromptSet(ABC):
    """A prompt set read from files under the data directory (or an explicit path).

    Subclasses implement :meth:`items` and, when they read several files, :meth:`required`;
    ``load`` checks that every file exists first, so a missing file fails at once with a
    :class:`ConfigError` rather than at the first ``next()``.
    """

    def __init__(self, info: BenchmarkInfo, explicit_path: Path | None = None) -> None:
        self.info = info
        self._explicit = explicit_path

    def path(self, data_dir: Path) -> Path:
        """``data_dir / info.relpath``, or the explicit path this set was built with."""
        return self._explicit if self._explicit is not None else Path(data_dir) / self.info.relpath

    def load(self, data_dir: Path, *, on_bad_row: BadRowHandler | None = None) -> Iterator[PromptItem]:
        """Stream the prompts; raises ConfigError now if the data is missing."""
        path = self.path(data_dir)
        for needed in self.required(path):
            require_data(needed, self.info.name, explicit=self._explicit is not None)
        return self.items(path, on_bad_row)

    def required(self, path: Path) -> list[Path]:
        """The files that must exist for ``load`` to work (by default just ``path``)."""
        return [path]

    @abstractmethod
    def items(self, path: Path, on_bad_row: BadRowHandler | None) -> Iterator[PromptItem]:
        """Stream the prompts from ``path`` (whose required files exist)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.info.name!r})"


def require_data(path: Path, name: str, *, explicit: bool = False) -> None:
    """Raise a ConfigError that says where the data of prompt set ``name`` was looked for."""
    if path.exists():
        return
    if explicit:
        raise ConfigError(f"prompt set {name!r}: file not found: {path}")
    raise ConfigError(
        f"prompt set {name!r}: data not found at {path}; set the data folder with --data-dir or "
        "SAFEMED_DATA_DIR (the folder that holds the benchmark files)"
    )


def make_prompt(path: Path, line: int, **fields: Any) -> PromptItem:
    """Build a PromptItem, turning a validation failure into a DataError naming the field."""
    try:
        return PromptItem(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DataError(str(path), line, field, message) from None


def cell(row: dict[str, str], key: str, path: Path, line: int) -> str:
    """``row[key]`` stripped, or a DataError when the column is missing or the cell empty."""
    value = row.get(key)
    if value is None:
        raise DataError(str(path), line, key, "missing column")
    if not value.strip():
        raise DataError(str(path), line, key, "empty")
    return value.strip()


RowBuilder = Callable[[dict[str, str], int, int], PromptItem]


def csv_prompts(path: Path, on_bad_row: BadRowHandler | None, build: RowBuilder) -> Iterator[PromptItem]:
    """Stream ``build(row, line, number)`` over a CSV's rows, routing DataErrors to ``on_bad_row``.

    ``number`` is the 1-based position of the row among the file's data rows (ids use it).
    """
    for number, (line, row) in enumerate(read_csv(path), start=1):
        try:
            yield build(row, line, number)
        except DataError as err:
            report(err, on_bad_row)
