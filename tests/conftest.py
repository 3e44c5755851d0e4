"""Shared pytest fixtures.

``data_dir`` is the folder of real public benchmark files (``$SAFEMED_DATA_DIR``, else
``<repo>/../shared/data``); tests that need it are skipped, with the reason, where it is absent.
The files are never copied into the repository.
"""

from __future__ import annotations

import os
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
