"""``safemed train sft``: supervised fine-tuning on curated rows and safety demonstrations
(SafeMed-R1 §3, stage 1: the base model learns the clinicians' reviewed reasoning and the
"medical guard" refusals before GRPO).

How it runs (:func:`run_sft`):

1. the resolved config goes to ``OUT/config.yaml``; seeds are fixed (``seed`` for the model and
   trainer, ``data_seed`` for the mix); torch's CPU threads are set (``torch_threads``);
2. the sources are read, checked, trust-weighted and mixed (:mod:`safemed.train.data`);
3. the base model (:mod:`safemed.train.models`) gets a LoRA adapter (PEFT; QLoRA with
   bitsandbytes on CUDA) and is trained with TRL's ``SFTTrainer`` on the prompt–completion rows,
   rendered with the model's own chat template, loss on completion tokens only; with
   ``trust_weighting`` other than ``none``, the loss is the trust-weighted per-row mean
   (:mod:`safemed.train.weighting`);
4. checkpoints go to ``OUT/checkpoints`` every ``save_steps``; a killed run started again with
   the same ``OUT`` resumes from the last one (``resume: true``, the default), the step log cut
   back to that checkpoint so no step is logged twice; ``OUT/steps.jsonl`` gets one row per
   logging step (step, epoch, loss, learning_rate, grad_norm, wall_s);
5. the adapter is saved and merged into the base (``OUT/model``, plus ``model.gguf`` for
   llama.cpp where the architecture allows), each with its manifest (:mod:`safemed.train.artifact`).

``OUT/rows.jsonl`` lists the rows trained on, in order (source id, row id, weight): the link
from a checkpoint to the exact ledger items and demonstrations behind it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from safemed.artifacts import atomic_write_text
from safemed.errors import ConfigError
from safemed.train.artifact import (
    CHECKPOINTS,
    CONFIG_FILE,
    ROWS_FILE,
    STEPS_FILE,
    TrainResult,
    write_model_artifacts,
    write_run_config,
)
from safemed.train.config import SftConfig, dump_config
from safemed.train.data import load_sft_data
from safemed.train.models import configure_torch, load_model_and_tokenizer, lora_config, resolve_base, resolve_device

RESUME_MAY_CHANGE = frozenset({"output_dir", "resume", "max_steps", "num_train_epochs", "save_steps", "logging_steps",
                               "save_total_limit", "torch_threads", "merge", "gguf", "accelerate_config"})
"""Fields a resumed run may change (how long and how often, not what is trained)."""


def last_checkpoint(out: Path) -> Path | None:
    """The newest ``OUT/checkpoints/checkpoint-N`` with trainer state, or None."""
    folder = out / CHECKPOINTS
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
             and (p / "trainer_state.json").is_file()] if folder.is_dir() else []
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def check_resume(out: Path, cfg: Any) -> Path | None:
    """The checkpoint to resume from (None: a fresh run). A checkpoint of a run with another
    config, or any checkpoint with ``resume: false``, is a ConfigError rather than a silent mix."""
    checkpoint = last_checkpoint(out)
    if checkpoint is None:
        return None
    if not cfg.resume:
        raise ConfigError(f"{out / CHECKPOINTS} holds checkpoints of an earlier run and resume is false; "
                          "use another --out, or delete that folder to start over")
    previous = out / CONFIG_FILE
    if previous.is_file():
        import yaml  # type: ignore[import-untyped, unused-ignore]

        old = yaml.safe_load(previous.read_text(encoding="utf-8")) or {}
        new = dump_config(cfg)
        changed = sorted(k for k in new if k not in RESUME_MAY_CHANGE and old.get(k) != new[k])
        if changed:
            raise ConfigError(f"{out} holds a run with a different config ({', '.join(changed)} changed); "
                              "resuming would mix two runs: use another --out or the same config")
    return checkpoint


def trim_step_log(path: Path, step: int) -> float:
    """Drop step-log rows after ``step`` (logged before a kill, to be logged again on resume);
    return the wall time logged at ``step`` so the resumed log continues from it."""
    if not path.is_file():
        return 0.0
    kept, wall = [], 0.0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the kill
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step:
            kept.append(line)
            wall = float(row.get("wall_s", wall))
    atomic_write_text(path, "".join(k + "\n" for k in kept))
    return wall


def step_log_callback(path: Path, wall_offset: float = 0.0) -> Any:
    """A TrainerCallback appending one JSON row per logging step to ``path`` (main process only)."""
    from transformers import TrainerCallback

    class StepLog(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            row = {"step": state.global_step, "epoch": logs.get("epoch", state.epoch), "loss": logs["loss"],
                   "learning_rate": logs.get("learning_rate"), "grad_norm": logs.get("grad_norm"),
                   "wall_s": round(wall_offset + time.perf_counter() - self.start, 3)}
            if "mean_token_accuracy" in logs:
                row["mean_token_accuracy"] = logs["mean_token_accuracy"]
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"step {row['step']}: loss {row['loss']:.4f}", flush=True)

    return StepLog()


def sft_arguments(cfg: SftConfig, out: Path, device: Any) -> Any:
    """TRL's ``SFTConfig`` for this run."""
    from trl.trainer.sft_config import SFTConfig as TrlSftConfig

    return TrlSftConfig(
        output_dir=str(out / CHECKPOINTS), seed=cfg.seed, data_seed=cfg.data_seed, learning_rate=cfg.learning_rate,
        max_steps=cfg.max_steps, num_train_epochs=cfg.num_train_epochs,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps, warmup_steps=cfg.warmup_ratio,
        logging_steps=cfg.logging_steps, save_strategy="steps", save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit, use_cpu=device.use_cpu, bf16=device.bf16,
        gradient_checkpointing=cfg.gradient_checkpointing, max_length=cfg.max_length, completion_only_loss=True,
        packing=False, report_to="none", disable_tqdm=True, dataset_num_proc=None)


def write_rows(out: Path, rows: list[dict[str, Any]]) -> Path:
    """``OUT/rows.jsonl``: the rows trained on, in order (source, row id, weight)."""
    path = out / ROWS_FILE
    atomic_write_text(path, "".join(json.dumps({"source": r["source"], "row_id": r["row_id"], "weight": r["weight"]})
                                    + "\n" for r in rows))
    return path


def start_run(cfg: Any, out: Path) -> tuple[Path | None, Any]:
    """The steps every training run starts with: the checkpoint to resume from (None for a fresh
    run; a changed config is refused by :func:`check_resume`), the device, torch's threads, seeds."""
    import transformers

    checkpoint = check_resume(out, cfg)
    device = resolve_device(cfg)
    configure_torch(cfg, device)
    transformers.set_seed(cfg.seed)
    return checkpoint, device


def reset_step_log(out: Path, checkpoint: Path | None) -> float:
    """``OUT/steps.jsonl`` for this run: cut back to ``checkpoint`` when resuming (returns the wall
    time already spent, so the log's clock continues), removed for a fresh run (returns 0)."""
    if checkpoint is None:
        (out / STEPS_FILE).unlink(missing_ok=True)
        return 0.0
    print(f"resuming from {checkpoint}", flush=True)
    return trim_step_log(out / STEPS_FILE, int(checkpoint.name.split("-")[-1]))


def run_sft(cfg: SftConfig, out: Path) -> TrainResult:
    """Train, save and describe one SFT run into ``out`` (see the module docstring)."""
    try:
        import transformers  # noqa: F401  (here for the clear error below)
        from transformers.trainer_callback import PrinterCallback
        from trl.trainer.sft_trainer import SFTTrainer

        import datasets  # type: ignore[import-untyped, unused-ignore]
    except ImportError as exc:
        raise ConfigError(f"training needs the [train] extra: pip install -e '.[train]' ({exc})") from exc
    from safemed.train.weighting import weighted_sft_trainer

    started = time.perf_counter()
    out = Path(out)
    checkpoint, device = start_run(cfg, out)
    data = load_sft_data(cfg)
    for note in data.notes:
        print(note, flush=True)
    base = resolve_base(cfg.model)
    write_run_config(out, cfg)
    write_rows(out, data.rows)
    wall_offset = reset_step_log(out, checkpoint)

    model, tokenizer = load_model_and_tokenizer(base, cfg, device)
    train = datasets.Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"], "weight": r["weight"]}
                                        for r in data.rows])
    trainer_cls = SFTTrainer if cfg.trust_weighting == "none" else weighted_sft_trainer()
    if cfg.trust_weighting == "none":
        train = train.remove_columns("weight")
    trainer = trainer_cls(model=model, args=sft_arguments(cfg, out, device), train_dataset=train,
                          processing_class=tokenizer, peft_config=lora_config(cfg),
                          callbacks=[step_log_callback(out / STEPS_FILE, wall_offset)])
    trainer.remove_callback(PrinterCallback)  # StepLog prints one line per step instead of the raw dict
    output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    metrics = {"steps": int(trainer.state.global_step), "train_loss": float(output.training_loss),
               "final_loss": _last_loss(trainer.state.log_history), "rows": len(data.rows),
               "wall_s": round(time.perf_counter() - started, 3),
               "resumed_from": checkpoint.name if checkpoint else None}
    weighting = {"scheme": cfg.trust_weighting, "trust_floor": cfg.trust_floor,
                 "unreviewed_weight": cfg.unreviewed_weight,
                 "loss": "TRL token mean" if cfg.trust_weighting == "none" else "sum_i w_i*l_i / sum_i w_i, "
                         "l_i = mean completion-token NLL of row i",
                 "weights": _summary([r["weight"] for r in data.rows])}
    return write_model_artifacts(out, stage="sft", cfg=cfg, base=base, sources=data.uses, trainer=trainer,
                                 metrics=metrics, extra_config={"trust_weighting": weighting, "mix_notes": data.notes},
                                 device=device)


def _last_loss(history: list[dict[str, Any]]) -> float | None:
    losses = [h["loss"] for h in history if "loss" in h]
    return float(losses[-1]) if losses else None


def _summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "mean": round(sum(values) / len(values), 6), "max": max(values)}
