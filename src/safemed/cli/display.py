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
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from safemed.evaluate.mcq import ProgressHook

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def ci(bounds: list[float] | None) -> str:
    return "—" if not bounds else f"[{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"


@contextmanager
def sample_progress(counts: dict[str, int], *, enabled: bool = True) -> Iterator[ProgressHook]:
    """A progress bar over all samples with rate and ETA; yields the per-sample hook."""
    total = sum(counts.values())
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err_console, disable=not enabled,
                        transient=False)
    task = progress.add_task("samples", total=total, rate="")

    def hook(benchmark: str, ok: bool) -> None:
        progress.advance(task)
        speed = progress.tasks[0].speed
        progress.update(task, description=benchmark, rate=f"{speed:.1f}/s" if speed else "")

    with progress:
        yield hook


def results_table(results: dict[str, Any]) -> Table:
    """Per-benchmark accuracy with CI, invalid and error counts, then the macro average."""
    table = Table(title=f"Results — {results.get('model', '')}")
    for col in ("benchmark", "lang", "n", "accuracy %", "95% CI", "invalid", "errors"):
        table.add_column(col, justify="left" if col in ("benchmark", "lang") else "right")
    for name, block in results["benchmarks"].items():
        table.add_row(name, block["language"], str(block["n"]), pct(block["accuracy"]), ci(block["ci95"]),
                      str(block["n_invalid"]), str(block["n_error"]))
    macro = results["macro_average"]
    if macro["n_benchmarks"] > 1:
        table.add_row("[bold]macro average", "", str(macro["n_benchmarks"]), pct(macro["accuracy"]),
                      ci(macro["ci95"]), "", "")
    return table
