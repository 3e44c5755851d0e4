"""``safemed export RUN_DIR --format inspect|lm-eval --out PATH``: a run in another tool's format."""

from __future__ import annotations

from pathlib import Path

import click

from safemed.report.exports import FORMATS, render, write

NEXT = {
    "inspect": "open them with: inspect view --log-dir {folder}",
    "lm-eval": "read them as lm-eval results (e.g. lm_eval.utils.make_table on the results JSON)",
}


@click.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="inspect: inspect_ai eval logs (JSON), one per benchmark; lm-eval: lm-evaluation-harness "
                   "results_<date>.json and samples_<task>_<date>.jsonl.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="inspect: a log folder (or one .json file for a one-benchmark run); lm-eval: the output "
                   "folder (files go under OUT/<model>/, as lm_eval --output_path does).")
def export_command(run_dir: Path, fmt: str, out: Path) -> None:
    """Export the finished eval or red-team run RUN_DIR as inspect_ai logs or lm-eval results.

    The run's manifest is checked first (kind, and the sha256 of samples.jsonl and results.json);
    the numbers are the run's own, with its CIs, and every file names the run's manifest id and
    sha256 so it leads back to the artifact. Nothing is written when anything is wrong.

    Example: safemed export runs/base --format inspect --out logs/
    """
    rendered = render(run_dir, fmt, out)
    write(rendered)
    for path, _ in rendered.files:
        click.echo(f"wrote {path}")
    folder = rendered.path if rendered.path.suffix != ".json" else rendered.path.parent
    click.echo(NEXT[fmt].format(folder=folder), err=True)
