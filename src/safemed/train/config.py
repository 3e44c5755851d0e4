"""Training configs: dataclasses whose fields are the YAML keys and the CLI flags (TRL's own style).

SafeMed-R1 §3 aligns the model in two stages, SFT then GRPO; :class:`SftConfig` and
:class:`GrpoConfig` hold every knob of each, :class:`CommonTrainConfig` what they share. A field
``learning_rate`` is the YAML key ``learning_rate`` and the flag ``--learning-rate``; its
``help`` metadata is the flag's help text, so ``--help`` cannot drift from the code.

:func:`load_config` reads a YAML mapping, applies CLI overrides and checks every key and type:
an unknown key is a :class:`~safemed.errors.ConfigError` naming the file and the key and listing
the valid ones, a wrong type names the expected one, a missing required field (``datasets``,
``prompts``, ``rewards``, GRPO's ``beta``) is named too. :func:`dump_config` gives back every
field as JSON-able data for ``OUT/config.yaml`` and the manifests.

This module imports neither torch nor yaml at import time (``safemed train --help`` stays fast).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from safemed.configs import build, config_fields, is_union, type_name
from safemed.errors import ConfigError

T = TypeVar("T")

TRUST_WEIGHTINGS = ("none", "mean", "min", "correctness")
SFT_KINDS = ("auto", "curated", "msb-demonstrations")
GRPO_KINDS = ("auto", "redteam", "curated-grpo")


def doc(text: str) -> dict[str, str]:
    """Field metadata holding the help text (the CLI flag's help, as in TRL's configs)."""
    return {"help": text}


@dataclass(kw_only=True)
class DataSource:
    """One entry of ``datasets:`` (SFT) or ``prompts:`` (GRPO). In YAML a bare string is a path."""

    _config_shorthand: ClassVar[str] = "path"

    path: str = field(metadata=doc("folder of an artifact (manifest.json) or a data file"))
    kind: str = field(default="auto",
        metadata=doc("sft: curated | msb-demonstrations; grpo: redteam | curated-grpo; auto = detect"))
    proportion: float = field(default=1.0,
        metadata=doc("relative share of this source in the mix (used with mix_rows)"))
    limit: int | None = field(default=None, metadata=doc("read at most this many rows of the source"))

    def __post_init__(self) -> None:
        if self.proportion <= 0:
            raise ConfigError(f"data source {self.path!r}: proportion must be > 0, got {self.proportion}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"data source {self.path!r}: limit must be ≥ 1, got {self.limit}")


@dataclass(kw_only=True)
class CommonTrainConfig:
    """What SFT and GRPO share: the base model, the output folder, seeds, the optimiser schedule,
    checkpointing, LoRA/QLoRA, merging and GGUF export, the device."""

    model: str = field(default="local/default",
        metadata=doc("base model: local/default | local/PATH | PATH (HF folder or a safemed "
                     "training output folder)"))
    output_dir: str = field(default="runs/train", metadata=doc("output folder OUT (--out overrides)"))
    seed: int = field(default=0, metadata=doc("seed of the model initialisation, dropout and the trainer"))
    data_seed: int = field(default=0, metadata=doc("seed of the data mix and shuffling"))
    mix_rows: int | None = field(default=None,
        metadata=doc("total rows of the mix (none: every row of every source, proportions unused)"))
    learning_rate: float = field(default=2e-4, metadata=doc("peak learning rate"))
    max_steps: int = field(default=-1, metadata=doc("optimiser steps (-1: num_train_epochs decides)"))
    num_train_epochs: float = field(default=1.0, metadata=doc("epochs over the mix when max_steps is -1"))
    per_device_train_batch_size: int = field(default=4, metadata=doc("rows per device per forward pass"))
    gradient_accumulation_steps: int = field(default=1, metadata=doc("forward passes per optimiser step"))
    warmup_ratio: float = field(default=0.0, metadata=doc("share of the steps spent warming the learning rate up"))
    logging_steps: int = field(default=1, metadata=doc("write a steps.jsonl row every N steps"))
    save_steps: int = field(default=50, metadata=doc("save a checkpoint every N steps"))
    save_total_limit: int | None = field(default=2, metadata=doc("checkpoints kept (none: all)"))
    resume: bool = field(default=True, metadata=doc("resume from the last checkpoint in OUT/checkpoints"))
    lora: bool = field(default=True, metadata=doc("train a LoRA adapter (false: full fine-tuning)"))
    lora_r: int = field(default=16, metadata=doc("LoRA rank"))
    lora_alpha: int = field(default=32, metadata=doc("LoRA alpha"))
    lora_dropout: float = field(default=0.05, metadata=doc("LoRA dropout"))
    lora_target_modules: list[str] | str = field(default="all-linear",
        metadata=doc("modules LoRA adapts (a list, or all-linear)"))
    qlora: bool = field(default=False, metadata=doc("4-bit base (QLoRA); needs bitsandbytes and CUDA"))
    merge: bool = field(default=True, metadata=doc("write the merged model to OUT/model"))
    gguf: bool = field(default=True,
        metadata=doc("also write OUT/model/model.gguf for llama.cpp when the architecture allows"))
    use_cpu: bool | None = field(default=None, metadata=doc("train on the CPU (none: auto, CPU when there is no CUDA)"))
    bf16: bool | None = field(default=None, metadata=doc("bf16 mixed precision (none: auto, on when CUDA supports it)"))
    gradient_checkpointing: bool = field(default=False,
        metadata=doc("recompute activations in the backward pass (saves memory)"))
    torch_threads: int | None = field(default=None,
        metadata=doc("torch CPU threads (none: 1 on CPU, the fastest under load here)"))
    accelerate_config: str | None = field(default=None,
        metadata=doc("accelerate config used to launch (recorded only; launch with "
                     "`accelerate launch`)"))

    def __post_init__(self) -> None:
        positive = {"per_device_train_batch_size": self.per_device_train_batch_size,
                    "gradient_accumulation_steps": self.gradient_accumulation_steps,
                    "logging_steps": self.logging_steps, "save_steps": self.save_steps, "lora_r": self.lora_r}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {value}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.mix_rows is not None and self.mix_rows < 1:
            raise ConfigError(f"mix_rows must be ≥ 1, got {self.mix_rows}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(f"max_steps must be ≥ 1 or -1, got {self.max_steps}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.qlora and not self.lora:
            raise ConfigError("qlora needs lora: true")


def _check_kinds(sources: list[DataSource], valid: tuple[str, ...], key: str) -> None:
    for i, src in enumerate(sources):
        if src.kind not in valid:
            raise ConfigError(f"{key}[{i}].kind: unknown kind {src.kind!r}; valid kinds: {', '.join(sorted(valid))}")


@dataclass(kw_only=True)
class SftConfig(CommonTrainConfig):
    """Supervised fine-tuning (SafeMed-R1 §3, stage 1): curated rows and safety demonstrations."""

    datasets: list[DataSource] = field(metadata=doc("SFT sources: curate export folders or MSB safety demonstrations"))
    learning_rate: float = field(default=2e-4, metadata=doc("peak learning rate"))
    max_length: int = field(default=1024, metadata=doc("tokens per row (longer rows are truncated)"))
    think_tags: bool = field(default=True,
        metadata=doc("render the reasoning as <think>…</think> followed by the answer"))
    trust_weighting: str = field(default="none",
        metadata=doc("per-row loss weight from clinician scores: none | mean | min | "
                     "correctness (see safemed.train.weighting)"))
    trust_floor: float = field(default=0.1, metadata=doc("smallest weight a reviewed row gets"))
    unreviewed_weight: float = field(default=1.0,
        metadata=doc("weight of rows without clinician scores (public demonstrations)"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.datasets:
            raise ConfigError("datasets: at least one source is needed")
        _check_kinds(self.datasets, SFT_KINDS, "datasets")
        if self.trust_weighting not in TRUST_WEIGHTINGS:
            raise ConfigError(f"trust_weighting: unknown value {self.trust_weighting!r}; valid values: "
                              f"{', '.join(sorted(TRUST_WEIGHTINGS))}")
        if not 0 <= self.trust_floor <= 1:
            raise ConfigError(f"trust_floor must be in [0, 1], got {self.trust_floor}")
        if self.unreviewed_weight < 0:
            raise ConfigError(f"unreviewed_weight must be ≥ 0, got {self.unreviewed_weight}")
        if self.max_length < 8:
            raise ConfigError(f"max_length must be ≥ 8, got {self.max_length}")


@dataclass(kw_only=True)
class RewardSpec:
    """One reward function of GRPO and its weight in the sum."""

    name: str = field(metadata=doc("judge | helpfulness | format | correctness | a dotted path package.mod:fn"))
    weight: float = field(default=1.0, metadata=doc("weight of this reward in the total"))
    judge: str | None = field(default=None,
        metadata=doc("[KIND=]MODEL_SPEC as in `safemed eval --judge`, e.g. msb=openai/x@URL, "
                     "refusal=rules"))


@dataclass(kw_only=True)
class GrpoConfig(CommonTrainConfig):
    """Group-relative policy optimisation (SafeMed-R1 §3, stage 2) on red-team prompts."""

    prompts: list[DataSource] = field(
        metadata=doc("prompt sources: redteam generate set(s), optional curate export --format grpo"))
    rewards: list[RewardSpec] = field(metadata=doc("reward functions and their weights"))
    beta: float = field(
        metadata=doc("KL coefficient to the reference model (required: TRL's default 0 has no KL term, "
                     "the paper uses KL)"))
    learning_rate: float = field(default=1e-5, metadata=doc("peak learning rate"))
    num_generations: int = field(default=4, metadata=doc("completions sampled per prompt (the group)"))
    temperature: float = field(default=0.9, metadata=doc("sampling temperature"))
    top_p: float = field(default=1.0, metadata=doc("nucleus sampling"))
    max_completion_length: int = field(default=128, metadata=doc("new tokens per completion"))
    max_prompt_length: int | None = field(default=512,
        metadata=doc("prompts longer than this (tokens) are dropped and counted"))
    loss_type: str = field(default="grpo", metadata=doc("TRL loss: grpo | dapo | dr_grpo | bnpo"))
    scale_rewards: str = field(default="group", metadata=doc("TRL option: advantage = (r − mean)/std within the group"))
    include_benign_twins: bool = field(default=True, metadata=doc("train on the benign twin of each attack prompt too"))
    judge_cache: str | None = field(default=None, metadata=doc("judge cache file (default OUT/judge_cache.sqlite)"))
    judge_concurrency: int = field(default=8, metadata=doc("judge requests in flight"))
    judge_max_tokens: int = field(default=256, metadata=doc("judge reply tokens"))
    max_reparse: int = field(default=2, metadata=doc("judge re-asks for an unreadable reply"))
    use_vllm: bool = field(default=False, metadata=doc("generate with vLLM (TRL)"))
    vllm_mode: str = field(default="server", metadata=doc("TRL vLLM mode: server | colocate"))
    vllm_server_base_url: str | None = field(default=None, metadata=doc("vLLM server URL in server mode"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.prompts:
            raise ConfigError("prompts: at least one source is needed")
        if not self.rewards:
            raise ConfigError("rewards: at least one reward is needed")
        _check_kinds(self.prompts, GRPO_KINDS, "prompts")
        if self.beta < 0:
            raise ConfigError(f"beta must be ≥ 0, got {self.beta}")
        if self.num_generations < 2:
            raise ConfigError(f"num_generations must be ≥ 2 (a group needs a spread), got {self.num_generations}")


# --- loading and dumping ---------------------------------------------------------------------------

def load_config(cls: type[T], path: Path | None, overrides: dict[str, Any] | None = None) -> T:
    """The config ``cls`` from the YAML mapping at ``path`` (None: overrides only), with
    ``overrides`` (already typed values, e.g. from CLI flags; see :func:`parse_flag`) on top.
    Every problem is a :class:`ConfigError` naming the file and the key."""
    data: dict[str, Any] = {}
    where = str(path) if path is not None else "config"
    if path is not None:
        import yaml  # type: ignore[import-untyped, unused-ignore]

        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys, got {type(loaded).__name__}")
        data.update(loaded)
    data.update(overrides or {})
    return build(cls, data, where)


def parse_flag(cls: type, name: str, text: str) -> Any:
    """The typed value of a CLI flag ``--NAME TEXT`` for a scalar field of ``cls``: ``none`` or
    ``null`` for an optional field's None, ``true/false`` (yes/no, 1/0) for booleans."""
    tp = config_fields(cls)[name][0]
    options = [a for a in typing.get_args(tp) if a is not type(None)] if is_union(tp) else [tp]
    if text.strip().lower() in ("none", "null") and is_union(tp) and type(None) in typing.get_args(tp):
        return None
    (base,) = options
    flag = "--" + name.replace("_", "-")
    try:
        if base is bool:
            low = text.strip().lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError(text)
        return base(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected {type_name(tp)}, got {text!r}") from None


def dump_config(cfg: Any) -> dict[str, Any]:
    """Every field of a config (nested ones too) as JSON-able data, in declaration order."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"not a config instance: {cfg!r}")
    return dataclasses.asdict(cfg)
