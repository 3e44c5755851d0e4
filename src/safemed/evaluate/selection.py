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
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


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
