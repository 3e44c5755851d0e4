"""Curation fixtures: a key file, a fresh ledger on SQLite and on PostgreSQL, a roster, and a
scripted generator served by the loopback stand-in.

PostgreSQL runs at ``$SAFEMED_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
each test gets its own schema (selected through ``search_path``), dropped afterwards. Tests on
PostgreSQL are skipped, with the reason, only when that server cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from safemed.ledger.keys import KEY_ENV, LedgerKeys

from .helpers import ScriptedGenerator

PG_URL = os.environ.get("SAFEMED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh key file, also the default through ``$SAFEMED_LEDGER_KEY``; caches go to tmp."""
    path = tmp_path / "keys" / "ledger.key"
    LedgerKeys.generate().save(path)
    monkeypatch.setenv(KEY_ENV, str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("SAFEMED_CACHE_DIR", str(tmp_path / "cache"))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.db")


@pytest.fixture
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    schema = f"curate_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty ledger database on each backend."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
def generator() -> Iterator[ScriptedGenerator]:
    """The stand-in server answering the sample seeds by script (see ``helpers.ScriptedGenerator``)."""
    gen = ScriptedGenerator()
    with gen.server():
        yield gen
