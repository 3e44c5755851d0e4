"""``safemed quickstart``: the whole SafeMed-R1 method end to end, offline, on the embedded default model.

Curate (seed questions → chains of thought → simulated clinician reviews and adjudication →
signed export), train (SFT, then GRPO), evaluate base vs trained (MCQ and safety, paired, with
CIs), red-team, a simulated blinded paired study, and the evidence package — in about ten minutes
on two CPU cores. The stages are in :mod:`safemed.cli.quickstart_stages`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from safemed.cli.display import console, err_console
from safemed.errors import SafemedError

if TYPE_CHECKING:
    from safemed.cli.quickstart_stages import Context, StageResult


@click.command("quickstart")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/quickstart"),
              show_default=True, help="Where everything goes (a second run reuses what the first finished).")
@click.option("--model", default="local/default", show_default=True, metavar="SPEC",
              help="The model taken through the method (the embedded SmolLM2-135M-Instruct by default).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Benchmark data folder: real slices of MedQA, MMLU-med, Med-Safety-Bench and XSTest join the "
                   "bundled samples [default: $SAFEMED_DATA_DIR when set and present; else bundled samples only].")
@click.option("--judge", default="local/default", show_default=True, metavar="SPEC",
              help="The Med-Safety-Bench judge of the red-team slice (the embedded model, grammar-constrained: a "
                   "weak judge; the safety sets are scored by the deterministic refusal rules).")
@click.option("--no-train", is_flag=True, help="Skip the training stages even when the [train] extra is installed.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Items per evaluation set and seed questions to generate for (a smoke run).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display; one line per stage.")
def quickstart_command(out: Path, model: str, data_dir: Path | None, judge: str, no_train: bool,
                       limit: int | None, quiet: bool) -> None:
    """Take the embedded model through the whole method and write the evidence package.

    Stages: fresh ledger with the bundled seed questions; chains of thought with the five-strike
    rule; SIMULATED clinician reviews and adjudication; signed curated export; SFT and a few GRPO
    steps (with the [train] extra); base vs trained on the MCQ and safety samples, paired with
    CIs; a red-team slice; a SIMULATED blinded paired study; the evidence package
    (OUT/report/report.html). Logs and the exact commands are in OUT/logs and OUT/commands.sh.
    """
    from safemed.cli.quickstart_stages import STAGES, Context, Sizes, record, run_stage, train_available

    folder = data_dir or (Path(os.environ["SAFEMED_DATA_DIR"]) if os.environ.get("SAFEMED_DATA_DIR") else None)
    if folder is not None and not folder.is_dir():
        if data_dir is not None:
            raise click.BadParameter(f"{data_dir} is not a folder", param_hint="--data-dir")
        folder = None
    sizes = Sizes() if limit is None else Sizes(seeds=limit, eval_limit=limit, sft_steps=2, grpo_steps=1,
                                                redteam_seeds=1, study_vignettes=max(limit, 6))
    trainable = model.startswith("local/")
    train = train_available() and not no_train and trainable
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "SAFEMED_CACHE_DIR": str(out / "cache")})
    if folder is not None:
        env["SAFEMED_DATA_DIR"] = str(folder.resolve())
    else:
        env.pop("SAFEMED_DATA_DIR", None)
    ctx = Context(out=out, model=model, data_dir=folder.resolve() if folder else None, sizes=sizes, train=train,
                  env=env, judge=judge)
    console.print(f"[bold]safemed quickstart[/]: {model} through the SafeMed-R1 method, offline, into {out}")
    console.print("Clinicians, the adjudication panel and the study's raters are [bold yellow]SIMULATED[/] "
                  "(safemed's stated models of them); every artifact they touch says so.")
    if not train:
        why = ("--no-train" if no_train else f"{model} is not a local model (training needs its weights)"
               if not trainable else "the [train] extra is not installed (pip install -e '.[train]')")
        console.print(f"[yellow]training skipped[/]: {why}; the base model is evaluated alone")
    if folder is None:
        console.print("data: the bundled samples only (set SAFEMED_DATA_DIR or --data-dir for real benchmark slices)")
    else:
        console.print(f"data: bundled samples plus slices of the benchmarks in {folder}")

    results = []
    started = time.perf_counter()
    try:
        if quiet:
            for i, stage in enumerate(STAGES, 1):
                result = run_stage(stage, ctx)
                results.append(result)
                console.print(_line(i, len(STAGES), result))
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

            with Progress(SpinnerColumn(), "[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True) as progress:
                task = progress.add_task("starting", total=len(STAGES))
                for i, stage in enumerate(STAGES, 1):
                    progress.update(task, description=f"{stage.title}")
                    result = run_stage(stage, ctx)
                    results.append(result)
                    progress.console.print(_line(i, len(STAGES), result))
                    progress.advance(task)
    except SafemedError as exc:
        record(ctx, results)
        err_console.print(f"[red]quickstart stopped[/]: {exc}")
        err_console.print("Fix the cause and run the same command again: finished stages are reused.")
        sys.exit(1)
    except KeyboardInterrupt:
        record(ctx, results)
        err_console.print("[yellow]interrupted[/]: run the same command again to resume")
        sys.exit(130)
    record(ctx, results)
    wall = time.perf_counter() - started
    console.print(f"[bold green]done[/] in {wall:.0f} s (stage times in {out / 'stages.json'})")
    _next_steps(ctx)


def _line(i: int, n: int, result: StageResult) -> str:
    mark = {"done": "[green]✓[/]", "reused": "[cyan]↺[/]", "skipped": "[yellow]–[/]"}[result.status]
    when = f"{result.seconds:.0f} s" if result.status == "done" else result.status
    note = f" ({result.note})" if result.note else ""
    return f"{mark} [{i:>2}/{n}] {result.title}: {when}{note}"


def _next_steps(ctx: Context) -> None:
    report = ctx.path("report", "report.html")
    ablation = ctx.path("eval", "ablation.md")
    console.print(f"\n[bold]Evidence package[/]: {report}  (open it in a browser; it works offline)")
    if ablation.is_file():
        console.print(f"Base vs trained, paired: {ablation}")
    summary = ctx.path("study", "result", "study.md")
    if summary.is_file():
        console.print(f"Simulated study: {summary}")
    console.print(f"Every command the quickstart ran is in {ctx.path('commands.sh')} (logs in {ctx.path('logs')}).")
    console.print("Next: review traces yourself in the web app (`safemed app --demo`), evaluate a real endpoint "
                  "(`safemed eval --model openai/NAME@URL --benchmark medqa --out runs/medqa`), or check the "
                  f"lineage of the trained model (`safemed lineage {ctx.path('train', 'grpo')} --db "
                  f"{ctx.db}`).")
    stages = json.loads(ctx.path("stages.json").read_text(encoding="utf-8"))
    skipped = [s["title"] for s in stages["stages"] if s["status"] == "skipped"]
    if skipped:
        console.print(f"Skipped: {', '.join(skipped)}.")
