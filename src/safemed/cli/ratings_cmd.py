"""``safemed ratings``: clinician rating tasks outside the curation ledger.

Judge validation (SafeMed-R1 §4): clinicians score a run's responses on the Med-Safety-Bench 1–5
scale, blind to the judges, and the export is what ``safemed judges calibrate --human`` reads::

    safemed ratings create --name msb-pilot --from-run runs/eval          # one unit per safety sample
    safemed ratings create --name a-vs-b --from-run runs/a --pairwise runs/b   # A/B order randomised
    safemed ratings create --name packet-1 --from-jsonl packet.jsonl --kind likert --dimension clarity
    safemed ratings list                                                  # tasks and their progress
    safemed ratings export msb-pilot --out labels.csv                     # id,score (human-csv)
    safemed judges calibrate runs/eval --human labels.csv
    safemed ratings verify                                                # exit 4 at a tampered label
    safemed ratings import-gold gold.jsonl                                # hidden QC items
    safemed ratings gold-accuracy                                         # per reviewer, Wilson CI

Clinicians rate in the review app (``safemed app``). ``--db`` is the ledger's database (a SQLite
path or a ``postgresql://`` URL; default ``$SAFEMED_DB`` or ``./safemed.db``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from safemed.cli.common import ErrorPrintingGroup, db_option
from safemed.errors import ConfigError


@click.group("ratings", cls=ErrorPrintingGroup)
def ratings() -> None:
    """Rating tasks for clinicians: judge labelling (MSB 1-5), pairwise A vs B, likert packets, gold items."""


@ratings.command("create")
@db_option
@click.option("--name", required=True, help="the task's name (unique)")
@click.option("--from-run", "from_run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="an eval run folder: one unit per answered safety sample (unit id = sample id)")
@click.option("--pairwise", "run_b", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="a second run folder: compare its responses with --from-run's (A/B order randomised)")
@click.option("--from-jsonl", "from_jsonl", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="units from a JSONL file (id, prompt, response or responses, sources, meta, specialty)")
@click.option("--kind", type=click.Choice(["msb", "pairwise", "likert"]), default=None,
              help="[default: pairwise with --pairwise, msb with --from-run, likert with --from-jsonl]")
@click.option("--judge-kind", default="msb", show_default=True,
              help="with --from-run: the judge kind whose samples become units")
@click.option("--dimension", "dimensions", multiple=True, metavar="NAME",
              help="likert: a rubric dimension (repeatable) [default: the paper's five review dimensions]")
@click.option("--raters-per-unit", type=click.IntRange(1, 100), default=1, show_default=True)
@click.option("--specialty", "specialties", multiple=True, metavar="S",
              help="only raters of this specialty (repeatable) [default: everyone]")
@click.option("--instructions", default="", help="text shown to raters above every unit")
@click.option("--limit", type=click.IntRange(1), default=None, help="a random subset of this many units")
@click.option("--seed", type=int, default=0, show_default=True, help="seeds the subset and the A/B order")
def create_cmd(db_url: str | None, name: str, from_run: Path | None, run_b: Path | None, from_jsonl: Path | None,
               kind: str | None, judge_kind: str, dimensions: tuple[str, ...], raters_per_unit: int,
               specialties: tuple[str, ...], instructions: str, limit: int | None, seed: int) -> None:
    """Create a rating task from an eval run, two runs (pairwise) or a JSONL file."""
    from safemed.ratings import RatingStore, pairwise_units, units_from_jsonl, units_from_run

    if (from_run is None) == (from_jsonl is None):
        raise ConfigError("give exactly one of --from-run DIR or --from-jsonl FILE")
    if run_b is not None and from_run is None:
        raise ConfigError("--pairwise RUN_B compares with --from-run RUN_A; give --from-run too")
    kind = kind or ("pairwise" if run_b is not None else "msb" if from_run is not None else "likert")
    if (kind == "pairwise") != (run_b is not None) and from_run is not None:
        raise ConfigError("a pairwise task from runs needs --from-run RUN_A --pairwise RUN_B (and --pairwise "
                          "makes a pairwise task)")
    if from_run is not None:
        units = (pairwise_units(from_run, run_b, seed=seed, limit=limit) if run_b is not None
                 else units_from_run(from_run, kind=judge_kind, limit=limit, seed=seed))
    else:
        assert from_jsonl is not None
        units = units_from_jsonl(from_jsonl, limit=limit, seed=seed)
    with RatingStore.open(db_url) as store:
        task_id = store.create_task(name, kind, units, instructions=instructions, raters_per_unit=raters_per_unit,
                                    specialties=specialties, seed=seed, dimensions=dimensions)
    click.echo(f"created task {task_id} {name!r}: {kind}, {len(units)} units, {raters_per_unit} rater(s) per unit"
               + (f", specialties {', '.join(specialties)}" if specialties else ""))


@ratings.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def list_cmd(db_url: str | None, as_json: bool) -> None:
    """The rating tasks with their progress (labels, units fully rated)."""
    from safemed.ratings import RatingStore

    with RatingStore.open(db_url) as store:
        found = store.tasks()
    if as_json:
        click.echo(json.dumps([{"id": t.id, "name": t.name, "kind": t.kind, "units": t.n_units, "labels": t.n_labels,
                                "done": t.n_done, "raters_per_unit": t.raters_per_unit,
                                "specialties": list(t.specialties), "created_at": t.created_at} for t in found],
                              indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("no rating tasks (create one with `safemed ratings create`)")
        return
    click.echo(f"{'id':<15} {'kind':<9} {'units':>6} {'done':>6} {'labels':>7}  name")
    for t in found:
        click.echo(f"{t.id:<15} {t.kind:<9} {t.n_units:>6} {t.n_done:>6} {t.n_labels:>7}  {t.name}"
                   + (f"  [{', '.join(t.specialties)}]" if t.specialties else ""))


@ratings.command("export")
@db_option
@click.argument("task")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["human-csv", "jsonl"]), default="human-csv", show_default=True,
              help="human-csv: id,score for `safemed judges calibrate --human` (msb tasks); jsonl: every label")
def export_cmd(db_url: str | None, task: str, out: Path, fmt: str) -> None:
    """Write the labels of TASK (its id or name)."""
    from safemed.ratings import RatingStore

    with RatingStore.open(db_url) as store:
        found = store.task(task)
        n = store.export_human_csv(found.id, out) if fmt == "human-csv" else store.export_jsonl(found.id, out)
    click.echo(f"wrote {n} label(s) of {found.name!r} to {out}")


@ratings.command("verify")
@db_option
def verify_cmd(db_url: str | None) -> None:
    """Recompute the labels' hash chain; exit 4 naming the first changed, removed or reordered label."""
    from safemed.ratings import RatingsTamperedError, RatingStore

    with RatingStore.open(db_url) as store:
        report = store.verify()
    if not report["ok"]:
        where = f"label row {report['first_bad']}" if report["first_bad"] is not None else "label counts"
        raise RatingsTamperedError(f"ratings do not verify: {where}: {report['problem']} "
                                   f"({report['n']} row(s) checked before it)")
    click.echo(f"ok: {report['n']} label(s), chain head {report['head']}")


@ratings.command("import-gold")
@db_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_gold_cmd(db_url: str | None, file: Path) -> None:
    """Import hidden gold items (JSONL: id, specialty, question, options, gold, reasoning, answer,
    expected keep|reject, note; optional rubric, language). Re-importing is a no-op."""
    from safemed.ratings import RatingStore, read_gold

    rows = read_gold(file)
    with RatingStore.open(db_url) as store:
        new = store.import_gold(rows, source=str(file))
    click.echo(f"imported {new} new gold item(s) of {len(rows)} in {file}")


@ratings.command("gold-accuracy")
@db_option
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def gold_accuracy_cmd(db_url: str | None, as_json: bool) -> None:
    """Each reviewer's accuracy on the gold items they answered, with a Wilson 95% interval."""
    from safemed.ratings import RatingStore

    with RatingStore.open(db_url) as store:
        acc = store.gold_accuracy()
    if as_json:
        click.echo(json.dumps(acc, indent=2))
        return
    if not acc:
        click.echo("no gold answers yet")
    for rater, row in acc.items():
        low, high = row["ci95"]
        click.echo(f"{rater}  {row['correct']}/{row['n']}  {row['accuracy']:.0%}  (95% CI {low:.0%}-{high:.0%})")
