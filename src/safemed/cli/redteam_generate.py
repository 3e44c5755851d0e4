"""``safemed redteam generate``: write a red-team prompt set for GRPO training (SafeMed-R1 §3).

Every seed (a harmful request) goes through every selected single-turn attack; each row holds
the seed id, the attack name, the adversarial prompt and its benign twin (the same attack
applied to a harmless request, so GRPO learns not to over-refuse the surface form). Rows are
deduplicated on the normalised prompt and fully determined by ``--seed``. The JSONL is written
atomically (temp file + rename), and ``manifest.json`` (kind ``redteam-prompts``) next to it.

Example: safemed redteam generate --seeds seeds.jsonl --attacks all --per-seed 2 --out redteam/prompts.jsonl
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import click

from safemed.artifacts import new_manifest, write_manifest
from safemed.attacks import ATTACKS, Attack, GenerateStats, agenerate_attack_set, generate_attack_set, get_attacks
from safemed.backends import BackendOptions, GenerationParams, RequestEngine, RetryPolicy, build_backend
from safemed.datasets import get_prompt_set, prompts_at
from safemed.errors import ConfigError
from safemed.records import PromptItem
from safemed.settings import data_dir as default_data_dir


def load_seeds(source: str, data_dir: Path) -> tuple[Iterable[PromptItem], Path | None]:
    """Seeds from a JSONL path or a prompt-set name, and the file to record as the manifest's input."""
    path = Path(source).expanduser()
    if path.is_file():
        return prompts_at(path).load(data_dir), path  # the generic prompts:PATH loader
    if path.suffix in (".jsonl", ".json") or os.sep in source:
        raise ConfigError(f"--seeds {source!r}: no such file")
    prompt_set = get_prompt_set(source)
    where = prompt_set.path(data_dir)
    return prompt_set.load(data_dir), where if where.is_file() else None


def harmful_only(seeds: Iterable[PromptItem], skipped: list[int]) -> Iterator[PromptItem]:
    """Drop seeds marked ``expected="comply"`` (benign contrasts), counting them in ``skipped[0]``."""
    for item in seeds:
        if item.expected == "comply":
            skipped[0] += 1
            continue
        yield item


def select_attacks(spec: str, has_attacker: bool) -> list[Attack]:
    """``all`` → every single-turn attack (model ones only with an attacker); else the named ones."""
    if spec.strip() == "all":
        return [a for a in ATTACKS.values() if a.kind == "template" or (a.kind == "model" and has_attacker)]
    return get_attacks(spec)


def write_rows(handle: IO[str], rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")


async def write_rows_async(handle: IO[str], rows: AsyncIterator[dict[str, Any]]) -> None:
    async for row in rows:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")


@click.command("generate")
@click.option("--seeds", "seeds_source", required=True, metavar="NAME_OR_PATH",
              help="Harmful seed requests: a JSONL of {id, prompt, category?, language?} rows, or a prompt-set name "
                   "(e.g. med-harm-seeds, sample-safety). Seeds marked expected=comply are skipped.")
@click.option("--attacks", "attack_spec", default="all", show_default=True, metavar="all|NAME[,NAME…]",
              help="Attacks to apply; 'all' is every template attack, plus model attacks when --attacker is given.")
@click.option("--per-seed", type=click.IntRange(1), default=1, show_default=True,
              help="Draws per seed and attack (different template variants; duplicates are dropped).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random choice.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Use only the first N seeds.")
@click.option("--attacker", metavar="SPEC", default=None,
              help="Attacker model for model-written attacks, e.g. openai/NAME@URL (not the target or judge).")
@click.option("--temperature", type=float, default=0.7, show_default=True, help="Attacker sampling temperature.")
@click.option("--concurrency", type=click.IntRange(1), default=8, show_default=True,
              help="Attacker requests in flight at once.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Per-request timeout (s).")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the attacker's API key.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data folder for prompt-set names [default: $SAFEMED_DATA_DIR or ./data].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output JSONL; manifest.json is written in the same folder.")
def generate_command(seeds_source: str, attack_spec: str, per_seed: int, seed: int, limit: int | None,
                     attacker: str | None, temperature: float, concurrency: int, timeout: float, api_key_env: str,
                     data_dir: Path | None, out: Path) -> None:
    """Write an adversarial prompt set with benign twins for GRPO training (JSONL + manifest).

    Example: safemed redteam generate --seeds med-harm-seeds --attacks all --per-seed 2 --out redteam/prompts.jsonl
    """
    attacks = select_attacks(attack_spec, attacker is not None)
    loaded, seed_file = load_seeds(seeds_source, default_data_dir(data_dir))
    skipped = [0]
    seeds: Iterable[PromptItem] = harmful_only(loaded, skipped)
    if limit is not None:
        seeds = islice(seeds, limit)
    config: dict[str, Any] = {"seeds": seeds_source, "attacks": [a.name for a in attacks], "per_seed": per_seed,
                              "limit": limit, "attacker": attacker, "temperature": temperature}
    manifest = new_manifest("redteam-prompts", config=config, seed=seed,
                            inputs=[seed_file] if seed_file is not None else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    stats = GenerateStats()
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            if attacker is None:
                write_rows(handle, generate_attack_set(seeds, attacks, seed=seed, per_seed=per_seed, stats=stats))
            else:
                options = BackendOptions(api_key_env=api_key_env, timeout=timeout, pool_size=max(concurrency, 16))
                engine = RequestEngine(build_backend(attacker, options), concurrency=concurrency, seed=seed,
                                       retry=RetryPolicy())
                params = GenerationParams(temperature=temperature, max_tokens=512, seed=seed)

                async def run() -> None:
                    try:
                        await write_rows_async(handle, agenerate_attack_set(
                            seeds, attacks, seed=seed, per_seed=per_seed, attacker=engine, params=params,
                            stats=stats))
                    finally:
                        await engine.aclose()

                asyncio.run(run())
                manifest.config["attacker_stats"] = engine.stats.as_dict()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    manifest.config["counts"] = {**stats.as_dict(), "skipped_benign_seeds": skipped[0]}
    write_manifest(out.parent, manifest, outputs=[out.name])
    benign = f", {skipped[0]} benign seeds skipped" if skipped[0] else ""
    click.echo(f"wrote {stats.written} prompts from {stats.seeds} seeds to {out} ({stats.duplicates} duplicates "
               f"dropped, {stats.failed} failed attacker rewrites{benign}); manifest {out.parent / 'manifest.json'}",
               err=True)
