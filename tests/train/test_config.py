"""Training configs: YAML keys = dataclass fields = CLI flags; every bad key or type is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from safemed.cli.train_cmd import train
from safemed.errors import ConfigError
from safemed.train.config import GrpoConfig, SftConfig, config_fields, dump_config, load_config, parse_flag


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_names_the_file_and_lists_the_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path / "sft.yaml", "datasets: [x]\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(SftConfig, path)
    message = str(err.value)
    assert message.startswith(f"{path}: unknown key 'learning_rat'; valid keys: ")
    listed = message.split("valid keys: ")[1].split(", ")
    assert listed == sorted(config_fields(SftConfig)) and "learning_rate" in listed and "trust_weighting" in listed


def test_nested_unknown_key_and_wrong_types_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "datasets: [{path: x, share: 2}]\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: datasets\[0\]: unknown key 'share'; valid keys: kind, limit, "
                                          r"path, proportion$"):
        load_config(SftConfig, path)
    for text, pattern in [("datasets: [x]\nmax_steps: 2.5\n", r"max_steps: expected int, got float 2\.5"),
                          ("datasets: [x]\nresume: 1\n", r"resume: expected bool, got int 1"),
                          ("datasets: x\n", r"datasets: expected list of mapping, got str 'x'"),
                          ("datasets: [{path: x, limit: many}]\n", r"datasets\[0\]\.limit: expected int or null"),
                          ("datasets: [x]\ntrust_weighting: median\n", r"trust_weighting: unknown value 'median'; "
                                                                     r"valid values: correctness, mean, min, none"),
                          ("- a\n", r"expected a mapping of config keys, got list")]:
        with pytest.raises(ConfigError, match=pattern):
            load_config(SftConfig, write(tmp_path / "b.yaml", text))


def test_required_fields_have_no_default(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing required key 'datasets'"):
        load_config(SftConfig, write(tmp_path / "empty.yaml", ""))
    grpo = {"prompts": ["p"], "rewards": [{"name": "format"}]}
    with pytest.raises(ConfigError, match=r"missing required key 'beta' \(KL coefficient"):
        load_config(GrpoConfig, None, grpo)
    cfg = load_config(GrpoConfig, None, {**grpo, "beta": 0})
    assert cfg.beta == 0.0 and isinstance(cfg.beta, float) and cfg.rewards[0].weight == 1.0


def test_yaml_overrides_and_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path / "sft.yaml", "datasets:\n  - runs/export\n  - {path: msb, kind: msb-demonstrations, "
                                        "proportion: 3}\nlearning_rate: 1\nlora_target_modules: [q_proj, v_proj]\n")
    cfg = load_config(SftConfig, path, {"max_steps": 7, "mix_rows": None})
    assert cfg.datasets[0].path == "runs/export" and cfg.datasets[1].proportion == 3.0
    assert cfg.learning_rate == 1.0 and cfg.max_steps == 7 and cfg.lora_target_modules == ["q_proj", "v_proj"]
    dumped = dump_config(cfg)
    assert list(dumped) == list(config_fields(SftConfig))  # every field, in order
    again = load_config(SftConfig, write(tmp_path / "again.yaml", yaml.safe_dump(dumped)))
    assert again == cfg


def test_flags_parse_like_yaml() -> None:
    assert parse_flag(SftConfig, "mix_rows", "none") is None
    assert parse_flag(SftConfig, "mix_rows", "64") == 64
    assert parse_flag(SftConfig, "resume", "false") is False
    assert parse_flag(SftConfig, "use_cpu", "null") is None
    with pytest.raises(ConfigError, match=r"--lora-r: expected int, got 'x'"):
        parse_flag(SftConfig, "lora_r", "x")


def test_cli_flags_come_from_the_dataclass(tmp_path: Path) -> None:
    runner = CliRunner()
    help_text = runner.invoke(train, ["sft", "--help"]).output
    for name in config_fields(SftConfig):
        if name not in ("datasets", "lora_target_modules"):  # lists are YAML only
            assert "--" + name.replace("_", "-") in help_text
    assert "--trust-weighting" in help_text and "--datasets" not in help_text
    assert "--beta" in runner.invoke(train, ["grpo", "--help"]).output
    bad = write(tmp_path / "bad.yaml", "datasets: [x]\nepochs: 2\n")
    result = runner.invoke(train, ["sft", "--config", str(bad)])
    assert result.exit_code == 1 and "unknown key 'epochs'; valid keys:" in result.output
    result = runner.invoke(train, ["sft", "--config", str(bad), "--lora-r", "big"])
    assert result.exit_code == 1 and "--lora-r: expected int, got 'big'" in result.output


def test_config_and_data_import_without_torch() -> None:
    code = ("import sys, safemed.train.config, safemed.train.data, safemed.train.weighting, safemed.cli.train_cmd; "
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
