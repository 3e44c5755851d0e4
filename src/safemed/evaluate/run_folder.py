"""A run folder's file names, and reading its ``samples.jsonl`` back one sample at a time.

Comparison and judge validation work from finished run folders, never from the stage's internals
(DESIGN.md: stages hand off through artifacts); both read the samples through here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.errors import ConfigError, DataError

SAMPLES = "samples.jsonl"
RESULTS = "results.json"
CACHE = "cache.sqlite"


def samples_path(run_dir: Path) -> Path:
    """``run_dir/samples.jsonl``; a ConfigError when the folder is not a finished run."""
    path = run_dir / SAMPLES
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a finished run folder: {SAMPLES} is missing")
    return path


def read_samples(run_dir: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each sample, streamed; a line that is not JSON names file and line."""
    path = samples_path(run_dir)
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield lineno, json.loads(line)
                except ValueError as exc:
                    raise DataError(str(path), lineno, None, f"not JSON: {exc}") from exc
