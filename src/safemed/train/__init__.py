"""Alignment training (SafeMed-R1 §3): SFT on curated data with its trust signals, then GRPO on
red-team prompts with a judge reward; every output an artifact traceable to its data.

Stages: :func:`safemed.train.sft.run_sft` and :func:`safemed.train.grpo.run_grpo` (they import
torch, transformers, trl and peft: the ``[train]`` extra). Only the torch-free config names are
re-exported here, so ``import safemed.train`` stays light.
"""

from safemed.train.config import (
    CommonTrainConfig,
    DataSource,
    GrpoConfig,
    RewardSpec,
    SftConfig,
    dump_config,
    load_config,
)

__all__ = ["CommonTrainConfig", "DataSource", "GrpoConfig", "RewardSpec", "SftConfig", "dump_config", "load_config"]
