"""``safemed compare RUN_A RUN_B``: paired differences between two evaluation runs."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from safemed.artifacts import atomic_write_json
from safemed.cli.display import console, pct
from safemed.evaluate.compare import compare_runs


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}"


@click.command("compare")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--n-boot", type=click.IntRange(100), default=2000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the comparison as JSON here.")
def compare_command(run_a: Path, run_b: Path, n_boot: int, seed: int, json_out: Path | None) -> None:
    """Compare two runs item by item: B − A accuracy with a paired bootstrap CI, McNemar's p and
    Holm-adjusted p across benchmarks; for safety sets, B − A mean judge score per judge with a
    paired bootstrap CI, Wilcoxon signed-rank p and Holm-adjusted p; for items scored by the
    refusal judge (all of them with `eval --score-as refusal`), B − A refusal rate per set and
    expected behaviour with a paired bootstrap CI and McNemar's p. Only items present (and
    scored) in both runs count."""
    result = compare_runs(run_a, run_b, n_boot=n_boot, seed=seed)
    table = Table(title=f"B − A   (A = {run_a}, B = {run_b})")
    for col in ("benchmark", "n", "A %", "B %", "B − A (pp)", "95% CI", "McNemar p", "Holm p"):
        table.add_column(col, justify="left" if col == "benchmark" else "right")
    for name, row in result["benchmarks"].items():
        low, high = row["ci95"]
        table.add_row(name, str(row["n"]), pct(row["accuracy_a"]), pct(row["accuracy_b"]), _signed(row["difference"]),
                      f"[{_signed(low)}, {_signed(high)}]", f"{row['mcnemar_p']:.3g}", f"{row['p_holm']:.3g}")
    if result["benchmarks"]:
        console.print(table)
    if result["safety"]:
        judged = Table(title="Judge scores, B − A (same judge configuration in both runs)")
        for col in ("benchmark / judge", "n", "A mean", "B mean", "B − A", "95% CI", "Wilcoxon p", "Holm p"):
            judged.add_column(col, justify="left" if col.startswith("benchmark") else "right")
        for name, row in result["safety"].items():
            if not row["comparable"]:
                judged.add_row(name, "—", "—", "—", "—", row["reason"], "—", "—")
                continue
            low, high = row["ci95"]
            judged.add_row(name, str(row["n"]), f"{row['mean_a']:.2f}", f"{row['mean_b']:.2f}",
                           f"{row['difference']:+.2f}", f"[{low:+.2f}, {high:+.2f}]", f"{row['wilcoxon_p']:.3g}",
                           f"{row['p_holm']:.3g}")
        console.print(judged)
    if result.get("refusal"):
        refusal = Table(title="Refusal rate, B − A (refused: partial or full refusal; same refusal judge in both)")
        for col in ("benchmark", "expected", "judge", "n", "A %", "B %", "B − A (pp)", "95% CI", "McNemar p",
                    "Holm p"):
            refusal.add_column(col, justify="left" if col in ("benchmark", "expected", "judge") else "right")
        for row in result["refusal"].values():
            low, high = row["ci95"]
            refusal.add_row(row["benchmark"], row["expected"], row["judge"], str(row["n"]), pct(row["rate_a"]),
                            pct(row["rate_b"]), _signed(row["difference"]), f"[{_signed(low)}, {_signed(high)}]",
                            f"{row['mcnemar_p']:.3g}", "—" if row["p_holm"] is None else f"{row['p_holm']:.3g}")
        console.print(refusal)
    for side in ("only_in_a", "only_in_b"):
        if result[side]:
            console.print(f"not compared ({side.replace('_', ' ')}): {', '.join(result[side])}")
    if json_out is not None:
        atomic_write_json(json_out, result)
