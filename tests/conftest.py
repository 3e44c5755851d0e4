"""Shared pytest fixtures.

``data_dir`` is the folder of real public benchmark files (``$SAFEMED_DATA_DIR``, else
``<repo>/../shared/data``); tests that need it are skipped, with the reason, where it is absent.
The files are never copied into the repository.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _real_data_dir() -> Path:
    env = os.environ.get("SAFEMED_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark data folder; skips the test when it is not on this machine."""
    path = _real_data_dir()
    if not path.is_dir():
        pytest.skip(f"real benchmark data not found at {path} (set SAFEMED_DATA_DIR to run these tests)")
    return path


# --- ledger databases (used by the ledger and curation tests) -------------------------------------

PG_URL = os.environ.get("SAFEMED_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ledger key file, also the default through ``$SAFEMED_LEDGER_KEY``; caches go to tmp."""
    from safemed.ledger.keys import KEY_ENV, LedgerKeys

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
    """A fresh schema on the PostgreSQL server at ``$SAFEMED_TEST_PG`` (default 127.0.0.1:5432,
    database ``test``), selected through ``search_path`` and dropped afterwards; skipped, with the
    reason, only when the server cannot be reached."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    schema = f"safemed_test_{uuid.uuid4().hex[:12]}"
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
def kill_mid_import() -> Callable[[list[str], str, int], None]:
    """Run ``python -m ARGS`` (a worker that prints ``MID-IMPORT`` inside its open write
    transaction), check readers still see ``size_before`` events, then SIGKILL it."""

    def run(args: list[str], db_url: str, size_before: int) -> None:
        from safemed.ledger import Ledger

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
        child = subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "MID-IMPORT"
            with Ledger.open(db_url) as peek:  # the open transaction is invisible to readers
                assert peek.size() == size_before
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL

    return run
