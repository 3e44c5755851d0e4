"""The response cache: readable at once, committed by its writer thread, errors surfaced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from safemed.backends import Completion, ResponseCache, Usage
from safemed.backends.cache import COMMIT_EVERY

IDENTITY = {"backend": "openai", "model": "m"}


def reply(i: int) -> Completion:
    return Completion(text=f"Answer: {i}", finish_reason="stop", usage=Usage(3, 2))


def rows_on_disk(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM responses").fetchone()[0])


def test_put_is_readable_at_once_and_on_disk_after_flush(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    n = 3 * COMMIT_EVERY + 5
    for i in range(n):
        cache.put(f"k{i}", IDENTITY, f"request {i}", reply(i))
        assert cache.get(f"k{i}") == reply(i)
    cache.flush()
    assert rows_on_disk(path) == n and len(cache) == n
    cache.close()
    again = ResponseCache(path)
    assert all(again.get(f"k{i}") == reply(i) for i in range(n)) and again.get("other") is None
    again.close()


def test_a_failed_write_is_raised_to_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE responses")
    cache.put("k", IDENTITY, "request", reply(0))
    with pytest.raises(sqlite3.OperationalError, match="responses"):
        cache.flush()
    assert cache.get("k") == reply(0)  # still readable from memory
    with pytest.raises(sqlite3.OperationalError):
        cache.close()
