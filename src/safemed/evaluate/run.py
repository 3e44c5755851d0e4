"""Running an evaluation end to end: plan → engines → benchmarks → results.json + manifest.json.

``safemed eval`` and ``safemed quickstart`` use :class:`EvalRun`; it owns the run folder:
``samples.jsonl`` (one line per sample), ``results.json`` (the numbers), ``manifest.json`` (the
artifact manifest of DESIGN.md) and ``cache.sqlite`` (the response cache of the model and the
judges, which makes the run resumable after kill -9 or Ctrl-C: the same command with the same
``--out`` continues). Multiple-choice benchmarks are scored by answer letter (:mod:`.mcq`);
open-prompt safety and ethics sets by a judge panel (:mod:`.safety`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_json, new_manifest, write_manifest
from safemed.backends import (
    Backend,
    BackendOptions,
    Budget,
    RequestEngine,
    ResponseCache,
    RetryPolicy,
    build_backend,
)
from safemed.datasets import Benchmark, PromptSet, get_benchmark, get_prompt_set
from safemed.datasets.prompts import valid_prompt_set_names
from safemed.datasets.registry import valid_names
from safemed.errors import ConfigError, DataError, UnknownNameError
from safemed.evaluate.mcq import McqSettings, ProgressHook, run_mcq
from safemed.evaluate.run_folder import CACHE, RESULTS, SAMPLES
from safemed.evaluate.selection import choose


@dataclass(frozen=True)
class EngineSettings:
    """How requests are sent: concurrency, retries, timeouts, cache and budget."""

    concurrency: int = 16
    max_attempts: int = 6
    timeout: float = 120.0
    cache_path: Path | None = None
    budget: Budget = field(default_factory=Budget)
    backend: BackendOptions = field(default_factory=BackendOptions)


@dataclass(frozen=True)
class JudgeSettings:
    """The judge panel for open-prompt sets: ``[KIND=]SPEC`` per judge, re-ask bound, over-refusal."""

    judges: tuple[str, ...] = ()
    max_reparse: int = 2
    #: "auto" (xstest when its data is there, else the bundled sample), "none", or a prompt-set name
    over_refusal: str = "auto"
    #: generation length limit of each judge reply
    max_tokens: int = 512
    #: grammar-constrained judge replies: "auto" (in-process llama.cpp judges), "on", "off"
    grammar: str = "auto"
    #: a saved `safemed judges calibrate` report: unsafe rates are also given corrected for judge error
    calibration: dict[str, Any] | None = None


def resolve(name: str) -> tuple[str, Benchmark | PromptSet]:
    """``("mcq", Benchmark)`` or ``("safety", PromptSet)``; an unknown name lists both kinds."""
    try:
        return "mcq", get_benchmark(name)
    except UnknownNameError:
        pass
    try:
        return "safety", get_prompt_set(name)
    except UnknownNameError:
        raise UnknownNameError("benchmark", name, [*valid_names(), *valid_prompt_set_names()]) from None


def plan(resolved: list[tuple[str, str, Any]], data_dir: Path, settings: McqSettings) -> dict[str, frozenset[int]]:
    """Read every benchmark once before spending anything: bad rows fail here, and the positions
    to evaluate (``--limit``/``--sample``) are chosen; their counts feed the progress bar."""
    positions: dict[str, frozenset[int]] = {}
    for name, _, source in resolved:
        skipped: list[DataError] = []
        stream = source.load(data_dir, on_bad_row=skipped.append if settings.skip_bad_rows else None)
        total = sum(1 for _ in stream)
        positions[name] = choose(total, limit=settings.limit, sample=settings.sample, seed=settings.seed, name=name)
    return positions


def input_files(sources: list[Any], data_dir: Path) -> list[Path]:
    """Every data file a run reads (folders expanded), for the manifest's sha256 list."""
    files: list[Path] = []
    for source in sources:
        path = source.path(data_dir)
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files


def over_refusal_set(choice: str, data_dir: Path, names: list[str]) -> str | None:
    """The over-refusal set to add beside safety sets, unless the run already has a benign set."""
    if choice == "none":
        return None
    if choice != "auto":
        return choice
    benign = {"xstest", "healthsearchqa", "medicationqa", "liveqa", "sample-safety"}
    if benign & set(names):
        return None
    xstest = get_prompt_set("xstest")
    return "xstest" if xstest.path(data_dir).exists() else "sample-safety"


@dataclass
class EvalRun:
    """A planned evaluation: names resolved and data read, item counts known, nothing sent yet."""

    model_spec: str
    resolved: list[tuple[str, str, Any]]
    positions: dict[str, frozenset[int]]
    out_dir: Path
    data_dir: Path
    settings: McqSettings
    engine_settings: EngineSettings
    judge_settings: JudgeSettings

    @classmethod
    def prepare(cls, model_spec: str, names: list[str], out_dir: Path, data_dir: Path, settings: McqSettings,
                engine_settings: EngineSettings, judge_settings: JudgeSettings | None = None) -> EvalRun:
        """Resolve names and validate every row (bad input fails here, before any request)."""
        judge_settings = judge_settings or JudgeSettings()
        resolved = [(name, *resolve(name)) for name in names]
        if any(kind == "safety" for _, kind, _ in resolved):
            if not judge_settings.judges:
                raise ConfigError("safety and ethics sets are scored by judges: add --judge SPEC (several for a "
                                  "panel), e.g. --judge openai/gpt-4o@URL, or --judge local/default for a demo")
            extra = over_refusal_set(judge_settings.over_refusal, data_dir, names)
            if extra is not None and extra not in names:
                resolved.append((extra, "safety", get_prompt_set(extra)))
        positions = plan(resolved, data_dir, settings)
        return cls(model_spec, resolved, positions, out_dir, data_dir, settings, engine_settings, judge_settings)

    @property
    def counts(self) -> dict[str, int]:
        """Items to evaluate per benchmark."""
        return {name: len(p) for name, p in self.positions.items()}

    def _engine(self, backend: Backend, cache: ResponseCache) -> RequestEngine:
        es = self.engine_settings
        return RequestEngine(backend, cache=cache, concurrency=es.concurrency,
                             retry=RetryPolicy(max_attempts=es.max_attempts), budget=es.budget, seed=self.settings.seed)

    def execute(self, progress: ProgressHook | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run it; returns (results, engine statistics) after writing the run folder."""
        from safemed.evaluate.safety import JudgeModel, Panels, run_safety
        from safemed.judges import parse_judge_option

        es, out_dir = self.engine_settings, self.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (RESULTS, "manifest.json"):
            (out_dir / stale).unlink(missing_ok=True)
        cache = ResponseCache(es.cache_path or out_dir / CACHE)
        backends: dict[str, Backend] = {self.model_spec: build_backend(self.model_spec, es.backend)}
        engines: dict[str, RequestEngine] = {self.model_spec: self._engine(backends[self.model_spec], cache)}
        judge_models: list[JudgeModel] = []
        for option in self.judge_settings.judges:
            kind, spec = parse_judge_option(option, default="")
            if spec not in engines:
                engines[spec] = self._engine(build_backend(spec, es.backend), cache)
            judge_models.append(JudgeModel(engines[spec], kind or None))
        target = engines[self.model_spec]
        panels = Panels(judge_models, max_reparse=self.judge_settings.max_reparse,
                        max_tokens=self.judge_settings.max_tokens, grammar=self.judge_settings.grammar)
        mcq = [(name, src) for name, kind, src in self.resolved if kind == "mcq"]
        safety = [(name, src) for name, kind, src in self.resolved if kind == "safety"]
        manifest = new_manifest("eval-run", seed=self.settings.seed,
                                inputs=input_files([src for _, _, src in self.resolved], self.data_dir), config={
                                    "model": target.backend.describe(), "benchmarks": [n for n, _, _ in self.resolved],
                                    "items": self.counts, **self.settings.as_dict(), "concurrency": es.concurrency,
                                    "max_attempts": es.max_attempts, "timeout_s": es.timeout,
                                    "judges": list(self.judge_settings.judges),
                                    "calibration": None if self.judge_settings.calibration is None else {
                                        k: self.judge_settings.calibration.get(k)
                                        for k in ("labels", "judge_kind", "threshold", "n_shared")},
                                    "max_reparse": self.judge_settings.max_reparse})
        partial = out_dir / (SAMPLES + ".partial")

        async def go() -> dict[str, Any]:
            try:
                with open(partial, "w", encoding="utf-8") as out:
                    results: dict[str, Any] = {"benchmarks": {}}
                    if mcq:
                        results = await run_mcq(target, mcq, self.data_dir, out, self.settings, self.positions,
                                                progress)
                    if safety:
                        s = self.settings
                        part = await run_safety(target, panels, safety, self.data_dir, out, params=s.params,
                                                positions=self.positions, skip_bad_rows=s.skip_bad_rows,
                                                n_boot=s.n_boot, calibration=self.judge_settings.calibration,
                                                seed=s.seed, progress=progress)
                        results["benchmarks"].update(part["benchmarks"])
                        results["over_refusal"] = part["over_refusal"]
                        results["judges"] = panels.describe()
                        results["complete"] = results.get("complete", True) and part["complete"]
                        if part["bad_rows_skipped"]:
                            results.setdefault("bad_rows_skipped", {}).update(part["bad_rows_skipped"])
                        results.setdefault("settings", self.settings.as_dict())
                return results
            finally:
                for engine in engines.values():
                    await engine.aclose()

        try:
            results = asyncio.run(go())
        finally:
            cache.close()
        partial.replace(out_dir / SAMPLES)
        results = {"model": self.model_spec, **results}
        atomic_write_json(out_dir / RESULTS, results)
        stats = {spec: engine.stats.as_dict() for spec, engine in engines.items()}
        manifest.config["engine"] = stats[self.model_spec]
        manifest.config["judge_engines"] = {k: v for k, v in stats.items() if k != self.model_spec}
        if safety:
            manifest.config["panels"] = panels.describe()
        write_manifest(out_dir, manifest, outputs=[SAMPLES, RESULTS])
        return results, stats[self.model_spec]
