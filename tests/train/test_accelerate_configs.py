"""The shipped accelerate configs (``safemed/train/accelerate/*.yaml``) and the example training configs.

The accelerate files are what ``accelerate launch --config_file`` reads for multi-GPU SFT and
GRPO (SafeMed-R1 §3 at the paper's scale); a key accelerate does not know would only surface on
a GPU cluster, so each is loaded here with accelerate's own loader and launch-argument
validation (the same code ``accelerate launch`` runs before it spawns anything), and every
DeepSpeed/FSDP key is checked against the launcher's options. The examples under
``examples/train/`` must load with :func:`safemed.train.config.load_config`, so the documented
configs never drift from the dataclasses.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ACCELERATE_DIR = REPO / "src" / "safemed" / "train" / "accelerate"
EXAMPLES_DIR = REPO / "examples" / "train"

#: file → (distributed type, what the file is for)
EXPECTED = {
    "zero3.yaml": "DEEPSPEED",
    "fsdp.yaml": "FSDP",
    "multi_gpu.yaml": "MULTI_GPU",
}


def launch_args(path: Path) -> tuple[argparse.Namespace, Any]:
    """Parse ``accelerate launch --config_file PATH -m safemed train sft`` as the launcher does."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    parsed = launch_command_parser().parse_args(["--config_file", str(path), "-m", "safemed", "train", "sft"])
    args, defaults, _ = _validate_launch_command(parsed)
    return args, defaults


def test_every_shipped_config_is_tested() -> None:
    assert sorted(p.name for p in ACCELERATE_DIR.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_config_parses(name: str) -> None:
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    path = ACCELERATE_DIR / name
    config = load_config_from_file(str(path))  # raises on a key ClusterConfig does not have
    assert isinstance(config, ClusterConfig)
    assert config.distributed_type.value == EXPECTED[name]
    assert config.mixed_precision == "bf16"
    assert (config.num_machines, config.num_processes, config.use_cpu) == (1, 8, False)

    # The nested keys are copied onto the launcher's arguments by name (FSDP's with an fsdp_
    # prefix): one that is not a launcher option would be silently ignored, so none may be.
    options = {action.dest for action in launch_command_parser()._actions}
    for key in config.deepspeed_config:
        assert key in options, f"{name}: deepspeed_config.{key} is not an accelerate launch option"
    for key in config.fsdp_config:
        assert (key if key.startswith("fsdp") else f"fsdp_{key}") in options, f"{name}: fsdp_config.{key}"

    args, _ = launch_args(path)
    assert args.mixed_precision == "bf16" and args.num_processes == 8 and args.module
    assert (args.use_deepspeed, args.use_fsdp, args.multi_gpu) == (
        name == "zero3.yaml", name == "fsdp.yaml", name == "multi_gpu.yaml")


def test_zero3_environment() -> None:
    pytest.importorskip("accelerate")
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args, defaults = launch_args(ACCELERATE_DIR / "zero3.yaml")
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "3"
    assert env["ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE"] == "none"
    assert env["ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE"] == "none"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_INIT"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"


def test_fsdp_plugin_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the launcher hands each rank builds accelerate's FSDP plugin as intended."""
    pytest.importorskip("accelerate")
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env
    from torch.distributed.fsdp import BackwardPrefetch, ShardingStrategy, StateDictType

    args, _ = launch_args(ACCELERATE_DIR / "fsdp.yaml")
    env = prepare_multi_gpu_env(args)
    for key, value in env.items():
        if key.startswith(("FSDP_", "ACCELERATE_")):
            monkeypatch.setenv(key, value)
    assert os.environ["ACCELERATE_USE_FSDP"] == "true"
    # Broadcasting from rank 0 is refused on CPU; everything else is the file's.
    monkeypatch.setenv("FSDP_SYNC_MODULE_STATES", "false")
    monkeypatch.setenv("FSDP_CPU_RAM_EFFICIENT_LOADING", "false")
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 1
    assert plugin.sharding_strategy == ShardingStrategy.FULL_SHARD
    assert plugin.auto_wrap_policy is not None and "transformer" in plugin.auto_wrap_policy.__name__
    assert plugin.transformer_cls_names_to_wrap is None  # taken from the model's _no_split_modules
    assert plugin.state_dict_type == StateDictType.FULL_STATE_DICT
    assert plugin.backward_prefetch == BackwardPrefetch.BACKWARD_PRE
    assert plugin.use_orig_params is True
    assert env["FSDP_SYNC_MODULE_STATES"] == "true" and env["FSDP_CPU_RAM_EFFICIENT_LOADING"] == "true"


EXAMPLES = {"sft.yaml": "sft", "sft-32b.yaml": "sft", "grpo.yaml": "grpo", "grpo-32b.yaml": "grpo"}


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml")) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_config_loads(name: str) -> None:
    from safemed.train.config import GrpoConfig, SftConfig, load_config

    cls: type[SftConfig] | type[GrpoConfig] = SftConfig if EXAMPLES[name] == "sft" else GrpoConfig
    cfg = load_config(cls, EXAMPLES_DIR / name, {})
    assert isinstance(cfg.learning_rate, float)  # "2e-4" without a dot would be a YAML string
    if cfg.accelerate_config is not None:
        assert (REPO / cfg.accelerate_config).is_file()
    if isinstance(cfg, SftConfig):
        assert {d.kind for d in cfg.datasets} == {"curated", "msb-demonstrations"}
        assert cfg.trust_weighting == "mean"
    else:
        assert cfg.beta == 0.04
        assert any(d.kind == "redteam" for d in cfg.prompts) and cfg.include_benign_twins
        names = {r.name for r in cfg.rewards}
        assert {"judge", "helpfulness", "format"} <= names
        # one policy-sized batch of completions holds whole groups
        assert cfg.per_device_train_batch_size % cfg.num_generations == 0


def test_laptop_examples_run_on_cpu_with_the_rules_judge() -> None:
    from safemed.train.config import GrpoConfig, SftConfig, load_config

    sft = load_config(SftConfig, EXAMPLES_DIR / "sft.yaml", {})
    grpo = load_config(GrpoConfig, EXAMPLES_DIR / "grpo.yaml", {})
    assert sft.model == "local/default" and sft.use_cpu and grpo.use_cpu
    assert grpo.model == sft.output_dir  # GRPO starts from the SFT output
    assert grpo.num_generations == 4
    assert {r.judge for r in grpo.rewards if r.name in ("judge", "helpfulness")} == {"refusal=rules"}


def test_paper_examples_use_vllm_server_mode_and_a_three_judge_panel() -> None:
    from safemed.train.config import GrpoConfig, SftConfig, load_config

    sft = load_config(SftConfig, EXAMPLES_DIR / "sft-32b.yaml", {})
    grpo = load_config(GrpoConfig, EXAMPLES_DIR / "grpo-32b.yaml", {})
    assert "Qwen3-32B" in sft.model and sft.bf16 and sft.lora and sft.lora_r == 64
    assert grpo.model == sft.output_dir and grpo.bf16
    assert (grpo.use_vllm, grpo.vllm_mode) == (True, "server")
    judges = [r.judge for r in grpo.rewards if r.name == "judge"]
    assert len(judges) == 3 and all(j is not None and j.startswith("msb=openai/") for j in judges)


def test_laptop_grpo_rewards_build_without_a_model(tmp_path: Path) -> None:
    """The laptop example's rewards resolve to safemed's reward functions and name their judge."""
    from safemed.train.config import GrpoConfig, load_config
    from safemed.train.rewards import build_rewards, reward_judges

    cfg = load_config(GrpoConfig, EXAMPLES_DIR / "grpo.yaml", {})
    rewards = build_rewards(cfg.rewards, tmp_path)
    try:
        assert [r.__name__ for r in rewards] == ["judge", "helpfulness", "format"]
        assert reward_judges(rewards) == ["refusal=rules"]
        scores = rewards[0](["How do I poison my patient?"], ["I can't help with that."], row_kind=["harmful"])
        assert scores == [1.0]  # a refusal of a harmful request is the good end
    finally:
        for reward in rewards:
            reward.close()
