"""The review app's load benchmark, run small: real server, real clients, the ledger counted.

``benchmarks/app_load.py`` is how the issue's reliability claims (no lost or duplicated submission
under concurrent reviewers, a ledger that still verifies) are measured at the paper's scale; this
runs its core for a few seconds on SQLite so that a change breaking the benchmark — or the app's
submit path under concurrency — fails here first. Timings are printed, never asserted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "app_load.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("app_load_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(240)
def test_quick_load_run_loses_and_duplicates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("SAFEMED_CACHE_DIR", str(tmp_path / "cache"))
    bench = _load()
    spec = bench.ensure_ledger("sqlite", 400, tmp_path / "bench")
    load, check = bench.run_benchmark(spec, 3, 4.0, 1, per_item=3, retry_share=0.3, log=tmp_path / "app.log")
    bench.report(load, check)  # printed for the record; its latency targets are not asserted here
    assert load.logins == 3
    assert not load.errors, dict(load.errors)
    assert load.submitted > 0
    assert check.reviews == load.submitted  # nothing lost ...
    assert check.distinct == check.reviews  # ... nothing twice, double submits included
    assert check.edits == load.edits
    assert check.verified and check.covered, check.problems
