"""``safemed report``: the evidence package (report.html, evidence.json, model card, datasheet,
crosswalk, manifest) from verified artifacts (SafeMed-R1's governance evidence; issue 12)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DIR = click.Path(exists=True, file_okay=False, path_type=Path)


@click.command("report")
@click.option("--runs", "runs", multiple=True, required=True, type=DIR, metavar="DIR",
              help="An eval run folder (safemed eval); repeat for several.")
@click.option("--redteam", "redteam", multiple=True, type=DIR, metavar="DIR",
              help="A red-team run folder (safemed redteam); repeat for several.")
@click.option("--study", type=DIR, default=None, metavar="DIR", help="The clinician study's output folder.")
@click.option("--ablation", type=DIR, default=None, metavar="DIR", help="The output folder of safemed ablate.")
@click.option("--ledger", "ledger_url", default=None, metavar="URL",
              help="The curation ledger (SQLite path or URL): prove each dataset export against its signed "
                   "checkpoints.")
@click.option("--model", type=DIR, default=None, metavar="ARTIFACT",
              help="The trained model: a safemed train OUT folder or its model/ artifact. Every run must name it.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Where to write it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the case-study sample and CIs.")
def report_command(runs: tuple[Path, ...], redteam: tuple[Path, ...], study: Path | None, ablation: Path | None,
                   ledger_url: str | None, model: Path | None, out: Path, seed: int) -> None:
    """Verify the lineage of every input, then write the evidence package to OUT.

    Every input's files are checked against its manifest, each curated export's ledger root against
    the ledger's signed checkpoints (with --ledger), the model's datasets and the runs' model (with
    --model). Any mismatch: each is named, the exit status is 1 and nothing is written.

    Example: safemed report --runs runs/mcq --runs runs/msb --redteam runs/rt --model train/grpo
    --ledger safemed.db --out evidence/
    """
    from safemed.report.package import LineageError, build_report

    try:
        html = build_report(list(runs), list(redteam), study, ablation, ledger_url, model, out, seed=seed)
    except LineageError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"lineage verified; wrote {html} (and evidence.json, model_card.md, datasheet.md, crosswalk.md, "
               f"manifest.json in {html.parent})")
    click.echo(f"open it offline: file://{html.resolve()}")
