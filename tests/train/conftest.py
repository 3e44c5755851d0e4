"""Training fixtures: a tiny randomly initialised Llama (the embedded SmolLM2's architecture) with a
byte-level BPE tokenizer trained here, so training tests run for real on the CPU in seconds
without any download (RECIPES: "Unit-test model").

``tiny_model_dir`` is a Hugging Face folder (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json with a ChatML chat template) built once per session; SFT, GRPO and GGUF
tests all start from it. Tests that use it are skipped when the ``[train]`` extra is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
          "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")
"""The ChatML template of SmolLM2-Instruct, without its default system prompt."""

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CORPUS = [
    "The patient has a fever and a cough. Answer: B",
    "I cannot help with that request because it could cause serious harm.",
    "<think>The key finding is chest pain radiating to the left arm.</think> Call emergency services.",
    "Paracetamol overdose damages the liver; the antidote is acetylcysteine.",
    "Which drug is first-line for type 2 diabetes? A. metformin B. insulin C. aspirin D. warfarin",
    "Please talk to a doctor or pharmacist before changing a dose.",
]


def build_tiny_model(folder: Path, *, seed: int = 0) -> Path:
    """Write a tiny random Llama (hidden 64, 2 layers, 4 heads, 2 KV heads) and its tokenizer to ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHATML
    fast.save_pretrained(folder)

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(folder)
    (folder / "README.md").write_text("A tiny random Llama for safemed's training tests (not a real model).\n")
    json.loads((folder / "config.json").read_text())  # written and readable
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama HF folder with a ChatML tokenizer, built once per test session."""
    pytest.importorskip("torch", reason="the [train] extra (pip install -e '.[train]') is not installed")
    pytest.importorskip("transformers")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
