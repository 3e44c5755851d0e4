"""``safemed benchmarks``: list the registered benchmarks and whether their data is present.

One row per benchmark SafeMed-R1 evaluates on (MedQA, MedMCQA, MMLU-medical, PubMedQA, CMExam,
PediaBench, MedEthicEval, SafetyBench) plus the bundled samples: its name for ``--benchmark``,
title, item count, language, licence, where its file is looked for and whether it is there.
Run ``safemed benchmarks --data-dir ../shared/data`` before an evaluation to check the folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from safemed.datasets import BENCHMARKS, PROMPT_SETS, Benchmark, FileBenchmark, PromptSet
from safemed.datasets.generic import BundledSample
from safemed.settings import data_dir as default_data_dir


def data_present(benchmark: Benchmark | PromptSet, data_dir: Path) -> bool:
    """True when every file the benchmark needs exists under ``data_dir``."""
    path = benchmark.path(data_dir)
    if isinstance(benchmark, FileBenchmark):
        return all(needed.exists() for needed in benchmark.required(path))
    return path.exists()


def _all() -> list[tuple[str, str, Benchmark | PromptSet]]:
    sets: list[tuple[str, str, Benchmark | PromptSet]] = [("mcq", n, b) for n, b in BENCHMARKS.items()]
    return sets + [("judged", n, s) for n, s in PROMPT_SETS.items()]


def benchmarks_table(data_dir: Path) -> Table:
    """The table ``safemed benchmarks`` prints: exams scored by answer letter, then open-prompt
    safety/ethics sets scored by a judge panel."""
    table = Table(title=f"benchmarks (data folder: {data_dir})")
    for header in ("name", "scored by", "title", "items", "lang", "licence", "looked for at", "found"):
        table.add_column(header, overflow="fold")
    for kind, name, benchmark in _all():
        info = benchmark.info
        bundled = isinstance(benchmark, BundledSample) or name == "sample-safety"
        where = "bundled with safemed" if bundled else str(benchmark.path(data_dir))
        found = "[green]yes[/]" if data_present(benchmark, data_dir) else "[red]no[/]"
        items = "?" if info.size is None else f"{info.size:,}"
        table.add_row(name, "answer letter" if kind == "mcq" else "judge panel", info.title, items, info.language,
                      info.license, where, found)
    return table


@click.command("benchmarks")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    show_default="$SAFEMED_DATA_DIR, else ./data",
    help="Folder that holds the benchmark data files.",
)
def benchmarks(data_dir: Path | None) -> None:
    """List the benchmarks, their licences, and whether their data is in the data folder.

    Besides these names, --benchmark accepts mcq:PATH (your own questions, JSONL), medqa:PATH
    (MedQA format, e.g. MedQA-CN/TW), cmexam:PATH (e.g. the CMExam test split) and a dotted
    path package.module:attr to a Benchmark object.
    """
    folder = default_data_dir(data_dir)
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(benchmarks_table(folder))
    missing = [name for _, name, bench in _all() if not data_present(bench, folder)]
    if missing:
        console.print(f"{len(missing)} not found in {folder}; set the folder with --data-dir or SAFEMED_DATA_DIR.")
