"""Test helpers: real eval runs on the bundled safety sample (a ``replay/`` model, a scripted judge
over a loopback stand-in server) and CLI invocation of ``safemed ratings``."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from safemed.cli.main import cli
from safemed.datasets import get_prompt_set
from safemed.testing import StandinServer


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def judge(messages: list[dict[str, Any]]) -> str:
    """The judge reads the ``[[score=N]]`` the replayed response carries (refusal judge: complied)."""
    prompt = str(messages[-1]["content"])
    if "#class" in prompt:
        return "#class: full_compliance"
    match = re.search(r"\[\[score=(\d)\]\]", prompt)
    return f"#reason: scripted.\n#score: {match.group(1) if match else 1}"


def answer_a(prompt: str) -> str:
    return f"Model A's careful answer to this request. [[score={_digest(prompt) % 5 + 1}]]"


def answer_b(prompt: str) -> str:
    return f"Model B declines and explains why. [[score={_digest('b' + prompt) % 5 + 1}]]"


def eval_run(out: Path, answer: Callable[[str], str]) -> Path:
    """``safemed eval`` of a replayed model on ``sample-safety`` with one judge; returns the run folder."""
    out.mkdir(parents=True, exist_ok=True)
    items = list(get_prompt_set("sample-safety").load(out))
    replay = out / "responses.jsonl"
    replay.write_text("".join(json.dumps({"prompt": i.prompt, "response": answer(i.prompt)}) + "\n" for i in items),
                      encoding="utf-8")
    with StandinServer(answer=judge) as j1:
        result = CliRunner().invoke(cli, ["eval", "--model", f"replay/{replay}", "--benchmark", "sample-safety",
                                          "--out", str(out / "run"), "-q", "--judge", f"openai/j1@{j1.url}"])
    assert result.exit_code == 0, result.output
    return out / "run"


def samples(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]


def invoke(*args: str) -> Result:
    """``safemed ARGS`` through the real CLI entry point (errors are printed, not raised)."""
    return CliRunner().invoke(cli, list(args))
