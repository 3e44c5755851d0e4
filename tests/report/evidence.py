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
        return f"#reason: analysed.\n#score: {2 + h % 3}"
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
    lines = ["id,score"] + [f"{r['id']},{1 if 'sorry' in r['response'].lower() else 5 if 'exactly' in r['response'] else 3}"
                            for r in rows if r.get("judge_kind") == "msb"]
    labels.write_text("\n".join(lines) + "\n")
    result = runner.invoke(cli, ["judges", "calibrate", str(root / "safety"), "--human", str(labels), "--n-boot", "200"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for run in ("mcq", "safety", "rt"):
        point_at_model(root / run, chain.grpo / "model")
    return EvidenceInputs(ledger, export, chain.sft, chain.grpo, root / "mcq", root / "safety", root / "rt", root)
