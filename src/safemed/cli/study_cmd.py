"""``safemed study``: the human–AI paired study, from a frozen plan to ``study.md``.

Paper step "human–AI comparison" (the blinded clinician study)::

    safemed study plan --out plan.json --dimensions safety,medical_correctness --primary safety --margin 0.5
    safemed study freeze plan.json --db URL          # the plan's sha256 as a ledger event
    safemed study packets --plan plan.json --vignettes sample --responses model=sample:model \\
        --responses clinician=sample:clinician --raters R1,R2,R3,R4,R5 --seed 7 --out study
    # hand out study/packets/ only; raters return the filled CSVs
    safemed study simulate --plan plan.json --packets study --out ratings --seed 1 --effect model=0.4
    safemed study analyze study --ratings ratings/*.csv --out result --db URL

``sample`` as the vignettes and ``sample:model`` / ``sample:clinician`` as a responses file name
the 30 medication-safety vignettes and two response sets bundled with safemed.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import click

from safemed.cli.common import ErrorPrintingGroup, db_option, key_option
from safemed.errors import ConfigError

SAMPLES = ("vignettes", "model", "clinician")


def _sample(name: str) -> Path:
    if name not in SAMPLES:
        raise ConfigError(f"unknown sample {name!r}; valid: {', '.join(SAMPLES)}")
    return Path(str(resources.files("safemed.study").joinpath(f"samples/{name}.jsonl")))


def _csv_list(value: str, option: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ConfigError(f"{option}: give a comma-separated list")
    return items


def _scale(value: str) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in value.split("-", 1))
    except ValueError:
        raise ConfigError(f"--scale: {value!r} is not LOW-HIGH (e.g. 1-5)") from None
    if lo >= hi:
        raise ConfigError(f"--scale: {value!r}: LOW must be below HIGH")
    return lo, hi


@click.group("study", cls=ErrorPrintingGroup)
def study() -> None:
    """The human–AI paired study: frozen plan, blinded packets, paired statistics."""


@study.command("plan")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="plan file to write")
@click.option("--dimensions", required=True, metavar="D1,D2,…", help="rated dimensions (lower-case identifiers)")
@click.option("--primary", default=None, metavar="D", help="primary endpoint [default: the first dimension]")
@click.option("--scale", default="1-5", show_default=True, metavar="LOW-HIGH")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--margin", type=float, default=None, help="non-inferiority margin in scale points [default: none]")
@click.option("--n", "n", type=click.IntRange(2), default=30, show_default=True, help="planned vignettes")
@click.option("--candidate", default="model", show_default=True, help="source under test")
@click.option("--baseline", default="clinician", show_default=True, help="comparison source")
@click.option("--effect-dz", type=float, default=0.5, show_default=True,
              help="standardised effect (mean/sd of differences) the planned power is stated for")
@click.option("--anchors", "anchors_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help='JSON {"dimension": {"1": "text", "5": "text"}} of anchor texts')
@click.option("--n-boot", type=click.IntRange(100), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="bootstrap seed")
def plan_cmd(out: Path, dimensions: str, primary: str | None, scale: str, alpha: float, margin: float | None,
             n: int, candidate: str, baseline: str, effect_dz: float, anchors_path: Path | None, n_boot: int,
             seed: int) -> None:
    """Write the analysis plan (freeze it before anyone sees unblinded data)."""
    from safemed.study.plan import make_plan, write_plan

    anchors = None
    if anchors_path is not None:
        try:
            anchors = json.loads(anchors_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"--anchors {anchors_path}: not JSON: {exc}") from exc
        if not isinstance(anchors, dict) or not all(isinstance(v, dict) for v in anchors.values()):
            raise ConfigError(f'--anchors {anchors_path}: expected {{"dimension": {{"1": "text", …}}}}')
    plan = make_plan(_csv_list(dimensions, "--dimensions"), primary=primary, scale=_scale(scale), alpha=alpha,
                     margin=margin, n=n, candidate=candidate, baseline=baseline, effect_dz=effect_dz,
                     anchors=anchors, n_boot=n_boot, seed=seed)
    sha = write_plan(plan, out)
    click.echo(f"plan {plan['plan_id']}: {out}")
    click.echo(f"sha256 (canonical JSON): {sha}")
    click.echo(f"primary: {plan['primary']}; power {plan['power']['power']:.2f} at d_z = {effect_dz} with n = {n}")


@study.command("freeze")
@click.argument("plan_path", metavar="PLAN.json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@key_option
@click.option("--frozen-by", default=None, help="who froze it (a role or pseudonym; stored in the ledger)")
def freeze_cmd(plan_path: Path, db_url: str | None, key_path: Path | None, frozen_by: str | None) -> None:
    """Record the plan's sha256 in the ledger (again: reports the existing event)."""
    from safemed.cli.curate_cmd import _open_for_append
    from safemed.study.plan import freeze_plan

    with _open_for_append(db_url, key_path, create=True) as led:
        frozen = freeze_plan(plan_path, led, frozen_by=frozen_by)
    state = "already frozen" if frozen.existing else "frozen"
    click.echo(f"{state}: plan sha256 {frozen.sha256} is ledger event {frozen.seq} ({frozen.item_id}, "
               f"{frozen.created_at})")


@study.command("packets")
@click.option("--plan", "plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--vignettes", required=True, metavar="V.jsonl|sample", help='JSONL of {"id", "vignette"}')
@click.option("--responses", multiple=True, required=True, metavar="NAME=FILE",
              help="a source's responses: JSONL of {vignette_id, response}, a `safemed eval` run folder, "
                   "or sample:model / sample:clinician (repeat per source)")
@click.option("--raters", required=True, metavar="R1,R2,…")
@click.option("--seed", type=int, required=True, help="shuffles item ids and each rater's order")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--ratings-db", default=None, metavar="URL",
              help="also create a likert rating task with the blinded items in this review-app database")
@click.option("--ratings-task", default=None, metavar="NAME", help="its name [default: study-<plan id>]")
def packets_cmd(plan_path: Path, vignettes: str, responses: tuple[str, ...], raters: str, seed: int,
                out: Path, ratings_db: str | None, ratings_task: str | None) -> None:
    """Write one blinded packet per rater (CSV + printable HTML) and the key, kept apart."""
    from safemed.study.packets import write_packets

    sources: dict[str, Path] = {}
    for spec in responses:
        name, sep, file = spec.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise ConfigError(f"--responses {spec!r}: expected NAME=FILE")
        if name.strip() in sources:
            raise ConfigError(f"--responses: source {name.strip()!r} given twice")
        sources[name.strip()] = _sample(file[7:]) if file.startswith("sample:") else Path(file)
    vpath = _sample("vignettes") if vignettes == "sample" else Path(vignettes)
    result = write_packets(plan_path, vpath, sources, _csv_list(raters, "--raters"), seed=seed, out=out,
                           ratings_db=ratings_db, ratings_task=ratings_task)
    click.echo(f"{len(result.packets)} packets of {result.n_items} items ({result.n_vignettes} vignettes × 2 "
               f"sources) in {out / 'packets'}; key: {result.key} (keep it from the raters)")
    if result.ratings_task:
        click.echo(f"review-app task {result.ratings_task['id']} ({result.ratings_task['name']}) in {ratings_db}; "
                   f"read it back with `safemed ratings export {result.ratings_task['name']} --format jsonl`")
    for e in result.excluded:
        click.echo(f"excluded {e['vignette_id']}: {e['reason']}", err=True)
    medians = {name: v["median"] for name, v in json.loads(result.key.read_text(encoding="utf-8"))
               ["response_chars"].items()}
    if max(medians.values()) > 1.5 * max(min(medians.values()), 1):
        shown = ", ".join(f"{name} {value:.0f}" for name, value in medians.items())
        click.echo(f"warning: median response length differs by more than half between sources ({shown} "
                   "characters): raters may tell them apart", err=True)


@study.command("simulate")
@click.option("--plan", "plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--packets", "packets_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="the folder `study packets` wrote (reads its key.json)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--seed", type=int, required=True)
@click.option("--effect", "effects", multiple=True, metavar="SOURCE=DELTA",
              help="shift a source's scores by DELTA scale points (repeatable)")
@click.option("--rater-sd", type=float, default=0.7, show_default=True, help="per-rating noise SD")
def simulate_cmd(plan_path: Path, packets_dir: Path, out: Path, seed: int, effects: tuple[str, ...],
                 rater_sd: float) -> None:
    """Fill every rater's sheet from a stated generative model (marked SIMULATED)."""
    from safemed.study.simulate import simulate_ratings

    shifts: dict[str, float] = {}
    for spec in effects:
        name, sep, value = spec.partition("=")
        try:
            shifts[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--effect {spec!r}: expected SOURCE=DELTA with a number") from None
        if not sep:
            raise ConfigError(f"--effect {spec!r}: expected SOURCE=DELTA")
    sheets = simulate_ratings(plan_path, packets_dir, out, seed=seed, effects=shifts, rater_sd=rater_sd)
    click.echo(f"SIMULATED ratings: {len(sheets)} sheets in {out}")


@study.command("analyze")
@click.argument("study_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--ratings", "ratings", multiple=True, required=True, metavar="FILE.csv",
              type=click.Path(dir_okay=False, path_type=Path),
              help="filled rating sheets, or a `safemed ratings export --format jsonl` file of the study's "
                   "review-app task (repeat, or give several after one --ratings)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--plan", "plan_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="the plan file [default: DIR/plan.json]")
@db_option
@click.argument("more_ratings", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def analyze_cmd(study_dir: Path, ratings: tuple[Path, ...], out: Path, plan_path: Path | None,
                db_url: str | None, more_ratings: tuple[Path, ...]) -> None:
    """Check the frozen plan, unblind and write study.json, study.md and manifest.json."""
    from safemed.ledger.store import Ledger
    from safemed.study.analyze import analyze_study

    with Ledger.open(db_url, create=False) as led:
        result = analyze_study(study_dir, [*ratings, *more_ratings], out, led, plan_path=plan_path)
    primary = result["dimensions"][0]
    mark = " [SIMULATED]" if result["simulated"] else ""
    click.echo(f"study{mark}: {out / 'study.md'}")
    def num(x: float | None) -> str:
        return "–" if x is None else f"{x:.4g}"

    click.echo(f"primary {primary['name']}: median difference {num(primary['difference']['median'])}, "
               f"p = {num(primary['wilcoxon']['p'])} ({primary['wilcoxon']['method']}), "
               f"Holm p = {num(primary['p_holm'])}")
