"""``safemed quickstart``: the whole offline first run on the embedded default model."""

from __future__ import annotations

from pathlib import Path

import click

from safemed.backends import GenerationParams
from safemed.cli.display import console
from safemed.cli.eval_cmd import engine_settings, run_and_report
from safemed.evaluate.mcq import McqSettings
from safemed.evaluate.run import JudgeSettings
from safemed.settings import data_dir


@click.command("quickstart")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/quickstart"),
              show_default=True, help="Where the run folder goes.")
@click.option("--model", default="local/default", show_default=True, metavar="SPEC",
              help="Model to evaluate (the embedded SmolLM2-135M-Instruct by default).")
@click.option("--safety", is_flag=True,
              help="Also run the bundled safety sample (18 harmful requests, 12 benign questions) scored by "
                   "--judge: a few more minutes on the embedded model.")
@click.option("--judge", default="local/default", show_default=True, metavar="SPEC",
              help="Judge for --safety (the embedded model, grammar-constrained: a weak judge).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def quickstart_command(out: Path, model: str, safety: bool, judge: str, quiet: bool) -> None:
    """Evaluate the embedded default model on the bundled sample exams, offline, in about a minute.

    Writes OUT/eval with samples.jsonl, results.json and manifest.json. Re-running resumes from
    the cache. The default model is a 135M-parameter demo: expect near-chance accuracy. With
    --safety, OUT/safety holds the Med-Safety-Bench-style judged run with its over-refusal rate.
    """
    console.print(f"[bold]safemed quickstart[/]: evaluating {model} on the bundled sample exams (en + zh)")
    settings = McqSettings(params=GenerationParams(temperature=0.0, max_tokens=128, seed=0), seed=0)
    engine = engine_settings(concurrency=4, max_attempts=3, timeout=120.0, api_key_env="OPENAI_API_KEY",
                             cache_path=None, budget_tokens=None, max_cost=None, price_input=0.0,
                             price_output=0.0, parallel=4)
    run_and_report(model, ["sample", "sample-zh"], out / "eval", data_dir(), settings, engine, quiet)
    if safety:
        console.print(f"[bold]safety sample[/]: {model} answers, {judge} judges (its numbers show the pipeline, "
                      "not that a model is safe)")
        judges = JudgeSettings(judges=(judge,), max_tokens=128, over_refusal="none")
        run_and_report(model, ["sample-safety"], out / "safety", data_dir(), settings, engine, quiet, judges)
    console.print(f"Next: inspect {out / 'eval' / 'samples.jsonl'}, or evaluate a real endpoint with "
                  "`safemed eval --model openai/NAME@URL --benchmark medqa --out runs/medqa`.")
