"""``safemed redteam``: attack a model and measure attack success; ``redteam generate`` writes
red-team prompt sets for GRPO training."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from safemed.artifacts import new_manifest
from safemed.backends import BackendOptions, GenerationParams, RequestEngine, ResponseCache, RetryPolicy, build_backend
from safemed.cli.display import console, err_console, sample_progress
from safemed.cli.redteam_generate import generate_command
from safemed.errors import ConfigError
from safemed.evaluate.run_folder import CACHE, RESULTS


def _pct(block: dict[str, Any]) -> str:
    if block.get("asr") is None:
        return "—"
    low, high = block["ci95"]
    return f"{100 * block['asr']:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


@click.group("redteam", invoke_without_command=True)
@click.option("--model", default=None, metavar="SPEC", help="Target model (openai/NAME@URL, local/default, …).")
@click.option("--seeds", default="med-safety-bench", show_default=True, metavar="SET|prompts:PATH",
              help="Harmful seed requests (a prompt set or a JSONL).")
@click.option("--attacks", default="all", show_default=True, metavar="all|NAME[,NAME…]",
              help="Attacks to run; 'all' = every template attack, plus model and multi-turn ones with --attacker.")
@click.option("--judge", "judges", multiple=True, metavar="SPEC", help="MSB judge model; repeat for a panel.")
@click.option("--attacker", default=None, metavar="SPEC", help="Attacker model for model-based and multi-turn attacks.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Run folder (resumable).")
@click.option("--limit", type=click.IntRange(1), default=None, help="First N harmful seeds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for attack variants and CIs.")
@click.option("--no-direct", is_flag=True, help="Do not send the seeds unmodified as a baseline.")
@click.option("--calibration", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A calibration.json from `safemed judges calibrate`: also report corrected ASRs.")
@click.option("--max-new-tokens", type=click.IntRange(1), default=512, show_default=True)
@click.option("--concurrency", type=click.IntRange(1), default=16, show_default=True)
@click.option("--max-attempts", type=click.IntRange(1), default=6, show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True)
@click.option("--n-boot", type=click.IntRange(100), default=2000, show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.option("--quiet", "-q", is_flag=True)
@click.pass_context
def redteam(ctx: click.Context, model: str | None, seeds: str, attacks: str, judges: tuple[str, ...],
            attacker: str | None, out: Path | None, limit: int | None, seed: int, no_direct: bool,
            calibration: Path | None, max_new_tokens: int, concurrency: int, max_attempts: int, timeout: float,
            n_boot: int, data_dir: Path | None, quiet: bool) -> None:
    """Red-team MODEL: every seed directly and through each attack, judged by an MSB panel.

    Reports the attack success rate (a judge score >= 4) per attack, per AMA category and
    overall, with CIs, and lists the most successful prompts.

    Example: safemed redteam --model openai/m@URL --seeds med-safety-bench --attacks all --judge openai/j@URL --out DIR
    """
    if ctx.invoked_subcommand is not None:
        return
    if model is None or out is None or not judges:
        raise ConfigError("safemed redteam needs --model, --judge and --out (or use `safemed redteam generate`)")
    from safemed.attacks import MultiTurnAttack, get_attacks
    from safemed.datasets import get_prompt_set
    from safemed.evaluate.redteam import run_redteam_folder, seeds_of
    from safemed.evaluate.safety import JudgeModel, Panels
    from safemed.settings import data_dir as default_data_dir

    chosen = get_attacks(attacks)
    if attacks == "all" and attacker is None:
        chosen = [a for a in chosen if a.kind == "template"]
    needs = [a.name for a in chosen if a.kind != "template"]
    if needs and attacker is None:
        raise ConfigError(f"attacks {', '.join(needs)} need an attacker model: add --attacker SPEC")
    folder = default_data_dir(data_dir)
    prompt_set = get_prompt_set(seeds)
    items = seeds_of(prompt_set.load(folder), limit)
    if not items:
        raise ConfigError(f"no harmful seeds in {seeds}")
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS).unlink(missing_ok=True)
    cache = ResponseCache(out / CACHE)
    options = BackendOptions(timeout=timeout, pool_size=max(16, concurrency))
    engines: dict[str, RequestEngine] = {}

    def engine(spec: str) -> RequestEngine:
        if spec not in engines:
            engines[spec] = RequestEngine(build_backend(spec, options), cache=cache, concurrency=concurrency,
                                          retry=RetryPolicy(max_attempts=max_attempts), seed=seed)
        return engines[spec]

    target = engine(model)
    attacker_engine = engine(attacker) if attacker else None
    by_kind = Panels([JudgeModel(engine(spec)) for spec in judges])
    panels = {"en": by_kind.get("msb")}
    if any(item.language == "zh" for item in items):
        panels["zh"] = by_kind.get("msb-zh")
    params = GenerationParams(temperature=0.0, max_tokens=max_new_tokens, seed=seed)
    attacker_params = GenerationParams(temperature=1.0, max_tokens=512, seed=seed)
    cal = json.loads(calibration.read_text(encoding="utf-8")) if calibration else None
    seed_file = prompt_set.path(folder)
    config = {"model": target.backend.describe(), "seeds": seeds, "limit": limit,
              "attacks": [a.name for a in chosen], "judges": [d for pn in panels.values() for d in pn.describe()],
              "attacker": attacker, "params": params.as_dict(),
              "multi_turn": [a.name for a in chosen if isinstance(a, MultiTurnAttack)],
              "calibration": str(calibration) if calibration else None}
    manifest = new_manifest("redteam-run", seed=seed, inputs=[seed_file] if seed_file.is_file() else [],
                            config=config)
    per_seed = len(chosen) + (0 if no_direct else 1)
    try:
        results = run_redteam_folder(
            out, items, chosen, target=target, attacker=attacker_engine, panels=panels, engines=engines, cache=cache,
            manifest=manifest, params=params, attacker_params=attacker_params, seed=seed, n_boot=n_boot,
            include_direct=not no_direct, calibration=cal,
            progress=sample_progress({"attempts": len(items) * per_seed}, enabled=not quiet),
            header={"model": model, "seeds": seeds})
    except KeyboardInterrupt:
        err_console.print(f"[yellow]interrupted[/]: finished work is cached in {out}; run the same command to resume")
        sys.exit(130)
    table = Table(title=f"Attack success rate (%) — {model}, {len(items)} seeds")
    for col in ("attack", "attempts", "panel ASR [95% CI]", *[f"{j}" for j in judges], "failed"):
        table.add_column(col)
    for name, block in [*results["attacks"].items(), ("[bold]overall (attacks)", results["overall"])]:
        per = [_pct(block["judges"].get(f"msb[{spec}]") or block["judges"].get(f"msb-zh[{spec}]", {}))
               for spec in judges]
        table.add_row(name, str(block["n_attempts"]), _pct(block), *per, str(block["n_failed"]))
    console.print(table)
    for row in results["top_prompts"][:3]:
        console.print(f"top: {row['attack']} on {row['seed_id']} (panel mean {row['panel_mean']:.2f})")
    console.print(f"wrote {out}/results.json, samples.jsonl, manifest.json")


redteam.add_command(generate_command)
