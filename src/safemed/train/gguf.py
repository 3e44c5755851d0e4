"""Merged HF model → GGUF, so llama.cpp (xllamacpp) can serve the trained model.

SafeMed-R1 §3 aligns the model by SFT, then GRPO; every stage is followed by an evaluation, and
on a CPU the transformers backend generates a few tokens a second where llama.cpp generates tens
(``benchmarks/trained_eval_speed.py`` measures both). So after merging the LoRA adapter the
trainer also writes ``OUT/model/model.gguf`` and ``local/OUT`` prefers it.

How, offline and exactly: the embedded model (SmolLM2-135M-Instruct) reached training as a GGUF
that transformers converted to HF weights. :func:`write_gguf` takes that GGUF as a **template**:
every key–value (hyper-parameters, the tokenizer's tokens, merges and special ids, the chat
template) is copied from it, and the merged weights are written under its tensor names, with

* the Q/K row permutation re-applied that transformers' GGUF loader undid
  (``LlamaTensorProcessor._reverse_permute_weights`` in ``transformers.modeling_gguf_pytorch_utils``;
  llama.cpp's ``convert_hf_to_gguf.py`` ``LlamaModel.permute`` is its inverse), and
* matrices as F16 (``dtype="f16"``, default; half the bytes of F32, and what llama.cpp's own
  converter writes) or F32, and 1-D tensors (norms) as F32 as llama.cpp expects.

The template's hyper-parameters must match the model's config (a different model's GGUF is an
error naming the key). Without a template, a tokenizer would have to be translated into GGUF's
vocabulary format (llama.cpp's converter identifies the pre-tokenizer by hashing its output on a
fixed text); that is not done here: :class:`UnsupportedArchitecture` is raised, and callers skip
the GGUF with a message (the HF folder is still served by transformers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safemed.errors import ConfigError

#: the ``general.file_type`` values of llama.cpp (``LlamaFileType``) for the two dtypes we write
FILE_TYPES = {"f32": 0, "f16": 1}
#: HF ``model_type`` values whose tensors and KVs follow llama.cpp's ``llama`` architecture
LLAMA_TYPES = ("llama",)


class UnsupportedArchitecture(ConfigError):
    """This model cannot be written as GGUF here (no template GGUF, or not a llama-family model)."""


def _config(hf_dir: Path) -> dict[str, Any]:
    path = hf_dir / "config.json"
    if not path.is_file():
        raise ConfigError(f"{hf_dir} is not a Hugging Face model folder: config.json is missing")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _weight_files(hf_dir: Path) -> list[Path]:
    index = hf_dir / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return [hf_dir / n for n in names]
    files = sorted(hf_dir.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{hf_dir}: no *.safetensors weights (a .bin checkpoint must be re-saved with "
                          "save_pretrained(safe_serialization=True) first)")
    return files


def _hf_tensors(hf_dir: Path) -> Iterator[tuple[str, Any]]:
    """(name, float32 numpy array) of every weight, one tensor in memory at a time."""
    import torch
    from safetensors import safe_open

    for file in _weight_files(hf_dir):
        with safe_open(str(file), framework="pt") as fh:
            for name in fh.keys():  # noqa: SIM118 - safe_open has keys(), no __iter__
                yield name, fh.get_tensor(name).to(torch.float32).numpy()


def permute_qk(weights: Any, n_head: int, n_head_kv: int | None = None) -> Any:
    """llama.cpp's row order of a Q or K projection (``convert_hf_to_gguf.py`` ``permute``): the
    rotary halves of each head interleaved. Exactly undoes transformers' ``_reverse_permute_weights``."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def _expected_kvs(config: dict[str, Any], arch: str) -> dict[str, Any]:
    """The template keys that must equal the model's config (what a different model would break)."""
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    theta = rope.get("rope_theta", config.get("rope_theta"))
    expected: dict[str, Any] = {
        f"{arch}.block_count": config.get("num_hidden_layers"),
        f"{arch}.embedding_length": config.get("hidden_size"),
        f"{arch}.feed_forward_length": config.get("intermediate_size"),
        f"{arch}.attention.head_count": config.get("num_attention_heads"),
        f"{arch}.attention.head_count_kv": config.get("num_key_value_heads", config.get("num_attention_heads")),
        f"{arch}.attention.layer_norm_rms_epsilon": config.get("rms_norm_eps"),
        f"{arch}.rope.freq_base": theta,
    }
    return {k: v for k, v in expected.items() if v is not None}


def _check_template(reader: Any, config: dict[str, Any], template: Path) -> str:
    arch_field = reader.fields.get("general.architecture")
    arch = str(arch_field.contents()) if arch_field is not None else ""
    if arch != "llama":
        raise UnsupportedArchitecture(f"template {template}: architecture {arch!r}; only llama GGUFs are written")
    for key, want in _expected_kvs(config, arch).items():
        field = reader.fields.get(key)
        have = field.contents() if field is not None else None
        same = have is not None and (abs(float(have) - float(want)) <= 1e-6 * max(1.0, abs(float(want)))
                                     if isinstance(want, float) else int(have) == int(want))
        if not same:
            raise ConfigError(f"template {template} does not describe this model: {key} is {have!r} there "
                              f"but the model's config.json gives {want!r}")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    n_tokens = len(tokens.data) if tokens is not None else 0
    if n_tokens != int(config.get("vocab_size", -1)):
        raise ConfigError(f"template {template} has {n_tokens} tokens but the model's vocab_size is "
                          f"{config.get('vocab_size')}")
    return arch


def write_gguf(hf_dir: Path, out: Path, *, template: Path | None = None, dtype: str = "f16") -> Path:
    """Write the (merged) llama-family HF model in ``hf_dir`` to the GGUF file ``out``.

    ``template`` is the GGUF the base model was converted from (its KVs, tokenizer and chat
    template are copied; see the module docstring). The file appears atomically. Raises
    :class:`UnsupportedArchitecture` without a template or for a non-llama model, and
    :class:`ConfigError` when the template or the weights do not fit the model's config.
    """
    import gguf
    import numpy as np

    if dtype not in FILE_TYPES:
        raise ConfigError(f"GGUF dtype {dtype!r}: choose one of {', '.join(FILE_TYPES)}")
    config = _config(hf_dir)
    model_type = str(config.get("model_type", ""))
    if model_type not in LLAMA_TYPES:
        raise UnsupportedArchitecture(f"{hf_dir}: model_type {model_type!r} cannot be written as GGUF here "
                                      f"(supported: {', '.join(LLAMA_TYPES)} with a template GGUF)")
    if template is None:
        raise UnsupportedArchitecture(f"{hf_dir}: writing a GGUF needs the template GGUF the base model came from "
                                      "(its tokenizer and metadata are copied); this base has none")
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", "default") not in ("default", None):
        raise UnsupportedArchitecture(f"{hf_dir}: rope_type {rope['rope_type']!r} is not handled by the GGUF writer")
    reader = gguf.GGUFReader(template)
    arch = _check_template(reader, config, template)
    n_head = int(config["num_attention_heads"])
    n_head_kv = int(config.get("num_key_value_heads", n_head))
    tied = bool(config.get("tie_word_embeddings", False))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, int(config["num_hidden_layers"]))
    wanted = [t.name for t in reader.tensors]

    tensors: dict[str, Any] = {}
    for hf_name, array in _hf_tensors(hf_dir):
        if "lora_" in hf_name or ".base_layer." in hf_name:
            raise ConfigError(f"{hf_dir}: tensor {hf_name} belongs to an unmerged LoRA adapter; merge it first")
        if hf_name == "lm_head.weight" and tied:
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise UnsupportedArchitecture(f"{hf_dir}: tensor {hf_name} has no GGUF name in llama.cpp's llama layout")
        if ".attn_q." in name:
            array = permute_qk(array, n_head, n_head)
        elif ".attn_k." in name:
            array = permute_qk(array, n_head, n_head_kv)
        tensors[name] = array.astype(np.float16) if dtype == "f16" and array.ndim > 1 else array
    optional = {"output.weight"}  # present or not depending on tied embeddings
    missing = sorted(set(wanted) - set(tensors) - optional)
    extra = sorted(set(tensors) - set(wanted) - optional)
    if missing or extra:
        raise ConfigError(f"{hf_dir} does not have the template's tensors: missing {missing[:5]}, "
                          f"not in the template {extra[:5]}")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp, arch)
    try:
        for field in reader.fields.values():
            if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
                continue
            vtype = field.types[0]
            value = FILE_TYPES[dtype] if field.name == gguf.Keys.General.FILE_TYPE else field.contents()
            sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
        if gguf.Keys.General.FILE_TYPE not in reader.fields:
            writer.add_file_type(FILE_TYPES[dtype])
        order = [n for n in wanted if n in tensors] + [n for n in tensors if n not in wanted]
        for name in order:
            writer.add_tensor(name, tensors.pop(name))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    return out
