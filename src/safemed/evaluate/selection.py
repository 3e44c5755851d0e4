"""Which items of a benchmark a run evaluates: the first ``--limit`` or a seeded ``--sample``.

``--limit N`` takes the first N items in file order (quick smoke tests); ``--sample N`` takes N
items drawn uniformly without replacement, seeded by the run seed and the benchmark name, so a
subset estimate is unbiased across subsets and categories (e.g. Med-Safety-Bench's files are
ordered by subset and category, where the first N would all be one category). Both keep file
order, and the selection is a set of positions, so loaders still stream.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from safemed.errors import DataError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Loadable(Protocol[T_co]):
    """A benchmark or prompt set: something that streams items from the data folder."""

    def load(self, data_dir: Path, *, on_bad_row: Callable[[DataError], None] | None = None) -> Iterator[T_co]: ...


def choose(total: int, *, limit: int | None, sample: int | None, seed: int, name: str) -> frozenset[int]:
    """Positions (0-based, in file order) to evaluate out of ``total`` items."""
    if sample is not None:
        digest = hashlib.sha256(f"{seed}\0{name}".encode()).digest()
        picked = sorted(random.Random(int.from_bytes(digest[:8], "big")).sample(range(total), min(sample, total)))
    else:
        picked = list(range(total))
    if limit is not None:
        picked = picked[:limit]
    return frozenset(picked)


def pick(stream: Iterable[T], positions: frozenset[int]) -> Iterator[T]:
    """The items of ``stream`` at ``positions``, stopping after the last one."""
    if not positions:
        return
    last = max(positions)
    for index, item in enumerate(stream):
        if index in positions:
            yield item
        if index >= last:
            return


def selected_items(sources: Sequence[tuple[str, Loadable[T]]], data_dir: Path,
                   positions: Mapping[str, frozenset[int]],
                   bad_rows: Mapping[str, list[str]] | None) -> Iterator[tuple[str, T]]:
    """(name, item) for the chosen positions of every source, in order. With ``bad_rows``
    (--skip-bad-rows) a malformed row is recorded under its source's name and skipped; without,
    it raises."""
    for name, source in sources:
        on_bad_row = None if bad_rows is None else _recorder(bad_rows[name])
        for item in pick(source.load(data_dir, on_bad_row=on_bad_row), positions[name]):
            yield name, item


def _recorder(sink: list[str]) -> Callable[[DataError], None]:
    def record(err: DataError) -> None:
        sink.append(str(err))
    return record
