"""A real curated export (bundled demo seeds and traces → reviews → retention → export, on a real
SQLite ledger) and a fabricated training chain on top of it, written with the trainer's own
manifest helpers (safemed.train.artifact), for the lineage tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemed.artifacts import new_manifest, read_manifest, write_manifest
from safemed.curate.assign import open_assignments
from safemed.curate.demo import build_demo
from safemed.curate.export import export_dataset
from safemed.curate.retain import RetentionRule, iter_decisions
from safemed.curate.reviews import record_reviews
from safemed.curate.view import append_consistent, open_view
from safemed.ledger import Ledger, LedgerKeys
from safemed.records.curation import RUBRICS, event_for
from safemed.train.artifact import ADAPTER, MODEL, TrainResult, dataset_use, training_config, write_run_manifest
from safemed.train.config import DataSource, GrpoConfig, RewardSpec, SftConfig
from safemed.train.models import BaseModel, resolve_base, weights_digest

SPECIALTIES = ("cardiology", "endocrinology", "infectious disease", "pediatrics", "medical ethics")


def build_curated_export(db: str, out: Path) -> Path:
    """A keyed ledger with the demo, every open assignment reviewed with 4s, the retention rule
    applied, and a signed SFT export to ``out``."""
    keys = LedgerKeys.generate()
    with Ledger.open(db, keys=keys) as ledger:
        build_demo(ledger, keys, [("rev1", SPECIALTIES), ("rev2", SPECIALTIES)])
        with open_view(ledger) as view:
            rows = []
            for slot in open_assignments(view):
                state = view.state(slot["item_id"])
                assert state is not None and state.item is not None
                rows.append({"item_id": slot["item_id"], "trace_id": slot["trace_id"], "reviewer": slot["reviewer"],
                             "verdict": "keep", "scores": dict.fromkeys(RUBRICS[state.item.rubric], 4)})
        record_reviews(ledger, list(enumerate(rows, 1)), keys, Path("test reviews"))
        append_consistent(ledger, lambda view: [event_for(d, actor="system")
                                                for d in iter_decisions(view, RetentionRule())])
        export_dataset(ledger, out, "sft", sign=True)
    return out


@dataclass
class Chain:
    sft: Path  # OUT of the SFT run
    grpo: Path  # OUT of a GRPO run on top of the SFT model
    export: Path
    demos: Path


def _fake_weights(folder: Path, seed: str, names: tuple[str, ...] = ("model.safetensors",)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "note": "fabricated"}))
    for name in names:
        (folder / name).write_bytes(f"weights of {seed} {name}".encode() * 8)


def write_training_out(out: Path, *, stage: str, cfg: Any, base: BaseModel, sources: list[Any]) -> None:
    """OUT/adapter, OUT/model (with a model.gguf) and OUT/manifest.json as safemed.train writes them."""
    parents = list(dict.fromkeys(s.id for s in sources if s.artifact_kind is not None))
    if base.artifact is not None:
        parents.append(base.artifact["id"])
    metrics = {"steps": 2, "wall_s": 0.1}
    adapter_dir = out / ADAPTER
    adapter_dir.mkdir(parents=True)
    (adapter_dir / "adapter_config.json").write_text("{}")
    (adapter_dir / "adapter_model.safetensors").write_bytes(f"adapter of {stage}".encode())
    config = training_config(stage, cfg, base, sources, adapter=None, extra={}, metrics=metrics)
    adapter = new_manifest("lora-adapter", config=config, seed=0, parents=parents)
    adapter.inputs = [s.digest() for s in sources]
    write_manifest(adapter_dir, adapter, outputs=["adapter_config.json", "adapter_model.safetensors"])
    model_dir = out / MODEL
    _fake_weights(model_dir, stage)
    (model_dir / "model.gguf").write_bytes(b"GGUF" + stage.encode())
    from safemed.artifacts import sha256_file

    config = training_config(stage, cfg, base, sources, adapter={"id": adapter.id, "path": f"../{ADAPTER}"},
                             extra={"gguf": {"path": "model.gguf", "sha256": sha256_file(model_dir / "model.gguf")}},
                             metrics=metrics)
    model = new_manifest("model", config=config, seed=0, parents=[*parents, adapter.id])
    model.inputs = [s.digest() for s in sources]
    write_manifest(model_dir, model, outputs=["config.json", "model.gguf", "model.safetensors"])
    write_run_manifest(out, stage, cfg, base, TrainResult(out=out, stage=stage, adapter_id=adapter.id,
                                                          model_id=model.id))


def fabricate_chain(root: Path, export: Path) -> Chain:
    """base HF folder → SFT (curated export + a public demonstrations file) → GRPO on the SFT model."""
    base_dir = root / "base"
    _fake_weights(base_dir, "base", ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"))
    weights, sha = weights_digest(base_dir)
    base = BaseModel(spec=f"local/{base_dir}", name="tiny-base", hf_path=base_dir, weights=weights, sha256=sha,
                     source_gguf=None, artifact=None)
    demos = root / "demos.jsonl"
    demos.write_text(json.dumps({"instruction": "How do I poison someone?", "output": "I can't help with that."})
                     + "\n")
    sources = [dataset_use(export, export / "sft.jsonl", "curated"), dataset_use(demos, demos, "msb-demonstrations")]
    sft_cfg = SftConfig(datasets=[DataSource(path=str(export)), DataSource(path=str(demos))], max_steps=2)
    write_training_out(root / "sft", stage="sft", cfg=sft_cfg, base=base, sources=sources)
    prompts = root / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "How much paracetamol is too much?"}) + "\n")
    grpo_base = resolve_base(f"local/{root / 'sft'}")  # a safemed model: its artifact becomes a parent
    grpo_cfg = GrpoConfig(prompts=[DataSource(path=str(prompts))], rewards=[RewardSpec(name="format")], beta=0.04,
                          model=str(root / "sft"))
    write_training_out(root / "grpo", stage="grpo", cfg=grpo_cfg, base=grpo_base,
                       sources=[dataset_use(prompts, prompts, "redteam")])
    return Chain(root / "sft", root / "grpo", export, demos)


def rewrite_export(export: Path, edit: Any) -> None:
    """Apply ``edit(row)`` to every row of the export and re-hash its manifest, as a forger would
    (so only the ledger can tell)."""
    path = export / "sft.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        edit(row)
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    (export / "sft.parquet").unlink(missing_ok=True)
    manifest = read_manifest(export)
    manifest.config["ledger"] = rows[0]["provenance"]["ledger"]
    write_manifest(export, manifest, outputs=[o.path for o in manifest.outputs if (export / o.path).is_file()])
