"""Generation: CoT parsing, variants as derived items, and the real embedded model as generator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from safemed.curate.prompts import cot_messages, parse_cot, parse_variants
from safemed.curate.seeds import read_seeds
from safemed.ledger import Ledger

from .helpers import SEEDS, ScriptedGenerator, run

ITEMS = {item.id: item for item in read_seeds(SEEDS)}


def test_cot_prompt_and_parse() -> None:
    item = ITEMS["card-001"]
    prompt = cot_messages(item)[0].content
    assert "step by step" in prompt and 'Answer: X"' in prompt and "B. Right coronary artery" in prompt
    assert "答案：X" in cot_messages(ITEMS["card-003"])[0].content
    assert "every correct letter" in cot_messages(ITEMS["id-002"])[0].content
    reply = "<think>Inferior leads.</think>\nII, III, aVF are inferior: the RCA.\nAnswer: B"
    reasoning, answer = parse_cot(reply, item)
    assert answer == "B" and reasoning == "Inferior leads.\nII, III, aVF are inferior: the RCA."
    assert parse_cot("I am not sure.", item) == ("I am not sure.", None)
    assert parse_cot("分析……\n答案：A", ITEMS["card-003"]) == ("分析……", "A")
    assert parse_cot("All three first-line drugs.\nAnswer: A, B, D", ITEMS["id-002"])[1] == "ABD"


def test_parse_variants_keeps_well_formed_only() -> None:
    reply = ('Here you are: [{"question": "Q1?", "options": {"A": "x", "B": "y"}, "answer": "b"}, '
             '{"question": "", "options": {"A": "x"}, "answer": "A"}, {"question": "Q3?", "options": {"A": "x", '
             '"B": "y"}, "answer": "C"}]')
    good, bad = parse_variants(reply, 3)
    assert good == [{"question": "Q1?", "options": {"A": "x", "B": "y"}, "answer": "B"}] and bad == 2
    assert parse_variants("no json here", 2) == ([], 2)


def test_variants_become_derived_items(sqlite_url: str, key_file: Path, tmp_path: Path,
                                       generator: ScriptedGenerator) -> None:
    run("import", "--db", sqlite_url, str(SEEDS))
    out = run("generate", "--db", sqlite_url, "--model", generator.spec, "--variants", "1", "--limit", "2",
              "--cache", str(tmp_path / "c.sqlite"))
    assert "variants: 2 added, 0 malformed" in out
    with Ledger.open(sqlite_url) as led:
        derived = led.item_state("card-001~v1")
        seed = led.item_state("card-001")
    assert derived.item is not None and derived.item.derived_from == "card-001"
    assert derived.item.specialty == seed.item.specialty == "cardiology"  # type: ignore[union-attr]
    assert derived.item.source.startswith("variant of card-001 by openai/")
    status = run("status", "--db", sqlite_url)
    assert "imported: 12" in status and "derived: 2" in status
    out = run("generate", "--db", sqlite_url, "--model", generator.spec, "--variants", "1", "--limit", "2",
              "--cache", str(tmp_path / "c.sqlite"))
    assert "variants: 2 added" in out  # the next two seeds; card-001 already has its variant


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SAFEMED_SKIP_MODEL") == "1", reason="SAFEMED_SKIP_MODEL=1")
def test_embedded_default_model_as_generator(sqlite_url: str, key_file: Path, tmp_path: Path) -> None:
    run("import", "--db", sqlite_url, str(SEEDS))
    # two strikes instead of five and 16 new tokens keep this to a few CPU seconds per request
    out = run("generate", "--db", sqlite_url, "--model", "local/default", "--limit", "2", "--max-new-tokens", "16",
              "--attempts", "2", "--parallel", "2", "--cache", str(tmp_path / "c.sqlite"))
    assert "pending 2:" in out, out
    with Ledger.open(sqlite_url) as led:
        states = [led.item_state(i) for i in ("card-001", "card-002")]
        assert led.verify().ok
    for state in states:
        assert state.traces and all(t.model.startswith("local/") for t in state.traces)
        assert all(t.parameters["max_tokens"] == 16 and t.reasoning for t in state.traces)
        correct = [a for a in state.attempts if a.correct]
        assert (len(correct) == 1 and state.attempts[-1].correct) or (
            len(state.attempts) == 2 and state.escalations and state.escalations[0].failed_attempts == 2)
