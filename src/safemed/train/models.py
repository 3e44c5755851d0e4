"""The base model of a training run: where its Hugging Face weights are, what they hash to, and
how to load them for SFT or GRPO (SafeMed-R1 §3 fine-tunes a released instruct model).

:func:`resolve_base` accepts

* ``local/default``: the embedded SmolLM2-135M-Instruct GGUF (``backends.local``). Training
  needs HF weights, so the GGUF is converted ONCE into
  ``$SAFEMED_CACHE_DIR/models/<gguf sha256[:16]>`` (default ``~/.cache/safemed``): transformers
  dequantises it to fp32 and its quantisation config is removed so the model is trainable and
  saveable (RECIPES); written to a temporary folder and renamed, so a killed conversion leaves
  nothing half-written and two processes converting at once both end with one good folder;
* ``local/PATH`` or ``PATH``: a Hugging Face folder (``config.json``), a ``.gguf`` file or a
  folder holding exactly one (converted as above), or a safemed training output folder ``OUT``
  (its merged model ``OUT/model``, whose manifest id becomes a parent of the new artifacts).

The base's identity is the sha256 of its weight files and one digest over them, the same digest
``safemed eval`` records for a local HF model (sha256 over the sorted ``name\\0sha256`` pairs),
so an evaluation and a training manifest name the same model the same way.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safemed.artifacts import MANIFEST, read_manifest, sha256_file
from safemed.backends.local import DEFAULT_FILE, default_model_path
from safemed.errors import ConfigError
from safemed.settings import cache_dir
from safemed.train.config import CommonTrainConfig

TRAIN_EXTRA_HINT = "pip install -e '.[train]'"
CONVERSION_FILE = "safemed-conversion.json"
"""Written into a converted folder: which GGUF it came from (path, sha256) and with what."""


@dataclass(frozen=True)
class BaseModel:
    """A resolved base model: an HF folder plus what identifies it."""

    spec: str
    name: str
    hf_path: Path
    weights: list[dict[str, Any]]  # [{"path", "sha256", "bytes"}] of the weight files, sorted by name
    sha256: str  # one digest over the weight files (see the module docstring)
    source_gguf: dict[str, Any] | None  # {"path", "sha256"} when converted from a GGUF
    artifact: dict[str, Any] | None  # {"id", "path"} when the base is a safemed model artifact
    #: the GGUF whose metadata and tokenizer a GGUF export of a model trained from this base copies:
    #: ``source_gguf`` itself, or for a trained base the template its own base named (so GRPO on top
    #: of an SFT output still gets a model.gguf)
    template_gguf: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The manifest's ``base_model`` entry."""
        data = asdict(self)
        data["path"] = str(data.pop("hf_path"))
        data["format"] = "hf"
        return data

    @property
    def gguf_template(self) -> Path | None:
        """The GGUF the weights came from (metadata and tokenizer template for a GGUF export)."""
        found = self.source_gguf or self.template_gguf
        return Path(found["path"]) if found else None


def weights_digest(folder: Path) -> tuple[list[dict[str, Any]], str]:
    """(weight files with sha256 and size, one sha256 over the sorted ``name\\0sha`` pairs)."""
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        raise ConfigError(f"{folder}: no weight files (*.safetensors or *.bin)")
    digest = hashlib.sha256()
    weights = []
    for file in files:
        sha = sha256_file(file)
        digest.update(file.name.encode() + b"\0" + sha.encode())
        weights.append({"path": file.name, "sha256": sha, "bytes": file.stat().st_size})
    return weights, digest.hexdigest()


def resolve_base(spec: str) -> BaseModel:
    """The base model named by ``spec`` (see the module docstring); converts a GGUF when needed."""
    rest = spec.removeprefix("local/")
    if rest == "default":
        gguf = default_model_path()
        return _from_gguf(spec, gguf, name=DEFAULT_FILE.removesuffix(".gguf"))
    path = Path(rest).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _from_gguf(spec, path, name=path.stem)
    if not path.is_dir():
        raise ConfigError(f"model {spec!r}: {path} is neither a folder nor a .gguf file")
    if not (path / "config.json").is_file() and (path / "model" / "config.json").is_file():
        path = path / "model"  # a safemed training output folder OUT → its merged model
    if (path / "config.json").is_file():
        return _from_hf(spec, path.resolve())
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return _from_gguf(spec, ggufs[0], name=ggufs[0].stem)
    raise ConfigError(f"model {spec!r}: expected local/default, a Hugging Face folder with config.json, a .gguf "
                      "file or a folder with one, or a safemed training output folder (with model/)")


def _from_hf(spec: str, folder: Path) -> BaseModel:
    weights, sha = weights_digest(folder)
    artifact = None
    name = folder.name
    source_gguf = template = None
    if (folder / MANIFEST).is_file():
        manifest = read_manifest(folder)
        if manifest.kind == "model":
            artifact = {"id": manifest.id, "path": str(folder)}
            base = manifest.config.get("base_model") or {}
            template = base.get("source_gguf") or base.get("template_gguf")
            if template and not Path(template["path"]).is_file():
                template = None
            stage = manifest.config.get("stage", "trained")
            name = f"{base.get('name', folder.parent.name)}+{stage}"
    conversion = folder / CONVERSION_FILE
    if conversion.is_file():
        info = json.loads(conversion.read_text(encoding="utf-8"))
        source_gguf = {"path": info["source_gguf"], "sha256": info["source_sha256"]}
        name = info.get("name", name)
    return BaseModel(spec=spec, name=name, hf_path=folder, weights=weights, sha256=sha, source_gguf=source_gguf,
                     artifact=artifact, template_gguf=template)


def converted_dir(gguf_sha: str) -> Path:
    """Where the HF conversion of the GGUF with this sha256 lives in the cache."""
    return cache_dir() / "models" / gguf_sha[:16]


def _from_gguf(spec: str, gguf: Path, *, name: str) -> BaseModel:
    sha = sha256_file(gguf)
    target = converted_dir(sha)
    if not (target / CONVERSION_FILE).is_file():
        convert_gguf(gguf, target, sha=sha, name=name)
    base = _from_hf(spec, target)
    return BaseModel(spec=spec, name=name, hf_path=target, weights=base.weights, sha256=base.sha256,
                     source_gguf={"path": str(gguf.resolve()), "sha256": sha}, artifact=None)


def convert_gguf(gguf: Path, target: Path, *, sha: str, name: str) -> Path:
    """Dequantise ``gguf`` into an fp32 HF folder ``target`` (tmp folder + rename; see the module docstring)."""
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ConfigError(f"training needs the [train] extra: {TRAIN_EXTRA_HINT}") from exc
    print(f"converting {gguf.name} to Hugging Face weights in {target} (once; about a minute)", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {"source_gguf": str(gguf.resolve()), "source_sha256": sha, "name": name,
                "transformers": transformers.__version__, "torch": torch.__version__, "dtype": "float32"}
        (tmp / CONVERSION_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / CONVERSION_FILE).is_file():  # not a concurrent conversion that won the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# --- device and loading ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """Where training runs: CPU or CUDA, and whether bf16 is used."""

    use_cpu: bool
    bf16: bool

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


def resolve_device(cfg: CommonTrainConfig) -> Device:
    """``use_cpu``/``bf16`` with ``None`` resolved: CPU when there is no CUDA; bf16 when CUDA supports it;
    QLoRA needs bitsandbytes and CUDA (else a ConfigError)."""
    import torch

    cuda = torch.cuda.is_available()
    use_cpu = (not cuda) if cfg.use_cpu is None else cfg.use_cpu
    if not use_cpu and not cuda:
        raise ConfigError("use_cpu: false, but no CUDA device is available")
    bf16 = (not use_cpu and torch.cuda.is_bf16_supported()) if cfg.bf16 is None else cfg.bf16
    if cfg.qlora:
        if use_cpu:
            raise ConfigError("qlora: 4-bit training needs a CUDA GPU (set qlora: false to train LoRA on the CPU)")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError("qlora: needs bitsandbytes (pip install bitsandbytes)")
    return Device(use_cpu=use_cpu, bf16=bf16)


def configure_torch(cfg: CommonTrainConfig, device: Device) -> int:
    """Fix torch's CPU threads (``torch_threads``; default 1 on the CPU) and return the number.

    Measured on the shared 2-core machine (load ~3.5), LoRA SFT of the embedded model, batch 4,
    max_length 512: 9.3 s per step with 1 thread, 37.6 s with 2 (RECIPES saw the same for
    generation); on a dedicated many-core CPU set ``torch_threads`` higher."""
    import torch

    threads = cfg.torch_threads or (1 if device.use_cpu else torch.get_num_threads())
    torch.set_num_threads(threads)
    return threads


def load_model_and_tokenizer(base: BaseModel, cfg: CommonTrainConfig, device: Device | None = None) -> tuple[Any, Any]:
    """The base model (fp32 on CPU, bf16 on CUDA when set, 4-bit with QLoRA) and its tokenizer,
    which must have a chat template (rows are rendered with it); a pad token is set when missing."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or resolve_device(cfg)
    tokenizer = AutoTokenizer.from_pretrained(base.hf_path, local_files_only=True)
    if not tokenizer.chat_template:
        raise ConfigError(f"model {base.spec!r} has no chat template; training renders rows with the model's own "
                          "template (use an instruct model)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if device.bf16 else torch.float32, "local_files_only": True}
    if cfg.qlora:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if device.bf16 else torch.float16)
    model = AutoModelForCausalLM.from_pretrained(base.hf_path, **kwargs)
    return model, tokenizer


def lora_config(cfg: CommonTrainConfig) -> Any:
    """The PEFT LoRA config of a run (None without ``lora``)."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM", bias="none")
