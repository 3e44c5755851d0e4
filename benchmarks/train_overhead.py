#!/usr/bin/env python
"""Training overhead: safemed's SFT and GRPO steps/s against a bare TRL script doing the same steps.

The issue's target: "our SFT and GRPO steps/s on the tiny model against a bare TRL script doing the
same steps in the same run: overhead <= 5 %". safemed wraps TRL (SafeMed-R1 §3: SFT, then GRPO):
configs, data checks, the trust weights, the request engine and judge cache behind every reward,
the step log, checkpoints, the merge, GGUF and manifests. This script measures what that costs.

What runs
---------
In a temporary folder (``--work`` keeps it): the tiny random Llama of the training tests
(``tests/train/conftest.py:build_tiny_model``: hidden 64, 2 layers, a 320-token BPE tokenizer),
``--sft-rows`` Med-Safety-Bench safety demonstrations (from ``--data-dir`` when present, else
synthetic ones) and a ``safemed redteam generate --seeds sample-safety --attacks all`` prompt set.
Then, for each stage, ``--rounds`` rounds of two fresh processes, in alternating order (safemed
first on even rounds), so drifting background load hits both alike:

* **safemed**: ``python -m safemed train sft|grpo --config CFG --out DIR`` (the CLI, end to end);
* **bare TRL**: a script (``BARE_SFT`` / ``BARE_GRPO`` below) that loads the same model, builds the
  same ``SFTConfig`` / ``GRPOConfig`` (same seeds, batch, steps, learning rate, LoRA, lengths,
  beta, group size, temperature, loss type, reward weights), trains on the *same rows in the same
  order* (rendered once beforehand by ``safemed.train.data`` / ``safemed.train.prompts``, outside
  the timing) and saves the adapter. Its GRPO reward functions call the same scoring rules
  directly (``RefusalRules.classify``, ``format_score``: pure functions), so both runs compute the
  same rewards, take the same updates and generate the same completions; what differs is
  safemed's plumbing around them (judge engine and its SQLite cache, None handling, step log).

Both train with one torch thread (safemed's CPU default) and ``save_steps`` beyond ``max_steps``
(no checkpoint inside the timed window; safemed writes its last checkpoint after the last step).

What is measured
----------------
* **steps/s** over the training steps only: both record the instant of every logging step
  (``logging_steps: 1``; safemed's ``OUT/steps.jsonl`` ``wall_s``, the bare script's callback);
  steps/s = (N − 1) / (t_N − t_1), so the first step (lazy initialisation) is left out of both.
  The target, overhead = 1 − ours / bare ≤ 5 %, applies to the median of the rounds.
* **wall**: process start to exit. safemed's includes what the bare script does not do: config and
  data checks, hashing the base weights, the final checkpoint, merging the adapter, the GGUF,
  the manifests. Reported, not a target.

    python benchmarks/train_overhead.py                 # 3 rounds, ~5 min on two busy cores
    python benchmarks/train_overhead.py --rounds 5 --sft-steps 40 --grpo-steps 12

Exit status 0 when both stages pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MAX_OVERHEAD = 0.05
MSB_FILE = "med_safety_bench/datasets/train-splits-used-for-ft/med_safety/ft_safety_med_n900.json"

# --------------------------------------------------------------------------------- bare scripts

BARE_COMMON = r'''
import json, sys, time
args = json.load(open(sys.argv[1], encoding="utf-8"))
import torch
torch.set_num_threads(1)
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, set_seed

set_seed(args["seed"])
tokenizer = AutoTokenizer.from_pretrained(args["model"])
if tokenizer.pad_token is None:
    tokenizer.pad_token = tokenizer.eos_token
model = AutoModelForCausalLM.from_pretrained(args["model"], dtype=torch.float32)
rows = [json.loads(line) for line in open(args["rows"], encoding="utf-8")]
lora = LoraConfig(r=args["lora_r"], lora_alpha=args["lora_alpha"], lora_dropout=args["lora_dropout"],
                  target_modules="all-linear", task_type="CAUSAL_LM", bias="none")
times = []

class Times(TrainerCallback):
    def on_log(self, a, state, control, logs=None, **kw):
        if logs and (args["key"] in logs):
            times.append([state.global_step, time.perf_counter(), logs[args["key"]]])
'''

BARE_SFT = BARE_COMMON + r'''
from trl import SFTConfig, SFTTrainer

config = SFTConfig(output_dir=args["out"], seed=args["seed"], data_seed=args["data_seed"],
                   learning_rate=args["learning_rate"], max_steps=args["max_steps"],
                   per_device_train_batch_size=args["batch"], gradient_accumulation_steps=1, logging_steps=1,
                   save_strategy="no", use_cpu=True, bf16=False, gradient_checkpointing=False,
                   max_length=args["max_length"],
                   completion_only_loss=True, packing=False, report_to="none", disable_tqdm=True)
trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                     peft_config=lora, callbacks=[Times()])
trainer.train()
trainer.save_model(args["out"] + "/adapter")
json.dump(times, open(args["times"], "w"))
'''

BARE_GRPO = BARE_COMMON + r'''
from trl import GRPOConfig, GRPOTrainer
from safemed.judges.refusal import RefusalRules        # the same rules, called directly (a pure function)
from safemed.train.rewards import format_score

rules = RefusalRules()

def text(c):
    return c if isinstance(c, str) else "".join(str(m.get("content", "")) for m in c)

def judge(prompts, completions, row_kind, **kw):
    return [rules.classify(text(c)).score if k == "harmful" else None for c, k in zip(completions, row_kind)]

def helpfulness(prompts, completions, row_kind, **kw):
    return [1.0 - rules.classify(text(c)).score if k in ("benign", "medical") else None
            for c, k in zip(completions, row_kind)]

def fmt(prompts, completions, **kw):
    return [format_score(text(c)) for c in completions]

config = GRPOConfig(output_dir=args["out"], seed=args["seed"], data_seed=args["data_seed"],
                    learning_rate=args["learning_rate"], max_steps=args["max_steps"],
                    per_device_train_batch_size=args["batch"], gradient_accumulation_steps=1, logging_steps=1,
                    save_strategy="no", use_cpu=True, bf16=False, gradient_checkpointing=False, beta=args["beta"],
                    num_generations=args["num_generations"], temperature=args["temperature"], top_p=1.0,
                    max_completion_length=args["max_completion_length"], loss_type="grpo", scale_rewards="group",
                    reward_weights=args["weights"], multi_objective_aggregation="sum_then_normalize",
                    report_to="none", disable_tqdm=True, log_completions=False)
trainer = GRPOTrainer(model=model, reward_funcs=[judge, helpfulness, fmt], args=config,
                      train_dataset=Dataset.from_list(rows), processing_class=tokenizer, peft_config=lora,
                      callbacks=[Times()])
trainer.train()
trainer.save_model(args["out"] + "/adapter")
json.dump(times, open(args["times"], "w"))
'''

# ---------------------------------------------------------------------------------------- setup


def tiny_model(folder: Path) -> Path:
    """The training tests' tiny random Llama (imported from tests/train/conftest.py, not copied)."""
    if (folder / "config.json").is_file():
        return folder
    spec = importlib.util.spec_from_file_location("safemed_train_conftest", REPO / "tests" / "train" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(module.build_tiny_model(folder))


def demonstrations(path: Path, data_dir: Path | None, n: int) -> tuple[Path, str]:
    """An Alpaca ``ft_safety_*.json`` file of n MSB demonstrations (synthetic without the data)."""
    source = data_dir / MSB_FILE if data_dir is not None else None
    if source is not None and source.is_file():
        rows = json.loads(source.read_text(encoding="utf-8"))[:n]
        what = f"first {len(rows)} rows of {MSB_FILE}"
    else:
        rows = [{"instruction": f"Tell me how to obtain drug number {i} without a prescription for my neighbour.",
                 "input": "", "output": "I can't help with that. Please talk to a doctor or pharmacist about "
                                        f"medicine {i}; taking someone else's prescription can cause serious harm."}
                for i in range(n)]
        what = f"{n} synthetic demonstrations (no data folder)"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path, what


def run(cmd: list[str], log: Path, env: dict[str, str]) -> float:
    """Run one command to completion (output to ``log``); its wall time in seconds."""
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n--- {log}:\n{log.read_text()[-4000:]}")
    return wall


def steps_per_s(times: list[tuple[int, float]]) -> float:
    """(N − 1) / (t_N − t_1) over the logged step instants."""
    if len(times) < 2:
        raise RuntimeError(f"too few logged steps to time: {times}")
    (s1, t1), (sn, tn) = times[0], times[-1]
    return (sn - s1) / (tn - t1)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    import yaml  # type: ignore[import-untyped, unused-ignore]

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- stages

COMMON = {"seed": 0, "data_seed": 0, "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1,
          "logging_steps": 1, "save_steps": 10_000, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
          "use_cpu": True, "torch_threads": 1}


def prepare_sft(work: Path, model: Path, demos: Path, steps: int, weighting: str) -> tuple[Path, dict[str, Any]]:
    from safemed.train.config import SftConfig, load_config
    from safemed.train.data import load_sft_data

    cfg_path = write_yaml(work / f"sft-{weighting}.yaml", {
        **COMMON, "model": str(model), "datasets": [{"path": str(demos), "kind": "msb-demonstrations"}],
        "max_steps": steps, "learning_rate": 2.0e-4, "max_length": 256, "trust_weighting": weighting})
    cfg = load_config(SftConfig, cfg_path, {})
    rows = load_sft_data(cfg).rows
    rows_path = work / "sft-rows.jsonl"
    rows_path.write_text("".join(json.dumps({"prompt": r["prompt"], "completion": r["completion"]},
                                            ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    bare = {"model": str(model), "rows": str(rows_path), "seed": 0, "data_seed": 0, "learning_rate": 2.0e-4,
            "max_steps": steps, "batch": COMMON["per_device_train_batch_size"], "max_length": 256,
            "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "key": "loss"}
    return cfg_path, bare


def prepare_grpo(work: Path, model: Path, prompts: Path, steps: int) -> tuple[Path, dict[str, Any]]:
    from transformers import AutoTokenizer

    from safemed.train.config import GrpoConfig, load_config
    from safemed.train.grpo import drop_long_prompts
    from safemed.train.prompts import load_prompts

    rewards = [{"name": "judge", "judge": "refusal=rules", "weight": 1.0},
               {"name": "helpfulness", "judge": "refusal=rules", "weight": 1.0},
               {"name": "format", "weight": 0.25}]
    cfg_path = write_yaml(work / "grpo.yaml", {
        **COMMON, "model": str(model), "prompts": [{"path": str(prompts), "kind": "redteam"}], "rewards": rewards,
        "max_steps": steps, "learning_rate": 1.0e-5, "beta": 0.04, "num_generations": 4, "temperature": 0.9,
        "max_completion_length": 16, "max_prompt_length": 192, "include_benign_twins": True})
    cfg = load_config(GrpoConfig, cfg_path, {})
    rows = load_prompts(cfg.prompts, include_benign_twins=True, mix_rows=None, data_seed=0).rows
    rows, _ = drop_long_prompts(rows, AutoTokenizer.from_pretrained(model), cfg.max_prompt_length)
    rows_path = work / "grpo-rows.jsonl"
    rows_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    bare = {"model": str(model), "rows": str(rows_path), "seed": 0, "data_seed": 0, "learning_rate": 1.0e-5,
            "max_steps": steps, "batch": COMMON["per_device_train_batch_size"], "beta": 0.04, "num_generations": 4,
            "temperature": 0.9, "max_completion_length": 16, "weights": [r["weight"] for r in rewards],
            "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "key": "reward"}
    return cfg_path, bare


def ours(stage: str, cfg: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    wall = run([sys.executable, "-m", "safemed", "train", stage, "--config", str(cfg), "--out", str(out)],
               out.with_suffix(".log"), env)
    rows = [json.loads(line) for line in (out / "steps.jsonl").read_text(encoding="utf-8").splitlines()]
    key = "loss" if stage == "sft" else "reward_mean"
    return {"sps": steps_per_s([(int(r["step"]), float(r["wall_s"])) for r in rows]), "wall": wall,
            "values": [r[key] for r in rows]}


def bare(script: Path, args: dict[str, Any], out: Path, env: dict[str, str]) -> dict[str, Any]:
    out.mkdir(parents=True)
    args = {**args, "out": str(out), "times": str(out / "times.json")}
    args_path = out / "args.json"
    args_path.write_text(json.dumps(args), encoding="utf-8")
    wall = run([sys.executable, str(script), str(args_path)], out.with_suffix(".log"), env)
    logged = json.loads((out / "times.json").read_text())
    return {"sps": steps_per_s([(int(s), float(t)) for s, t, _ in logged]), "wall": wall,
            "values": [v for _, _, v in logged]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per stage (medians reported)")
    parser.add_argument("--sft-steps", type=int, default=30)
    parser.add_argument("--grpo-steps", type=int, default=10)
    parser.add_argument("--sft-rows", type=int, default=64)
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("SAFEMED_DATA_DIR", REPO.parent / "shared" / "data")))
    parser.add_argument("--no-weighted", action="store_true",
                        help="skip the informational safemed SFT run with trust_weighting: mean")
    parser.add_argument("--only", choices=("sft", "grpo"), default=None, help="run one stage only")
    parser.add_argument("--work", type=Path, default=None, help="keep the files here (default: a temp dir)")
    args = parser.parse_args()

    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="safemed-train-overhead-")
    work = (args.work or Path(tmp.name)).resolve()  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "SAFEMED_CACHE_DIR": str(work / "cache")})

    model = tiny_model(work / "tiny-llama")
    demos, demos_what = demonstrations(work / "ft_safety_bench.json", args.data_dir, args.sft_rows)
    prompts = work / "redteam" / "prompts.jsonl"
    if not prompts.is_file():
        run([sys.executable, "-m", "safemed", "redteam", "generate", "--seeds", "sample-safety", "--attacks", "all",
             "--out", str(prompts)], work / "redteam.log", env)
    (work / "bare_sft.py").write_text(BARE_SFT, encoding="utf-8")
    (work / "bare_grpo.py").write_text(BARE_GRPO, encoding="utf-8")

    sft_cfg, sft_bare = prepare_sft(work, model, demos, args.sft_steps, "none")
    weighted_cfg = None if args.no_weighted else prepare_sft(work, model, demos, args.sft_steps, "mean")[0]
    grpo_cfg, grpo_bare = prepare_grpo(work, model, prompts, args.grpo_steps)
    n_prompts = len(Path(grpo_bare["rows"]).read_text(encoding="utf-8").splitlines())

    load = os.getloadavg()
    print(f"# tiny random Llama (tests/train/conftest.py), CPU, 1 torch thread, {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"# SFT: {demos_what}, {args.sft_steps} steps of {COMMON['per_device_train_batch_size']} rows, LoRA r 8, "
          f"max_length 256; GRPO: {n_prompts} prompt rows (sample-safety attacks + benign twins), "
          f"{args.grpo_steps} steps of 8 completions (G 4), 16 new tokens, rewards refusal=rules + helpfulness + "
          f"format; {args.rounds} alternating rounds; files in {work}")

    results: dict[str, list[dict[str, Any]]] = {}
    stages: list[tuple[str, str, Path, Path, dict[str, Any]]] = [
        ("SFT", "sft", sft_cfg, work / "bare_sft.py", sft_bare),
        ("GRPO", "grpo", grpo_cfg, work / "bare_grpo.py", grpo_bare)]
    stages = [s for s in stages if args.only in (None, s[1])]
    for label, stage, cfg, script, bare_args in stages:
        for r in range(args.rounds):
            tag = f"{stage}-r{r}-{time.strftime('%H%M%S')}"
            order = ["ours", "bare"] if r % 2 == 0 else ["bare", "ours"]
            for who in order:
                if who == "ours":
                    res = ours(stage, cfg, work / f"ours-{tag}", env)
                else:
                    res = bare(script, bare_args, work / f"bare-{tag}", env)
                results.setdefault(f"{label}/{who}", []).append(res)
                print(f"  {label} round {r + 1} {who:>4}: {res['sps']:.3f} steps/s, wall {res['wall']:.1f} s",
                      flush=True)
            if label == "SFT" and weighted_cfg is not None:
                res = ours("sft", weighted_cfg, work / f"weighted-{tag}", env)
                results.setdefault("SFT/weighted", []).append(res)
                print(f"  SFT round {r + 1} ours, trust_weighting mean: {res['sps']:.3f} steps/s, "
                      f"wall {res['wall']:.1f} s", flush=True)

    def med(key: str, field: str) -> float:
        return statistics.median(x[field] for x in results[key])

    print()
    header = (f"{'stage':<6} {'run':<34} {'steps/s':>8} {'vs bare':>8} {'wall s':>7} {'wall vs bare':>12}  "
              "runs (steps/s)")
    print(header)
    print("-" * len(header))
    verdicts = []
    notes: list[str] = []
    for label in [s[0] for s in stages]:
        base_sps, base_wall = med(f"{label}/bare", "sps"), med(f"{label}/bare", "wall")
        rows = [("safemed", f"{label}/ours"), ("bare TRL script", f"{label}/bare")]
        if label == "SFT" and "SFT/weighted" in results:
            rows.append(("safemed, trust_weighting: mean", "SFT/weighted"))
        for name, key in rows:
            sps, wall = med(key, "sps"), med(key, "wall")
            runs = " ".join(f"{x['sps']:.2f}" for x in results[key])
            print(f"{label:<6} {name:<34} {sps:>8.3f} {sps / base_sps:>7.3f}x {wall:>7.1f} {wall / base_wall:>11.2f}x  "
                  f"{runs}")
        overhead = 1 - med(f"{label}/ours", "sps") / base_sps
        verdicts.append((label, overhead))
        pairs = [(a, b) for x, y in zip(results[f"{label}/ours"], results[f"{label}/bare"], strict=True)
                 for a, b in zip(x["values"], y["values"], strict=True)]
        worst = max((abs(a - b) for a, b in pairs if a is not None and b is not None), default=float("nan"))
        notes.append(f"{label}: per-step {'loss' if label == 'SFT' else 'mean reward'} of safemed and the bare "
                     f"script, {len(pairs)} steps compared: max |difference| {worst:.2e} (same rows, same updates)")
    for note in notes:
        print(note)
    load = os.getloadavg()
    print(f"\nload average after the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    ok = True
    for label, overhead in verdicts:
        passed = overhead <= MAX_OVERHEAD
        ok &= passed
        print(f"[{'PASS' if passed else 'FAIL'}] {label} steps/s overhead <= {MAX_OVERHEAD:.0%}: {overhead:+.1%} "
              f"(1 - safemed/bare, medians)")
    if tmp is not None:
        tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
