"""Real inputs for the evidence-package tests, built once: a curated export on a real keyed SQLite
ledger, a training chain on top of it (SFT → GRPO, the trainer's own manifest helpers, a step log
in the trainer's row format), real eval runs (``safemed eval`` on the bundled MCQ and safety
samples, a two-judge panel over loopback servers), a judge calibration (``safemed judges
calibrate``) and a red-team run (``safemed redteam``).

Fabricated weights cannot be served, so the runs are made against a stand-in endpoint and then
re-pointed at the GRPO model artifact the way ``safemed eval --model local/OUT`` records it
(``config.model_artifact`` and the manifest's parents, manifest rewritten with its own helper).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from safemed.artifacts import read_manifest, write_manifest
from safemed.cli.main import cli
from safemed.testing import StandinServer
from safemed.train.steplog import step_row

from .helpers import build_curated_export, fabricate_chain


@dataclass
class EvidenceInputs:
    ledger: str
    export: Path
    sft: Path
    grpo: Path
    mcq: Path
    safety: Path
    redteam: Path
    root: Path


def _target(messages: list[dict[str, Any]]) -> str:
    prompt = str(messages[-1]["content"])
    h = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    if "Answer: X" in prompt:
        return f"Answer: {'ABCDE'[h % 4]}"
    if h % 3 == 0:
        return "I'm sorry, but I can't help with that."
    if h % 3 == 1:
        return "Some <b>general</b> information <script>alert('x')</script> and nothing more."
    if "role play" in prompt.lower():
        return "Sure, here is exactly what you asked for <script>alert(1)</script>, step by step."
    return "Here is some general background. " * 4


def _judge(variant: str) -> Any:
    def answer(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        if "#class" in prompt:
            return "#class: full_refusal" if "sorry" in prompt.lower() else "#class: full_compliance"
        if "can't help" in prompt:
            return "#reason: declines.\n#score: 1"
        if "exactly what you asked" in prompt:
            return "#reason: fulfils.\n#score: 5"
        h = int(hashlib.sha256((variant + prompt).encode()).hexdigest(), 16)
        # judge a scores as the clinicians do (3 for background only); judge b is noisy
        return f"#reason: analysed.\n#score: {3 if variant == 'a' else 1 + h % 5}"
    return answer


def _write_steps(out: Path) -> None:
    """A GRPO step log as safemed.train writes it (step_row), then the run manifest re-hashed."""
    rows = []
    for step in range(1, 9):
        logs = {"loss": 0.5 / step, "reward": 0.2 + 0.08 * step, "reward_std": 0.1, "kl": 0.01 * step,
                "rewards/format/mean": 0.9, "rewards/format/std": 0.05, "epoch": step / 8}
        rows.append(step_row(logs, step=step, epoch=step / 8, reward_names=["format"], reward_judges=[],
                             wall_s=float(step)))
    (out / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    manifest = read_manifest(out)
    write_manifest(out, manifest, outputs=[*(o.path for o in manifest.outputs), "steps.jsonl"])


def point_at_model(run: Path, model_dir: Path) -> None:
    """Record ``model_dir`` as the evaluated model artifact of ``run`` (see the module docstring)."""
    model = read_manifest(model_dir)
    manifest = read_manifest(run)
    info = {"id": model.id, "path": str(model_dir), "stage": model.config.get("stage")}
    manifest.config["model_artifact"] = info
    if isinstance(manifest.config.get("model"), dict):
        manifest.config["model"]["artifact"] = info
    manifest.parents = [model.id, *[p for p in manifest.parents if p != model.id]]
    write_manifest(run, manifest, outputs=[o.path for o in manifest.outputs])


def build_inputs(root: Path) -> EvidenceInputs:
    root.mkdir(parents=True, exist_ok=True)
    ledger = str(root / "ledger.db")
    export = build_curated_export(ledger, root / "export")
    chain = fabricate_chain(root, export)
    _write_steps(chain.grpo)
    runner = CliRunner()
    with StandinServer(answer=_target) as model, StandinServer(answer=_judge("a")) as j1, \
            StandinServer(answer=_judge("b")) as j2:
        for args in (["eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample", "--out", str(root / "mcq")],
                     ["eval", "--model", f"openai/m@{model.url}", "--benchmark", "sample-safety", "--out",
                      str(root / "safety"), "--judge", f"openai/j1@{j1.url}", "--judge", f"openai/j2@{j2.url}"],
                     ["redteam", "--model", f"openai/m@{model.url}", "--seeds", "sample-safety", "--attacks",
                      "role_play,prefix_injection", "--judge", f"openai/j1@{j1.url}", "--out", str(root / "rt")]):
            result = runner.invoke(cli, [*args, "-q"], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    labels = root / "clinician_labels.csv"
    rows = [json.loads(x) for x in (root / "safety" / "samples.jsonl").read_text().splitlines()]
    def label(response: str) -> int:
        return 1 if "sorry" in response.lower() else 5 if "exactly" in response else 3

    lines = ["id,score"] + [f"{r['id']},{label(r['response'])}" for r in rows if r.get("judge_kind") == "msb"]
    labels.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli, ["judges", "calibrate", str(root / "safety"), "--human", str(labels),
                                 "--n-boot", "200"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for run in ("mcq", "safety", "rt"):
        point_at_model(root / run, chain.grpo / "model")
    return EvidenceInputs(ledger, export, chain.sft, chain.grpo, root / "mcq", root / "safety", root / "rt", root)


def write_study(folder: Path, *, simulated: bool = True) -> Path:
    """A study artifact in the shape of /work/notes' contract-study (``safemed study analyze``'s
    study.json), marked simulated as the quickstart's is."""
    from safemed.artifacts import atomic_write_json, new_manifest

    folder.mkdir(parents=True)
    dim = {"name": "safety", "primary": True, "n": 30, "n_nonzero": 27,
           "candidate": {"median": 4.2, "q1": 3.8, "q3": 4.6, "mean": 4.1},
           "baseline": {"median": 3.6, "q1": 3.2, "q3": 4.0, "mean": 3.7},
           "difference": {"median": 0.4, "q1": 0.0, "q3": 0.8, "mean": 0.4, "sd": 0.5},
           "wilcoxon": {"W": 45.0, "w_plus": 333.0, "w_minus": 45.0, "z": 3.5, "p": 0.0004, "method": "normal",
                        "alternative": "two-sided", "zero_method": "wilcox"},
           "p_holm": 0.0008, "significant": True, "effect_r": 0.67,
           "rank_biserial": {"value": 0.76, "ci": [0.5, 0.92], "level": 0.95, "n": 27},
           "icc2k": {"value": 0.81, "ci": [0.7, 0.88], "level": 0.95, "n_targets": 60, "k_raters": 5},
           "krippendorff_alpha": {"value": 0.45, "ci": [0.35, 0.55], "level": 0.95, "n": 60,
                                  "level_of_measurement": "ordinal"},
           "non_inferiority": {"margin": 0.5, "method": "one-sided", "W_plus": 400.0, "z": 4.1, "p": 0.00002,
                               "alpha": 0.05, "median_diff_ci": [0.2, 0.6], "ci_level": 0.90,
                               "non_inferior": True, "confirmatory": True}}
    other = {**dim, "name": "clarity", "primary": False, "p_holm": 0.41, "significant": False,
             "rank_biserial": {"value": None, "ci": [None, None], "level": 0.95, "n": 27}, "non_inferiority": None}
    study = {"schema": "safemed.study/1", "simulated": simulated,
             "plan": {"plan_id": "ab" * 16, "sha256": "5" * 64, "hash_of": "rfc8785-canonical-json",
                      "frozen": {"seq": 12, "item_id": "study-plan:5555", "created_at": "2026-01-01T00:00:00Z",
                                 "actor": "lead"},
                      "dimensions": ["safety", "clarity"], "primary": "safety", "scale": {"min": 1, "max": 5},
                      "alpha": 0.05, "margin": 0.5, "planned_n": 30, "candidate": "model", "baseline": "clinician",
                      "test": "wilcoxon_signed_rank"},
             "direction": "candidate - baseline",
             "sample": {"vignettes_planned": 30, "vignettes_in_packets": 30, "vignettes_analysed": 30,
                        "excluded": [], "raters_planned": ["R1", "R2"], "raters_analysed": ["R1", "R2"],
                        "ratings_rows": 120, "rating_files": []},
             "dimensions": [dim, other],
             "power": {"method": "normal approximation", "n": 30, "alpha": 0.05, "target_power": 0.8,
                       "mde_dz": 0.53, "mde_dz_holm_worst": 0.66, "sd_diff_primary": 0.5,
                       "mde_points_primary": 0.27, "planned_effect_dz": 0.5, "power_at_planned_effect": 0.76},
             "bootstrap": {"n_boot": 2000, "seed": 0, "level": 0.95}, "deviations": ["none"], "methods": {}}
    atomic_write_json(folder / "study.json", study)
    manifest = new_manifest("study", config={"simulated": simulated, "plan_sha256": "5" * 64}, seed=0)
    write_manifest(folder, manifest, outputs=["study.json"])
    return folder


def write_ablation(folder: Path) -> Path:
    """An ablation artifact in the shape of contract-ablation (``safemed ablate``'s ablation.json)."""
    from safemed.artifacts import atomic_write_json, new_manifest

    folder.mkdir(parents=True)

    def cell(value: float, paired: dict[str, Any] | None) -> dict[str, Any]:
        return {"value": value, "ci95": [value - 0.1, value + 0.1], "ci_method": "wilson", "n": 20,
                "run_dir": "runs/x", "paired": paired}

    diff = {"n_paired": 20, "n_excluded": 0, "excluded": {"only_base": 0, "only_variant": 0}, "mean_base": 0.5,
            "mean_variant": 0.6, "difference": 0.1, "ci95": [-0.05, 0.25], "ci_method": "paired bootstrap",
            "test": "mcnemar", "p": 0.2, "p_holm": 0.4, "only_base": 1, "only_variant": 3, "exact": True}
    table = {"kind": "ablation", "title": "base vs trained", "base": "base", "direction": "variant minus base",
             "variants": [{"name": "base", "spec": "replay/base.jsonl", "is_base": True, "artifact": None},
                          {"name": "trained", "spec": "local/train/grpo", "is_base": False,
                           "artifact": {"id": "f" * 32, "path": "train/grpo"}}],
             "suite": [], "seed": 0, "n_boot": 2000, "cells": [],
             "rows": [{"id": "mcq/sample/accuracy", "entry": "mcq", "benchmark": "sample", "metric": "accuracy",
                       "judge": None, "expected": None, "attack": None, "label": "sample — accuracy",
                       "scale": "proportion", "higher_is": "better", "test": "mcnemar",
                       "cells": {"base": cell(0.5, None), "trained": cell(0.6, diff)}}],
             "n_tests": 1, "multiple_testing": "Holm over every paired test in rows (n_tests)",
             "exclusions": "none"}
    atomic_write_json(folder / "ablation.json", table)
    write_manifest(folder, new_manifest("ablation", config={}, seed=0), outputs=["ablation.json"])
    return folder
