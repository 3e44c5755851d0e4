"""The artifacts of a training run, so every checkpoint is traceable to its data and clinicians
(SafeMed-R1 §3 models, with the provenance the issue asks for).

A run writes into its output folder ``OUT``::

    OUT/config.yaml                 the resolved config (every field)
    OUT/checkpoints/checkpoint-N/   trainer checkpoints (resume)
    OUT/steps.jsonl                 one JSON object per logging step
    OUT/rows.jsonl                  the rows trained on, in order (source id, row id, weight) — SFT
    OUT/adapter/                    artifact "lora-adapter": adapter_model.safetensors, adapter_config.json
    OUT/model/                      artifact "model": the merged HF folder (config.json, model.safetensors,
                                    tokenizer files, chat template) + model.gguf when written
    OUT/manifest.json               artifact "training-run": parents [adapter id, model id]

The adapter and model manifests carry the same ``config`` (:func:`training_config`): the stage,
every config field, the base model (name, path, sha256 of each weight file and one digest over
them, the GGUF it came from, its artifact id when it is a safemed model), each dataset (id,
kind, path, file, sha256, rows used, proportion, and the ledger point of a curated export), the
stage's extra entries (GRPO: the reward judges; SFT: the trust weighting) and the metrics. Their
``inputs`` are the digests of every data file read; ``parents`` the ids of the dataset artifacts,
of the base model artifact, and (model) of the adapter. A public file without a manifest (the
Med-Safety-Bench demonstrations) is named by ``"file:" + sha256[:16]`` in ``datasets`` only,
since it is no artifact a parent id could resolve to.

:func:`write_model_artifacts` is shared by SFT and GRPO; it is called on every process of a
distributed run (saving gathers sharded weights) and writes on the main one only.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safemed.artifacts import (
    MANIFEST,
    FileDigest,
    Manifest,
    atomic_write_text,
    new_manifest,
    read_manifest,
    sha256_file,
    write_manifest,
)
from safemed.errors import ConfigError, DataError
from safemed.train.config import CommonTrainConfig, dump_config
from safemed.train.models import BaseModel, Device

CONFIG_FILE = "config.yaml"
STEPS_FILE = "steps.jsonl"
ROWS_FILE = "rows.jsonl"
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"
MODEL = "model"
GGUF_FILE = "model.gguf"


@dataclass
class DatasetUse:
    """One data source as a run used it: what the manifests say about it."""

    id: str  # the artifact's manifest id, or "file:" + sha256[:16] for a bare file
    kind: str  # curated | msb-demonstrations | redteam | curated-grpo
    path: str  # absolute path of the source as configured (artifact folder or file)
    file: str  # absolute path of the data file read
    sha256: str
    bytes: int
    rows_used: int = 0
    proportion: float = 1.0
    ledger: dict[str, Any] | None = None  # {tree_size, root, origin, checkpoint_key_id} of a curated export
    artifact_kind: str | None = None  # the manifest's kind; None for a bare file

    def as_dict(self) -> dict[str, Any]:
        """The manifest's ``datasets`` entry."""
        return asdict(self)

    def digest(self) -> FileDigest:
        return FileDigest(path=self.file, sha256=self.sha256, bytes=self.bytes)


def dataset_use(source: Path, file: Path, kind: str, *, proportion: float = 1.0) -> DatasetUse:
    """Describe data file ``file`` of source ``source`` (a folder or the file itself). When the
    file belongs to an artifact (``manifest.json`` beside it), the artifact's id, kind and ledger
    point are taken and the file's sha256 must match the manifest's, else a :class:`DataError`
    (the data changed after it was exported; its lineage would no longer hold)."""
    file = file.resolve()
    sha = sha256_file(file)
    use = DatasetUse(id=f"file:{sha[:16]}", kind=kind, path=str(source.resolve()), file=str(file), sha256=sha,
                     bytes=file.stat().st_size, proportion=proportion)
    folder = file.parent
    if (folder / MANIFEST).is_file():
        manifest = read_manifest(folder)
        recorded = next((d for d in manifest.outputs if d.path == file.name), None)
        if recorded is not None:
            if recorded.sha256 != sha:
                raise DataError(str(file), None, None, f"sha256 {sha[:12]}… differs from {folder / MANIFEST} "
                                f"({recorded.sha256[:12]}…): the file changed after it was written")
            use.id, use.artifact_kind = manifest.id, manifest.kind
            ledger = manifest.config.get("ledger")
            use.ledger = dict(ledger) if isinstance(ledger, dict) else None
    return use


@dataclass
class TrainResult:
    """Where a run's artifacts went."""

    out: Path
    stage: str
    run_id: str | None = None
    adapter_id: str | None = None
    model_id: str | None = None
    adapter_dir: Path | None = None
    model_dir: Path | None = None
    gguf: Path | None = None
    gguf_skipped: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def write_run_config(out: Path, cfg: CommonTrainConfig) -> Path:
    """``OUT/config.yaml``: every field of the resolved config (re-runnable with ``--config``)."""
    import yaml  # type: ignore[import-untyped, unused-ignore]

    out.mkdir(parents=True, exist_ok=True)
    path = out / CONFIG_FILE
    atomic_write_text(path, yaml.safe_dump(dump_config(cfg), sort_keys=False, allow_unicode=True))
    return path


def training_config(stage: str, cfg: CommonTrainConfig, base: BaseModel, sources: list[DatasetUse], *,
                    adapter: dict[str, Any] | None, extra: dict[str, Any], metrics: dict[str, Any],
                    device: Device | None = None) -> dict[str, Any]:
    """The ``config`` of the adapter and model manifests (see the module docstring)."""
    return {"stage": stage, "train_config": dump_config(cfg), "base_model": base.as_dict(),
            "datasets": [s.as_dict() for s in sources], "adapter": adapter,
            "device": device.as_dict() if device else None, **extra, "metrics": metrics}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _manifest(kind: str, cfg: CommonTrainConfig, config: dict[str, Any], sources: list[DatasetUse],
              parents: list[str]) -> Manifest:
    manifest = new_manifest(kind, config=config, seed=cfg.seed, parents=parents)
    digests = {s.file: s.digest() for s in sources}  # a file read by two sources is one input
    manifest.inputs = list(digests.values())
    return manifest


def write_model_artifacts(out: Path, *, stage: str, cfg: CommonTrainConfig, base: BaseModel,
                          sources: list[DatasetUse], trainer: Any, metrics: dict[str, Any],
                          extra_config: dict[str, Any] | None = None, device: Device | None = None) -> TrainResult:
    """Save the trained adapter (``OUT/adapter``), the merged model (``OUT/model``, with
    ``model.gguf`` when ``cfg.gguf`` and the architecture allows) and the three manifests.

    ``trainer`` is the TRL/transformers trainer that trained the model (its model, tokenizer and
    saving logic for sharded runs are used); ``extra_config`` holds the stage's own manifest
    entries (``{"trust_weighting": …}``, ``{"reward_judges": …, "rewards": …}``); ``metrics``
    ``{"steps", "train_loss" | "reward_mean", "wall_s"}``. Call it on every process.
    """
    extra = dict(extra_config or {})
    result = TrainResult(out=out, stage=stage, metrics=metrics)
    main = bool(trainer.is_world_process_zero())
    parents = [s.id for s in sources if s.artifact_kind is not None]
    parents = list(dict.fromkeys(parents))
    if base.artifact is not None:
        parents.append(base.artifact["id"])

    if cfg.lora:
        adapter_dir = out / ADAPTER
        trainer.save_model(str(adapter_dir))
        if main:
            config = training_config(stage, cfg, base, sources, adapter=None, extra=extra, metrics=metrics,
                                     device=device)
            manifest = _manifest("lora-adapter", cfg, config, sources, parents)
            write_manifest(adapter_dir, manifest, outputs=_files(adapter_dir))
            result.adapter_id, result.adapter_dir = manifest.id, adapter_dir
    model_dir = out / MODEL
    if main and cfg.lora and cfg.merge:
        _merge(base, out / ADAPTER, model_dir, trainer.processing_class, device)
    elif not cfg.lora:
        trainer.save_model(str(model_dir))  # full fine-tuning: the trained weights are the model
    if main and model_dir.is_dir():
        if cfg.gguf:
            result.gguf, result.gguf_skipped = _write_gguf(model_dir, base)
        adapter = {"id": result.adapter_id, "path": f"../{ADAPTER}"} if result.adapter_id else None
        gguf_entry = ({"path": GGUF_FILE, "sha256": sha256_file(result.gguf)} if result.gguf else None)
        config = training_config(stage, cfg, base, sources, adapter=adapter,
                                 extra={**extra, "gguf": gguf_entry, "gguf_skipped": result.gguf_skipped},
                                 metrics=metrics, device=device)
        own = parents + ([result.adapter_id] if result.adapter_id else [])
        manifest = _manifest("model", cfg, config, sources, own)
        write_manifest(model_dir, manifest, outputs=_files(model_dir))
        result.model_id, result.model_dir = manifest.id, model_dir
    if main:
        result.run_id = write_run_manifest(out, stage, cfg, base, result)
    accelerator = getattr(trainer, "accelerator", None)
    if accelerator is not None:
        accelerator.wait_for_everyone()
    return result


def write_run_manifest(out: Path, stage: str, cfg: CommonTrainConfig, base: BaseModel, result: TrainResult) -> str:
    """``OUT/manifest.json`` (kind ``training-run``): the adapter and model artifacts as parents,
    the config, step log and row list as outputs."""
    parents = [i for i in (result.adapter_id, result.model_id) if i]
    config = {"stage": stage, "base_model": {"name": base.name, "sha256": base.sha256, "spec": base.spec},
              "adapter": {"id": result.adapter_id, "path": ADAPTER} if result.adapter_id else None,
              "model": {"id": result.model_id, "path": MODEL} if result.model_id else None,
              "gguf_skipped": result.gguf_skipped, "metrics": result.metrics}
    manifest = new_manifest("training-run", config=config, seed=cfg.seed, parents=parents)
    outputs = [name for name in (CONFIG_FILE, STEPS_FILE, ROWS_FILE) if (out / name).is_file()]
    write_manifest(out, manifest, outputs=outputs)
    return manifest.id


def _merge(base: BaseModel, adapter_dir: Path, model_dir: Path, tokenizer: Any, device: Device | None) -> None:
    """Merge the saved adapter into a freshly loaded full-precision base and save the HF folder.

    Reloading (rather than merging the trained model in place) works the same for LoRA, QLoRA
    (whose 4-bit base cannot be merged losslessly) and sharded runs, and checks that the saved
    adapter is the one that reproduces the training."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if device is not None and device.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base.hf_path, dtype=dtype, local_files_only=True)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    model_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)


def _write_gguf(model_dir: Path, base: BaseModel) -> tuple[Path | None, str | None]:
    """(the GGUF written, None) or (None, why it was skipped)."""
    try:  # helper module of its own (safemed.train.gguf); absent in a partial install
        write_gguf = importlib.import_module("safemed.train.gguf").write_gguf
    except (ImportError, AttributeError) as exc:
        reason = f"GGUF export not available ({exc})"
        print(f"skipping the GGUF export: {reason}", flush=True)
        return None, reason
    try:
        path = write_gguf(model_dir, model_dir / GGUF_FILE, template=base.gguf_template)
    except ConfigError as exc:  # UnsupportedArchitecture is one
        print(f"skipping the GGUF export: {exc}", flush=True)
        return None, str(exc)
    return Path(path), None
