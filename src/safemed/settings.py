"""Where safemed looks for things: the benchmark data folder and the user cache folder.

Data is never downloaded at run time. Benchmarks are read from a data directory chosen by
``--data-dir`` or the ``SAFEMED_DATA_DIR`` environment variable (default ``./data``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SAFEMED_DATA_DIR"
CACHE_ENV = "SAFEMED_CACHE_DIR"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data directory: the override, else ``$SAFEMED_DATA_DIR``, else ``./data``."""
    if override is not None:
        return Path(override)
    return Path(os.environ.get(DATA_ENV, "data"))


def cache_dir() -> Path:
    """The user cache folder (converted model weights and the like), never inside the repo."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "safemed"
