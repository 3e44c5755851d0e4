"""Test helpers: the sample seeds, a scripted generator, a roster, CLI invocation, review filling."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from safemed.cli.curate_cmd import curate
from safemed.testing import StandinServer

SEEDS = Path(str(resources.files("safemed.curate") / "samples" / "seeds.jsonl"))
ALWAYS_WRONG = "endo-002"   # five wrong answers → escalated
WRONG_FIRST = "ped-002"     # wrong once, then right
MODEL = "standin-gen-7b"
SPECIALTIES = ("cardiology", "endocrinology", "infectious disease", "pediatrics", "medical ethics")
"""The specialties of the sample seeds: a reviewer with all of them may review every item."""


def seed_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines() if line.strip()]


class ScriptedGenerator:
    """Answers CoT prompts with the gold letter (or a wrong one, by script) and variant prompts
    with one well-formed derived question. Counts the CoT requests per item."""

    def __init__(self) -> None:
        self.gold = {row["question"]: (row["id"], row["answer"], sorted(row["options"])) for row in seed_rows()}
        self.asked: Counter[str] = Counter()
        self.url = ""

    def _item(self, prompt: str) -> tuple[str, str, list[str]] | None:
        for question, entry in self.gold.items():
            if question in prompt:
                return entry
        return None

    def answer(self, messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        entry = self._item(prompt)
        if "JSON array" in prompt or "JSON 数组" in prompt:
            seed = entry[0] if entry else "unknown"
            return json.dumps([{"question": f"Derived question about {seed}: which option is correct?",
                                "options": {"A": "the right one", "B": "the wrong one"}, "answer": "A"}])
        if entry is None:  # a derived question: always "A"
            return "The first option is correct.\nAnswer: A"
        item_id, gold, letters = entry
        self.asked[item_id] += 1
        wrong = next(ch for ch in letters if ch not in gold)
        letter = wrong if item_id == ALWAYS_WRONG or (item_id == WRONG_FIRST and self.asked[item_id] == 1) else gold
        return f"Step 1: read the findings of {item_id}.\nStep 2: weigh each option.\nAnswer: {letter}"

    @contextmanager
    def server(self) -> Iterator[ScriptedGenerator]:
        with StandinServer(answer=self.answer) as srv:
            self.url = srv.url
            yield self

    @property
    def spec(self) -> str:
        return f"openai/{MODEL}@{self.url}"


def run(*args: str, ok: bool = True) -> str:
    """Invoke ``safemed curate …``; assert the exit code (0 unless ``ok`` is False)."""
    result = CliRunner().invoke(curate, list(args), catch_exceptions=False)
    output = result.output  # stdout and stderr, as the terminal shows them
    if ok:
        assert result.exit_code == 0, output
    else:
        assert result.exit_code != 0, output
    return output


ROSTER = [("dr.ahmed@example.org", "cardiology"), ("dr.baker@example.org", "cardiology"),
          ("dr.chen@example.org", "cardiology"), ("dr.diaz@example.org", "endocrinology"),
          ("dr.evans@example.org", "endocrinology"), ("dr.fox@example.org", "infectious disease"),
          ("dr.gupta@example.org", "infectious disease"), ("dr.hill@example.org", "pediatrics"),
          ("dr.ito@example.org", "pediatrics"), ("dr.jones@example.org", "medical ethics"),
          ("dr.kim@example.org", "medical ethics"), ("dr.kim@example.org", "pediatrics")]


def write_roster(path: Path, rows: list[tuple[str, str]] = ROSTER) -> Path:
    path.write_text("reviewer_id,specialty\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def fill(row: dict[str, Any], score: int = 4, **overrides: Any) -> dict[str, Any]:
    """A queue row filled in as a clinician would: every dimension ``score`` unless overridden."""
    filled = dict(row)
    filled["scores"] = {dim: score for dim in row["scores"]}
    filled["scores"].update(overrides.pop("scores", {}))
    filled.update({"verdict": "keep", "seconds_spent": 120, "comment": "checked"}, **overrides)
    return filled


def through_assignment(db_url: str, tmp_path: Path, generator: ScriptedGenerator) -> list[dict[str, Any]]:
    """Import the sample seeds, generate, assign; return the blinded queue (with reviewer ids)."""
    db = ["--db", db_url]
    run("import", *db, str(SEEDS))
    run("generate", *db, "--model", generator.spec, "--cache", str(tmp_path / "cache.sqlite"))
    roster = write_roster(tmp_path / "roster.csv")
    run("assign", *db, "--roster", str(roster))
    run("export-queue", *db, "--out", str(tmp_path / "queue.jsonl"), "--roster", str(roster))
    return read_jsonl(tmp_path / "queue.jsonl")
