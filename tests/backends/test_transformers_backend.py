"""``local/PATH`` on a Hugging Face folder (transformers): a tiny random Llama built in the test.

Needs the ``[train]`` extra (torch, transformers); skipped, with the reason, without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from safemed.cli.main import cli

pytest.importorskip("torch", reason="the [train] extra (torch) is not installed")
pytest.importorskip("transformers", reason="the [train] extra (transformers) is not installed")


def tiny_model(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["Answer: A. The patient has a fever and a cough."] * 20, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                          "{% if add_generation_prompt %}assistant: {% endif %}")
    config = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048)
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_hugging_face_folder_runs_through_eval(tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny")
    result = CliRunner().invoke(cli, ["eval", "--model", f"local/{model}", "--benchmark", "sample", "--limit", "2",
                                      "--max-new-tokens", "6", "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["usage"]["completion_tokens"] <= 6 for r in rows)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["model"]["engine"] == "transformers" and len(manifest["config"]["model"]["sha256"]) == 64
