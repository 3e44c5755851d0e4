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
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from safemed.artifacts import MANIFEST, atomic_write_json, new_manifest, now_iso, write_manifest
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
from safemed.errors import ConfigError, DataError, SafemedError, UnknownNameError
from safemed.evaluate.mcq import McqSettings, ProgressHook, run_mcq
from safemed.evaluate.run_folder import CACHE, RESULTS, SAMPLES
from safemed.evaluate.selection import choose

if TYPE_CHECKING:
    from safemed.evaluate.safety import Panels

T = TypeVar("T")


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
    #: "default" (each item its set's judge) or "refusal" (every open-prompt item by the refusal judge)
    score_as: str = "default"


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


#: a benchmark or prompt set of at most this many rows keeps what the planning pass read and
#: validated, and the run uses that instead of parsing the file a second time (an item is ~2 KB,
#: so at most ~20 MB); larger ones are read again, streaming
KEEP_ROWS = 10_000


class Planned:
    """A benchmark or prompt set whose rows the planning pass already read: :meth:`load` replays
    them (the items, and the bad-row errors that --skip-bad-rows records, in file order)."""

    def __init__(self, source: Any, rows: list[Any]) -> None:
        self.source = source
        self.info = source.info
        self._rows = rows

    def path(self, data_dir: Path) -> Path:
        path: Path = self.source.path(data_dir)
        return path

    def load(self, data_dir: Path, *, on_bad_row: Callable[[DataError], None] | None = None) -> Iterator[Any]:
        for row in self._rows:
            if not isinstance(row, DataError):
                yield row
            elif on_bad_row is None:
                raise row
            else:
                on_bad_row(row)


def plan(resolved: list[tuple[str, str, Any]], data_dir: Path, settings: McqSettings) -> dict[str, frozenset[int]]:
    """Read every benchmark once before spending anything: bad rows fail here, and the positions
    to evaluate (``--limit``/``--sample``) are chosen; their counts feed the progress bar. A source
    of at most ``KEEP_ROWS`` rows is replaced in ``resolved`` by its :class:`Planned` rows."""
    positions: dict[str, frozenset[int]] = {}
    for index, (name, kind, source) in enumerate(resolved):
        total, rows = read_all(source, data_dir, settings.skip_bad_rows)
        if rows is not None:
            resolved[index] = (name, kind, Planned(source, rows))
        positions[name] = choose(total, limit=settings.limit, sample=settings.sample, seed=settings.seed, name=name)
    return positions


def read_all(source: Any, data_dir: Path, skip_bad_rows: bool) -> tuple[int, list[Any] | None]:
    """(items, the rows in file order) of one source; the rows are None past ``KEEP_ROWS``."""
    rows: list[Any] | None = []

    def record(error: DataError) -> None:
        if rows is not None:
            rows.append(error)

    total = 0
    for item in source.load(data_dir, on_bad_row=record if skip_bad_rows else None):
        total += 1
        if rows is not None:
            rows.append(item)
            if len(rows) > KEEP_ROWS:
                rows = None
    return total, rows


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


class Later(Generic[T]):
    """``fn()`` computed on a daemon thread from :meth:`start` on (later calls do nothing), for
    work a run needs only at its end: it then overlaps with waiting for the model's answers.
    :meth:`result` waits for it (computing it there when it never started) and re-raises."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._thread: threading.Thread | None = None
        self._value: list[T] = []
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._value.append(self._fn())
        except BaseException as exc:  # re-raised by result()
            self._error = exc

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="later", daemon=True)
            self._thread.start()

    def result(self) -> T:
        self.start()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value[0]


class Probes:
    """Every backend's :meth:`~safemed.backends.Backend.probe`, each on a daemon thread, so that
    checking the endpoints overlaps with reading the data; :meth:`wait` raises the first failure
    (in the order the backends were given)."""

    def __init__(self, backends: Iterable[Backend]) -> None:
        self._errors: dict[int, SafemedError] = {}
        self._threads = [threading.Thread(target=self._probe, args=(i, b), name="probe", daemon=True)
                         for i, b in enumerate(backends)]
        for thread in self._threads:
            thread.start()

    def _probe(self, index: int, backend: Backend) -> None:
        try:
            backend.probe()
        except SafemedError as exc:
            self._errors[index] = exc

    def wait(self) -> None:
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[min(self._errors)]


def build_backends(model_spec: str, judges: tuple[str, ...], options: BackendOptions) -> dict[str, Backend]:
    """The model's and the judges' backends by spec (one per distinct spec; no network traffic)."""
    backends = {model_spec: build_backend(model_spec, options)}
    if judges:
        from safemed.backends.rules import is_rules_spec
        from safemed.judges import judge_for_spec, parse_judge_option

        for option in judges:
            kind, spec = parse_judge_option(option, default="")
            if is_rules_spec(spec):
                judge_for_spec(kind, spec)  # `msb=rules` and the like: a ConfigError now, not mid-run
            if spec not in backends:
                backends[spec] = build_backend(spec, options)
    return backends


@dataclass
class EvalRun:
    """A planned evaluation: names resolved, backends built and reachable, data read, item counts
    known; nothing sent and nothing written yet."""

    model_spec: str
    resolved: list[tuple[str, str, Any]]
    positions: dict[str, frozenset[int]]
    out_dir: Path
    data_dir: Path
    settings: McqSettings
    engine_settings: EngineSettings
    judge_settings: JudgeSettings
    backends: dict[str, Backend] = field(default_factory=dict)

    @classmethod
    def prepare(cls, model_spec: str, names: list[str], out_dir: Path, data_dir: Path, settings: McqSettings,
                engine_settings: EngineSettings, judge_settings: JudgeSettings | None = None) -> EvalRun:
        """Resolve names, build the backends and validate every row; bad input, an unknown backend
        and (unless a response cache is already there) an endpoint nothing listens on fail here,
        before any request and before anything is created. The endpoint probes run on threads
        while the data is read, so on the happy path they cost no start-up time."""
        judge_settings = judge_settings or JudgeSettings()
        resolved = [(name, *resolve(name)) for name in names]
        if any(kind == "safety" for _, kind, _ in resolved):
            if not judge_settings.judges:
                raise ConfigError("safety and ethics sets are scored by judges: add --judge SPEC (several for a "
                                  "panel), e.g. --judge openai/gpt-4o@URL, or --judge local/default for a demo")
            extra = over_refusal_set(judge_settings.over_refusal, data_dir, names)
            if extra is not None and extra not in names:
                resolved.append((extra, "safety", get_prompt_set(extra)))
        backends = build_backends(model_spec, judge_settings.judges, engine_settings.backend)
        # with a cache already there the run may be answered from it alone (a finished run re-scored
        # without its server): no probe then, the requests fail fast themselves if it comes to that
        cache_file = engine_settings.cache_path or out_dir / CACHE
        probes = Probes([] if cache_file.exists() else backends.values())
        positions = plan(resolved, data_dir, settings)
        probes.wait()
        return cls(model_spec, resolved, positions, out_dir, data_dir, settings, engine_settings, judge_settings,
                   backends)

    @property
    def counts(self) -> dict[str, int]:
        """Items to evaluate per benchmark."""
        return {name: len(p) for name, p in self.positions.items()}

    def _engine(self, backend: Backend, cache: ResponseCache) -> RequestEngine:
        es = self.engine_settings
        return RequestEngine(backend, cache=cache, concurrency=es.concurrency,
                             retry=RetryPolicy(max_attempts=es.max_attempts), budget=es.budget, seed=self.settings.seed)

    def execute(self, progress: ProgressHook | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run it; returns (results, engine statistics) after writing the run folder.

        The first requests go out as soon as the folder and its cache are open; what only the
        manifest needs (input digests, library versions, the code revision) is gathered on a
        thread from the first finished sample on, while the other requests are in flight.
        """
        es, out_dir = self.engine_settings, self.out_dir
        started_at = now_iso()
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in (RESULTS, MANIFEST):
            (out_dir / stale).unlink(missing_ok=True)
        cache = ResponseCache(es.cache_path or out_dir / CACHE)
        engines = {spec: self._engine(backend, cache) for spec, backend in self.backends.items()}
        target = engines[self.model_spec]
        mcq = [(name, src) for name, kind, src in self.resolved if kind == "mcq"]
        safety = [(name, src) for name, kind, src in self.resolved if kind == "safety"]
        panels = self._panels(engines) if safety else None
        partial = out_dir / (SAMPLES + ".partial")
        facts = Later(lambda: new_manifest("eval-run", seed=self.settings.seed, inputs=input_files(
            [src for _, _, src in self.resolved], self.data_dir)))

        def on_sample(benchmark: str, ok: bool) -> None:
            facts.start()
            if progress is not None:
                progress(benchmark, ok)

        async def go() -> dict[str, Any]:
            try:
                with open(partial, "w", encoding="utf-8") as out:
                    results: dict[str, Any] = {"benchmarks": {}}
                    if mcq:
                        results = await run_mcq(target, mcq, self.data_dir, out, self.settings, self.positions,
                                                on_sample)
                    if panels is not None:
                        from safemed.evaluate.safety import run_safety

                        s = self.settings
                        part = await run_safety(target, panels, safety, self.data_dir, out, params=s.params,
                                                positions=self.positions, skip_bad_rows=s.skip_bad_rows,
                                                n_boot=s.n_boot, calibration=self.judge_settings.calibration,
                                                seed=s.seed, progress=on_sample, score_as=self.judge_settings.score_as)
                        results["benchmarks"].update(part["benchmarks"])
                        results["over_refusal"] = part["over_refusal"]
                        if "refusal" in part:
                            results["refusal"] = part["refusal"]
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
            cache.flush()
        except BaseException:
            cache.close()
            raise
        closed = Later(cache.close)  # every reply is committed; the final checkpoint overlaps the writing below
        closed.start()
        partial.replace(out_dir / SAMPLES)
        results = {"model": self.model_spec, **results}
        atomic_write_json(out_dir / RESULTS, results)
        stats = {spec: engine.stats.as_dict() for spec, engine in engines.items()}
        manifest = facts.result()
        manifest.started_at = started_at
        manifest.config = self._config(target)
        manifest.config["engine"] = stats[self.model_spec]
        manifest.config["judge_engines"] = {k: v for k, v in stats.items() if k != self.model_spec}
        if panels is not None:
            manifest.config["panels"] = panels.describe()
        manifest.parents.extend(a for a in self.artifact_parents() if a not in manifest.parents)
        write_manifest(out_dir, manifest, outputs=[SAMPLES, RESULTS])
        closed.result()
        return results, stats[self.model_spec]

    def artifact_parents(self) -> list[str]:
        """The artifact ids of the models this run used (a trained model served from its artifact
        folder, ``local/OUT``: the evaluated model first), the run manifest's parents, so that
        ``safemed lineage`` and the report can follow a benchmark number back to its training."""
        ids = []
        for spec in [self.model_spec, *(s for s in self.backends if s != self.model_spec)]:
            artifact = self.backends[spec].describe().get("artifact")
            if isinstance(artifact, dict) and artifact.get("id") and artifact["id"] not in ids:
                ids.append(str(artifact["id"]))
        return ids

    def _panels(self, engines: dict[str, RequestEngine]) -> Panels:
        """The judge panels of the safety sets (their modules load only for runs that have some)."""
        from safemed.evaluate.safety import JudgeModel, Panels
        from safemed.judges import parse_judge_option

        judge_models = []
        for option in self.judge_settings.judges:
            kind, spec = parse_judge_option(option, default="")
            judge_models.append(JudgeModel(engines[spec], kind or None))
        return Panels(judge_models, max_reparse=self.judge_settings.max_reparse,
                      max_tokens=self.judge_settings.max_tokens, grammar=self.judge_settings.grammar)

    def _config(self, target: RequestEngine) -> dict[str, Any]:
        es, js = self.engine_settings, self.judge_settings
        described = target.backend.describe()
        return {"model": described, "model_artifact": described.get("artifact"),
                "benchmarks": [n for n, _, _ in self.resolved], "items": self.counts, **self.settings.as_dict(),
                "concurrency": es.concurrency, "max_attempts": es.max_attempts, "timeout_s": es.timeout,
                "judges": list(js.judges),
                "calibration": None if js.calibration is None else {
                    k: js.calibration.get(k) for k in ("labels", "judge_kind", "threshold", "n_shared")},
                "max_reparse": js.max_reparse, "score_as": js.score_as}
