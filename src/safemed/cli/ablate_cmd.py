"""``safemed ablate CONFIG.yaml --out DIR``: every model variant through one suite, compared with the base."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

EXIT_INCOMPLETE = 4
EXIT_INTERRUPTED = 130


def table_of(result: dict[str, Any]) -> Any:
    """The ablation table as a rich Table: one line per row × variant."""
    from rich.table import Table

    from safemed.evaluate.ablation import delta_text, figure_text

    table = Table(title=f"{result.get('title') or 'Ablation'} — variant − base ({result['base']}), "
                        f"Holm over {result['n_tests']} tests")
    for col in ("row", "variant", "figure [95% CI]", "Δ vs base [95% CI]", "p (Holm)", "paired / excl."):
        table.add_column(col, justify="left" if col in ("row", "variant") else "right")
    for row in result["rows"]:
        scale = row["scale"]
        for variant, cell in row["cells"].items():
            figure = figure_text(cell, scale)
            paired = cell.get("paired")
            if paired is None:
                table.add_row(row["label"], variant, figure, "(base)", "", "")
                continue
            delta = delta_text(paired, scale)
            p, p_holm = paired.get("p"), paired.get("p_holm")
            tested = "—" if p is None else f"{paired['test']} {p:.3g} ({'—' if p_holm is None else f'{p_holm:.3g}'})"
            excluded = "—" if paired.get("n_excluded") is None else str(paired["n_excluded"])
            table.add_row(row["label"], variant, figure, delta, tested, f"{paired.get('n_paired')} / {excluded}")
    return table


@contextmanager
def _progress(label: str, counts: dict[str, int]) -> Iterator[Callable[[str, bool], None]]:
    from safemed.cli.display import err_console, sample_progress

    err_console.print(f"[bold]{label}[/]")
    with sample_progress(counts) as hook:
        yield hook


@click.command("ablate")
@click.argument("config_path", metavar="CONFIG.yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Ablation folder; re-running with the same folder reuses finished cells and resumes the rest.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def ablate_command(config_path: Path, out: Path, quiet: bool) -> None:
    """Run every model variant of CONFIG through its suite and compare each with the base.

    Each cell (variant × suite entry) is an ordinary run folder under OUT/runs/VARIANT/ENTRY,
    reused when it already holds the same run. Writes OUT/ablation.json, OUT/ablation.md and
    OUT/manifest.json: every variant's figures with CIs, and its paired difference against the
    base (paired bootstrap CI; McNemar for binary outcomes, Wilcoxon for scores), Holm-adjusted
    across the table. See docs/ablation.md for the config.

    Example: safemed ablate examples/ablation.yaml --out runs/ablation
    """
    from safemed.cli.display import console, err_console
    from safemed.evaluate.ablation import load_ablation_config, run_ablation

    config = load_ablation_config(config_path)
    try:
        result = run_ablation(config, out, quiet=quiet, progress=None if quiet else _progress)
    except KeyboardInterrupt:
        err_console.print(f"[yellow]interrupted[/]: finished cells and samples are kept in {out}; "
                          "run the same command again to resume")
        sys.exit(EXIT_INTERRUPTED)
    console.print(table_of(result))
    reused = sum(c["reused"] for c in result["cells"])
    err_console.print(f"{len(result['cells'])} cells ({reused} reused); wrote {out}/ablation.json, ablation.md, "
                      "manifest.json")
    if not result["complete"]:
        err_console.print("[red]incomplete[/]: some requests failed after every retry; run the same command again "
                          "to retry them")
        sys.exit(EXIT_INCOMPLETE)
