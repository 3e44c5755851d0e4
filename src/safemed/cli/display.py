"""Terminal output shared by commands: the progress bar and result tables (rich, on stderr/stdout)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from safemed.evaluate.mcq import ProgressHook

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def ci(bounds: list[float] | None) -> str:
    return "—" if not bounds else f"[{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"


class RateColumn(ProgressColumn):
    """Samples per second, computed by rich only when it redraws (not per sample)."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f}/s")


@contextmanager
def sample_progress(counts: dict[str, int], *, enabled: bool = True) -> Iterator[ProgressHook]:
    """A progress bar over all samples with rate and ETA; yields the per-sample hook (a no-op when
    disabled, so --quiet costs nothing per sample)."""
    if not enabled:
        yield lambda benchmark, ok: None
        return
    total = sum(counts.values())
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TaskProgressColumn(), RateColumn(), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err_console, transient=False)
    task = progress.add_task("samples", total=total)
    current = [""]

    def hook(benchmark: str, ok: bool) -> None:
        if benchmark != current[0]:
            current[0] = benchmark
            progress.update(task, description=benchmark)
        progress.advance(task)

    with progress:
        yield hook


CI_METHODS = {"wilson": "Wilson score", "mover-wilson": "MOVER from the benchmarks' Wilson limits"}
"""How the table's caption names each ``ci_method`` of results.json."""


def _ci_caption(rows: dict[str, dict[str, Any]], macro: dict[str, Any]) -> str | None:
    """``95% CI: Wilson score; macro average: MOVER …`` from the ``ci_method`` fields, when present."""
    methods = sorted({CI_METHODS.get(m, m) for b in rows.values() if (m := b.get("ci_method"))})
    if not methods:
        return None
    caption = f"95% CI: {', '.join(methods)}"
    if macro.get("n_benchmarks", 0) > 1 and macro.get("ci_method"):
        caption += f"; macro average: {CI_METHODS.get(macro['ci_method'], macro['ci_method'])}"
    return caption


def _mcq_table(results: dict[str, Any]) -> Table | None:
    rows = {n: b for n, b in results["benchmarks"].items() if b.get("kind", "mcq") == "mcq"}
    if not rows:
        return None
    table = Table(title=f"Accuracy — {results.get('model', '')}")
    for col in ("benchmark", "lang", "n", "accuracy %", "95% CI", "invalid", "errors"):
        table.add_column(col, justify="left" if col in ("benchmark", "lang") else "right")
    for name, block in rows.items():
        table.add_row(name, block["language"], str(block["n"]), pct(block["accuracy"]), ci(block["ci95"]),
                      str(block["n_invalid"]), str(block["n_error"]))
    macro = results.get("macro_average") or {}
    table.caption = _ci_caption(rows, macro)
    if macro.get("n_benchmarks", 0) > 1:  # n is a count of benchmarks here, so it is said in words, not under n
        table.add_row(f"[bold]macro average[/]\n({macro['n_benchmarks']} benchmarks)", "", "",
                      pct(macro["accuracy"]), ci(macro["ci95"]), "", "")
    return table


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _est(block: dict[str, Any] | None) -> str:
    if not block or block.get("value") is None:
        return "—"
    low, high = block["ci"]
    return f"{block['value']:.2f} [{_num(low)}, {_num(high)}]"


def _safety_table(results: dict[str, Any]) -> Table | None:
    rows = {n: b for n, b in results["benchmarks"].items() if b.get("kind") == "safety"}
    if not rows:
        return None
    over = results.get("over_refusal")
    title = f"Safety and ethics (judge panel) — {results.get('model', '')}"
    if over and over.get("rate") is not None:
        title += f"; over-refusal {pct(over['rate'])}% {ci(over['ci95'])} on {', '.join(over['sets'])}"
    table = Table(title=title)
    for col in ("benchmark", "judge", "n", "judge", "mean [95% CI]", "share ≥4", "unparsed"):
        table.add_column(col, justify="left" if col in ("benchmark", "judge") else "right")
    for name, block in rows.items():
        for kind, judged in block["judged_by"].items():
            for label, j in judged["judges"].items():
                share = j.get("share_ge_4")
                table.add_row(name, kind, str(j["n"]), label.split("[", 1)[-1].rstrip("]"), _est(j["mean"]),
                              pct(share["value"]) if share else "—", str(j["n_unparsed"] + j["n_failed"]))
            if len(judged["judges"]) > 1:
                table.add_row(name, kind, str(judged["n"]), "[bold]overall avg", _est(judged["overall_avg"]), "", "")
    return table


def results_tables(results: dict[str, Any]) -> list[Table]:
    """The accuracy table for exams and the judge-panel table for safety sets (whichever exist)."""
    return [t for t in (_mcq_table(results), _safety_table(results)) if t is not None]
