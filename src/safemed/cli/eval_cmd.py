"""``safemed eval``: run benchmarks against a model and write a resumable run folder."""

from __future__ import annotations

import gc
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from safemed.backends import BackendOptions, Budget, GenerationParams
from safemed.errors import ConfigError
from safemed.evaluate.mcq import McqSettings
from safemed.evaluate.run import EngineSettings, EvalRun, JudgeSettings, Later
from safemed.settings import data_dir as default_data_dir

EXIT_INCOMPLETE = 4
EXIT_INTERRUPTED = 130


def split_names(values: tuple[str, ...]) -> list[str]:
    """``("a,b", "c")`` → ``["a", "b", "c"]`` (repeatable, comma-separated option)."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not names:
        raise ConfigError("give at least one --benchmark")
    return names


#: allocations between two runs of the youngest generation of the cyclic garbage collector during a run
GC_GEN0_THRESHOLD = 10_000


@contextmanager
def run_gc() -> Iterator[None]:
    """Garbage collection tuned for a run: the objects that exist when it starts (the imported
    modules, classes and schemas: tens of thousands) are frozen out of the cyclic collector, and
    it runs every ``GC_GEN0_THRESHOLD`` allocations instead of 700. Requests and samples leave
    little cyclic garbage, and each full pass over everything imported cost tens of ms; restored after."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], GC_GEN0_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def run_and_report(model: str, benchmarks: list[str], out: Path, data_dir: Path, settings: McqSettings,
                   engine: EngineSettings, quiet: bool, judges: JudgeSettings | None = None) -> dict[str, Any]:
    """Plan, run with a progress bar, print the tables, and exit non-zero when incomplete."""
    try:
        with run_gc():
            run = EvalRun.prepare(model, benchmarks, out, data_dir, settings, engine, judges)
            if quiet:  # the tables' modules (rich) load on a thread while the requests are in flight
                display = Later(lambda: importlib.import_module("safemed.cli.display"))
                results, stats = run.execute(lambda benchmark, ok: display.start())
                display.result()
            else:
                from safemed.cli.display import sample_progress

                with sample_progress(run.counts) as hook:
                    results, stats = run.execute(hook)
    except KeyboardInterrupt:
        from safemed.cli.display import err_console

        err_console.print(f"[yellow]interrupted[/]: finished samples are cached in {out}; "
                          "run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    from safemed.cli.display import console, err_console, results_tables

    for table in results_tables(results):
        console.print(table)
    if results.get("refusal"):
        console.print(refusal_table(results))
    retries = sum(stats["retries"].values())
    err_console.print(f"{stats['requests']} requests, {stats['cache_hits']} cached, {retries} retries "
                      f"{stats['retries'] or ''}, {stats['prompt_tokens'] + stats['completion_tokens']} tokens; "
                      f"wrote {out}/results.json, samples.jsonl, manifest.json")
    if not results["complete"]:
        err_console.print("[red]incomplete[/]: some requests failed after every retry (n_error); "
                          "run the same command again to retry them")
        sys.exit(EXIT_INCOMPLETE)
    return results


def refusal_table(results: dict[str, Any]) -> Any:
    """The ``--score-as refusal`` table: refusal rate per set and expected behaviour, per judge."""
    from rich.table import Table

    from safemed.cli.display import ci, pct

    table = Table(title=f"Refusal rate (refused = partial or full refusal) — {results.get('model', '')}")
    for col in ("benchmark", "expected", "judge", "n", "refused %", "95% CI (Wilson)", "unparsed"):
        table.add_column(col, justify="left" if col in ("benchmark", "expected", "judge") else "right")
    block = results["refusal"]
    groups = [*block["by_benchmark"].items(), ("all sets", block["by_expected"])]
    for name, by_expected in groups:
        for expected, summary in by_expected.items():
            for label, j in summary["judges"].items():
                table.add_row(name, expected, label.split("[", 1)[-1].rstrip("]"), str(j["n"]), pct(j["rate"]),
                              ci(j["ci95"]), str(j["n_unparsed"] + j["n_failed"]))
    return table


F = TypeVar("F", bound=Callable[..., Any])


def engine_options(func: F) -> F:
    """Options shared by every command that talks to a model."""
    options = [
        click.option("--concurrency", type=click.IntRange(1), default=16, show_default=True,
                     help="Requests in flight at once."),
        click.option("--max-attempts", type=click.IntRange(1), default=6, show_default=True,
                     help="Attempts per request (429/5xx/timeouts are retried with backoff)."),
        click.option("--timeout", type=float, default=120.0, show_default=True, help="Per-request timeout (s)."),
        click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
                     help="Environment variable holding the API key for openai/ specs."),
        click.option("--cache", "cache_path", type=click.Path(path_type=Path), default=None,
                     help="Response cache (SQLite); default OUT/cache.sqlite. Share one to reuse answers."),
        click.option("--max-tokens", "budget_tokens", type=click.IntRange(1), default=None,
                     help="Stop cleanly once this many tokens were spent (resumable)."),
        click.option("--max-cost", type=float, default=None,
                     help="Stop cleanly once this cost was spent (needs --price-input/--price-output)."),
        click.option("--price-input", type=float, default=0.0, show_default=True,
                     help="Price per million prompt tokens, for cost accounting."),
        click.option("--price-output", type=float, default=0.0, show_default=True,
                     help="Price per million completion tokens, for cost accounting."),
        click.option("--parallel", type=click.IntRange(1), default=4, show_default=True,
                     help="Decoding slots of a local/ GGUF model."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def engine_settings(concurrency: int, max_attempts: int, timeout: float, api_key_env: str, cache_path: Path | None,
                    budget_tokens: int | None, max_cost: float | None, price_input: float, price_output: float,
                    parallel: int) -> EngineSettings:
    if max_cost is not None and not (price_input or price_output):
        raise ConfigError("--max-cost needs --price-input and/or --price-output to count cost")
    return EngineSettings(
        concurrency=concurrency, max_attempts=max_attempts, timeout=timeout, cache_path=cache_path,
        budget=Budget(max_tokens=budget_tokens, max_cost=max_cost, price_input=price_input,
                      price_output=price_output),
        backend=BackendOptions(api_key_env=api_key_env, timeout=timeout, pool_size=max(concurrency, 16),
                               local_parallel=parallel))


@click.command("eval")
@click.option("--model", "model", required=True, metavar="SPEC",
              help="openai/NAME@URL, local/default or local/PATH.")
@click.option("--benchmark", "benchmarks", required=True, multiple=True, metavar="NAME[,NAME…]",
              help="Benchmark names (see `safemed benchmarks`), mcq:PATH for your own JSONL; repeatable.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Run folder; re-running with the same folder resumes.")
@click.option("--limit", type=click.IntRange(1), default=None, help="First N items of each benchmark.")
@click.option("--sample", type=click.IntRange(1), default=None,
              help="N items of each benchmark drawn at random (seeded, file order kept).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampling, shuffling and CIs.")
@click.option("--shuffle/--no-shuffle", default=False, show_default=True, help="Shuffle option order (seeded).")
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(1), default=512, show_default=True,
              help="Generation length limit per answer.")
@click.option("--n-boot", type=click.IntRange(100), default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Benchmark data folder [default: $SAFEMED_DATA_DIR or ./data].")
@click.option("--skip-bad-rows", is_flag=True, help="Skip and count malformed data rows instead of stopping.")
@click.option("--judge", "judges", multiple=True, metavar="[KIND=]SPEC",
              help="Judge model for safety/ethics sets; repeat for a panel. KIND (msb, msb-zh, harm, refusal, "
                   "rubric-violation, rubric-dilemma) limits a model to one judge role.")
@click.option("--judge-max-tokens", type=click.IntRange(1), default=512, show_default=True,
              help="Generation length limit of each judge reply.")
@click.option("--judge-grammar", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Constrain judge replies to their answer format with a grammar (auto: for in-process "
                   "llama.cpp judges such as local/default; on: also send it to endpoints, e.g. llama.cpp servers).")
@click.option("--calibration", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A calibration.json from `safemed judges calibrate`: also report unsafe rates corrected for "
                   "each calibrated judge's sensitivity and specificity.")
@click.option("--max-reparse", type=click.IntRange(0), default=2, show_default=True,
              help="Re-asks of a judge whose reply cannot be parsed (then counted as unparsed).")
@click.option("--score-as", type=click.Choice(["default", "refusal"]), default="default", show_default=True,
              help="refusal: score every open prompt (harmful ones too) with the refusal judge and report the "
                   "refusal rate per set and expected behaviour; with --judge refusal=rules no judge model is needed.")
@click.option("--over-refusal", default="auto", show_default=True, metavar="SET|auto|none",
              help="Benign set whose refusal rate is reported beside safety numbers (auto: xstest if present, "
                   "else the bundled sample).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@engine_options
def eval_command(model: str, benchmarks: tuple[str, ...], out: Path, limit: int | None, sample: int | None,
                 seed: int, shuffle: bool, temperature: float, max_new_tokens: int, n_boot: int, data_dir: Path | None,
                 skip_bad_rows: bool, judges: tuple[str, ...], judge_max_tokens: int, judge_grammar: str,
                 calibration: Path | None, max_reparse: int, score_as: str,
                 over_refusal: str, quiet: bool, **engine: object) -> None:
    """Evaluate MODEL on benchmarks; writes OUT/samples.jsonl, results.json, manifest.json.

    Multiple-choice exams are scored by answer letter; safety and ethics sets (med-safety-bench,
    medethiceval-violation, xstest, …) are answered by MODEL and scored by the --judge panel;
    with --score-as refusal every open prompt is scored by the refusal judge instead (the refusal
    rate on harmful and on benign prompts, as training should move it).

    Example: safemed eval --model openai/llama3@http://127.0.0.1:8000/v1 --benchmark medqa,pubmedqa --out runs/a
    """
    settings = McqSettings(params=GenerationParams(temperature=temperature, max_tokens=max_new_tokens, seed=seed),
                           limit=limit, sample=sample, seed=seed, shuffle=shuffle, n_boot=n_boot,
                           skip_bad_rows=skip_bad_rows)
    judge_settings = JudgeSettings(judges=judges, max_reparse=max_reparse, over_refusal=over_refusal,
                                   max_tokens=judge_max_tokens, grammar=judge_grammar, score_as=score_as,
                                   calibration=json.loads(calibration.read_text(encoding="utf-8")) if calibration
                                   else None)
    run_and_report(model, split_names(benchmarks), out, default_data_dir(data_dir), settings,
                   engine_settings(**engine), quiet, judge_settings)  # type: ignore[arg-type]
