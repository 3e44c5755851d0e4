"""``safemed train sft`` for real on the tiny model: the loss goes down, the adapter changes, and
every artifact's manifest names its data (with sha256 and ledger point), base model, config,
seeds, versions and git revision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from safemed.artifacts import read_manifest, sha256_file
from safemed.train.config import SftConfig, dump_config, load_config

torch = pytest.importorskip("torch", reason="the [train] extra (pip install -e '.[train]') is not installed")


@pytest.fixture(scope="module")
def sft_run(tiny_model_dir: Path, curated_export: Path, msb_samples: Path,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from safemed.cli.train_cmd import train

    tmp = tmp_path_factory.mktemp("sft")
    config = tmp / "sft.yaml"
    config.write_text(yaml.safe_dump({
        "model": str(tiny_model_dir), "datasets": [str(curated_export), {"path": str(msb_samples), "proportion": 0.5}],
        "mix_rows": 12, "data_seed": 1, "seed": 3, "trust_weighting": "mean", "max_steps": 4, "learning_rate": 2e-2,
        "per_device_train_batch_size": 3, "save_steps": 2, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
        "max_length": 384, "torch_threads": 1}))
    out = tmp / "out"
    result = CliRunner().invoke(train, ["sft", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    cfg = load_config(SftConfig, config, {"output_dir": str(out)})
    return {"out": out, "output": result.output, "cfg": cfg}


def completion_nll(model_dir: Path, rows: list[dict[str, Any]]) -> float:
    """Mean NLL of the completion tokens of ``rows`` under the model in ``model_dir``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    total, count = 0.0, 0
    for row in rows:
        prompt = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True)
        full = tok.apply_chat_template(row["prompt"] + row["completion"], tokenize=True, return_dict=True)
        ids = torch.tensor([full["input_ids"][:384]])
        start = len(prompt["input_ids"])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], dim=-1)
        targets = ids[0, 1:]
        nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)[start - 1:]
        total, count = total + float(nll.sum()), count + nll.numel()
    return total / count


def test_sft_lowers_the_loss_and_changes_the_adapter(sft_run: dict[str, Any], tiny_model_dir: Path) -> None:
    from safetensors.torch import load_file

    from safemed.train.data import load_sft_data

    out = sft_run["out"]
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    assert all(s["loss"] > 0 and s["learning_rate"] is not None and s["wall_s"] >= 0 for s in steps)
    rows = load_sft_data(sft_run["cfg"]).rows
    before, after = completion_nll(tiny_model_dir, rows), completion_nll(out / "model", rows)
    assert after < before - 0.05, (before, after)  # the merged model fits the training rows better

    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(float(v.abs().max()) > 0 for v in lora_b)  # LoRA B starts at zero
    mid = load_file(out / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors")
    assert any(not torch.equal(mid[k], adapter[k]) for k in adapter)
    assert (out / "checkpoints" / "checkpoint-4").is_dir()
    trained = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert [r["row_id"] for r in trained] == [r["row_id"] for r in rows] and len(trained) == 12


def verify_outputs(folder: Path) -> list[str]:
    manifest = read_manifest(folder)
    for d in manifest.outputs:
        assert sha256_file(folder / d.path) == d.sha256 and (folder / d.path).stat().st_size == d.bytes, d.path
    return [d.path for d in manifest.outputs]


def test_manifests_name_data_base_config_seeds_versions(sft_run: dict[str, Any], tiny_model_dir: Path,
                                                        curated_export: Path, msb_samples: Path) -> None:
    out, cfg = sft_run["out"], sft_run["cfg"]
    run, adapter, model = read_manifest(out), read_manifest(out / "adapter"), read_manifest(out / "model")
    assert (run.kind, adapter.kind, model.kind) == ("training-run", "lora-adapter", "model")
    assert run.parents == [adapter.id, model.id]
    assert sorted(verify_outputs(out)) == ["config.yaml", "rows.jsonl", "steps.jsonl"]
    assert {"adapter_model.safetensors", "adapter_config.json"} <= set(verify_outputs(out / "adapter"))
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= set(
        verify_outputs(out / "model"))
    assert load_config(SftConfig, out / "config.yaml") == cfg

    export = read_manifest(curated_export)
    assert model.parents == [export.id, adapter.id] and adapter.parents == [export.id]
    c = model.config
    assert c["stage"] == "sft" and c["train_config"] == dump_config(cfg) and model.seed == 3
    assert c["adapter"] == {"id": adapter.id, "path": "../adapter"}
    weights = tiny_model_dir / "model.safetensors"
    assert c["base_model"]["weights"] == [{"path": "model.safetensors", "sha256": sha256_file(weights),
                                           "bytes": weights.stat().st_size}]
    assert c["base_model"]["path"] == str(tiny_model_dir) and len(c["base_model"]["sha256"]) == 64
    datasets = {d["file"]: d for d in c["datasets"]}
    curated = datasets[str(curated_export / "sft.jsonl")]
    assert curated["id"] == export.id and curated["ledger"] == export.config["ledger"]
    assert curated["sha256"] == sha256_file(curated_export / "sft.jsonl") and curated["kind"] == "curated"
    assert curated["rows_used"] == 8 and curated["proportion"] == 1.0  # 12 rows at 1 : 0.5
    demos = [d for d in c["datasets"] if d["kind"] == "msb-demonstrations"]
    assert sum(d["rows_used"] for d in demos) == 4 and all(d["id"] == "file:" + d["sha256"][:16] for d in demos)
    assert {Path(d["file"]).parent for d in demos} == {msb_samples}
    assert {i.path for i in model.inputs} == set(datasets) and all(i.sha256 == datasets[i.path]["sha256"]
                                                                   for i in model.inputs)
    assert c["trust_weighting"]["scheme"] == "mean" and 0.5 <= c["trust_weighting"]["weights"]["min"] <= 1
    assert c["metrics"]["steps"] == 4 and c["metrics"]["rows"] == 12
    assert c["gguf"] is None and "template GGUF" in c["gguf_skipped"]  # the tiny model came from no GGUF
    for manifest in (run, adapter, model):
        assert {"torch", "transformers", "trl", "peft", "safemed"} <= set(manifest.versions)
        assert manifest.git_revision and manifest.finished_at
    assert f"model: {out / 'model'}  (manifest {model.id})" in sft_run["output"]
    assert f"run: {out}  (manifest {run.id})" in sft_run["output"]


def test_a_training_output_is_a_base_model(sft_run: dict[str, Any]) -> None:
    from safemed.train.models import resolve_base

    out = sft_run["out"]
    base = resolve_base(f"local/{out}")
    model = read_manifest(out / "model")
    assert base.hf_path == (out / "model").resolve() and base.artifact == {"id": model.id, "path": str(base.hf_path)}
    assert base.weights[0]["sha256"] == sha256_file(out / "model" / "model.safetensors")
    assert base.name.endswith("+sft")


def test_qlora_without_cuda_is_a_clear_error() -> None:
    from safemed.errors import ConfigError
    from safemed.train.models import resolve_device

    cfg = load_config(SftConfig, None, {"datasets": ["x"], "qlora": True})
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="qlora: 4-bit training needs a CUDA GPU"):
        resolve_device(cfg)
