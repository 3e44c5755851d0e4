"""``safemed curate``: the clinical-trust-signal curation pipeline, one command per step.

Paper: seed QAs → chains of thought → five-strike re-answering → physician review (five-
dimension rubric, edits) → adjudication → retention → export with provenance. Each step appends
to the ledger (``--db``, ``--key`` as in ``safemed ledger``)::

    safemed curate import seeds.jsonl                 # one transaction; a bad row names line + field
    safemed curate dedup --data-dir data              # near-duplicate + 13-gram contamination flags
    safemed curate generate --model local/default     # CoT, five strikes → escalated (resumable)
    safemed curate assign --roster reviewers.csv      # 2 reviewers per item, by specialty
    safemed curate export-queue --out queue.jsonl --roster reviewers.csv   # blinded, fillable
    safemed curate import-reviews reviews.jsonl       # validated, one transaction
    safemed curate adjudicate [--decisions d.jsonl]   # list the queue / record the panel's decisions
    safemed curate retain                             # apply the retention rule
    safemed curate agreement                          # Krippendorff's alpha per dimension, specialty
    safemed curate export --out DIR --format sft      # rows with provenance + datasheet + manifest
    safemed curate status                             # the funnel and the queues
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

import click

from safemed.cli.common import ErrorPrintingGroup, db_option, key_option, load_key_option
from safemed.errors import ConfigError
from safemed.ledger.keys import LedgerKeys, default_key_path, load_keys
from safemed.ledger.store import Ledger


def _required_keys(key_path: Path | None) -> LedgerKeys:
    return load_keys(key_path or default_key_path())


def _open(db_url: str | None, keys: LedgerKeys | None = None, create: bool = False) -> Ledger:
    return Ledger.open(db_url, keys=keys, create=create)


def _open_for_append(db_url: str | None, key_path: Path | None, *, create: bool = False,
                     keys: LedgerKeys | None = None) -> Ledger:
    """Open the ledger with its key, so that the append ends by signing a checkpoint of the new
    tree. A ledger created with a key refuses appends without it (they would be covered by no
    signature); a ledger that never had a key appends unsigned, with a warning."""
    keys = keys or load_key_option(key_path, required=key_path is not None)
    led = Ledger.open(db_url, keys=keys, create=create)
    stored = led.stored_public_key
    try:
        led.check_key()
        if keys is None and stored is not None:
            raise ConfigError("this ledger signs a checkpoint after every append, but its key file is missing "
                              f"(--key PATH or $SAFEMED_LEDGER_KEY; created with key {stored.hex()[:16]}…)")
    except Exception:
        led.close()
        raise
    if keys is None:
        click.echo("warning: no ledger key: these events are covered by no signed checkpoint "
                   "(create one with `safemed ledger init`)", err=True)
    return led


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group("curate", cls=ErrorPrintingGroup)
def curate() -> None:
    """Curate training data with clinical trust signals (reviews, edits, adjudication) in the ledger."""


@curate.command("import")
@db_option
@key_option
@click.argument("seeds", metavar="SEEDS.jsonl|sample")
@click.option("--source", default=None, help="provenance label for the items [default: the file name]")
def import_cmd(db_url: str | None, key_path: Path | None, seeds: str, source: str | None) -> None:
    """Import seed questions (MCQ JSONL + specialty) in one transaction.

    SEEDS is a JSONL file, or ``sample`` for the 12 seed questions bundled with safemed.
    """
    from importlib import resources

    from safemed.curate.seeds import import_seeds
    from safemed.errors import ConfigError

    if seeds == "sample":
        path = Path(str(resources.files("safemed.curate").joinpath("samples/seeds.jsonl")))
    else:
        path = Path(seeds)
        if not path.is_file():
            raise ConfigError(f"seed file {seeds} not found")
    with _open_for_append(db_url, key_path, create=True) as led:
        items = import_seeds(led, path, source=source)
        size = led.size()
    kinds = {k: sum(i.kind == k for i in items) for k in ("item", "ethics", "safety")}
    click.echo(f"imported {len(items)} items ({', '.join(f'{k} {v}' for k, v in kinds.items() if v)}); "
               f"ledger size {size}")


@curate.command("dedup")
@db_option
@key_option
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=0.8, show_default=True,
              help="MinHash Jaccard similarity that makes a near duplicate")
@click.option("--num-perm", type=click.IntRange(16), default=128, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="benchmark data folder for the contamination check [default: $SAFEMED_DATA_DIR or ./data]")
@click.option("--benchmark", "benchmarks", multiple=True, metavar="NAME",
              help="check only these evaluation sets (repeatable) [default: every registered one]")
@click.option("--ngram", type=click.IntRange(1), default=13, show_default=True)
@click.option("--no-contamination", is_flag=True, help="only the near-duplicate check")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the groups and the contamination report here (JSON)")
def dedup_cmd(db_url: str | None, key_path: Path | None, threshold: float, num_perm: int, seed: int,
              data_dir: Path | None, benchmarks: tuple[str, ...], ngram: int, no_contamination: bool,
              report: Path | None) -> None:
    """Flag near-duplicate seeds and items that overlap an evaluation benchmark (flagged, not dropped)."""
    from safemed.artifacts import atomic_write_json
    from safemed.curate.flags import record_flags
    from safemed.settings import data_dir as default_data_dir

    folder = None if no_contamination else default_data_dir(data_dir)
    with _open_for_append(db_url, key_path) as led:
        result = record_flags(led, threshold=threshold, num_perm=num_perm, seed=seed, data_dir=folder,
                              benchmarks=list(benchmarks) or None, n=ngram)
    click.echo(f"near-duplicate groups: {len(result.groups)}; new flags: {result.near_duplicate} near duplicate, "
               f"{result.contamination} contamination")
    if result.report is not None:
        missing = result.report.get("missing") or []
        click.echo(f"contamination: {result.report.get('n_flagged', 0)} items overlap "
                   f"{len(result.report.get('checked', []))} evaluation sets checked"
                   + (f" ({len(missing)} not found: {', '.join(missing)})" if missing else ""))
    if report is not None:
        atomic_write_json(report, {"near_duplicate_groups": result.groups, "contamination": result.report})


@curate.command("generate")
@db_option
@key_option
@click.option("--model", "model", required=True, metavar="SPEC",
              help="generator: local/default, local/PATH or openai/NAME@URL")
@click.option("--variants", type=click.IntRange(0), default=0, show_default=True,
              help="ask for K paraphrased or new questions per seed first (recorded as derived items)")
@click.option("--attempts", type=click.IntRange(1), default=5, show_default=True,
              help="answers per item before it is escalated (the paper's five strikes)")
@click.option("--temperature", type=float, default=0.0, show_default=True, help="first attempt")
@click.option("--retry-temperature", type=float, default=0.7, show_default=True, help="re-asks")
@click.option("--max-new-tokens", type=click.IntRange(1), default=512, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="only the first N pending items")
@click.option("--include-flagged", is_flag=True, help="also items flagged by dedup")
@click.option("--concurrency", type=click.IntRange(1), default=16, show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="per request (s)")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True)
@click.option("--parallel", type=click.IntRange(1), default=4, show_default=True,
              help="decoding slots of a local/ GGUF model")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="response cache (SQLite) that makes runs resumable [default: "
                   "$SAFEMED_CACHE_DIR/curate-responses.sqlite]")
def generate_cmd(db_url: str | None, key_path: Path | None, model: str, variants: int, attempts: int,
                 temperature: float, retry_temperature: float, max_new_tokens: int, seed: int, limit: int | None,
                 include_flagged: bool, concurrency: int, timeout: float, api_key_env: str, parallel: int,
                 cache_path: Path | None) -> None:
    """Generate chains of thought with the five-strike rule (and optional variants); resumable."""
    from safemed.backends import BackendOptions, RequestEngine, ResponseCache, build_backend
    from safemed.curate.generate import GenerateSettings, generate
    from safemed.settings import cache_dir

    settings = GenerateSettings(max_attempts=attempts, temperature=temperature, retry_temperature=retry_temperature,
                                max_new_tokens=max_new_tokens, seed=seed, variants=variants,
                                include_flagged=include_flagged, limit=limit, window=max(2 * concurrency, 4))
    backend = build_backend(model, BackendOptions(api_key_env=api_key_env, timeout=timeout,
                                                  pool_size=max(concurrency, 16), local_parallel=parallel))
    cache = ResponseCache(cache_path or cache_dir() / "curate-responses.sqlite")

    async def run(led: Ledger) -> Any:
        engine = RequestEngine(backend, cache=cache, concurrency=concurrency, seed=seed)
        try:
            return await generate(led, engine, settings), engine.stats.as_dict()
        finally:
            await engine.aclose()

    try:
        with _open_for_append(db_url, key_path) as led:
            summary, stats = asyncio.run(run(led))
    finally:
        cache.close()
    click.echo(f"pending {summary.pending}: correct first time {summary.correct_first}, after re-asking "
               f"{summary.correct_later}, escalated {summary.escalated}, no reply {summary.no_reply} "
               f"({summary.attempts} attempts; {stats['requests']} requests, {stats['cache_hits']} cached)")
    if summary.skipped_flagged:
        click.echo(f"skipped {summary.skipped_flagged} flagged items (--include-flagged to generate them)")
    if variants:
        click.echo(f"variants: {summary.variants_added} added, {summary.variants_malformed} malformed")
    for error in summary.errors[:5]:
        click.echo(f"  no reply: {error}", err=True)


@curate.command("assign")
@db_option
@key_option
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="CSV with columns reviewer_id,specialty")
@click.option("--reviewers", "per_item", type=click.IntRange(1), default=2, show_default=True,
              help="independent reviewers per item")
@click.option("--seed", type=int, default=0, show_default=True, help="tie-break between equally loaded reviewers")
@click.option("--include-flagged", is_flag=True)
def assign_cmd(db_url: str | None, key_path: Path | None, roster: Path, per_item: int, seed: int,
               include_flagged: bool) -> None:
    """Route traces to reviewers of the item's specialty, never twice to one reviewer."""
    from collections.abc import Iterator

    from safemed.curate.assign import AssignmentPlan, iter_assignments, read_roster
    from safemed.curate.view import CurationView, append_consistent
    from safemed.records.curation import NewEvent, event_for

    keys = _required_keys(key_path)
    reviewers = read_roster(roster, keys)
    plans: list[AssignmentPlan] = []

    def build(view: CurationView) -> Iterator[NewEvent]:
        plans[:] = [AssignmentPlan()]
        return (event_for(a, actor="system") for a in iter_assignments(
            view, reviewers, plans[0], per_item=per_item, seed=seed, include_flagged=include_flagged))

    with _open_for_append(db_url, key_path, keys=keys) as led:
        append_consistent(led, build)
    plan = plans[0]
    click.echo(f"assigned {plan.n_assignments} reviews of {len(plan.items)} items to {len(plan.reviewers)} reviewers")
    if plan.n_short:
        click.echo(f"{plan.n_short} items lack reviewers of their specialty: "
                   + ", ".join(sorted(plan.short)[:10]), err=True)


@curate.command("export-queue")
@db_option
@key_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="write reviewer_id (from this roster) instead of the pseudonym")
@click.option("--reviewer", "only", default=None, help="only this reviewer's assignments (a roster id)")
def export_queue_cmd(db_url: str | None, key_path: Path | None, out: Path, roster: Path | None,
                     only: str | None) -> None:
    """Write the open assignments as a blinded, fillable review file (JSONL)."""
    from safemed.artifacts import atomic_writer
    from safemed.curate.assign import queue_rows, read_roster
    from safemed.curate.view import open_view

    ids: dict[str, str] | None = None
    keys = load_key_option(key_path, required=roster is not None or only is not None)
    if roster is not None and keys is not None:
        ids = {r.pseudonym: r.reviewer_id for r in read_roster(roster, keys)}
    who = keys.pseudonym(only) if only is not None and keys is not None else None
    n = 0
    with _open(db_url) as led, open_view(led) as view, atomic_writer(out) as fh:
        for row in queue_rows(view, ids, reviewer=who):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    click.echo(f"wrote {n} open assignments to {out}")


@curate.command("import-reviews")
@db_option
@key_option
@click.argument("reviews", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_reviews_cmd(db_url: str | None, key_path: Path | None, reviews: Path) -> None:
    """Import filled-in reviews (scores, verdict, edits) in one transaction."""
    from safemed.curate.reviews import import_reviews

    with _open_for_append(db_url, key_path) as led:
        n_reviews, n_edits = import_reviews(led, reviews, led.keys)
        size = led.size()
    click.echo(f"imported {n_reviews} reviews and {n_edits} edits; ledger size {size}")


@curate.command("adjudicate")
@db_option
@key_option
@click.option("--decisions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSONL of the panel's decisions to record (else: list the queue)")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the queue here as JSONL")
@click.option("--max-spread", type=click.IntRange(0), default=1, show_default=True,
              help="scores further apart than this on any dimension need the panel")
def adjudicate_cmd(db_url: str | None, key_path: Path | None, decisions: Path | None, out: Path | None,
                   max_spread: int) -> None:
    """List the adjudication queue, or record the panel's decisions."""
    from contextlib import ExitStack

    from safemed.artifacts import atomic_writer
    from safemed.curate.adjudicate import import_decisions, iter_adjudication_queue
    from safemed.curate.view import open_view

    if decisions is not None:
        with _open_for_append(db_url, key_path) as led:
            counts = import_decisions(led, decisions, led.keys, max_spread=max_spread)
        click.echo("recorded decisions: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return
    n = 0
    with _open(db_url) as led, open_view(led) as view, ExitStack() as stack:
        fh = stack.enter_context(atomic_writer(out)) if out is not None else None
        for entry in iter_adjudication_queue(view, max_spread=max_spread):
            click.echo(f"{entry.item_id}: {'; '.join(entry.reasons)}")
            if fh is not None:
                fh.write(json.dumps(entry.as_dict(), ensure_ascii=False) + "\n")
            n += 1
    click.echo(f"{n} items await adjudication")


def _thresholds(values: tuple[str, ...]) -> dict[str, float]:
    from safemed.records.curation import RUBRICS

    known = {d for dims in RUBRICS.values() for d in dims}
    out = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or name not in known:
            raise ConfigError(f"--threshold {value!r}: expected DIMENSION=VALUE; dimensions: "
                              f"{', '.join(sorted(known))}")
        try:
            out[name] = float(number)
        except ValueError as exc:
            raise ConfigError(f"--threshold {value!r}: {number!r} is not a number") from exc
    return out


@curate.command("retain")
@db_option
@key_option
@click.option("--min-score", type=click.FloatRange(1, 5), default=3.0, show_default=True,
              help="mean review score needed on every dimension")
@click.option("--threshold", "thresholds", multiple=True, metavar="DIM=VALUE", help="per-dimension override")
@click.option("--min-reviews", type=click.IntRange(1), default=2, show_default=True)
@click.option("--max-spread", type=click.IntRange(0), default=1, show_default=True)
@click.option("--dry-run", is_flag=True, help="print the decisions without recording them")
def retain_cmd(db_url: str | None, key_path: Path | None, min_score: float, thresholds: tuple[str, ...],
               min_reviews: int, max_spread: int, dry_run: bool) -> None:
    """Apply the retention rule and record a decision for every item it can decide."""
    from collections import Counter
    from collections.abc import Iterator

    from safemed.curate.retain import RetentionRule, iter_decisions
    from safemed.curate.view import CurationView, append_consistent, open_view
    from safemed.records.curation import NewEvent, event_for

    rule = RetentionRule(min_score=min_score, thresholds=_thresholds(thresholds), min_reviews=min_reviews,
                         max_spread=max_spread)
    counts: Counter[bool] = Counter()

    def build(view: CurationView) -> Iterator[NewEvent]:
        counts.clear()
        for decision in iter_decisions(view, rule):
            counts[decision.retained] += 1
            yield event_for(decision, actor="system")

    if dry_run:
        with _open(db_url) as led, open_view(led) as view:
            for _ in build(view):
                pass
    else:
        with _open_for_append(db_url, key_path) as led:
            append_consistent(led, build)
    kept, total = counts[True], counts[True] + counts[False]
    click.echo(f"rule: {rule.describe()}")
    click.echo(f"{'would decide' if dry_run else 'decided'} {total} items: {kept} retained, "
               f"{total - kept} not retained")


@curate.command("agreement")
@db_option
@click.option("--n-boot", type=click.IntRange(100), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def agreement_cmd(db_url: str | None, n_boot: int, seed: int, json_out: Path | None) -> None:
    """Inter-reviewer agreement: Krippendorff's alpha (ordinal, bootstrap CI) per dimension and specialty."""
    from safemed.artifacts import atomic_write_json
    from safemed.curate.agreement import agreement
    from safemed.curate.view import open_view

    with _open(db_url) as led, open_view(led) as view:
        rows = agreement(view, n_boot=n_boot, seed=seed)
    if not rows:
        click.echo("no trace has two reviews yet")
    for row in rows:
        d = row.as_dict()
        alpha = "n/a" if d["alpha"] is None else f"{d['alpha']:.3f}"
        ci = "" if d["ci_low"] is None else f" [{d['ci_low']:.3f}, {d['ci_high']:.3f}]"
        click.echo(f"{row.specialty:<20} {row.dimension:<32} alpha {alpha}{ci}  ({row.traces} traces)")
    if json_out is not None:
        atomic_write_json(json_out, [r.as_dict() for r in rows])


@curate.command("export")
@db_option
@key_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["sft", "grpo"]), default="sft", show_default=True)
@click.option("--name", default="safemed-curated", show_default=True, help="dataset name in the datasheet")
@click.option("--sign/--no-sign", default=None,
              help="sign a checkpoint of the exported tree [default: when the key file exists]")
@click.option("--simulated", is_flag=True,
              help="the reviews are simulated (a demonstration): the manifest and datasheet say so")
def export_cmd(db_url: str | None, key_path: Path | None, out: Path, fmt: Literal["sft", "grpo"], name: str,
               sign: bool | None, simulated: bool) -> None:
    """Export retained items as training rows with provenance, a datasheet and a manifest."""
    from safemed.curate.export import export_dataset

    keys = load_key_option(key_path, required=bool(sign))
    with _open(db_url, keys) as led:
        result = export_dataset(led, out, fmt, name=name, sign=keys is not None and sign is not False,
                                simulated=simulated)
    click.echo(f"wrote {result.rows} {fmt} rows to {out} (ledger size {result.ledger.tree_size}, "
               f"root {result.ledger.root})")
    click.echo("funnel: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.funnel.items()))


@curate.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def status_cmd(db_url: str | None, as_json: bool) -> None:
    """The curation funnel and the queues (awaiting review, adjudication, escalated)."""
    from safemed.curate.funnel import status
    from safemed.curate.view import open_view

    with _open(db_url) as led, open_view(led) as view:
        data = status(view)
    if as_json:
        _echo_json(data)
        return
    click.echo(f"ledger size {data['tree_size']}")
    for section in ("funnel", "queues"):
        click.echo(f"{section}:")
        for key, value in data[section].items():
            click.echo(f"  {key.replace('_', ' ')}: {value}")
