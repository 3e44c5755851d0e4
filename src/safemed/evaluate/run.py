"""Running an evaluation end to end: plan → engine → benchmarks → results.json + manifest.json.

``safemed eval`` and ``safemed quickstart`` call :func:`evaluate`; it owns the run folder:
``samples.jsonl`` (one line per sample), ``results.json`` (the numbers), ``manifest.json`` (the
artifact manifest of DESIGN.md) and ``cache.sqlite`` (the response cache that makes the run
resumable after kill -9 or Ctrl-C: the same command with the same ``--out`` continues).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_json, new_manifest, write_manifest
from safemed.backends import (
    BackendOptions,
    Budget,
    RequestEngine,
    ResponseCache,
    RetryPolicy,
    build_backend,
)
from safemed.datasets import Benchmark, get_benchmark
from safemed.errors import DataError
from safemed.evaluate.mcq import RESULTS, SAMPLES, McqSettings, ProgressHook, run_mcq

CACHE = "cache.sqlite"


@dataclass(frozen=True)
class EngineSettings:
    """How requests are sent: concurrency, retries, timeouts, cache and budget."""

    concurrency: int = 16
    max_attempts: int = 6
    timeout: float = 120.0
    cache_path: Path | None = None
    budget: Budget = field(default_factory=Budget)
    backend: BackendOptions = field(default_factory=BackendOptions)


def resolve_benchmarks(names: list[str]) -> list[tuple[str, Benchmark]]:
    """Look every name up (``mcq:PATH`` and friends included); unknown names list the valid ones."""
    return [(name, get_benchmark(name)) for name in names]


def plan(benches: list[tuple[str, Benchmark]], data_dir: Path, settings: McqSettings) -> dict[str, int]:
    """Read every benchmark once before spending anything: bad rows fail here, and counts feed the
    progress bar. Returns the number of items per benchmark (after ``--limit``)."""
    counts: dict[str, int] = {}
    for name, bench in benches:
        skipped: list[DataError] = []
        stream = bench.load(data_dir, on_bad_row=skipped.append if settings.skip_bad_rows else None)
        counts[name] = sum(1 for _ in itertools.islice(stream, settings.limit))
    return counts


def input_files(benches: list[tuple[str, Benchmark]], data_dir: Path) -> list[Path]:
    """Every data file a run reads (folders expanded), for the manifest's sha256 list."""
    files: list[Path] = []
    for _, bench in benches:
        path = bench.path(data_dir)
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files


@dataclass
class EvalRun:
    """A planned evaluation: benchmarks resolved and read, item counts known, nothing sent yet."""

    model_spec: str
    benchmarks: list[tuple[str, Benchmark]]
    counts: dict[str, int]
    out_dir: Path
    data_dir: Path
    settings: McqSettings
    engine_settings: EngineSettings

    @classmethod
    def prepare(cls, model_spec: str, benchmark_names: list[str], out_dir: Path, data_dir: Path,
                settings: McqSettings, engine_settings: EngineSettings) -> EvalRun:
        """Resolve names and validate every row (bad input fails here, before any request)."""
        benches = resolve_benchmarks(benchmark_names)
        return cls(model_spec, benches, plan(benches, data_dir, settings), out_dir, data_dir, settings,
                   engine_settings)

    def execute(self, progress: ProgressHook | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run it; returns (results, engine statistics) after writing the run folder."""
        es = self.engine_settings
        backend = build_backend(self.model_spec, es.backend)
        out_dir = self.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (RESULTS, "manifest.json"):
            (out_dir / stale).unlink(missing_ok=True)
        names = [name for name, _ in self.benchmarks]
        manifest = new_manifest("eval-run", seed=self.settings.seed,
                                inputs=input_files(self.benchmarks, self.data_dir), config={
                                    "model": backend.describe(), "benchmarks": names, "items": self.counts,
                                    **self.settings.as_dict(), "concurrency": es.concurrency,
                                    "max_attempts": es.max_attempts, "timeout_s": es.timeout})
        cache = ResponseCache(es.cache_path or out_dir / CACHE)
        engine = RequestEngine(backend, cache=cache, concurrency=es.concurrency,
                               retry=RetryPolicy(max_attempts=es.max_attempts), budget=es.budget,
                               seed=self.settings.seed)

        async def go() -> dict[str, Any]:
            try:
                return await run_mcq(engine, self.benchmarks, self.data_dir, out_dir, self.settings, progress)
            finally:
                await engine.aclose()

        try:
            results = asyncio.run(go())
        finally:
            cache.close()
        results = {"model": self.model_spec, **results}
        atomic_write_json(out_dir / RESULTS, results)
        manifest.config["engine"] = engine.stats.as_dict()
        write_manifest(out_dir, manifest, outputs=[SAMPLES, RESULTS])
        return results, engine.stats.as_dict()
