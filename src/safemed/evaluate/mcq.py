"""Multiple-choice evaluation: prompt → model → extracted letter(s) → exact-set score → results.

This is the capability half of SafeMed-R1's evaluation (§4, Table 1: MedQA, MedMCQA, MMLU-med,
PubMedQA, CMExam, PediaBench, MedEthicEval, SafetyBench …), run zero-shot through the cached
request engine. Samples stream in dataset order to ``samples.jsonl``; per benchmark we report
``n``, ``accuracy`` with its Wilson score ``ci95`` (an accuracy is a proportion; Wilson stays
open at 0 % and 100 %, where a percentile bootstrap collapses to a point), ``n_invalid`` (no
extractable answer, scored wrong) and per-subject breakdowns, plus a ``macro_average`` over
benchmarks whose ``ci95`` is the MOVER interval from the benchmarks' Wilson limits. Every block
with a ``ci95`` names its interval in ``ci_method``. Requests that fail after every retry are
excluded, counted as ``n_error`` and make the run ``complete: false`` (re-running retries just
those).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from safemed.backends import GenerationParams, RequestEngine
from safemed.backends.streaming import ordered_map
from safemed.datasets import Benchmark
from safemed.datasets.extract import extract_answer
from safemed.evaluate.prompts import PROMPT_VERSION, PreparedItem, prepare, render
from safemed.evaluate.selection import selected_items

WILSON = "wilson"
"""``ci_method`` of a benchmark's or subject's accuracy: the Wilson score interval, 95 %."""
MOVER_WILSON = "mover-wilson"
"""``ci_method`` of the macro average: MOVER from each benchmark's Wilson limits, 95 %."""
CI_DESCRIPTION = ("95%; wilson score interval per benchmark and subject; macro average: MOVER interval "
                  "from the benchmarks' wilson limits")


@dataclass(frozen=True)
class McqSettings:
    """What shapes an MCQ run's numbers (recorded in results.json and the manifest)."""

    params: GenerationParams = field(default_factory=GenerationParams)
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    shuffle: bool = False
    n_boot: int = 2000
    skip_bad_rows: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"params": self.params.as_dict(), "limit": self.limit, "sample": self.sample, "seed": self.seed,
                "shuffle": self.shuffle,
                "n_boot": self.n_boot, "ci": CI_DESCRIPTION, "prompt_version": PROMPT_VERSION,
                "skip_bad_rows": self.skip_bad_rows}


@dataclass
class Tally:
    """Running per-benchmark counts; scores are kept as one byte each so memory stays small."""

    language: str = "en"
    correct: bytearray = field(default_factory=bytearray)
    invalid: int = 0
    errors: int = 0
    multi: int = 0
    bad_rows: list[str] = field(default_factory=list)
    subjects: dict[str, bytearray] = field(default_factory=dict)

    def add(self, subject: str | None, correct: bool, invalid: bool, multi: bool) -> None:
        self.correct.append(int(correct))
        self.invalid += int(invalid)
        self.multi += int(multi)
        if subject:
            self.subjects.setdefault(subject, bytearray()).append(int(correct))


def score_block(correct: bytearray) -> dict[str, Any]:
    """``n``, ``accuracy``, its Wilson ``ci95`` and ``ci_method`` of a 0/1 sequence."""
    from safemed.stats import wilson_ci  # numpy/scipy load only once there is something to summarise

    n, k = len(correct), sum(correct)
    if n == 0:
        return {"n": 0, "accuracy": None, "ci95": None, "ci_method": WILSON}
    low, high = wilson_ci(k, n)
    return {"n": n, "accuracy": k / n, "ci95": [low, high], "ci_method": WILSON}


def summarise(tallies: dict[str, Tally]) -> dict[str, Any]:
    """The ``benchmarks`` and ``macro_average`` sections of results.json."""
    from safemed.stats import macro_proportion_ci

    section: dict[str, Any] = {}
    for name, tally in tallies.items():
        block = score_block(tally.correct)
        block.update(language=tally.language, n_correct=sum(tally.correct), n_invalid=tally.invalid,
                     n_error=tally.errors, n_multi_answer=tally.multi, n_bad_rows_skipped=len(tally.bad_rows))
        block["subjects"] = {subject: score_block(values) for subject, values in sorted(tally.subjects.items())}
        section[name] = block
    scored = [(sum(t.correct), len(t.correct)) for t in tallies.values() if t.correct]
    macro: dict[str, Any] = {"n_benchmarks": len(scored), "accuracy": None, "ci95": None, "ci_method": MOVER_WILSON}
    if scored:
        est = macro_proportion_ci(scored)
        macro.update(accuracy=est.value, ci95=[est.low, est.high])
    return {"benchmarks": section, "macro_average": macro}


ProgressHook = Callable[[str, bool], None]


def _prepared(benches: list[tuple[str, Benchmark]], data_dir: Path, settings: McqSettings,
              tallies: dict[str, Tally], positions: dict[str, frozenset[int]]) -> Iterator[tuple[str, PreparedItem]]:
    bad_rows = {name: t.bad_rows for name, t in tallies.items()} if settings.skip_bad_rows else None
    for name, item in selected_items(benches, data_dir, positions, bad_rows):
        yield name, prepare(item, shuffle=settings.shuffle, seed=settings.seed)


async def run_mcq(engine: RequestEngine, benches: list[tuple[str, Benchmark]], data_dir: Path, out: IO[str],
                  settings: McqSettings, positions: dict[str, frozenset[int]],
                  progress: ProgressHook | None = None) -> dict[str, Any]:
    """Evaluate every benchmark, stream one line per sample to ``out`` and return the results."""
    tallies = {name: Tally(language=bench.info.language) for name, bench in benches}

    async def ask(pair: tuple[str, PreparedItem]) -> tuple[str, PreparedItem, list[Any], Any]:
        name, prepared = pair
        messages = render(prepared)
        return name, prepared, messages, await engine.complete(messages, settings.params)

    window = max(64, engine.concurrency * 3)
    async for name, prepared, messages, result in ordered_map(
            ask, _prepared(benches, data_dir, settings, tallies, positions), window=window):
        item = prepared.item
        row: dict[str, Any] = {"benchmark": name, "kind": "mcq", "id": item.id, "subject": item.subject,
                               "prompt": messages[-1].content, "gold": item.answer}
        if settings.shuffle:
            row["letter_map"] = prepared.letter_map
        if result.completion is None:
            tallies[name].errors += 1
            row.update(response=None, extracted=None, correct=None, error=result.error, cache_hit=False)
        else:
            shown = extract_answer(result.completion.text, "".join(prepared.options), multi=item.multi)
            extracted = prepared.to_original(shown) if shown else None
            correct = extracted == item.answer
            tallies[name].add(item.subject, correct, extracted is None, item.multi)
            usage = result.completion.usage
            row.update(response=result.completion.text, extracted=extracted, correct=correct,
                       invalid=extracted is None, finish_reason=result.completion.finish_reason,
                       usage={"prompt_tokens": usage.prompt_tokens,
                              "completion_tokens": usage.completion_tokens},
                       cache_hit=result.cached)
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        if progress is not None:
            progress(name, result.completion is not None)
    results = summarise(tallies)
    results["complete"] = all(t.errors == 0 for t in tallies.values())
    results["settings"] = settings.as_dict()
    skipped = {name: t.bad_rows for name, t in tallies.items() if t.bad_rows}
    if skipped:
        results["bad_rows_skipped"] = skipped
    return results
