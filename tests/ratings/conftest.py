"""Rating fixtures: a ``RatingStore`` on each database (``db_url`` from ``tests/conftest.py``) and
two real eval runs of the bundled safety sample (see ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from safemed.ledger.db import make_engine
from safemed.ratings import RatingStore

from .helpers import answer_a, answer_b, eval_run


class Clock:
    """A settable time source for leases (epoch seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[RatingStore]:
    engine = make_engine(db_url)
    try:
        yield RatingStore(engine, clock=clock)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return eval_run(tmp_path_factory.mktemp("run-a"), answer_a)


@pytest.fixture(scope="session")
def run_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return eval_run(tmp_path_factory.mktemp("run-b"), answer_b)
