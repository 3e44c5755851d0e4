"""``safemed train``: alignment training (SafeMed-R1 §3: SFT, then GRPO).

    safemed train sft  --config CONFIG.yaml [--out DIR] [--FIELD VALUE …]
    safemed train grpo --config CONFIG.yaml [--out DIR] [--FIELD VALUE …]

Every scalar field of the config dataclass (:mod:`safemed.train.config`) is also a flag:
``learning_rate`` is ``--learning-rate``; ``none`` sets an optional field to None, booleans take
``true``/``false``. Lists (``datasets``, ``prompts``, ``rewards``, a module list) are YAML only.
The flags are generated from the dataclass, so this help cannot drift from the config.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from safemed.cli.common import ErrorPrintingGroup
from safemed.configs import config_fields, is_scalar, type_name
from safemed.errors import ConfigError
from safemed.train.config import GrpoConfig, SftConfig, load_config, parse_flag

TRAIN_PACKAGES = ("torch", "transformers", "trl", "peft", "datasets", "yaml")
INSTALL = "pip install -e '.[train]'"


def require_train_extra() -> None:
    """A clear ConfigError naming the install command when the [train] extra is missing."""
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"training needs the [train] extra ({', '.join(missing)} missing): {INSTALL}")


def field_options(cls: type) -> Callable[[Any], Any]:
    """Click options for the scalar fields of a config class (``--out`` also names ``output_dir``)."""
    def decorate(fn: Any) -> Any:
        for name, (tp, f) in reversed(list(config_fields(cls).items())):
            if not is_scalar(tp):
                continue
            flag = "--" + name.replace("_", "-")
            names = [flag, "--out"] if name == "output_dir" else [flag]
            shown = "required" if f.default is dataclasses.MISSING else f"default: {f.default!r}"
            fn = click.option(*names, name, default=None, metavar=_metavar(tp),
                              help=f"{f.metadata.get('help', '')} [{shown}]")(fn)
        return fn
    return decorate


def _metavar(tp: Any) -> str:
    """``INT``, ``FLOAT|none``, ``true|false``, ``TEXT`` …"""
    parts = [{"str": "TEXT", "bool": "true|false", "null": "none"}.get(p, p.upper())
             for p in type_name(tp).split(" or ")]
    return "|".join(parts)


def _overrides(cls: type, given: dict[str, str | None]) -> dict[str, Any]:
    return {name: parse_flag(cls, name, text) for name, text in given.items() if text is not None}


def _report(result: Any) -> None:
    click.echo(f"run: {result.out}  (manifest {result.run_id})")
    if result.adapter_dir is not None:
        click.echo(f"adapter: {result.adapter_dir}  (manifest {result.adapter_id})")
    if result.model_dir is not None:
        click.echo(f"model: {result.model_dir}  (manifest {result.model_id})")
    if result.gguf is not None:
        click.echo(f"gguf: {result.gguf}")
    elif result.gguf_skipped:
        click.echo(f"gguf: skipped ({result.gguf_skipped})")
    metrics = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.metrics.items()
                        if v is not None)
    click.echo(f"metrics: {metrics}")
    if result.model_dir is not None:
        click.echo(f"evaluate it with: safemed eval --model local/{result.out} …")


@click.group("train", cls=ErrorPrintingGroup)
def train() -> None:
    """Fine-tune a model: SFT on curated data and safety demonstrations, then GRPO on red-team prompts."""


CONFIG_OPTION = click.option("--config", "config_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
                             help="YAML config (keys = the flags below; lists such as datasets only here)")


@train.command("sft", context_settings={"show_default": False})
@CONFIG_OPTION
@field_options(SftConfig)
def sft_command(config_path: Path, **given: str | None) -> None:
    """Supervised fine-tuning (LoRA) on curate exports and Med-Safety-Bench demonstrations."""
    cfg = load_config(SftConfig, config_path, _overrides(SftConfig, given))
    require_train_extra()
    from safemed.train.sft import run_sft

    _report(run_sft(cfg, Path(cfg.output_dir)))


@train.command("grpo", context_settings={"show_default": False})
@CONFIG_OPTION
@field_options(GrpoConfig)
def grpo_command(config_path: Path, **given: str | None) -> None:
    """GRPO on red-team prompts (and their benign twins) with judge, helpfulness and format rewards."""
    cfg = load_config(GrpoConfig, config_path, _overrides(GrpoConfig, given))
    require_train_extra()
    try:
        run_grpo = importlib.import_module("safemed.train.grpo").run_grpo
    except ImportError as exc:
        raise ConfigError(f"GRPO training is not available in this install ({exc})") from exc
    _report(run_grpo(cfg, Path(cfg.output_dir)))
