"""Ordered, bounded streaming of async work: the heart of a fast evaluation that never holds
every sample in memory.

:func:`ordered_map` starts work for items as they come from an iterator, keeps at most
``window`` tasks alive, and yields results in input order. Memory is O(window), whatever the
dataset size; output files come out in dataset order, so a resumed run writes exactly the same
``samples.jsonl`` as an uninterrupted one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def ordered_map(func: Callable[[T], Awaitable[R]], items: Iterable[T], *, window: int) -> AsyncIterator[R]:
    """Yield ``await func(item)`` for each item, in order, with at most ``window`` in flight."""
    pending: deque[asyncio.Task[R]] = deque()
    try:
        for item in items:
            pending.append(asyncio.ensure_future(func(item)))
            if len(pending) >= window:
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
