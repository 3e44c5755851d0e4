"""``safemed lineage ARTIFACT``: the chain from an artifact back to ledger events, every hash checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from safemed.report import Check, trace_lineage


@click.command("lineage")
@click.argument("artifact", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--db", "db_url", default=None, metavar="URL",
              help="The curation ledger (SQLite path or URL): prove every curated row against it.")
@click.option("--json", "as_json", is_flag=True, help="Print the chain and every check as JSON.")
def lineage_command(artifact: Path, db_url: str | None, as_json: bool) -> None:
    """Print ARTIFACT's lineage and check it: an eval run → the model artifact it evaluated →
    its adapter → its base model (weights sha256 recomputed; recursing when the base is itself a
    trained model) → each dataset (sha256 against the model's manifest and the dataset's own) →
    for curated exports, the ledger point. With --db, the ledger's root at that tree size must
    equal the recorded root, and every row's events must be its item's, included in that tree.

    Exits non-zero, naming each check that fails.

    Example: safemed lineage runs/grpo --db safemed.db
    """
    result = trace_lineage(artifact, db_url=db_url)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        for entry in result.entries:
            indent = "  " * entry.depth
            if isinstance(entry, Check):
                mark = click.style("ok  ", fg="green") if entry.ok else click.style("FAIL", fg="red", bold=True)
                click.echo(f"{indent}{mark} {entry.what}: {entry.detail}")
            else:
                click.echo(f"{indent}{click.style(entry.label, bold=True)}  {entry.path}")
    checks, failures = result.checks, result.failures
    if failures:
        click.echo(f"lineage FAILED: {len(failures)} of {len(checks)} checks do not hold:", err=True)
        for check in failures:
            click.echo(f"  {check.what}: {check.detail}", err=True)
        sys.exit(1)
    click.echo(f"lineage ok: {len(checks)} checks hold", err=True)
