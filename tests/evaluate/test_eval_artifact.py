"""`safemed eval --model local/OUT` on a trained model artifact: the run manifest names it.

The artifact is fabricated but real: the tiny random Llama of tests/train (a real HF folder that
transformers loads and generates with) in OUT/model with a ``kind: model`` manifest written by
safemed.artifacts, as ``safemed train`` writes it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.artifacts import new_manifest, read_manifest, sha256_file, write_manifest
from safemed.backends.local import resolve_local
from safemed.cli.main import cli
from safemed.errors import ConfigError

from ..train.conftest import tiny_model_dir  # noqa: F401 - the session fixture, shared with tests/train


def make_artifact(out: Path, model_dir: Path) -> str:
    """OUT/model as a model artifact (every file of the HF folder an output); returns its id."""
    folder = out / "model"
    shutil.copytree(model_dir, folder)
    manifest = new_manifest("model", config={"stage": "sft", "base_model": {"spec": "tiny"}})
    write_manifest(folder, manifest, outputs=sorted(p.name for p in folder.iterdir() if p.is_file()))
    return manifest.id


def test_eval_names_the_model_artifact(tiny_model_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "train-out"
    model_id = make_artifact(out, tiny_model_dir)
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["eval", "--model", f"local/{out}", "--benchmark", "sample", "--limit", "2",
                                      "--max-new-tokens", "4", "--out", str(run), "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(run)
    assert manifest.parents == [model_id]
    artifact = manifest.config["model"]["artifact"]
    assert manifest.config["model_artifact"] == artifact
    assert artifact["id"] == model_id and artifact["kind"] == "model" and artifact["stage"] == "sft"
    assert Path(artifact["path"]) == (out / "model").resolve()
    assert artifact["weights"] == [{"path": "model.safetensors", "bytes": (out / "model" / "model.safetensors")
                                    .stat().st_size, "sha256": sha256_file(out / "model" / "model.safetensors")}]
    assert manifest.config["model"]["engine"] == "transformers"
    assert manifest.config["model"]["model"] == "train-out"
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2 and all(s["response"] is not None for s in samples)


def test_changed_weights_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "train-out"
    make_artifact(out, tiny_model_dir)
    weights = out / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["eval", "--model", f"local/{out}/model", "--benchmark", "sample", "--limit",
                                      "1", "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code != 0
    assert "model.safetensors does not match its manifest" in result.output
    assert not (tmp_path / "run").exists()


def test_gguf_is_preferred_and_adapters_are_not_models(tiny_model_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "train-out"
    make_artifact(out, tiny_model_dir)
    assert resolve_local(str(out)) == ("hf", out / "model")
    (out / "model" / "model.gguf").write_bytes(b"GGUF")
    assert resolve_local(str(out)) == ("gguf", out / "model" / "model.gguf")
    assert resolve_local(str(out / "model")) == ("gguf", out / "model" / "model.gguf")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    write_manifest(adapter, new_manifest("lora-adapter"), outputs=["adapter_config.json"])
    with pytest.raises(ConfigError, match="LoRA adapter, not a model"):
        resolve_local(str(adapter))
