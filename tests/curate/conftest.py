"""Curation fixtures: fresh ledger keys, and a scripted generator served by the loopback stand-in. The key
file and the fresh ledgers on SQLite and PostgreSQL (``key_file``, ``db_url`` …) come from ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from safemed.ledger.keys import LedgerKeys

from .helpers import ScriptedGenerator


@pytest.fixture
def generator() -> Iterator[ScriptedGenerator]:
    """The stand-in server answering the sample seeds by script (see ``helpers.ScriptedGenerator``)."""
    gen = ScriptedGenerator()
    with gen.server():
        yield gen


@pytest.fixture
def keys() -> LedgerKeys:
    """A fresh signing key set for a ledger built in the test."""
    return LedgerKeys.generate()
