"""A killed SFT run (SIGKILL after a checkpoint was saved) resumes from its last checkpoint with
the same ``OUT`` and finishes, logging every step once, as a run that was never stopped."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from safemed.artifacts import read_manifest

pytest.importorskip("torch", reason="the [train] extra (pip install -e '.[train]') is not installed")

STEPS = 12


def write_config(path: Path, model: Path, data: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "model": str(model), "datasets": [str(data)], "mix_rows": 36, "max_steps": STEPS, "save_steps": 2,
        "save_total_limit": None, "per_device_train_batch_size": 3, "learning_rate": 1e-2, "lora_r": 4,
        "lora_alpha": 8, "max_length": 128, "torch_threads": 1, "merge": False, "gguf": False}))
    return path


def steps(out: Path) -> list[dict[str, Any]]:
    path = out / "steps.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def run_cli(config: Path, out: Path) -> None:
    from safemed.cli.train_cmd import train

    CliRunner().invoke(train, ["sft", "--config", str(config), "--out", str(out)])
    os._exit(0)


def test_killed_sft_resumes_from_its_last_checkpoint(tiny_model_dir: Path, msb_samples: Path, tmp_path: Path) -> None:
    import peft  # noqa: F401  (imported before the fork, so the child need not)
    import trl.trainer.sft_trainer  # noqa: F401

    from safemed.cli.train_cmd import train
    from safemed.train.sft import last_checkpoint

    config = write_config(tmp_path / "sft.yaml", tiny_model_dir, msb_samples)
    out = tmp_path / "out"
    # The killed run is a forked process, so it starts without re-importing torch and TRL (15 s on
    # a busy 2-core machine); it is stopped by SIGKILL once step 3 is logged, i.e. after
    # checkpoint-2 was saved, while later steps are running.
    child = multiprocessing.get_context("fork").Process(target=run_cli, args=(config, out), daemon=True)
    child.start()
    deadline = time.monotonic() + 120
    try:
        while not any(s["step"] >= 3 for s in steps(out)):
            assert child.is_alive() and time.monotonic() < deadline, "the run ended before step 3"
            time.sleep(0.005)
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=60)
    assert child.exitcode == -signal.SIGKILL
    assert not (out / "manifest.json").exists() and not (out / "adapter").exists()  # killed mid-run
    saved = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*"))
    assert saved and saved[-1] < STEPS

    runner = CliRunner()
    changed = runner.invoke(train, ["sft", "--config", str(config), "--out", str(out), "--learning-rate", "0.5"])
    assert changed.exit_code == 1 and "different config (learning_rate changed)" in changed.output
    fresh = runner.invoke(train, ["sft", "--config", str(config), "--out", str(out), "--resume", "false"])
    assert fresh.exit_code == 1 and "holds checkpoints of an earlier run and resume is false" in fresh.output

    last = last_checkpoint(out)
    assert last is not None
    resumed = runner.invoke(train, ["sft", "--config", str(config), "--out", str(out)])
    assert resumed.exit_code == 0, resumed.output + repr(resumed.exception)
    assert f"resuming from {last}" in resumed.output
    logged = steps(out)
    assert [s["step"] for s in logged] == list(range(1, STEPS + 1))  # every step once, none repeated
    run = read_manifest(out)
    assert run.config["metrics"]["resumed_from"] == last.name and run.config["metrics"]["steps"] == STEPS
    assert read_manifest(out / "adapter").kind == "lora-adapter"

    # The same config run without a stop logs the same losses: the resume restored model,
    # optimiser, scheduler, data order and RNG state.
    whole = runner.invoke(train, ["sft", "--config", str(config), "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    assert [round(s["loss"], 4) for s in steps(tmp_path / "whole")] == [round(s["loss"], 4) for s in logged]
